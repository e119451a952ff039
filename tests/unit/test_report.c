/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/report.c: one collected interval (fake flow_entry rows)
 * turned into displayed rows: --by grouping with totals accumulated from
 * interval deltas, --sort, --rows with its "others" row, metrics series
 * under --max-series, and group expiry.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "metrics.h"
#include "report.h"

/* ---- helpers -------------------------------------------------------------- */

#define PID_MAX 4194304L

/* Options as the command line would give them: NULL-terminated arguments. */
static struct options parse(const char *first, ...)
{
	char *argv[32];
	int argc = 0;
	struct options o;
	char err[256] = "";
	va_list ap;

	argv[argc++] = (char *)"bccflow";
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *)) {
		assert_true(argc < 31);
		argv[argc++] = (char *)a;
	}
	va_end(ap);
	argv[argc] = NULL;
	if (opts_parse(argc, argv, PID_MAX, &o, err, sizeof(err)) != OPTS_OK)
		fail_msg("opts_parse: %s", err);
	return o;
}

static struct flow_key key_v4(__u32 pid, const char *l, __u16 lport, const char *r, __u16 rport)
{
	struct flow_key k;

	memset(&k, 0, sizeof(k));
	k.pid = pid;
	k.family = AF_INET;
	k.lport = lport;
	k.rport = rport;
	assert_int_equal(inet_pton(AF_INET, l, k.laddr), 1);
	assert_int_equal(inet_pton(AF_INET, r, k.raddr), 1);
	return k;
}

static struct flow_key key_v6(__u32 pid, const char *l, __u16 lport, const char *r, __u16 rport)
{
	struct flow_key k;

	memset(&k, 0, sizeof(k));
	k.pid = pid;
	k.family = AF_INET6;
	k.lport = lport;
	k.rport = rport;
	assert_int_equal(inet_pton(AF_INET6, l, k.laddr), 1);
	assert_int_equal(inet_pton(AF_INET6, r, k.raddr), 1);
	return k;
}

/* A distinct IPv4 flow per (pid, rport). */
static struct flow_key key_pid(__u32 pid, __u16 rport)
{
	return key_v4(pid, "192.168.0.1", 40000, "10.0.0.1", rport);
}

static struct flow_entry entry(struct flow_key k, const char *comm, __u64 rx_delta,
			       __u64 tx_delta, __u64 rx_total, __u64 tx_total)
{
	struct flow_entry e;

	memset(&e, 0, sizeof(e));
	e.key = k;
	memcpy(e.comm, comm, strnlen(comm, sizeof(e.comm)));
	e.rx_delta = rx_delta;
	e.tx_delta = tx_delta;
	e.rx_total = rx_total;
	e.tx_total = tx_total;
	e.used = e.seen = true;
	return e;
}

/* An interval over entries[0..n), in that order, sums filled in. */
struct fake_iv {
	struct flow_entry *rows[64];
	struct interval iv;
};

static const struct interval *interval_of(struct fake_iv *f, unsigned long index,
					  struct flow_entry *entries, size_t n)
{
	assert_true(n <= 64);
	memset(f, 0, sizeof(*f));
	f->iv.index = index;
	f->iv.rows = f->rows;
	f->iv.nrows = n;
	for (size_t i = 0; i < n; i++) {
		f->rows[i] = &entries[i];
		f->iv.rx_bytes += entries[i].rx_delta;
		f->iv.tx_bytes += entries[i].tx_delta;
	}
	f->iv.tracked = n;
	return &f->iv;
}

static void build(struct reporter *rep, const struct interval *iv, const struct options *o,
		  struct report *out)
{
	assert_int_equal(report_build(rep, iv, o, 1.0, out), 0);
	/* the rows live in the reporter until the next call */
	assert_ptr_equal(out->rows, rep->rows);
	assert_true(out->nrows <= rep->rows_cap);
	assert_ptr_equal(out->iv, iv);
	assert_int_equal(out->by, rep->by);
}

/* One interval without any active flow. */
static void build_empty(struct reporter *rep, unsigned long index, const struct options *o)
{
	struct fake_iv f;
	struct report out;

	build(rep, interval_of(&f, index, NULL, 0), o, &out);
	assert_int_equal(out.nrows, 0);
}

/* Row sums are the interval totals. */
static void assert_sums(const struct report *r, const struct interval *iv)
{
	__u64 rx = 0, tx = 0;
	size_t nflows = 0;

	for (size_t i = 0; i < r->nrows; i++) {
		rx += r->rows[i].rx_delta;
		tx += r->rows[i].tx_delta;
		nflows += r->rows[i].nflows;
	}
	assert_int_equal(rx, iv->rx_bytes);
	assert_int_equal(tx, iv->tx_bytes);
	assert_int_equal(r->rx_bytes, iv->rx_bytes);
	assert_int_equal(r->tx_bytes, iv->tx_bytes);
	assert_int_equal(nflows, iv->nrows);
}

