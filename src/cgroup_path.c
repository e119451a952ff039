/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "cgroup_path.h"

struct cgroup_path_entry {
	__u64 id;
	bool used;		/* its slot is taken (struct hashtab) */
	unsigned long walk;	/* the last walk that saw the directory */
	char *path;
};

static const struct hashtab_spec path_spec = {
	.size = sizeof(struct cgroup_path_entry),
	.key_off = offsetof(struct cgroup_path_entry, id),
	.key_size = sizeof(__u64),
	.used_off = offsetof(struct cgroup_path_entry, used),
	.hash = hashtab_hash_u64,	/* ids differ mostly in their low bits */
};

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/*
 * The mount point of a mountinfo line if its file system type is cgroup2,
 * else NULL. Fields: id parent major:minor root mountpoint options
 * [optional fields...] - fstype source superoptions (proc(5)).
 */
static char *cgroup2_point(char *line)
{
	char *save, *f, *point = NULL;
	int i = 0;

	for (f = strtok_r(line, " \n", &save); f; f = strtok_r(NULL, " \n", &save), i++) {
		if (i == 4)
			point = f;
		else if (i > 5 && strcmp(f, "-") == 0)
			break;
	}
	f = strtok_r(NULL, " \n", &save);
	if (!point || !f || strcmp(f, "cgroup2") != 0)
		return NULL;
	unescape(point);
	return point;
}

static bool preferred(const char *point)
{
	return strcmp(point, "/sys/fs/cgroup") == 0 ||
	       strcmp(point, "/sys/fs/cgroup/unified") == 0;
}

int cgroup2_mount_find(const char *mountinfo, char *dir, size_t len, char *err,
		       size_t errlen)
{
	FILE *f = fopen(mountinfo, "re");
	char *line = NULL, *point;
	size_t cap = 0;
	bool found = false;

	if (!f) {
		int e = errno;

		snprintf(err, errlen, "cannot read %s: %s", mountinfo, strerror(e));
		return -e;
	}
	while (getline(&line, &cap, f) > 0) {
		point = cgroup2_point(line);
		if (!point || (found && !preferred(point)))
			continue;
		found = true;
		snprintf(dir, len, "%s", point);
		if (preferred(point))
			break;
	}
	free(line);
	fclose(f);
	if (!found) {
		snprintf(err, errlen, "no cgroup2 file system in %s: cgroup v2 is not "
			 "mounted", mountinfo);
		return -ENOENT;
	}
	return 0;
}

static time_t monotonic_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* One walk of the tree: the path so far and where it is. */
struct walk {
	struct cgroup_paths *cp;
	dev_t dev;		/* the root's: the walk stays on it */
	size_t len;		/* of path: "" at the root, then "/a", "/a/b" */
	char path[4096];
};

/*
 * Keeps only the walk's first error: one line is what a caller prints.
 * Paths are cut at 200 bytes each, which still names the cgroup.
 */
static void note(struct walk *w, int e, const char *what)
{
	if (!w->cp->err[0])
		snprintf(w->cp->err, sizeof(w->cp->err), "cannot read cgroup %.200s%.200s: %s",
			 w->cp->root, what, strerror(e));
}

static void remember(struct walk *w, __u64 id, const char *path)
{
	struct cgroup_path_entry *e = hashtab_get(&w->cp->t, &id);
	char *copy;

	if (!e) {
		note(w, ENOMEM, path);
		return;
	}
	e->walk = w->cp->walks;
	if (e->path && strcmp(e->path, path) == 0)
		return;
	copy = strdup(path);	/* new, or renamed (cgroup2 allows it within a parent) */
	if (!copy) {
		note(w, ENOMEM, path);
		return;
	}
	free(e->path);
	e->path = copy;
}

static void walk_dir(struct walk *w, int fd, int depth);

