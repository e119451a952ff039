/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "collect.h"
#include "drain.h"
#include "format.h"
#include "monitor.h"

volatile sig_atomic_t exiting;

static double now_epoch(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
	if (fflush(stdout) == 0 && !ferror(stdout))
		return 0;
	if (errno == EPIPE)
		return 1;
	fprintf(stderr, "bccflow: cannot write output: %s\n", strerror(errno));
	return -1;
}

static void report(const struct interval *iv, const struct options *o)
{
	if (o->output == OUTPUT_JSON)
		format_json_interval(stdout, iv, now_epoch(), o);
	else
		format_table_interval(stdout, iv, o);
	if (iv->dropped)
		fprintf(stderr, "bccflow: warning: flow table full (--max-flows %u): %llu events "
			"(%llu bytes) of new flows not counted in interval %lu\n", o->max_flows,
			(unsigned long long)iv->dropped, (unsigned long long)iv->dropped_bytes,
			iv->index);
}

static __u64 mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000u + (__u64)ts.tv_nsec / 1000u;
}

static int loop(const struct options *o, struct collector *c, const struct map_ops *ops)
{
	struct timespec next;
	struct interval iv;
	__u64 t0;
	int err, w;

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (unsigned long n = 0;;) {
		next.tv_sec += o->interval;
		sleep_until(&next);
		t0 = mono_us();
		err = collect_interval(c, ops, &iv);
		iv.collect_us = mono_us() - t0;
		if (err) {
			fprintf(stderr, "bccflow: cannot read the flow tables: %s\n", strerror(-err));
			return 1;
		}
		report(&iv, o);
		w = flush_output();
		if (w)
			return w < 0;
		err = collect_end(c);
		if (err) {
			fprintf(stderr, "bccflow: %s\n", strerror(-err));
			return 1;
		}
		if (exiting || (o->count && ++n >= o->count))
			return 0;
	}
}

int monitor_run(const struct options *o, const struct loaded *l)
{
	struct collector c;
	struct drain d;
	struct map_ops ops;
	int rc, err;

	err = drain_init(&d, l->flows_fd, l->closed_fd, l->stats_fd, o->max_flows);
	if (!err)
		err = collect_init(&c, o->max_flows);
	if (err) {
		fprintf(stderr, "bccflow: cannot set up the flow tables: %s\n", strerror(-err));
		drain_free(&d);
		return 1;
	}
	ops = drain_ops(&d);
	if (o->output == OUTPUT_JSON) {
		format_json_start(stdout, l->backend, o);
		rc = flush_output();
		if (rc) {
			rc = rc < 0;
			goto out;
		}
	}
	rc = loop(o, &c, &ops);
out:
	collect_free(&c);
	drain_free(&d);
	return rc;
}
