/* SPDX-License-Identifier: MIT */
/* What the running kernel offers, found before compiling anything. */
#ifndef BCCFLOW_KFEATURES_H
#define BCCFLOW_KFEATURES_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include <linux/types.h>

#include "../probes/flow.h"
#include "backend.h"
#include "kfunc.h"

struct kbtf;

/* struct sock fields the probe reads (all inside struct sock_common): SK_skc_daddr, ... */
#define SK_FIELD_ENUM(f) SK_##f,
enum sk_field {
	FLOW_SK_FIELDS(SK_FIELD_ENUM)
	SK_NFIELDS,
};
#undef SK_FIELD_ENUM

extern const char *const sk_field_names[SK_NFIELDS];

#define TASK_FIELD_ENUM(s, m) TASK_##s##_##m,
enum task_field {
	FLOW_TASK_FIELDS(TASK_FIELD_ENUM)
	TASK_NFIELDS,
};
#undef TASK_FIELD_ENUM

/* What finds the current task without a helper call, in flow.h's order. */
#define CURRENT_FIELD_ENUM(s, m) CURRENT_##s##_##m,
#define CURRENT_PERCPU_ENUM(v) CURRENT_PCPU_##v,
enum current_fact {
	FLOW_CURRENT_FIELDS(CURRENT_FIELD_ENUM)
	FLOW_CURRENT_PERCPU(CURRENT_PERCPU_ENUM)
	CURRENT_CAST,			/* FLOW_CURRENT_CAST's BTF id */
	CURRENT_NFACTS,
};
#undef CURRENT_FIELD_ENUM
#undef CURRENT_PERCPU_ENUM

struct kfeatures {
	struct kbtf *btf;		/* NULL: no BTF */
	char tracefs[PATH_MAX];		/* "" when tracefs is not mounted */
	bool mounted_tracefs;		/* we mounted it: unmount at exit */
	bool tracefs_denied;		/* there, but not readable by us */
	bool kprobes;
	bool tp_sock_length;
	bool tp_state;
	int fexit_err;			/* 0: fentry/fexit loads work */
	int tp_btf_err;			/* 0: BTF raw tracepoint loads work */
	bool have_tcp_sendpage;
	bool recvmsg_has_nonblock;
	bool sk_offsets_ok;		/* every field below was found in BTF */
	long sk_offsets[SK_NFIELDS];	/* byte offsets in struct sock, from BTF */
	/* daddr, rcv_saddr, dport, num in the first 16 bytes, as since Linux 2.6 */
	bool sk_head_packed;
	long sk_protocol_off;		/* struct sock.sk_protocol from BTF, or -1 */
	long net_inum_off;		/* struct net.ns.inum from BTF, or -1 */
	bool task_offsets_ok;		/* every FLOW_TASK_FIELDS member was found in BTF */
	long task_offsets[TASK_NFIELDS];
	bool current_ok;		/* every current fact and bpf_rdonly_cast was found */
	long current_facts[CURRENT_NFACTS];
	bool tp_cgroup_dirs;		/* cgroup:cgroup_{mk,rm}dir with a 64-bit id (5.5+) */
	bool stamps_ok;			/* FLOW_EPOCH_TRACEPOINTS exist, loads are ordered */
	char cgroup2[PATH_MAX];		/* the cgroup2 mount, for cgroup hooks and paths; "" if none */
	char cgroup2_why[256];		/* why cgroup2 is "" */
};

/* Needs root for the tracefs mount and the fexit test load. */
void features_detect(struct kfeatures *f);
/*
 * Unmounts tracefs if we mounted it: once attached, nothing needs it (perf
 * kprobes and tracepoints live as long as their descriptors), and after the
 * privilege drop nothing could unmount it.
 */
void features_release_tracefs(struct kfeatures *f);
void features_cleanup(struct kfeatures *f);

/* false with the reason in why when backend b cannot run here. */
bool features_backend_usable(const struct kfeatures *f, enum backend b, char *why, size_t len);

/* 0, or -1 with the one-line problem and fix in err. */
int features_check_privileges(char *err, size_t errlen);
int features_check_headers(char *err, size_t errlen);
/* The kernel and the loaded libbcc are in the supported range (versions.h). */
int features_check_versions(char *err, size_t errlen);

#endif
