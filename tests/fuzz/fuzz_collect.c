/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: collect_interval()/collect_end() (src/collect.c, src/flowtab.c)
 * against a model of the kernel's maps driven by the input: traffic on a
 * small set of flows (several processes sharing 4-tuples), a flow table that
 * fills up (drops), sockets closing (marks), bytes that arrive between the
 * snapshot and the eviction, and intervals at any point.
 *
 * Checks: every byte the model's kernel counted is reported exactly once,
 * in some interval's rows; the interval's sums are its rows' sums; rows are
 * active and sorted; drops are the model's; "tracked" is the kernel table's
 * size; and once every socket closed and two idle intervals passed, the
 * kernel table, the marks and bccflow's own table are empty.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>

#include "collect.h"
#include "fuzz_common.h"

#define NKEYS 32
#define KCAP 40

struct kernel {
	struct flow_key keys[KCAP];
	struct flow_val vals[KCAP];
	size_t n, max;
	struct flow_key marks[NKEYS];
	size_t nmarks;
	__u64 stats[STAT_MAX];
	__u64 late_rx[NKEYS], late_tx[NKEYS];	/* added at eviction */
	/* what read_flows hands out (valid until the next call) */
	struct flow_key snap_keys[KCAP];
	struct flow_val snap_vals[KCAP];
	struct flow_key snap_marks[NKEYS];
	uint8_t order;
};

static struct flow_key universe[NKEYS];
static __u64 truth_rx[NKEYS], truth_tx[NKEYS], shown_rx[NKEYS], shown_tx[NKEYS];

static void make_universe(void)
{
	for (int i = 0; i < NKEYS; i++) {
		struct flow_key *k = &universe[i];

		memset(k, 0, sizeof(*k));
		k->pid = 1 + (i & 3);
		k->lport = (__u16)(1000 + ((i >> 2) & 3));
		k->rport = 2000;
		if (i & 16) {
			k->family = AF_INET6;
			k->laddr[15] = k->raddr[15] = 1;
		} else {
			k->family = AF_INET;
			k->laddr[0] = k->raddr[0] = 127;
			k->laddr[3] = k->raddr[3] = 1;
		}
	}
}

static int key_index(const struct flow_key *k)
{
	for (int i = 0; i < NKEYS; i++)
		if (!memcmp(&universe[i], k, sizeof(*k)))
			return i;
	fuzz_fail("a key that no flow has");
}

static long kfind(const struct kernel *kn, const struct flow_key *k)
{
	for (size_t i = 0; i < kn->n; i++)
		if (!memcmp(&kn->keys[i], k, sizeof(*k)))
			return (long)i;
	return -1;
}

static long mfind(const struct kernel *kn, const struct flow_key *t)
{
	for (size_t i = 0; i < kn->nmarks; i++)
		if (!memcmp(&kn->marks[i], t, sizeof(*t)))
			return (long)i;
	return -1;
}

static ssize_t k_read_flows(void *ctx, const struct flow_key **keys, const struct flow_val **vals)
{
	struct kernel *kn = ctx;

	/* the kernel's iteration order is its own: rotate by a fuzzed amount */
	for (size_t i = 0; i < kn->n; i++) {
		size_t j = (i + kn->order) % kn->n;

		kn->snap_keys[i] = kn->keys[j];
		kn->snap_vals[i] = kn->vals[j];
	}
	*keys = kn->snap_keys;
	*vals = kn->snap_vals;
	return (ssize_t)kn->n;
}

static ssize_t k_read_closed(void *ctx, const struct flow_key **keys)
{
	struct kernel *kn = ctx;

	memcpy(kn->snap_marks, kn->marks, kn->nmarks * sizeof(kn->marks[0]));
	*keys = kn->snap_marks;
	return (ssize_t)kn->nmarks;
}

static int k_evict(void *ctx, const struct flow_key *k, struct flow_val *last)
{
	struct kernel *kn = ctx;
	long i = kfind(kn, k);
	int x;

	if (i < 0)
		return -ENOENT;
	x = key_index(k);
	/* bytes that came after the snapshot: the delete returns them too */
	kn->vals[i].rx_bytes += kn->late_rx[x];
	kn->vals[i].tx_bytes += kn->late_tx[x];
	truth_rx[x] += kn->late_rx[x];
	truth_tx[x] += kn->late_tx[x];
	kn->late_rx[x] = kn->late_tx[x] = 0;
	*last = kn->vals[i];
	kn->keys[i] = kn->keys[kn->n - 1];
	kn->vals[i] = kn->vals[kn->n - 1];
	kn->n--;
	return 0;
}

static int k_unmark(void *ctx, const struct flow_key *t)
{
	struct kernel *kn = ctx;
	long i = mfind(kn, t);

	if (i < 0)
		return -ENOENT;
	kn->marks[i] = kn->marks[--kn->nmarks];
	return 0;
}

static int k_read_stats(void *ctx, __u64 out[STAT_MAX])
{
	struct kernel *kn = ctx;

	memcpy(out, kn->stats, sizeof(kn->stats));
	return 0;
}

static void traffic(struct kernel *kn, int x, __u64 rx, __u64 tx, const char *comm)
{
	long i = kfind(kn, &universe[x]);

	if (i < 0) {
		if (kn->n == kn->max) {
			kn->stats[STAT_DROPPED]++;
			kn->stats[STAT_DROPPED_BYTES] += rx + tx;
			return;
		}
		i = (long)kn->n++;
		kn->keys[i] = universe[x];
		memset(&kn->vals[i], 0, sizeof(kn->vals[i]));
		memcpy(kn->vals[i].comm, comm, FLOW_COMM_LEN);
	}
	kn->vals[i].rx_bytes += rx;
	kn->vals[i].tx_bytes += tx;
	kn->stats[STAT_EVENTS]++;
	truth_rx[x] += rx;
	truth_tx[x] += tx;
}

