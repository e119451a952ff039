/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/prom.c: the exposition text, --listen parsing, and the
 * /metrics server on loopback (no root needed).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "prom.h"

/* ---- helpers -------------------------------------------------------------- */

static const struct prom_self SELF = {
	.flows_tracked = 3,
	.dropped_events = 4,
	.dropped_bytes = 5000,
	.intervals = 6,
	.bpf_events = 77,
	.series_limited = 8,
	.bpf_known = true,
	.bpf_run_ns = 1234567890123ULL,
	.bpf_runs = 99,
	.cpu_ns = 5000000,
	.attach = "kprobe",
	.version = "0.1.0",
};

/* The whole exposition for no series and SELF, after the two byte families. */
#define SELF_TEXT SELF_HEAD SELF_BPF SELF_TAIL
#define SELF_HEAD                                                                              \
	"# HELP bccflow_flows_tracked Flows currently tracked in the kernel flow table.\n"     \
	"# TYPE bccflow_flows_tracked gauge\n"                                                 \
	"bccflow_flows_tracked 3\n"                                                            \
	"# HELP bccflow_dropped_events_total Send and receive events not counted because the " \
	"kernel flow table was full (see --max-flows).\n"                                      \
	"# TYPE bccflow_dropped_events_total counter\n"                                        \
	"bccflow_dropped_events_total 4\n"                                                     \
	"# HELP bccflow_dropped_bytes_total TCP and UDP payload bytes of the events not "      \
	"counted "                                                                             \
	"because the kernel flow table was full.\n"                                            \
	"# TYPE bccflow_dropped_bytes_total counter\n"                                         \
	"bccflow_dropped_bytes_total 5000\n"                                                   \
	"# HELP bccflow_intervals_total Intervals collected since bccflow started.\n"          \
	"# TYPE bccflow_intervals_total counter\n"                                             \
	"bccflow_intervals_total 6\n"                                                          \
	"# HELP bccflow_bpf_events_total Send and receive events counted by the BPF probes.\n" \
	"# TYPE bccflow_bpf_events_total counter\n"                                            \
	"bccflow_bpf_events_total 77\n"
/* only with the kernel's BPF statistics (--bpf-stats) */
#define SELF_BPF                                                                               \
	"# HELP bccflow_bpf_run_seconds_total Run time of bccflow's BPF programs (kernel BPF " \
	"statistics, on while bccflow runs; the hooks' own dispatch is not in it).\n"          \
	"# TYPE bccflow_bpf_run_seconds_total counter\n"                                       \
	"bccflow_bpf_run_seconds_total 1234.567890123\n"                                       \
	"# HELP bccflow_bpf_runs_total Runs of bccflow's BPF programs.\n"                      \
	"# TYPE bccflow_bpf_runs_total counter\n"                                              \
	"bccflow_bpf_runs_total 99\n"
#define SELF_TAIL                                                                              \
	"# HELP bccflow_cpu_seconds_total CPU time (user and system) of the bccflow process.\n" \
	"# TYPE bccflow_cpu_seconds_total counter\n"                                           \
	"bccflow_cpu_seconds_total 0.005000000\n"                                              \
	"# HELP bccflow_series_limited Groups folded into the \"other\" series because of "    \
	"--max-series.\n"                                                                      \
	"# TYPE bccflow_series_limited gauge\n"                                                \
	"bccflow_series_limited 8\n"                                                           \
	"# HELP bccflow_info bccflow's version and the probe attach method in use; always 1.\n" \
	"# TYPE bccflow_info gauge\n"                                                          \
	"bccflow_info{version=\"0.1.0\",attach=\"kprobe\"} 1\n"

#define RX_HEAD                                                                                \
	"# HELP bccflow_rx_bytes_total TCP and UDP payload bytes received: delivered from "   \
	"the socket "                                                                          \
	"layer to the process, since bccflow started.\n"                                       \
	"# TYPE bccflow_rx_bytes_total counter\n"
#define TX_HEAD                                                                                \
	"# HELP bccflow_tx_bytes_total TCP and UDP payload bytes sent: accepted by the "      \
	"socket layer "                                                                        \
	"from the process, since bccflow started.\n"                                           \
	"# TYPE bccflow_tx_bytes_total counter\n"

static struct prom_series series1(const char *name, const char *value, __u64 rx, __u64 tx)
{
	struct prom_series s = { .nlabels = 1, .rx_bytes = rx, .tx_bytes = tx };

