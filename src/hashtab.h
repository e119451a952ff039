/* SPDX-License-Identifier: MIT */
/*
 * The one open-addressing hash table behind the flow table, the socket
 * table, the closed-socket marks and the report's groups: fixed-size
 * entries stored in the slots themselves, linear probing, growth at half
 * load. An entry carries its own key (compared with memcmp) and a bool
 * saying its slot is taken, so a zeroed slot is an empty one.
 */
#ifndef BCCFLOW_HASHTAB_H
#define BCCFLOW_HASHTAB_H

#include <stdbool.h>
#include <stddef.h>

/* What the entries look like: shared by every table of one kind. */
struct hashtab_spec {
	size_t size;			/* bytes per entry */
	size_t key_off, key_size;	/* the key inside an entry */
	size_t used_off;		/* a bool inside an entry: slot taken */
	size_t (*hash)(const void *key);
};

/* Says whether a rebuild keeps an entry; arg is the caller's. */
typedef bool (*hashtab_keep_fn)(const void *entry, void *arg);

struct hashtab {
	const struct hashtab_spec *spec;
	unsigned char *slots;
	size_t cap;			/* power of two */
	size_t count;
	/* entries a growth keeps (NULL: all): stale ones go at no extra pass */
	hashtab_keep_fn keep;
	void *keep_arg;
};

/* The smallest power of two >= n, at least 16: a table's capacity. */
size_t pow2_at_least(size_t n);

/*
 * A hash for 8-byte keys (socket addresses, cgroup ids), whose values
 * differ mostly in a few bits: murmur3's finaliser mixes them all in.
 */
size_t hashtab_hash_u64(const void *key);

/* Room for cap_hint entries before the first growth. 0 or -ENOMEM. */
int hashtab_init(struct hashtab *t, const struct hashtab_spec *spec, size_t cap_hint);
void hashtab_free(struct hashtab *t);
/* Empties t, keeping (or enlarging to) room for n entries. 0 or -ENOMEM. */
int hashtab_reset(struct hashtab *t, size_t n);
void *hashtab_find(const struct hashtab *t, const void *key);
/* Finds or adds (zeroed but for key and used); NULL only when out of memory. */
void *hashtab_get(struct hashtab *t, const void *key);
/*
 * Drops the entries keep (with arg) rejects, rebuilding at the same
 * capacity; nothing is rebuilt when every entry stays. 0 or -ENOMEM.
 */
int hashtab_compact(struct hashtab *t, hashtab_keep_fn keep, void *arg);
/* The next taken entry at or after slot *pos (then *pos is past it), or NULL. */
void *hashtab_next(const struct hashtab *t, size_t *pos);

/* Slot i, taken or not: for passes over every slot. */
static inline void *hashtab_slot(const struct hashtab *t, size_t i)
{
	return t->slots + i * t->spec->size;
}

static inline bool hashtab_used(const struct hashtab *t, const void *entry)
{
	return *(const bool *)((const unsigned char *)entry + t->spec->used_off);
}

#endif
