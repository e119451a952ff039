/* SPDX-License-Identifier: MIT */
/* The interval loop: sleep, collect, report, until count or a signal. */
#ifndef BCCFLOW_MONITOR_H
#define BCCFLOW_MONITOR_H

#include <signal.h>

#include "loader.h"
#include "opts.h"

struct prom_server;
struct selfcost;

/*
 * Set by SIGINT/SIGTERM: end after reporting the current partial interval.
 * EXITING_OUTPUT_DROPPED: stdout blocked for 3 s after that, and was
 * pointed at /dev/null so the run can end.
 */
#define EXITING_OUTPUT_DROPPED 2
extern volatile sig_atomic_t exiting;

/* SIGINT/SIGTERM set exiting (see monitor.c for the output-drop protocol). */
void monitor_setup_signals(void);

/*
 * Reports until count or a signal; prom (may be NULL) gets the metrics,
 * cost (started by the caller) says what bccflow itself costs; f gives the
 * cgroup2 mount that cgroup ids are resolved in.
 * EXIT_SUCCESS on a normal end (count reached, signal, reader gone);
 * EXIT_FAILURE when something failed (said on stderr).
 */
int monitor_run(const struct options *o, const struct loaded *l, const struct kfeatures *f,
		const struct selfcost *cost, struct prom_server *prom);

#endif
