/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "resolve.h"

#define NAME_LEN 256
/* lookups at once: one that hangs holds up the others' names no longer */
#define THREADS 4

enum entry_state {
	E_EMPTY,
	E_QUEUED,
	E_BUSY,		/* the thread is looking it up */
	E_NAMED,
	E_NONAME,
};

struct entry {
	int family;
	__u8 addr[16];
	enum entry_state state;
	unsigned long used;	/* when last asked for */
	char name[NAME_LEN];
};

struct resolver {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	resolve_fn fn;
	bool stop;		/* resolver_free() was called */
	int refs;		/* threads running, and the owner until resolver_free() */
	unsigned long clock;
	size_t done;
	size_t cap;
	struct entry e[];
};

static int lookup(int family, const __u8 *addr, char *name, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, addr, 4);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, addr, 16);
		sl = sizeof(*s6);
	}
	return getnameinfo((struct sockaddr *)&ss, sl, name, (socklen_t)len, NULL, 0,
			   NI_NAMEREQD) ? -1 : 0;
}

static void destroy(struct resolver *r)
{
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->wake);
	free(r);
}

/* The queued entry asked for last: what is on the screen now. */
static struct entry *next_queued(struct resolver *r)
{
	struct entry *best = NULL;

	for (size_t i = 0; i < r->cap; i++)
		if (r->e[i].state == E_QUEUED && (!best || r->e[i].used > best->used))
			best = &r->e[i];
	return best;
}

/* Drops one reference: the last one out frees the resolver (called locked). */
static void unref_unlock(struct resolver *r)
{
	bool last = --r->refs == 0;

	pthread_mutex_unlock(&r->lock);
	if (last)
		destroy(r);
}

static void *worker(void *arg)
{
	struct resolver *r = arg;
	char name[NAME_LEN];
	__u8 addr[16];
	struct entry *e;
	int family, rc;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->stop && !(e = next_queued(r)))
			pthread_cond_wait(&r->wake, &r->lock);
		if (r->stop)
			break;
		e->state = E_BUSY;	/* not evicted while looked up */
		family = e->family;
		memcpy(addr, e->addr, sizeof(addr));
		pthread_mutex_unlock(&r->lock);
		rc = r->fn(family, addr, name, sizeof(name));
		pthread_mutex_lock(&r->lock);
		if (r->stop)
			break;	/* nobody asks any more */
		e->state = rc ? E_NONAME : E_NAMED;
		if (!rc)
			memcpy(e->name, name, sizeof(e->name));
		e->name[sizeof(e->name) - 1] = '\0';
		r->done++;
	}
	/* the resolver lives while a thread (maybe in a lookup that never returns) or its owner does */
	unref_unlock(r);
	return NULL;
}

struct resolver *resolver_new(size_t cap, resolve_fn fn)
{
	struct resolver *r;
	pthread_attr_t attr;
	sigset_t all, old;
	int err = 0;

	if (!cap) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r) + cap * sizeof(r->e[0]));
	if (!r)
		return NULL;
	r->cap = cap;
	r->fn = fn ? fn : lookup;
	r->refs = 1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	/* never joined: resolver_free() must not wait for a lookup */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* signals are the main thread's: SIGINT must cut its wait short */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_mutex_lock(&r->lock);
	for (int i = 0; i < THREADS; i++) {
		pthread_t t;

		err = pthread_create(&t, &attr, worker, r);
		if (err)
			break;
		r->refs++;
	}
	pthread_mutex_unlock(&r->lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (r->refs == 1) {	/* no thread at all */
		destroy(r);
		errno = err;
		return NULL;
	}
	return r;
}

static bool same(const struct entry *e, int family, const __u8 *addr)
{
	return e->state != E_EMPTY && e->family == family &&
	       !memcmp(e->addr, addr, family == AF_INET ? 4 : 16);
}

const char *resolver_name(struct resolver *r, int family, const __u8 *addr, char *buf,
			  size_t len)
{
	struct entry *e = NULL, *victim = NULL;
	const char *out = NULL;

	pthread_mutex_lock(&r->lock);
	r->clock++;
	for (size_t i = 0; i < r->cap && !e; i++) {
		if (same(&r->e[i], family, addr))
			e = &r->e[i];
		else if (r->e[i].state != E_BUSY &&
			 (!victim || (victim->state != E_EMPTY &&
				      (r->e[i].state == E_EMPTY || r->e[i].used < victim->used))))
			victim = &r->e[i];
	}
	if (!e && victim) {
		/* the least recently asked name makes room */
		memset(victim, 0, sizeof(*victim));
		victim->family = family;
		memcpy(victim->addr, addr, family == AF_INET ? 4 : 16);
		victim->state = E_QUEUED;
		e = victim;
		pthread_cond_signal(&r->wake);
	}
	if (e) {
		e->used = r->clock;
		if (e->state == E_NAMED) {
			snprintf(buf, len, "%s", e->name);
			out = buf;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return out;
}

size_t resolver_done(struct resolver *r)
{
	size_t n;

	pthread_mutex_lock(&r->lock);
	n = r->done;
	pthread_mutex_unlock(&r->lock);
	return n;
}

void resolver_free(struct resolver *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_broadcast(&r->wake);
	unref_unlock(r);
}
