/* SPDX-License-Identifier: MIT */
/*
 * Where a program's name is read as the hook it goes on, as BCC's Python
 * auto-attach does, and where attached hooks are described for people.
 */
#ifndef BCCFLOW_HOOK_NAME_H
#define BCCFLOW_HOOK_NAME_H

#include <stdbool.h>
#include <stddef.h>

enum hook_kind {
	HOOK_TRACEPOINT,
	HOOK_RAW_TRACEPOINT,
	HOOK_KPROBE,
	HOOK_KRETPROBE,
	HOOK_FENTRY,
	HOOK_FEXIT,
};
#define HOOK_NKINDS (HOOK_FEXIT + 1)

struct hook {
	enum hook_kind kind;
	char target[128];	/* "cat:event" or kernel function */
};

/*
 * tracepoint__CAT__EVENT, raw_tracepoint__EVENT, kprobe__FN, kretprobe__FN,
 * kfunc__FN and kretfunc__FN; BCC 0.31 and later name fentry programs
 * kfunc__vmlinux__FN (the module is part of the name). false for functions
 * that are not programs to attach.
 */
bool hook_parse(const char *func, struct hook *h);

/*
 * Whether h counts bytes, or only supports counting: close marks
 * (sock:inet_sock_set_state) and removed cgroups' paths (cgroup:cgroup_rmdir).
 */
bool hook_counts_bytes(const struct hook *h);

/* The BPF program type (enum bpf_prog_type) a hook of kind k is loaded as. */
int hook_prog_type(enum hook_kind k);

/* "kprobe+kretprobe on tcp_sendmsg, tcp_recvmsg; tracepoint on sock:x" */
void hook_describe(const struct hook *hooks, int n, char *out, size_t len);

#endif