static bool flow_key_eq(const struct flow_key *a, const struct flow_key *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* The only row with this pid (--by pid), or NULL. */
static const struct report_row *row_of_pid(const struct report *r, __u32 pid)
{
	const struct report_row *found = NULL;

	for (size_t i = 0; i < r->nrows; i++) {
		if (r->rows[i].others || r->rows[i].key.pid != pid)
			continue;
		assert_null(found);
		found = &r->rows[i];
	}
	return found;
}

/* The only used group with this key and key comm, or NULL. */
static const struct group *group_of(const struct reporter *rep, const struct flow_key *k,
				    const char *kcomm)
{
	const struct group *found = NULL;
	char c[FLOW_COMM_LEN] = { 0 };

	memcpy(c, kcomm, strnlen(kcomm, sizeof(c)));
	const struct group *g;
	size_t pos = 0;

	while ((g = reporter_next_group(rep, &pos))) {
		if (!flow_key_eq(&g->key, k) || memcmp(g->key_comm, c, sizeof(c)))
			continue;
		assert_null(found);
		found = g;
	}
	return found;
}

static const struct group *group_of_pid(const struct reporter *rep, __u32 pid)
{
	struct flow_key k;

	memset(&k, 0, sizeof(k));
	k.pid = pid;
	return group_of(rep, &k, "");
}

static size_t used_groups(const struct reporter *rep)
{
	size_t n = 0;

	for (size_t i = 0; i < rep->groups.cap; i++)
		n += ((const struct group *)hashtab_slot(&rep->groups, i))->used;
	assert_int_equal(n, rep->groups.count);
	return n;
}

/* A group's metrics series (metrics.h): 1 its own, -1 "other", 0 none (no --listen). */
static int series_of(const struct reporter *rep, const struct group *g, const struct options *o)
{
	assert_non_null(g);
	if (!rep->keep_groups)
		return 0;
	return metrics_own_series(g, o->max_series) ? 1 : -1;
}

/* The reporter's series as metrics counts them: own, limited and the "other" totals. */
static struct series_count series_count(const struct reporter *rep, const struct options *o)
{
	struct series_count c;

	metrics_count_series(rep, o->max_series, &c);
	return c;
}

static void assert_row(const struct report_row *w, size_t nflows, __u64 rxd, __u64 txd,
		       __u64 rxt, __u64 txt)
{
	assert_non_null(w);
	assert_int_equal(w->nflows, nflows);
	assert_int_equal(w->rx_delta, rxd);
	assert_int_equal(w->tx_delta, txd);
	assert_int_equal(w->rx_total, rxt);
	assert_int_equal(w->tx_total, txt);
}

/* ---- --by flow without --listen ------------------------------------------- */

static void test_flow_rows_are_interval_rows(void **state)
{
	struct options o = parse(NULL);
	struct flow_entry e[3] = {
		entry(key_pid(1, 80), "curl", 100, 10, 1000, 200),
		entry(key_v6(2, "fe80::1", 22, "fe80::2", 50000), "sshd", 50, 5, 50, 5),
		entry(key_pid(3, 443), "wget", 7, 3, 900, 30),
	};
	struct reporter rep;
	struct report r;
	struct fake_iv f;
	const struct interval *iv = interval_of(&f, 1, e, 3);

	(void)state;
	assert_int_equal(o.by, BY_FLOW);
	assert_int_equal(o.rows, 0);
	assert_int_equal(reporter_init(&rep, &o), 0);
	assert_false(rep.keep_groups);
	build(&rep, iv, &o, &r);
	assert_int_equal(r.nrows, 3);
	assert_true(r.elapsed_s == 1.0);
	/* sorted by interval bytes; totals are the flow table's, not re-counted */
	for (size_t i = 0; i < 3; i++) {
		assert_false(r.rows[i].others);
		assert_true(flow_key_eq(&r.rows[i].key, &e[i].key));
		assert_string_equal(r.rows[i].comm, e[i].comm);
		assert_row(&r.rows[i], 1, e[i].rx_delta, e[i].tx_delta, e[i].rx_total,
			   e[i].tx_total);
	}
	assert_sums(&r, iv);
	/* without --listen, flows need no group table */
	assert_int_equal(rep.groups.count, 0);
	reporter_free(&rep);
}

static void test_flow_empty_interval(void **state)
{
	struct options o = parse("--rows", "3", NULL);
	struct reporter rep;
	struct report r;
	struct fake_iv f;

	(void)state;
	assert_int_equal(reporter_init(&rep, &o), 0);
	build(&rep, interval_of(&f, 1, NULL, 0), &o, &r);
	assert_int_equal(r.nrows, 0);
	assert_int_equal(r.rx_bytes, 0);
	assert_int_equal(r.tx_bytes, 0);
	reporter_free(&rep);
}

/*
 * Four flows whose order differs under every sort key:
 *            rx  tx  total  rx_total tx_total total_all
 *   A (1)    10   1   11      100     1000     1100
 *   B (2)     5  20   25      500       20      520
 *   C (3)     1   5    6     1000       50     1050
 *   D (4)     7   7   14        7     2000     2007
 */
static void check_sort(const char *key, enum sort_key want_key, const __u32 want[4])
{
	struct options o = parse("--sort", key, NULL);
	struct flow_entry e[4] = {
		entry(key_pid(1, 1), "a", 10, 1, 100, 1000),
		entry(key_pid(3, 3), "c", 1, 5, 1000, 50),
		entry(key_pid(2, 2), "b", 5, 20, 500, 20),
		entry(key_pid(4, 4), "d", 7, 7, 7, 2000),
	};
	struct reporter rep;
	struct report r;
	struct fake_iv f;

	assert_int_equal(o.sort, want_key);
	assert_int_equal(reporter_init(&rep, &o), 0);
	build(&rep, interval_of(&f, 1, e, 4), &o, &r);
	assert_int_equal(r.nrows, 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(r.rows[i].key.pid, want[i]);
	assert_sums(&r, &f.iv);
	reporter_free(&rep);
}

static void test_sort_keys(void **state)
{
	static const __u32 total[4] = { 2, 4, 1, 3 };
	static const __u32 rx[4] = { 1, 4, 2, 3 };
	static const __u32 tx[4] = { 2, 4, 3, 1 };
	static const __u32 rx_total[4] = { 3, 2, 1, 4 };
	static const __u32 tx_total[4] = { 4, 1, 3, 2 };
	static const __u32 total_all[4] = { 4, 1, 3, 2 };

	(void)state;
	check_sort("total", SORT_TOTAL, total);
	check_sort("rx", SORT_RX, rx);
	check_sort("tx", SORT_TX, tx);
	check_sort("rx_total", SORT_RX_TOTAL, rx_total);
	check_sort("tx_total", SORT_TX_TOTAL, tx_total);
	check_sort("total_all", SORT_TOTAL_ALL, total_all);
}

/* Ties on the sort key: interval bytes, then totals, then the key. */
static void check_ties(bool reversed)
{
	struct options o = parse("--sort", "rx", NULL);
	struct flow_entry e[5] = {
		/* rx 5 for all; pid 10 has more interval bytes */
		entry(key_pid(11, 1), "x", 5, 1, 50, 50),
		entry(key_pid(10, 1), "x", 5, 9, 10, 10),
		/* same interval bytes as pid 11; more since start */
		entry(key_pid(12, 1), "x", 5, 1, 80, 80),
		/* identical values: the key decides (pid 1 before pid 2) */
		entry(key_pid(2, 1), "x", 5, 1, 20, 20),
		entry(key_pid(1, 1), "x", 5, 1, 20, 20),
	};
	static const __u32 want[5] = { 10, 12, 11, 1, 2 };
	struct flow_entry in[5];
	struct reporter rep;
	struct report r;
	struct fake_iv f;

	for (size_t i = 0; i < 5; i++)
		in[i] = e[reversed ? 4 - i : i];
	assert_int_equal(reporter_init(&rep, &o), 0);
	build(&rep, interval_of(&f, 1, in, 5), &o, &r);
	assert_int_equal(r.nrows, 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(r.rows[i].key.pid, want[i]);
	reporter_free(&rep);
}

static void test_sort_ties_deterministic(void **state)
{
	(void)state;
	check_ties(false);
	check_ties(true);
}

/* Sums that would overflow saturate instead of wrapping to small values. */
static void test_sort_saturates(void **state)
{
	struct options o = parse("--sort", "total_all", NULL);
	struct flow_entry e[2] = {
		entry(key_pid(1, 1), "small", 1, 1, 10, 10),
		entry(key_pid(2, 1), "huge", 1, 1, UINT64_MAX - 1, 5),
	};
	struct reporter rep;
	struct report r;
	struct fake_iv f;

	(void)state;
	assert_int_equal(reporter_init(&rep, &o), 0);
	build(&rep, interval_of(&f, 1, e, 2), &o, &r);
	assert_int_equal(r.nrows, 2);
	assert_int_equal(r.rows[0].key.pid, 2);
	assert_int_equal(r.rows[1].key.pid, 1);
	reporter_free(&rep);
}

/* ---- --rows and the others row -------------------------------------------- */

static void test_rows_others(void **state)
{
	struct options o = parse("--rows", "2", NULL);
	struct flow_entry e[5] = {
		entry(key_pid(1, 1), "a", 500, 50, 5000, 500),
		entry(key_pid(2, 1), "b", 400, 40, 4000, 400),
		entry(key_pid(3, 1), "c", 30, 3, 300, 33),
		entry(key_pid(4, 1), "d", 20, 2, 200, 22),
		entry(key_pid(5, 1), "e", 10, 1, 100, 11),
	};
	struct reporter rep;
	struct report r;
	struct fake_iv f;
	const struct interval *iv = interval_of(&f, 1, e, 5);

	(void)state;
	assert_int_equal(o.rows, 2);
	assert_int_equal(reporter_init(&rep, &o), 0);
	build(&rep, iv, &o, &r);
	assert_int_equal(r.nrows, 3);
	assert_false(r.rows[0].others);
	assert_int_equal(r.rows[0].key.pid, 1);
	assert_false(r.rows[1].others);
	assert_int_equal(r.rows[1].key.pid, 2);
	assert_true(r.rows[2].others);
	assert_row(&r.rows[2], 3, 60, 6, 600, 66);
	assert_int_equal(r.rows[2].key.pid, 0);
	assert_int_equal(r.rows[2].comm[0], '\0');
	assert_sums(&r, iv);
	assert_int_equal(r.rx_bytes, 960);
	assert_int_equal(r.tx_bytes, 96);
	reporter_free(&rep);
}

static void test_rows_no_others_when_fits(void **state)
{
	struct flow_entry e[3] = {
		entry(key_pid(1, 1), "a", 3, 0, 3, 0),
		entry(key_pid(2, 1), "b", 2, 0, 2, 0),
		entry(key_pid(3, 1), "c", 1, 0, 1, 0),
	};
	static const char *const limits[] = { "3", "4", "1000000" };

	(void)state;
	for (size_t l = 0; l < 3; l++) {
		struct options o = parse("-r", limits[l], NULL);
		struct reporter rep;
		struct report r;
		struct fake_iv f;

		assert_int_equal(reporter_init(&rep, &o), 0);
		build(&rep, interval_of(&f, 1, e, 3), &o, &r);
		assert_int_equal(r.nrows, 3);
		for (size_t i = 0; i < 3; i++) {
			assert_false(r.rows[i].others);
			assert_int_equal(r.rows[i].key.pid, i + 1);
		}
		assert_sums(&r, &f.iv);
		reporter_free(&rep);
	}
}

/* --rows 1: one row plus others holding everything else. */
static void test_rows_one(void **state)
{
	struct options o = parse("--rows", "1", "--sort", "tx", NULL);
	struct flow_entry e[3] = {
		entry(key_pid(1, 1), "a", 100, 1, 100, 1),
		entry(key_pid(2, 1), "b", 1, 100, 1, 100),
		entry(key_pid(3, 1), "c", 50, 50, 60, 70),
	};
	struct reporter rep;
	struct report r;
	struct fake_iv f;

	(void)state;
	assert_int_equal(reporter_init(&rep, &o), 0);
	build(&rep, interval_of(&f, 1, e, 3), &o, &r);
	assert_int_equal(r.nrows, 2);
	assert_int_equal(r.rows[0].key.pid, 2);
	assert_true(r.rows[1].others);
	assert_row(&r.rows[1], 2, 150, 51, 160, 71);
	assert_sums(&r, &f.iv);
	reporter_free(&rep);
}

/* The others row sums groups (and counts their flows) under --by pid. */
static void test_rows_others_by_pid(void **state)
{
	struct options o = parse("--by", "pid", "--rows", "1", NULL);
	struct flow_entry e[5] = {
		entry(key_pid(1, 1), "a", 100, 10, 0, 0),
		entry(key_pid(1, 2), "a", 100, 10, 0, 0),
		entry(key_pid(2, 1), "b", 30, 3, 0, 0),
		entry(key_pid(2, 2), "b", 20, 2, 0, 0),
		entry(key_pid(3, 1), "c", 10, 1, 0, 0),
	};
	struct reporter rep;
	struct report r;
	struct fake_iv f;

	(void)state;
	assert_int_equal(reporter_init(&rep, &o), 0);
	build(&rep, interval_of(&f, 1, e, 5), &o, &r);
	assert_int_equal(r.nrows, 2);
	assert_false(r.rows[0].others);
	assert_int_equal(r.rows[0].key.pid, 1);
	assert_row(&r.rows[0], 2, 200, 20, 200, 20);
	assert_true(r.rows[1].others);
	assert_row(&r.rows[1], 3, 60, 6, 60, 6);
	assert_sums(&r, &f.iv);
	reporter_free(&rep);
}

/* ---- --by pid --------------------------------------------------------------- */

static void test_pid_one_group_across_comms(void **state)
{
	struct options o = parse("--by", "pid", NULL);
	struct reporter rep;
	struct report r;
	struct fake_iv f;
	/* one process, two threads with different names, two flows */
	struct flow_entry i1[3] = {
		entry(key_pid(100, 80), "curl", 100, 10, 100, 10),
		entry(key_pid(100, 81), "curl-worker", 50, 5, 50, 5),
		entry(key_pid(200, 80), "other", 1, 1, 1, 1),
	};
	/* the process renamed itself; flow totals are the flow table's, not used */
	struct flow_entry i2[2] = {
		entry(key_pid(100, 80), "renamed", 7, 3, 107, 13),
		entry(key_pid(100, 82), "renamed", 1, 2, 1, 2),
	};
	const struct report_row *w;

	(void)state;
	assert_int_equal(reporter_init(&rep, &o), 0);
	build(&rep, interval_of(&f, 1, i1, 3), &o, &r);
	assert_int_equal(r.nrows, 2);
	w = row_of_pid(&r, 100);
	assert_row(w, 2, 150, 15, 150, 15);
	assert_int_equal(w->key.family, 0);
	assert_int_equal(w->key.lport, 0);
	assert_int_equal(w->key.rport, 0);
	assert_row(row_of_pid(&r, 200), 1, 1, 1, 1, 1);
	assert_string_equal(row_of_pid(&r, 200)->comm, "other");
	assert_sums(&r, &f.iv);
	assert_int_equal(used_groups(&rep), 2);

	build(&rep, interval_of(&f, 2, i2, 2), &o, &r);
	assert_int_equal(r.nrows, 1);
	w = row_of_pid(&r, 100);
	assert_row(w, 2, 8, 5, 158, 20);
	assert_string_equal(w->comm, "renamed");
	assert_null(row_of_pid(&r, 200));
	assert_sums(&r, &f.iv);
	/* still one group for pid 100, whatever its flows were called */
	assert_int_equal(used_groups(&rep), 2);
	assert_non_null(group_of_pid(&rep, 100));
	assert_string_equal(group_of_pid(&rep, 100)->comm, "renamed");
	reporter_free(&rep);
}

/* A group absent for a while has no row, then comes back with its totals. */
static void test_pid_idle_group_keeps_totals(void **state)
{
	struct options o = parse("--by", "pid", NULL);
	struct reporter rep;
	struct report r;
	struct fake_iv f;
	struct flow_entry i1[2] = {
		entry(key_pid(1, 1), "one", 10, 20, 0, 0),
		entry(key_pid(2, 1), "two", 1, 2, 0, 0),
	};
	struct flow_entry i2[1] = { entry(key_pid(2, 1), "two", 3, 4, 0, 0) };
	struct flow_entry i4[2] = {
		entry(key_pid(1, 9), "one", 5, 6, 0, 0),
		entry(key_pid(2, 1), "two", 1, 1, 0, 0),
	};

	(void)state;
	assert_int_equal(reporter_init(&rep, &o), 0);
	build(&rep, interval_of(&f, 1, i1, 2), &o, &r);
	assert_int_equal(r.nrows, 2);
	build(&rep, interval_of(&f, 2, i2, 1), &o, &r);
	assert_int_equal(r.nrows, 1);
	assert_null(row_of_pid(&r, 1));
	assert_row(row_of_pid(&r, 2), 1, 3, 4, 4, 6);
	build_empty(&rep, 3, &o);
	build(&rep, interval_of(&f, 4, i4, 2), &o, &r);
	assert_int_equal(r.nrows, 2);
	assert_row(row_of_pid(&r, 1), 1, 5, 6, 15, 26);
	assert_row(row_of_pid(&r, 2), 1, 1, 1, 5, 7);
	assert_sums(&r, &f.iv);
	reporter_free(&rep);
}

/* Groups sort like flows: rx_total across intervals decides. */
static void test_pid_sort_by_totals(void **state)
{
	struct options o = parse("--by", "pid", "--sort", "rx_total", NULL);
	struct reporter rep;
	struct report r;
	struct fake_iv f;
	struct flow_entry i1[2] = {
		entry(key_pid(1, 1), "a", 1000, 0, 0, 0),
		entry(key_pid(2, 1), "b", 10, 0, 0, 0),
	};
	struct flow_entry i2[2] = {
		entry(key_pid(2, 1), "b", 500, 0, 0, 0),
		entry(key_pid(1, 1), "a", 1, 0, 0, 0),
	};

	(void)state;
	assert_int_equal(reporter_init(&rep, &o), 0);
	build(&rep, interval_of(&f, 1, i1, 2), &o, &r);
	build(&rep, interval_of(&f, 2, i2, 2), &o, &r);
	assert_int_equal(r.nrows, 2);
	/* pid 2 is busier this interval, pid 1 since start */
	assert_int_equal(r.rows[0].key.pid, 1);
	assert_row(&r.rows[0], 1, 1, 0, 1001, 0);
	assert_int_equal(r.rows[1].key.pid, 2);
	assert_row(&r.rows[1], 1, 500, 0, 510, 0);
	reporter_free(&rep);
}

/* ---- --by comm ------------------------------------------------------------ */

static const struct report_row *row_of_comm(const struct report *r, const char *comm)
{
	const struct report_row *found = NULL;

	for (size_t i = 0; i < r->nrows; i++) {
		if (r->rows[i].others || strcmp(r->rows[i].comm, comm))
			continue;
		assert_null(found);
		found = &r->rows[i];
	}
	return found;
}

static void test_comm_groups(void **state)
{
	struct options o = parse("--by", "comm", NULL);
	struct reporter rep;
	struct report r;
	struct fake_iv f;
	struct flow_entry i1[4] = {
		entry(key_pid(1, 1), "nginx", 100, 1, 0, 0),
		entry(key_pid(2, 1), "nginx", 50, 2, 0, 0),
		entry(key_pid(3, 1), "curl", 20, 3, 0, 0),
		entry(key_pid(4, 1), "nginx2", 1, 4, 0, 0),
	};
	struct flow_entry i2[2] = {
		entry(key_pid(5, 1), "nginx", 5, 5, 0, 0),
		entry(key_pid(3, 1), "curl", 1, 1, 0, 0),
	};
	const struct report_row *w;
	struct flow_key zero;

	(void)state;
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(reporter_init(&rep, &o), 0);
	build(&rep, interval_of(&f, 1, i1, 4), &o, &r);
	assert_int_equal(r.nrows, 3);
	w = row_of_comm(&r, "nginx");
	assert_row(w, 2, 150, 3, 150, 3);
	assert_true(flow_key_eq(&w->key, &zero));
	assert_row(row_of_comm(&r, "curl"), 1, 20, 3, 20, 3);
	assert_row(row_of_comm(&r, "nginx2"), 1, 1, 4, 1, 4);
	/* busiest first */
	assert_string_equal(r.rows[0].comm, "nginx");
	assert_string_equal(r.rows[1].comm, "curl");
	assert_string_equal(r.rows[2].comm, "nginx2");
	assert_sums(&r, &f.iv);

	build(&rep, interval_of(&f, 2, i2, 2), &o, &r);
	assert_int_equal(r.nrows, 2);
	assert_row(row_of_comm(&r, "nginx"), 1, 5, 5, 155, 8);
	assert_row(row_of_comm(&r, "curl"), 1, 1, 1, 21, 4);
	assert_int_equal(used_groups(&rep), 3);
	assert_non_null(group_of(&rep, &zero, "nginx"));
	assert_non_null(group_of(&rep, &zero, "nginx2"));
	assert_non_null(group_of(&rep, &zero, "curl"));
	reporter_free(&rep);
}

/* Equal groups are ordered by name. */
static void test_comm_ties_by_name(void **state)
{
	struct options o = parse("--by", "comm", NULL);
	struct reporter rep;
	struct report r;
	struct fake_iv f;
	struct flow_entry e[3] = {
		entry(key_pid(1, 1), "cc", 5, 5, 0, 0),
		entry(key_pid(2, 1), "aa", 5, 5, 0, 0),
		entry(key_pid(3, 1), "bb", 5, 5, 0, 0),
	};

	(void)state;
	assert_int_equal(reporter_init(&rep, &o), 0);
	build(&rep, interval_of(&f, 1, e, 3), &o, &r);
	assert_int_equal(r.nrows, 3);
	assert_string_equal(r.rows[0].comm, "aa");
	assert_string_equal(r.rows[1].comm, "bb");
	assert_string_equal(r.rows[2].comm, "cc");
	reporter_free(&rep);
}

/* ---- --by raddr ------------------------------------------------------------- */

static void check_raddr(bool map_v4)
{
	struct options o = map_v4 ? parse("--by", "raddr", NULL) :
				    parse("--by", "raddr", "--no-map-v4", NULL);
	struct reporter rep;
	struct report r;
	struct fake_iv f;
	struct flow_entry e[3] = {
		entry(key_v4(1, "192.168.0.1", 40000, "10.1.2.3", 80), "a", 100, 10, 0, 0),
		entry(key_v6(2, "::ffff:192.168.0.1", 40001, "::ffff:10.1.2.3", 443), "b", 50, 5,
		      0, 0),
		entry(key_v4(3, "192.168.0.1", 40002, "10.1.2.4", 80), "c", 1, 1, 0, 0),
	};
	struct flow_key v4, v6, other;

	assert_int_equal(o.map_v4, map_v4);
	memset(&v4, 0, sizeof(v4));
	v4.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, "10.1.2.3", v4.raddr), 1);
	memset(&v6, 0, sizeof(v6));
	v6.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "::ffff:10.1.2.3", v6.raddr), 1);
	memset(&other, 0, sizeof(other));
	other.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, "10.1.2.4", other.raddr), 1);

	assert_int_equal(reporter_init(&rep, &o), 0);
	build(&rep, interval_of(&f, 1, e, 3), &o, &r);
	if (map_v4) {
		assert_int_equal(r.nrows, 2);
		assert_true(flow_key_eq(&r.rows[0].key, &v4));
		assert_row(&r.rows[0], 2, 150, 15, 150, 15);
		assert_true(flow_key_eq(&r.rows[1].key, &other));
		assert_int_equal(used_groups(&rep), 2);
		assert_null(group_of(&rep, &v6, ""));
	} else {
		assert_int_equal(r.nrows, 3);
		assert_true(flow_key_eq(&r.rows[0].key, &v4));
		assert_row(&r.rows[0], 1, 100, 10, 100, 10);
		assert_true(flow_key_eq(&r.rows[1].key, &v6));
		assert_row(&r.rows[1], 1, 50, 5, 50, 5);
		assert_true(flow_key_eq(&r.rows[2].key, &other));
		assert_int_equal(used_groups(&rep), 3);
		assert_non_null(group_of(&rep, &v6, ""));
	}
	assert_non_null(group_of(&rep, &v4, ""));
	assert_non_null(group_of(&rep, &other, ""));
	assert_sums(&r, &f.iv);
	reporter_free(&rep);
}

