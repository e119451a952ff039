/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgroup_names.h"
#include "collect.h"
#include "drain.h"
#include "format.h"
#include "kfeatures.h"
#include "live.h"
#include "metrics.h"
#include "monitor.h"
#include "report.h"
#include "selfcost.h"

volatile sig_atomic_t exiting;

/*
 * The output-drop protocol: the first SIGINT/SIGTERM asks the loop to end
 * after the current partial interval; if stdout's reader has stopped
 * reading, SIGALRM 3 s later points stdout at /dev/null so the run can end
 * (flush_output() then reports the dropped report).
 */
static void on_signal(int sig)
{
	int fd;

	if (sig != SIGALRM) {
		if (!exiting)
			exiting = 1;
		/* a reader that stopped reading must not keep us from exiting */
		alarm(3);
		return;
	}
	/* 3 s later still here: drop the rest of the output (async-signal-safe) */
	fd = open("/dev/null", O_WRONLY);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
	exiting = EXITING_OUTPUT_DROPPED;
}

void monitor_setup_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	/* no SA_RESTART: the interval sleep must end at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);	/* a gone reader shows up as EPIPE */
}


struct monitor {
	const struct options *o;
	const struct loaded *l;
	struct prom_server *prom;
	struct collector c;
	struct drain d;
	struct map_ops ops;
	struct reporter rep;
	struct cgroup_paths paths;
	bool have_paths;
	struct cgroup_names names;
	const char *attach;		/* the backend's name, for the live screen */
	struct live live;
	bool is_live;			/* the live screen (live.h) instead of format_table */
	bool end_pending;		/* collect_end() still due for the last interval */
	struct metrics_totals totals;
	const struct selfcost *cost;
	struct selfcost_sample cost_prev;
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

/* How each step of the run ends: the run goes on, ends well, or fails. */
enum step {
	STEP_ON,
	STEP_DONE,	/* count reached, a signal, or the reader is gone: exit 0 */
	STEP_FAILED,	/* said why on stderr: exit 1 */
};

static enum step flush_output(void)
{
	int ok = fflush(stdout) == 0 && !ferror(stdout);

