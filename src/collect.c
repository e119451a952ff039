/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collect.h"
#include "sortkey.h"

int collect_init(struct collector *c, size_t max_flows)
{
	size_t hint = max_flows < 1024 ? max_flows : 1024;
	int err;

	memset(c, 0, sizeof(*c));
	keyset_init(&c->closed);
	err = flowtab_init(&c->tab, hint);
	if (!err)
		err = socktab_init(&c->socks, hint);
	return err;
}

void collect_free(struct collector *c)
{
	flowtab_free(&c->tab);
	socktab_free(&c->socks);
	keyset_free(&c->closed);
	free(c->rows);
	memset(c, 0, sizeof(*c));
}

int flow_entry_cmp(const void *pa, const void *pb)
{
	const struct flow_entry *a = *(const struct flow_entry *const *)pa;
	const struct flow_entry *b = *(const struct flow_entry *const *)pb;
	int r = sortkey_cmp_desc(sortkey_sum(a->rx_delta, a->tx_delta),
				 sortkey_sum(b->rx_delta, b->tx_delta));

	if (!r)
		r = sortkey_cmp_desc(sortkey_sum(a->rx_total, a->tx_total),
				     sortkey_sum(b->rx_total, b->tx_total));
	if (!r)
		r = memcmp(&a->key, &b->key, sizeof(a->key));
	return r;
}

static int read_closed(struct collector *c, const struct map_ops *ops)
{
	const struct flow_key *keys;
	ssize_t n = ops->read_closed(ops->ctx, &keys);
	int err;

	if (n < 0)
		return (int)n;
	err = keyset_reset(&c->closed, (size_t)n);
	for (ssize_t i = 0; !err && i < n; i++)
		err = keyset_add(&c->closed, &keys[i]);
	return err;
}

static int read_flows(struct collector *c, const struct map_ops *ops)
{
	const struct flow_key *keys;
	const struct flow_val *vals;
	ssize_t n = ops->read_flows(ops->ctx, &keys, &vals);

	if (n < 0)
		return (int)n;
	for (ssize_t i = 0; i < n; i++) {
		struct flow_entry *e = flowtab_get(&c->tab, &keys[i]);

		if (!e)
			return -ENOMEM;
		flowtab_observe(e, &vals[i]);
	}
	return 0;
}

/* Folds one socket entry into its flow; evicts it once closed and idle. */
static int fold_sock(struct collector *c, const struct map_ops *ops, __u64 sk,
		     const struct sock_flow *v, struct interval *iv)
{
	struct sock_entry *s = socktab_get(&c->socks, sk);
	struct flow_entry *e = s ? flowtab_get(&c->tab, &v->key) : NULL;
	struct sock_flow last;
	bool known;
	__u64 rx, tx;
	int err;

	if (!e)
		return -ENOMEM;
	known = s->mark && !memcmp(&s->key, &v->key, sizeof(v->key));
	if (!known)	/* a new entry for this address */
		s->rx_seen = s->tx_seen = s->events_seen = 0;
	s->key = v->key;
	s->mark = c->sock_mark;
	rx = s->rx_seen;
	tx = s->tx_seen;
	flowtab_fold(e, &v->val, &s->rx_seen, &s->tx_seen);
	iv->events += counter_delta(v->events, &s->events_seen);
	if ((v->flags & SOCK_FLOW_CLOSED) && v->key.proto == FLOW_PROTO_UDP) {
		struct flow_key end;

		/* the flows of its local end to each peer go once idle, as TCP's do */
		flow_tuple(&v->key, &end);
		if (keyset_add(&c->closed, &end))
			return -ENOMEM;
	}
	/* evicted only when read unchanged in two intervals: an event may be mid-add */
	if (!known || !(v->flags & SOCK_FLOW_CLOSED) || rx != s->rx_seen || tx != s->tx_seen) {
		e->sock_live = true;
		return 0;
	}
	/* closed and idle for a whole interval: the delete returns the last counts */
	err = ops->evict_sock(ops->ctx, sk, &last);
	if (err == 0) {
		flowtab_fold(e, &last.val, &s->rx_seen, &s->tx_seen);
		iv->events += counter_delta(last.events, &s->events_seen);
	} else if (err != -ENOENT)
		return err;
	s->mark = 0;
	return 0;
}

static int read_socks(struct collector *c, const struct map_ops *ops, struct interval *iv)
{
	const __u64 *keys;
	const struct sock_flow *vals;
	ssize_t n;

	if (!ops->read_socks)
		return 0;
	n = ops->read_socks(ops->ctx, &keys, &vals);
	if (n < 0)
		return (int)n;
	c->sock_mark++;
	for (ssize_t i = 0; i < n; i++) {
		int err = fold_sock(c, ops, keys[i], &vals[i], iv);

		if (err)
			return err;
	}
	return socktab_prune(&c->socks, c->sock_mark);
}

