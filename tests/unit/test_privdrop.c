/* SPDX-License-Identifier: MIT */
/* Unit tests: which user and capability the monitor keeps (privdrop.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <linux/capability.h>

#include "privdrop.h"

#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static void test_needed_cap(void **state)
{
	(void)state;
	/* 5.19 refuses only map creation and program loads to the unprivileged */
	assert_int_equal(privdrop_needed_cap("6.1.0-27-amd64", 2), -1);
	assert_int_equal(privdrop_needed_cap("6.18.0", 1), -1);
	assert_int_equal(privdrop_needed_cap("5.19.0-1-cloud-amd64", 2), -1);
	/* before, every command needs CAP_BPF (5.8+) or CAP_SYS_ADMIN */
	assert_int_equal(privdrop_needed_cap("5.18.19", 1), CAP_BPF);
	assert_int_equal(privdrop_needed_cap("5.10.0-30-amd64", 2), CAP_BPF);
	assert_int_equal(privdrop_needed_cap("5.8.0", 1), CAP_BPF);
	assert_int_equal(privdrop_needed_cap("5.7.19", 1), CAP_SYS_ADMIN);
	assert_int_equal(privdrop_needed_cap("5.5.0", 2), CAP_SYS_ADMIN);
	/* unless the sysctl lets everyone use bpf() */
	assert_int_equal(privdrop_needed_cap("5.10.0", 0), -1);
	assert_string_equal(privdrop_cap_name(CAP_BPF), "CAP_BPF");
	assert_string_equal(privdrop_cap_name(CAP_SYS_ADMIN), "CAP_SYS_ADMIN");
}

static void test_resolve(void **state)
{
	struct privdrop p;
	char err[256] = "";

	(void)state;
	assert_int_equal(privdrop_resolve(NULL, &p, err, sizeof(err)), 0);
	assert_string_equal(p.name, "nobody");
	assert_int_equal(p.uid, 65534);	/* Debian's nobody */
	assert_false(p.keep_root);
	assert_int_equal(privdrop_resolve("65534", &p, err, sizeof(err)), 0);
	assert_string_equal(p.name, "nobody");
	assert_int_equal(privdrop_resolve("daemon", &p, err, sizeof(err)), 0);
	assert_int_equal(p.uid, 1);
	assert_int_equal(privdrop_resolve("root", &p, err, sizeof(err)), 0);
	assert_true(p.keep_root);
	assert_int_equal(privdrop_resolve("0", &p, err, sizeof(err)), 0);
	assert_true(p.keep_root);
	assert_int_equal(privdrop_resolve("no-such-user-bccflow", &p, err, sizeof(err)), -1);
	assert_string_equal(err, "--user no-such-user-bccflow: no such user in the password "
			    "database (name an existing user, e.g. --user nobody)");
	assert_int_equal(privdrop_resolve("4000000000", &p, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_needed_cap),
		cmocka_unit_test(test_resolve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