	s.labels[0].name = name;
	s.labels[0].value = value;
	return s;
}

static char *render(const struct prom_series *s, size_t n, const struct prom_self *self)
{
	size_t len = (size_t)-1;
	char *t = prom_render(s, n, self, &len);

	assert_non_null(t);
	assert_int_equal(len, strlen(t));
	return t;
}

/* The value rendered for one comm label, as in bccflow_rx_bytes_total{comm="..."}. */
static char *rendered_value(const char *value)
{
	struct prom_series s = series1("comm", value, 1, 2);
	char *t = render(&s, 1, &SELF);
	const char *p = strstr(t, "bccflow_rx_bytes_total{comm=\"");
	const char *end;
	char *out;

	assert_non_null(p);
	p += strlen("bccflow_rx_bytes_total{comm=\"");
	end = strstr(p, "\"} 1\n");
	assert_non_null(end);
	out = strndup(p, (size_t)(end - p));
	free(t);
	return out;
}

#define assert_rendered(in, want)                           \
	do {                                                \
		char *got_ = rendered_value(in);            \
		assert_string_equal(got_, (want));          \
		free(got_);                                 \
	} while (0)

static size_t count_lines(const char *t)
{
	size_t n = 0;

	for (; *t; t++)
		n += *t == '\n';
	return n;
}

/* ---- rendering ------------------------------------------------------------- */

static void test_render_small_exact(void **state)
{
	struct prom_series s[3] = {
		series1("comm", "curl", 100, 200),
		{ .nlabels = 2, .rx_bytes = 18446744073709551615ull, .tx_bytes = 0 },
		{ .nlabels = 6, .rx_bytes = 7, .tx_bytes = 9 },
	};
	const char *want =
		RX_HEAD
		"bccflow_rx_bytes_total{comm=\"curl\"} 100\n"
		"bccflow_rx_bytes_total{pid=\"42\",comm=\"sshd\"} 18446744073709551615\n"
		"bccflow_rx_bytes_total{pid=\"1\",comm=\"a b\",laddr=\"::1\",lport=\"22\","
		"raddr=\"10.0.0.1\",rport=\"5555\"} 7\n"
		TX_HEAD
		"bccflow_tx_bytes_total{comm=\"curl\"} 200\n"
		"bccflow_tx_bytes_total{pid=\"42\",comm=\"sshd\"} 0\n"
		"bccflow_tx_bytes_total{pid=\"1\",comm=\"a b\",laddr=\"::1\",lport=\"22\","
		"raddr=\"10.0.0.1\",rport=\"5555\"} 9\n"
		SELF_TEXT;
	static const char *const names[6] = { "pid", "comm", "laddr", "lport", "raddr", "rport" };
	static const char *const vals[6] = { "1", "a b", "::1", "22", "10.0.0.1", "5555" };
	char *t;

	(void)state;
	s[1].labels[0] = (struct prom_label){ "pid", "42" };
	s[1].labels[1] = (struct prom_label){ "comm", "sshd" };
	for (int i = 0; i < 6; i++)
		s[2].labels[i] = (struct prom_label){ names[i], vals[i] };
	t = render(s, 3, &SELF);
	assert_string_equal(t, want);
	free(t);
}

static void test_render_empty(void **state)
{
	char *t;

	(void)state;
	t = render(NULL, 0, &SELF);
	assert_string_equal(t, RX_HEAD TX_HEAD SELF_TEXT);
	free(t);
}

/* Without the statistics the two BPF families are absent, not 0; the CPU stays. */
static void test_render_without_bpf_stats(void **state)
{
	struct prom_self self = SELF;
	char *t;

	(void)state;
	self.bpf_known = false;
	t = render(NULL, 0, &self);
	assert_string_equal(t, RX_HEAD TX_HEAD SELF_HEAD SELF_TAIL);
	assert_null(strstr(t, "bccflow_bpf_run"));
	assert_non_null(strstr(t, "\nbccflow_cpu_seconds_total 0.005000000\n"));
	free(t);
}

static void test_render_no_labels_and_null_info(void **state)
{
	struct prom_series s = { .nlabels = 0, .rx_bytes = 1, .tx_bytes = 2 };
	struct prom_self self = SELF;
	char *t;

	(void)state;
	self.attach = NULL;	/* rendered as empty label values */
	self.version = NULL;
	t = render(&s, 1, &self);
	assert_non_null(strstr(t, "\nbccflow_rx_bytes_total 1\n"));
	assert_non_null(strstr(t, "\nbccflow_tx_bytes_total 2\n"));
	assert_non_null(strstr(t, "\nbccflow_info{version=\"\",attach=\"\"} 1\n"));
	free(t);

	t = render(&s, 1, NULL);	/* no self: zeros */
	assert_non_null(strstr(t, "\nbccflow_intervals_total 0\n"));
	free(t);
}