static void test_raddr_map_v4(void **state)
{
	(void)state;
	check_raddr(true);
}

static void test_raddr_no_map_v4(void **state)
{
	(void)state;
	check_raddr(false);
}

/* ---- --by lport ------------------------------------------------------------- */

static void test_lport_groups(void **state)
{
	struct options o = parse("--by", "lport", NULL);
	struct reporter rep;
	struct report r;
	struct fake_iv f;
	struct flow_entry e[4] = {
		entry(key_v4(1, "10.0.0.1", 443, "10.9.9.1", 50000), "nginx", 300, 30, 0, 0),
		entry(key_v6(2, "::1", 443, "::2", 50001), "nginx", 200, 20, 0, 0),
		entry(key_v4(3, "10.0.0.1", 80, "10.9.9.1", 50000), "nginx", 100, 10, 0, 0),
		entry(key_v4(4, "10.0.0.1", 22, "10.9.9.2", 443), "sshd", 1, 1, 0, 0),
	};
	struct flow_key k;

	(void)state;
	assert_int_equal(reporter_init(&rep, &o), 0);
	build(&rep, interval_of(&f, 1, e, 4), &o, &r);
	assert_int_equal(r.nrows, 3);
	memset(&k, 0, sizeof(k));
	k.lport = 443;
	assert_true(flow_key_eq(&r.rows[0].key, &k));
	assert_row(&r.rows[0], 2, 500, 50, 500, 50);
	k.lport = 80;
	assert_true(flow_key_eq(&r.rows[1].key, &k));
	assert_row(&r.rows[1], 1, 100, 10, 100, 10);
	/* a remote port of 443 is not local port 443 */
	k.lport = 22;
	assert_true(flow_key_eq(&r.rows[2].key, &k));
	assert_row(&r.rows[2], 1, 1, 1, 1, 1);
	assert_sums(&r, &f.iv);
	reporter_free(&rep);
}

