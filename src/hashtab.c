/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hashtab.h"

size_t pow2_at_least(size_t n)
{
	size_t c = 16;

	while (c < n)
		c <<= 1;
	return c;
}

size_t hashtab_hash_u64(const void *key)
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return (size_t)(h ^ (h >> 33));
}

static bool *used_flag(const struct hashtab *t, unsigned char *e)
{
	return (bool *)(e + t->spec->used_off);
}

int hashtab_init(struct hashtab *t, const struct hashtab_spec *spec, size_t cap_hint)
{
	memset(t, 0, sizeof(*t));
	t->spec = spec;
	t->cap = pow2_at_least(cap_hint * 2);
	t->slots = calloc(t->cap, spec->size);
	return t->slots ? 0 : -ENOMEM;
}

void hashtab_free(struct hashtab *t)
{
	free(t->slots);
	t->slots = NULL;
	t->cap = t->count = 0;
}

int hashtab_reset(struct hashtab *t, size_t n)
{
	size_t cap = pow2_at_least(n * 2);

	/* a smaller need keeps the larger table: no allocation in the steady state */
	if (cap > t->cap) {
		unsigned char *slots = calloc(cap, t->spec->size);

		if (!slots)
			return -ENOMEM;
		free(t->slots);
		t->slots = slots;
		t->cap = cap;
	} else if (t->count) {
		memset(t->slots, 0, t->cap * t->spec->size);
	}
	t->count = 0;
	return 0;
}

/* The slot holding key, or the empty slot where it would go. */
static unsigned char *probe(const struct hashtab *t, const void *key)
{
	const struct hashtab_spec *s = t->spec;
	size_t mask = t->cap - 1, i = s->hash(key) & mask;

	for (;;) {
		unsigned char *e = t->slots + i * s->size;

		if (!*used_flag(t, e) || !memcmp(e + s->key_off, key, s->key_size))
			return e;
		i = (i + 1) & mask;
	}
}

void *hashtab_find(const struct hashtab *t, const void *key)
{
	unsigned char *e;

	if (!t->count)
		return NULL;
	e = probe(t, key);
	return *used_flag(t, e) ? e : NULL;
}

/* Rebuilds into cap slots, in slot order, with the entries keep accepts. */
static int rebuild(struct hashtab *t, size_t cap, hashtab_keep_fn keep, void *arg)
{
	struct hashtab n = *t;
	size_t size = t->spec->size;

	n.cap = cap;
	n.count = 0;
	n.slots = calloc(cap, size);
	if (!n.slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		unsigned char *e = t->slots + i * size;

		if (!*used_flag(t, e) || (keep && !keep(e, arg)))
			continue;
		memcpy(probe(&n, e + t->spec->key_off), e, size);
		n.count++;
	}
	free(t->slots);
	*t = n;
	return 0;
}

void *hashtab_get(struct hashtab *t, const void *key)
{
	const struct hashtab_spec *s = t->spec;
	unsigned char *e = probe(t, key);

	if (*used_flag(t, e))
		return e;
	if ((t->count + 1) * 2 > t->cap) {
		if (rebuild(t, t->cap * 2, t->keep, t->keep_arg))
			return NULL;
		e = probe(t, key);
	}
	memset(e, 0, s->size);
	memcpy(e + s->key_off, key, s->key_size);
	*used_flag(t, e) = true;
	t->count++;
	return e;
}

int hashtab_compact(struct hashtab *t, hashtab_keep_fn keep, void *arg)
{
	size_t pos = 0;
	void *e;

	while ((e = hashtab_next(t, &pos)))
		if (!keep(e, arg))
			return rebuild(t, t->cap, keep, arg);
	return 0;
}

void *hashtab_next(const struct hashtab *t, size_t *pos)
{
	for (size_t i = *pos; i < t->cap; i++) {
		unsigned char *e = t->slots + i * t->spec->size;

		if (*used_flag(t, e)) {
			*pos = i + 1;
			return e;
		}
	}
	*pos = t->cap;
	return NULL;
}
