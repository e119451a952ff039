/* SPDX-License-Identifier: MIT */
#include <linux/bpf.h>

#include "kfunc.h"

#define KFUNC_NAME(name, marker) #name,
const char *const kfunc_names[KFUNC_COUNT] = { FLOW_KFUNCS(KFUNC_NAME) };
#undef KFUNC_NAME

#define KFUNC_MARKER(name, marker) marker,
static const int markers[KFUNC_COUNT] = { FLOW_KFUNCS(KFUNC_MARKER) };
#undef KFUNC_MARKER

/* The kfunc a helper call's number marks, or -1. */
static int marked(const struct bpf_insn *in)
{
	if (in->code != (BPF_JMP | BPF_CALL) || in->src_reg != 0)
		return -1;
	for (int k = 0; k < KFUNC_COUNT; k++)
		if (in->imm == markers[k])
			return k;
	return -1;
}

int kfunc_patch(struct bpf_insn *insns, size_t n, const int ids[KFUNC_COUNT])
{
	int done = 0;

	for (size_t i = 0; i < n; i++) {
		int k = marked(&insns[i]);

		if (k < 0)
			continue;
		if (ids[k] <= 0)
			return -1;
		insns[i].src_reg = BPF_PSEUDO_KFUNC_CALL;
		insns[i].imm = ids[k];
		insns[i].off = 0;	/* vmlinux's BTF */
		done++;
	}
	return done;
}