/* name, a directory entry of parent at level depth, and what is below it. */
static void visit(struct walk *w, int parent, const char *name, int depth)
{
	size_t len = w->len, n = strlen(name);
	struct stat st;
	int fd;

	if (len + 1 + n >= sizeof(w->path)) {
		note(w, ENAMETOOLONG, w->path);
		return;
	}
	w->path[len] = '/';
	memcpy(w->path + len + 1, name, n + 1);
	w->len = len + 1 + n;
	/* O_NOFOLLOW: a symlink fails with ELOOP and is skipped, like files */
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		/* ENOENT: removed during the walk, which is no error */
		if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
			note(w, errno, w->path);
	} else if (fstat(fd, &st) || st.st_dev != w->dev) {
		close(fd);
	} else {
		remember(w, (__u64)st.st_ino, w->path);
		if (depth < w->cp->conf.max_depth)
			walk_dir(w, fd, depth);
		else
			close(fd);
	}
	w->len = len;
	w->path[len] = '\0';
}

/* Visits fd's subdirectories; fd is closed. depth: fd's level below the root. */
static void walk_dir(struct walk *w, int fd, int depth)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;

	if (!d) {
		note(w, errno, w->path);
		close(fd);
		return;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		/* cgroup2 says DT_DIR; DT_UNKNOWN is opened to find out */
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		visit(w, dirfd(d), de->d_name, depth + 1);
	}
	if (errno)
		note(w, errno, w->path);
	closedir(d);
}

static int cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return (x > y) - (x < y);
}

static bool has_path(const void *e, void *arg)
{
	(void)arg;
	return ((const struct cgroup_path_entry *)e)->path != NULL;
}

/*
 * Back to max_entries when over: forgets the paths of the cgroups gone
 * longest (ties go together), never a live one (seen by this walk).
 */
static void trim(struct cgroup_paths *cp)
{
	struct cgroup_path_entry *e;
	unsigned long *gone, cut;
	size_t over, n = 0, pos = 0;

	if (cp->t.count <= cp->conf.max_entries)
		return;
	over = cp->t.count - cp->conf.max_entries;
	gone = malloc(cp->t.count * sizeof(*gone));
	if (!gone)
		return;		/* stays over the bound until a walk has memory */
	while ((e = hashtab_next(&cp->t, &pos)))
		if (e->walk != cp->walks)
			gone[n++] = e->walk;
	if (n) {
		qsort(gone, n, sizeof(*gone), cmp_ulong);
		cut = gone[(over < n ? over : n) - 1];
		for (pos = 0; (e = hashtab_next(&cp->t, &pos));)
			if (e->walk <= cut) {
				free(e->path);
				e->path = NULL;
			}
		/* out of memory, the emptied entries stay: unknown ids until the next walk */
		hashtab_compact(&cp->t, has_path, NULL);
	}
	free(gone);
}

/* A walk from the root. 0, or -errno when the root cannot be opened. */
static int walk(struct cgroup_paths *cp)
{
	struct walk *w = malloc(sizeof(*w));
	struct stat st;
	int fd, e;

	cp->err[0] = '\0';
	cp->last_walk = cp->conf.now();
	if (!w)
		return -ENOMEM;
	fd = open(cp->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		e = errno;
		snprintf(cp->err, sizeof(cp->err), "cannot open cgroup root %s: %s",
			 cp->root, strerror(e));
		if (fd >= 0)
			close(fd);
		free(w);
		return -e;
	}
	cp->walks++;
	*w = (struct walk){ .cp = cp, .dev = st.st_dev };
	remember(w, (__u64)st.st_ino, "/");
	walk_dir(w, fd, 0);
	free(w);
	trim(cp);
	return 0;
}

/*
 * Asking the kernel needs a cgroup2 mount (handles of other file systems
 * are not ids) and the name the kernel gives the root, to cut it off the
 * names it gives cgroups. Without them, misses walk.
 */
