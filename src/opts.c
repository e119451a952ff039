/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/types.h>

#include "../probes/flow.h"
#include "numparse.h"
#include "opts.h"

enum {
	OPT_ATTACH = 256,
	OPT_PROBE,
	OPT_EBPF,
	OPT_MAX_FLOWS,
	OPT_NO_MAP_V4,
	OPT_OFFSETS,
	OPT_COMM,
	OPT_PORT,
	OPT_LADDR,
	OPT_RADDR,
	OPT_CGROUP,
	OPT_NETNS,
	OPT_PROTO,
	OPT_BY,
	OPT_SORT,
	OPT_UNITS,
	OPT_RATE,
	OPT_CSV,
	OPT_LISTEN,
	OPT_MAX_SERIES,
	OPT_WEB_CONFIG,
	OPT_USER,
	OPT_ASCII,
	OPT_NAMES,
	OPT_BPF_STATS,
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
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "laddr", required_argument, NULL, OPT_LADDR },
	{ "raddr", required_argument, NULL, OPT_RADDR },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "netns", required_argument, NULL, OPT_NETNS },
	{ "proto", required_argument, NULL, OPT_PROTO },
	{ "ipv4", no_argument, NULL, '4' },
	{ "ipv6", no_argument, NULL, '6' },
	{ "by", required_argument, NULL, OPT_BY },
	{ "sort", required_argument, NULL, OPT_SORT },
	{ "rows", required_argument, NULL, 'r' },
	{ "units", required_argument, NULL, OPT_UNITS },
	{ "rate", no_argument, NULL, OPT_RATE },
	{ "no-clear", no_argument, NULL, 'C' },
	{ "wide", no_argument, NULL, 'w' },
	{ "ascii", no_argument, NULL, OPT_ASCII },
	{ "names", no_argument, NULL, OPT_NAMES },
	{ "csv", no_argument, NULL, OPT_CSV },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "max-series", required_argument, NULL, OPT_MAX_SERIES },
	{ "web-config", required_argument, NULL, OPT_WEB_CONFIG },
	{ "user", required_argument, NULL, OPT_USER },
	{ "bpf-stats", no_argument, NULL, OPT_BPF_STATS },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const char *const by_names[] = {
	[BY_FLOW] = "flow", [BY_PID] = "pid", [BY_COMM] = "comm",
	[BY_RADDR] = "raddr", [BY_LPORT] = "lport", [BY_CGROUP] = "cgroup",
	[BY_CONTAINER] = "container",
};

static const char *const sort_names[] = {
	[SORT_TOTAL] = "total", [SORT_RX] = "rx", [SORT_TX] = "tx",
	[SORT_RX_TOTAL] = "rx_total", [SORT_TX_TOTAL] = "tx_total",
	[SORT_TOTAL_ALL] = "total_all",
};

static const char *const unit_names[] = {
	[UNITS_KB] = "KB", [UNITS_B] = "B", [UNITS_MB] = "MB", [UNITS_AUTO] = "auto",
};

const struct option *opts_long_options(void)
{
	return long_opts;
}

const char *group_by_name(enum group_by by)
{
	return by_names[by];
}

/* Index of arg in names[0..n), or -1. */
static int lookup_name(const char *const *names, size_t n, const char *arg)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], arg))
			return (int)i;
	return -1;
}

#define NAMES(a) (a), sizeof(a) / sizeof((a)[0])