/* ---- group_key ---------------------------------------------------------------- */

static void test_group_key_each_by(void **state)
{
	struct flow_key k = key_v4(42, "192.168.1.2", 5555, "10.1.2.3", 80);
	struct flow_key m = key_v6(43, "::ffff:192.168.1.2", 6666, "::ffff:10.1.2.3", 443);
	struct flow_key n = key_v6(44, "2001:db8::1", 7777, "2001:db8::2", 8080);
	struct flow_key gk, want;
	char gcomm[FLOW_COMM_LEN];
	char zero[FLOW_COMM_LEN] = { 0 };
	/* a name with bytes after its terminator: only the name counts */
	char dirty[FLOW_COMM_LEN] = { 'a', 'b', 0, 'x', 'y', 'z' };
	char full[FLOW_COMM_LEN + 1] = "fifteen-chars-x";

	(void)state;
	/* flow: the whole key, no name */
	memset(&gk, 0xaa, sizeof(gk));
	memset(gcomm, 'z', sizeof(gcomm));
	group_key(BY_FLOW, true, &m, "curl", 0, &gk, gcomm);
	assert_true(flow_key_eq(&gk, &m));
	assert_memory_equal(gcomm, zero, FLOW_COMM_LEN);

	/* pid */
	memset(&gk, 0xaa, sizeof(gk));
	memset(gcomm, 'z', sizeof(gcomm));
	group_key(BY_PID, true, &k, "curl", 0, &gk, gcomm);
	memset(&want, 0, sizeof(want));
	want.pid = 42;
	assert_true(flow_key_eq(&gk, &want));
	assert_memory_equal(gcomm, zero, FLOW_COMM_LEN);

	/* comm: the name only, zero padded */
	memset(&gk, 0xaa, sizeof(gk));
	memset(gcomm, 'z', sizeof(gcomm));
	group_key(BY_COMM, true, &k, "curl", 0, &gk, gcomm);
	memset(&want, 0, sizeof(want));
	assert_true(flow_key_eq(&gk, &want));
	assert_string_equal(gcomm, "curl");
	assert_memory_equal(gcomm + 4, zero, FLOW_COMM_LEN - 4);
	group_key(BY_COMM, true, &k, dirty, 0, &gk, gcomm);
	assert_string_equal(gcomm, "ab");
	assert_memory_equal(gcomm + 2, zero, FLOW_COMM_LEN - 2);
	group_key(BY_COMM, true, &k, full, 0, &gk, gcomm);
	assert_string_equal(gcomm, "fifteen-chars-x");

	/* raddr, IPv4 */
	memset(&gk, 0xaa, sizeof(gk));
	group_key(BY_RADDR, true, &k, "curl", 0, &gk, gcomm);
	memset(&want, 0, sizeof(want));
	want.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, "10.1.2.3", want.raddr), 1);
	assert_true(flow_key_eq(&gk, &want));
	assert_memory_equal(gcomm, zero, FLOW_COMM_LEN);
	group_key(BY_RADDR, false, &k, "curl", 0, &gk, gcomm);
	assert_true(flow_key_eq(&gk, &want));

	/* raddr, IPv4-mapped: folded into the IPv4 peer only with map_v4 */
	memset(&gk, 0xaa, sizeof(gk));
	group_key(BY_RADDR, true, &m, "curl", 0, &gk, gcomm);
	assert_true(flow_key_eq(&gk, &want));
	group_key(BY_RADDR, false, &m, "curl", 0, &gk, gcomm);
	memset(&want, 0, sizeof(want));
	want.family = AF_INET6;
	memcpy(want.raddr, m.raddr, 16);
	assert_true(flow_key_eq(&gk, &want));

	/* raddr, plain IPv6: unchanged either way */
	memset(&want, 0, sizeof(want));
	want.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::2", want.raddr), 1);
	group_key(BY_RADDR, true, &n, "curl", 0, &gk, gcomm);
	assert_true(flow_key_eq(&gk, &want));
	group_key(BY_RADDR, false, &n, "curl", 0, &gk, gcomm);
	assert_true(flow_key_eq(&gk, &want));

	/* lport */
	memset(&gk, 0xaa, sizeof(gk));
	memset(gcomm, 'z', sizeof(gcomm));
	group_key(BY_LPORT, true, &n, "curl", 0, &gk, gcomm);
	memset(&want, 0, sizeof(want));
	want.lport = 7777;
	assert_true(flow_key_eq(&gk, &want));
	assert_memory_equal(gcomm, zero, FLOW_COMM_LEN);

	/* flow: namespace and cgroup are part of it */
	n.netns = 4026531840u;
	n.cgroup = 0x100000abcULL;
	group_key(BY_FLOW, true, &n, "curl", 7, &gk, gcomm);
	assert_true(flow_key_eq(&gk, &n));

	/* cgroup: the id only */
	memset(&gk, 0xaa, sizeof(gk));
	memset(gcomm, 'z', sizeof(gcomm));
	group_key(BY_CGROUP, true, &n, "curl", 7, &gk, gcomm);
	memset(&want, 0, sizeof(want));
	want.cgroup = 0x100000abcULL;
	assert_true(flow_key_eq(&gk, &want));
	assert_memory_equal(gcomm, zero, FLOW_COMM_LEN);

	/* container: its number in the cgroup slot, whatever the cgroup */
	memset(&gk, 0xaa, sizeof(gk));
	group_key(BY_CONTAINER, true, &n, "curl", 7, &gk, gcomm);
	memset(&want, 0, sizeof(want));
	want.cgroup = 7;
	assert_true(flow_key_eq(&gk, &want));
	n.cgroup = 99;
	group_key(BY_CONTAINER, true, &n, "curl", 7, &gk, gcomm);
	assert_true(flow_key_eq(&gk, &want));
}

