/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE	/* qsort_r */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cgroup_names.h"
#include "report.h"
#include "sortkey.h"


void group_key(enum group_by by, bool map_v4, const struct flow_key *k, const char *comm,
	       unsigned container_no, struct flow_key *gk, char gcomm[FLOW_COMM_LEN])
{
	memset(gk, 0, sizeof(*gk));
	memset(gcomm, 0, FLOW_COMM_LEN);
	switch (by) {
	case BY_FLOW:
		*gk = *k;
		break;
	case BY_PID:
		gk->pid = k->pid;
		break;
	case BY_COMM:
		strncpy(gcomm, comm, FLOW_COMM_LEN - 1);
		break;
	case BY_RADDR:
		gk->family = k->family;
		memcpy(gk->raddr, k->raddr, sizeof(gk->raddr));
		/* an IPv4 peer is one peer, whichever socket family reached it */
		if (map_v4 && k->family == AF_INET6 && FLOW_MAPPED(k->raddr)) {
			gk->family = AF_INET;
			memset(gk->raddr, 0, sizeof(gk->raddr));
			memcpy(gk->raddr, k->raddr + 12, 4);
		}
		break;
	case BY_LPORT:
		gk->lport = k->lport;
		break;
	case BY_CGROUP:
		gk->cgroup = k->cgroup;
		break;
	case BY_CONTAINER:
		gk->cgroup = container_no;
		break;
	}
}

/* Hashes a group's key and key_comm, which follow each other in struct group. */
static size_t group_hash(const void *key)
{
	unsigned long long h = flow_hash(FLOW_HASH_INIT, key, sizeof(struct flow_key));

	h = flow_hash(h, (const char *)key + sizeof(struct flow_key), FLOW_COMM_LEN);
	return (size_t)(h ^ (h >> 32));
}

_Static_assert(offsetof(struct group, key_comm) ==
	       offsetof(struct group, key) + sizeof(struct flow_key),
	       "a group's key and key_comm form one hash key");

static const struct hashtab_spec group_spec = {
	.size = sizeof(struct group),
	.key_off = offsetof(struct group, key),
	.key_size = sizeof(struct flow_key) + FLOW_COMM_LEN,
	.used_off = offsetof(struct group, used),
	.hash = group_hash,
};

/* Groups idle too long are forgotten whenever the table is rebuilt. */
static bool group_fresh(const void *g, void *arg)
{
	(void)arg;
	return ((const struct group *)g)->idle <= GROUP_IDLE_MAX;
}

static struct group *group_get(struct reporter *r, const struct flow_key *k, const char *comm)
{
	struct {
		struct flow_key key;
		char comm[FLOW_COMM_LEN];
	} gk;
	struct group *g;

	_Static_assert(sizeof(gk) == sizeof(struct flow_key) + FLOW_COMM_LEN, "no padding");
	gk.key = *k;
	memcpy(gk.comm, comm, FLOW_COMM_LEN);
	g = hashtab_get(&r->groups, &gk);	/* a new one is zeroed: seq 0 */
	if (g && !g->seq)
		g->seq = ++r->seen;
	return g;
}

const struct group *reporter_next_group(const struct reporter *r, size_t *pos)
{
	return hashtab_next(&r->groups, pos);
}

int reporter_init(struct reporter *r, const struct options *o)
{
	int err;

	memset(r, 0, sizeof(*r));
	r->by = o->by;
	r->keep_groups = o->listen != NULL;
	err = hashtab_init(&r->groups, &group_spec, 32);
	/* metrics: series must never go away */
	r->groups.keep = r->keep_groups ? NULL : group_fresh;
	return err;
}

void reporter_free(struct reporter *r)
{
	hashtab_free(&r->groups);
	free(r->rows);
	memset(r, 0, sizeof(*r));
}

static __u64 sort_value(const struct report_row *w, enum sort_key s)
{
	switch (s) {
	case SORT_RX:
		return w->rx_delta;
	case SORT_TX:
		return w->tx_delta;
	case SORT_RX_TOTAL:
		return w->rx_total;
	case SORT_TX_TOTAL:
		return w->tx_total;
	case SORT_TOTAL_ALL:
		return sortkey_sum(w->rx_total, w->tx_total);
	default:
		return sortkey_sum(w->rx_delta, w->tx_delta);
	}
}

static int row_cmp(const void *pa, const void *pb, void *arg)
{
	const struct report_row *a = pa, *b = pb;
	enum sort_key s = *(const enum sort_key *)arg;
	int r = sortkey_cmp_desc(sort_value(a, s), sort_value(b, s));

	if (!r)
		r = sortkey_cmp_desc(sortkey_sum(a->rx_delta, a->tx_delta),
				     sortkey_sum(b->rx_delta, b->tx_delta));
	if (!r)
		r = sortkey_cmp_desc(sortkey_sum(a->rx_total, a->tx_total),
				     sortkey_sum(b->rx_total, b->tx_total));
	if (!r)
		r = memcmp(&a->key, &b->key, sizeof(a->key));
	if (!r)
		r = memcmp(a->comm, b->comm, sizeof(a->comm));
	return r;
}

void report_sort(struct report_row *rows, size_t n, enum sort_key s)
{
	if (n)
		qsort_r(rows, n, sizeof(*rows), row_cmp, &s);
}