static void test_render_escaping(void **state)
{
	(void)state;
	assert_rendered("plain", "plain");
	assert_rendered("", "");
	assert_rendered("a\\b", "a\\\\b");
	assert_rendered("say \"hi\"", "say \\\"hi\\\"");
	assert_rendered("two\nlines", "two\\nlines");
	assert_rendered("\\\"\n", "\\\\\\\"\\n");
	assert_rendered("tab\there", "tab\there");	/* not escaped by the format */
	assert_rendered("caf\xc3\xa9", "caf\xc3\xa9");	/* valid UTF-8 kept */
	assert_rendered("\xe2\x82\xac\xf0\x9f\x98\x80", "\xe2\x82\xac\xf0\x9f\x98\x80");
	assert_rendered("a\xff" "b", "a\xef\xbf\xbd" "b");	/* invalid byte */
	assert_rendered("end\xc3", "end\xef\xbf\xbd");	/* truncated sequence */
	assert_rendered("\xc3(", "\xef\xbf\xbd(");	/* bad continuation */
	assert_rendered("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");	/* overlong */
	assert_rendered("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");	/* surrogate */
	assert_rendered("\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_rendered("\x80\"", "\xef\xbf\xbd\\\"");
}

static void test_render_escaping_in_info(void **state)
{
	struct prom_self self = SELF;
	char *t;

	(void)state;
	self.version = "1\"\n\\\xfe";
	t = render(NULL, 0, &self);
	assert_non_null(strstr(t, "bccflow_info{version=\"1\\\"\\n\\\\\xef\xbf\xbd\","
				  "attach=\"kprobe\"} 1\n"));
	free(t);
}

static void test_render_big(void **state)
{
	enum { N = 10000 };
	struct prom_series *s = calloc(N, sizeof(*s));
	char (*names)[32] = calloc(N, 32);
	char want[128];
	char *t;
	size_t len;

	(void)state;
	assert_non_null(s);
	assert_non_null(names);
	for (int i = 0; i < N; i++) {
		snprintf(names[i], 32, "process-%05d", i);
		s[i] = series1("comm", names[i], (__u64)i * 1000003u, (__u64)i);
	}
	t = prom_render(s, N, &SELF, &len);
	assert_non_null(t);
	assert_int_equal(len, strlen(t));
	assert_true(len > 500000);
	/* 2 families of N samples + 2 heads each, 10 self families of 3 lines */
	assert_int_equal(count_lines(t), 2 * (N + 2) + 10 * 3);
	assert_int_equal(t[len - 1], '\n');
	snprintf(want, sizeof(want), "\nbccflow_rx_bytes_total{comm=\"process-09999\"} %llu\n",
		 9999ull * 1000003u);
	assert_non_null(strstr(t, want));
	assert_non_null(strstr(t, "\nbccflow_tx_bytes_total{comm=\"process-09999\"} 9999\n"
				  "# HELP bccflow_flows_tracked"));
	assert_non_null(strstr(t, "\nbccflow_rx_bytes_total{comm=\"process-00000\"} 0\n"));
	assert_true(len > strlen(SELF_TEXT));
	assert_string_equal(t + len - strlen(SELF_TEXT), SELF_TEXT);
	free(t);
	free(names);
	free(s);
}

/* ---- --listen -------------------------------------------------------------- */

static void assert_listen_v4(const char *arg, const char *addr, unsigned port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	socklen_t len = 0;
	char err[256] = "", got[INET_ADDRSTRLEN];

	if (prom_parse_listen(arg, &ss, &len, err, sizeof(err)) != 0)
		fail_msg("'%s' refused: %s", arg, err);
	assert_int_equal(a->sin_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(a->sin_port), port);
	inet_ntop(AF_INET, &a->sin_addr, got, sizeof(got));
	assert_string_equal(got, addr);
}