/* ---- expiry --------------------------------------------------------------- */

/*
 * Pid 1 is active in interval 19, pid 2 in interval 20, nothing after. At
 * the end of interval 320 (a multiple of 64: the table is rebuilt) pid 1
 * has been idle 301 intervals, pid 2 300. Both come back in interval 321.
 */
static void check_expiry(const struct options *o, bool kept)
{
	struct reporter rep;
	struct report r;
	struct fake_iv f;
	struct flow_entry a[1] = { entry(key_pid(1, 1), "one", 1000, 100, 0, 0) };
	struct flow_entry b[1] = { entry(key_pid(2, 1), "two", 2000, 200, 0, 0) };
	struct flow_entry back[2] = {
		entry(key_pid(1, 1), "one", 7, 3, 0, 0),
		entry(key_pid(2, 1), "two", 5, 1, 0, 0),
	};
	unsigned long i;

	assert_int_equal(reporter_init(&rep, o), 0);
	assert_int_equal(rep.keep_groups, kept);
	for (i = 1; i <= 18; i++)
		build_empty(&rep, i, o);
	build(&rep, interval_of(&f, 19, a, 1), o, &r);
	assert_row(row_of_pid(&r, 1), 1, 1000, 100, 1000, 100);
	build(&rep, interval_of(&f, 20, b, 1), o, &r);
	assert_row(row_of_pid(&r, 2), 1, 2000, 200, 2000, 200);
	for (i = 21; i <= 320; i++)
		build_empty(&rep, i, o);
	build(&rep, interval_of(&f, 321, back, 2), o, &r);
	assert_int_equal(r.nrows, 2);
	if (kept)
		assert_row(row_of_pid(&r, 1), 1, 7, 3, 1007, 103);
	else	/* forgotten: totals restart */
		assert_row(row_of_pid(&r, 1), 1, 7, 3, 7, 3);
	/* idle exactly GROUP_IDLE_MAX intervals: not "more than" */
	assert_row(row_of_pid(&r, 2), 1, 5, 1, 2005, 201);
	assert_sums(&r, &f.iv);
	assert_int_equal(used_groups(&rep), 2);
	reporter_free(&rep);
}