/*
 * A flow is evicted when its socket closed (for UDP: its socket, or
 * UDP_IDLE_INTERVALS intervals without bytes) and it carried nothing this
 * interval: the delete returns the final counters, so no byte is lost.
 * A mark stays while a flow of its tuple is still active.
 */
static int evict_closed(struct collector *c, const struct map_ops *ops, struct interval *iv)
{
	size_t pos = 0;
	struct flow_entry *e;
	struct closed_mark *m;

	while ((e = hashtab_next(&c->tab.t, &pos))) {
		struct flow_key tuple;
		struct flow_val last;
		int err;

		if (!e->seen) {		/* not in the tuple table (any more) */
			e->rx_seen = e->tx_seen = 0;
			if (!e->sock_live) {
				e->evicted = true;
				iv->evicted++;
			}
			continue;
		}
		e->idle = e->rx_delta || e->tx_delta ? 0 : e->idle + 1;
		flow_tuple(&e->key, &tuple);
		m = keyset_find(&c->closed, &tuple);
		/* UDP has no close handshake: a peer's flow also goes once long idle */
		if (!m && !(e->key.proto == FLOW_PROTO_UDP && e->idle >= UDP_IDLE_INTERVALS))
			continue;
		if (e->rx_delta || e->tx_delta) {
			if (m)
				m->keep = true;
			continue;
		}
		err = ops->evict(ops->ctx, &e->key, &last);
		if (err == 0)
			flowtab_observe(e, &last);
		else if (err != -ENOENT)
			return err;
		e->rx_seen = e->tx_seen = 0;
		if (e->sock_live)
			continue;	/* its socket entry carries on */
		e->evicted = true;
		iv->evicted++;
	}
	pos = 0;
	while ((m = hashtab_next(&c->closed.t, &pos))) {
		int err = m->keep ? 0 : ops->unmark(ops->ctx, &m->key);

		if (err && err != -ENOENT)
			return err;
	}
	return 0;
}

static int read_stats(struct collector *c, const struct map_ops *ops, struct interval *iv)
{
	__u64 now[STAT_MAX];
	int err = ops->read_stats(ops->ctx, now);

	if (err)
		return err;
	iv->events += now[STAT_EVENTS] - c->stats_prev[STAT_EVENTS];	/* the flows table's */
	iv->dropped = now[STAT_DROPPED] - c->stats_prev[STAT_DROPPED];
	iv->dropped_bytes = now[STAT_DROPPED_BYTES] - c->stats_prev[STAT_DROPPED_BYTES];
	iv->marks_lost = now[STAT_MARKS_LOST] - c->stats_prev[STAT_MARKS_LOST];
	memcpy(c->stats_prev, now, sizeof(now));
	return 0;
}

static int build_rows(struct collector *c, struct interval *iv)
{
	size_t n = c->tab.t.count, pos = 0;
	struct flow_entry *e;

	if (c->rows_cap < n) {
		struct flow_entry **rows = realloc(c->rows, n * sizeof(*rows));

		if (!rows)
			return -ENOMEM;
		c->rows = rows;
		c->rows_cap = n;
	}
	iv->rows = c->rows;
	while ((e = hashtab_next(&c->tab.t, &pos))) {
		if (e->rx_delta || e->tx_delta) {
			c->rows[iv->nrows++] = e;
			iv->rx_bytes += e->rx_delta;
			iv->tx_bytes += e->tx_delta;
		}
	}
	if (iv->nrows)
		qsort(c->rows, iv->nrows, sizeof(*c->rows), flow_entry_cmp);
	return 0;
}

int collect_interval(struct collector *c, const struct map_ops *ops, struct interval *iv)
{
	int err;

	memset(iv, 0, sizeof(*iv));
	iv->index = ++c->index;
	flowtab_begin(&c->tab);
	/* marks first: every flow that closed before it was marked is in the snapshot */
	err = read_closed(c, ops);
	if (!err)
		err = read_socks(c, ops, iv);
	if (!err)
		err = read_flows(c, ops);
	if (!err)
		err = evict_closed(c, ops, iv);
	if (!err)
		err = read_stats(c, ops, iv);
	if (!err)
		err = build_rows(c, iv);
	iv->tracked = c->tab.t.count - iv->evicted;
	return err;
}

int collect_end(struct collector *c)
{
	return flowtab_compact(&c->tab);
}
