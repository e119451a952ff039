/* SPDX-License-Identifier: MIT */
/* Command-line options: parsed and validated before anything touches BPF. */
#ifndef BCCFLOW_OPTS_H
#define BCCFLOW_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <getopt.h>
#include <stdio.h>
#include <linux/types.h>

#include "backend.h"

#define MAX_PID_FILTERS 16
#define DEFAULT_MAX_FLOWS 65536u
#define MAX_MAX_FLOWS (1u << 22)

/* Where the probe gets struct sock field offsets. */
enum offsets_mode {
	OFFSETS_AUTO = 0,	/* BTF when the kernel has it, else headers */
	OFFSETS_BTF,
	OFFSETS_HEADERS,	/* kernel headers, checked against BTF if any */
};

enum output_mode {
	OUTPUT_TABLE = 0,
	OUTPUT_JSON,
	OUTPUT_CSV,
};

/* What a row (and a metrics series) stands for. */
enum group_by {
	BY_FLOW = 0,
	BY_PID,
	BY_COMM,
	BY_RADDR,
	BY_LPORT,
	BY_CGROUP,
	BY_CONTAINER,
};

enum sort_key {
	SORT_TOTAL = 0,		/* rx + tx this interval */
	SORT_RX,
	SORT_TX,
	SORT_RX_TOTAL,		/* since start */
	SORT_TX_TOTAL,
	SORT_TOTAL_ALL,
};

enum units {
	UNITS_KB = 0,
	UNITS_B,
	UNITS_MB,
	UNITS_AUTO,
};

#define MAX_PORT_FILTERS 16
#define MAX_CIDR_FILTERS 8

struct cidr {
	int family;		/* 4 or 6 */
	unsigned char addr[16];	/* network order; IPv4 in the first 4 bytes */
	int prefix;
};

struct options {
	unsigned interval;		/* seconds, >= 1 */
	unsigned long count;		/* intervals to report; 0 = until stopped */
	int npids;
	int pids[MAX_PID_FILTERS];
	enum backend attach;
	enum offsets_mode offsets;
	enum output_mode output;
	const char *probe_file;		/* --probe: compile this instead */
	bool print_ebpf;		/* --ebpf: print the text and exit */
	unsigned max_flows;
	bool map_v4;			/* show ::ffff:a.b.c.d as a.b.c.d */
	bool bpf_stats;			/* --bpf-stats: kernel BPF statistics while running */
	/* in-kernel filters (all validated here; compiled into the probe) */
	int family;			/* 0 any, 4 (incl. v4-mapped) or 6 */
	int proto;			/* 0 both, or FLOW_PROTO_TCP / FLOW_PROTO_UDP */
	int nports;
	unsigned short ports[MAX_PORT_FILTERS];	/* local or remote */
	int nladdr, nraddr;
	struct cidr laddr[MAX_CIDR_FILTERS];
	struct cidr raddr[MAX_CIDR_FILTERS];
	const char *comm;		/* exact process (thread) name */
	const char *cgroup;		/* cgroup v2 directory; checked by main() */
	__u32 netns;			/* network namespace inode; 0: any */
	const char *netns_path;		/* --netns PATH: main() sets netns from it */
	/* reporting */
	enum group_by by;
	bool by_set;
	enum sort_key sort;
	unsigned rows;			/* 0: all rows; else top N and "others" */
	enum units units;
	bool units_set;			/* --units given (the screen has its own default) */
	bool rate;			/* add per-second rates */
	bool no_clear;			/* -C: rolling output even on a terminal */
	bool wide;			/* -w: NETNS, CONTAINER and CGROUP table columns */
	bool ascii;			/* --ascii: the screen draws bars with ASCII */
	bool names;			/* --names: the screen starts with remote host names */
	const char *listen;		/* --listen ADDR:PORT; parsed by prom.c */
	unsigned max_series;		/* metrics series limit, 0 = none */
	const char *web_config;		/* --web-config FILE; read by webconfig.c */
	const char *user;		/* --user NAME after attach; NULL: nobody */
};

enum opts_result {
	OPTS_OK = 0,
	OPTS_HELP,		/* help was asked for */
	OPTS_VERSION,		/* version was asked for */
	OPTS_ERROR,		/* err holds the one-line reason */
};

/*
 * Parses argv into *o. pid_max bounds -p (the caller reads it from
 * /proc/sys/kernel/pid_max so this stays testable without /proc).
 */
enum opts_result opts_parse(int argc, char **argv, long pid_max,
			    struct options *o, char *err, size_t errlen);
void opts_usage(FILE *out);
/* getopt's table of long options, ending with a zeroed entry (for tests). */
const struct option *opts_long_options(void);
const char *group_by_name(enum group_by by);
/* Parses "A.B.C.D[/N]" or "IPv6[/N]"; 0 or -1. */
int parse_cidr(const char *s, struct cidr *c);

#endif
