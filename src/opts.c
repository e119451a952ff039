/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

enum {
	OPT_ATTACH = 256,
	OPT_PROBE,
	OPT_EBPF,
	OPT_MAX_FLOWS,
	OPT_NO_MAP_V4,
	OPT_OFFSETS,
};

static const struct option long_opts[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "json", no_argument, NULL, 'j' },
	{ "attach", required_argument, NULL, OPT_ATTACH },
	{ "probe", required_argument, NULL, OPT_PROBE },
	{ "ebpf", no_argument, NULL, OPT_EBPF },
	{ "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
	{ "no-map-v4", no_argument, NULL, OPT_NO_MAP_V4 },
	{ "offsets", required_argument, NULL, OPT_OFFSETS },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const char *const backend_names[] = {
	[BACKEND_AUTO] = "auto",
	[BACKEND_FENTRY] = "fentry",
	[BACKEND_KPROBE] = "kprobe",
	[BACKEND_TRACEPOINT] = "tracepoint",
};

const char *backend_name(enum backend b)
{
	return backend_names[b];
}

void opts_usage(FILE *out)
{
	fprintf(out,
"Usage: bccflow [OPTIONS] [interval [count]]\n"
"Show TCP bytes sent and received per process and flow, every interval.\n"
"\n"
"  interval             seconds between reports (whole number >= 1; default 1)\n"
"  count                number of reports, then exit (>= 1; default: until stopped)\n"
"\n"
"Options:\n"
"  -p, --pid PID[,PID]  only count these processes (repeatable, up to %d)\n"
"  -j, --json           JSON Lines on stdout instead of the table\n"
"      --attach MODE    auto|fentry|kprobe|tracepoint (default auto: the first\n"
"                       that works, in that order)\n"
"      --max-flows N    flow table size (default %u); when full, new flows are\n"
"                       counted as dropped and reported, never silently lost\n"
"      --no-map-v4      show IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) as they\n"
"                       are, with family 6, instead of as IPv4\n"
"      --offsets MODE   auto|btf|headers: where struct sock field offsets come\n"
"                       from (default auto: the kernel's BTF if it has one)\n"
"      --probe FILE     compile FILE instead of the built-in probe text\n"
"      --ebpf           print the probe text after substitutions, then exit\n"
"  -h, --help           show this help and exit\n"
"  -V, --version        show the version and exit\n"
"\n"
"Table columns: RX_KB/TX_KB are this interval's bytes, RXSUM_KB/TXSUM_KB/SUM_KB\n"
"the flow's totals since bccflow started; KB = 1024 bytes, 2 decimals.\n"
"Bytes are TCP payload accepted by / delivered to the socket layer.\n"
"\n"
"Examples:\n"
"  bccflow                  # every flow, every second, until Ctrl-C\n"
"  bccflow 5 3              # three 5-second reports\n"
"  bccflow -p 1234          # only process 1234\n"
"  bccflow -p 1234,5678     # two processes\n"
"  bccflow --json 1 10      # ten JSON reports\n"
"  bccflow --attach tracepoint\n"
"  bccflow --ebpf -p 1234  # the probe text as it would be compiled\n"
"  bccflow --probe my.bpf.c # a copy of probes/flow.bpf.c, edited\n",
		MAX_PID_FILTERS, DEFAULT_MAX_FLOWS);
}

static enum opts_result fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return OPTS_ERROR;
}

/* Strict decimal: digits only, no sign, no spaces, no overflow. */
static int parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static enum opts_result add_pids(struct options *o, const char *arg, long pid_max,
				 char *err, size_t errlen)
{
	const char *p = arg;

	do {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char tok[32];
		unsigned long v;

		snprintf(tok, sizeof(tok), "%.*s", (int)(len < sizeof(tok) ? len : sizeof(tok) - 1),
			 p);
		/* pid_max is one past the largest PID the kernel hands out */
		if (len == 0 || len >= sizeof(tok) ||
		    parse_ulong(tok, (unsigned long)pid_max - 1, &v) || v < 1)
			return fail(err, errlen,
				    "invalid PID '%.*s' in '%s': expected whole numbers from 1 to %ld, "
				    "comma-separated", (int)(len < 32 ? len : 32), p, arg, pid_max - 1);
		if (o->npids == MAX_PID_FILTERS)
			return fail(err, errlen, "too many PIDs: at most %d", MAX_PID_FILTERS);
		o->pids[o->npids++] = (int)v;
		p = comma ? comma + 1 : NULL;
	} while (p);
	return OPTS_OK;
}

