/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collect.h"
#include "drain.h"
#include "format.h"
#include "metrics.h"
#include "monitor.h"
#include "report.h"

volatile sig_atomic_t exiting;

struct monitor {
	const struct options *o;
	const struct loaded *l;
	struct prom_server *prom;
	struct collector c;
	struct drain d;
	struct map_ops ops;
	struct reporter rep;
	struct screen scr;
	struct metrics_totals totals;
};

static double now_epoch(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static __u64 mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000u + (__u64)ts.tv_nsec / 1000u;
}

/* Sleeps until *next; a signal cuts the interval short. */
static void sleep_until(const struct timespec *next)
{
	while (!exiting &&
	       clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, next, NULL) == EINTR)
		;
}

/* 0: written; 1: the reader is gone (quiet exit); -1: write error. */
static int flush_output(void)
{
	int ok = fflush(stdout) == 0 && !ferror(stdout);

	if (exiting == EXITING_OUTPUT_DROPPED) {
		fprintf(stderr, "bccflow: stdout was not being read: the last report was "
			"dropped\n");
		return -1;
	}
	if (ok)
		return 0;
	if (errno == EPIPE)
		return 1;
	fprintf(stderr, "bccflow: cannot write output: %s\n", strerror(errno));
	return -1;
}

static void warn_drops(const struct interval *iv, const struct options *o)
{
	if (iv->marks_lost)
		fprintf(stderr, "bccflow: warning: %llu closed flows could not be marked for "
			"eviction in interval %lu (raise --max-flows): they stay in the table\n",
			(unsigned long long)iv->marks_lost, iv->index);
	if (iv->dropped)
		fprintf(stderr, "bccflow: warning: flow table full (--max-flows %u): %llu events "
			"(%llu bytes) of new flows not counted in interval %lu\n", o->max_flows,
			(unsigned long long)iv->dropped, (unsigned long long)iv->dropped_bytes,
			iv->index);
}

static int report(struct monitor *m, const struct interval *iv, double elapsed_s)
{
	const struct options *o = m->o;
	struct report r;
	int err = report_build(&m->rep, iv, o, elapsed_s, &r);

	if (err)
		return err;
	if (o->output == OUTPUT_JSON)
		format_json(stdout, &r, now_epoch(), o);
	else if (o->output == OUTPUT_CSV)
		format_csv(stdout, &r, now_epoch(), o);
	else
		format_table(stdout, &r, o, &m->scr);
	warn_drops(iv, o);
	m->totals.intervals++;
	m->totals.events += iv->events;
	m->totals.dropped += iv->dropped;
	m->totals.dropped_bytes += iv->dropped_bytes;
	if (m->prom)
		err = metrics_publish(m->prom, &m->rep, iv, &m->totals,
				      backend_name(m->l->backend), o);
	return err;
}

/* One interval: collect, report, forget evicted flows. 0, 1 (stop quietly) or -1. */
static int one_interval(struct monitor *m, double elapsed_s)
{
	struct interval iv;
	__u64 t0 = mono_us();
	int err = collect_interval(&m->c, &m->ops, &iv), w;

	iv.collect_us = mono_us() - t0;
	if (err) {
		fprintf(stderr, "bccflow: cannot read the flow tables: %s\n", strerror(-err));
		return -1;
	}
	err = report(m, &iv, elapsed_s);
	if (err) {
		fprintf(stderr, "bccflow: cannot build the report: %s\n", strerror(-err));
		return -1;
	}
	w = flush_output();
	if (w)
		return w;
	err = collect_end(&m->c);
	if (err) {
		fprintf(stderr, "bccflow: %s\n", strerror(-err));
		return -1;
	}
	return 0;
}

static int loop(struct monitor *m)
{
	struct timespec next;
	__u64 last = mono_us(), now;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (unsigned long n = 0;;) {
		next.tv_sec += m->o->interval;
		sleep_until(&next);
		now = mono_us();
		rc = one_interval(m, (double)(now - last) / 1e6);
		last = now;
		if (rc)
			return rc < 0;
		if (exiting || (m->o->count && ++n >= m->o->count))
			return 0;
	}
}

static int start_output(struct monitor *m)
{
	if (m->o->output == OUTPUT_JSON)
		format_json_start(stdout, m->l->backend, m->o);
	else if (m->o->output == OUTPUT_CSV)
		format_csv_header(stdout, m->o);
	else
		return 0;
	return flush_output();
}

int monitor_run(const struct options *o, const struct loaded *l, struct prom_server *prom)
{
	struct monitor m = { .o = o, .l = l, .prom = prom };
	struct drain_fds fds = { l->flows_fd, l->socks_fd, l->closed_fd, l->tuples_fd, l->stats_fd };
	int rc, err;

	m.scr.attach = backend_name(l->backend);
	m.scr.clear = o->output == OUTPUT_TABLE && !o->no_clear && isatty(STDOUT_FILENO);
	err = drain_init(&m.d, &fds, o->max_flows);
	if (!err)
		err = collect_init(&m.c, o->max_flows);
	if (!err)
		err = reporter_init(&m.rep, o);
	if (err) {
		fprintf(stderr, "bccflow: cannot set up the flow tables: %s\n", strerror(-err));
		rc = 1;
		goto out;
	}
	m.ops = drain_ops(&m.d);
	rc = start_output(&m);
	if (rc)
		rc = rc < 0;
	else
		rc = loop(&m);
out:
	reporter_free(&m.rep);
	collect_free(&m.c);
	drain_free(&m.d);
	return rc;
}
