/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup_names.h"
#include "flowtab.h"
#include "workload.h"

/* Names live in their own allocations: pointers to them stay valid. */
struct name_slot {
	__u64 id;
	bool used;
	struct cgroup_name *name;
};

struct container_slot {
	__u64 hash;		/* of the name; a clash moves on to hash + 1 */
	bool used;
	unsigned no;
};

static const struct hashtab_spec name_spec = {
	.size = sizeof(struct name_slot),
	.key_off = offsetof(struct name_slot, id),
	.key_size = sizeof(__u64),
	.used_off = offsetof(struct name_slot, used),
	.hash = hashtab_hash_u64,
};

static const struct hashtab_spec container_spec = {
	.size = sizeof(struct container_slot),
	.key_off = offsetof(struct container_slot, hash),
	.key_size = sizeof(__u64),
	.used_off = offsetof(struct container_slot, used),
	.hash = hashtab_hash_u64,
};

static time_t monotonic_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

int cgroup_names_init(struct cgroup_names *n, struct cgroup_paths *paths, cgroup_dir_fn gone,
		      void *gone_ctx, time_t (*now)(void))
{
	memset(n, 0, sizeof(*n));
	n->paths = paths;
	n->gone = gone;
	n->gone_ctx = gone_ctx;
	n->now = now ? now : monotonic_now;
	if (hashtab_init(&n->byid, &name_spec, 64) ||
	    hashtab_init(&n->bycontainer, &container_spec, 16)) {
		cgroup_names_free(n);
		return -ENOMEM;
	}
	return 0;
}

static void name_free(struct cgroup_name *c)
{
	if (!c)
		return;
	if (*c->path)
		free((char *)c->path);
	free(c);
}

void cgroup_names_free(struct cgroup_names *n)
{
	struct name_slot *s;
	size_t pos = 0;

	if (n->byid.slots)
		while ((s = hashtab_next(&n->byid, &pos)))
			name_free(s->name);
	hashtab_free(&n->byid);
	hashtab_free(&n->bycontainer);
	for (size_t i = 0; i < n->ncontainers; i++)
		free(n->containers[i]);
	free(n->containers);
	memset(n, 0, sizeof(*n));
}

/* The number of container name s (added if new); 0 for "" or out of memory. */
static unsigned container_no(struct cgroup_names *n, const char *s)
{
	__u64 h = flow_hash(FLOW_HASH_INIT, s, strlen(s));
	struct container_slot *c;
	char *copy, **grown;

	if (!*s)
		return 0;
	for (;; h++) {
		c = hashtab_get(&n->bycontainer, &h);
		if (!c)
			return 0;
		if (!c->no)
			break;	/* new */
		if (!strcmp(n->containers[c->no - 1], s))
			return c->no;
	}
	if (n->ncontainers == n->cap) {
		size_t cap = n->cap ? 2 * n->cap : 16;

		grown = realloc(n->containers, cap * sizeof(*grown));
		if (!grown)
			return 0;
		n->containers = grown;
		n->cap = cap;
	}
	copy = strdup(s);
	if (!copy)
		return 0;
	n->containers[n->ncontainers++] = copy;
	c->no = (unsigned)n->ncontainers;
	return c->no;
}

/* Sets c's path and workload from path (copied). */
static void name_set(struct cgroup_names *n, struct cgroup_name *c, const char *path)
{
	struct workload w;
	char *copy = strdup(path);

	if (!copy)
		return;		/* stays unknown: asked again later */
	workload_from_path(copy, &w);
	c->path = copy;
	c->container_no = container_no(n, w.container);
	c->container = cgroup_names_container(n, c->container_no);
	c->known = true;
}

/* Asks for c's path: the live tree first, then the record of removed cgroups. */
static void resolve(struct cgroup_names *n, struct cgroup_name *c)
{
	char gone[CGROUP_DIR_PATH_LEN];
	const char *p = n->paths ? cgroup_paths_lookup(n->paths, c->id) : NULL;

	c->tried = n->now();
	if (p) {
		name_set(n, c, p);
		return;
	}
	if (n->gone && n->gone(n->gone_ctx, c->id, gone, sizeof(gone)) == 0) {
		gone[sizeof(gone) - 1] = '\0';
		name_set(n, c, gone);
	}
}

const struct cgroup_name *cgroup_names_get(struct cgroup_names *n, __u64 id)
{
	struct name_slot *s = hashtab_get(&n->byid, &id);
	struct cgroup_name *c;

	if (!s)
		return NULL;
	if (!s->name) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return NULL;	/* the empty slot is filled on the next call */
		c->id = id;
		c->path = c->container = "";
		s->name = c;
		resolve(n, c);
	} else if (!s->name->known && n->now() - s->name->tried >= 1) {
		resolve(n, s->name);
	}
	return s->name;
}

const char *cgroup_names_container(const struct cgroup_names *n, unsigned no)
{
	return no && no <= n->ncontainers ? n->containers[no - 1] : "";
}
