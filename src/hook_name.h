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
	HOOK_TP_BTF,		/* BTF-enabled raw tracepoint */
	HOOK_KPROBE,
	HOOK_KRETPROBE,
	HOOK_FENTRY,
	HOOK_FEXIT,
	HOOK_CGROUP_SOCK_ADDR,	/* on the cgroup2 root: udp4_sendmsg, ... */
	HOOK_CGROUP_SOCK,	/* on the cgroup2 root: sock_release */
};
#define HOOK_NKINDS (HOOK_CGROUP_SOCK + 1)

struct hook {
	enum hook_kind kind;
	char target[128];	/* "cat:event", kernel function or cgroup hook */
};

/*
 * tracepoint__CAT__EVENT, raw_tracepoint__EVENT, kprobe__FN, kretprobe__FN,
 * kfunc__FN and kretfunc__FN; BCC 0.31 and later name fentry programs
 * kfunc__vmlinux__FN (the module is part of the name); cgroup_sock_addr__HOOK
 * and cgroup_sock__HOOK for the cgroup hooks of hook_attach_type(). false
 * for functions that are not programs to attach, or unknown cgroup hooks.
 */
bool hook_parse(const char *func, struct hook *h);

/*
 * Whether h counts bytes, or only supports counting: close marks
 * (sock:inet_sock_set_state, cgroup sock_release), removed cgroups' paths
 * (cgroup:cgroup_mkdir, cgroup:cgroup_rmdir), UDP peers (the cgroup sock_addr hooks).
 */
bool hook_counts_bytes(const struct hook *h);

/* The attach type (enum bpf_attach_type) of a cgroup hook; -1 for the others. */
int hook_attach_type(const struct hook *h);

/* The BPF program type (enum bpf_prog_type) a hook of kind k is loaded as. */
int hook_prog_type(enum hook_kind k);

/* "kprobe+kretprobe on tcp_sendmsg, tcp_recvmsg; tracepoint on sock:x" */
void hook_describe(const struct hook *hooks, int n, char *out, size_t len);

#endif
