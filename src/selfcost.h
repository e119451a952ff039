/* SPDX-License-Identifier: MIT */
/*
 * Where bccflow's own cost is measured: the run time and run count of its
 * BPF programs (the kernel's BPF statistics, switched on with
 * BPF_ENABLE_STATS for as long as bccflow holds the returned descriptor, so
 * never left on; only with --bpf-stats, because they are global: every BPF
 * program on the host pays for them while they are on) and the CPU time of
 * the bccflow process itself.
 *
 * The run time is what the programs' bodies took. It leaves out the hook's
 * own dispatch (entering the tracepoint, kprobe or trampoline), which every
 * program on that hook pays, and the statistics add a little to each run
 * (two clock reads).
 */
#ifndef BCCFLOW_SELFCOST_H
#define BCCFLOW_SELFCOST_H

#include <stdbool.h>
#include <linux/types.h>

#include "loader.h"

/* Totals since bccflow started. */
struct selfcost_sample {
	bool bpf_known;		/* false without statistics: the two below are unknown */
	__u64 bpf_run_ns;	/* run time of our programs (0 when unknown) */
	__u64 bpf_runs;		/* their runs */
	__u64 cpu_ns;		/* user + system CPU of this process */
};

struct selfcost {
	int stats_fd;		/* -1: the kernel's statistics are not ours (off, or refused) */
	int nprogs;
	int prog_fds[LOADER_MAX_LINKS];
};

/*
 * Measures l's programs; with enable, enables the kernel's BPF run-time
 * statistics for them (needs CAP_SYS_ADMIN, Linux 5.8). Never fails: without
 * them bpf_run_ns and bpf_runs are unknown, and *why says why they could not
 * be enabled (else "", also when not asked to).
 */
void selfcost_start(struct selfcost *s, const struct loaded *l, bool enable, char *why,
		    size_t whylen);
void selfcost_read(const struct selfcost *s, struct selfcost_sample *out);
/* Switches the statistics off again (closes the descriptor). */
void selfcost_stop(struct selfcost *s);

#endif
