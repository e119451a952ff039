/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: cgroup ids as paths (cgroup_path.c), without root or a cgroup
 * file system: a temporary directory tree stands in for the cgroup2 mount,
 * and its directories' inode numbers for cgroup ids, as they are on
 * cgroup2. The tree is only ever changed by mkdir before init, rmdir and
 * rename, so no inode number is reused during a test (ext4 would reuse a
 * freed one for the next mkdir; the kernel never reuses a cgroup id).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "cgroup_path.h"

static time_t fake_time = 1000;

static time_t fake_now(void)
{
	return fake_time;
}

/* The temporary root, and paths below it. */
static char root[64];

static const char *at(const char *rel)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s%s", root, rel);
	return buf[i];
}

static __u64 id_of(const char *rel)
{
	struct stat st;

	assert_int_equal(stat(at(rel), &st), 0);
	return (__u64)st.st_ino;
}

/*
 * root/                       "/"
 *   system.slice/             "/system.slice"
 *     nginx.service/          "/system.slice/nginx.service"
 *   user.slice/
 *   link -> system.slice      a symlink: not followed
 *   cgroup.procs              a file: skipped
 * root.outside/spare/         moved into the tree by tests that need a new one
 */
static int make_tree(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/bccflow-cgtest.XXXXXX");
	assert_non_null(mkdtemp(root));
	assert_int_equal(mkdir(at("/system.slice"), 0755), 0);
	assert_int_equal(mkdir(at("/system.slice/nginx.service"), 0755), 0);
	assert_int_equal(mkdir(at("/user.slice"), 0755), 0);
	assert_int_equal(symlink("system.slice", at("/link")), 0);
	fclose(fopen(at("/cgroup.procs"), "w"));
	assert_int_equal(mkdir(at(".outside"), 0755), 0);
	assert_int_equal(mkdir(at(".outside/spare"), 0755), 0);
	fake_time = 1000;
	return 0;
}

static int remove_tree(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s.outside'", root, root);
	return system(cmd) == 0 ? 0 : -1;
}

