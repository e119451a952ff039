/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flowtab.h"

unsigned long long flow_hash(unsigned long long h, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i = 0;

	/* eight bytes per multiply: byte-wise FNV was a tenth of an interval's CPU */
	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, b + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 32;
	}
	for (; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	/* murmur3's finaliser: every input bit reaches the low bits a table uses */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

static size_t hash_key(const struct flow_key *k)
{
	uint64_t h = flow_hash(FLOW_HASH_INIT, k, sizeof(*k));

	return (size_t)(h ^ (h >> 32));
}

size_t pow2_at_least(size_t n)
{
	size_t c = 16;

	while (c < n)
		c <<= 1;
	return c;
}

int flowtab_init(struct flowtab *t, size_t cap_hint)
{
	t->cap = pow2_at_least(cap_hint * 2);
	t->count = 0;
	t->slots = calloc(t->cap, sizeof(*t->slots));
	return t->slots ? 0 : -ENOMEM;
}

void flowtab_free(struct flowtab *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static struct flow_entry *probe_slot(const struct flowtab *t, const struct flow_key *k)
{
	size_t mask = t->cap - 1, i = hash_key(k) & mask;

	while (t->slots[i].used && memcmp(&t->slots[i].key, k, sizeof(*k)))
		i = (i + 1) & mask;
	return &t->slots[i];
}

struct flow_entry *flowtab_find(const struct flowtab *t, const struct flow_key *k)
{
	struct flow_entry *e = probe_slot(t, k);

	return e->used ? e : NULL;
}

/* Rebuilds into a table of cap slots, keeping used and not evicted entries. */
static int rehash(struct flowtab *t, size_t cap)
{
	struct flowtab n = { .cap = cap };

	n.slots = calloc(cap, sizeof(*n.slots));
	if (!n.slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->slots[i].used || t->slots[i].evicted)
			continue;
		*probe_slot(&n, &t->slots[i].key) = t->slots[i];
		n.count++;
	}
	free(t->slots);
	*t = n;
	return 0;
}

struct flow_entry *flowtab_get(struct flowtab *t, const struct flow_key *k)
{
	struct flow_entry *e = probe_slot(t, k);

	if (e->used)
		return e;
	if ((t->count + 1) * 2 > t->cap) {
		if (rehash(t, t->cap * 2))
			return NULL;
		e = probe_slot(t, k);
	}
	memset(e, 0, sizeof(*e));
	e->key = *k;
	e->used = true;
	t->count++;
	return e;
}

void flowtab_fold(struct flow_entry *e, const struct flow_val *v, __u64 *rx_seen,
		  __u64 *tx_seen)
{
	/* a counter below what we saw means the kernel entry was re-created */
	__u64 rx = v->rx_bytes >= *rx_seen ? v->rx_bytes - *rx_seen : v->rx_bytes;
	__u64 tx = v->tx_bytes >= *tx_seen ? v->tx_bytes - *tx_seen : v->tx_bytes;

	e->rx_delta += rx;
	e->tx_delta += tx;
	e->rx_total += rx;
	e->tx_total += tx;
	*rx_seen = v->rx_bytes;
	*tx_seen = v->tx_bytes;
	memcpy(e->comm, v->comm, sizeof(e->comm));
	e->comm[FLOW_COMM_LEN - 1] = '\0';
}

void flowtab_observe(struct flow_entry *e, const struct flow_val *v)
{
	flowtab_fold(e, v, &e->rx_seen, &e->tx_seen);
	e->seen = true;
}

void flowtab_begin(struct flowtab *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		t->slots[i].rx_delta = t->slots[i].tx_delta = 0;
		t->slots[i].seen = t->slots[i].sock_live = false;
	}
}

int flowtab_compact(struct flowtab *t)
{
	size_t evicted = 0;

	for (size_t i = 0; i < t->cap; i++)
		evicted += t->slots[i].used && t->slots[i].evicted;
	return evicted ? rehash(t, t->cap) : 0;
}

void flow_tuple(const struct flow_key *k, struct flow_key *tuple)
{
	*tuple = *k;
	tuple->pid = 0;
}

int keyset_reset(struct keyset *s, size_t n)
{
	size_t cap = pow2_at_least(n * 2);

	if (cap > s->cap) {
		struct flow_key *keys = realloc(s->keys, cap * sizeof(*keys));
		bool *used, *keep;

		if (!keys)
			return -ENOMEM;
		s->keys = keys;
		used = realloc(s->used, cap * sizeof(*used));
		if (!used)
			return -ENOMEM;
		s->used = used;
		keep = realloc(s->keep, cap * sizeof(*keep));
		if (!keep)
			return -ENOMEM;
		s->keep = keep;
		s->cap = cap;
	}
	memset(s->used, 0, s->cap * sizeof(*s->used));
	memset(s->keep, 0, s->cap * sizeof(*s->keep));
	s->count = 0;
	return 0;
}

void keyset_free(struct keyset *s)
{
	free(s->keys);
	free(s->used);
	free(s->keep);
	memset(s, 0, sizeof(*s));
}

static size_t keyset_slot(const struct keyset *s, const struct flow_key *k)
{
	size_t mask = s->cap - 1, i = hash_key(k) & mask;

	while (s->used[i] && memcmp(&s->keys[i], k, sizeof(*k)))
		i = (i + 1) & mask;
	return i;
}

long keyset_find(const struct keyset *s, const struct flow_key *k)
{
	size_t i;

	if (!s->count)
		return -1;
	i = keyset_slot(s, k);
	return s->used[i] ? (long)i : -1;
}

int keyset_add(struct keyset *s, const struct flow_key *k)
{
	size_t i;

	if ((s->count + 1) * 2 > s->cap)
		return -ENOSPC;	/* sized by keyset_reset() */
	i = keyset_slot(s, k);
	if (!s->used[i]) {
		s->used[i] = true;
		s->keys[i] = *k;
		s->count++;
	}
	return 0;
}