static void test_expiry_without_listen(void **state)
{
	struct options o = parse("--by", "pid", NULL);

	(void)state;
	assert_int_equal(GROUP_IDLE_MAX, 300);
	check_expiry(&o, false);
}

static void test_no_expiry_with_listen(void **state)
{
	struct options o = parse("--by", "pid", "--listen", "127.0.0.1:9877", NULL);

	(void)state;
	check_expiry(&o, true);
}

/* Idle far beyond the limit: still there with --listen (with series kept). */
static void test_listen_keeps_groups_forever(void **state)
{
	struct options o;
	struct reporter rep;
	struct report r;
	struct fake_iv f;
	struct flow_entry a[1] = { entry(key_pid(1, 1), "one", 10, 1, 0, 0) };
	struct flow_entry many[40];

	(void)state;
	memset(&o, 0, sizeof(o));
	o.interval = 1;
	o.max_flows = DEFAULT_MAX_FLOWS;
	o.map_v4 = true;
	o.by = BY_PID;
	o.by_set = true;
	o.listen = "127.0.0.1:9877";
	assert_int_equal(reporter_init(&rep, &o), 0);
	build(&rep, interval_of(&f, 1, a, 1), &o, &r);
	for (unsigned long i = 2; i <= 1000; i++)
		build_empty(&rep, i, &o);
	assert_non_null(group_of_pid(&rep, 1));
	assert_int_equal(series_of(&rep, group_of_pid(&rep, 1), &o), 1);
	/* growth of the table keeps it too */
	for (size_t i = 0; i < 40; i++)
		many[i] = entry(key_pid(100 + (__u32)i, 1), "m", 1, 1, 0, 0);
	build(&rep, interval_of(&f, 1001, many, 40), &o, &r);
	assert_int_equal(r.nrows, 40);
	assert_true(rep.groups.cap > 64);
	assert_int_equal(used_groups(&rep), 41);
	build(&rep, interval_of(&f, 1002, a, 1), &o, &r);
	assert_row(row_of_pid(&r, 1), 1, 10, 1, 20, 2);
	assert_int_equal(series_of(&rep, group_of_pid(&rep, 1), &o), 1);
	assert_int_equal(series_count(&rep, &o).limited, 0);
	reporter_free(&rep);
}

/* A group idle for a few hundred intervals, below the limit, keeps its totals. */
static void test_expiry_below_limit_kept(void **state)
{
	struct options o = parse("--by", "comm", NULL);
	struct reporter rep;
	struct report r;
	struct fake_iv f;
	struct flow_entry a[1] = { entry(key_pid(1, 1), "one", 10, 1, 0, 0) };
	unsigned long i;

	(void)state;
	assert_int_equal(reporter_init(&rep, &o), 0);
	build(&rep, interval_of(&f, 1, a, 1), &o, &r);
	/* rebuilt at 64, 128, 192, 256 with idle up to 255 */
	for (i = 2; i <= 257; i++)
		build_empty(&rep, i, &o);
	build(&rep, interval_of(&f, 258, a, 1), &o, &r);
	assert_row(row_of_comm(&r, "one"), 1, 10, 1, 20, 2);
	reporter_free(&rep);
}

/*
 * Pid 1 was idle for exactly GROUP_IDLE_MAX intervals (2..301) and comes
 * back in interval 302, after 40 new (busier) groups that make the table
 * grow. Idle exactly GROUP_IDLE_MAX is not "more than": its totals must
 * survive, as they do when the table does not grow in that interval.
 */
static void test_expiry_growth_exactly_idle_max(void **state)
{
	struct options o = parse("--by", "pid", NULL);
	struct reporter rep;
	struct report r;
	struct fake_iv f;
	struct flow_entry a[1] = { entry(key_pid(1, 1), "one", 10, 1, 0, 0) };
	struct flow_entry back[41];
	unsigned long i;

	(void)state;
	for (size_t j = 0; j < 40; j++)
		back[j] = entry(key_pid(1000 + (__u32)j, 1), "new", 100, 100, 0, 0);
	back[40] = entry(key_pid(1, 1), "one", 3, 2, 0, 0);
	assert_int_equal(reporter_init(&rep, &o), 0);
	assert_int_equal(rep.groups.cap, 64);
	build(&rep, interval_of(&f, 1, a, 1), &o, &r);
	for (i = 2; i <= 301; i++)
		build_empty(&rep, i, &o);
	build(&rep, interval_of(&f, 302, back, 41), &o, &r);
	assert_true(rep.groups.cap > 64);
	assert_int_equal(r.nrows, 41);
	assert_row(row_of_pid(&r, 1), 1, 3, 2, 13, 3);
	assert_sums(&r, &f.iv);
	reporter_free(&rep);
}

/* ---- metrics series (--max-series, --listen) ------------------------------ */

