/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: collect_interval()/collect_end() (src/collect.c, src/flowtab.c)
 * against a model of the kernel's maps driven by the input: traffic on a
 * small set of flows (several processes sharing 4-tuples), a flow table that
 * fills up (drops), sockets closing (marks), bytes that arrive between the
 * snapshot and the eviction, and intervals at any point; beside it the
 * socket table, whose entries (a socket address and the flow it counts) are
 * closed, evicted and made again for other flows, as addresses are reused.
 *
 * Checks: every byte the model's kernel counted is reported exactly once,
 * in some interval's rows; the interval's sums are its rows' sums; rows are
 * active and sorted; drops are the model's; "tracked" is the number of flows
 * in the two kernel tables; and once every socket closed and two idle
 * intervals passed, both kernel tables, the marks and bccflow's own tables
 * are empty.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>

#include "collect.h"
#include "fuzz_common.h"

#define NKEYS 32
#define KCAP 40
#define NSOCKS 12

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
	/* the socket table */
	__u64 sk[NSOCKS];
	struct sock_flow sv[NSOCKS];
	int sx[NSOCKS];			/* the entry's flow, an index into universe */
	size_t ns, smax;
	__u64 slate_rx[NSOCKS], slate_tx[NSOCKS];	/* by socket number, at eviction */
	__u64 snap_sk[NSOCKS];
	struct sock_flow snap_sv[NSOCKS];
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

static long sfind(const struct kernel *kn, __u64 sk)
{
	for (size_t i = 0; i < kn->ns; i++)
		if (kn->sk[i] == sk)
			return (long)i;
	return -1;
}

static __u64 sock_addr(int s)
{
	return 0xffff888004000000ULL + (__u64)s * 2048;
}

static ssize_t k_read_socks(void *ctx, const __u64 **keys, const struct sock_flow **vals)
{
	struct kernel *kn = ctx;

	for (size_t i = 0; i < kn->ns; i++) {
		size_t j = (i + kn->order) % kn->ns;

		kn->snap_sk[i] = kn->sk[j];
		kn->snap_sv[i] = kn->sv[j];
	}
	*keys = kn->snap_sk;
	*vals = kn->snap_sv;
	return (ssize_t)kn->ns;
}

