/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/collect.c (and the src/flowtab.c it drives): one
 * interval at a time against a fake struct map_ops backed by arrays that
 * each test mutates between intervals, as the kernel would.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "collect.h"

/* ---- the fake kernel maps ---------------------------------------------- */

#define FAKE_FLOWS 6000
#define FAKE_MARKS 64
#define FAKE_CALLS 64

struct fake {
	struct flow_key keys[FAKE_FLOWS];
	struct flow_val vals[FAKE_FLOWS];
	size_t nflows;
	struct flow_key marks[FAKE_MARKS];
	size_t nmarks;
	__u64 stats[STAT_MAX];

	/* bytes that reach late_key between the snapshot and its eviction */
	struct flow_key late_key;
	__u64 late_rx, late_tx;

	/* injected errors (0 = none) */
	int read_flows_err, read_closed_err, evict_err, unmark_err, read_stats_err;

	/* calls recorded */
	struct flow_key evicted[FAKE_CALLS];
	size_t nevicted;
	struct flow_key unmarked[FAKE_CALLS];
	size_t nunmarked;
	size_t read_flows_calls, read_closed_calls, read_stats_calls;
};

static struct fake fk;
static struct collector coll;

static bool key_eq(const struct flow_key *a, const struct flow_key *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static long fake_find(const struct flow_key *k)
{
	for (size_t i = 0; i < fk.nflows; i++)
		if (key_eq(&fk.keys[i], k))
			return (long)i;
	return -1;
}

static ssize_t fake_read_flows(void *ctx, const struct flow_key **keys,
			       const struct flow_val **vals)
{
	assert_ptr_equal(ctx, &fk);
	fk.read_flows_calls++;
	if (fk.read_flows_err)
		return fk.read_flows_err;
	*keys = fk.keys;
	*vals = fk.vals;
	return (ssize_t)fk.nflows;
}

static ssize_t fake_read_closed(void *ctx, const struct flow_key **keys)
{
	assert_ptr_equal(ctx, &fk);
	fk.read_closed_calls++;
	if (fk.read_closed_err)
		return fk.read_closed_err;
	*keys = fk.marks;
	return (ssize_t)fk.nmarks;
}

static int fake_evict(void *ctx, const struct flow_key *k, struct flow_val *last)
{
	long i;

	assert_ptr_equal(ctx, &fk);
	assert_true(fk.nevicted < FAKE_CALLS);
	fk.evicted[fk.nevicted++] = *k;
	if (fk.evict_err)
		return fk.evict_err;
	i = fake_find(k);
	if (i < 0)
		return -ENOENT;
	*last = fk.vals[i];
	if (key_eq(k, &fk.late_key)) {
		last->rx_bytes += fk.late_rx;
		last->tx_bytes += fk.late_tx;
	}
	fk.keys[i] = fk.keys[fk.nflows - 1];
	fk.vals[i] = fk.vals[fk.nflows - 1];
	fk.nflows--;
	return 0;
}

static int fake_unmark(void *ctx, const struct flow_key *k)
{
	assert_ptr_equal(ctx, &fk);
	assert_true(fk.nunmarked < FAKE_CALLS);
	fk.unmarked[fk.nunmarked++] = *k;
	if (fk.unmark_err)
		return fk.unmark_err;
	for (size_t i = 0; i < fk.nmarks; i++) {
		if (key_eq(&fk.marks[i], k)) {
			fk.marks[i] = fk.marks[--fk.nmarks];
			return 0;
		}
	}
	return -ENOENT;
}

static int fake_read_stats(void *ctx, __u64 out[STAT_MAX])
{
	assert_ptr_equal(ctx, &fk);
	fk.read_stats_calls++;
	if (fk.read_stats_err)
		return fk.read_stats_err;
	memcpy(out, fk.stats, sizeof(fk.stats));
	return 0;
}

static const struct map_ops ops = {
	.ctx = &fk,
	.read_flows = fake_read_flows,
	.read_closed = fake_read_closed,
	.evict = fake_evict,
	.unmark = fake_unmark,
	.read_stats = fake_read_stats,
};

/* Sets a flow's cumulative counters, adding it when new. */
static void fake_set(const struct flow_key *k, __u64 rx, __u64 tx, const char *comm)
{
	long i = fake_find(k);

	if (i < 0) {
		assert_true(fk.nflows < FAKE_FLOWS);
		i = (long)fk.nflows++;
		fk.keys[i] = *k;
	}
	memset(&fk.vals[i], 0, sizeof(fk.vals[i]));
	fk.vals[i].rx_bytes = rx;
	fk.vals[i].tx_bytes = tx;
	memcpy(fk.vals[i].comm, comm, strnlen(comm, FLOW_COMM_LEN));
}

static void fake_remove(const struct flow_key *k)
{
	long i = fake_find(k);

	assert_true(i >= 0);
	fk.keys[i] = fk.keys[fk.nflows - 1];
	fk.vals[i] = fk.vals[fk.nflows - 1];
	fk.nflows--;
}

/* What the probe's inet_sock_set_state handler stores: the tuple, pid 0. */
static void fake_mark(const struct flow_key *k)
{
	assert_true(fk.nmarks < FAKE_MARKS);
	flow_tuple(k, &fk.marks[fk.nmarks++]);
}

static bool fake_marked(const struct flow_key *k)
{
	struct flow_key t;

	flow_tuple(k, &t);
	for (size_t i = 0; i < fk.nmarks; i++)
		if (key_eq(&fk.marks[i], &t))
			return true;
	return false;
}

static void fake_clear_calls(void)
{
	fk.nevicted = fk.nunmarked = 0;
}

/* ---- helpers -------------------------------------------------------------- */

/* 127.0.0.1:lport -> 10.0.0.2:443, as the probe fills it. */
static struct flow_key key4(__u32 pid, __u16 lport)
{
	struct flow_key k;

	memset(&k, 0, sizeof(k));
	k.pid = pid;
	k.family = AF_INET;
	k.lport = lport;
	k.rport = 443;
	k.laddr[0] = 127;
	k.laddr[3] = 1;
	k.raddr[0] = 10;
	k.raddr[3] = 2;
	return k;
}

static void run_interval(struct interval *iv)
{
	int err = collect_interval(&coll, &ops, iv);

	if (err)
		fail_msg("collect_interval failed: %d (%s)", err, strerror(-err));
}

/* collect_interval then collect_end, as the monitor loop does. */
static void run_full_interval(struct interval *iv)
{
	run_interval(iv);
	assert_int_equal(collect_end(&coll), 0);
}

static const struct flow_entry *find_row(const struct interval *iv, const struct flow_key *k)
{
	for (size_t i = 0; i < iv->nrows; i++)
		if (key_eq(&iv->rows[i]->key, k))
			return iv->rows[i];
	return NULL;
}

static void assert_entry(const struct flow_entry *e, __u64 rx_delta, __u64 tx_delta,
			 __u64 rx_total, __u64 tx_total)
{
	assert_non_null(e);
	assert_int_equal(e->rx_delta, rx_delta);
	assert_int_equal(e->tx_delta, tx_delta);
	assert_int_equal(e->rx_total, rx_total);
	assert_int_equal(e->tx_total, tx_total);
}

#define assert_row(iv, k, rxd, txd, rxt, txt) assert_entry(find_row((iv), (k)), rxd, txd, rxt, txt)

static void assert_sums_match_rows(const struct interval *iv)
{
	__u64 rx = 0, tx = 0;

	for (size_t i = 0; i < iv->nrows; i++) {
		rx += iv->rows[i]->rx_delta;
		tx += iv->rows[i]->tx_delta;
	}
	assert_int_equal(iv->rx_bytes, rx);
	assert_int_equal(iv->tx_bytes, tx);
}

static int setup(void **state)
{
	(void)state;
	memset(&fk, 0, sizeof(fk));
	memset(&fk.late_key, 0xff, sizeof(fk.late_key));
	return collect_init(&coll, 65536);
}

static int teardown(void **state)
{
	(void)state;
	collect_free(&coll);
	return 0;
}

/* ---- deltas and totals ---------------------------------------------------- */

static void test_first_interval_deltas_equal_values(void **state)
{
	struct flow_key a = key4(100, 40000), b = key4(200, 40001);
	struct interval iv;

	(void)state;
	fake_set(&a, 1000, 200, "curl");
	fake_set(&b, 0, 4096, "nginx");
	run_interval(&iv);

	assert_int_equal(iv.index, 1);
	assert_int_equal(iv.nrows, 2);
	assert_row(&iv, &a, 1000, 200, 1000, 200);
	assert_row(&iv, &b, 0, 4096, 0, 4096);
	assert_string_equal(find_row(&iv, &a)->comm, "curl");
	assert_string_equal(find_row(&iv, &b)->comm, "nginx");
	assert_int_equal(iv.rx_bytes, 1000);
	assert_int_equal(iv.tx_bytes, 4296);
	assert_int_equal(iv.tracked, 2);
	assert_int_equal(iv.evicted, 0);
	assert_int_equal(fk.nevicted, 0);
	assert_int_equal(fk.nunmarked, 0);
	assert_int_equal(fk.read_flows_calls, 1);
	assert_int_equal(fk.read_closed_calls, 1);
	assert_int_equal(fk.read_stats_calls, 1);
}

static void test_second_interval_differences_and_totals(void **state)
{
	struct flow_key a = key4(100, 40000), b = key4(200, 40001);
	struct interval iv;

	(void)state;
	fake_set(&a, 1000, 200, "curl");
	fake_set(&b, 10, 4096, "nginx");
	run_full_interval(&iv);

	fake_set(&a, 1500, 260, "curl");
	fake_set(&b, 11, 5000, "nginx");
	run_interval(&iv);
	assert_int_equal(iv.index, 2);
	assert_int_equal(iv.nrows, 2);
	assert_row(&iv, &a, 500, 60, 1500, 260);
	assert_row(&iv, &b, 1, 904, 11, 5000);
	assert_int_equal(iv.rx_bytes, 501);
	assert_int_equal(iv.tx_bytes, 964);
	assert_int_equal(collect_end(&coll), 0);

	fake_set(&a, 1501, 260, "curl");
	run_interval(&iv);
	assert_int_equal(iv.index, 3);
	assert_int_equal(iv.nrows, 1);
	assert_row(&iv, &a, 1, 0, 1501, 260);
}

/* An empty table sorts nothing (no qsort on a NULL array; UBSan checks it). */
static void test_empty_maps_sort_no_rows(void **state)
{
	struct interval iv;

	(void)state;
	run_full_interval(&iv);
	assert_int_equal(iv.index, 1);
	assert_int_equal(iv.nrows, 0);
	assert_int_equal(iv.rx_bytes, 0);
	assert_int_equal(iv.tx_bytes, 0);
	assert_int_equal(iv.tracked, 0);
	assert_int_equal(iv.evicted, 0);
}

static void test_unchanged_flow_has_no_row(void **state)
{
	struct flow_key a = key4(100, 40000), b = key4(200, 40001);
	struct interval iv;

	(void)state;
	fake_set(&a, 1000, 200, "curl");
	fake_set(&b, 10, 20, "nginx");
	run_full_interval(&iv);

	fake_set(&b, 10, 25, "nginx");
	run_interval(&iv);
	assert_int_equal(iv.nrows, 1);
	assert_null(find_row(&iv, &a));
	assert_row(&iv, &b, 0, 5, 10, 25);
	assert_int_equal(iv.tracked, 2);	/* still tracked, just quiet */
	assert_int_equal(iv.rx_bytes, 0);
	assert_int_equal(iv.tx_bytes, 5);
}

static void test_zero_byte_flow_has_no_row(void **state)
{
	struct flow_key a = key4(100, 40000);
	struct interval iv;

	(void)state;
	fake_set(&a, 0, 0, "idle");
	run_interval(&iv);
	assert_int_equal(iv.nrows, 0);
	assert_int_equal(iv.tracked, 1);
}

static void test_recreated_kernel_entry_counts_from_zero(void **state)
{
	struct flow_key a = key4(100, 40000);
	struct interval iv;

	(void)state;
	fake_set(&a, 1000, 500, "curl");
	run_full_interval(&iv);

	/* the kernel entry was deleted and re-created: counters restarted */
	fake_set(&a, 30, 600, "curl");
	run_interval(&iv);
	assert_row(&iv, &a, 30, 100, 1030, 600);
}

static void test_comm_follows_latest_value_and_is_terminated(void **state)
{
	struct flow_key a = key4(100, 40000);
	struct interval iv;

	(void)state;
	fake_set(&a, 1, 0, "old");
	run_full_interval(&iv);

	fake_set(&a, 2, 0, "");
	memset(fk.vals[0].comm, 'z', FLOW_COMM_LEN);	/* no NUL at all */
	run_interval(&iv);
	assert_non_null(find_row(&iv, &a));
	assert_string_equal(find_row(&iv, &a)->comm, "zzzzzzzzzzzzzzz");
}

/* ---- row order ------------------------------------------------------------ */

static void test_rows_sorted_by_interval_bytes(void **state)
{
	struct flow_key a = key4(1, 1000), b = key4(2, 2000), c = key4(3, 3000),
			d = key4(4, 4000);
	struct interval iv;

	(void)state;
	fake_set(&a, 100, 0, "a");	/* 100 */
	fake_set(&b, 100, 200, "b");	/* 300: rx + tx */
	fake_set(&c, 0, 200, "c");	/* 200 */
	fake_set(&d, 5000, 0, "d");	/* 5000 */
	run_interval(&iv);

	assert_int_equal(iv.nrows, 4);
	assert_true(key_eq(&iv.rows[0]->key, &d));
	assert_true(key_eq(&iv.rows[1]->key, &b));
	assert_true(key_eq(&iv.rows[2]->key, &c));
	assert_true(key_eq(&iv.rows[3]->key, &a));
}

static void test_ties_broken_by_totals_then_key(void **state)
{
	struct flow_key a = key4(1, 1000), b = key4(2, 1000), c = key4(3, 1000);
	struct interval iv;

	(void)state;
	fake_set(&c, 1000, 0, "c");
	fake_set(&b, 10, 0, "b");
	fake_set(&a, 10, 0, "a");
	run_full_interval(&iv);

	/* all three carry 50 bytes now: c has the largest total */
	fake_set(&a, 60, 0, "a");
	fake_set(&b, 10, 50, "b");
	fake_set(&c, 1050, 0, "c");
	run_interval(&iv);
	assert_int_equal(iv.nrows, 3);
	assert_true(key_eq(&iv.rows[0]->key, &c));
	/* a and b: same delta (50), same total (110): pid 1 before pid 2 */
	assert_true(key_eq(&iv.rows[1]->key, &a));
	assert_true(key_eq(&iv.rows[2]->key, &b));
}

static void test_order_independent_of_snapshot_order(void **state)
{
	struct flow_key k[6];
	struct flow_key first[6];
	struct interval iv;

	(void)state;
	for (int i = 0; i < 6; i++)
		k[i] = key4((__u32)(10 + i % 2), (__u16)(5000 + i / 2));
	for (int i = 0; i < 6; i++)
		fake_set(&k[i], 77, 0, "same");
	run_interval(&iv);
	assert_int_equal(iv.nrows, 6);
	for (int i = 0; i < 6; i++)
		first[i] = iv.rows[i]->key;
	collect_free(&coll);

	/* the same flows, snapshot in reverse order, fresh collector */
	assert_int_equal(collect_init(&coll, 65536), 0);
	fk.nflows = 0;
	for (int i = 5; i >= 0; i--)
		fake_set(&k[i], 77, 0, "same");
	run_interval(&iv);
	assert_int_equal(iv.nrows, 6);
	for (int i = 0; i < 6; i++)
		assert_true(key_eq(&iv.rows[i]->key, &first[i]));
	for (int i = 1; i < 6; i++)
		assert_true(memcmp(&iv.rows[i - 1]->key, &iv.rows[i]->key,
				   sizeof(struct flow_key)) < 0);
}

static void test_interval_sums_equal_rows(void **state)
{
	struct interval iv;

	(void)state;
	for (__u16 i = 0; i < 40; i++) {
		struct flow_key k = key4(1000u + i, (__u16)(30000 + i));

		fake_set(&k, (__u64)i * 1000, (__u64)i * 7, "w");
	}
	run_full_interval(&iv);
	assert_int_equal(iv.nrows, 39);	/* flow 0 carried nothing */
	assert_int_equal(iv.rx_bytes, 780000);
	assert_int_equal(iv.tx_bytes, 5460);
	assert_sums_match_rows(&iv);

	for (__u16 i = 0; i < 40; i += 3) {
		struct flow_key k = key4(1000u + i, (__u16)(30000 + i));

		fake_set(&k, (__u64)i * 1000 + i, (__u64)i * 7 + 1, "w");
	}
	run_interval(&iv);
	assert_int_equal(iv.nrows, 14);
	assert_int_equal(iv.rx_bytes, 13 * 14 / 2 * 3);	/* 0+3+...+39 */
	assert_int_equal(iv.tx_bytes, 14);
	assert_sums_match_rows(&iv);
}

static struct flow_entry entry_with(__u64 rx_delta, __u64 tx_delta, __u64 rx_total,
				    __u64 tx_total, __u32 pid)
{
	struct flow_entry e;

	memset(&e, 0, sizeof(e));
	e.key = key4(pid, 1);
	e.rx_delta = rx_delta;
	e.tx_delta = tx_delta;
	e.rx_total = rx_total;
	e.tx_total = tx_total;
	e.used = true;
	return e;
}

static int cmp_entries(const struct flow_entry *a, const struct flow_entry *b)
{
	return flow_entry_cmp(&a, &b);
}

static void test_cmp_extreme_values(void **state)
{
	struct flow_entry zero = entry_with(0, 0, 0, 0, 1);
	struct flow_entry huge = entry_with(UINT64_MAX - 1, 0, UINT64_MAX - 1, 0, 1);
	struct flow_entry max = entry_with(0, UINT64_MAX, 0, UINT64_MAX, 1);
	struct flow_entry total_zero = entry_with(5, 0, 5, 0, 2);
	struct flow_entry total_huge = entry_with(5, 0, UINT64_MAX, 0, 2);

	(void)state;
	assert_true(cmp_entries(&huge, &zero) < 0);	/* busiest first */
	assert_true(cmp_entries(&zero, &huge) > 0);
	assert_true(cmp_entries(&max, &huge) < 0);
	assert_true(cmp_entries(&huge, &max) > 0);
	assert_true(cmp_entries(&max, &zero) < 0);
	assert_true(cmp_entries(&zero, &max) > 0);
	assert_true(cmp_entries(&total_huge, &total_zero) < 0);
	assert_true(cmp_entries(&total_zero, &total_huge) > 0);
	assert_int_equal(cmp_entries(&huge, &huge), 0);
	assert_int_equal(cmp_entries(&zero, &zero), 0);
}

static void test_cmp_key_breaks_full_ties(void **state)
{
	struct flow_entry a = entry_with(9, 9, 90, 90, 1);
	struct flow_entry b = entry_with(9, 9, 90, 90, 2);

	(void)state;
	assert_true(cmp_entries(&a, &b) < 0);
	assert_true(cmp_entries(&b, &a) > 0);
	assert_int_equal(cmp_entries(&a, &a), 0);
}

/* Sort keys saturate instead of wrapping when rx + tx exceeds 64 bits. */
static void test_cmp_sum_of_rx_and_tx_saturates(void **state)
{
	struct flow_entry busy = entry_with(UINT64_MAX - 1, 2, UINT64_MAX - 1, 2, 1);
	struct flow_entry one = entry_with(1, 0, 1, 0, 2);
	struct flow_entry busy_total = entry_with(1, 0, UINT64_MAX, 1, 3);
	struct flow_entry small_total = entry_with(1, 0, 1, 0, 2);

	(void)state;
	assert_true(cmp_entries(&busy, &one) < 0);
	assert_true(cmp_entries(&one, &busy) > 0);
	assert_true(cmp_entries(&busy_total, &small_total) < 0);
	assert_true(cmp_entries(&small_total, &busy_total) > 0);
}

/* ---- eviction of closed flows ---------------------------------------------- */

static void test_closed_idle_flow_evicted(void **state)
{
	struct flow_key a = key4(100, 40000), b = key4(200, 40001);
	struct interval iv;

	(void)state;
	fake_set(&a, 1000, 200, "curl");
	fake_set(&b, 10, 20, "nginx");
	run_full_interval(&iv);

	fake_mark(&a);
	run_interval(&iv);
	assert_int_equal(fk.nevicted, 1);
	assert_true(key_eq(&fk.evicted[0], &a));
	assert_int_equal(fk.nunmarked, 1);
	assert_int_equal(fk.unmarked[0].pid, 0);
	assert_false(fake_marked(&a));
	assert_int_equal(fake_find(&a), -1);	/* deleted from the kernel map */
	assert_int_equal(iv.evicted, 1);
	assert_int_equal(iv.tracked, 1);
	assert_int_equal(iv.nrows, 0);	/* nothing new to report */
	assert_int_equal(collect_end(&coll), 0);
	assert_int_equal(coll.tab.t.count, 1);
	assert_null(flowtab_find(&coll.tab, &a));
	assert_non_null(flowtab_find(&coll.tab, &b));

	fake_clear_calls();
	run_interval(&iv);
	assert_int_equal(iv.tracked, 1);
	assert_int_equal(iv.evicted, 0);
	assert_int_equal(fk.nevicted, 0);
	assert_int_equal(fk.nunmarked, 0);
}

static void test_eviction_residual_bytes_reported(void **state)
{
	struct flow_key a = key4(100, 40000);
	struct interval iv;
	const struct flow_entry *e;

	(void)state;
	fake_set(&a, 1000, 200, "curl");
	run_full_interval(&iv);

	/* idle in the snapshot, but the last bytes landed before the delete */
	fake_mark(&a);
	fk.late_key = a;
	fk.late_rx = 7;
	fk.late_tx = 3;
	run_interval(&iv);
	assert_int_equal(fk.nevicted, 1);
	assert_int_equal(iv.evicted, 1);
	assert_int_equal(iv.nrows, 1);
	e = find_row(&iv, &a);
	assert_entry(e, 7, 3, 1007, 203);
	assert_true(e->evicted);
	assert_int_equal(iv.rx_bytes, 7);
	assert_int_equal(iv.tx_bytes, 3);
	assert_int_equal(iv.tracked, 0);
}

static void test_new_flow_closed_in_first_interval(void **state)
{
	struct flow_key a = key4(100, 40000);
	struct interval iv;

	(void)state;
	/* created with 0 bytes, closed, and its bytes only seen at delete time */
	fake_set(&a, 0, 0, "short");
	fake_mark(&a);
	fk.late_key = a;
	fk.late_rx = 512;
	fk.late_tx = 64;
	run_interval(&iv);
	assert_int_equal(iv.nrows, 1);
	assert_row(&iv, &a, 512, 64, 512, 64);
	assert_string_equal(find_row(&iv, &a)->comm, "short");
	assert_int_equal(iv.evicted, 1);
	assert_int_equal(iv.tracked, 0);
}

static void test_closed_active_flow_kept_until_idle(void **state)
{
	struct flow_key a = key4(100, 40000);
	struct interval iv;

	(void)state;
	fake_set(&a, 1000, 200, "curl");
	run_full_interval(&iv);

	/* marked, but bytes moved this interval: keep flow and mark */
	fake_mark(&a);
	fake_set(&a, 1100, 200, "curl");
	run_full_interval(&iv);
	assert_int_equal(fk.nevicted, 0);
	assert_int_equal(fk.nunmarked, 0);
	assert_true(fake_marked(&a));
	assert_int_equal(iv.evicted, 0);
	assert_int_equal(iv.tracked, 1);
	assert_int_equal(coll.tab.t.count, 1);

	/* idle now: evicted, mark removed */
	run_interval(&iv);
	assert_int_equal(fk.nevicted, 1);
	assert_true(key_eq(&fk.evicted[0], &a));
	assert_int_equal(fk.nunmarked, 1);
	assert_false(fake_marked(&a));
	assert_int_equal(iv.evicted, 1);
	assert_int_equal(iv.tracked, 0);
	assert_int_equal(collect_end(&coll), 0);
	assert_int_equal(coll.tab.t.count, 0);
}

static void test_mark_without_flow_unmarked(void **state)
{
	struct flow_key a = key4(100, 40000), ghost = key4(0, 1);
	struct interval iv;

	(void)state;
	fake_set(&a, 1, 1, "curl");
	fake_mark(&ghost);
	run_interval(&iv);
	assert_int_equal(fk.nevicted, 0);
	assert_int_equal(fk.nunmarked, 1);
	assert_true(key_eq(&fk.unmarked[0], &ghost));
	assert_int_equal(fk.nmarks, 0);
	assert_int_equal(iv.evicted, 0);
	assert_row(&iv, &a, 1, 1, 1, 1);
}

static void test_evicted_key_reappearing_is_new_flow(void **state)
{
	struct flow_key a = key4(100, 40000);
	struct interval iv;

	(void)state;
	fake_set(&a, 1000, 200, "curl");
	run_full_interval(&iv);
	fake_mark(&a);
	run_full_interval(&iv);
	assert_int_equal(coll.tab.t.count, 0);

	/* a new socket reuses the tuple: counters restart small */
	fake_set(&a, 10, 5, "curl2");
	run_interval(&iv);
	assert_int_equal(iv.nrows, 1);
	assert_row(&iv, &a, 10, 5, 10, 5);
	assert_string_equal(find_row(&iv, &a)->comm, "curl2");
	assert_int_equal(iv.tracked, 1);
	assert_int_equal(collect_end(&coll), 0);

	/* even a larger counter than before eviction is all new bytes */
	fake_mark(&a);
	fk.late_key = a;
	fk.late_rx = 0;
	run_full_interval(&iv);
	fk.nmarks = 0;
	fake_set(&a, 5000, 0, "curl3");
	run_interval(&iv);
	assert_row(&iv, &a, 5000, 0, 5000, 0);
}

static void test_vanished_flow_dropped(void **state)
{
	struct flow_key a = key4(100, 40000), b = key4(200, 40001);
	struct interval iv;

	(void)state;
	fake_set(&a, 1000, 200, "curl");
	fake_set(&b, 10, 20, "nginx");
	run_full_interval(&iv);

	fake_remove(&a);
	fake_set(&b, 11, 20, "nginx");
	run_interval(&iv);
	assert_int_equal(fk.nevicted, 0);	/* already gone: nothing to delete */
	assert_int_equal(iv.evicted, 1);
	assert_int_equal(iv.tracked, 1);
	assert_int_equal(iv.nrows, 1);
	assert_null(find_row(&iv, &a));
	assert_int_equal(collect_end(&coll), 0);
	assert_int_equal(coll.tab.t.count, 1);
	assert_null(flowtab_find(&coll.tab, &a));

	/* back again with a larger counter: still a new flow */
	fake_set(&a, 1500, 200, "curl");
	run_interval(&iv);
	assert_row(&iv, &a, 1500, 200, 1500, 200);
}

static void test_pids_sharing_tuple_evicted_by_one_mark(void **state)
{
	struct flow_key p1 = key4(100, 40000), p2 = key4(200, 40000), p3 = key4(300, 40000);
	struct flow_key other = key4(100, 40001);
	struct interval iv;

	(void)state;
	fake_set(&p1, 1, 0, "a");
	fake_set(&p2, 2, 0, "b");
	fake_set(&p3, 3, 0, "c");
	fake_set(&other, 4, 0, "a");
	run_full_interval(&iv);

	fake_mark(&p2);		/* one mark for the tuple, whatever the pid */
	run_interval(&iv);
	assert_int_equal(fk.nevicted, 3);
	assert_int_equal(fake_find(&p1), -1);
	assert_int_equal(fake_find(&p2), -1);
	assert_int_equal(fake_find(&p3), -1);
	assert_true(fake_find(&other) >= 0);
	assert_int_equal(fk.nunmarked, 1);
	assert_int_equal(iv.evicted, 3);
	assert_int_equal(iv.tracked, 1);
	assert_int_equal(collect_end(&coll), 0);
	assert_int_equal(coll.tab.t.count, 1);
}

static void test_shared_tuple_one_active_keeps_mark(void **state)
{
	struct flow_key p1 = key4(100, 40000), p2 = key4(200, 40000);
	struct interval iv;

	(void)state;
	fake_set(&p1, 1, 0, "a");
	fake_set(&p2, 2, 0, "b");
	run_full_interval(&iv);

	fake_mark(&p1);
	fake_set(&p1, 10, 0, "a");	/* still active */
	run_interval(&iv);
	assert_int_equal(fk.nevicted, 1);
	assert_true(key_eq(&fk.evicted[0], &p2));
	assert_int_equal(fk.nunmarked, 0);
	assert_true(fake_marked(&p1));
	assert_int_equal(iv.evicted, 1);
	assert_int_equal(iv.tracked, 1);
}

static void test_evict_enoent_drops_flow(void **state)
{
	struct flow_key a = key4(100, 40000);
	struct interval iv;

	(void)state;
	fake_set(&a, 1000, 200, "curl");
	run_full_interval(&iv);

	fake_mark(&a);
	fk.evict_err = -ENOENT;		/* deleted by someone else meanwhile */
	run_interval(&iv);
	assert_int_equal(fk.nevicted, 1);
	assert_int_equal(iv.evicted, 1);
	assert_int_equal(iv.nrows, 0);
	assert_int_equal(collect_end(&coll), 0);
	assert_int_equal(coll.tab.t.count, 0);
}

static void test_many_marks_all_handled(void **state)
{
	struct interval iv;

	(void)state;
	for (__u16 i = 0; i < 40; i++) {
		struct flow_key k = key4(500, (__u16)(20000 + i));

		fake_set(&k, 100 + i, 0, "w");
	}
	run_full_interval(&iv);

	/* more marks than the mark set's first size: all must be found */
	for (__u16 i = 0; i < 40; i++) {
		struct flow_key k = key4(500, (__u16)(20000 + i));

		fake_mark(&k);
	}
	run_interval(&iv);
	assert_int_equal(fk.nevicted, 40);
	assert_int_equal(fk.nunmarked, 40);
	assert_int_equal(fk.nflows, 0);
	assert_int_equal(fk.nmarks, 0);
	assert_int_equal(iv.evicted, 40);
	assert_int_equal(iv.tracked, 0);
	assert_int_equal(collect_end(&coll), 0);
	assert_int_equal(coll.tab.t.count, 0);
}

/* ---- stats ------------------------------------------------------------- */

static void test_stats_deltas(void **state)
{
	struct interval iv;

	(void)state;
	fk.stats[STAT_EVENTS] = 100;
	fk.stats[STAT_DROPPED] = 3;
	fk.stats[STAT_DROPPED_BYTES] = 4500;
	run_full_interval(&iv);
	assert_int_equal(iv.events, 100);
	assert_int_equal(iv.dropped, 3);
	assert_int_equal(iv.dropped_bytes, 4500);

	fk.stats[STAT_EVENTS] = 250;
	run_full_interval(&iv);
	assert_int_equal(iv.events, 150);
	assert_int_equal(iv.dropped, 0);
	assert_int_equal(iv.dropped_bytes, 0);

	fk.stats[STAT_DROPPED] = 10;
	fk.stats[STAT_DROPPED_BYTES] = 4600;
	run_interval(&iv);
	assert_int_equal(iv.events, 0);
	assert_int_equal(iv.dropped, 7);
	assert_int_equal(iv.dropped_bytes, 100);
}

/* ---- many flows ---------------------------------------------------------- */

static struct flow_key many_key(unsigned i)
{
	struct flow_key k = key4(1000 + i % 97, (__u16)(1024 + i));

	k.raddr[2] = (__u8)(i >> 8);
	return k;
}

static void test_5000_flows_exact(void **state)
{
	const unsigned n = 5000;
	struct flow_key last;
	struct interval iv;
	__u64 rx_sum = 0, tx_sum = 0;

	(void)state;
	for (unsigned i = 0; i < n; i++) {
		struct flow_key k = many_key(i);

		fake_set(&k, (__u64)i * 3 + 1, i, "many");
	}
	run_full_interval(&iv);
	assert_int_equal(iv.nrows, n);
	assert_int_equal(iv.tracked, n);
	assert_int_equal(coll.tab.t.count, n);
	for (unsigned i = 0; i < n; i++) {
		struct flow_key k = many_key(i);
		const struct flow_entry *e = flowtab_find(&coll.tab, &k);

		assert_entry(e, (__u64)i * 3 + 1, i, (__u64)i * 3 + 1, i);
	}

	for (unsigned i = 0; i < n; i++) {
		fk.vals[i].rx_bytes += i;
		fk.vals[i].tx_bytes += 2 * (__u64)i;
		rx_sum += i;
		tx_sum += 2 * (__u64)i;
	}
	run_interval(&iv);
	assert_int_equal(iv.nrows, n - 1);	/* flow 0 moved nothing */
	assert_int_equal(iv.rx_bytes, rx_sum);
	assert_int_equal(iv.tx_bytes, tx_sum);
	assert_int_equal(iv.tracked, n);
	for (unsigned i = 0; i < n; i++) {
		struct flow_key k = many_key(i);
		const struct flow_entry *e = flowtab_find(&coll.tab, &k);

		assert_entry(e, i, 2 * (__u64)i, (__u64)i * 4 + 1, (__u64)i * 3);
	}
	for (size_t i = 1; i < iv.nrows; i++)
		assert_true(flow_entry_cmp(&iv.rows[i - 1], &iv.rows[i]) < 0);
	last = many_key(n - 1);		/* the busiest: 3 * 4999 bytes */
	assert_true(key_eq(&iv.rows[0]->key, &last));
	assert_int_equal(iv.rows[0]->rx_delta, n - 1);
}

/* ---- the socket table ---------------------------------------------------- */

#define FAKE_SOCKS 16

/* The kernel's socket table, beside the tuple table of struct fake. */
static struct {
	__u64 keys[FAKE_SOCKS];
	struct sock_flow vals[FAKE_SOCKS];
	size_t n;
	__u64 late_sk;		/* gets late_rx more bytes between snapshot and delete */
	__u64 late_rx, late_events;
	int evict_err;
	__u64 evicted[FAKE_CALLS];
	size_t nevicted;
} fs;

static long fs_find(__u64 sk)
{
	for (size_t i = 0; i < fs.n; i++)
		if (fs.keys[i] == sk)
			return (long)i;
	return -1;
}

static ssize_t fake_read_socks(void *ctx, const __u64 **keys, const struct sock_flow **vals)
{
	assert_ptr_equal(ctx, &fk);
	*keys = fs.keys;
	*vals = fs.vals;
	return (ssize_t)fs.n;
}

static int fake_evict_sock(void *ctx, __u64 sk, struct sock_flow *last)
{
	long i = fs_find(sk);

	assert_ptr_equal(ctx, &fk);
	assert_true(fs.nevicted < FAKE_CALLS);
	fs.evicted[fs.nevicted++] = sk;
	if (fs.evict_err)
		return fs.evict_err;
	if (i < 0)
		return -ENOENT;
	*last = fs.vals[i];
	if (sk == fs.late_sk) {
		last->val.rx_bytes += fs.late_rx;
		last->events += fs.late_events;
	}
	fs.keys[i] = fs.keys[fs.n - 1];
	fs.vals[i] = fs.vals[fs.n - 1];
	fs.n--;
	return 0;
}

static const struct map_ops sock_ops = {
	.ctx = &fk,
	.read_flows = fake_read_flows,
	.read_socks = fake_read_socks,
	.evict_sock = fake_evict_sock,
	.read_closed = fake_read_closed,
	.evict = fake_evict,
	.unmark = fake_unmark,
	.read_stats = fake_read_stats,
};

/* Sets socket sk's entry (flow k, cumulative counters, flags), adding it when new. */
static void fs_set(__u64 sk, const struct flow_key *k, __u64 rx, __u64 tx, __u32 flags)
{
	long i = fs_find(sk);

	if (i < 0) {
		assert_true(fs.n < FAKE_SOCKS);
		i = (long)fs.n++;
		fs.keys[i] = sk;
	}
	memset(&fs.vals[i], 0, sizeof(fs.vals[i]));
	fs.vals[i].key = *k;
	fs.vals[i].val.rx_bytes = rx;
	fs.vals[i].val.tx_bytes = tx;
	fs.vals[i].flags = flags;
	memcpy(fs.vals[i].val.comm, "sock", 5);
}

static bool sock_pending;	/* an interval was collected and not yet ended */

/* Ends the last interval (its rows die then), as the monitor loop does. */
static void sock_end(void)
{
	if (sock_pending)
		assert_int_equal(collect_end(&coll), 0);
	sock_pending = false;
}

/* Ends the previous interval and collects the next; its rows live until sock_end(). */
static void sock_interval(struct interval *iv)
{
	int err;

	sock_end();
	err = collect_interval(&coll, &sock_ops, iv);
	if (err)
		fail_msg("collect_interval failed: %d (%s)", err, strerror(-err));
	sock_pending = true;
}

static int sock_setup(void **state)
{
	memset(&fs, 0, sizeof(fs));
	sock_pending = false;
	return setup(state);
}

/* UDP: a peer's flow leaves the kernel once idle UDP_IDLE_INTERVALS, its last bytes kept. */
static void test_udp_peer_flow_evicted_when_idle(void **state)
{
	struct flow_key u = key4(100, 5353), t = key4(100, 40000);
	struct interval iv;

	(void)state;
	u.proto = FLOW_PROTO_UDP;
	t.proto = FLOW_PROTO_TCP;
	fake_set(&u, 100, 50, "dns");
	fake_set(&t, 10, 20, "curl");
	run_full_interval(&iv);
	for (int i = 1; i < UDP_IDLE_INTERVALS; i++) {
		run_full_interval(&iv);
		assert_int_equal(fk.nevicted, 0);
	}
	fake_set(&u, 130, 50, "dns");	/* 30 bytes came in the last idle interval */
	run_full_interval(&iv);
	assert_int_equal(fk.nevicted, 0);	/* active again: the count restarts */
	for (int i = 1; i <= UDP_IDLE_INTERVALS; i++)
		run_full_interval(&iv);
	assert_int_equal(fk.nevicted, 1);
	assert_true(key_eq(&fk.evicted[0], &u));
	assert_true(fake_find(&t) >= 0);
	assert_null(flowtab_find(&coll.tab, &u));
	assert_non_null(flowtab_find(&coll.tab, &t));	/* TCP waits for its close mark */
}

/* UDP: a released socket's entry takes the flows of its local end to every peer. */
static void test_udp_released_socket_evicts_its_peers(void **state)
{
	struct flow_key ent = key4(100, 5353), p1 = key4(100, 5353), p2 = key4(100, 5353),
			other = key4(100, 5354);
	struct interval iv;

	(void)state;
	ent.proto = p1.proto = p2.proto = other.proto = FLOW_PROTO_UDP;
	p1.rport = 1111;
	p2.rport = 2222;
	fs_set(0xffff888002000000ULL, &ent, 0, 64, 0);
	fake_set(&p1, 64, 0, "dns");
	fake_set(&p2, 64, 0, "dns");
	fake_set(&other, 64, 0, "dns");
	sock_interval(&iv);
	assert_int_equal(iv.nrows, 4);
	fs_set(0xffff888002000000ULL, &ent, 0, 64, SOCK_FLOW_CLOSED);
	sock_interval(&iv);
	assert_int_equal(fk.nevicted, 2);	/* both peers of 5353, not 5354 */
	assert_int_equal(fake_find(&p1), -1);
	assert_int_equal(fake_find(&p2), -1);
	assert_true(fake_find(&other) >= 0);
	assert_int_equal(iv.nrows, 0);
	sock_interval(&iv);	/* read unchanged twice: the entry goes too */
	assert_int_equal(fs.n, 0);
	sock_end();
}

static void test_sock_entry_deltas_and_totals(void **state)
{
	struct flow_key a = key4(100, 40000);
	struct interval iv;

	(void)state;
	fs_set(0xffff888001000000ULL, &a, 1000, 200, 0);
	sock_interval(&iv);
	assert_int_equal(iv.nrows, 1);
	assert_row(&iv, &a, 1000, 200, 1000, 200);
	assert_string_equal(iv.rows[0]->comm, "sock");

	fs_set(0xffff888001000000ULL, &a, 1500, 260, 0);
	sock_interval(&iv);
	assert_row(&iv, &a, 500, 60, 1500, 260);
	assert_int_equal(iv.tracked, 1);
	assert_int_equal(coll.socks.t.count, 1);
}

/* Socket entries count their own events: each interval adds their deltas to the stats' count. */
static void test_sock_events_join_the_stats_count(void **state)
{
	const __u64 sk = 0xffff888001000400ULL, sk2 = 0xffff888001000c00ULL;
	struct flow_key a = key4(100, 40000), b = key4(300, 50000);
	struct interval iv;

	(void)state;
	fk.stats[STAT_EVENTS] = 5;	/* the flows table's */
	fs_set(sk, &a, 100, 0, 0);
	fs.vals[fs_find(sk)].events = 7;
	sock_interval(&iv);
	assert_int_equal(iv.events, 12);

	fs_set(sk, &a, 130, 0, SOCK_FLOW_CLOSED);
	fs.vals[fs_find(sk)].events = 10;
	fs_set(sk2, &b, 1, 0, 0);	/* a new entry counts from zero */
	fs.vals[fs_find(sk2)].events = 1;
	sock_interval(&iv);
	assert_int_equal(iv.events, 4);

	fs.late_sk = sk;	/* evicted: the delete's last count is folded too */
	fs.late_rx = 2;
	fs.late_events = 1;
	fk.stats[STAT_EVENTS] = 6;
	sock_interval(&iv);
	assert_int_equal(fs.nevicted, 1);
	assert_int_equal(iv.events, 2);
	fs_set(sk, &b, 4, 0, 0);	/* the slot taken by another flow: counted from zero */
	fs.vals[fs_find(sk)].events = 3;
	sock_interval(&iv);
	assert_int_equal(iv.events, 3);
}

static void test_sock_closed_evicted_after_two_equal_reads(void **state)
{
	const __u64 sk = 0xffff888001000800ULL;
	struct flow_key a = key4(100, 40000);
	struct interval iv;

	(void)state;
	fs_set(sk, &a, 100, 10, 0);
	sock_interval(&iv);
	fs_set(sk, &a, 150, 10, SOCK_FLOW_CLOSED);	/* moved: kept */
	sock_interval(&iv);
	assert_int_equal(fs.nevicted, 0);
	assert_row(&iv, &a, 50, 0, 150, 10);

	fs.late_sk = sk;	/* a read after the close lands before the delete */
	fs.late_rx = 9;
	sock_interval(&iv);
	assert_int_equal(fs.nevicted, 1);
	assert_int_equal(fs.evicted[0], sk);
	assert_int_equal(fs.n, 0);
	assert_row(&iv, &a, 9, 0, 159, 10);
	assert_int_equal(iv.evicted, 1);
	assert_int_equal(iv.tracked, 0);
	sock_end();
	assert_int_equal(coll.socks.t.count, 0);
	assert_int_equal(coll.tab.t.count, 0);
}

static void test_sock_closed_at_first_read_not_evicted(void **state)
{
	const __u64 sk = 0xffff888001001000ULL;
	struct flow_key a = key4(100, 40000);
	struct interval iv;

	(void)state;
	/* made, closed and read before its first add: that add is still coming */
	fs_set(sk, &a, 0, 0, SOCK_FLOW_CLOSED);
	sock_interval(&iv);
	assert_int_equal(fs.nevicted, 0);
	assert_int_equal(iv.tracked, 1);

	fs_set(sk, &a, 64, 0, SOCK_FLOW_CLOSED);
	sock_interval(&iv);
	assert_int_equal(fs.nevicted, 0);
	assert_row(&iv, &a, 64, 0, 64, 0);
	sock_interval(&iv);
	assert_int_equal(fs.nevicted, 1);
	assert_int_equal(iv.tracked, 0);
}

static void test_sock_and_tuple_entries_sum_into_one_flow(void **state)
{
	const __u64 sk = 0xffff888001001800ULL;
	struct flow_key a = key4(100, 40000);
	struct interval iv;

	(void)state;
	fs_set(sk, &a, 100, 10, 0);
	fake_set(&a, 50, 5, "curl");
	sock_interval(&iv);
	assert_int_equal(iv.nrows, 1);
	assert_row(&iv, &a, 150, 15, 150, 15);

	fs_set(sk, &a, 110, 10, 0);
	fake_set(&a, 51, 7, "curl");
	sock_interval(&iv);
	assert_row(&iv, &a, 11, 2, 161, 17);
	assert_sums_match_rows(&iv);
}

static void test_two_sockets_of_one_flow(void **state)
{
	const __u64 s1 = 0xffff888001002000ULL, s2 = 0xffff888001002800ULL;
	struct flow_key a = key4(100, 40000);
	struct interval iv;
	const struct flow_entry *e;

	(void)state;
	/* a reconnect from the same port while the old entry waits for eviction */
	fs_set(s1, &a, 100, 0, SOCK_FLOW_CLOSED);
	fs_set(s2, &a, 7, 0, 0);
	sock_interval(&iv);
	assert_row(&iv, &a, 107, 0, 107, 0);
	fs_set(s2, &a, 10, 0, 0);
	sock_interval(&iv);
	assert_int_equal(fs.nevicted, 1);
	assert_int_equal(fs.evicted[0], s1);
	assert_row(&iv, &a, 3, 0, 110, 0);
	assert_int_equal(iv.evicted, 0);	/* s2 still counts into it */
	fs_set(s2, &a, 15, 0, 0);
	sock_interval(&iv);
	e = find_row(&iv, &a);
	assert_entry(e, 5, 0, 115, 0);
	assert_int_equal(coll.socks.t.count, 1);
}

static void test_sock_address_reused_for_another_flow(void **state)
{
	const __u64 sk = 0xffff888001003000ULL;
	struct flow_key a = key4(100, 40000), b = key4(300, 50000);
	struct interval iv;

	(void)state;
	fs_set(sk, &a, 100, 0, 0);
	sock_interval(&iv);
	fs_set(sk, &a, 100, 0, SOCK_FLOW_CLOSED);
	sock_interval(&iv);
	sock_interval(&iv);		/* evicted here */
	assert_int_equal(fs.nevicted, 1);
	/* the address now holds another socket, another flow */
	fs_set(sk, &b, 30, 40, 0);
	sock_interval(&iv);
	assert_int_equal(iv.nrows, 1);
	assert_row(&iv, &b, 30, 40, 30, 40);
	assert_null(flowtab_find(&coll.tab, &a));
}

static void test_sock_key_changed_without_eviction_counts_from_zero(void **state)
{
	const __u64 sk = 0xffff888001003800ULL;
	struct flow_key a = key4(100, 40000), b = key4(300, 50000);
	struct interval iv;

	(void)state;
	fs_set(sk, &a, 500, 0, 0);
	sock_interval(&iv);
	/* deleted and made again between two reads (only bccflow deletes, but be safe) */
	fs_set(sk, &b, 20, 0, 0);
	sock_interval(&iv);
	assert_row(&iv, &b, 20, 0, 20, 0);
	assert_int_equal(iv.evicted, 1);	/* a: its entry is gone */
	assert_int_equal(iv.tracked, 1);
}

static void test_sock_entry_vanished_drops_flow(void **state)
{
	const __u64 sk = 0xffff888001004000ULL;
	struct flow_key a = key4(100, 40000);
	struct interval iv;

	(void)state;
	fs_set(sk, &a, 5, 5, 0);
	sock_interval(&iv);
	fs.n = 0;
	sock_interval(&iv);
	assert_int_equal(iv.evicted, 1);
	assert_int_equal(iv.tracked, 0);
	sock_end();
	assert_int_equal(coll.tab.t.count, 0);
	assert_int_equal(coll.socks.t.count, 0);
}

static void test_tuple_entry_evicted_while_socket_lives(void **state)
{
	const __u64 sk = 0xffff888001004800ULL;
	struct flow_key a = key4(100, 40000);
	struct interval iv;

	(void)state;
	fs_set(sk, &a, 100, 0, 0);
	fake_set(&a, 40, 0, "curl");
	sock_interval(&iv);
	fake_mark(&a);
	fs_set(sk, &a, 100, 0, 0);
	sock_interval(&iv);
	assert_int_equal(fk.nevicted, 1);	/* the tuple entry went */
	assert_int_equal(iv.evicted, 0);	/* the flow did not */
	assert_int_equal(iv.tracked, 1);
	/* a new tuple entry for the flow counts from zero */
	fake_set(&a, 6, 0, "curl");
	fs_set(sk, &a, 101, 0, 0);
	sock_interval(&iv);
	assert_row(&iv, &a, 7, 0, 147, 0);
}

static void test_evict_sock_error_propagates(void **state)
{
	const __u64 sk = 0xffff888001005000ULL;
	struct flow_key a = key4(100, 40000);
	struct interval iv;

	(void)state;
	fs_set(sk, &a, 1, 0, SOCK_FLOW_CLOSED);
	sock_interval(&iv);
	fs.evict_err = -EIO;
	assert_int_equal(collect_interval(&coll, &sock_ops, &iv), -EIO);
}

static void test_many_sockets_exact(void **state)
{
	struct interval iv;

	(void)state;
	/* more than the socket table's first size: it grows without losing counts */
	collect_free(&coll);
	assert_int_equal(collect_init(&coll, 4), 0);
	for (unsigned round = 1; round <= 3; round++) {
		fs.n = 0;
		for (unsigned i = 0; i < FAKE_SOCKS; i++) {
			struct flow_key k = many_key(i);

			fs_set(0xffff888002000000ULL + i * 2048, &k, (__u64)round * (i + 1), round, 0);
		}
		sock_interval(&iv);
		assert_int_equal(iv.nrows, FAKE_SOCKS);
		for (unsigned i = 0; i < FAKE_SOCKS; i++) {
			struct flow_key k = many_key(i);

			assert_row(&iv, &k, i + 1, 1, (__u64)round * (i + 1), round);
		}
	}
}

/* ---- errors ------------------------------------------------------------------ */

static void test_read_flows_error_propagates(void **state)
{
	struct interval iv;

	(void)state;
	fk.read_flows_err = -EIO;
	assert_int_equal(collect_interval(&coll, &ops, &iv), -EIO);
}

static void test_read_closed_error_propagates(void **state)
{
	struct interval iv;

	(void)state;
	fk.read_closed_err = -EPERM;
	assert_int_equal(collect_interval(&coll, &ops, &iv), -EPERM);
}

static void test_read_stats_error_propagates(void **state)
{
	struct interval iv;

	(void)state;
	fk.read_stats_err = -EBADF;
	assert_int_equal(collect_interval(&coll, &ops, &iv), -EBADF);
}

static void test_evict_error_propagates(void **state)
{
	struct flow_key a = key4(100, 40000);
	struct interval iv;

	(void)state;
	fake_set(&a, 1, 1, "curl");
	run_full_interval(&iv);
	fake_mark(&a);
	fk.evict_err = -EIO;
	assert_int_equal(collect_interval(&coll, &ops, &iv), -EIO);
}

static void test_unmark_error_propagates(void **state)
{
	struct flow_key ghost = key4(0, 1);
	struct interval iv;

	(void)state;
	fake_mark(&ghost);
	fk.unmark_err = -EIO;
	assert_int_equal(collect_interval(&coll, &ops, &iv), -EIO);
}

static void test_unmark_enoent_ignored(void **state)
{
	struct flow_key ghost = key4(0, 1);
	struct interval iv;

	(void)state;
	fake_mark(&ghost);
	fk.unmark_err = -ENOENT;
	assert_int_equal(collect_interval(&coll, &ops, &iv), 0);
	assert_int_equal(fk.nunmarked, 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define TS(f) cmocka_unit_test_setup_teardown(f, sock_setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TS(test_sock_entry_deltas_and_totals),
		TS(test_sock_events_join_the_stats_count),
		T(test_udp_peer_flow_evicted_when_idle),
		TS(test_udp_released_socket_evicts_its_peers),
		TS(test_sock_closed_evicted_after_two_equal_reads),
		TS(test_sock_closed_at_first_read_not_evicted),
		TS(test_sock_and_tuple_entries_sum_into_one_flow),
		TS(test_two_sockets_of_one_flow),
		TS(test_sock_address_reused_for_another_flow),
		TS(test_sock_key_changed_without_eviction_counts_from_zero),
		TS(test_sock_entry_vanished_drops_flow),
		TS(test_tuple_entry_evicted_while_socket_lives),
		TS(test_evict_sock_error_propagates),
		TS(test_many_sockets_exact),
		T(test_first_interval_deltas_equal_values),
		T(test_second_interval_differences_and_totals),
		T(test_empty_maps_sort_no_rows),
		T(test_unchanged_flow_has_no_row),
		T(test_zero_byte_flow_has_no_row),
		T(test_recreated_kernel_entry_counts_from_zero),
		T(test_comm_follows_latest_value_and_is_terminated),
		T(test_rows_sorted_by_interval_bytes),
		T(test_ties_broken_by_totals_then_key),
		T(test_order_independent_of_snapshot_order),
		T(test_interval_sums_equal_rows),
		T(test_cmp_extreme_values),
		T(test_cmp_key_breaks_full_ties),
		T(test_cmp_sum_of_rx_and_tx_saturates),
		T(test_closed_idle_flow_evicted),
		T(test_eviction_residual_bytes_reported),
		T(test_new_flow_closed_in_first_interval),
		T(test_closed_active_flow_kept_until_idle),
		T(test_mark_without_flow_unmarked),
		T(test_evicted_key_reappearing_is_new_flow),
		T(test_vanished_flow_dropped),
		T(test_pids_sharing_tuple_evicted_by_one_mark),
		T(test_shared_tuple_one_active_keeps_mark),
		T(test_evict_enoent_drops_flow),
		T(test_many_marks_all_handled),
		T(test_stats_deltas),
		T(test_5000_flows_exact),
		T(test_read_flows_error_propagates),
		T(test_read_closed_error_propagates),
		T(test_read_stats_error_propagates),
		T(test_evict_error_propagates),
		T(test_unmark_error_propagates),
		T(test_unmark_enoent_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
