/* SPDX-License-Identifier: MIT */
/* What --listen serves: the report's groups as Prometheus series. */
#ifndef BCCFLOW_METRICS_H
#define BCCFLOW_METRICS_H

#include "collect.h"
#include "opts.h"
#include "prom.h"
#include "report.h"

/* Cumulative counters since start, for the self metrics. */
struct metrics_totals {
	__u64 intervals, events, dropped, dropped_bytes;
};

/*
 * Renders every group of r (one series each, or folded into the "other"
 * series beyond --max-series) plus the self metrics, and publishes it.
 * 0 or -ENOMEM.
 */
int metrics_publish(struct prom_server *srv, const struct reporter *r,
		    const struct interval *iv, const struct metrics_totals *t,
		    const char *attach, const struct options *o);

#endif
