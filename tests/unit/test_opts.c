/* SPDX-License-Identifier: MIT */
/* Unit tests for src/opts.c: command-line parsing and validation. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/types.h>

#include "../probes/flow.h"
#include "opts.h"

#define PID_MAX 32768L

static struct options o;
static char err[512];

/* Runs opts_parse on "bccflow" followed by the NULL-terminated args. */
static enum opts_result parse_v(const char *const *args)
{
	static char *argv[64];
	int argc = 0;

	argv[argc++] = (char *)"bccflow";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	memset(err, 0, sizeof(err));
	memset(&o, 0xa5, sizeof(o));	/* opts_parse must set every field */
	return opts_parse(argc, argv, PID_MAX, &o, err, sizeof(err));
}

#define PARSE(...) parse_v((const char *const[]){ __VA_ARGS__, NULL })
#define PARSE0() parse_v((const char *const[]){ NULL })

/* The parse failed, and the message contains want. */
#define assert_error_has(r, want)                                            \
	do {                                                                 \
		assert_int_equal((r), OPTS_ERROR);                           \
		if (!strstr(err, (want)))                                    \
			fail_msg("error '%s' does not mention '%s'", err, (want)); \
	} while (0)

static void assert_defaults_except_interval_count(void)
{
	assert_int_equal(o.npids, 0);
	assert_int_equal(o.attach, BACKEND_AUTO);
	assert_int_equal(o.output, OUTPUT_TABLE);
	assert_null(o.probe_file);
	assert_false(o.print_ebpf);
	assert_int_equal(o.max_flows, 65536);
	assert_true(o.map_v4);
	assert_false(o.bpf_stats);	/* global: the kernel's statistics only when asked */
}

/* ---- defaults and positionals ---------------------------------------- */

static void test_defaults(void **state)
{
	(void)state;
	assert_int_equal(PARSE0(), OPTS_OK);
	assert_int_equal(o.interval, 1);
	assert_int_equal(o.count, 0);
	assert_defaults_except_interval_count();
	assert_int_equal(DEFAULT_MAX_FLOWS, 65536);
}

static void test_positional_interval(void **state)
{
	(void)state;
	assert_int_equal(PARSE("5"), OPTS_OK);
	assert_int_equal(o.interval, 5);
	assert_int_equal(o.count, 0);
	assert_defaults_except_interval_count();
}

static void test_positional_interval_and_count(void **state)
{
	(void)state;
	assert_int_equal(PARSE("5", "3"), OPTS_OK);
	assert_int_equal(o.interval, 5);
	assert_int_equal(o.count, 3);
	assert_defaults_except_interval_count();
}

static void test_interval_and_count_limits_accepted(void **state)
{
	(void)state;
	assert_int_equal(PARSE("1", "1"), OPTS_OK);
	assert_int_equal(o.interval, 1);
	assert_int_equal(o.count, 1);
	assert_int_equal(PARSE("86400", "1000000000"), OPTS_OK);
	assert_int_equal(o.interval, 86400);
	assert_int_equal(o.count, 1000000000UL);
}

static void test_double_dash_ends_options(void **state)
{
	(void)state;
	assert_int_equal(PARSE("--", "7", "2"), OPTS_OK);
	assert_int_equal(o.interval, 7);
	assert_int_equal(o.count, 2);
}

static void test_bad_intervals(void **state)
{
	static const char *const bad[] = {
		"0", "abc", "1.5", "", " 1", "1 ", "1x", "+1", "0x10", "86401",
		"4294967297", "18446744073709551616", "99999999999999999999999999",
	};
	char want[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want), "invalid interval '%s'", bad[i]);
		assert_error_has(PARSE(bad[i]), want);
		assert_error_has(PARSE(bad[i]), "from 1 to 86400");
	}
}

static void test_negative_interval_after_double_dash(void **state)
{
	(void)state;
	assert_error_has(PARSE("--", "-1"), "invalid interval '-1'");
}

