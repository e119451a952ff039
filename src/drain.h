/* SPDX-License-Identifier: MIT */
/* The BPF map side of draining: struct map_ops over the real map fds. */
#ifndef BCCFLOW_DRAIN_H
#define BCCFLOW_DRAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "collect.h"

/*
 * The probe's map fds; socks, tuples and cgroup_dirs may be -1 (a --probe
 * text without them, a kernel without the cgroup mkdir/rmdir tracepoints).
 */
struct drain_fds {
	int flows, socks, closed, tuples, stats, cgroup_dirs, sock_claims;
	size_t socks_slots;		/* the socks array's max_entries */
};

struct drain {
	int flows_fd, socks_fd, closed_fd, tuples_fd, stats_fd, cgroup_dirs_fd, sock_claims_fd;
	size_t cap;			/* the flow table's max_entries */
	size_t socks_slots;
	struct flow_key *keys;
	struct flow_val *vals;
	__u32 *slot_ids;		/* slots read: every one, or the claimed ones */
	__u64 *claim_owners;		/* sock_claims' values, as read with its keys */
	__u64 *sock_keys;		/* the ready entries' slots, as the collector keys them */
	struct sock_flow *sock_vals;
	struct sock_flow *sock_map;	/* the socks array mapped (BPF_F_MMAPABLE), or NULL */
	size_t sock_map_len;
	struct flow_key *closed;
	__u64 *percpu;			/* one stats value per possible CPU */
	int ncpus;
	bool no_batch;			/* kernel without batch lookups */
};

int drain_init(struct drain *d, const struct drain_fds *fds, size_t cap);
void drain_free(struct drain *d);
struct map_ops drain_ops(struct drain *d);

/*
 * The path the kernel recorded for removed cgroup id (a cgroup_dir_fn,
 * ctx a struct drain): 0, or -ENOENT when it has none.
 */
int drain_cgroup_dir(void *ctx, __u64 id, char *path, size_t len);

/* Number of possible CPUs from a list like "0-3,5" (highest + 1), or -1. */
int parse_cpu_list(const char *s);

#endif
