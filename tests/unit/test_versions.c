/* SPDX-License-Identifier: MIT */
/* Unit tests: the support range check (versions.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "versions.h"

static void test_cmp(void **state)
{
	(void)state;
	assert_true(version_cmp("0.26", "0.26.0") == 0);
	assert_true(version_cmp("0.26", "0.31.0") < 0);
	assert_true(version_cmp("0.9", "0.26") < 0);	/* numbers, not text */
	assert_true(version_cmp("6.12.117", "5.5") > 0);
	assert_true(version_cmp("5.4.290", "5.5") < 0);
	assert_true(version_cmp("5.5", "5.5.0.0") == 0);
}

static void test_release(void **state)
{
	char v[32];

	(void)state;
	assert_true(version_of_release("6.12.117+deb13-amd64", v, sizeof(v)));
	assert_string_equal(v, "6.12.117");
	assert_true(version_of_release("6.18.44-fc-v669", v, sizeof(v)));
	assert_string_equal(v, "6.18.44");
	assert_true(version_of_release("5.15.0-91-generic", v, sizeof(v)));
	assert_string_equal(v, "5.15.0");
	assert_false(version_of_release("custom", v, sizeof(v)));
	assert_false(version_of_release("6.1.0", v, 3));
}

static void test_library(void **state)
{
	char v[32];

	(void)state;
	assert_true(version_of_library("/usr/lib/x86_64-linux-gnu/libbcc.so.0.31.0", "libbcc", v,
				       sizeof(v)));
	assert_string_equal(v, "0.31.0");
	assert_true(version_of_library("libbcc.so.0.26.0", "libbcc", v, sizeof(v)));
	assert_string_equal(v, "0.26.0");
	assert_false(version_of_library("/usr/lib/libbcc.so.0", "libbcc", v, sizeof(v)));
	assert_false(version_of_library("/usr/lib/libbcc.so", "libbcc", v, sizeof(v)));
	assert_false(version_of_library("/usr/lib/libbcc_bpf.so.0.31.0", "libbcc", v, sizeof(v)));
}

static void test_check(void **state)
{
	char err[256] = "";

	(void)state;
	assert_int_equal(versions_check("6.12.117+deb13-amd64", "/x/libbcc.so.0.31.0", err,
					sizeof(err)), 0);
	assert_int_equal(versions_check("6.1.0-57-amd64", "/x/libbcc.so.0.26.0", err, sizeof(err)), 0);
	assert_int_equal(versions_check("6.1.0", NULL, err, sizeof(err)), 0);
	assert_int_equal(versions_check("6.1.0", "/x/libbcc.so.0", err, sizeof(err)), 0);
	assert_int_equal(versions_check("custom-kernel", "/x/libbcc.so.0.26.0", err, sizeof(err)), 0);

	assert_int_equal(versions_check("5.4.0-100-generic", "/x/libbcc.so.0.31.0", err,
					sizeof(err)), -1);
	assert_non_null(strstr(err, "Linux 5.4.0 is older than " BCCFLOW_MIN_KERNEL));
	assert_null(strchr(err, '\n'));
	assert_int_equal(versions_check("6.1.0", "/x/libbcc.so.0.18.0", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "BCC 0.18.0 (/x/libbcc.so.0.18.0) is older than "
				    BCCFLOW_MIN_BCC));
	assert_non_null(strstr(err, "install libbpfcc"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmp),
		cmocka_unit_test(test_release),
		cmocka_unit_test(test_library),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
