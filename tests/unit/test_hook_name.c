/* SPDX-License-Identifier: MIT */
/* Unit tests: program names read as hooks, and their description (hook_name.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hook_name.h"

static struct hook parsed(const char *func)
{
	struct hook h;

	assert_true(hook_parse(func, &h));
	return h;
}

static void test_every_kind(void **state)
{
	struct hook h;

	(void)state;
	h = parsed("tracepoint__sock__inet_sock_set_state");
	assert_int_equal(h.kind, HOOK_TRACEPOINT);
	assert_string_equal(h.target, "sock:inet_sock_set_state");
	h = parsed("raw_tracepoint__sock_send_length");
	assert_int_equal(h.kind, HOOK_RAW_TRACEPOINT);
	assert_string_equal(h.target, "sock_send_length");
	h = parsed("tp_btf__sock_recv_length");
	assert_int_equal(h.kind, HOOK_TP_BTF);
	assert_string_equal(h.target, "sock_recv_length");
	assert_int_equal(hook_prog_type(h.kind), 26);	/* BPF_PROG_TYPE_TRACING */
	assert_true(hook_counts_bytes(&h));
	/* the task epoch's tracepoints only support counting */
	h = parsed("tracepoint__sched__sched_process_exit");
	assert_string_equal(h.target, "sched:sched_process_exit");
	assert_false(hook_counts_bytes(&h));
	h = parsed("tracepoint__cgroup__cgroup_attach_task");
	assert_false(hook_counts_bytes(&h));
	h = parsed("kprobe__tcp_sendmsg");
	assert_int_equal(h.kind, HOOK_KPROBE);
	assert_string_equal(h.target, "tcp_sendmsg");
	h = parsed("kretprobe__tcp_recvmsg");
	assert_int_equal(h.kind, HOOK_KRETPROBE);
	assert_string_equal(h.target, "tcp_recvmsg");
}

/* BCC 0.26 names KRETFUNC_PROBE(tcp_sendmsg) kretfunc__tcp_sendmsg; 0.31 adds the module */
static void test_fentry_names_of_every_bcc(void **state)
{
	struct hook h;

	(void)state;
	h = parsed("kretfunc__tcp_sendmsg");
	assert_int_equal(h.kind, HOOK_FEXIT);
	assert_string_equal(h.target, "tcp_sendmsg");
	h = parsed("kretfunc__vmlinux__tcp_sendmsg");
	assert_int_equal(h.kind, HOOK_FEXIT);
	assert_string_equal(h.target, "tcp_sendmsg");
	h = parsed("kfunc__vmlinux__tcp_recvmsg");
	assert_int_equal(h.kind, HOOK_FENTRY);
	assert_string_equal(h.target, "tcp_recvmsg");
	h = parsed("kfunc__vmlinux__");	/* a function named vmlinux__, oddly */
	assert_string_equal(h.target, "vmlinux__");
}

static void test_not_programs(void **state)
{
	struct hook h;
	char longname[300];

	(void)state;
	assert_false(hook_parse("count_bytes", &h));
	assert_false(hook_parse("kprobe__", &h));
	assert_false(hook_parse("tracepoint__sock", &h));
	assert_false(hook_parse("tracepoint____x", &h));
	assert_false(hook_parse("tracepoint__sock__", &h));
	memset(longname, 'a', sizeof(longname) - 1);
	memcpy(longname, "kprobe__", 8);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(hook_parse(longname, &h));
}

static void test_describe_merges_kinds_on_the_same_functions(void **state)
{
	const char *const names[] = { "kprobe__tcp_sendmsg", "kretprobe__tcp_sendmsg",
				      "kprobe__tcp_recvmsg", "kretprobe__tcp_recvmsg",
				      "tracepoint__sock__inet_sock_set_state" };
	struct hook h[5];
	char out[256];

	(void)state;
	for (int i = 0; i < 5; i++)
		h[i] = parsed(names[i]);
	hook_describe(h, 5, out, sizeof(out));
	assert_string_equal(out, "tracepoint on sock:inet_sock_set_state; "
				 "kprobe+kretprobe on tcp_sendmsg, tcp_recvmsg");
	h[3] = parsed("kretprobe__tcp_cleanup_rbuf");
	hook_describe(h, 4, out, sizeof(out));
	assert_string_equal(out, "kprobe on tcp_sendmsg, tcp_recvmsg; "
				 "kretprobe on tcp_sendmsg, tcp_cleanup_rbuf");
	hook_describe(h, 0, out, sizeof(out));
	assert_string_equal(out, "");
	hook_describe(h, 4, out, 12);	/* truncated, still a string */
	assert_int_equal(strlen(out), 11);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind),
		cmocka_unit_test(test_fentry_names_of_every_bcc),
		cmocka_unit_test(test_not_programs),
		cmocka_unit_test(test_describe_merges_kinds_on_the_same_functions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