static void test_max_series(void **state)
{
	struct options o = parse("--listen", "127.0.0.1:9877", "--max-series", "3", "--by", "pid",
				 NULL);
	struct reporter rep;
	struct report r;
	struct fake_iv f;
	/* seen in this order; pid 5 is the busiest but comes last */
	struct flow_entry i1[5] = {
		entry(key_pid(1, 1), "a", 10, 1, 0, 0),
		entry(key_pid(2, 1), "b", 20, 2, 0, 0),
		entry(key_pid(3, 1), "c", 30, 3, 0, 0),
		entry(key_pid(4, 1), "d", 40, 4, 0, 0),
		entry(key_pid(5, 1), "e", 500, 50, 0, 0),
	};
	/* limited pid 5 now far busier; a new pid 6 while pid 1 is idle */
	struct flow_entry i2[4] = {
		entry(key_pid(5, 1), "e", 1000, 100, 0, 0),
		entry(key_pid(6, 1), "f", 7, 7, 0, 0),
		entry(key_pid(2, 1), "b", 1, 1, 0, 0),
		entry(key_pid(3, 2), "c", 2, 2, 0, 0),
	};

	(void)state;
	assert_int_equal(o.max_series, 3);
	assert_int_equal(reporter_init(&rep, &o), 0);
	assert_true(rep.keep_groups);
	build(&rep, interval_of(&f, 1, i1, 5), &o, &r);
	assert_int_equal(r.nrows, 5);
	assert_sums(&r, &f.iv);
	assert_int_equal(series_of(&rep, group_of_pid(&rep, 1), &o), 1);
	assert_int_equal(series_of(&rep, group_of_pid(&rep, 2), &o), 1);
	assert_int_equal(series_of(&rep, group_of_pid(&rep, 3), &o), -1);
	assert_int_equal(series_of(&rep, group_of_pid(&rep, 4), &o), -1);
	assert_int_equal(series_of(&rep, group_of_pid(&rep, 5), &o), -1);
	assert_int_equal(series_count(&rep, &o).own, 2);
	assert_int_equal(series_count(&rep, &o).limited, 3);
	assert_int_equal(series_count(&rep, &o).other_rx, 30 + 40 + 500);
	assert_int_equal(series_count(&rep, &o).other_tx, 3 + 4 + 50);

	build(&rep, interval_of(&f, 2, i2, 4), &o, &r);
	assert_int_equal(r.nrows, 4);
	assert_sums(&r, &f.iv);
	/* sticky both ways */
	assert_int_equal(series_of(&rep, group_of_pid(&rep, 1), &o), 1);
	assert_int_equal(series_of(&rep, group_of_pid(&rep, 2), &o), 1);
	assert_int_equal(series_of(&rep, group_of_pid(&rep, 3), &o), -1);
	assert_int_equal(series_of(&rep, group_of_pid(&rep, 5), &o), -1);
	assert_int_equal(series_of(&rep, group_of_pid(&rep, 6), &o), -1);
	assert_int_equal(series_count(&rep, &o).own, 2);
	assert_int_equal(series_count(&rep, &o).limited, 4);
	assert_int_equal(series_count(&rep, &o).other_rx, 570 + 1000 + 7 + 2);
	assert_int_equal(series_count(&rep, &o).other_tx, 57 + 100 + 7 + 2);
	/* the rows themselves are not limited */
	assert_row(row_of_pid(&r, 5), 1, 1000, 100, 1500, 150);
	assert_row(row_of_pid(&r, 3), 1, 2, 2, 32, 5);
	reporter_free(&rep);
}

/* other_rx/tx equal the totals of the limited groups, through table growth. */
static void test_max_series_many(void **state)
{
	struct options o = parse("--listen", "127.0.0.1:9877", "--max-series", "10", NULL);
	struct reporter rep;
	struct report r;
	struct fake_iv f;
	struct flow_entry e[60];
	__u64 orx = 0, otx = 0;
	size_t own = 0, limited = 0;
	char name[FLOW_COMM_LEN];
	const struct group *g;

	(void)state;
	assert_int_equal(o.by, BY_COMM);	/* the --listen default */
	assert_int_equal(reporter_init(&rep, &o), 0);
	for (unsigned long iv = 1; iv <= 3; iv++) {
		for (size_t i = 0; i < 60; i++) {
			snprintf(name, sizeof(name), "p%zu", i);
			e[i] = entry(key_pid(1 + (__u32)i, 1), name, i * 10 + iv, i + iv, 0, 0);
		}
		build(&rep, interval_of(&f, iv, e, 60), &o, &r);
		assert_int_equal(r.nrows, 60);
		assert_sums(&r, &f.iv);
	}
	for (size_t pos = 0; (g = reporter_next_group(&rep, &pos));) {
		assert_true(series_of(&rep, g, &o) == 1 || series_of(&rep, g, &o) == -1);
		if (series_of(&rep, g, &o) == 1) {
			/* the first 9 names seen: p0..p8 */
			assert_int_equal(g->comm[0], 'p');
			assert_true(atoi(g->comm + 1) < 9);
			own++;
		} else {
			assert_true(atoi(g->comm + 1) >= 9);
			orx += g->rx_total;
			otx += g->tx_total;
			limited++;
		}
	}
	assert_int_equal(own, 9);
	assert_int_equal(limited, 51);
	assert_int_equal(series_count(&rep, &o).limited, 51);
	assert_int_equal(series_count(&rep, &o).own, 9);
	assert_int_equal(series_count(&rep, &o).other_rx, orx);
	assert_int_equal(series_count(&rep, &o).other_tx, otx);
	reporter_free(&rep);
}

/* No --max-series: every group its own series; no --listen: no series at all. */
static void test_series_unlimited_and_off(void **state)
{
	struct options on = parse("--listen", "127.0.0.1:9877", "--by", "pid", NULL);
	struct options off = parse("--by", "pid", NULL);
	struct reporter rep;
	struct report r;
	struct fake_iv f;
	struct flow_entry e[20];

	(void)state;
	for (size_t i = 0; i < 20; i++)
		e[i] = entry(key_pid(1 + (__u32)i, 1), "x", 5, 5, 0, 0);

	assert_int_equal(reporter_init(&rep, &on), 0);
	build(&rep, interval_of(&f, 1, e, 20), &on, &r);
	for (__u32 p = 1; p <= 20; p++)
		assert_int_equal(series_of(&rep, group_of_pid(&rep, p), &on), 1);
	assert_int_equal(series_count(&rep, &on).limited, 0);
	assert_int_equal(series_count(&rep, &on).other_rx, 0);
	reporter_free(&rep);

	assert_int_equal(reporter_init(&rep, &off), 0);
	build(&rep, interval_of(&f, 1, e, 20), &off, &r);
	for (__u32 p = 1; p <= 20; p++)
		assert_int_equal(series_of(&rep, group_of_pid(&rep, p), &off), 0);
	assert_int_equal(series_count(&rep, &off).limited, 0);
	assert_int_equal(series_count(&rep, &off).own, 0);
	reporter_free(&rep);
}

/* --by flow with --listen: one group per flow, totals from deltas. */
static void test_flow_with_listen_groups(void **state)
{
	struct options o = parse("--listen", "127.0.0.1:9877", "--by", "flow", "--max-series",
				 "2", NULL);
	struct reporter rep;
	struct report r;
	struct fake_iv f;
	struct flow_entry i1[2] = {
		entry(key_pid(1, 1), "a", 10, 1, 10, 1),
		entry(key_pid(1, 2), "a", 5, 5, 5, 5),
	};
	struct flow_entry i2[1] = { entry(key_pid(1, 2), "a", 3, 3, 8, 8) };

	(void)state;
	assert_int_equal(reporter_init(&rep, &o), 0);
	build(&rep, interval_of(&f, 1, i1, 2), &o, &r);
	assert_int_equal(r.nrows, 2);
	assert_true(flow_key_eq(&r.rows[0].key, &i1[0].key));
	assert_string_equal(r.rows[0].comm, "a");
	assert_int_equal(used_groups(&rep), 2);
	assert_int_equal(series_of(&rep, group_of(&rep, &i1[0].key, ""), &o), 1);
	assert_int_equal(series_of(&rep, group_of(&rep, &i1[1].key, ""), &o), -1);
	build(&rep, interval_of(&f, 2, i2, 1), &o, &r);
	assert_int_equal(r.nrows, 1);
	assert_true(flow_key_eq(&r.rows[0].key, &i2[0].key));
	assert_row(&r.rows[0], 1, 3, 3, 8, 8);
	assert_int_equal(series_count(&rep, &o).other_rx, 8);
	assert_int_equal(series_count(&rep, &o).other_tx, 8);
	reporter_free(&rep);
}

/* ---- storage -------------------------------------------------------------- */