void opts_usage(FILE *out)
{
	fprintf(out,
"Usage: bccflow [OPTIONS] [interval [count]]\n"
"Show TCP and UDP bytes sent and received per process and flow, every interval.\n"
"\n"
"  interval             seconds between reports (whole number >= 1; default 1)\n"
"  count                number of reports, then exit (>= 1; default: until stopped)\n"
"\n"
"Options:\n"
"  -p, --pid PID[,PID]  only count these processes (repeatable, up to %d)\n"
"  -j, --json           JSON Lines on stdout instead of the table\n"
"      --attach MODE    auto|fentry|kprobe|tp-btf|raw-tracepoint|tracepoint\n"
"                       (default auto: the first that works, in that order)\n"
"Filters (applied in the kernel):\n"
"      --comm NAME      only this process (thread) name, exact, up to 15 bytes\n"
"      --port N[,N]     only flows with this local or remote port (up to %d)\n"
"      --laddr CIDR     only this local address or network (repeatable)\n"
"      --raddr CIDR     only this remote address or network (repeatable)\n"
"                       e.g. 10.0.0.0/8, 127.0.0.1, 2001:db8::/32; an IPv4\n"
"                       network also matches IPv4-mapped IPv6 addresses\n"
"      --cgroup PATH    only processes in this cgroup v2 directory or below\n"
"      --netns NS       only sockets of this network namespace: its inode number\n"
"                       (as ls -L -i /proc/PID/ns/net shows) or a path to it,\n"
"                       e.g. /run/netns/NAME or /proc/PID/ns/net\n"
"      --proto P        tcp|udp: only this protocol (default: both)\n"
"  -4, --ipv4           only IPv4 flows (IPv4-mapped IPv6 counts as IPv4)\n"
"  -6, --ipv6           only IPv6 flows\n"
"Reporting:\n"
"      --by KEY         flow|pid|comm|raddr|lport|cgroup|container: one row per\n"
"                       KEY (default flow; comm with --listen)\n"
"      --sort KEY       total|rx|tx (this interval), rx_total|tx_total|total_all\n"
"                       (since start); default total\n"
"  -r, --rows N         show the top N rows and one 'others' row for the rest\n"
"      --units U        B|KB|MB|auto for the table (default KB = 1024 bytes)\n"
"      --rate           add per-second rate columns (RX_KB/s, TX_KB/s: in --units)\n"
"  -w, --wide           add NETNS, CONTAINER and CGROUP columns to the flow table\n"
"  -C, --no-clear       rolling output on a terminal (default: the live screen;\n"
"                       keys q s b r t p / n h, h lists them)\n"
"      --ascii          screen: bars in ASCII (default: block characters when\n"
"                       the locale is UTF-8)\n"
"      --names          screen: remote host names instead of addresses, looked\n"
"                       up in the background (key n toggles; never in JSON/CSV)\n"
"      --csv            CSV on stdout (a header line, then one line per row)\n"
"      --listen ADDR:PORT\n"
"                       serve Prometheus metrics on http://ADDR:PORT/metrics\n"
"      --max-series N   at most N metrics series; the rest go to an 'other' series\n"
"      --web-config FILE\n"
"                       TLS and basic auth for --listen, in the web configuration\n"
"                       format of Prometheus exporters (node_exporter's)\n"
"Privileges:\n"
"      --user NAME      once attached, run as NAME (default nobody) with no\n"
"                       capabilities; --user root keeps root\n"
"Kernel:\n"
"      --max-flows N    size of the flow tables (default %u; the socket table\n"
"                       takes the next power of two, at most %u slots);\n"
"                       when full, new flows are counted as dropped and\n"
"                       reported, never silently lost\n"
"      --no-map-v4      show IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) as they\n"
"                       are, with family 6, instead of as IPv4\n"
"      --offsets MODE   auto|btf|headers: where struct sock field offsets come\n"
"                       from (default auto: the kernel's BTF if it has one)\n"
"      --probe FILE     compile FILE instead of the built-in probe text\n"
"      --ebpf           print the probe text after substitutions, then exit\n"
"      --bpf-stats      switch the kernel's BPF run-time statistics on while\n"
"                       running, to report bccflow's BPF run time (bpf_run_ns,\n"
"                       bpf_runs); off by default: they are global, every BPF\n"
"                       program on the host pays for them\n"
"  -h, --help           show this help and exit\n"
"  -V, --version        show the version and exit\n"
"\n"
"Table columns: RX_KB/TX_KB are this interval's bytes, RXSUM_KB/TXSUM_KB/SUM_KB\n"
"the flow's totals since bccflow started; KB = 1024 bytes, 2 decimals.\n"
"Bytes are TCP payload accepted by / delivered to the socket layer, and UDP\n"
"datagram payload sent / received. A flow is one process, in one cgroup, on one\n"
"TCP or UDP 4-tuple of one network namespace; a UDP flow's remote end is each\n"
"datagram's, and its endpoints are shown with /udp.\n"
"\n"
"Examples:\n"
"  bccflow                  # every flow, every second, until Ctrl-C\n"
"  bccflow 5 3              # three 5-second reports\n"
"  bccflow -p 1234          # only process 1234\n"
"  bccflow -p 1234,5678     # two processes\n"
"  bccflow --json 1 10      # ten JSON reports\n"
"  bccflow --comm nginx --port 443 -r 10   # nginx on port 443, top 10\n"
"  bccflow --raddr 10.0.0.0/8 -4 --by raddr  # traffic per remote address\n"
"  bccflow --cgroup /sys/fs/cgroup/system.slice/nginx.service\n"
"  bccflow --by container --rate   # bytes per container and systemd unit\n"
"  bccflow --netns /run/netns/blue -w   # one network namespace, wide table\n"
"  bccflow --by pid --sort total_all --units auto --rate\n"
"  bccflow --proto udp --by raddr   # UDP bytes per remote address\n"
"  bccflow --csv 5 > flows.csv\n"
"  bccflow --listen 127.0.0.1:9877 --max-series 100   # Prometheus\n"
"  bccflow --listen 0.0.0.0:9877 --web-config web.yml # with TLS, basic auth\n"
"  bccflow --attach tracepoint\n"
"  bccflow --ebpf -p 1234  # the probe text as it would be compiled\n"
"  bccflow --probe my.bpf.c # a copy of probes/flow.bpf.c, edited\n",
		MAX_PID_FILTERS, MAX_PORT_FILTERS, DEFAULT_MAX_FLOWS, 1u << SOCK_TABLE_MAX_BITS);
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
/*
 * Each comma-separated whole number of arg, from 1 to max, into out[] (at
 * most cap, counted in *n). 0; -1 with *bad (of *badlen bytes) the token that is not
 * one; -2 when there are more than cap.
 */
static int parse_list(const char *arg, unsigned long max, unsigned long *out, int *n, int cap,
		      const char **bad, size_t *badlen)
{
	const char *p = arg;

	do {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char tok[32];
		unsigned long v;

		snprintf(tok, sizeof(tok), "%.*s", (int)(len < sizeof(tok) ? len : sizeof(tok) - 1),
			 p);
		if (len == 0 || len >= sizeof(tok) || parse_ulong(tok, max, &v) || v < 1) {
			*bad = p;
			*badlen = len;
			return -1;
		}
		if (*n == cap)
			return -2;
		out[(*n)++] = v;
		p = comma ? comma + 1 : NULL;
	} while (p);
	return 0;
}

static enum opts_result add_pids(struct options *o, const char *arg, long pid_max,
				 char *err, size_t errlen)
{
	unsigned long v[MAX_PID_FILTERS];
	const char *bad;
	size_t badlen;
	int n = 0;
	/* pid_max is one past the largest PID the kernel hands out */
	int rc = parse_list(arg, (unsigned long)pid_max - 1, v, &n, MAX_PID_FILTERS - o->npids,
			    &bad, &badlen);

	if (rc == -1)
		return fail(err, errlen,
			    "invalid PID '%.*s' in '%s': expected whole numbers from 1 to %ld, "
			    "comma-separated", (int)(badlen < 32 ? badlen : 32), bad, arg, pid_max - 1);
	if (rc == -2)
		return fail(err, errlen, "too many PIDs: at most %d", MAX_PID_FILTERS);
	for (int i = 0; i < n; i++)
		o->pids[o->npids++] = (int)v[i];
	return OPTS_OK;
}

static enum opts_result add_ports(struct options *o, const char *arg, char *err,
				  size_t errlen)
{
	unsigned long v[MAX_PORT_FILTERS];
	const char *bad;
	size_t badlen;
	int n = 0;
	int rc = parse_list(arg, 65535, v, &n, MAX_PORT_FILTERS - o->nports, &bad, &badlen);

	if (rc == -1)
		return fail(err, errlen, "invalid --port '%s': expected ports from 1 to 65535, "
			    "comma-separated", arg);
	if (rc == -2)
		return fail(err, errlen, "too many ports: at most %d", MAX_PORT_FILTERS);
	for (int i = 0; i < n; i++)
		o->ports[o->nports++] = (unsigned short)v[i];
	return OPTS_OK;
}

int parse_cidr(const char *s, struct cidr *c)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash;
	unsigned long prefix;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, c->addr) == 1)
		c->family = 4;
	else if (inet_pton(AF_INET6, buf, c->addr) == 1)
		c->family = 6;
	else
		return -1;
	c->prefix = c->family == 4 ? 32 : 128;
	if (slash) {
		if (parse_ulong(slash, (unsigned long)c->prefix, &prefix))
			return -1;
		c->prefix = (int)prefix;
	}
	return 0;
}

