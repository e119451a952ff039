/* SPDX-License-Identifier: MIT */
/* What --listen serves: the report's groups as Prometheus series. */
#ifndef BCCFLOW_METRICS_H
#define BCCFLOW_METRICS_H

#include <stdbool.h>
#include <string.h>

#include "collect.h"
#include "opts.h"
#include "prom.h"
#include "report.h"

/* Cumulative counters since start, for the self metrics. */
struct metrics_totals {
	__u64 intervals, events, dropped, dropped_bytes;
	bool bpf_known;			/* else bpf_run_ns and bpf_runs are unknown */
	__u64 bpf_run_ns, bpf_runs, cpu_ns;
};

/*
 * Series: with --listen the reporter keeps every group, in the order first
 * seen (seq). The first --max-series - 1 groups have a series of their own;
 * later ones are folded into one "other" series. Derived from seq, the
 * choice is sticky with no state of its own. Inline: the report's unit
 * tests check it without the HTTP server this module links.
 */
static inline bool metrics_own_series(const struct group *g, unsigned max_series)
{
	return !max_series || g->seq < max_series;
}

struct series_count {
	size_t own;			/* groups with a series of their own */
	size_t limited;			/* groups folded into "other" */
	__u64 other_rx, other_tx;	/* their totals: the "other" series */
};

/* Counts r's series (none without --listen, when groups are not kept). */
static inline void metrics_count_series(const struct reporter *r, unsigned max_series,
					struct series_count *c)
{
	const struct group *g;
	size_t pos = 0;

	memset(c, 0, sizeof(*c));
	while (r->keep_groups && (g = reporter_next_group(r, &pos))) {
		if (metrics_own_series(g, max_series)) {
			c->own++;
		} else {
			c->limited++;
			c->other_rx += g->rx_total;
			c->other_tx += g->tx_total;
		}
	}
}

/*
 * Renders every group of r (one series each, or folded into the "other"
 * series beyond --max-series) plus the self metrics, and publishes it.
 * 0 or -ENOMEM.
 */
int metrics_publish(struct prom_server *srv, const struct reporter *r,
		    const struct interval *iv, const struct metrics_totals *t,
		    const char *attach, const struct options *o);

#endif
