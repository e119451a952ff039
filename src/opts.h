/* SPDX-License-Identifier: MIT */
/* Command-line options: parsed and validated before anything touches BPF. */
#ifndef BCCFLOW_OPTS_H
#define BCCFLOW_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define BCCFLOW_VERSION "0.1.0"
#define MAX_PID_FILTERS 16
#define DEFAULT_MAX_FLOWS 65536u
#define MAX_MAX_FLOWS (1u << 22)

enum backend {
	BACKEND_AUTO = 0,
	BACKEND_FENTRY,
	BACKEND_KPROBE,
	BACKEND_TRACEPOINT,
};

/* Where the probe gets struct sock field offsets. */
enum offsets_mode {
	OFFSETS_AUTO = 0,	/* BTF when the kernel has it, else headers */
	OFFSETS_BTF,
	OFFSETS_HEADERS,	/* kernel headers, checked against BTF if any */
};

enum output_mode {
	OUTPUT_TABLE = 0,
	OUTPUT_JSON,
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
const char *backend_name(enum backend b);

#endif
