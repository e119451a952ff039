/* SPDX-License-Identifier: MIT */
/* User-space flow table: last kernel counters, totals and interval deltas. */
#ifndef BCCFLOW_FLOWTAB_H
#define BCCFLOW_FLOWTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "../probes/flow.h"
#include "hashtab.h"

struct cgroup_name;

struct flow_entry {
	struct flow_key key;
	char comm[FLOW_COMM_LEN];
	const struct cgroup_name *cg;	/* its cgroup's names; NULL until asked */
	__u64 rx_seen, tx_seen;		/* tuple table's cumulative counters last read */
	__u64 rx_total, tx_total;	/* since bccflow started */
	__u64 rx_delta, tx_delta;	/* this interval */
	unsigned idle;			/* intervals without bytes (UDP eviction) */
	bool used;			/* its slot is taken (struct hashtab) */
	bool seen;			/* in this interval's tuple table snapshot */
	bool sock_live;			/* a socket table entry of it stays in the kernel */
	bool evicted;			/* deleted from the kernel: drop after reporting */
};

/* Flows by key (struct hashtab: t.cap slots, t.count flows). */
struct flowtab {
	struct hashtab t;
};

int flowtab_init(struct flowtab *t, size_t cap_hint);
void flowtab_free(struct flowtab *t);
struct flow_entry *flowtab_find(const struct flowtab *t, const struct flow_key *k);
/* Finds or adds; NULL only when out of memory. */
struct flow_entry *flowtab_get(struct flowtab *t, const struct flow_key *k);
/*
 * What a kernel counter added since *seen, which becomes now: all of now when
 * it is below *seen (the kernel entry was re-created).
 */
__u64 counter_delta(__u64 now, __u64 *seen);
/*
 * Folds one kernel entry's cumulative reading into e's delta and totals;
 * *rx_seen and *tx_seen hold that entry's previous reading.
 */
void flowtab_fold(struct flow_entry *e, const struct flow_val *v, __u64 *rx_seen,
		  __u64 *tx_seen);
/* flowtab_fold() for e's tuple table entry; marks e seen. */
void flowtab_observe(struct flow_entry *e, const struct flow_val *v);
/* Clears per-interval state. */
void flowtab_begin(struct flowtab *t);
/* Drops entries marked evicted (after they were reported). */
int flowtab_compact(struct flowtab *t);

/* A closed-socket mark of the tuple table, as read this interval. */
struct closed_mark {
	struct flow_key key;		/* a 4-tuple, pid 0 (flow_tuple) */
	bool used;			/* its slot is taken (struct hashtab) */
	bool keep;			/* a flow of it is still active: not unmarked yet */
};

/* A set of keys, same hashing; used for closed-socket marks. */
struct keyset {
	struct hashtab t;
};

void keyset_init(struct keyset *s);
/* Empties s with room for n keys. 0 or -ENOMEM. */
int keyset_reset(struct keyset *s, size_t n);
void keyset_free(struct keyset *s);
struct closed_mark *keyset_find(const struct keyset *s, const struct flow_key *k);
int keyset_add(struct keyset *s, const struct flow_key *k);

/* FNV-style hash of n bytes, a word at a time, continuing from h (start with FLOW_HASH_INIT). */
#define FLOW_HASH_INIT 1469598103934665603ULL
unsigned long long flow_hash(unsigned long long h, const void *p, size_t n);

/*
 * The 4-tuple of k in its namespace, without pid and cgroup: how closed
 * sockets are marked; for UDP the local end only (a socket has flows to
 * many peers).
 */
void flow_tuple(const struct flow_key *k, struct flow_key *tuple);

#endif
