/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flowtab.h"
#include "socktab.h"

static size_t hash_sk(__u64 sk)
{
	/* socket addresses share their low bits: mix them all in */
	sk ^= sk >> 33;
	sk *= 0xff51afd7ed558ccdULL;
	sk ^= sk >> 33;
	return (size_t)sk;
}

int socktab_init(struct socktab *t, size_t cap_hint)
{
	t->cap = pow2_at_least(cap_hint * 2);
	t->count = 0;
	t->slots = calloc(t->cap, sizeof(*t->slots));
	return t->slots ? 0 : -ENOMEM;
}

void socktab_free(struct socktab *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static struct sock_entry *probe_slot(const struct socktab *t, __u64 sk)
{
	size_t mask = t->cap - 1, i = hash_sk(sk) & mask;

	while (t->slots[i].used && t->slots[i].sk != sk)
		i = (i + 1) & mask;
	return &t->slots[i];
}

struct sock_entry *socktab_find(const struct socktab *t, __u64 sk)
{
	struct sock_entry *e = probe_slot(t, sk);

	return e->used ? e : NULL;
}

/* Rebuilds into cap slots, keeping the entries marked mark (all if mark is 0). */
static int rehash(struct socktab *t, size_t cap, unsigned long mark)
{
	struct socktab n = { .cap = cap };

	n.slots = calloc(cap, sizeof(*n.slots));
	if (!n.slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->slots[i].used || (mark && t->slots[i].mark != mark))
			continue;
		*probe_slot(&n, t->slots[i].sk) = t->slots[i];
		n.count++;
	}
	free(t->slots);
	*t = n;
	return 0;
}

struct sock_entry *socktab_get(struct socktab *t, __u64 sk)
{
	struct sock_entry *e = probe_slot(t, sk);

	if (e->used)
		return e;
	if ((t->count + 1) * 2 > t->cap) {
		if (rehash(t, t->cap * 2, 0))
			return NULL;
		e = probe_slot(t, sk);
	}
	memset(e, 0, sizeof(*e));
	e->sk = sk;
	e->used = true;
	t->count++;
	return e;
}

int socktab_prune(struct socktab *t, unsigned long mark)
{
	size_t stale = 0;

	for (size_t i = 0; i < t->cap; i++)
		stale += t->slots[i].used && t->slots[i].mark != mark;
	return stale ? rehash(t, t->cap, mark) : 0;
}
