/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include <linux/bpf.h>
#include <linux/types.h>

#include "../probes/flow.h"
#include "hook_name.h"

static const struct {
	const char *prefix, *name;
} kinds[HOOK_NKINDS] = {
	[HOOK_TRACEPOINT] = { "tracepoint__", "tracepoint" },
	[HOOK_RAW_TRACEPOINT] = { "raw_tracepoint__", "raw tracepoint" },
	[HOOK_TP_BTF] = { "tp_btf__", "BTF raw tracepoint" },
	[HOOK_KPROBE] = { "kprobe__", "kprobe" },
	[HOOK_KRETPROBE] = { "kretprobe__", "kretprobe" },
	[HOOK_FENTRY] = { "kfunc__", "fentry" },
	[HOOK_FEXIT] = { "kretfunc__", "fexit" },
	[HOOK_CGROUP_SOCK_ADDR] = { "cgroup_sock_addr__", "cgroup sock_addr" },
	[HOOK_CGROUP_SOCK] = { "cgroup_sock__", "cgroup sock" },
};

/* The cgroup hooks a probe may use, by name, and their kind. */
static const struct {
	const char *name;
	enum hook_kind kind;
	int type;
} cgroup_hooks[] = {
	{ "udp4_sendmsg", HOOK_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_SENDMSG },
	{ "udp6_sendmsg", HOOK_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP6_SENDMSG },
	{ "udp4_recvmsg", HOOK_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_RECVMSG },
	{ "udp6_recvmsg", HOOK_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP6_RECVMSG },
	{ "sock_release", HOOK_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_RELEASE },
};

int hook_attach_type(const struct hook *h)
{
	for (size_t i = 0; i < sizeof(cgroup_hooks) / sizeof(cgroup_hooks[0]); i++)
		if (h->kind == cgroup_hooks[i].kind && !strcmp(h->target, cgroup_hooks[i].name))
			return cgroup_hooks[i].type;
	return -1;
}

bool hook_counts_bytes(const struct hook *h)
{
#define EPOCH_TP_NAME(cat, ev) #cat ":" #ev,
	static const char *const support[] = { "sock:inet_sock_set_state", "cgroup:cgroup_mkdir",
					       "cgroup:cgroup_rmdir",
					       FLOW_EPOCH_TRACEPOINTS(EPOCH_TP_NAME) };
#undef EPOCH_TP_NAME

	if (h->kind == HOOK_CGROUP_SOCK_ADDR || h->kind == HOOK_CGROUP_SOCK)
		return false;
	for (size_t i = 0; i < sizeof(support) / sizeof(support[0]); i++)
		if (h->kind == HOOK_TRACEPOINT && !strcmp(h->target, support[i]))
			return false;
	return true;
}

int hook_prog_type(enum hook_kind k)
{
	switch (k) {
	case HOOK_TRACEPOINT:
		return BPF_PROG_TYPE_TRACEPOINT;
	case HOOK_FENTRY:
	case HOOK_FEXIT:
	case HOOK_TP_BTF:
		return BPF_PROG_TYPE_TRACING;
	case HOOK_RAW_TRACEPOINT:
		return BPF_PROG_TYPE_RAW_TRACEPOINT;
	case HOOK_CGROUP_SOCK_ADDR:
		return BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
	case HOOK_CGROUP_SOCK:
		return BPF_PROG_TYPE_CGROUP_SOCK;
	default:
		return BPF_PROG_TYPE_KPROBE;
	}
}

bool hook_parse(const char *func, struct hook *h)
{
	for (int k = 0; k < HOOK_NKINDS; k++) {
		size_t n = strlen(kinds[k].prefix);
		const char *rest = func + n, *sep;

		if (strncmp(func, kinds[k].prefix, n) || !*rest)
			continue;
		if ((k == HOOK_FENTRY || k == HOOK_FEXIT) && !strncmp(rest, "vmlinux__", 9) &&
		    rest[9])
			rest += 9;
		h->kind = (enum hook_kind)k;
		if (snprintf(h->target, sizeof(h->target), "%s", rest) >= (int)sizeof(h->target))
			return false;
		if (k == HOOK_CGROUP_SOCK_ADDR || k == HOOK_CGROUP_SOCK)
			return hook_attach_type(h) >= 0;
		if (k != HOOK_TRACEPOINT)
			return true;
		sep = strstr(h->target, "__");	/* CAT__EVENT -> CAT:EVENT */
		if (!sep || sep == h->target || !sep[2])
			return false;
		memmove(h->target + (sep - h->target) + 1, sep + 2, strlen(sep + 2) + 1);
		h->target[sep - h->target] = ':';
		return true;
	}
	return false;
}

/* The kind's targets in attach order, comma separated (no duplicates). */
static void targets_of(const struct hook *hooks, int n, enum hook_kind k, char *out, size_t len)
{
	size_t used = 0;

	*out = '\0';
	for (int i = 0; i < n; i++) {
		bool seen = false;

		if (hooks[i].kind != k)
			continue;
		for (int j = 0; j < i && !seen; j++)
			seen = hooks[j].kind == k && !strcmp(hooks[j].target, hooks[i].target);
		if (!seen && used < len)
			used += (size_t)snprintf(out + used, len - used, "%s%s", used ? ", " : "",
						 hooks[i].target);
	}
}

void hook_describe(const struct hook *hooks, int n, char *out, size_t len)
{
	char t[HOOK_NKINDS][512];
	bool done[HOOK_NKINDS] = { false };
	size_t used = 0;

	*out = '\0';
	for (int k = 0; k < HOOK_NKINDS; k++)
		targets_of(hooks, n, (enum hook_kind)k, t[k], sizeof(t[k]));
	for (int k = 0; k < HOOK_NKINDS && used < len; k++) {
		if (!*t[k] || done[k])
			continue;
		used += (size_t)snprintf(out + used, len - used, "%s%s", used ? "; " : "",
					 kinds[k].name);
		/* kinds on the same functions share one list: kprobe+kretprobe */
		for (int j = k + 1; j < HOOK_NKINDS && used < len; j++) {
			if (strcmp(t[j], t[k]))
				continue;
			done[j] = true;
			used += (size_t)snprintf(out + used, len - used, "+%s", kinds[j].name);
		}
		if (used < len)
			used += (size_t)snprintf(out + used, len - used, " on %s", t[k]);
	}
}
