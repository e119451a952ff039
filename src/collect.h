/* SPDX-License-Identifier: MIT */
/*
 * Where flows are drained: one interval's snapshot of the kernel tables,
 * turned into exact per-flow deltas, with closed flows evicted. The map
 * access goes through struct map_ops so this logic is tested without BPF.
 */
#ifndef BCCFLOW_COLLECT_H
#define BCCFLOW_COLLECT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "flowtab.h"
#include "socktab.h"

struct map_ops {
	void *ctx;
	/* Whole flow table; the arrays stay valid until the next call. */
	ssize_t (*read_flows)(void *ctx, const struct flow_key **keys,
			      const struct flow_val **vals);
	/*
	 * Socket table's entries, keyed by slot (NULL: the probe has none);
	 * the arrays stay valid until the next call.
	 */
	ssize_t (*read_socks)(void *ctx, const __u64 **keys, const struct sock_flow **vals);
	/* Frees a socket entry's slot, returning its last value: 0, -ENOENT or -errno. */
	int (*evict_sock)(void *ctx, __u64 slot, struct sock_flow *last);
	/* Closed-socket marks of the tuple table. */
	ssize_t (*read_closed)(void *ctx, const struct flow_key **keys);
	/* Deletes a flow, returning its last value: 0, -ENOENT or -errno. */
	int (*evict)(void *ctx, const struct flow_key *k, struct flow_val *last);
	int (*unmark)(void *ctx, const struct flow_key *k);
	/* Sums over CPUs of the stats array. */
	int (*read_stats)(void *ctx, __u64 out[STAT_MAX]);
};

/* A UDP flow idle this many intervals leaves the kernel table (exactly). */
#define UDP_IDLE_INTERVALS 5

struct interval {
	unsigned long index;		/* 1, 2, ... */
	size_t nrows;
	struct flow_entry **rows;	/* active flows, busiest first */
	__u64 rx_bytes, tx_bytes;	/* sums over rows */
	__u64 events;			/* counted: socket entries' and the stats' deltas */
	__u64 dropped, dropped_bytes;	/* stats deltas */
	__u64 marks_lost;			/* close marks that did not fit */
	size_t tracked;			/* flows in the table after eviction */
	__u64 collect_us;		/* time spent reading and aggregating the maps */
	/* our own cost this interval (selfcost.h; the monitor fills them) */
	bool bpf_known;			/* false: no BPF statistics, the two below unknown */
	__u64 bpf_run_ns, bpf_runs;	/* our BPF programs' run time and runs */
	__u64 cpu_ns;			/* this process's CPU */
	size_t evicted;
};

struct collector {
	struct flowtab tab;		/* flows by pid and 4-tuple: what is reported */
	struct socktab socks;		/* the kernel's socket entries last read */
	unsigned long sock_mark;
	struct keyset closed;
	__u64 stats_prev[STAT_MAX];
	struct flow_entry **rows;
	size_t rows_cap;
	unsigned long index;
};

int collect_init(struct collector *c, size_t max_flows);
void collect_free(struct collector *c);
/* Reads one interval into *iv (valid until collect_end). 0 or -errno. */
int collect_interval(struct collector *c, const struct map_ops *ops, struct interval *iv);
/* Forgets flows evicted in the interval just reported. */
int collect_end(struct collector *c);

/* Row order: interval bytes, then totals, then key; never overflows. */
int flow_entry_cmp(const void *a, const void *b);

#endif
