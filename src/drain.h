/* SPDX-License-Identifier: MIT */
/* The BPF map side of draining: struct map_ops over the real map fds. */
#ifndef BCCFLOW_DRAIN_H
#define BCCFLOW_DRAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "collect.h"

struct drain {
	int flows_fd, closed_fd, tuples_fd, stats_fd;
	size_t cap;			/* the flow table's max_entries */
	struct flow_key *keys;
	struct flow_val *vals;
	struct flow_key *closed;
	__u64 *percpu;			/* one stats value per possible CPU */
	int ncpus;
	bool no_batch;			/* kernel without batch lookups */
};

int drain_init(struct drain *d, int flows_fd, int closed_fd, int tuples_fd, int stats_fd,
	       size_t cap);
void drain_free(struct drain *d);
struct map_ops drain_ops(struct drain *d);

/* Number of possible CPUs from a list like "0-3,5" (highest + 1), or -1. */
int parse_cpu_list(const char *s);

#endif