static int k_evict_sock(void *ctx, __u64 sk, struct sock_flow *last)
{
	struct kernel *kn = ctx;
	long i = sfind(kn, sk);
	int s, x;

	if (i < 0)
		return -ENOENT;
	s = (int)((sk - sock_addr(0)) / 2048);
	x = kn->sx[i];
	kn->sv[i].val.rx_bytes += kn->slate_rx[s];
	kn->sv[i].val.tx_bytes += kn->slate_tx[s];
	truth_rx[x] += kn->slate_rx[s];
	truth_tx[x] += kn->slate_tx[s];
	kn->slate_rx[s] = kn->slate_tx[s] = 0;
	*last = kn->sv[i];
	kn->sk[i] = kn->sk[kn->ns - 1];
	kn->sv[i] = kn->sv[kn->ns - 1];
	kn->sx[i] = kn->sx[kn->ns - 1];
	kn->ns--;
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

/*
 * As count_bytes() does: the socket's entry when it counts flow x and is
 * open, or closed with the same flow; a new entry if it has none and there
 * is room; else the tuple table.
 */
static void sock_traffic(struct kernel *kn, int s, int x, __u64 rx, __u64 tx)
{
	long i = sfind(kn, sock_addr(s));

	if (i < 0 && kn->ns < kn->smax) {
		i = (long)kn->ns++;
		kn->sk[i] = sock_addr(s);
		memset(&kn->sv[i], 0, sizeof(kn->sv[i]));
		kn->sv[i].key = universe[x];
		kn->sv[i].val.comm[0] = (char)('A' + x);
		kn->sx[i] = x;
	}
	if (i < 0 || kn->sx[i] != x) {
		char comm[FLOW_COMM_LEN] = { (char)('a' + x) };

		traffic(kn, x, rx, tx, comm);
		return;
	}
	kn->sv[i].val.rx_bytes += rx;
	kn->sv[i].val.tx_bytes += tx;
	kn->stats[STAT_EVENTS]++;
	truth_rx[x] += rx;
	truth_tx[x] += tx;
}

/* Flows in either kernel table: what bccflow tracks. */
static size_t kernel_flows(const struct kernel *kn)
{
	bool in[NKEYS] = { false };
	size_t n = 0;

	for (size_t i = 0; i < kn->n; i++)
		in[key_index(&kn->keys[i])] = true;
	for (size_t i = 0; i < kn->ns; i++)
		in[kn->sx[i]] = true;
	for (int x = 0; x < NKEYS; x++)
		n += in[x];
	return n;
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
	CHECK(iv.tracked == kernel_flows(kn), "tracked %zu, the kernel tables have %zu",
	      iv.tracked, kernel_flows(kn));
	CHECK(collect_end(c) == 0, "collect_end failed");
	CHECK(c->tab.t.count == kernel_flows(kn), "bccflow keeps %zu flows, the kernel %zu",
	      c->tab.t.count, kernel_flows(kn));
	CHECK(c->socks.t.count == kn->ns, "bccflow follows %zu socket entries, the kernel has %zu",
	      c->socks.t.count, kn->ns);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kernel kn;
	struct fdp d = { data, size };
	struct collector c;
	struct map_ops ops = {
		.ctx = &kn, .read_flows = k_read_flows, .read_closed = k_read_closed,
		.evict = k_evict, .unmark = k_unmark, .read_stats = k_read_stats,
		.read_socks = k_read_socks, .evict_sock = k_evict_sock,
	};
	__u64 drops_seen = 0;
	char comm[FLOW_COMM_LEN];
	long si;

	make_universe();
	memset(&kn, 0, sizeof(kn));
	memset(truth_rx, 0, sizeof(truth_rx));
	memset(truth_tx, 0, sizeof(truth_tx));
	memset(shown_rx, 0, sizeof(shown_rx));
	memset(shown_tx, 0, sizeof(shown_tx));
	kn.max = 1 + fdp_u8(&d) % KCAP;
	kn.smax = fdp_u8(&d) % (NSOCKS + 1);
	if (collect_init(&c, kn.max))
		return 0;

	for (int steps = 0; d.n && steps < 4000; steps++) {
		uint8_t op = fdp_u8(&d);
		int x = (op >> 4) + 16 * (steps & 1);
		int sn = (op >> 4) % NSOCKS;

		switch (op & 15) {
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
		case 5:
		case 6:
			sock_traffic(&kn, sn, fdp_u8(&d) % NKEYS, fdp_u16(&d),
				     (op & 1) ? 0 : fdp_u16(&d));
			break;
		case 7:		/* socket sn closes */
			si = sfind(&kn, sock_addr(sn));
			if (si >= 0)
				kn.sv[si].flags = SOCK_FLOW_CLOSED;
			break;
		case 8:
			if (sfind(&kn, sock_addr(sn)) >= 0) {
				kn.slate_rx[sn] += fdp_u8(&d);
				kn.slate_tx[sn] += fdp_u8(&d);
			}
			break;
		default:
			kn.order = fdp_u8(&d);
			interval(&c, &ops, &kn, &drops_seen);
		}
	}
	for (int s = 0; s < NSOCKS; s++) {
		si = sfind(&kn, sock_addr(s));
		if (si >= 0) {
			kn.sv[si].val.rx_bytes += kn.slate_rx[s];
			kn.sv[si].val.tx_bytes += kn.slate_tx[s];
			truth_rx[kn.sx[si]] += kn.slate_rx[s];
			truth_tx[kn.sx[si]] += kn.slate_tx[s];
			kn.sv[si].flags = SOCK_FLOW_CLOSED;
		}
		kn.slate_rx[s] = kn.slate_tx[s] = 0;
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
	CHECK(kn.ns == 0, "%zu closed sockets never left the socket table", kn.ns);
	CHECK(c.socks.t.count == 0, "%zu socket entries left in bccflow's table", c.socks.t.count);
	CHECK(kn.nmarks == 0, "%zu marks never removed", kn.nmarks);
	CHECK(c.tab.t.count == 0, "%zu flows left in bccflow's table", c.tab.t.count);
	collect_free(&c);
	return 0;
}