static void interval(struct collector *c, const struct map_ops *ops, struct kernel *kn,
		     __u64 *drops_seen)
{
	struct interval iv;
	__u64 rx = 0, tx = 0;

	CHECK(collect_interval(c, ops, &iv) == 0, "collect_interval failed");
	for (size_t i = 0; i < iv.nrows; i++) {
		const struct flow_entry *e = iv.rows[i];
		int x = key_index(&e->key);

		CHECK(e->rx_delta || e->tx_delta, "an idle flow among the rows");
		if (i)
			CHECK(flow_entry_cmp(&iv.rows[i - 1], &iv.rows[i]) < 0, "rows not sorted");
		shown_rx[x] += e->rx_delta;
		shown_tx[x] += e->tx_delta;
		rx += e->rx_delta;
		tx += e->tx_delta;
		CHECK(e->rx_total == shown_rx[x] || e->rx_total < shown_rx[x],
		      "total above what was shown");
	}
	CHECK(rx == iv.rx_bytes && tx == iv.tx_bytes, "interval sums are not the rows' sums");
	CHECK(iv.dropped == kn->stats[STAT_DROPPED] - *drops_seen, "dropped %llu",
	      (unsigned long long)iv.dropped);
	*drops_seen = kn->stats[STAT_DROPPED];
	CHECK(iv.tracked == kn->n, "tracked %zu, the kernel table has %zu", iv.tracked, kn->n);
	CHECK(collect_end(c) == 0, "collect_end failed");
	CHECK(c->tab.count == kn->n, "bccflow keeps %zu flows, the kernel %zu", c->tab.count,
	      kn->n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kernel kn;
	struct fdp d = { data, size };
	struct collector c;
	struct map_ops ops = {
		.ctx = &kn, .read_flows = k_read_flows, .read_closed = k_read_closed,
		.evict = k_evict, .unmark = k_unmark, .read_stats = k_read_stats,
	};
	__u64 drops_seen = 0;
	char comm[FLOW_COMM_LEN];

	make_universe();
	memset(&kn, 0, sizeof(kn));
	memset(truth_rx, 0, sizeof(truth_rx));
	memset(truth_tx, 0, sizeof(truth_tx));
	memset(shown_rx, 0, sizeof(shown_rx));
	memset(shown_tx, 0, sizeof(shown_tx));
	kn.max = 1 + fdp_u8(&d) % KCAP;
	if (collect_init(&c, kn.max))
		return 0;

	for (int steps = 0; d.n && steps < 4000; steps++) {
		uint8_t op = fdp_u8(&d);
		int x = (op >> 3) % NKEYS;

		switch (op & 7) {
		case 0:
		case 1:
		case 2: {
			__u64 rx = fdp_u16(&d), tx = (op & 1) ? fdp_u16(&d) : 0;

			memset(comm, 0, sizeof(comm));
			comm[0] = (char)('a' + x);
			traffic(&kn, x, rx, tx, comm);
			break;
		}
		case 3: {	/* the socket of x closes: its tuple is marked */
			struct flow_key t;

			flow_tuple(&universe[x], &t);
			if (mfind(&kn, &t) < 0)
				kn.marks[kn.nmarks++] = t;
			break;
		}
		case 4:	/* bytes that will land between the snapshot and the delete */
			if (kfind(&kn, &universe[x]) >= 0) {
				kn.late_rx[x] += fdp_u8(&d);
				kn.late_tx[x] += fdp_u8(&d);
			}
			break;
		default:
			kn.order = fdp_u8(&d);
			interval(&c, &ops, &kn, &drops_seen);
		}
	}
	/* late bytes only land on an eviction; in reality they would be read too */
	for (int x = 0; x < NKEYS; x++) {
		long i = kfind(&kn, &universe[x]);

		if (i >= 0) {
			kn.vals[i].rx_bytes += kn.late_rx[x];
			kn.vals[i].tx_bytes += kn.late_tx[x];
			truth_rx[x] += kn.late_rx[x];
			truth_tx[x] += kn.late_tx[x];
		}
		kn.late_rx[x] = kn.late_tx[x] = 0;
	}
	/* every socket closes; two idle intervals later everything is gone */
	for (int x = 0; x < NKEYS; x++) {
		struct flow_key t;

		flow_tuple(&universe[x], &t);
		if (mfind(&kn, &t) < 0)
			kn.marks[kn.nmarks++] = t;
	}
	for (int i = 0; i < 2; i++)
		interval(&c, &ops, &kn, &drops_seen);
	for (int x = 0; x < NKEYS; x++)
		CHECK(shown_rx[x] == truth_rx[x] && shown_tx[x] == truth_tx[x],
		      "flow %d: shown %llu/%llu bytes, the kernel counted %llu/%llu", x,
		      (unsigned long long)shown_rx[x], (unsigned long long)shown_tx[x],
		      (unsigned long long)truth_rx[x], (unsigned long long)truth_tx[x]);
	CHECK(kn.n == 0, "%zu closed flows never left the kernel table", kn.n);
	CHECK(kn.nmarks == 0, "%zu marks never removed", kn.nmarks);
	CHECK(c.tab.count == 0, "%zu flows left in bccflow's table", c.tab.count);
	collect_free(&c);
	return 0;
}