	if (exiting == EXITING_OUTPUT_DROPPED) {
		fprintf(stderr, "bccflow: stdout was not being read: the last report was "
			"dropped\n");
		return STEP_FAILED;
	}
	if (ok)
		return STEP_ON;
	if (errno == EPIPE)
		return STEP_DONE;	/* quietly, like head(1)'s writers */
	fprintf(stderr, "bccflow: cannot write output: %s\n", strerror(errno));
	return STEP_FAILED;
}

/* The two warnings of an interval that lost something; when: " in interval N" or "". */
static void marks_lost_text(char *buf, size_t len, const struct interval *iv, const char *when,
			    const char *tail)
{
	snprintf(buf, len, "warning: %llu closed flows could not be marked for eviction%s "
		 "(raise --max-flows)%s", (unsigned long long)iv->marks_lost, when, tail);
}

static void dropped_text(char *buf, size_t len, const struct interval *iv,
			 const struct options *o, const char *when)
{
	snprintf(buf, len, "warning: flow table full (--max-flows %u): %llu events (%llu bytes) "
		 "of new flows not counted%s", o->max_flows, (unsigned long long)iv->dropped,
		 (unsigned long long)iv->dropped_bytes, when);
}

static void warn_drops(const struct interval *iv, const struct options *o)
{
	char when[48], msg[256];

	snprintf(when, sizeof(when), " in interval %lu", iv->index);
	if (iv->marks_lost) {
		marks_lost_text(msg, sizeof(msg), iv, when, ": they stay in the table");
		fprintf(stderr, "bccflow: %s\n", msg);
	}
	if (iv->dropped) {
		dropped_text(msg, sizeof(msg), iv, o, when);
		fprintf(stderr, "bccflow: %s\n", msg);
	}
}

/* Gives each active flow its cgroup's names (once known, a flow keeps them). */
static int name_cgroups(struct monitor *m, const struct interval *iv)
{
	for (size_t i = 0; i < iv->nrows; i++) {
		struct flow_entry *e = iv->rows[i];

		if (e->cg && e->cg->known)
			continue;
		e->cg = cgroup_names_get(&m->names, e->key.cgroup);
		if (!e->cg)
			return -ENOMEM;
	}
	return 0;
}

/* The live screen's interval, with the warnings of warn_drops() in the hint's place. */
static int live_report(struct monitor *m, const struct interval *iv, double elapsed_s)
{
	char msg[192];

	if (iv->dropped)
		dropped_text(msg, sizeof(msg), iv, m->o, "");
	else if (iv->marks_lost)
		marks_lost_text(msg, sizeof(msg), iv, "", "");
	else
		msg[0] = '\0';
	if (*msg)
		live_message(&m->live, msg);
	return live_interval(&m->live, iv, elapsed_s);
}

static int report(struct monitor *m, const struct interval *iv, double elapsed_s)
{
	const struct options *o = m->o;
	struct report r;
	int err = name_cgroups(m, iv);

	/* on the live screen, the metrics' rows only: the screen has its own */
	if (!err && (!m->is_live || m->prom))
		err = report_build(&m->rep, iv, o, elapsed_s, &r);
	if (!err && m->is_live)
		err = live_report(m, iv, elapsed_s);
	if (err)
		return err;
	if (!m->is_live) {
		if (o->output == OUTPUT_JSON)
			format_json(stdout, &r, now_epoch(), o);
		else if (o->output == OUTPUT_CSV)
			format_csv(stdout, &r, now_epoch(), o);
		else
			format_table(stdout, &r, o);
		warn_drops(iv, o);
	}
	m->totals.intervals++;
	m->totals.events += iv->events;
	m->totals.dropped += iv->dropped;
	m->totals.dropped_bytes += iv->dropped_bytes;
	m->totals.bpf_known = iv->bpf_known;
	m->totals.bpf_run_ns += iv->bpf_run_ns;
	m->totals.bpf_runs += iv->bpf_runs;
	m->totals.cpu_ns += iv->cpu_ns;
	if (m->prom)
		err = metrics_publish(m->prom, &m->rep, iv, &m->totals,
				      backend_name(m->l->backend), o);
	return err;
}

/* Our own cost since the last interval (the formatting of the last report included). */
static void measure_cost(struct monitor *m, struct interval *iv)
{
	struct selfcost_sample now;

	selfcost_read(m->cost, &now);
	iv->bpf_known = now.bpf_known;
	iv->bpf_run_ns = now.bpf_run_ns - m->cost_prev.bpf_run_ns;
	iv->bpf_runs = now.bpf_runs - m->cost_prev.bpf_runs;
	iv->cpu_ns = now.cpu_ns - m->cost_prev.cpu_ns;
	m->cost_prev = now;
}

/* One interval: collect, report, forget evicted flows. */
static enum step one_interval(struct monitor *m, double elapsed_s)
{
	struct interval iv;
	__u64 t0;
	int err;
	enum step s;

	if (m->end_pending) {
		m->end_pending = false;
		err = collect_end(&m->c);
		if (err) {
			fprintf(stderr, "bccflow: %s\n", strerror(-err));
			return STEP_FAILED;
		}
	}
	t0 = mono_us();
	err = collect_interval(&m->c, &m->ops, &iv);