static enum opts_result add_cidr(struct cidr *list, int *n, const char *opt, const char *arg,
				 char *err, size_t errlen)
{
	if (*n == MAX_CIDR_FILTERS)
		return fail(err, errlen, "too many %s values: at most %d", opt, MAX_CIDR_FILTERS);
	if (parse_cidr(arg, &list[*n]))
		return fail(err, errlen, "invalid %s '%s': expected an IPv4 or IPv6 address with an "
			    "optional /prefix, e.g. 10.0.0.0/8 or 2001:db8::/32", opt, arg);
	(*n)++;
	return OPTS_OK;
}

/* A namespace inode number, or a path that main() resolves (filter_maps.c). */
static enum opts_result parse_netns(struct options *o, const char *arg, char *err,
				    size_t errlen)
{
	unsigned long v;

	if (o->netns || o->netns_path)
		return fail(err, errlen, "--netns given twice: one namespace at a time");
	if (!*arg)
		return fail(err, errlen, "invalid --netns '': expected a namespace inode number "
			    "or a path such as /run/netns/NAME");
	if (*arg >= '0' && *arg <= '9') {
		if (parse_ulong(arg, 0xffffffffUL, &v) || v < 1)
			return fail(err, errlen, "invalid --netns '%s': expected an inode number "
				    "from 1 to 4294967295, or a path", arg);
		o->netns = (__u32)v;
	} else {
		o->netns_path = arg;
	}
	return OPTS_OK;
}