/* One pass: whether rows are in row_cmp order already (then no sort is needed). */
static bool in_order(const struct report_row *rows, size_t n, enum sort_key s)
{
	for (size_t i = 1; i < n; i++)
		if (row_cmp(&rows[i - 1], &rows[i], &s) > 0)
			return false;
	return true;
}

static int rows_reserve(struct reporter *r, size_t n)
{
	struct report_row *rows;

	if (n <= r->rows_cap)
		return 0;
	rows = realloc(r->rows, n * sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	r->rows = rows;
	r->rows_cap = n;
	return 0;
}

static void row_from_flow(struct report_row *w, const struct flow_entry *e)
{
	memset(w, 0, sizeof(*w));
	w->key = e->key;
	memcpy(w->comm, e->comm, FLOW_COMM_LEN);
	w->cg = e->cg;
	w->nflows = 1;
	w->rx_delta = e->rx_delta;
	w->tx_delta = e->tx_delta;
	w->rx_total = e->rx_total;
	w->tx_total = e->tx_total;
}

/* Folds the interval's active flows into groups; rows are the active groups. */
static int fold_groups(struct reporter *r, const struct interval *iv, const struct options *o,
		       size_t *nrows)
{
	size_t n = 0, pos = 0;
	struct group *g;

	while ((g = hashtab_next(&r->groups, &pos))) {
		g->rx_delta = g->tx_delta = 0;
		g->nflows = 0;
	}
	for (size_t i = 0; i < iv->nrows; i++) {
		const struct flow_entry *e = iv->rows[i];
		struct flow_key gk;
		char gcomm[FLOW_COMM_LEN];

		group_key(r->by, o->map_v4, &e->key, e->comm, e->cg ? e->cg->container_no : 0,
			  &gk, gcomm);
		if (r->keep_groups)	/* metrics: a series per protocol (its proto label) */
			gk.proto = e->key.proto;
		g = group_get(r, &gk, gcomm);
		if (!g)
			return -ENOMEM;
		memcpy(g->comm, e->comm, FLOW_COMM_LEN);
		g->cg = e->cg;
		g->rx_delta += e->rx_delta;
		g->tx_delta += e->tx_delta;
		g->rx_total += e->rx_delta;
		g->tx_total += e->tx_delta;
		g->nflows++;
		g->idle = 0;
	}
	/* counted after the fold: a growth mid-interval sees only whole idle intervals */
	for (pos = 0; (g = hashtab_next(&r->groups, &pos));)
		if (!g->nflows)
			g->idle++;
	if (rows_reserve(r, r->groups.count + 1))
		return -ENOMEM;
	for (pos = 0; (g = hashtab_next(&r->groups, &pos));) {
		if (!g->nflows)
			continue;
		memset(&r->rows[n], 0, sizeof(r->rows[n]));
		r->rows[n].key = g->key;
		memcpy(r->rows[n].comm, g->comm, FLOW_COMM_LEN);
		r->rows[n].cg = g->cg;
		r->rows[n].nflows = g->nflows;
		r->rows[n].rx_delta = g->rx_delta;
		r->rows[n].tx_delta = g->tx_delta;
		r->rows[n].rx_total = g->rx_total;
		r->rows[n].tx_total = g->tx_total;
		n++;
	}
	*nrows = n;
	/* forget long-idle groups now and then (never while serving metrics) */
	return r->keep_groups || iv->index % 64 ? 0 : hashtab_compact(&r->groups, group_fresh, NULL);
}

/* Keeps the first limit rows and sums the rest into one "others" row. */
static void fold_others(struct report *out, unsigned limit)
{
	struct report_row others;

	if (!limit || out->nrows <= limit)
		return;
	memset(&others, 0, sizeof(others));
	others.others = true;
	for (size_t i = limit; i < out->nrows; i++) {
		const struct report_row *w = &out->rows[i];

		others.nflows += w->nflows;
		others.rx_delta += w->rx_delta;
		others.tx_delta += w->tx_delta;
		others.rx_total += w->rx_total;
		others.tx_total += w->tx_total;
	}
	out->rows[limit] = others;
	out->nrows = limit + 1;
}

int report_build(struct reporter *r, const struct interval *iv, const struct options *o,
		 double elapsed_s, struct report *out)
{
	size_t n = 0;
	bool sorted = false;

	memset(out, 0, sizeof(*out));
	out->by = r->by;
	out->iv = iv;
	out->elapsed_s = elapsed_s;
	if (r->by == BY_FLOW && !r->keep_groups) {
		/* flows need no group table: their totals live in the flow table */
		if (rows_reserve(r, iv->nrows + 1))
			return -ENOMEM;
		for (size_t i = 0; i < iv->nrows; i++)
			row_from_flow(&r->rows[n++], iv->rows[i]);
		/*
		 * One sort per interval: the collector sorted the flows busiest
		 * first (flow_entry_cmp), which is row_cmp's order under the
		 * default --sort; a pass confirms it instead of sorting again.
		 */
		sorted = in_order(r->rows, n, o->sort);
	} else {
		int err = fold_groups(r, iv, o, &n);

		if (err)
			return err;
	}
	out->rows = r->rows;
	out->nrows = n;
	out->rx_bytes = iv->rx_bytes;
	out->tx_bytes = iv->tx_bytes;
	if (n && !sorted)
		qsort_r(out->rows, n, sizeof(*out->rows), row_cmp, (void *)&o->sort);
	fold_others(out, o->rows);
	return 0;
}