/* Each call reuses (and may move) the reporter's rows: copy what you keep. */
static void test_rows_storage_reused(void **state)
{
	struct options o = parse(NULL);
	struct reporter rep;
	struct report r1, r2;
	struct fake_iv f1, f2;
	struct flow_entry a[2] = {
		entry(key_pid(1, 1), "a", 2, 0, 2, 0),
		entry(key_pid(2, 1), "b", 1, 0, 1, 0),
	};
	struct flow_entry b[40];
	struct report_row kept[2];

	(void)state;
	for (size_t i = 0; i < 40; i++)
		b[i] = entry(key_pid(100 + (__u32)i, 1), "m", 40 - i, 0, 40 - i, 0);
	assert_int_equal(reporter_init(&rep, &o), 0);
	build(&rep, interval_of(&f1, 1, a, 2), &o, &r1);
	memcpy(kept, r1.rows, sizeof(kept));
	build(&rep, interval_of(&f2, 2, b, 40), &o, &r2);
	assert_int_equal(r2.nrows, 40);
	assert_true(rep.rows_cap >= 41);
	for (size_t i = 0; i < 40; i++)
		assert_int_equal(r2.rows[i].key.pid, 100 + i);
	assert_int_equal(kept[0].key.pid, 1);
	assert_int_equal(kept[1].key.pid, 2);
	reporter_free(&rep);
	assert_null(rep.groups.slots);
	assert_null(rep.rows);
}

/* ---- large ---------------------------------------------------------------- */

#define BIG_FLOWS 20000
#define BIG_PIDS 100

static void test_large_by_pid(void **state)
{
	struct options o = parse("--by", "pid", "--sort", "rx_total", NULL);
	struct flow_entry *e = calloc(BIG_FLOWS, sizeof(*e));
	struct flow_entry **rows = calloc(BIG_FLOWS, sizeof(*rows));
	__u64 want_rx[BIG_PIDS] = { 0 }, want_tx[BIG_PIDS] = { 0 };
	size_t want_n[BIG_PIDS];
	struct reporter rep;
	struct report r;
	struct interval iv;

	(void)state;
	assert_non_null(e);
	assert_non_null(rows);
	assert_int_equal(reporter_init(&rep, &o), 0);
	for (unsigned long index = 1; index <= 3; index++) {
		/* interval 2: only the even flows */
		size_t step = index == 2 ? 2 : 1, n = 0;

		memset(&iv, 0, sizeof(iv));
		memset(want_n, 0, sizeof(want_n));
		for (size_t i = 0; i < BIG_FLOWS; i += step) {
			__u32 pid = 5000 + (__u32)(i % BIG_PIDS);
			__u64 rx = (i + 1) * index, tx = i % 7 + index;

			e[n] = entry(key_v4(pid, "10.0.0.1", (__u16)(1024 + i / BIG_PIDS), "10.0.0.2",
					    80), "worker", rx, tx, 0, 0);
			rows[n] = &e[n];
			iv.rx_bytes += rx;
			iv.tx_bytes += tx;
			want_rx[i % BIG_PIDS] += rx;
			want_tx[i % BIG_PIDS] += tx;
			want_n[i % BIG_PIDS]++;
			n++;
		}
		iv.index = index;
		iv.rows = rows;
		iv.nrows = n;
		build(&rep, &iv, &o, &r);
		assert_int_equal(r.nrows, index == 2 ? BIG_PIDS / 2 : BIG_PIDS);
		assert_sums(&r, &iv);
		for (size_t i = 0; i < r.nrows; i++) {
			size_t p = r.rows[i].key.pid - 5000;

			assert_true(p < BIG_PIDS);
			assert_int_equal(r.rows[i].nflows, want_n[p]);
			assert_int_equal(r.rows[i].rx_total, want_rx[p]);
			assert_int_equal(r.rows[i].tx_total, want_tx[p]);
			if (i)
				assert_true(r.rows[i - 1].rx_total > r.rows[i].rx_total);
		}
		assert_int_equal(used_groups(&rep), BIG_PIDS);
		assert_true(rep.groups.cap >= 2 * BIG_PIDS);
	}
	reporter_free(&rep);
	free(rows);
	free(e);
}

/* 20,000 groups under --by flow --listen: many growths, every total kept. */
static void test_large_flows_with_listen(void **state)
{
	struct options o = parse("--listen", "127.0.0.1:9877", "--by", "flow", "--rows", "10",
				 NULL);
	struct flow_entry *e = calloc(BIG_FLOWS, sizeof(*e));
	struct flow_entry **rows = calloc(BIG_FLOWS, sizeof(*rows));
	struct reporter rep;
	struct report r;
	struct interval iv;
	__u64 sum_rx = 0, sum_tx = 0;
	const struct group *g;

	(void)state;
	assert_non_null(e);
	assert_non_null(rows);
	assert_int_equal(reporter_init(&rep, &o), 0);
	for (unsigned long index = 1; index <= 2; index++) {
		memset(&iv, 0, sizeof(iv));
		for (size_t i = 0; i < BIG_FLOWS; i++) {
			e[i] = entry(key_v4((__u32)(i / 1000 + 1), "10.0.0.1",
					    (__u16)(1024 + i % 1000), "10.0.0.2", 80), "w",
				     i + 1, 1, 0, 0);
			rows[i] = &e[i];
			iv.rx_bytes += i + 1;
			iv.tx_bytes += 1;
		}
		iv.index = index;
		iv.rows = rows;
		iv.nrows = BIG_FLOWS;
		build(&rep, &iv, &o, &r);
		assert_int_equal(r.nrows, 11);
		assert_true(r.rows[10].others);
		assert_int_equal(r.rows[10].nflows, BIG_FLOWS - 10);
		assert_sums(&r, &iv);
		/* the busiest flow is the last one; its total is two intervals' worth */
		assert_int_equal(r.rows[0].rx_delta, BIG_FLOWS);
		assert_int_equal(r.rows[0].rx_total, (__u64)BIG_FLOWS * index);
	}
	assert_int_equal(used_groups(&rep), BIG_FLOWS);
	for (size_t pos = 0; (g = reporter_next_group(&rep, &pos));) {
		assert_int_equal(series_of(&rep, g, &o), 1);
		sum_rx += g->rx_total;
		sum_tx += g->tx_total;
	}
	assert_int_equal(sum_rx, 2 * ((__u64)BIG_FLOWS * (BIG_FLOWS + 1) / 2));
	assert_int_equal(sum_tx, 2 * BIG_FLOWS);
	reporter_free(&rep);
	free(rows);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flow_rows_are_interval_rows),
		cmocka_unit_test(test_flow_empty_interval),
		cmocka_unit_test(test_sort_keys),
		cmocka_unit_test(test_sort_ties_deterministic),
		cmocka_unit_test(test_sort_saturates),
		cmocka_unit_test(test_rows_others),
		cmocka_unit_test(test_rows_no_others_when_fits),
		cmocka_unit_test(test_rows_one),
		cmocka_unit_test(test_rows_others_by_pid),
		cmocka_unit_test(test_pid_one_group_across_comms),
		cmocka_unit_test(test_pid_idle_group_keeps_totals),
		cmocka_unit_test(test_pid_sort_by_totals),
		cmocka_unit_test(test_comm_groups),
		cmocka_unit_test(test_comm_ties_by_name),
		cmocka_unit_test(test_raddr_map_v4),
		cmocka_unit_test(test_raddr_no_map_v4),
		cmocka_unit_test(test_lport_groups),
		cmocka_unit_test(test_group_key_each_by),
		cmocka_unit_test(test_expiry_without_listen),
		cmocka_unit_test(test_no_expiry_with_listen),
		cmocka_unit_test(test_listen_keeps_groups_forever),
		cmocka_unit_test(test_expiry_below_limit_kept),
		cmocka_unit_test(test_expiry_growth_exactly_idle_max),
		cmocka_unit_test(test_max_series),
		cmocka_unit_test(test_max_series_many),
		cmocka_unit_test(test_series_unlimited_and_off),
		cmocka_unit_test(test_flow_with_listen_groups),
		cmocka_unit_test(test_rows_storage_reused),
		cmocka_unit_test(test_large_by_pid),
		cmocka_unit_test(test_large_flows_with_listen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
