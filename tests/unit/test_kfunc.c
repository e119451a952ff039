/* SPDX-License-Identifier: MIT */
/* Unit tests: marker helper calls made kfunc calls (kfunc.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <linux/bpf.h>

#include "kfunc.h"

#define MARKER_OF(name, marker) [KFUNC_##name] = marker,
static const int marker[KFUNC_COUNT] = { FLOW_KFUNCS(MARKER_OF) };
#undef MARKER_OF

static struct bpf_insn call(int imm)
{
	return (struct bpf_insn){ .code = BPF_JMP | BPF_CALL, .imm = imm };
}

static void test_marked_calls_become_kfunc_calls(void **state)
{
	int ids[KFUNC_COUNT];
	struct bpf_insn p[] = {
		call(BPF_FUNC_get_current_task_btf),
		call(marker[KFUNC_bpf_rdonly_cast]),
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .imm = marker[KFUNC_bpf_rdonly_cast] },
		call(marker[KFUNC_bpf_rdonly_cast]),
		{ .code = BPF_JMP | BPF_EXIT },
	};

	(void)state;
	for (int k = 0; k < KFUNC_COUNT; k++)
		ids[k] = 1000 + k;
	assert_int_equal(kfunc_patch(p, 5, ids), 2);
	/* a helper call and a constant equal to a marker stay as they are */
	assert_int_equal(p[0].src_reg, 0);
	assert_int_equal(p[0].imm, BPF_FUNC_get_current_task_btf);
	assert_int_equal(p[2].imm, marker[KFUNC_bpf_rdonly_cast]);
	for (int i = 1; i < 4; i += 2) {
		assert_int_equal(p[i].code, BPF_JMP | BPF_CALL);
		assert_int_equal(p[i].src_reg, BPF_PSEUDO_KFUNC_CALL);
		assert_int_equal(p[i].imm, 1000 + KFUNC_bpf_rdonly_cast);
		assert_int_equal(p[i].off, 0);	/* vmlinux */
	}
	assert_string_equal(kfunc_names[KFUNC_bpf_rdonly_cast], "bpf_rdonly_cast");
}

static void test_unknown_kfunc_is_refused(void **state)
{
	int ids[KFUNC_COUNT];
	struct bpf_insn p[] = { call(marker[KFUNC_bpf_rdonly_cast]), { .code = BPF_JMP | BPF_EXIT } };

	(void)state;
	memset(ids, 0, sizeof(ids));
	assert_int_equal(kfunc_patch(p, 2, ids), -1);
	/* without markers nothing needs an id */
	p[0] = call(BPF_FUNC_ktime_get_ns);
	assert_int_equal(kfunc_patch(p, 2, ids), 0);
	assert_int_equal(p[0].src_reg, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_marked_calls_become_kfunc_calls),
		cmocka_unit_test(test_unknown_kfunc_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