static void assert_listen_v6(const char *arg, const char *addr, unsigned port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
	socklen_t len = 0;
	char err[256] = "", got[INET6_ADDRSTRLEN];

	if (prom_parse_listen(arg, &ss, &len, err, sizeof(err)) != 0)
		fail_msg("'%s' refused: %s", arg, err);
	assert_int_equal(a->sin6_family, AF_INET6);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(ntohs(a->sin6_port), port);
	assert_int_equal(a->sin6_scope_id, 0);
	inet_ntop(AF_INET6, &a->sin6_addr, got, sizeof(got));
	assert_string_equal(got, addr);
}

/* Refused with one line that names --listen, echoes the value and shows an example. */
static void assert_listen_bad(const char *arg, const char *want_part)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char err[256] = "";

	if (prom_parse_listen(arg, &ss, &len, err, sizeof(err)) != -1)
		fail_msg("'%s' accepted", arg);
	if (!strstr(err, "invalid --listen '") || !strstr(err, "e.g. 127.0.0.1:9877") ||
	    !strstr(err, want_part) || strchr(err, '\n'))
		fail_msg("'%s': message '%s' lacks '%s'", arg, err, want_part);
}

static void test_listen_good(void **state)
{
	(void)state;
	assert_listen_v4("127.0.0.1:9877", "127.0.0.1", 9877);
	assert_listen_v4("0.0.0.0:1", "0.0.0.0", 1);
	assert_listen_v4("10.1.2.3:65535", "10.1.2.3", 65535);
	assert_listen_v4("127.0.0.1:09877", "127.0.0.1", 9877);	/* decimal, as --port */
	assert_listen_v6("[::1]:9877", "::1", 9877);
	assert_listen_v6("[::]:80", "::", 80);
	assert_listen_v6("[fe80::1:2]:443", "fe80::1:2", 443);
	assert_listen_v6("[::ffff:127.0.0.1]:9", "::ffff:127.0.0.1", 9);
}

