/* SPDX-License-Identifier: MIT */
/* Unit tests: the filters' map contents (filter_maps.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "filter_maps.h"

/* What the kernel's LPM trie answers: does any key's prefix cover family+addr? */
static int lpm_match(const struct addr_lpm_key *keys, int n, int family, const char *text)
{
	struct addr_lpm_key q = { .prefixlen = ADDR_LPM_TAG_BITS + 128, .family = (__u32)family };
	unsigned char *qb = (unsigned char *)&q.family;

	if (family == AF_INET)
		assert_int_equal(inet_pton(AF_INET, text, q.addr), 1);
	else
		assert_int_equal(inet_pton(AF_INET6, text, q.addr), 1);
	for (int i = 0; i < n; i++) {
		const unsigned char *kb = (const unsigned char *)&keys[i].family;
		__u32 bits = keys[i].prefixlen;
		int ok = 1;

		assert_true(bits <= ADDR_LPM_TAG_BITS + 128);
		for (__u32 b = 0; b < bits && ok; b++)
			ok = ((kb[b / 8] ^ qb[b / 8]) & (0x80 >> (b % 8))) == 0;
		if (ok)
			return 1;
	}
	return 0;
}

static int keys_for(const char *const *nets, int n, struct addr_lpm_key *out)
{
	struct cidr c[MAX_CIDR_FILTERS];

	for (int i = 0; i < n; i++)
		assert_int_equal(parse_cidr(nets[i], &c[i]), 0);
	return addr_filter_keys(c, n, out);
}

static void test_v4_network_matches_v4_and_mapped_only(void **state)
{
	static const char *const nets[] = { "10.1.2.0/23" };
	struct addr_lpm_key k[ADDR_LPM_MAX_ENTRIES];
	int n = keys_for(nets, 1, k);

	(void)state;
	assert_int_equal(n, 2);
	assert_true(lpm_match(k, n, AF_INET, "10.1.2.0"));
	assert_true(lpm_match(k, n, AF_INET, "10.1.3.255"));
	assert_false(lpm_match(k, n, AF_INET, "10.1.4.0"));
	assert_false(lpm_match(k, n, AF_INET, "10.1.0.1"));
	assert_true(lpm_match(k, n, AF_INET6, "::ffff:10.1.3.7"));
	assert_false(lpm_match(k, n, AF_INET6, "::ffff:10.1.4.7"));
	/* the same bytes in a plain IPv6 address are not the IPv4 network */
	assert_false(lpm_match(k, n, AF_INET6, "a01:200::"));
	assert_false(lpm_match(k, n, AF_INET6, "::10.1.2.1"));
}

static void test_v6_network_and_host_bits(void **state)
{
	/* host bits after the prefix are ignored, as the kernel's trie does */
	static const char *const nets[] = { "2001:db8::/17" };
	struct addr_lpm_key k[ADDR_LPM_MAX_ENTRIES];
	int n = keys_for(nets, 1, k);

	(void)state;
	assert_int_equal(n, 1);
	assert_int_equal(k[0].prefixlen, ADDR_LPM_TAG_BITS + 17);
	assert_int_equal(k[0].addr[2], 0);	/* 0x0d: its top bit is the 17th, 0 */
	assert_true(lpm_match(k, n, AF_INET6, "2001:7fff::1"));
	assert_true(lpm_match(k, n, AF_INET6, "2001::"));
	assert_false(lpm_match(k, n, AF_INET6, "2001:8000::"));
	assert_false(lpm_match(k, n, AF_INET, "32.1.13.184"));
}

static void test_zero_prefixes_keep_the_family(void **state)
{
	static const char *const v4[] = { "0.0.0.0/0" }, *const v6[] = { "::/0" };
	struct addr_lpm_key k[ADDR_LPM_MAX_ENTRIES];
	int n;

	(void)state;
	n = keys_for(v4, 1, k);
	assert_true(lpm_match(k, n, AF_INET, "192.0.2.1"));
	assert_true(lpm_match(k, n, AF_INET6, "::ffff:192.0.2.1"));
	assert_false(lpm_match(k, n, AF_INET6, "2001:db8::1"));
	n = keys_for(v6, 1, k);
	assert_true(lpm_match(k, n, AF_INET6, "2001:db8::1"));
	assert_true(lpm_match(k, n, AF_INET6, "::ffff:192.0.2.1"));	/* as before: any IPv6 */
	assert_false(lpm_match(k, n, AF_INET, "192.0.2.1"));
}

static void test_largest_list_fits(void **state)
{
	static const char *const nets[MAX_CIDR_FILTERS] = {
		"10.0.0.0/8", "192.168.1.0/24", "172.16.0.0/12", "127.0.0.1/32",
		"10.9.9.9/32", "198.51.100.0/24", "203.0.113.0/25", "100.64.0.0/10",
	};
	struct addr_lpm_key k[ADDR_LPM_MAX_ENTRIES];
	int n = keys_for(nets, MAX_CIDR_FILTERS, k);

	(void)state;
	assert_int_equal(n, ADDR_LPM_MAX_ENTRIES);
	assert_true(lpm_match(k, n, AF_INET6, "::ffff:100.127.1.1"));
	assert_true(lpm_match(k, n, AF_INET, "127.0.0.1"));
	assert_false(lpm_match(k, n, AF_INET, "127.0.0.2"));
}

static void test_build_lists_only_given_filters(void **state)
{
	struct options o;
	struct filter_maps m;

	(void)state;
	memset(&o, 0, sizeof(o));
	filter_maps_build(&m, &o, -1);
	assert_int_equal(m.n, 0);

	o.nports = 2;
	o.ports[0] = 80;
	o.ports[1] = 443;
	assert_int_equal(parse_cidr("::1", &o.raddr[0]), 0);
	o.nraddr = 1;
	filter_maps_build(&m, &o, 7);
	assert_int_equal(m.n, 3);
	assert_string_equal(m.init[0].map, "cgroup_filter");
	assert_int_equal(*(const int *)m.init[0].keys, 0);
	assert_int_equal(*(const int *)m.init[0].values, 7);
	assert_string_equal(m.init[1].map, "port_filter");
	assert_int_equal(m.init[1].n, 2);
	assert_int_equal(m.init[1].key_size, 2);
	assert_int_equal(((const __u16 *)m.init[1].keys)[1], 443);
	assert_int_equal(*(const __u8 *)m.init[1].values, 1);
	assert_string_equal(m.init[2].map, "raddr_filter");
	assert_int_equal(m.init[2].n, 1);
	assert_int_equal(m.init[2].key_size, sizeof(struct addr_lpm_key));
	assert_int_equal(m.init[2].value_size, 1);
}

static void test_cgroup_must_be_cgroup2(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(filter_cgroup_open("/nonexistent/cg", err, sizeof(err)), -1);
	assert_string_equal(err, "invalid --cgroup '/nonexistent/cg': No such file or directory");
	assert_int_equal(filter_cgroup_open("/proc", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not in a cgroup v2 hierarchy"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_network_matches_v4_and_mapped_only),
		cmocka_unit_test(test_v6_network_and_host_bits),
		cmocka_unit_test(test_zero_prefixes_keep_the_family),
		cmocka_unit_test(test_largest_list_fits),
		cmocka_unit_test(test_build_lists_only_given_filters),
		cmocka_unit_test(test_cgroup_must_be_cgroup2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
