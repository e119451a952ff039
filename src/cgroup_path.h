/* SPDX-License-Identifier: MIT */
/*
 * cgroup v2 ids as paths (groundwork for issue 13; nothing calls it yet).
 *
 * The id bpf_get_current_cgroup_id() returns is, on 64-bit kernels, the
 * kernfs node id of the cgroup's directory, which is also that directory's
 * inode number (st_ino) on the cgroup2 mount (checked on the dev VM: the
 * file handle name_to_handle_at() gives is that number). Ids are not
 * reused: the lower 32 bits are allocated cyclically and the upper half
 * counts the wraps, so an id means one cgroup for the life of the machine.
 *
 * Ids are resolved by walking the cgroup2 tree (not following symlinks,
 * not leaving the root's file system, at most max_depth levels below the
 * root) and remembering every directory seen, id -> path relative to the
 * root: "/" for the root itself, "/system.slice/nginx.service" below it.
 *
 * A lookup that misses first asks the kernel, when it can: the id is a
 * kernfs file handle, so open_by_handle_at() on the mount opens that very
 * cgroup and /proc/self/fd names it. That needs CAP_DAC_READ_SEARCH (which
 * bccflow has, as root) and a cgroup2 root. Measured on the dev VM (2
 * vCPUs, under load) with 1,012 cgroups: 3-15 us per id asked, 7-21 ms
 * per walk (7-20 us per cgroup), 0.05-0.07 us per cached id. It also
 * finds a cgroup made since the last walk at once, with no rate limit.
 * The kernel's answer "gone" (ESTALE) is final. When the kernel cannot
 * answer, the tree is walked again, at most once per rescan_secs, so a
 * stream of unknown ids costs one walk per period.
 *
 * A cgroup that has gone keeps its last path: cgroups are removed while
 * flows they made are still being reported. The table is bounded: after a
 * walk that leaves more than max_entries entries, the paths of cgroups gone
 * longest (not seen for the most walks) are forgotten first, until the
 * table is back at the bound or only live cgroups are left. Live cgroups
 * are never forgotten, so the table holds at most max(max_entries, live
 * cgroups) entries; the kernel bounds the latter (cgroup.max.descendants).
 * Ids the kernel answers for are added without a walk; once they take the
 * table past the bound, such a lookup walks too (rate limited as above),
 * since only a walk tells which cgroups have gone.
 */
#ifndef BCCFLOW_CGROUP_PATH_H
#define BCCFLOW_CGROUP_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <linux/types.h>

#include "hashtab.h"

#define CGROUP_PATHS_RESCAN_SECS 2
#define CGROUP_PATHS_MAX 16384
#define CGROUP_PATHS_DEPTH 32

/* Zero fields (or a NULL conf) take the defaults above. */
struct cgroup_paths_conf {
	unsigned rescan_secs;	/* least time between two walks caused by misses */
	size_t max_entries;	/* the bound on remembered paths, see above */
	int max_depth;		/* levels below the root that are walked */
	time_t (*now)(void);	/* seconds on a monotonic clock; tests set their own */
	bool no_handles;	/* misses only walk, never ask the kernel */
};

struct cgroup_paths {
	char *root;			/* the directory walked: the cgroup2 mount */
	char *root_name;		/* root as the kernel names it (realpath) */
	int mount_fd;			/* root, for open_by_handle_at(); -1 */
	bool handles;			/* misses ask the kernel first */
	struct cgroup_paths_conf conf;
	struct hashtab t;		/* struct cgroup_path_entry by id */
	unsigned long walks;		/* walks so far: each entry's last one is kept */
	time_t last_walk;
	/* the last walk's first error as a one-line message, "" when none */
	char err[512];
};

/*
 * The cgroup2 mount point named in a mountinfo file (normally
 * /proc/self/mountinfo), written to dir: /sys/fs/cgroup on pure v2 hosts,
 * /sys/fs/cgroup/unified on hybrid v1/v2 ones. With several cgroup2 mounts
 * (chroots, containers) one of those two places is preferred, else the
 * first. 0, -ENOENT when there is none, or another -errno; err says why.
 */
int cgroup2_mount_find(const char *mountinfo, char *dir, size_t len, char *err,
		       size_t errlen);

/*
 * Walks root (the cgroup2 mount) once. 0 or -errno with err set: root
 * cannot be opened, or no memory. Errors below the root do not fail it;
 * they are in cp->err.
 */
int cgroup_paths_init(struct cgroup_paths *cp, const char *root,
		      const struct cgroup_paths_conf *conf, char *err, size_t errlen);
/*
 * The path of cgroup id, relative to the root; NULL when the id is unknown
 * even after asking the kernel or walking (or when no walk was due yet). The string stays valid
 * until the next lookup or cgroup_paths_free(): copy it to keep it.
 */
const char *cgroup_paths_lookup(struct cgroup_paths *cp, __u64 id);
void cgroup_paths_free(struct cgroup_paths *cp);

#endif