static void test_listen_exact_message(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char err[256];

	(void)state;
	assert_int_equal(prom_parse_listen("127.0.0.1", &ss, &len, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid --listen '127.0.0.1': expected ADDR:PORT, "
				 "e.g. 127.0.0.1:9877 or [::1]:9877");
	assert_int_equal(prom_parse_listen("::1:9877", &ss, &len, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid --listen '::1:9877': an IPv6 address goes in brackets, "
				 "as in [::1]:9877, e.g. 127.0.0.1:9877 or [::1]:9877");
}

static void test_listen_bad(void **state)
{
	(void)state;
	assert_listen_bad("", "expected ADDR:PORT");
	assert_listen_bad(NULL, "expected ADDR:PORT");
	assert_listen_bad("127.0.0.1", "expected ADDR:PORT");
	assert_listen_bad("127.0.0.1:", "port from 1 to 65535");
	assert_listen_bad("127.0.0.1:0", "port from 1 to 65535");
	assert_listen_bad("1.2.3.4:0", "port from 1 to 65535");
	assert_listen_bad("127.0.0.1:65536", "port from 1 to 65535");
	assert_listen_bad("127.0.0.1:99999999999999999999999", "port from 1 to 65535");
	assert_listen_bad("127.0.0.1:-1", "port from 1 to 65535");
	assert_listen_bad("127.0.0.1:+80", "port from 1 to 65535");
	assert_listen_bad("127.0.0.1: 80", "port from 1 to 65535");
	assert_listen_bad("127.0.0.1:80 ", "port from 1 to 65535");
	assert_listen_bad("127.0.0.1:0x50", "port from 1 to 65535");
	assert_listen_bad("127.0.0.1:8a", "port from 1 to 65535");
	assert_listen_bad(":9877", "numeric IPv4 address");
	assert_listen_bad("abc:1", "'abc' is not a numeric IPv4 address");
	assert_listen_bad("localhost:9877", "'localhost' is not a numeric IPv4 address");
	assert_listen_bad("localhost:80", "'localhost' is not a numeric IPv4 address");
	assert_listen_bad(" 127.0.0.1:80", "not a numeric IPv4 address");
	assert_listen_bad("127.0.0.1 :80", "not a numeric IPv4 address");
	assert_listen_bad("127.1:80", "not a numeric IPv4 address");
	assert_listen_bad("256.0.0.1:80", "not a numeric IPv4 address");
	assert_listen_bad("1.2.3.4.5:80", "not a numeric IPv4 address");
	assert_listen_bad("::1:9877", "in brackets");
	assert_listen_bad("::1", "in brackets");
	assert_listen_bad("[::1]", "expected ADDR:PORT");
	assert_listen_bad("[::1]9877", "expected ADDR:PORT");
	assert_listen_bad("[::1]:", "port from 1 to 65535");
	assert_listen_bad("[::1]:0", "port from 1 to 65535");
	assert_listen_bad("[::1]:65536", "port from 1 to 65535");
	assert_listen_bad("[::1:9877", "no ']'");
	assert_listen_bad("[]:80", "IPv6 address in brackets");
	assert_listen_bad("[127.0.0.1]:80", "not a numeric IPv6 address");
	assert_listen_bad("[localhost]:80", "not a numeric IPv6 address");
	assert_listen_bad("[fe80::1%lo]:80", "not a numeric IPv6 address");
	assert_listen_bad("[::1]]:80", "expected ADDR:PORT");
	assert_listen_bad("x[::1]:80", "in brackets");
	assert_listen_bad("1.2.3.4:80\nx", "port from 1 to 65535");
}

static void test_listen_message_one_line_and_bounded(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char err[512], big[2000];

	(void)state;
	assert_int_equal(prom_parse_listen("a\nb\r:80", &ss, &len, err, sizeof(err)), -1);
	assert_null(strchr(err, '\n'));
	assert_null(strchr(err, '\r'));
	assert_non_null(strstr(err, "'a?b?:80'"));

	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(prom_parse_listen(big, &ss, &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "...'"));	/* long input cut, example still shown */
	assert_non_null(strstr(err, "e.g. 127.0.0.1:9877"));

	/* a tiny buffer is filled, not overrun */
	memset(err, 'X', sizeof(err));
	assert_int_equal(prom_parse_listen("x", &ss, &len, err, 8), -1);
	assert_int_equal(strlen(err), 7);
	assert_int_equal(err[8], 'X');
}

/* ---- the server -------------------------------------------------------------- */

struct reply {
	int status;
	char *head;	/* status line and headers */
	char *body;
	size_t body_len;
};

static void reply_free(struct reply *r)
{
	free(r->head);
	free(r->body);
}

static int connect_to(const struct sockaddr_storage *ss, socklen_t len)
{
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)ss, len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends raw request bytes and reads the whole reply (the server closes). */
/* req may hold NUL bytes; a server that resets the connection ends the reply */
static int http_raw_n(const struct sockaddr_storage *ss, socklen_t sslen, const char *req,
		      size_t reqlen, struct reply *r)
{
	char *data = NULL, *sep;
	size_t len = 0, cap = 0, sent = 0;
	ssize_t n;
	int fd = connect_to(ss, sslen);

	memset(r, 0, sizeof(*r));
	if (fd < 0)
		return -1;
	while (sent < reqlen) {
		n = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL);
		if (n < 0 && (errno == ECONNRESET || errno == EPIPE))
			break;	/* refused before the end: read the answer */
		assert_true(n > 0);
		sent += (size_t)n;
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 65536;
			data = realloc(data, cap + 1);
			assert_non_null(data);
		}
		n = recv(fd, data + len, cap - len, 0);
		assert_true(n >= 0 || errno == ECONNRESET);	/* a timeout fails the test */
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	data = data ? data : malloc(1);
	data[len] = '\0';
	sep = strstr(data, "\r\n\r\n");
	if (!sep) {
		r->head = data;
		return 0;
	}
	r->head = strndup(data, (size_t)(sep - data) + 2);
	r->body_len = len - (size_t)(sep + 4 - data);
	r->body = malloc(r->body_len + 1);
	memcpy(r->body, sep + 4, r->body_len);
	r->body[r->body_len] = '\0';
	sscanf(data, "HTTP/1.%*d %d", &r->status);
	free(data);
	return 0;
}

static int http_raw(const struct sockaddr_storage *ss, socklen_t sslen, const char *req,
		    struct reply *r)
{
	return http_raw_n(ss, sslen, req, strlen(req), r);
}

static void http(const struct sockaddr_storage *ss, socklen_t sslen, const char *method,
		 const char *path, struct reply *r)
{
	char req[256];

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
		 method, path);
	assert_int_equal(http_raw(ss, sslen, req, r), 0);
}

