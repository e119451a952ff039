/* SPDX-License-Identifier: MIT */
/*
 * User-space side of the kernel's socket table: for each socket entry, the
 * counters last read, so each interval's delta can be folded into its flow.
 */
#ifndef BCCFLOW_SOCKTAB_H
#define BCCFLOW_SOCKTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "../probes/flow.h"
#include "hashtab.h"

struct sock_entry {
	__u64 sk;			/* the kernel entry's key: its slot */
	struct flow_key key;		/* its flow, fixed while the entry lives */
	__u64 rx_seen, tx_seen, events_seen;
	unsigned long mark;		/* interval it was last read in */
	bool used;			/* its slot is taken (struct hashtab) */
};

/* Socket entries by slot (struct hashtab: t.count entries). */
struct socktab {
	struct hashtab t;
};

int socktab_init(struct socktab *t, size_t cap_hint);
void socktab_free(struct socktab *t);
struct sock_entry *socktab_find(const struct socktab *t, __u64 sk);
/* Finds or adds (zeroed but for sk); NULL only when out of memory. */
struct sock_entry *socktab_get(struct socktab *t, __u64 sk);
/* Drops the entries whose mark is not mark. */
int socktab_prune(struct socktab *t, unsigned long mark);

#endif