static enum opts_result parse_enum(int *out, const char *const *names, size_t n,
				   const char *opt, const char *arg, const char *expected,
				   char *err, size_t errlen)
{
	int i = lookup_name(names, n, arg);

	if (i < 0)
		return fail(err, errlen, "invalid %s '%s': expected %s", opt, arg, expected);
	*out = i;
	return OPTS_OK;
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

/* Checks that need every option seen. */
static enum opts_result check_combination(struct options *o, bool json, bool csv, char *err,
					  size_t errlen)
{
	if (json && csv)
		return fail(err, errlen, "--json and --csv exclude each other: pick one");
	o->output = json ? OUTPUT_JSON : csv ? OUTPUT_CSV : OUTPUT_TABLE;
	if (o->max_series && !o->listen)
		return fail(err, errlen, "--max-series needs --listen");
	if (o->web_config && !o->listen)
		return fail(err, errlen, "--web-config needs --listen");
	if (o->listen && !o->by_set)
		o->by = BY_COMM;	/* bounded label cardinality by default */
	return OPTS_OK;
}

enum opts_result opts_parse(int argc, char **argv, long pid_max, struct options *o,
			    char *err, size_t errlen)
{
	enum opts_result r = OPTS_OK;
	bool json = false, csv = false;
	unsigned long v;
	int c, e = 0;

	set_defaults(o);
	optind = 0;	/* reset getopt: the parser may run more than once */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:jhV46r:Cw", long_opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			r = add_pids(o, optarg, pid_max, err, errlen);
			break;
		case 'j':
			json = true;
			break;
		case OPT_CSV:
			csv = true;
			break;
		case '4':
		case '6':
			if (o->family && o->family != c - '0')
				return fail(err, errlen, "-4 and -6 exclude each other: pick one");
			o->family = c - '0';
			break;
		case OPT_COMM:
			if (!*optarg || strlen(optarg) > 15)
				return fail(err, errlen, "invalid --comm '%s': expected a name of 1 to 15 "
					    "bytes (the kernel's limit)", optarg);
			o->comm = optarg;
			break;
		case OPT_PORT:
			r = add_ports(o, optarg, err, errlen);
			break;
		case OPT_LADDR:
			r = add_cidr(o->laddr, &o->nladdr, "--laddr", optarg, err, errlen);
			break;
		case OPT_RADDR:
			r = add_cidr(o->raddr, &o->nraddr, "--raddr", optarg, err, errlen);
			break;
		case OPT_CGROUP:
			if (!*optarg)
				return fail(err, errlen, "invalid --cgroup '': expected a cgroup v2 "
					    "directory, e.g. /sys/fs/cgroup/system.slice");
			o->cgroup = optarg;
			break;
		case OPT_NETNS:
			r = parse_netns(o, optarg, err, errlen);
			break;
		case OPT_PROTO:
			if (!strcmp(optarg, "tcp"))
				o->proto = FLOW_PROTO_TCP;
			else if (!strcmp(optarg, "udp"))
				o->proto = FLOW_PROTO_UDP;
			else
				return fail(err, errlen, "invalid --proto '%s': expected tcp or udp",
					    optarg);
			break;
		case 'w':
			o->wide = true;
			break;
		case OPT_BY:
			r = parse_enum(&e, NAMES(by_names), "--by", optarg,
				       "flow, pid, comm, raddr, lport, cgroup or container", err,
				       errlen);
			o->by = (enum group_by)e;
			o->by_set = true;
			break;
		case OPT_SORT:
			r = parse_enum(&e, NAMES(sort_names), "--sort", optarg,
				       "total, rx, tx, rx_total, tx_total or total_all", err, errlen);
			o->sort = (enum sort_key)e;
			break;
		case OPT_UNITS:
			r = parse_enum(&e, NAMES(unit_names), "--units", optarg, "B, KB, MB or auto",
				       err, errlen);
			o->units = (enum units)e;
			o->units_set = true;
			break;
		case 'r':
			if (parse_ulong(optarg, 1000000, &v) || v < 1)
				return fail(err, errlen, "invalid --rows '%s': expected a whole number from "
					    "1 to 1000000", optarg);
			o->rows = (unsigned)v;
			break;
		case OPT_RATE:
			o->rate = true;
			break;
		case 'C':
			o->no_clear = true;
			break;
		case OPT_ASCII:
			o->ascii = true;
			break;
		case OPT_NAMES:
			o->names = true;
			break;
		case OPT_LISTEN:
			o->listen = optarg;
			break;
		case OPT_WEB_CONFIG:
			o->web_config = optarg;
			break;
		case OPT_USER:
			o->user = optarg;
			break;
		case OPT_MAX_SERIES:
			if (parse_ulong(optarg, 1000000, &v) || v < 1)
				return fail(err, errlen, "invalid --max-series '%s': expected a whole number "
					    "from 1 to 1000000", optarg);
			o->max_series = (unsigned)v;
			break;
		case OPT_ATTACH:
			r = parse_enum(&e, NAMES(backend_names), "--attach", optarg,
				       "auto, fentry, kprobe, tp-btf, raw-tracepoint or tracepoint", err, errlen);
			o->attach = (enum backend)e;
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
		case OPT_BPF_STATS:
			o->bpf_stats = true;
			break;
		case 'h':
			return OPTS_HELP;
		case 'V':
			return OPTS_VERSION;
		case ':':
			return fail(err, errlen, "option '%s' needs a value (see --help)",
				    argv[optind - 1]);
		default:
			/* "--json=1": getopt sets optopt to the option's val */
			for (const struct option *lo = long_opts; optopt && lo->name; lo++)
				if (lo->val == optopt && lo->has_arg == no_argument &&
				    !strncmp(argv[optind - 1], "--", 2))
					return fail(err, errlen, "option '--%s' takes no value "
						    "(see --help)", lo->name);
			/* in a group like -xj, optind has not moved past the group */
			if (optopt)
				return fail(err, errlen, "unknown option '-%c' (see --help)", optopt);
			return fail(err, errlen, "unknown option '%s' (see --help)",
				    argv[optind - 1]);
		}
		if (r != OPTS_OK)
			return r;
	}
	r = parse_positional(o, argc, argv, optind, err, errlen);
	if (r != OPTS_OK)
		return r;
	return check_combination(o, json, csv, err, errlen);
}