static void open_handles(struct cgroup_paths *cp)
{
	struct statfs sf;

	if (statfs(cp->root, &sf) || sf.f_type != CGROUP2_SUPER_MAGIC)
		return;
	cp->root_name = realpath(cp->root, NULL);
	cp->mount_fd = open(cp->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cp->handles = cp->root_name && cp->mount_fd >= 0;
}

int cgroup_paths_init(struct cgroup_paths *cp, const char *root,
		      const struct cgroup_paths_conf *conf, char *err, size_t errlen)
{
	int e;

	memset(cp, 0, sizeof(*cp));
	if (conf)
		cp->conf = *conf;
	if (!cp->conf.rescan_secs)
		cp->conf.rescan_secs = CGROUP_PATHS_RESCAN_SECS;
	if (!cp->conf.max_entries)
		cp->conf.max_entries = CGROUP_PATHS_MAX;
	if (!cp->conf.max_depth)
		cp->conf.max_depth = CGROUP_PATHS_DEPTH;
	if (!cp->conf.now)
		cp->conf.now = monotonic_now;
	cp->mount_fd = -1;
	cp->root = strdup(root);
	e = cp->root ? hashtab_init(&cp->t, &path_spec, 64) : -ENOMEM;
	if (!e)
		e = walk(cp);
	if (!e && !cp->conf.no_handles)
		open_handles(cp);
	if (e) {
		snprintf(err, errlen, "%s", cp->err[0] ? cp->err : strerror(-e));
		cgroup_paths_free(cp);
	}
	return e;
}

/* FILEID_KERNFS (include/linux/exportfs.h): a handle that is the node id */
#define KERNFS_HANDLE_TYPE 0xfe

/*
 * The path of cgroup id asked of the kernel: open_by_handle_at() on the
 * mount with the id as a kernfs file handle, then the name of what was
 * opened. 0 and the path relative to the root in rel, or -errno.
 */
static int by_handle(struct cgroup_paths *cp, __u64 id, char *buf, size_t len,
		     const char **rel)
{
	union {
		struct file_handle fh;
		unsigned char room[sizeof(struct file_handle) + sizeof(__u64)];
	} h = { .fh = { .handle_bytes = sizeof(__u64), .handle_type = KERNFS_HANDLE_TYPE } };
	size_t n = strlen(cp->root_name);
	char link[32];
	ssize_t got;
	int fd;

	memcpy(h.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(cp->mount_fd, &h.fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	got = readlink(link, buf, len - 1);
	close(fd);
	if (got < 0)
		return -errno;
	buf[got] = '\0';
	if (strcmp(cp->root_name, "/") == 0)	/* a root mounted at / */
		n = 0;
	/* outside the root as we name it (another mount namespace?), or removed */
	if (strncmp(buf, cp->root_name, n) != 0 || (buf[n] && buf[n] != '/') ||
	    strstr(buf + n, " (deleted)"))
		return -ESTALE;
	*rel = buf[n] ? buf + n : "/";
	return 0;
}

/* A miss asked of the kernel: true when it answered, found or gone. */
static bool ask_kernel(struct cgroup_paths *cp, __u64 id)
{
	struct walk w = { .cp = cp };
	const char *rel = NULL;
	int e = by_handle(cp, id, w.path, sizeof(w.path), &rel);

	if (e == -ESTALE || e == -ENOENT)
		return true;	/* gone before it was first asked for: no walk finds it */
	if (e == -EPERM || e == -EOPNOTSUPP || e == -EINVAL || e == -ENOSYS)
		cp->handles = false;	/* no CAP_DAC_READ_SEARCH, or no such handles */
	if (e)
		return false;
	remember(&w, id, rel);
	return true;
}

static bool walk_due(const struct cgroup_paths *cp)
{
	return cp->conf.now() - cp->last_walk >= (time_t)cp->conf.rescan_secs;
}

const char *cgroup_paths_lookup(struct cgroup_paths *cp, __u64 id)
{
	const struct cgroup_path_entry *e = hashtab_find(&cp->t, &id);

	if (e)
		return e->path;
	/* a new cgroup: a few us asked of the kernel, a walk 7-20 us per cgroup */
	if (cp->handles && ask_kernel(cp, id)) {
		/* past the bound, only a walk tells the gone from the live */
		if (cp->t.count > cp->conf.max_entries && walk_due(cp))
			walk(cp);
		goto found;
	}
	/* walk again, unless a walk was made just now */
	if (!walk_due(cp) || walk(cp))
		return NULL;	/* or the root has gone: what is known stays */
found:
	e = hashtab_find(&cp->t, &id);
	return e ? e->path : NULL;
}

void cgroup_paths_free(struct cgroup_paths *cp)
{
	struct cgroup_path_entry *e;
	size_t pos = 0;

	if (cp->t.slots)
		while ((e = hashtab_next(&cp->t, &pos)))
			free(e->path);
	hashtab_free(&cp->t);
	free(cp->root);
	free(cp->root_name);
	if (cp->mount_fd >= 0)
		close(cp->mount_fd);
	cp->root = cp->root_name = NULL;
	cp->mount_fd = -1;
	cp->handles = false;
}
