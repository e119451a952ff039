/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: opts_parse() (src/opts.c) with an argv made of the input's
 * NUL-separated strings, and parse_cidr() on each of them.
 *
 * Checks: no memory error; a result that satisfies every documented bound
 * (intervals, PIDs, ports, CIDR prefixes, --comm length, exclusive options);
 * strings in the options point into argv; a second parse of the same
 * (getopt-permuted) argv gives the same options; an error message is one
 * non-empty line with no control bytes that the arguments did not contain.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "opts.h"

#define MAX_ARGS 48

static bool points_into(const char *p, char **argv, int argc)
{
	for (int i = 0; i < argc; i++)
		if (p >= argv[i] && p <= argv[i] + strlen(argv[i]))
			return true;
	return false;
}

static bool argv_has_byte(char **argv, int argc, unsigned char c)
{
	for (int i = 0; i < argc; i++)
		if (strchr(argv[i], c))
			return true;
	return false;
}

static void check_cidr(const struct cidr *c)
{
	CHECK(c->family == 4 || c->family == 6, "cidr family %d", c->family);
	CHECK(c->prefix >= 0 && c->prefix <= (c->family == 4 ? 32 : 128), "cidr prefix %d",
	      c->prefix);
	if (c->family == 4)
		for (int i = 4; i < 16; i++)
			CHECK(!c->addr[i], "IPv4 cidr with bytes past the address");
}

static void check_ok(const struct options *o, char **argv, int argc, long pid_max)
{
	CHECK(o->interval >= 1 && o->interval <= 86400, "interval %u", o->interval);
	CHECK(o->count <= 1000000000UL, "count %lu", o->count);
	CHECK(o->npids >= 0 && o->npids <= MAX_PID_FILTERS, "npids %d", o->npids);
	for (int i = 0; i < o->npids; i++)
		CHECK(o->pids[i] >= 1 && o->pids[i] < pid_max, "pid %d with pid_max %ld",
		      o->pids[i], pid_max);
	CHECK(o->attach >= BACKEND_AUTO && o->attach <= BACKEND_RAW_TRACEPOINT, "attach %d",
	      (int)o->attach);
	CHECK(o->offsets >= OFFSETS_AUTO && o->offsets <= OFFSETS_HEADERS, "offsets");
	CHECK(o->output >= OUTPUT_TABLE && o->output <= OUTPUT_CSV, "output");
	CHECK(o->max_flows >= 1 && o->max_flows <= MAX_MAX_FLOWS, "max_flows %u", o->max_flows);
	CHECK(o->family == 0 || o->family == 4 || o->family == 6, "family %d", o->family);
	CHECK(o->nports >= 0 && o->nports <= MAX_PORT_FILTERS, "nports %d", o->nports);
	for (int i = 0; i < o->nports; i++)
		CHECK(o->ports[i] >= 1, "port 0 accepted");
	CHECK(o->nladdr >= 0 && o->nladdr <= MAX_CIDR_FILTERS, "nladdr %d", o->nladdr);
	CHECK(o->nraddr >= 0 && o->nraddr <= MAX_CIDR_FILTERS, "nraddr %d", o->nraddr);
	for (int i = 0; i < o->nladdr; i++)
		check_cidr(&o->laddr[i]);
	for (int i = 0; i < o->nraddr; i++)
		check_cidr(&o->raddr[i]);
	if (o->comm) {
		CHECK(points_into(o->comm, argv, argc), "--comm does not point into argv");
		CHECK(*o->comm && strlen(o->comm) <= 15, "--comm of %zu bytes", strlen(o->comm));
	}
	if (o->cgroup)
		CHECK(points_into(o->cgroup, argv, argc) && *o->cgroup, "--cgroup");
	if (o->probe_file)
		CHECK(points_into(o->probe_file, argv, argc) && *o->probe_file, "--probe");
	if (o->listen)
		CHECK(points_into(o->listen, argv, argc), "--listen does not point into argv");
	CHECK(o->by >= BY_FLOW && o->by <= BY_CONTAINER, "by %d", (int)o->by);
	CHECK(o->sort >= SORT_TOTAL && o->sort <= SORT_TOTAL_ALL, "sort %d", (int)o->sort);
	CHECK(o->units >= UNITS_KB && o->units <= UNITS_AUTO, "units %d", (int)o->units);
	CHECK(o->rows <= 1000000, "rows %u", o->rows);
	CHECK(o->max_series <= 1000000, "max_series %u", o->max_series);
	CHECK(!o->max_series || o->listen, "--max-series accepted without --listen");
	CHECK(backend_name(o->attach) && group_by_name(o->by), "names");
}

static void check_err(const char *err, size_t errlen, char **argv, int argc)
{
	size_t n = strnlen(err, errlen);

	CHECK(n < errlen, "error message not NUL-terminated");
	CHECK(n > 0, "error without a message");
	if (strstr(err, "(null)")) {
		bool given = false;

		for (int i = 0; i < argc; i++)
			given |= strstr(argv[i], "(null)") != NULL;
		CHECK(given, "error message prints a NULL string: %s", err);
	}
	if (fuzz_skip("errtext"))
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)err[i];

		if ((c < 0x20 || c == 0x7f) && !argv_has_byte(argv, argc, c))
			fuzz_fail("error message holds control byte 0x%02x that no argument has: "
				  "'%s'", c, err);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fdp d = { data, size };
	static const long pid_maxes[] = { 4194304, 32768, 301, 1000, 2 };
	long pid_max = pid_maxes[fdp_u8(&d) % 5];
	char *buf = malloc(d.n + 1), *argv[MAX_ARGS + 2], *argv2[MAX_ARGS + 2];
	char err[512], err2[512];
	struct options o, o2;
	enum opts_result r, r2;
	int argc = 0;

	if (!buf)
		return 0;
	memcpy(buf, d.p, d.n);
	buf[d.n] = '\0';
	argv[argc++] = "bccflow";
	for (char *p = buf; p <= buf + d.n && argc < MAX_ARGS;) {
		argv[argc++] = p;
		p += strlen(p) + 1;
	}
	argv[argc] = NULL;

	for (int i = 1; i < argc; i++) {
		struct cidr c;

		if (parse_cidr(argv[i], &c) == 0)
			check_cidr(&c);
	}

	memset(err, 0, sizeof(err));
	r = opts_parse(argc, argv, pid_max, &o, err, sizeof(err));
	switch (r) {
	case OPTS_OK:
		check_ok(&o, argv, argc, pid_max);
		break;
	case OPTS_ERROR:
		check_err(err, sizeof(err), argv, argc);
		break;
	case OPTS_HELP:
	case OPTS_VERSION:
		break;
	default:
		fuzz_fail("opts_parse returned %d", (int)r);
	}

	/* getopt permuted argv; the same arguments must give the same result */
	memcpy(argv2, argv, sizeof(argv[0]) * (size_t)(argc + 1));
	memset(err2, 0, sizeof(err2));
	r2 = opts_parse(argc, argv2, pid_max, &o2, err2, sizeof(err2));
	CHECK(r2 == r, "second parse gave %d, first %d", (int)r2, (int)r);
	if (r == OPTS_OK)
		CHECK(!memcmp(&o, &o2, sizeof(o)), "second parse gave other options");
	free(buf);
	return 0;
}
