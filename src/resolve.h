/* SPDX-License-Identifier: MIT */
/*
 * Remote host names for the screen, looked up by threads of their own (a
 * few, so that one lookup that hangs does not hold up the rest) so that a
 * slow or silent DNS server never holds up a refresh: asking for a name
 * answers at once with what the cache has (nothing the first time) and
 * queues the lookup, the most recently asked first. The cache is bounded;
 * the least recently asked name goes first.
 */
#ifndef BCCFLOW_RESOLVE_H
#define BCCFLOW_RESOLVE_H

#include <stddef.h>
#include <linux/types.h>

struct resolver;

/*
 * The lookup the thread runs: the host name of addr (family AF_INET or
 * AF_INET6, addr as in struct flow_key) into name, 0; or -1 when it has
 * none. NULL: getnameinfo() with NI_NAMEREQD.
 */
typedef int (*resolve_fn)(int family, const __u8 *addr, char *name, size_t len);

/* A resolver of at most cap names, its threads started; NULL with errno set. */
struct resolver *resolver_new(size_t cap, resolve_fn fn);

/*
 * The name of addr into buf, returning buf, when it is known; else NULL,
 * and the lookup is queued (once: an address without a name stays so).
 */
const char *resolver_name(struct resolver *r, int family, const __u8 *addr, char *buf,
			  size_t len);

/* Names looked up so far (found or not), for tests. */
size_t resolver_done(struct resolver *r);

/*
 * Ends the threads and frees everything; never waits for a lookup under
 * way (the last thread out frees the resolver when its lookup returns).
 */
void resolver_free(struct resolver *r);

#endif