	iv.collect_us = mono_us() - t0;
	measure_cost(m, &iv);
	if (err) {
		fprintf(stderr, "bccflow: cannot read the flow tables: %s\n", strerror(-err));
		return STEP_FAILED;
	}
	err = report(m, &iv, elapsed_s);
	if (err) {
		fprintf(stderr, "bccflow: cannot build the report: %s\n", strerror(-err));
		return STEP_FAILED;
	}
	s = flush_output();
	if (s != STEP_ON)
		return s;
	if (m->is_live) {
		/* the screen may group this interval's rows again on a key */
		m->end_pending = true;
		return STEP_ON;
	}
	err = collect_end(&m->c);
	if (err) {
		fprintf(stderr, "bccflow: %s\n", strerror(-err));
		return STEP_FAILED;
	}
	return STEP_ON;
}

static enum step loop(struct monitor *m)
{
	struct timespec next;
	__u64 last = mono_us(), now;
	enum step s;

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (unsigned long n = 0;;) {
		next.tv_sec += m->o->interval;
		if (m->is_live) {
			/* keys and resizes answered at once; the interval ends on time */
			switch (live_wait(&m->live, &next)) {
			case LIVE_QUIT:
				return STEP_DONE;
			case LIVE_FAILED:
				return STEP_FAILED;
			default:
				break;
			}
		} else {
			sleep_until(&next);
		}
		now = mono_us();
		s = one_interval(m, (double)(now - last) / 1e6);
		last = now;
		if (s != STEP_ON)
			return s;
		if (exiting || (m->o->count && ++n >= m->o->count))
			return STEP_DONE;
	}
}

static enum step start_output(struct monitor *m)
{
	if (m->o->output == OUTPUT_JSON)
		format_json_start(stdout, m->l->backend, m->o);
	else if (m->o->output == OUTPUT_CSV)
		format_csv_header(stdout, m->o);
	else
		return STEP_ON;
	return flush_output();
}

/*
 * cgroup ids as paths need the cgroup2 mount; without one, the cgroup and
 * container fields stay empty, which is said once.
 */
static void open_cgroup_paths(struct monitor *m, const struct kfeatures *f)
{
	char err[512];

	snprintf(err, sizeof(err), "%s", f->cgroup2_why);	/* found at detection */
	if (!*f->cgroup2 || cgroup_paths_init(&m->paths, f->cgroup2, NULL, err, sizeof(err))) {
		fprintf(stderr, "bccflow: warning: %s: cgroup and container fields stay empty\n",
			err);
		return;
	}
	m->have_paths = true;
}

int monitor_run(const struct options *o, const struct loaded *l, const struct kfeatures *f,
		const struct selfcost *cost, struct prom_server *prom)
{
	struct monitor m = { .o = o, .l = l, .prom = prom, .cost = cost };
	struct drain_fds fds = { l->flows_fd, l->socks_fd, l->closed_fd, l->tuples_fd, l->stats_fd,
				 l->cgroup_dirs_fd, l->sock_claims_fd, l->socks_slots };
	enum step s = STEP_FAILED;
	int err;

	m.attach = backend_name(l->backend);
	m.is_live = o->output == OUTPUT_TABLE && !o->no_clear && isatty(STDOUT_FILENO);
	err = drain_init(&m.d, &fds, o->max_flows);
	if (!err)
		err = collect_init(&m.c, o->max_flows);
	if (!err)
		err = reporter_init(&m.rep, o);
	if (!err) {
		open_cgroup_paths(&m, f);
		err = cgroup_names_init(&m.names, m.have_paths ? &m.paths : NULL,
					drain_cgroup_dir, &m.d, NULL);
	}
	if (err) {
		fprintf(stderr, "bccflow: cannot set up the flow tables: %s\n", strerror(-err));
		goto out;
	}
	m.ops = drain_ops(&m.d);
	if (m.is_live && live_open(&m.live, o, m.attach)) {
		m.is_live = false;
		goto out;
	}
	/* CPU from here on (not the compile); BPF runs since the statistics went on */
	selfcost_read(cost, &m.cost_prev);
	m.cost_prev.bpf_run_ns = m.cost_prev.bpf_runs = 0;
	s = start_output(&m);
	if (s == STEP_ON)
		s = loop(&m);
out:
	if (m.is_live)
		live_close(&m.live);	/* the terminal as it was, on every way out */
	cgroup_names_free(&m.names);
	if (m.have_paths)
		cgroup_paths_free(&m.paths);
	reporter_free(&m.rep);
	collect_free(&m.c);
	drain_free(&m.d);
	return s == STEP_FAILED ? EXIT_FAILURE : EXIT_SUCCESS;
}