static void test_negative_interval_is_an_unknown_option(void **state)
{
	(void)state;
	/* without "--", "-1" looks like an option and must still be refused */
	assert_error_has(PARSE("-1"), "unknown option '-1'");
}

static void test_bad_counts(void **state)
{
	static const char *const bad[] = {
		"0", "abc", "", "1.0", "2x", " 2", "1000000001", "18446744073709551616",
		"99999999999999999999999999",
	};
	char want[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want), "invalid count '%s'", bad[i]);
		assert_error_has(PARSE("1", bad[i]), want);
	}
	assert_error_has(PARSE("--", "1", "-5"), "invalid count '-5'");
}

static void test_three_positionals(void **state)
{
	(void)state;
	assert_error_has(PARSE("1", "2", "3"), "unexpected argument '3'");
	assert_error_has(PARSE("1", "2", "3"), "[interval [count]]");
}

/* ---- -p / --pid ------------------------------------------------------ */

static void test_pid_single(void **state)
{
	(void)state;
	assert_int_equal(PARSE("-p", "1234"), OPTS_OK);
	assert_int_equal(o.npids, 1);
	assert_int_equal(o.pids[0], 1234);
	assert_int_equal(o.interval, 1);
}

static void test_pid_list(void **state)
{
	(void)state;
	assert_int_equal(PARSE("-p", "1,2,3"), OPTS_OK);
	assert_int_equal(o.npids, 3);
	assert_int_equal(o.pids[0], 1);
	assert_int_equal(o.pids[1], 2);
	assert_int_equal(o.pids[2], 3);
}

static void test_pid_repeated(void **state)
{
	(void)state;
	assert_int_equal(PARSE("-p", "10", "--pid", "20,30", "--pid=40", "-p50"), OPTS_OK);
	assert_int_equal(o.npids, 5);
	assert_int_equal(o.pids[0], 10);
	assert_int_equal(o.pids[1], 20);
	assert_int_equal(o.pids[2], 30);
	assert_int_equal(o.pids[3], 40);
	assert_int_equal(o.pids[4], 50);
}

static void test_pid_largest_valid(void **state)
{
	(void)state;
	assert_int_equal(PARSE("-p", "32767"), OPTS_OK);
	assert_int_equal(o.npids, 1);
	assert_int_equal(o.pids[0], 32767);
}

static void test_bad_pids(void **state)
{
	static const char *const bad[] = {
		"0", "-1", "abc", "32769", "99999", "4294967297", "18446744073709551616",
		"1x", "1.0", " 1", "+1", "1,abc", "1,0",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_error_has(PARSE("-p", bad[i]), "invalid PID '");
		assert_error_has(PARSE("-p", bad[i]), "from 1 to 32767");
		assert_int_equal(PARSE("--pid", bad[i]), OPTS_ERROR);
	}
	assert_error_has(PARSE("-p", "abc"), "invalid PID 'abc'");
	assert_error_has(PARSE("-p", "1,abc"), "invalid PID 'abc'");
}

static void test_bad_pid_lists(void **state)
{
	(void)state;
	assert_error_has(PARSE("-p", "1,"), "in '1,'");
	assert_error_has(PARSE("-p", ","), "in ','");
	assert_error_has(PARSE("-p", ""), "invalid PID ''");
	assert_error_has(PARSE("--pid="), "invalid PID ''");
	assert_error_has(PARSE("-p", "1,,2"), "in '1,,2'");
	assert_error_has(PARSE("-p", ",1"), "in ',1'");
	assert_error_has(PARSE("-p", "1,2,"), "invalid PID '' in '1,2,'");
	assert_error_has(PARSE("-p", "1,x,2"), "invalid PID 'x' in '1,x,2'");
	assert_error_has(PARSE("-p", "1;2"), "invalid PID '1;2'");
	assert_error_has(PARSE("-p", "1 2"), "invalid PID '1 2'");
	/* a long element is refused, not truncated into a valid PID */
	assert_error_has(PARSE("-p", "1000000000000000000000000000000000000001"),
			 "invalid PID '");
}

