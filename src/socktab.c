/* SPDX-License-Identifier: MIT */
#include "socktab.h"

static const struct hashtab_spec sock_spec = {
	.size = sizeof(struct sock_entry),
	.key_off = offsetof(struct sock_entry, sk),
	.key_size = sizeof(__u64),
	.used_off = offsetof(struct sock_entry, used),
	.hash = hashtab_hash_u64,	/* slots: small numbers, spread by the hash */
};

int socktab_init(struct socktab *t, size_t cap_hint)
{
	return hashtab_init(&t->t, &sock_spec, cap_hint);
}

void socktab_free(struct socktab *t)
{
	hashtab_free(&t->t);
}

struct sock_entry *socktab_find(const struct socktab *t, __u64 sk)
{
	return hashtab_find(&t->t, &sk);
}

struct sock_entry *socktab_get(struct socktab *t, __u64 sk)
{
	return hashtab_get(&t->t, &sk);
}

static bool marked(const void *e, void *mark)
{
	return ((const struct sock_entry *)e)->mark == *(const unsigned long *)mark;
}

int socktab_prune(struct socktab *t, unsigned long mark)
{
	return hashtab_compact(&t->t, marked, &mark);
}