static enum opts_result parse_attach(struct options *o, const char *arg, char *err,
				     size_t errlen)
{
	for (size_t i = 0; i < sizeof(backend_names) / sizeof(backend_names[0]); i++) {
		if (!strcmp(arg, backend_names[i])) {
			o->attach = (enum backend)i;
			return OPTS_OK;
		}
	}
	return fail(err, errlen,
		    "invalid --attach '%s': expected auto, fentry, kprobe or tracepoint", arg);
}

static enum opts_result parse_positional(struct options *o, int argc, char **argv, int first,
					 char *err, size_t errlen)
{
	unsigned long v;
	int n = argc - first;

	if (n > 2)
		return fail(err, errlen, "unexpected argument '%s': usage is [interval [count]]",
			    argv[first + 2]);
	if (n >= 1) {
		if (parse_ulong(argv[first], 86400, &v) || v < 1)
			return fail(err, errlen,
				    "invalid interval '%s': expected whole seconds from 1 to 86400",
				    argv[first]);
		o->interval = (unsigned)v;
	}
	if (n == 2) {
		if (parse_ulong(argv[first + 1], 1000000000UL, &v) || v < 1)
			return fail(err, errlen,
				    "invalid count '%s': expected a whole number from 1 to 1000000000",
				    argv[first + 1]);
		o->count = v;
	}
	return OPTS_OK;
}

static void set_defaults(struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->interval = 1;
	o->attach = BACKEND_AUTO;
	o->output = OUTPUT_TABLE;
	o->max_flows = DEFAULT_MAX_FLOWS;
	o->map_v4 = true;
}

enum opts_result opts_parse(int argc, char **argv, long pid_max, struct options *o,
			    char *err, size_t errlen)
{
	enum opts_result r = OPTS_OK;
	unsigned long v;
	int c;

	set_defaults(o);
	optind = 0;	/* reset getopt: the parser may run more than once */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:jhV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			r = add_pids(o, optarg, pid_max, err, errlen);
			break;
		case 'j':
			o->output = OUTPUT_JSON;
			break;
		case OPT_ATTACH:
			r = parse_attach(o, optarg, err, errlen);
			break;
		case OPT_PROBE:
			if (!*optarg)
				return fail(err, errlen, "invalid --probe '': expected a file name");
			o->probe_file = optarg;
			break;
		case OPT_EBPF:
			o->print_ebpf = true;
			break;
		case OPT_MAX_FLOWS:
			if (parse_ulong(optarg, MAX_MAX_FLOWS, &v) || v < 1)
				return fail(err, errlen,
					    "invalid --max-flows '%s': expected a whole number from 1 to %u",
					    optarg, MAX_MAX_FLOWS);
			o->max_flows = (unsigned)v;
			break;
		case OPT_OFFSETS:
			if (!strcmp(optarg, "auto"))
				o->offsets = OFFSETS_AUTO;
			else if (!strcmp(optarg, "btf"))
				o->offsets = OFFSETS_BTF;
			else if (!strcmp(optarg, "headers"))
				o->offsets = OFFSETS_HEADERS;
			else
				return fail(err, errlen, "invalid --offsets '%s': expected auto, btf "
					    "or headers", optarg);
			break;
		case OPT_NO_MAP_V4:
			o->map_v4 = false;
			break;
		case 'h':
			return OPTS_HELP;
		case 'V':
			return OPTS_VERSION;
		case ':':
			return fail(err, errlen, "option '%s' needs a value (see --help)",
				    argv[optind - 1]);
		default:
			/* in a group like -xj, optind has not moved past the group */
			if (optopt)
				return fail(err, errlen, "unknown option '-%c' (see --help)", optopt);
			return fail(err, errlen, "unknown option '%s' (see --help)",
				    argv[optind - 1]);
		}
		if (r != OPTS_OK)
			return r;
	}
	return parse_positional(o, argc, argv, optind, err, errlen);
}
