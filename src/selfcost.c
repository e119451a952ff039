/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/bpf.h>

#include "selfcost.h"

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

void selfcost_start(struct selfcost *s, const struct loaded *l, bool enable, char *why,
		    size_t whylen)
{
	union bpf_attr attr;

	memset(s, 0, sizeof(*s));
	for (int i = 0; i < l->nlinks && i < LOADER_MAX_LINKS; i++)
		if (l->links[i].prog_fd >= 0)
			s->prog_fds[s->nprogs++] = l->links[i].prog_fd;
	s->stats_fd = -1;
	if (enable) {
		memset(&attr, 0, sizeof(attr));
		attr.enable_stats.type = BPF_STATS_RUN_TIME;
		s->stats_fd = sys_bpf(BPF_ENABLE_STATS, &attr);
	}
	if (why && whylen)
		snprintf(why, whylen, "%s", enable && s->stats_fd < 0 ? strerror(errno) : "");
}

static void prog_stats(int fd, __u64 *ns, __u64 *runs)
{
	struct bpf_prog_info info;
	union bpf_attr attr;

	memset(&info, 0, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (__u32)fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (__u64)(unsigned long)&info;
	if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) == 0) {
		*ns += info.run_time_ns;
		*runs += info.run_cnt;
	}
}

void selfcost_read(const struct selfcost *s, struct selfcost_sample *out)
{
	struct rusage ru;

	memset(out, 0, sizeof(*out));
	out->bpf_known = s->stats_fd >= 0;
	for (int i = 0; out->bpf_known && i < s->nprogs; i++)
		prog_stats(s->prog_fds[i], &out->bpf_run_ns, &out->bpf_runs);
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		out->cpu_ns = ((__u64)ru.ru_utime.tv_sec + (__u64)ru.ru_stime.tv_sec) * 1000000000u +
			      ((__u64)ru.ru_utime.tv_usec + (__u64)ru.ru_stime.tv_usec) * 1000u;
}

void selfcost_stop(struct selfcost *s)
{
	if (s->stats_fd >= 0)
		close(s->stats_fd);
	s->stats_fd = -1;
}
