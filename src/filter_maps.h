/* SPDX-License-Identifier: MIT */
/*
 * Where the filters' map contents are made: the --cgroup directory, the
 * --port set and the --laddr/--raddr networks as keys of LPM tries.
 */
#ifndef BCCFLOW_FILTER_MAPS_H
#define BCCFLOW_FILTER_MAPS_H

#include <linux/types.h>

#include "../probes/flow.h"
#include "loader.h"
#include "opts.h"

struct filter_maps {
	int zero, cgroup_fd;
	__u8 one[ADDR_LPM_MAX_ENTRIES > MAX_PORT_FILTERS ? ADDR_LPM_MAX_ENTRIES : MAX_PORT_FILTERS];
	struct addr_lpm_key laddr[ADDR_LPM_MAX_ENTRIES], raddr[ADDR_LPM_MAX_ENTRIES];
	struct map_init init[4];
	int n;			/* entries of init[] in use */
};

/*
 * m->init[0..m->n) for loader_open(), pointing into m and o (keep both
 * alive until then); cgroup_fd < 0: no --cgroup.
 */
void filter_maps_build(struct filter_maps *m, const struct options *o, int cgroup_fd);

/*
 * --netns PATH must name a network namespace (a /run/netns/NAME bind
 * mount, /proc/PID/ns/net): its inode number, or 0 with err set.
 */
__u32 filter_netns_resolve(const char *path, char *err, size_t errlen);

/* --cgroup must name a cgroup v2 directory: its open fd, or -1 with err set. */
int filter_cgroup_open(const char *path, char *err, size_t errlen);

/*
 * Fills out[] with the trie keys that match exactly the addresses the n
 * networks match (an IPv4 network also as IPv4-mapped IPv6); returns how
 * many, at most ADDR_LPM_MAX_ENTRIES.
 */
int addr_filter_keys(const struct cidr *list, int n, struct addr_lpm_key *out);

#endif
