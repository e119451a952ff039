/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: cgroup ids as names (cgroup_names.c) over a real temporary
 * tree walked by cgroup_path.c (no cgroup2 needed: the walk works on any
 * directory, ids are inode numbers) and a fake record of removed cgroups.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cgroup_names.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static time_t clock_now;

static time_t fake_now(void)
{
	return clock_now;
}

/* The fake kernel record: one removed cgroup, counted when asked. */
struct gone_record {
	__u64 id;
	const char *path;
	int asked;
};

static int fake_gone(void *ctx, __u64 id, char *path, size_t len)
{
	struct gone_record *g = ctx;

	g->asked++;
	if (!g->path || id != g->id)
		return -ENOENT;
	snprintf(path, len, "%s", g->path);
	return 0;
}

static __u64 ino(const char *dir)
{
	struct stat st;

	assert_int_equal(stat(dir, &st), 0);
	return st.st_ino;
}

static void test_live_gone_and_unknown(void **state)
{
	char root[] = "/tmp/bccflow-names-XXXXXX", a[128], b[128];
	struct cgroup_paths_conf conf = { .now = fake_now, .no_handles = true };
	struct gone_record rec = { .id = 999999999, .path = "/x.slice/gone.service" };
	struct cgroup_paths cp;
	struct cgroup_names n;
	const struct cgroup_name *na, *nb, *ng, *nu, *again;
	char err[512];

	(void)state;
	clock_now = 100;
	assert_non_null(mkdtemp(root));
	snprintf(a, sizeof(a), "%s/docker-" ID ".scope", root);
	snprintf(b, sizeof(b), "%s/sys.slice", root);
	assert_int_equal(mkdir(a, 0700), 0);
	assert_int_equal(mkdir(b, 0700), 0);
	assert_int_equal(cgroup_paths_init(&cp, root, &conf, err, sizeof(err)), 0);
	assert_int_equal(cgroup_names_init(&n, &cp, fake_gone, &rec, fake_now), 0);

	na = cgroup_names_get(&n, ino(a));
	assert_string_equal(na->path, "/docker-" ID ".scope");
	assert_string_equal(na->container, "0123456789ab");
	assert_int_equal(na->container_no, 1);
	assert_true(na->known);
	nb = cgroup_names_get(&n, ino(b));
	assert_string_equal(nb->path, "/sys.slice");
	assert_string_equal(nb->container, "");	/* a slice is no workload */
	assert_int_equal(nb->container_no, 0);
	/* the tree does not know it; the record of removed cgroups does */
	ng = cgroup_names_get(&n, rec.id);
	assert_string_equal(ng->path, "/x.slice/gone.service");
	assert_string_equal(ng->container, "gone.service");
	assert_int_equal(ng->container_no, 2);
	assert_string_equal(cgroup_names_container(&n, 2), "gone.service");
	assert_string_equal(cgroup_names_container(&n, 0), "");
	assert_string_equal(cgroup_names_container(&n, 3), "");

	/* unknown everywhere: "" now, asked again only once a second passes */
	nu = cgroup_names_get(&n, 12345);
	assert_false(nu->known);
	assert_string_equal(nu->path, "");
	rec.asked = 0;
	again = cgroup_names_get(&n, 12345);
	assert_ptr_equal(again, nu);
	assert_int_equal(rec.asked, 0);
	clock_now += 1;
	rec.id = 12345;
	rec.path = "/late.scope";
	again = cgroup_names_get(&n, 12345);
	assert_ptr_equal(again, nu);	/* updated in place: flows keep their pointer */
	assert_int_equal(rec.asked, 1);
	assert_string_equal(nu->path, "/late.scope");
	assert_string_equal(nu->container, "late.scope");

	/* known names are never asked for again, and stay when the tree loses them */
	rec.asked = 0;
	assert_int_equal(rmdir(a), 0);
	clock_now += 10;
	assert_ptr_equal(cgroup_names_get(&n, ino(b)), nb);
	assert_string_equal(na->path, "/docker-" ID ".scope");
	assert_int_equal(rec.asked, 0);

	cgroup_names_free(&n);
	cgroup_paths_free(&cp);
	assert_int_equal(rmdir(b), 0);
	assert_int_equal(rmdir(root), 0);
}

static void test_same_container_one_number(void **state)
{
	struct gone_record rec = { 0 };
	struct cgroup_names n;
	const struct cgroup_name *x, *y;

	(void)state;
	clock_now = 0;
	assert_int_equal(cgroup_names_init(&n, NULL, fake_gone, &rec, fake_now), 0);
	/* two cgroups of one container (podman's "container" subgroup): one number */
	rec.id = 1;
	rec.path = "/machine.slice/libpod-" ID ".scope";
	x = cgroup_names_get(&n, 1);
	rec.id = 2;
	rec.path = "/machine.slice/libpod-" ID ".scope/container";
	y = cgroup_names_get(&n, 2);
	assert_int_equal(x->container_no, 1);
	assert_int_equal(y->container_no, 1);
	assert_ptr_equal(x->container, y->container);
	/* many distinct names: numbers stay dense and names stay put */
	for (__u64 i = 0; i < 1000; i++) {
		char p[64];

		snprintf(p, sizeof(p), "/s.slice/u%llu.service", (unsigned long long)i);
		rec.id = 100 + i;
		rec.path = p;
		assert_int_equal(cgroup_names_get(&n, rec.id)->container_no, 2 + i);
	}
	assert_string_equal(cgroup_names_container(&n, 2 + 999), "u999.service");
	assert_string_equal(x->container, "0123456789ab");
	/* no tree, no record: every path unknown */
	rec.path = NULL;
	assert_false(cgroup_names_get(&n, 5)->known);
	cgroup_names_free(&n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_gone_and_unknown),
		cmocka_unit_test(test_same_container_one_number),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
