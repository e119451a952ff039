/* SPDX-License-Identifier: MIT */
/*
 * Where cgroup ids become names: each cgroup id a flow carries gets its
 * path relative to the cgroup2 root (cgroup_path.c, or the kernel's record
 * of a cgroup removed meanwhile) and its workload (workload.c), resolved
 * once and kept until exit, so a cgroup that has gone keeps its last path.
 * Each distinct container name also gets a number, 1, 2, ...: the group
 * key of --by container.
 */
#ifndef BCCFLOW_CGROUP_NAMES_H
#define BCCFLOW_CGROUP_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <linux/types.h>

#include "cgroup_path.h"
#include "hashtab.h"

struct cgroup_name {
	__u64 id;
	const char *path;	/* "/system.slice/nginx.service"; "" while unknown */
	const char *container;	/* short container id or unit name; "" for none */
	unsigned container_no;	/* 1, 2, ... per distinct container; 0 for "" */
	bool known;		/* path found: never asked again */
	time_t tried;		/* when an unknown path was last asked for */
};

/* The path the kernel recorded for cgroup id at mkdir or rmdir (struct cgroup_dir): 0 or -errno. */
typedef int (*cgroup_dir_fn)(void *ctx, __u64 id, char *path, size_t len);

struct cgroup_names {
	struct cgroup_paths *paths;	/* NULL: no cgroup2 mount, no paths */
	cgroup_dir_fn gone;		/* NULL: no kernel record of cgroup dirs */
	void *gone_ctx;
	time_t (*now)(void);		/* monotonic seconds; tests set their own */
	struct hashtab byid;		/* struct cgroup_name *, by id */
	struct hashtab bycontainer;	/* container numbers, by name hash */
	char **containers;		/* container_no - 1 -> name */
	size_t ncontainers, cap;
};

/* 0 or -ENOMEM. paths and gone may be NULL; now NULL: the monotonic clock. */
int cgroup_names_init(struct cgroup_names *n, struct cgroup_paths *paths, cgroup_dir_fn gone,
		      void *gone_ctx, time_t (*now)(void));
void cgroup_names_free(struct cgroup_names *n);

/*
 * The name of cgroup id, valid until cgroup_names_free(); NULL only when
 * out of memory. An unknown path is asked for again at most once a second
 * per id: the name is updated in place when it is found.
 */
const struct cgroup_name *cgroup_names_get(struct cgroup_names *n, __u64 id);

/* The container name numbered no, "" for 0 or an unknown number. */
const char *cgroup_names_container(const struct cgroup_names *n, unsigned no);

#endif