static void init_paths(struct cgroup_paths *cp, size_t max_entries, int max_depth)
{
	struct cgroup_paths_conf conf = {
		.rescan_secs = 5, .max_entries = max_entries, .max_depth = max_depth,
		.now = fake_now,
	};
	char err[256] = "";

	assert_int_equal(cgroup_paths_init(cp, root, &conf, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_string_equal(cp->err, "");
	assert_int_equal(cp->walks, 1);
	assert_false(cp->handles);	/* not cgroup2: misses walk */
}

static void test_root_and_nested_paths(void **state)
{
	struct cgroup_paths cp;

	(void)state;
	init_paths(&cp, 0, 0);
	assert_string_equal(cgroup_paths_lookup(&cp, id_of("")), "/");
	assert_string_equal(cgroup_paths_lookup(&cp, id_of("/system.slice")), "/system.slice");
	assert_string_equal(cgroup_paths_lookup(&cp, id_of("/system.slice/nginx.service")),
			    "/system.slice/nginx.service");
	assert_string_equal(cgroup_paths_lookup(&cp, id_of("/user.slice")), "/user.slice");
	/* root, two slices, one service: the symlink and the file are not entries */
	assert_int_equal(cp.t.count, 4);
	cgroup_paths_free(&cp);
}

static void test_cache_hits_walk_no_more(void **state)
{
	struct cgroup_paths cp;

	(void)state;
	init_paths(&cp, 0, 0);
	for (int i = 0; i < 3; i++) {
		fake_time += 60;	/* long past the rate limit: hits still do not walk */
		assert_string_equal(cgroup_paths_lookup(&cp, id_of("/system.slice")),
				    "/system.slice");
	}
	assert_int_equal(cp.walks, 1);
	cgroup_paths_free(&cp);
}

static void test_unknown_id_is_null(void **state)
{
	struct cgroup_paths cp;
	const __u64 unknown = 0xfeedfacecafe;

	(void)state;
	init_paths(&cp, 0, 0);
	assert_null(cgroup_paths_lookup(&cp, unknown));
	assert_int_equal(cp.walks, 1);	/* init walked just now */
	fake_time += 5;
	assert_null(cgroup_paths_lookup(&cp, unknown));
	assert_int_equal(cp.walks, 2);
	assert_null(cgroup_paths_lookup(&cp, unknown));
	assert_int_equal(cp.walks, 2);	/* a stream of misses: one walk per period */
	cgroup_paths_free(&cp);
}

static void test_new_cgroup_found_after_rate_limit(void **state)
{
	struct cgroup_paths cp;
	__u64 id;

	(void)state;
	init_paths(&cp, 0, 0);
	assert_int_equal(rename(at(".outside/spare"), at("/system.slice/app.service")), 0);
	id = id_of("/system.slice/app.service");
	assert_null(cgroup_paths_lookup(&cp, id));
	fake_time += 4;
	assert_null(cgroup_paths_lookup(&cp, id));
	assert_int_equal(cp.walks, 1);
	fake_time += 1;
	assert_string_equal(cgroup_paths_lookup(&cp, id), "/system.slice/app.service");
	assert_int_equal(cp.walks, 2);
	cgroup_paths_free(&cp);
}

static void test_removed_cgroup_keeps_its_path(void **state)
{
	struct cgroup_paths cp;
	__u64 id = id_of("/system.slice/nginx.service");

	(void)state;
	init_paths(&cp, 0, 0);
	assert_int_equal(rmdir(at("/system.slice/nginx.service")), 0);
	fake_time += 5;
	assert_null(cgroup_paths_lookup(&cp, 0xfeedfacecafe));	/* makes a walk */
	assert_int_equal(cp.walks, 2);
	assert_string_equal(cgroup_paths_lookup(&cp, id), "/system.slice/nginx.service");
	cgroup_paths_free(&cp);
}

static void test_renamed_cgroup_gets_its_new_path(void **state)
{
	struct cgroup_paths cp;
	__u64 id = id_of("/user.slice");

	(void)state;
	init_paths(&cp, 0, 0);
	assert_int_equal(rename(at("/user.slice"), at("/machine.slice")), 0);
	fake_time += 5;
	assert_null(cgroup_paths_lookup(&cp, 0xfeedfacecafe));
	assert_string_equal(cgroup_paths_lookup(&cp, id), "/machine.slice");
	cgroup_paths_free(&cp);
}

/* Over the bound, the cgroups gone longest are forgotten first; live ones never. */
static void test_bound_forgets_gone_longest_first(void **state)
{
	struct cgroup_paths cp;
	__u64 user = id_of("/user.slice"), nginx = id_of("/system.slice/nginx.service");

	(void)state;
	init_paths(&cp, 4, 0);
	assert_int_equal(rmdir(at("/user.slice")), 0);		/* last seen by walk 1 */
	fake_time += 5;
	assert_null(cgroup_paths_lookup(&cp, 0xfeedfacecafe));
	assert_int_equal(rmdir(at("/system.slice/nginx.service")), 0);	/* by walk 2 */
	fake_time += 5;
	assert_null(cgroup_paths_lookup(&cp, 0xfeedfacecafe));
	assert_int_equal(cp.t.count, 4);	/* at the bound: both kept */
	assert_string_equal(cgroup_paths_lookup(&cp, user), "/user.slice");
	assert_int_equal(rename(at(".outside/spare"), at("/new.slice")), 0);
	fake_time += 5;
	assert_string_equal(cgroup_paths_lookup(&cp, id_of("/new.slice")), "/new.slice");
	assert_int_equal(cp.walks, 4);
	assert_int_equal(cp.t.count, 4);
	assert_null(cgroup_paths_lookup(&cp, user));
	assert_string_equal(cgroup_paths_lookup(&cp, nginx), "/system.slice/nginx.service");
	cgroup_paths_free(&cp);
}

static void test_live_cgroups_exceed_the_bound(void **state)
{
	struct cgroup_paths cp;

	(void)state;
	init_paths(&cp, 2, 0);
	assert_int_equal(cp.t.count, 4);
	assert_string_equal(cgroup_paths_lookup(&cp, id_of("/user.slice")), "/user.slice");
	cgroup_paths_free(&cp);
}

static void test_depth_is_bounded(void **state)
{
	struct cgroup_paths cp;

	(void)state;
	init_paths(&cp, 0, 1);
	assert_string_equal(cgroup_paths_lookup(&cp, id_of("/system.slice")), "/system.slice");
	assert_null(cgroup_paths_lookup(&cp, id_of("/system.slice/nginx.service")));
	cgroup_paths_free(&cp);
	init_paths(&cp, 0, 2);
	assert_string_equal(cgroup_paths_lookup(&cp, id_of("/system.slice/nginx.service")),
			    "/system.slice/nginx.service");
	cgroup_paths_free(&cp);
}

static void test_missing_root_fails_with_a_message(void **state)
{
	struct cgroup_paths cp;
	char err[256] = "";

	(void)state;
	assert_int_equal(cgroup_paths_init(&cp, at("/nonexistent"), NULL, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "cannot open cgroup root "));
	assert_non_null(strstr(err, "/nonexistent: No such file or directory"));
}

/* A mountinfo file with text, and what cgroup2_mount_find() makes of it. */
static int find_in(const char *text, char *dir, size_t len, char *err, size_t errlen)
{
	FILE *f = fopen(at("/mountinfo"), "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return cgroup2_mount_find(at("/mountinfo"), dir, len, err, errlen);
}

/* Debian 11/12 with systemd.unified_cgroup_hierarchy=0 (this project's host) */
static const char hybrid[] =
	"25 31 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
	"31 23 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - "
	"cgroup2 cgroup2 rw,nsdelegate\n"
	"33 31 0:30 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - "
	"cgroup cgroup rw,xattr,name=systemd\n"
	"36 31 0:33 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - "
	"cgroup cgroup rw,memory\n";

/* Debian 11 and later, Fedora 31 and later: the unified hierarchy only */
static const char pure_v2[] =
	"22 27 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
	"26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 "
	"cgroup2 rw,nsdelegate,memory_recursiveprot\n";

/* cgroup v1 only (CentOS 7): no cgroup2 at all */
static const char v1_only[] =
	"24 19 0:20 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755\n"
	"25 24 0:21 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:9 - "
	"cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,"
	"name=systemd\n";

static void test_mountinfo_hybrid_and_pure_v2(void **state)
{
	char dir[256], err[256];

	(void)state;
	assert_int_equal(find_in(hybrid, dir, sizeof(dir), err, sizeof(err)), 0);
	assert_string_equal(dir, "/sys/fs/cgroup/unified");
	assert_int_equal(find_in(pure_v2, dir, sizeof(dir), err, sizeof(err)), 0);
	assert_string_equal(dir, "/sys/fs/cgroup");
}

static void test_mountinfo_without_cgroup2(void **state)
{
	char dir[256] = "", err[256] = "";

	(void)state;
	assert_int_equal(find_in(v1_only, dir, sizeof(dir), err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no cgroup2 file system in "));
	assert_string_equal(dir, "");
	assert_int_equal(find_in("", dir, sizeof(dir), err, sizeof(err)), -ENOENT);
}

static void test_mountinfo_prefers_the_usual_place(void **state)
{
	/* a chroot's mount listed before the host's, as on this project's host */
	static const char text[] =
		"65 64 0:38 / /var/tmp/trixie/sys/fs/cgroup/unified rw,relatime - cgroup2 "
		"cgroup2 rw\n"
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
	char dir[256], err[256];

	(void)state;
	assert_int_equal(find_in(text, dir, sizeof(dir), err, sizeof(err)), 0);
	assert_string_equal(dir, "/sys/fs/cgroup/unified");
}

static void test_mountinfo_escapes_and_fields(void **state)
{
	/* no optional fields; a space in the mount point is written \040 */
	static const char text[] =
		"90 1 0:50 / /mnt/my\\040cgroups rw - cgroup2 none rw\n";
	char dir[256], err[256];

	(void)state;
	assert_int_equal(find_in(text, dir, sizeof(dir), err, sizeof(err)), 0);
	assert_string_equal(dir, "/mnt/my cgroups");
}

static void test_mountinfo_unreadable(void **state)
{
	char dir[256], err[256] = "";

	(void)state;
	assert_int_equal(cgroup2_mount_find(at("/nonexistent"), dir, sizeof(dir), err,
					    sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot read "));
	assert_non_null(strstr(err, "No such file or directory"));
}

/*
 * The kernel's answer on a real cgroup2 mount: only as root (the cgroup
 * made here, and CAP_DAC_READ_SEARCH), skipped elsewhere.
 */
static char real_dirs[3][512];

static int remove_real(void **state)
{
	(void)state;
	for (int i = 2; i >= 0; i--)
		if (real_dirs[i][0])
			rmdir(real_dirs[i]);
	return 0;
}

/* real_dirs[i]: a cgroup made in the test's own, real_dirs[0] */
static __u64 make_real(int i, const char *name)
{
	char parent[sizeof(real_dirs[0])];
	struct stat st;
	int n;

	memcpy(parent, real_dirs[0], sizeof(parent));
	n = snprintf(real_dirs[i], sizeof(real_dirs[i]), "%s/%s", parent, name);
	assert_true(n > 0 && n < (int)sizeof(real_dirs[i]));
	assert_int_equal(mkdir(real_dirs[i], 0755), 0);
	assert_int_equal(stat(real_dirs[i], &st), 0);
	return (__u64)st.st_ino;
}

/* Makes real_dirs[0], a cgroup of the test's own: false when it cannot. */
static bool make_real_base(char *mnt, size_t len, char *name, size_t namelen)
{
	char err[512];

	memset(real_dirs, 0, sizeof(real_dirs));
	if (geteuid() != 0 || cgroup2_mount_find("/proc/self/mountinfo", mnt, len, err,
						 sizeof(err)))
		return false;
	snprintf(name, namelen, "bccflow-unit-%d", (int)getpid());
	snprintf(real_dirs[0], sizeof(real_dirs[0]), "%s/%s", mnt, name);
	if (mkdir(real_dirs[0], 0755)) {	/* read-only, or delegated elsewhere */
		real_dirs[0][0] = '\0';
		return false;
	}
	return true;
}

static void test_real_cgroup2_asks_the_kernel(void **state)
{
	struct cgroup_paths_conf conf = { .rescan_secs = 5, .now = fake_now };
	char mnt[256], err[512], name[32], want[256];
	struct cgroup_paths cp;
	__u64 id, gone;

	(void)state;
	if (!make_real_base(mnt, sizeof(mnt), name, sizeof(name)))
		skip();
	assert_int_equal(cgroup_paths_init(&cp, mnt, &conf, err, sizeof(err)), 0);
	assert_true(cp.handles);
	/* made after the walk, found at once: no walk was due */
	id = make_real(1, "docker-0123456789abcdef0123456789abcdef"
		       "0123456789abcdef0123456789abcdef.scope");
	snprintf(want, sizeof(want), "/%s/docker-0123456789abcdef0123456789abcdef"
		 "0123456789abcdef0123456789abcdef.scope", name);
	assert_string_equal(cgroup_paths_lookup(&cp, id), want);
	assert_int_equal(cp.walks, 1);
	/* removed: the path stays */
	assert_int_equal(rmdir(real_dirs[1]), 0);
	assert_string_equal(cgroup_paths_lookup(&cp, id), want);
	/* made and removed before anyone asked: "gone" is final, no walk */
	gone = make_real(2, "short-lived");
	assert_int_equal(rmdir(real_dirs[2]), 0);
	fake_time += 60;
	assert_null(cgroup_paths_lookup(&cp, gone));
	assert_int_equal(cp.walks, 1);
	cgroup_paths_free(&cp);
}

/* Past the bound, a kernel answer walks too, which forgets the gone. */
static void test_real_cgroup2_bound(void **state)
{
	struct cgroup_paths_conf conf = { .rescan_secs = 5, .now = fake_now };
	char mnt[256], err[512], name[32];
	struct cgroup_paths cp;
	__u64 a, b;

	(void)state;
	if (!make_real_base(mnt, sizeof(mnt), name, sizeof(name)))
		skip();
	assert_int_equal(cgroup_paths_init(&cp, mnt, &conf, err, sizeof(err)), 0);
	assert_true(cp.handles);
	cp.conf.max_entries = cp.t.count + 1;
	a = make_real(1, "a.scope");
	assert_non_null(cgroup_paths_lookup(&cp, a));
	assert_int_equal(rmdir(real_dirs[1]), 0);
	b = make_real(2, "b.scope");
	assert_non_null(cgroup_paths_lookup(&cp, b));	/* over, but no walk due */
	assert_int_equal(cp.walks, 1);
	assert_int_equal(cp.t.count, cp.conf.max_entries + 1);
	fake_time += 5;
	assert_int_equal(rmdir(real_dirs[2]), 0);
	real_dirs[2][0] = '\0';
	b = make_real(2, "c.scope");
	assert_non_null(cgroup_paths_lookup(&cp, b));
	assert_int_equal(cp.walks, 2);
	/*
	 * a.scope and b.scope were gone at that walk: both forgotten (a tie).
	 * No count is checked: other tests may make cgroups on this host.
	 */
	assert_null(cgroup_paths_lookup(&cp, a));
	assert_string_equal(cp.err, "");
	cgroup_paths_free(&cp);
}

#define T(f) cmocka_unit_test_setup_teardown(f, make_tree, remove_tree)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_root_and_nested_paths),
		T(test_cache_hits_walk_no_more),
		T(test_unknown_id_is_null),
		T(test_new_cgroup_found_after_rate_limit),
		T(test_removed_cgroup_keeps_its_path),
		T(test_renamed_cgroup_gets_its_new_path),
		T(test_bound_forgets_gone_longest_first),
		T(test_live_cgroups_exceed_the_bound),
		T(test_depth_is_bounded),
		T(test_missing_root_fails_with_a_message),
		T(test_mountinfo_hybrid_and_pure_v2),
		T(test_mountinfo_without_cgroup2),
		T(test_mountinfo_prefers_the_usual_place),
		T(test_mountinfo_escapes_and_fields),
		T(test_mountinfo_unreadable),
		cmocka_unit_test_teardown(test_real_cgroup2_asks_the_kernel, remove_real),
		cmocka_unit_test_teardown(test_real_cgroup2_bound, remove_real),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
