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

static size_t hash_key(const void *k)
{
	uint64_t h = flow_hash(FLOW_HASH_INIT, k, sizeof(struct flow_key));

	return (size_t)(h ^ (h >> 32));
}

static const struct hashtab_spec flow_spec = {
	.size = sizeof(struct flow_entry),
	.key_off = offsetof(struct flow_entry, key),
	.key_size = sizeof(struct flow_key),
	.used_off = offsetof(struct flow_entry, used),
	.hash = hash_key,
};

/* Evicted flows were reported already: any rebuild drops them. */
static bool not_evicted(const void *e, void *arg)
{
	(void)arg;
	return !((const struct flow_entry *)e)->evicted;
}

int flowtab_init(struct flowtab *t, size_t cap_hint)
{
	int err = hashtab_init(&t->t, &flow_spec, cap_hint);

	t->t.keep = not_evicted;
	return err;
}

void flowtab_free(struct flowtab *t)
{
	hashtab_free(&t->t);
}

struct flow_entry *flowtab_find(const struct flowtab *t, const struct flow_key *k)
{
	return hashtab_find(&t->t, k);
}

struct flow_entry *flowtab_get(struct flowtab *t, const struct flow_key *k)
{
	return hashtab_get(&t->t, k);
}

__u64 counter_delta(__u64 now, __u64 *seen)
{
	__u64 d = now >= *seen ? now - *seen : now;

	*seen = now;
	return d;
}

void flowtab_fold(struct flow_entry *e, const struct flow_val *v, __u64 *rx_seen,
		  __u64 *tx_seen)
{
	__u64 rx = counter_delta(v->rx_bytes, rx_seen);
	__u64 tx = counter_delta(v->tx_bytes, tx_seen);

	e->rx_delta += rx;
	e->tx_delta += tx;
	e->rx_total += rx;
	e->tx_total += tx;
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
	for (size_t i = 0; i < t->t.cap; i++) {
		struct flow_entry *e = hashtab_slot(&t->t, i);

		e->rx_delta = e->tx_delta = 0;
		e->seen = e->sock_live = false;
	}
}

int flowtab_compact(struct flowtab *t)
{
	return hashtab_compact(&t->t, not_evicted, NULL);
}

void flow_tuple(const struct flow_key *k, struct flow_key *tuple)
{
	*tuple = *k;
	tuple->pid = 0;
	tuple->cgroup = 0;
	if (k->proto == FLOW_PROTO_UDP) {	/* a UDP socket is its local end */
		tuple->rport = 0;
		memset(tuple->raddr, 0, sizeof(tuple->raddr));
	}
}

static const struct hashtab_spec mark_spec = {
	.size = sizeof(struct closed_mark),
	.key_off = offsetof(struct closed_mark, key),
	.key_size = sizeof(struct flow_key),
	.used_off = offsetof(struct closed_mark, used),
	.hash = hash_key,
};

void keyset_init(struct keyset *s)
{
	memset(s, 0, sizeof(*s));
	s->t.spec = &mark_spec;
}

int keyset_reset(struct keyset *s, size_t n)
{
	return hashtab_reset(&s->t, n);
}

void keyset_free(struct keyset *s)
{
	hashtab_free(&s->t);
}

struct closed_mark *keyset_find(const struct keyset *s, const struct flow_key *k)
{
	return hashtab_find(&s->t, k);
}

int keyset_add(struct keyset *s, const struct flow_key *k)
{
	return hashtab_get(&s->t, k) ? 0 : -ENOMEM;
}
