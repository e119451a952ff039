/* SPDX-License-Identifier: MIT */
/* Where the probe text is prepared: header splice, placeholders, defines. */
#ifndef BCCFLOW_PROBE_TEXT_H
#define BCCFLOW_PROBE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "opts.h"

/* Built from probes/ at build time (see CMakeLists.txt). */
extern const char bccflow_probe_source[];
extern const char bccflow_probe_header[];

struct probe_config {
	enum backend backend;		/* never BACKEND_AUTO here */
	unsigned max_flows;
	int npids;
	const int *pids;		/* already validated by opts_parse() */
	const struct options *filter;	/* key filters (validated); NULL: none */
	bool have_tcp_sendpage;		/* kernel < 6.5: sendfile path */
	bool recvmsg_has_nonblock;	/* kernel < 5.19 tcp_recvmsg() */
	/*
	 * Field offsets in struct sock from BTF, as (name, offset) pairs; with
	 * nfields 0 the probe includes the kernel headers instead.
	 */
	int nfields;
	const char *const *field_names;
	const long *field_offsets;
	/* IPv4 addresses and ports in the first 16 bytes, as since Linux 2.6 */
	bool sk_head_packed;
	/* struct sock.sk_protocol, from BTF: the raw tracepoint backend needs it */
	long sk_protocol_off;
	/* struct net.ns.inum from BTF; 0 or -1: unknown (the headers give it) */
	long net_inum_off;
	/* FLOW_TASK_FIELDS' offsets, in that order, from BTF; NULL: unknown */
	const long *task_offsets;
	/* enum current_fact's values (kfeatures.h) from BTF; NULL: unknown */
	const long *current_facts;
	/* the cgroup:cgroup_{mk,rm}dir tracepoints have a 64-bit id */
	bool have_tp_cgroup_dirs;
	bool stamps;			/* FLOW_STAMPS (kfeatures.h, stamps_ok) */
};

/*
 * Returns the final text (malloc'd) to compile: defines for cfg, then src
 * with its '#include "flow.h"' line replaced by header and every FILTER_PID
 * replaced by the PID filter. NULL with a reason in err on failure.
 */
char *probe_text_prepare(const char *src, const char *header,
			 const struct probe_config *cfg, char *err, size_t errlen);

/* Reads a probe file (at most 1 MiB of text). NULL with a reason in err. */
char *probe_text_read_file(const char *path, char *err, size_t errlen);

/*
 * Slots of the probe's socket table for --max-flows max_flows: 2^bits, the
 * next power of two, within SOCK_TABLE_MIN_BITS..SOCK_TABLE_MAX_BITS (an
 * array the host reads whole every interval, so it stays small).
 */
unsigned sock_table_bits(unsigned max_flows);

#endif
