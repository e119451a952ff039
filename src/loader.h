/* SPDX-License-Identifier: MIT */
/* Where the probe text is compiled, loaded, attached and detached (libbcc). */
#ifndef BCCFLOW_LOADER_H
#define BCCFLOW_LOADER_H

#include <stddef.h>

#include "hook_name.h"
#include "backend.h"

#define LOADER_MAX_LINKS 32

struct kfeatures;

struct link {
	int prog_fd;
	int fd;			/* perf event or bpf link */
	struct hook hook;	/* where it is attached */
	char ev_name[160];	/* kprobe event name, for detach */
};

struct loaded {
	enum backend backend;
	int flows_fd;
	int closed_fd;
	int tuples_fd;		/* -1 when a --probe text has no tuples table */
	int socks_fd;		/* -1 when a --probe text has no socks table */
	size_t socks_slots;	/* its max_entries */
	int sock_claims_fd;	/* its slots taken; -1 without */
	int stats_fd;
	int cgroup_dirs_fd;	/* -1 without the cgroup mkdir/rmdir programs */
	int nlinks;
	struct link links[LOADER_MAX_LINKS];
};

enum loader_status {
	LOADER_OK = 0,
	LOADER_FAILED = -1,	/* this backend failed; another may work */
	LOADER_FATAL = -2,	/* no backend can work (e.g. headers mismatch) */
};

/*
 * Entries the host writes into one of the probe's maps after compiling and
 * before attaching (the filters' maps): n keys and n values, back to back.
 */
struct map_init {
	const char *map;
	const char *what;	/* for errors: "the --cgroup filter" */
	const void *keys;
	const void *values;
	size_t key_size, value_size;
	int n;
};

/*
 * Compiles text, checks the layouts it read through kernel headers against
 * BTF, writes the ninits map_inits, loads and attaches the programs of
 * backend b, keeps the map fds and frees the compiler state. On failure
 * nothing stays loaded.
 */
enum loader_status loader_open(struct loaded *l, const char *text, enum backend b,
			       const struct kfeatures *f, const struct map_init *inits, int ninits,
			       char *err, size_t errlen);
void loader_close(struct loaded *l);

/* What l is attached to, for people: from the programs, not the backend. */
void loader_describe(const struct loaded *l, char *out, size_t len);

#endif