/* A loopback address with a port that was free a moment ago; -1: no such loopback. */
static int try_free_addr(int family, struct sockaddr_storage *ss, socklen_t *len)
{
	int fd = socket(family, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		*len = sizeof(*a);
	}
	if (bind(fd, (struct sockaddr *)ss, *len) < 0 ||
	    getsockname(fd, (struct sockaddr *)ss, len) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static void free_addr(int family, struct sockaddr_storage *ss, socklen_t *len)
{
	assert_int_equal(try_free_addr(family, ss, len), 0);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static bool has_header(const struct reply *r, const char *line)
{
	char want[256];

	snprintf(want, sizeof(want), "\r\n%s\r\n", line);
	return strcasestr(r->head, want) != NULL;
}

static struct prom_server *start_or_fail(const struct sockaddr_storage *ss, socklen_t len)
{
	char err[256] = "";
	struct prom_server *srv = prom_start(ss, len, err, sizeof(err));

	if (!srv)
		fail_msg("prom_start: %s", err);
	return srv;
}

static void test_server_serves_metrics(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct prom_server *srv;
	struct prom_series s = series1("comm", "curl", 1, 2);
	struct reply r;
	size_t tlen;
	char *text, *copy;
	int fds = open_fds();

	(void)state;
	free_addr(AF_INET, &ss, &len);
	srv = start_or_fail(&ss, len);

	/* before the first publish: an empty exposition */
	http(&ss, len, "GET", "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	reply_free(&r);

	text = prom_render(&s, 1, &SELF, &tlen);
	assert_non_null(text);
	copy = strdup(text);
	prom_publish(srv, text, tlen);

	http(&ss, len, "GET", "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_true(strncmp(r.head, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_true(has_header(&r, "Content-Type: text/plain; version=0.0.4; charset=utf-8"));
	assert_int_equal(r.body_len, tlen);
	assert_string_equal(r.body, copy);
	reply_free(&r);

	http(&ss, len, "GET", "/metrics?x=1", &r);	/* a query string is fine */
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, copy);
	reply_free(&r);

	http(&ss, len, "HEAD", "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	reply_free(&r);

	http(&ss, len, "GET", "/other", &r);
	assert_int_equal(r.status, 404);
	reply_free(&r);
	http(&ss, len, "GET", "/", &r);
	assert_int_equal(r.status, 404);
	reply_free(&r);
	http(&ss, len, "GET", "/metrics/", &r);
	assert_int_equal(r.status, 404);
	reply_free(&r);

	http(&ss, len, "POST", "/metrics", &r);
	assert_int_equal(r.status, 405);
	assert_true(has_header(&r, "Allow: GET, HEAD"));
	reply_free(&r);
	http(&ss, len, "DELETE", "/metrics", &r);
	assert_int_equal(r.status, 405);
	reply_free(&r);

	/* a second publish replaces the text */
	text = strdup("# two\n");
	prom_publish(srv, text, strlen(text));
	http(&ss, len, "GET", "/metrics", &r);
	assert_string_equal(r.body, "# two\n");
	reply_free(&r);

	prom_publish(srv, NULL, 0);	/* no text (out of memory): keeps the last one */
	http(&ss, len, "GET", "/metrics", &r);
	assert_string_equal(r.body, "# two\n");
	reply_free(&r);

	prom_stop(srv);
	free(copy);
	/* the listening socket is closed: nothing answers, no descriptor is left */
	assert_int_equal(connect_to(&ss, len), -1);
	assert_int_equal(open_fds(), fds);
}

static void test_server_ipv6(void **state)
{
	struct sockaddr_storage ss, ss4;
	socklen_t len, len4;
	struct prom_server *srv, *srv4;
	struct reply r;

	(void)state;
	if (try_free_addr(AF_INET6, &ss, &len) < 0) {
		skip();	/* no IPv6 loopback here */
		return;
	}
	srv = start_or_fail(&ss, len);
	prom_publish(srv, strdup("# v6\n"), 5);
	http(&ss, len, "GET", "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "# v6\n");
	reply_free(&r);

	/* exactly [::1]: 127.0.0.1 with the same port is still free */
	memset(&ss4, 0, sizeof(ss4));
	((struct sockaddr_in *)&ss4)->sin_family = AF_INET;
	((struct sockaddr_in *)&ss4)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	((struct sockaddr_in *)&ss4)->sin_port = ((struct sockaddr_in6 *)&ss)->sin6_port;
	len4 = sizeof(struct sockaddr_in);
	srv4 = prom_start(&ss4, len4, NULL, 0);
	if (srv4) {	/* (another program may hold the IPv4 port) */
		prom_publish(srv4, strdup("# v4\n"), 5);
		http(&ss4, len4, "GET", "/metrics", &r);
		assert_string_equal(r.body, "# v4\n");
		reply_free(&r);
		prom_stop(srv4);
	}
	prom_stop(srv);
}

static void test_server_address_in_use(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct prom_server *srv, *again;
	char err[256] = "", want[80];
	int fds = open_fds();

	(void)state;
	free_addr(AF_INET, &ss, &len);
	srv = start_or_fail(&ss, len);
	again = prom_start(&ss, len, err, sizeof(err));
	assert_null(again);
	snprintf(want, sizeof(want), "127.0.0.1:%u", ntohs(((struct sockaddr_in *)&ss)->sin_port));
	if (!strstr(err, "in use") || !strstr(err, want) || strchr(err, '\n'))
		fail_msg("message: '%s'", err);
	prom_stop(srv);

	/* after a stop the address can be bound again at once */
	srv = start_or_fail(&ss, len);
	prom_stop(srv);
	assert_int_equal(open_fds(), fds);
}

static void test_server_bind_errors(void **state)
{
	struct sockaddr_storage ss;
	struct prom_server *srv;
	socklen_t len;
	char err[256] = "";

	(void)state;
	/* TEST-NET-1 is on no local interface */
	assert_int_equal(prom_parse_listen("192.0.2.1:9877", &ss, &len, err, sizeof(err)), 0);
	srv = prom_start(&ss, len, err, sizeof(err));
	if (srv) {	/* net.ipv4.ip_nonlocal_bind=1 allows it */
		prom_stop(srv);
	} else {
		assert_non_null(strstr(err, "cannot listen on 192.0.2.1:9877: "));
		assert_null(strchr(err, '\n'));
	}

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_null(prom_start(&ss, sizeof(ss), err, sizeof(err)));
	assert_null(prom_start(NULL, 0, err, sizeof(err)));
	prom_stop(NULL);	/* no-ops */
	prom_publish(NULL, strdup("x"), 1);
}

/* Bad and abandoned requests: answered or dropped without a word on stderr. */
#define REQ(s) { s, sizeof(s) - 1 }
static const struct {
	const char *req;
	size_t len;
} bad[] = {
	REQ("NONSENSE\r\n\r\n"),
	REQ(" GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
	REQ("GET  /metrics  HTTP/1.1 x\r\nHost: x\r\nConnection: close\r\n\r\n"),
	REQ("GET /metrics HTTP/1.1\rHost: x\r\nConnection: close\r\n\r\n"),
	REQ("GET /met\nrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
	REQ("GET /me\0trics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
	REQ("GET /m\x01etrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
	REQ("GET /metrics HTTP/1.1\r\n Host: x\r\nConnection: close\r\n\r\n"),
	REQ("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nno colon here\r\n\r\n"),
	REQ("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n"),
	REQ("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: ;;==;\"\r\n\r\n"),
	REQ("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Basic !!!\r\n\r\n"),
	REQ("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 99999999999999999999\r\n\r\n"),
	REQ("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: x1\r\n\r\n"),
	REQ("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 3\r\n\r\nzz\r\n"),
	REQ("GET /metrics HTTP/7.0\r\nHost: x\r\nConnection: close\r\n\r\n"),
	REQ("G\xc3\xa9T /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
};

static void test_server_quiet_on_bad_clients(void **state)
{
	static const char big_head[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ";
	static char big[64 * 1024];
	struct sockaddr_storage ss;
	socklen_t len;
	struct prom_server *srv;
	struct reply r;
	char tmpl[] = "/tmp/test_prom_stderr.XXXXXX", buf[512];
	int tmp = mkstemp(tmpl), saved, fd;
	ssize_t n;

	(void)state;
	assert_true(tmp >= 0);
	unlink(tmpl);
	free_addr(AF_INET, &ss, &len);
	srv = start_or_fail(&ss, len);
	fflush(stderr);
	saved = dup(2);
	dup2(tmp, 2);

	/* every kind of refusal libmicrohttpd 0.9 and 1.0 explain in a message */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(http_raw_n(&ss, len, bad[i].req, bad[i].len, &r), 0);
		reply_free(&r);
	}
	memset(big, 'h', sizeof(big));
	memcpy(big, big_head, sizeof(big_head) - 1);
	memcpy(big + sizeof(big) - 4, "\r\n\r\n", 4);
	assert_int_equal(http_raw_n(&ss, len, big, sizeof(big), &r), 0);	/* header too large */
	reply_free(&r);
	assert_int_equal(http_raw(&ss, len, "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n",
				  &r), 0);	/* no Host */
	reply_free(&r);
	fd = connect_to(&ss, len);	/* half a request, then gone */
	assert_true(fd >= 0);
	send(fd, "GET /met", 8, MSG_NOSIGNAL);
	close(fd);
	fd = connect_to(&ss, len);	/* a reset mid-request */
	assert_true(fd >= 0);
	send(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n", 32, MSG_NOSIGNAL);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &(struct linger){ 1, 0 }, sizeof(struct linger));
	close(fd);
	http(&ss, len, "GET", "/metrics", &r);	/* still serving */
	assert_int_equal(r.status, 200);
	reply_free(&r);
	prom_stop(srv);

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(tmp, buf, sizeof(buf) - 1, 0);
	close(tmp);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, "");
}

/* Publishing while scrapes run: every body is one whole published text. */
struct scraper {
	const struct sockaddr_storage *ss;
	socklen_t len;
	int rounds, bad;
};

static void *scrape_loop(void *arg)
{
	struct scraper *sc = arg;

	for (int i = 0; i < sc->rounds; i++) {
		struct reply r;
		unsigned a, b;
		char tail[64];

		http(sc->ss, sc->len, "GET", "/metrics", &r);
		if (r.status != 200 || !r.body ||
		    (r.body_len && (sscanf(r.body, "# gen %u\n", &a) != 1 ||
				    (snprintf(tail, sizeof(tail), "# end %u\n", a),
				     r.body_len < strlen(tail) ||
				     strcmp(r.body + r.body_len - strlen(tail), tail) != 0) ||
				    sscanf(r.body + r.body_len - strlen(tail), "# end %u", &b) != 1 ||
				    a != b)))
			sc->bad++;
		reply_free(&r);
	}
	return NULL;
}

static void test_server_publish_while_scraping(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct prom_server *srv;
	struct scraper sc[2];
	pthread_t th[2];

	(void)state;
	free_addr(AF_INET, &ss, &len);
	srv = start_or_fail(&ss, len);
	for (int i = 0; i < 2; i++) {
		sc[i] = (struct scraper){ .ss = &ss, .len = len, .rounds = 150 };
		assert_int_equal(pthread_create(&th[i], NULL, scrape_loop, &sc[i]), 0);
	}
	for (unsigned g = 0; g < 300; g++) {
		size_t body = 20000 + (g % 7) * 5000, off;
		char *t = malloc(body + 64);

		assert_non_null(t);
		off = (size_t)sprintf(t, "# gen %u\n", g);
		memset(t + off, 'x', body);
		off += body;
		off += (size_t)sprintf(t + off, "\n# end %u\n", g);
		prom_publish(srv, t, off);
		usleep(500);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(sc[i].bad, 0);
	}
	prom_stop(srv);
}

/* A scrape still being sent when the server stops: no leak, no crash. */
static void test_server_stop_with_open_connection(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct prom_server *srv;
	size_t big = 8u << 20;
	char *t = malloc(big);
	char buf[4096];
	const char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	int fd, idle;

	(void)state;
	assert_non_null(t);
	memset(t, '#', big);
	free_addr(AF_INET, &ss, &len);
	srv = start_or_fail(&ss, len);
	prom_publish(srv, t, big);
	fd = connect_to(&ss, len);
	assert_true(fd >= 0);
	idle = connect_to(&ss, len);	/* connected, never asks */
	assert_true(idle >= 0);
	send(fd, req, strlen(req), MSG_NOSIGNAL);
	assert_true(recv(fd, buf, sizeof(buf), 0) > 0);	/* the reply has started */
	prom_stop(srv);
	close(fd);
	close(idle);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_small_exact),
		cmocka_unit_test(test_render_empty),
		cmocka_unit_test(test_render_without_bpf_stats),
		cmocka_unit_test(test_render_no_labels_and_null_info),
		cmocka_unit_test(test_render_escaping),
		cmocka_unit_test(test_render_escaping_in_info),
		cmocka_unit_test(test_render_big),
		cmocka_unit_test(test_listen_good),
		cmocka_unit_test(test_listen_exact_message),
		cmocka_unit_test(test_listen_bad),
		cmocka_unit_test(test_listen_message_one_line_and_bounded),
		cmocka_unit_test(test_server_serves_metrics),
		cmocka_unit_test(test_server_ipv6),
		cmocka_unit_test(test_server_address_in_use),
		cmocka_unit_test(test_server_bind_errors),
		cmocka_unit_test(test_server_quiet_on_bad_clients),
		cmocka_unit_test(test_server_publish_while_scraping),
		cmocka_unit_test(test_server_stop_with_open_connection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