/* pid_max is one more than the largest PID the kernel hands out (proc(5)). */
static void test_pid_equal_to_pid_max_refused(void **state)
{
	(void)state;
	assert_error_has(PARSE("-p", "32768"), "invalid PID '32768'");
}

static void test_sixteen_pids_accepted(void **state)
{
	(void)state;
	assert_int_equal(PARSE("-p", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16"), OPTS_OK);
	assert_int_equal(o.npids, MAX_PID_FILTERS);
	for (int i = 0; i < MAX_PID_FILTERS; i++)
		assert_int_equal(o.pids[i], i + 1);
}

static void test_seventeen_pids_refused(void **state)
{
	(void)state;
	assert_error_has(PARSE("-p", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17"),
			 "too many PIDs: at most 16");
}

static void test_seventeen_pids_over_repeated_options_refused(void **state)
{
	(void)state;
	assert_error_has(PARSE("-p", "1,2,3,4,5,6,7,8", "-p", "9,10,11,12,13,14,15,16",
			       "-p", "17"),
			 "too many PIDs");
}

/* ---- other options ---------------------------------------------------- */

static void test_attach_values(void **state)
{
	static const struct {
		const char *arg;
		enum backend b;
	} ok[] = {
		{ "auto", BACKEND_AUTO },
		{ "fentry", BACKEND_FENTRY },
		{ "kprobe", BACKEND_KPROBE },
		{ "tracepoint", BACKEND_TRACEPOINT },
		{ "raw-tracepoint", BACKEND_RAW_TRACEPOINT },
		{ "tp-btf", BACKEND_TP_BTF },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(PARSE("--attach", ok[i].arg), OPTS_OK);
		assert_int_equal(o.attach, ok[i].b);
		assert_string_equal(backend_name(o.attach), ok[i].arg);
	}
	assert_int_equal(PARSE("--attach=kprobe"), OPTS_OK);
	assert_int_equal(o.attach, BACKEND_KPROBE);
}

static void test_netns_and_wide(void **state)
{
	(void)state;
	assert_int_equal(PARSE("--netns", "4026531840", "-w"), OPTS_OK);
	assert_int_equal(o.netns, 4026531840u);
	assert_null(o.netns_path);
	assert_true(o.wide);
	assert_int_equal(PARSE("--netns", "/run/netns/blue"), OPTS_OK);
	assert_int_equal(o.netns, 0);
	assert_string_equal(o.netns_path, "/run/netns/blue");
	assert_false(o.wide);
	assert_int_equal(PARSE("--netns", "4294967295"), OPTS_OK);
	assert_int_equal(o.netns, 4294967295u);
	assert_error_has(PARSE("--netns", "0"), "invalid --netns '0'");
	assert_error_has(PARSE("--netns", "4294967296"), "from 1 to 4294967295");
	assert_error_has(PARSE("--netns", "12x"), "invalid --netns '12x'");
	assert_error_has(PARSE("--netns", ""), "invalid --netns ''");
	assert_error_has(PARSE("--netns", "1", "--netns", "2"), "--netns given twice");
	assert_int_equal(PARSE("--by", "cgroup"), OPTS_OK);
	assert_int_equal(o.by, BY_CGROUP);
	assert_int_equal(PARSE("--by", "container"), OPTS_OK);
	assert_int_equal(o.by, BY_CONTAINER);
	assert_error_has(PARSE("--by", "pod"), "lport, cgroup or container");
	assert_int_equal(PARSE("--proto", "udp"), OPTS_OK);
	assert_int_equal(o.proto, FLOW_PROTO_UDP);
	assert_int_equal(PARSE("--proto", "tcp"), OPTS_OK);
	assert_int_equal(o.proto, FLOW_PROTO_TCP);
	assert_int_equal(PARSE0(), OPTS_OK);
	assert_int_equal(o.proto, 0);
	assert_error_has(PARSE("--proto", "sctp"), "invalid --proto 'sctp': expected tcp or udp");
}

static void test_attach_bad(void **state)
{
	(void)state;
	assert_error_has(PARSE("--attach", "bogus"), "invalid --attach 'bogus'");
	assert_error_has(PARSE("--attach", "bogus"), "auto, fentry, kprobe, tp-btf, raw-tracepoint or tracepoint");
	assert_error_has(PARSE("--attach", "Kprobe"), "invalid --attach 'Kprobe'");
	assert_error_has(PARSE("--attach", ""), "invalid --attach ''");
	assert_error_has(PARSE("--attach", "kprobe "), "invalid --attach 'kprobe '");
}

static void test_max_flows(void **state)
{
	(void)state;
	assert_int_equal(PARSE("--max-flows", "1"), OPTS_OK);
	assert_int_equal(o.max_flows, 1);
	assert_int_equal(PARSE("--max-flows=4194304"), OPTS_OK);
	assert_int_equal(o.max_flows, 4194304);
	assert_int_equal(PARSE("--max-flows", "1000"), OPTS_OK);
	assert_int_equal(o.max_flows, 1000);
}

static void test_max_flows_bad(void **state)
{
	static const char *const bad[] = {
		"0", "abc", "", "-1", "10k", "4194305", "18446744073709551616",
	};
	char want[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want), "invalid --max-flows '%s'", bad[i]);
		assert_error_has(PARSE("--max-flows", bad[i]), want);
		assert_error_has(PARSE("--max-flows", bad[i]), "from 1 to 4194304");
	}
}

static void test_flags(void **state)
{
	(void)state;
	assert_int_equal(PARSE("--json", "--ebpf", "--no-map-v4", "--probe", "my.bpf.c",
			       "--bpf-stats"), OPTS_OK);
	assert_int_equal(o.output, OUTPUT_JSON);
	assert_true(o.print_ebpf);
	assert_false(o.map_v4);
	assert_true(o.bpf_stats);
	assert_non_null(o.probe_file);
	assert_string_equal(o.probe_file, "my.bpf.c");
	assert_int_equal(o.interval, 1);

	assert_int_equal(PARSE("-j"), OPTS_OK);
	assert_int_equal(o.output, OUTPUT_JSON);
	assert_true(o.map_v4);
	assert_false(o.print_ebpf);
	assert_false(o.bpf_stats);
	assert_error_has(PARSE("--bpf-stats=1"), "--bpf-stats");
}

static void test_probe_empty_refused(void **state)
{
	(void)state;
	assert_error_has(PARSE("--probe", ""), "invalid --probe ''");
	assert_error_has(PARSE("--probe="), "expected a file name");
}

static void test_unknown_options(void **state)
{
	(void)state;
	assert_error_has(PARSE("--bogus"), "unknown option '--bogus'");
	assert_error_has(PARSE("-x"), "unknown option '-x'");
	assert_error_has(PARSE("5", "--bogus"), "unknown option '--bogus'");
	assert_error_has(PARSE("-jx"), "unknown option '-x'");
}

/* In a group like -xj, the message names the unknown letter, not argv[0]. */
static void test_unknown_option_first_in_group(void **state)
{
	(void)state;
	assert_int_equal(PARSE("-xj"), OPTS_ERROR);
	if (strstr(err, "'bccflow'") || !strstr(err, "x"))
		fail_msg("error '%s' does not name the unknown option -x", err);
}

static void test_missing_option_values(void **state)
{
	(void)state;
	assert_error_has(PARSE("--attach"), "option '--attach' needs a value");
	assert_error_has(PARSE("-p"), "option '-p' needs a value");
	assert_error_has(PARSE("--pid"), "option '--pid' needs a value");
	assert_error_has(PARSE("--max-flows"), "option '--max-flows' needs a value");
	assert_error_has(PARSE("--probe"), "option '--probe' needs a value");
	assert_error_has(PARSE("5", "-p"), "option '-p' needs a value");
}

static void test_help(void **state)
{
	(void)state;
	assert_int_equal(PARSE("--help"), OPTS_HELP);
	assert_int_equal(PARSE("-h"), OPTS_HELP);
	assert_int_equal(PARSE("5", "3", "-h"), OPTS_HELP);
	assert_int_equal(PARSE("-j", "--help"), OPTS_HELP);
}

static void test_version(void **state)
{
	(void)state;
	assert_int_equal(PARSE("--version"), OPTS_VERSION);
	assert_int_equal(PARSE("-V"), OPTS_VERSION);
	assert_int_equal(PARSE("-j", "-V"), OPTS_VERSION);
	assert_string_equal(BCCFLOW_VERSION, "0.1.0");
}

static void test_options_after_positionals(void **state)
{
	(void)state;
	assert_int_equal(PARSE("2", "3", "--json"), OPTS_OK);
	assert_int_equal(o.interval, 2);
	assert_int_equal(o.count, 3);
	assert_int_equal(o.output, OUTPUT_JSON);

	assert_int_equal(PARSE("2", "-p", "7", "3", "--attach", "fentry"), OPTS_OK);
	assert_int_equal(o.interval, 2);
	assert_int_equal(o.count, 3);
	assert_int_equal(o.npids, 1);
	assert_int_equal(o.pids[0], 7);
	assert_int_equal(o.attach, BACKEND_FENTRY);
}

static void test_repeated_calls_reset_state(void **state)
{
	(void)state;
	assert_int_equal(PARSE("-p", "9", "--json", "4", "2"), OPTS_OK);
	assert_int_equal(o.npids, 1);

	/* a second parse starts from the defaults and from argv[1] */
	assert_int_equal(PARSE("6"), OPTS_OK);
	assert_int_equal(o.interval, 6);
	assert_int_equal(o.count, 0);
	assert_defaults_except_interval_count();

	/* stopping in the middle of a short-option group must not leak */
	assert_int_equal(PARSE("-hj"), OPTS_HELP);
	assert_int_equal(PARSE("-j", "8"), OPTS_OK);
	assert_int_equal(o.interval, 8);
	assert_int_equal(o.output, OUTPUT_JSON);

	/* nor must an error */
	assert_int_equal(PARSE("--attach", "bad", "3"), OPTS_ERROR);
	assert_int_equal(PARSE("3"), OPTS_OK);
	assert_int_equal(o.interval, 3);
	assert_int_equal(o.attach, BACKEND_AUTO);
}

/* ---- usage ------------------------------------------------------------ */

static char *usage_text(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	opts_usage(f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(text);
	return text;
}

static void test_usage_mentions_every_option(void **state)
{
	/* every entry of the real long_opts table, with its short form if any */
	const struct option *lo = opts_long_options();
	char *text = usage_text();
	int n = 0;

	(void)state;
	for (; lo->name; lo++, n++) {
		char want[64];
		const char *at;

		/* its own line: "  -p, --pid ..." or "      --rate ..." (not an example) */
		if (lo->val < 128)	/* a short option letter */
			snprintf(want, sizeof(want), "\n  -%c, --%s", lo->val, lo->name);
		else
			snprintf(want, sizeof(want), "\n      --%s", lo->name);
		at = strstr(text, want);
		if (!at || (at[strlen(want)] != ' ' && at[strlen(want)] != '='))
			fail_msg("usage has no line for --%s", lo->name);
	}
	assert_true(n >= 26);
	free(text);
}

static void test_usage_shows_limits(void **state)
{
	char *text = usage_text();

	(void)state;
	assert_non_null(strstr(text, "Usage: bccflow [OPTIONS] [interval [count]]\n"));
	assert_non_null(strstr(text, "up to 16)"));
	assert_non_null(strstr(text, "(default 65536; the socket table\n"));
	assert_non_null(strstr(text, "at most 65536 slots"));
	assert_non_null(strstr(text, "auto|fentry|kprobe|tp-btf|raw-tracepoint|tracepoint"));
	free(text);
}

static void test_backend_candidates(void **state)
{
	enum backend out[BACKEND_NMETHODS];

	(void)state;
	/* auto: fentry and kprobes first (they see sendfile before 6.5), then raw */
	assert_int_equal(backend_candidates(BACKEND_AUTO, out), 5);
	assert_int_equal(out[0], BACKEND_FENTRY);
	assert_int_equal(out[1], BACKEND_KPROBE);
	assert_int_equal(out[2], BACKEND_TP_BTF);
	assert_int_equal(out[3], BACKEND_RAW_TRACEPOINT);
	assert_int_equal(out[4], BACKEND_TRACEPOINT);
	assert_int_equal(backend_candidates(BACKEND_TRACEPOINT, out), 1);
	assert_int_equal(out[0], BACKEND_TRACEPOINT);
}

static void test_backend_names(void **state)
{
	(void)state;
	assert_string_equal(backend_name(BACKEND_AUTO), "auto");
	assert_string_equal(backend_name(BACKEND_FENTRY), "fentry");
	assert_string_equal(backend_name(BACKEND_KPROBE), "kprobe");
	assert_string_equal(backend_name(BACKEND_TRACEPOINT), "tracepoint");
	assert_string_equal(backend_name(BACKEND_RAW_TRACEPOINT), "raw-tracepoint");
	assert_string_equal(backend_name(BACKEND_TP_BTF), "tp-btf");
}

/* Only the raw tracepoint kinds read the protocol from the socket (OFF_sk_protocol). */
static void test_backend_reads_sk_protocol(void **state)
{
	(void)state;
	assert_true(backend_reads_sk_protocol(BACKEND_RAW_TRACEPOINT));
	assert_true(backend_reads_sk_protocol(BACKEND_TP_BTF));
	assert_false(backend_reads_sk_protocol(BACKEND_TRACEPOINT));
	assert_false(backend_reads_sk_protocol(BACKEND_FENTRY));
	assert_false(backend_reads_sk_protocol(BACKEND_KPROBE));
}


/* ---- issue 5 options ---- */

static void test_filters_parsed(void **state)
{
	(void)state;
	assert_int_equal(PARSE("--comm", "nginx", "--port", "80,443", "--laddr", "10.1.2.0/23",
			       "--raddr", "2001:db8::/32", "--raddr", "127.0.0.1", "-4"), OPTS_OK);
	assert_string_equal(o.comm, "nginx");
	assert_int_equal(o.nports, 2);
	assert_int_equal(o.ports[0], 80);
	assert_int_equal(o.ports[1], 443);
	assert_int_equal(o.nladdr, 1);
	assert_int_equal(o.laddr[0].family, 4);
	assert_int_equal(o.laddr[0].prefix, 23);
	assert_int_equal(o.laddr[0].addr[2], 2);
	assert_int_equal(o.nraddr, 2);
	assert_int_equal(o.raddr[0].family, 6);
	assert_int_equal(o.raddr[0].prefix, 32);
	assert_int_equal(o.raddr[1].prefix, 32);
	assert_int_equal(o.family, 4);
}

static void test_cidr_forms(void **state)
{
	struct cidr c;

	(void)state;
	assert_int_equal(parse_cidr("::1", &c), 0);
	assert_int_equal(c.prefix, 128);
	assert_int_equal(parse_cidr("0.0.0.0/0", &c), 0);
	assert_int_equal(c.prefix, 0);
	assert_int_equal(parse_cidr("10.0.0.0/33", &c), -1);
	assert_int_equal(parse_cidr("::/129", &c), -1);
	assert_int_equal(parse_cidr("10.0.0.0/", &c), -1);
	assert_int_equal(parse_cidr("10.0.0.0/-1", &c), -1);
	assert_int_equal(parse_cidr("10.0.0/8", &c), -1);
	assert_int_equal(parse_cidr("host.example", &c), -1);
}

static void test_bad_filters(void **state)
{
	(void)state;
	assert_error_has(PARSE("--comm", ""), "--comm");
	assert_error_has(PARSE("--comm", "0123456789abcdef"), "1 to 15 bytes");
	assert_error_has(PARSE("--port", "0"), "--port");
	assert_error_has(PARSE("--port", "65536"), "--port");
	assert_error_has(PARSE("--port", ",80"), "--port");
	assert_error_has(PARSE("--laddr", "1.2.3.4/40"), "--laddr");
	assert_error_has(PARSE("--raddr", "x"), "--raddr");
	assert_error_has(PARSE("-4", "-6"), "-4 and -6");
	assert_error_has(PARSE("--cgroup", ""), "--cgroup");
}

static void test_reporting_options(void **state)
{
	(void)state;
	assert_int_equal(PARSE("--by", "raddr", "--sort", "total_all", "-r", "5", "--units", "auto",
			       "--rate", "-C", "--csv"), OPTS_OK);
	assert_int_equal(o.by, BY_RADDR);
	assert_int_equal(o.sort, SORT_TOTAL_ALL);
	assert_int_equal(o.rows, 5);
	assert_int_equal(o.units, UNITS_AUTO);
	assert_true(o.rate);
	assert_true(o.no_clear);
	assert_int_equal(o.output, OUTPUT_CSV);
	assert_error_has(PARSE("--by", "host"), "--by");
	assert_error_has(PARSE("--sort", "x"), "--sort");
	assert_error_has(PARSE("--units", "kb"), "--units");
	assert_error_has(PARSE("-r", "0"), "--rows");
	assert_error_has(PARSE("--json", "--csv"), "exclude");
}

static void test_listen_defaults_by_comm(void **state)
{
	(void)state;
	assert_int_equal(PARSE("--listen", "127.0.0.1:9877"), OPTS_OK);
	assert_int_equal(o.by, BY_COMM);
	assert_int_equal(PARSE("--listen", "127.0.0.1:9877", "--by", "flow", "--max-series", "7"),
			 OPTS_OK);
	assert_int_equal(o.by, BY_FLOW);
	assert_int_equal(o.max_series, 7);
	assert_error_has(PARSE("--max-series", "7"), "needs --listen");
	assert_error_has(PARSE("--listen", "x", "--max-series", "0"), "--max-series");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filters_parsed),
		cmocka_unit_test(test_cidr_forms),
		cmocka_unit_test(test_bad_filters),
		cmocka_unit_test(test_reporting_options),
		cmocka_unit_test(test_listen_defaults_by_comm),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_positional_interval),
		cmocka_unit_test(test_positional_interval_and_count),
		cmocka_unit_test(test_interval_and_count_limits_accepted),
		cmocka_unit_test(test_double_dash_ends_options),
		cmocka_unit_test(test_bad_intervals),
		cmocka_unit_test(test_negative_interval_after_double_dash),
		cmocka_unit_test(test_negative_interval_is_an_unknown_option),
		cmocka_unit_test(test_bad_counts),
		cmocka_unit_test(test_three_positionals),
		cmocka_unit_test(test_pid_single),
		cmocka_unit_test(test_pid_list),
		cmocka_unit_test(test_pid_repeated),
		cmocka_unit_test(test_pid_largest_valid),
		cmocka_unit_test(test_bad_pids),
		cmocka_unit_test(test_bad_pid_lists),
		cmocka_unit_test(test_pid_equal_to_pid_max_refused),
		cmocka_unit_test(test_sixteen_pids_accepted),
		cmocka_unit_test(test_seventeen_pids_refused),
		cmocka_unit_test(test_seventeen_pids_over_repeated_options_refused),
		cmocka_unit_test(test_attach_values),
		cmocka_unit_test(test_attach_bad),
		cmocka_unit_test(test_netns_and_wide),
		cmocka_unit_test(test_max_flows),
		cmocka_unit_test(test_max_flows_bad),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_probe_empty_refused),
		cmocka_unit_test(test_unknown_options),
		cmocka_unit_test(test_unknown_option_first_in_group),
		cmocka_unit_test(test_missing_option_values),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_options_after_positionals),
		cmocka_unit_test(test_repeated_calls_reset_state),
		cmocka_unit_test(test_usage_mentions_every_option),
		cmocka_unit_test(test_usage_shows_limits),
		cmocka_unit_test(test_backend_reads_sk_protocol),
		cmocka_unit_test(test_backend_names),
		cmocka_unit_test(test_backend_candidates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
