/* SPDX-License-Identifier: MIT */
/*
 * One interval's rows as shown: flows or groups (--by), sorted (--sort),
 * cut to --rows with an "others" row so sums still equal the interval's
 * totals; and the long-lived groups behind --by and the metrics series.
 */
#ifndef BCCFLOW_REPORT_H
#define BCCFLOW_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "collect.h"
#include "hashtab.h"
#include "opts.h"

struct report_row {
	bool others;			/* the rest, beyond --rows */
	struct flow_key key;		/* only the --by fields are set (all for flow) */
	char comm[FLOW_COMM_LEN];
	const struct cgroup_name *cg;	/* flow, cgroup, container: the cgroup's names */
	size_t nflows;			/* flows active this interval */
	__u64 rx_delta, tx_delta;	/* this interval */
	__u64 rx_total, tx_total;	/* since start */
};

struct report {
	enum group_by by;
	const struct interval *iv;
	double elapsed_s;		/* real length of the interval */
	size_t nrows;
	struct report_row *rows;
	__u64 rx_bytes, tx_bytes;	/* sums over all rows = interval totals */
};

/* A group: totals accumulated from interval deltas since first seen. */
struct group {
	struct flow_key key;
	char key_comm[FLOW_COMM_LEN];	/* part of the key: set only for --by comm */
	char comm[FLOW_COMM_LEN];	/* shown: the name of its latest flow */
	const struct cgroup_name *cg;	/* shown: the cgroup of its latest flow */
	__u64 rx_delta, tx_delta;
	__u64 rx_total, tx_total;
	size_t nflows;
	unsigned idle;			/* intervals without bytes */
	size_t seq;			/* 1, 2, ...: order first seen; 0 while just added */
	bool used;			/* its slot is taken (struct hashtab) */
};

struct reporter {
	enum group_by by;
	bool keep_groups;		/* metrics: series must never go away */
	struct hashtab groups;		/* struct group by key and key_comm */
	size_t seen;			/* groups ever added: the last seq */
	struct report_row *rows;
	size_t rows_cap;
};

/* Groups idle this long are forgotten (their totals restart if seen again). */
#define GROUP_IDLE_MAX 300

int reporter_init(struct reporter *r, const struct options *o);
void reporter_free(struct reporter *r);
/* Builds *out from one collected interval. 0 or -ENOMEM. */
int report_build(struct reporter *r, const struct interval *iv, const struct options *o,
		 double elapsed_s, struct report *out);

/* Sorts rows as report_build() does under --sort s (the live screen's s key). */
void report_sort(struct report_row *rows, size_t n, enum sort_key s);

/* The next group at or after *pos (start at 0), or NULL: metrics reads them so. */
const struct group *reporter_next_group(const struct reporter *r, size_t *pos);

/*
 * The group key of a flow under --by (addresses folded when map_v4). For
 * --by container, gk->cgroup holds the container's number (container_no,
 * struct cgroup_name), not a cgroup id.
 */
void group_key(enum group_by by, bool map_v4, const struct flow_key *k, const char *comm,
	       unsigned container_no, struct flow_key *gk, char gcomm[FLOW_COMM_LEN]);

#endif
