/* SPDX-License-Identifier: MIT */
/* Unit tests for src/format.c: addresses, escaping, table and JSON Lines. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "cgroup_names.h"
#include "format.h"

/* ---- helpers -------------------------------------------------------------- */

/* Output captured in memory: open, write through f, then take the text. */
struct capture {
	FILE *f;
	char *text;
	size_t len;
};

static void capture_open(struct capture *c)
{
	c->text = NULL;
	c->len = 0;
	c->f = open_memstream(&c->text, &c->len);
	assert_non_null(c->f);
}

/* Closes the stream; the caller frees the returned text. */
static char *capture_close(struct capture *c)
{
	assert_int_equal(fclose(c->f), 0);
	assert_non_null(c->text);
	return c->text;
}

static char *escaped(const char *s, size_t n)
{
	struct capture c;

	capture_open(&c);
	json_escape(c.f, s, n);
	return capture_close(&c);
}

#define assert_escape(in, n, want)                          \
	do {                                                \
		char *got_ = escaped((in), (n));            \
		assert_string_equal(got_, (want));          \
		free(got_);                                 \
	} while (0)
#define assert_escape_str(in, want) assert_escape((in), strlen(in), (want))

static struct flow_key key_v4(__u32 pid, const char *l, __u16 lport, const char *r, __u16 rport)
{
	struct flow_key k;

	memset(&k, 0, sizeof(k));
	k.pid = pid;
	k.family = AF_INET;
	k.proto = FLOW_PROTO_TCP;
	k.lport = lport;
	k.rport = rport;
	assert_int_equal(inet_pton(AF_INET, l, k.laddr), 1);
	assert_int_equal(inet_pton(AF_INET, r, k.raddr), 1);
	return k;
}

static struct flow_key key_v6(__u32 pid, const char *l, __u16 lport, const char *r, __u16 rport)
{
	struct flow_key k;

	memset(&k, 0, sizeof(k));
	k.pid = pid;
	k.family = AF_INET6;
	k.proto = FLOW_PROTO_TCP;
	k.lport = lport;
	k.rport = rport;
	assert_int_equal(inet_pton(AF_INET6, l, k.laddr), 1);
	assert_int_equal(inet_pton(AF_INET6, r, k.raddr), 1);
	return k;
}

static struct flow_entry entry(struct flow_key k, const char *comm, __u64 rx_delta,
			       __u64 tx_delta, __u64 rx_total, __u64 tx_total)
{
	struct flow_entry e;

	memset(&e, 0, sizeof(e));
	e.key = k;
	memcpy(e.comm, comm, strnlen(comm, sizeof(e.comm)));
	e.rx_delta = rx_delta;
	e.tx_delta = tx_delta;
	e.rx_total = rx_total;
	e.tx_total = tx_total;
	e.used = e.seen = true;
	return e;
}

static struct options default_options(void)
{
	struct options o;

	memset(&o, 0, sizeof(o));
	o.interval = 1;
	o.attach = BACKEND_AUTO;
	o.max_flows = DEFAULT_MAX_FLOWS;
	o.map_v4 = true;
	return o;
}

/* An interval holding the given rows, sums filled in from them. */
static struct interval interval_of(unsigned long index, struct flow_entry **rows, size_t n)
{
	struct interval iv;

	memset(&iv, 0, sizeof(iv));
	iv.index = index;
	iv.rows = rows;
	iv.nrows = n;
	for (size_t i = 0; i < n; i++) {
		iv.rx_bytes += rows[i]->rx_delta;
		iv.tx_bytes += rows[i]->tx_delta;
	}
	iv.tracked = n;
	return iv;
}

/* Formats iv through the real report layer (sorting, --by, --rows). */
static char *render(const struct interval *iv, double ts, const struct options *o, bool json)
{
	struct reporter rep;
	struct report r;
	struct capture c;

	assert_int_equal(reporter_init(&rep, o), 0);
	assert_int_equal(report_build(&rep, iv, o, (double)o->interval, &r), 0);
	capture_open(&c);
	if (json)
		format_json(c.f, &r, ts, o);
	else
		format_table(c.f, &r, o);
	reporter_free(&rep);
	return capture_close(&c);
}

static char *table(const struct interval *iv, const struct options *o)
{
	return render(iv, 0, o, false);
}

static char *json_interval(const struct interval *iv, double ts, const struct options *o)
{
	return render(iv, ts, o, true);
}

static char *json_start(enum backend b, const struct options *o)
{
	struct capture c;

	capture_open(&c);
	format_json_start(c.f, b, o);
	return capture_close(&c);
}

/* Splits line (up to its newline) on blanks into at most max words. */
static size_t split_words(const char *line, char words[][64], size_t max)
{
	size_t n = 0;

	while (*line && *line != '\n') {
		size_t len = 0;

		while (*line == ' ')
			line++;
		if (!*line || *line == '\n')
			break;
		assert_true(n < max);
		while (*line && *line != ' ' && *line != '\n') {
			assert_true(len < 63);
			words[n][len++] = *line++;
		}
		words[n++][len] = '\0';
	}
	return n;
}

/* The n-th line of text (0-based) without its newline, in a static buffer. */
static const char *line_at(const char *text, int n)
{
	static char buf[512];
	const char *end;

	for (; n > 0; n--) {
		text = strchr(text, '\n');
		assert_non_null(text);
		text++;
	}
	end = strchr(text, '\n');
	assert_non_null(end);
	assert_true((size_t)(end - text) < sizeof(buf));
	memcpy(buf, text, (size_t)(end - text));
	buf[end - text] = '\0';
	return buf;
}

static size_t count_lines(const char *text)
{
	size_t n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

/* ---- shown_addr / format_endpoint ------------------------------------------- */

static void assert_endpoint(const struct flow_key *k, bool local, bool map_v4, int family,
			    const char *addr, const char *endpoint)
{
	struct shown_addr a;
	char buf[ADDR_STR_LEN];

	memset(&a, 0x55, sizeof(a));
	shown_addr(k, local, map_v4, &a);
	assert_int_equal(a.family, family);
	assert_string_equal(a.addr, addr);
	format_endpoint(&a, local ? k->lport : k->rport, buf, sizeof(buf));
	assert_string_equal(buf, endpoint);
}

static void test_addr_ipv4(void **state)
{
	struct flow_key k = key_v4(1, "192.168.1.10", 54321, "93.184.216.34", 443);

	(void)state;
	assert_endpoint(&k, true, true, 4, "192.168.1.10", "192.168.1.10:54321");
	assert_endpoint(&k, false, true, 4, "93.184.216.34", "93.184.216.34:443");
	assert_endpoint(&k, true, false, 4, "192.168.1.10", "192.168.1.10:54321");
}

static void test_addr_ipv4_extremes(void **state)
{
	struct flow_key k = key_v4(1, "0.0.0.0", 0, "255.255.255.255", 65535);

	(void)state;
	assert_endpoint(&k, true, true, 4, "0.0.0.0", "0.0.0.0:0");
	assert_endpoint(&k, false, true, 4, "255.255.255.255", "255.255.255.255:65535");
}

static void test_addr_ipv6_compressed(void **state)
{
	struct flow_key k = key_v6(1, "::1", 80, "2001:db8::1", 443);

	(void)state;
	assert_endpoint(&k, true, true, 6, "::1", "[::1]:80");
	assert_endpoint(&k, false, true, 6, "2001:db8::1", "[2001:db8::1]:443");
	assert_endpoint(&k, false, false, 6, "2001:db8::1", "[2001:db8::1]:443");
}

static void test_addr_ipv6_longest(void **state)
{
	struct flow_key k = key_v6(1, "fe80:1:2:3:4:5:6:7", 1,
				   "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);

	(void)state;
	assert_endpoint(&k, true, true, 6, "fe80:1:2:3:4:5:6:7", "[fe80:1:2:3:4:5:6:7]:1");
	assert_endpoint(&k, false, true, 6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
			"[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
}

static void test_addr_mapped_folded_with_map_v4(void **state)
{
	struct flow_key k = key_v6(1, "::ffff:127.0.0.1", 8080, "::ffff:10.1.2.3", 40000);

	(void)state;
	assert_endpoint(&k, true, true, 4, "127.0.0.1", "127.0.0.1:8080");
	assert_endpoint(&k, false, true, 4, "10.1.2.3", "10.1.2.3:40000");
}

static void test_addr_mapped_kept_without_map_v4(void **state)
{
	struct flow_key k = key_v6(1, "::ffff:127.0.0.1", 8080, "::ffff:10.1.2.3", 40000);

	(void)state;
	assert_endpoint(&k, true, false, 6, "::ffff:127.0.0.1", "[::ffff:127.0.0.1]:8080");
	assert_endpoint(&k, false, false, 6, "::ffff:10.1.2.3", "[::ffff:10.1.2.3]:40000");
}

static void test_addr_not_mapped_stays_v6(void **state)
{
	/* only ::ffff:0:0/96 is folded: not ::/96, not ffff::/16 */
	struct flow_key k = key_v6(1, "::7f00:1", 1, "ffff::7f00:1", 2);
	struct flow_key z = key_v6(1, "::", 3, "::fffe:7f00:1", 4);

	struct shown_addr a;
	__u8 back[16];
	char buf[ADDR_STR_LEN];

	(void)state;
	/* ::/96 (IPv4-compatible): libc may print it as ::127.0.0.1 or ::7f00:1 */
	shown_addr(&k, true, true, &a);
	assert_int_equal(a.family, 6);
	assert_int_equal(inet_pton(AF_INET6, a.addr, back), 1);
	assert_memory_equal(back, k.laddr, 16);
	format_endpoint(&a, k.lport, buf, sizeof(buf));
	assert_int_equal(buf[0], '[');
	assert_non_null(strstr(buf, "]:1"));
	assert_string_equal(strstr(buf, "]:1"), "]:1");

	assert_endpoint(&k, false, true, 6, "ffff::7f00:1", "[ffff::7f00:1]:2");
	assert_endpoint(&z, true, true, 6, "::", "[::]:3");
	assert_endpoint(&z, false, true, 6, "::fffe:7f00:1", "[::fffe:7f00:1]:4");
}

static void test_endpoint_small_buffer_terminated(void **state)
{
	struct shown_addr a = { .family = 6, .addr = "2001:db8::1" };
	char buf[8];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	format_endpoint(&a, 443, buf, sizeof(buf));
	assert_string_equal(buf, "[2001:d");
}

/* ---- json_escape ---------------------------------------------------------------- */

static void test_escape_plain(void **state)
{
	(void)state;
	assert_escape_str("", "");
	assert_escape_str("curl", "curl");
	assert_escape_str("a b/c~", "a b/c~");
}

static void test_escape_quote_backslash(void **state)
{
	(void)state;
	assert_escape_str("a\"b", "a\\\"b");
	assert_escape_str("a\\b", "a\\\\b");
	assert_escape_str("\"\\\"", "\\\"\\\\\\\"");
}

static void test_escape_control_chars(void **state)
{
	(void)state;
	assert_escape_str("\x01", "\\u0001");
	assert_escape_str("\x1f", "\\u001f");
	assert_escape_str("\x7f", "\\u007f");
	assert_escape_str("a\nb\tc\r", "a\\u000ab\\u0009c\\u000d");
	assert_escape_str("\x1b[31m", "\\u001b[31m");
	assert_escape_str(" ", " ");	/* 0x20 is printable */
}

static void test_escape_valid_utf8_passes(void **state)
{
	(void)state;
	assert_escape_str("caf\xc3\xa9", "caf\xc3\xa9");			/* é, 2 bytes */
	assert_escape_str("\xe2\x82\xac", "\xe2\x82\xac");			/* €, 3 bytes */
	assert_escape_str("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");		/* 😀, 4 bytes */
	assert_escape_str("\xc2\x80", "\xc2\x80");				/* U+0080 */
	assert_escape_str("\xef\xbf\xbf", "\xef\xbf\xbf");			/* U+FFFF */
	assert_escape_str("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");		/* U+10FFFF */
	assert_escape_str("\xed\x9f\xbf", "\xed\x9f\xbf");			/* U+D7FF */
}

/* Each byte that does not start a valid sequence becomes one U+FFFD. */
static void test_escape_invalid_utf8(void **state)
{
	(void)state;
	assert_escape_str("\xff", "\\ufffd");
	assert_escape_str("a\xff" "b", "a\\ufffdb");
	assert_escape_str("\x80", "\\ufffd");				/* lone continuation */
	assert_escape_str("\xe2\x82" "x", "\\ufffd\\ufffdx");		/* truncated */
	assert_escape_str("\xc3", "\\ufffd");				/* truncated at end */
	assert_escape_str("\xc0\xaf", "\\ufffd\\ufffd");		/* overlong '/' */
	assert_escape_str("\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd");	/* overlong, 3 bytes */
	assert_escape_str("\xf0\x80\x80\xaf", "\\ufffd\\ufffd\\ufffd\\ufffd");
	assert_escape_str("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd");	/* surrogate D800 */
	assert_escape_str("\xed\xbf\xbf", "\\ufffd\\ufffd\\ufffd");	/* surrogate DFFF */
	assert_escape_str("\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"); /* > 10FFFF */
	assert_escape_str("\xf8\x88\x80\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd");
	assert_escape_str("\xfe", "\\ufffd");
}

static void test_escape_stops_at_n_or_nul(void **state)
{
	(void)state;
	/* a 15-byte name without NUL: exactly n bytes are read */
	assert_escape("ABCDEFGHIJKLMNOPQRST", 15, "ABCDEFGHIJKLMNO");
	assert_escape("ABCDEFGHIJKLMNOP", 16, "ABCDEFGHIJKLMNOP");
	assert_escape("ab\0cd", 5, "ab");
	assert_escape("abc", 0, "");
	/* a sequence cut by n is invalid, not read past n */
	assert_escape("ab\xc3\xa9", 3, "ab\\ufffd");
	assert_escape("\xe2\x82\xac", 2, "\\ufffd\\ufffd");
}

/* ---- comm_printable ------------------------------------------------------------- */

static void assert_printable(const char *comm, size_t len, const char *want)
{
	char out[FLOW_COMM_LEN + 8];

	memset(out, 'x', sizeof(out));
	comm_printable(comm, out, len);
	assert_string_equal(out, want);
}

static void test_comm_printable(void **state)
{
	(void)state;
	assert_printable("bash", 16, "bash");
	assert_printable("", 16, "");
	assert_printable("a\tb\x7f" "c\x01", 16, "a?b?c?");
	assert_printable("\x1b[0m", 16, "?[0m");
	assert_printable("caf\xc3\xa9", 16, "caf\xc3\xa9");	/* bytes >= 0x80 kept */
}

static void test_comm_printable_limits(void **state)
{
	static const char full[FLOW_COMM_LEN] = "ABCDEFGHIJKLMNOP";	/* no NUL */

	(void)state;
	assert_printable(full, 16, "ABCDEFGHIJKLMNO");	/* out holds 15 + NUL */
	assert_printable(full, 24, "ABCDEFGHIJKLMNOP");	/* never past FLOW_COMM_LEN */
	assert_printable("bash", 3, "ba");
	assert_printable("bash", 1, "");
}

/* ---- table ---------------------------------------------------------------------- */

static const char *const header_words[] = {
	"PID", "COMM", "RX_KB", "TX_KB", "RXSUM_KB", "TXSUM_KB", "SUM_KB", "LADDR", "RADDR",
};

static void assert_header(const char *line)
{
	char words[16][64];
	size_t n = split_words(line, words, 16);

	assert_int_equal(n, 9);
	for (size_t i = 0; i < 9; i++)
		assert_string_equal(words[i], header_words[i]);
}

static void test_table_header_columns(void **state)
{
	struct options o = default_options();
	struct interval iv = interval_of(1, NULL, 0);
	char *text = table(&iv, &o);

	(void)state;
	assert_int_equal(count_lines(text), 1);
	assert_header(line_at(text, 0));
	assert_string_equal(text,
			    "PID     COMM                  RX_KB      TX_KB   RXSUM_KB   TXSUM_KB"
			    "     SUM_KB LADDR                   RADDR                  \n");
	free(text);
}

static void test_table_row_values(void **state)
{
	struct options o = default_options();
	struct flow_entry e = entry(key_v4(1234, "10.0.0.1", 54321, "93.184.216.34", 443),
				    "curl", 1536, 512, 10240, 2048);
	struct flow_entry *rows[] = { &e };
	struct interval iv = interval_of(1, rows, 1);
	char *text = table(&iv, &o);
	char words[16][64];

	(void)state;
	assert_int_equal(count_lines(text), 2);
	assert_header(line_at(text, 0));
	assert_int_equal(split_words(line_at(text, 1), words, 16), 9);
	assert_string_equal(words[0], "1234");
	assert_string_equal(words[1], "curl");
	assert_string_equal(words[2], "1.50");
	assert_string_equal(words[3], "0.50");
	assert_string_equal(words[4], "10.00");
	assert_string_equal(words[5], "2.00");
	assert_string_equal(words[6], "12.00");
	assert_string_equal(words[7], "10.0.0.1:54321");
	assert_string_equal(words[8], "93.184.216.34:443");
	assert_string_equal(line_at(text, 1),
			    "1234    curl                   1.50       0.50      10.00       2.00"
			    "      12.00 10.0.0.1:54321          93.184.216.34:443      ");
	free(text);
}

static void test_table_kb_rounding(void **state)
{
	struct options o = default_options();
	struct flow_entry e = entry(key_v4(1, "1.1.1.1", 1, "2.2.2.2", 2), "x", 1, 1023,
				    1073741824, 5);
	struct flow_entry *rows[] = { &e };
	struct interval iv = interval_of(1, rows, 1);
	char *text = table(&iv, &o);
	char words[16][64];

	(void)state;
	assert_int_equal(split_words(line_at(text, 1), words, 16), 9);
	assert_string_equal(words[2], "0.00");		/* 1 B */
	assert_string_equal(words[3], "1.00");		/* 1023 B = 0.999 KB */
	assert_string_equal(words[4], "1048576.00");	/* 1 GiB */
	assert_string_equal(words[5], "0.00");		/* 5 B */
	assert_string_equal(words[6], "1048576.00");
	free(text);
}

static void test_table_rows_in_given_order(void **state)
{
	struct options o = default_options();
	struct flow_entry a = entry(key_v4(10, "10.0.0.1", 1, "10.0.0.2", 2), "a", 0, 0, 0, 0);
	struct flow_entry b = entry(key_v4(20, "10.0.0.1", 3, "10.0.0.2", 4), "b", 2048, 0,
				    2048, 0);
	struct flow_entry *rows[] = { &b, &a };
	struct interval iv = interval_of(1, rows, 2);
	char *text = table(&iv, &o);
	char words[16][64];

	(void)state;
	assert_int_equal(count_lines(text), 3);
	split_words(line_at(text, 1), words, 16);
	assert_string_equal(words[0], "20");
	assert_string_equal(words[2], "2.00");
	split_words(line_at(text, 2), words, 16);
	assert_string_equal(words[0], "10");
	assert_string_equal(words[2], "0.00");
	free(text);
}

static void test_table_blank_line_from_second_interval(void **state)
{
	struct options o = default_options();
	struct interval iv1 = interval_of(1, NULL, 0), iv2 = interval_of(2, NULL, 0),
			iv3 = interval_of(3, NULL, 0);
	char *t1 = table(&iv1, &o), *t2 = table(&iv2, &o), *t3 = table(&iv3, &o);

	(void)state;
	assert_true(t1[0] == 'P');
	assert_true(t2[0] == '\n');
	assert_true(t3[0] == '\n');
	assert_header(t2 + 1);
	assert_string_equal(t2 + 1, t1);
	assert_string_equal(t3, t2);
	free(t1);
	free(t2);
	free(t3);
}

static void test_table_ipv6_and_mapped(void **state)
{
	struct options o = default_options();
	struct flow_entry v6 = entry(key_v6(7, "::1", 80, "2001:db8::1", 443), "srv", 1024,
				     0, 1024, 0);
	struct flow_entry mapped = entry(key_v6(8, "::ffff:127.0.0.1", 8080,
						"::ffff:127.0.0.1", 50000),
					 "java", 1024, 0, 1024, 0);
	struct flow_entry *rows[] = { &v6, &mapped };
	struct interval iv = interval_of(1, rows, 2);
	char *text = table(&iv, &o);
	char words[16][64];

	(void)state;
	split_words(line_at(text, 1), words, 16);
	assert_string_equal(words[7], "[::1]:80");
	assert_string_equal(words[8], "[2001:db8::1]:443");
	split_words(line_at(text, 2), words, 16);
	assert_string_equal(words[7], "127.0.0.1:8080");
	assert_string_equal(words[8], "127.0.0.1:50000");
	free(text);

	o.map_v4 = false;
	text = table(&iv, &o);
	split_words(line_at(text, 2), words, 16);
	assert_string_equal(words[7], "[::ffff:127.0.0.1]:8080");
	assert_string_equal(words[8], "[::ffff:127.0.0.1]:50000");
	free(text);
}

static void test_table_comm_control_chars(void **state)
{
	struct options o = default_options();
	struct flow_entry e = entry(key_v4(1, "1.1.1.1", 1, "2.2.2.2", 2), "ev\til\n", 1024, 0,
				    1024, 0);
	struct flow_entry *rows[] = { &e };
	struct interval iv = interval_of(1, rows, 1);
	char *text = table(&iv, &o);
	char words[16][64];

	(void)state;
	assert_int_equal(count_lines(text), 2);
	split_words(line_at(text, 1), words, 16);
	assert_string_equal(words[1], "ev?il?");
	free(text);
}

/* ---- JSON ---------------------------------------------------------------------- */

static void test_json_start_no_pid(void **state)
{
	struct options o = default_options();
	char *text = json_start(BACKEND_KPROBE, &o);

	(void)state;
	assert_string_equal(text,
			    "{\"type\":\"start\",\"version\":\"0.1.0\",\"attach\":\"kprobe\","
			    "\"interval_s\":1,\"pid_filter\":null,\"max_flows\":65536,\"by\":\"flow\"}\n");
	free(text);
}

static void test_json_start_one_pid(void **state)
{
	struct options o = default_options();
	char *text;

	(void)state;
	o.interval = 5;
	o.npids = 1;
	o.pids[0] = 4242;
	o.max_flows = 1000;
	text = json_start(BACKEND_TRACEPOINT, &o);
	assert_string_equal(text,
			    "{\"type\":\"start\",\"version\":\"0.1.0\",\"attach\":\"tracepoint\","
			    "\"interval_s\":5,\"pid_filter\":4242,\"max_flows\":1000,\"by\":\"flow\"}\n");
	free(text);
}

static void test_json_start_several_pids(void **state)
{
	struct options o = default_options();
	char *text;

	(void)state;
	o.npids = 3;
	o.pids[0] = 1;
	o.pids[1] = 22;
	o.pids[2] = 333;
	text = json_start(BACKEND_FENTRY, &o);
	assert_string_equal(text,
			    "{\"type\":\"start\",\"version\":\"0.1.0\",\"attach\":\"fentry\","
			    "\"interval_s\":1,\"pid_filter\":[1,22,333],\"max_flows\":65536,\"by\":\"flow\"}\n");
	free(text);

	o.npids = 2;
	text = json_start(BACKEND_FENTRY, &o);
	assert_non_null(strstr(text, "\"pid_filter\":[1,22],"));
	free(text);
}

/* Without --bpf-stats the BPF run time is unknown: null, never a false 0. */
static void test_json_interval_empty(void **state)
{
	struct options o = default_options();
	struct interval iv = interval_of(1, NULL, 0);
	char *text;

	(void)state;
	iv.tracked = 0;
	text = json_interval(&iv, 1700000000.0, &o);
	assert_string_equal(text,
			    "{\"type\":\"interval\",\"interval\":1,\"ts\":1700000000.000,"
			    "\"flows\":0,\"rx_bytes\":0,\"tx_bytes\":0,\"dropped\":0,"
			    "\"dropped_bytes\":0,\"tracked\":0,\"evicted\":0,\"events\":0,\"collect_us\":0,"
			    "\"bpf_run_ns\":null,\"bpf_runs\":null,\"cpu_ns\":0}\n");
	free(text);
	/* with them, a 0 is a 0 */
	iv.bpf_known = true;
	text = json_interval(&iv, 1700000000.0, &o);
	assert_non_null(strstr(text, "\"bpf_run_ns\":0,\"bpf_runs\":0,\"cpu_ns\":0}\n"));
	free(text);
}

static void test_json_interval_every_field(void **state)
{
	struct options o = default_options();
	struct flow_entry a = entry(key_v4(1234, "10.0.0.1", 54321, "93.184.216.34", 443),
				    "curl", 1536, 512, 10240, 2048);
	struct flow_entry b = entry(key_v6(99, "::1", 80, "2001:db8::1", 443), "srv", 7, 0,
				    70, 18446744073709551615ULL);
	struct flow_entry *rows[] = { &a, &b };
	struct interval iv = interval_of(3, rows, 2);
	struct cgroup_name cg = { .id = 7, .path = "/system.slice/a\"b.service",
				  .container = "a\"b.service", .container_no = 1, .known = true };
	char *text;

	(void)state;
	a.key.netns = 4026531840u;
	a.cg = &cg;
	iv.dropped = 4;
	iv.dropped_bytes = 9000;
	iv.tracked = 17;
	iv.evicted = 2;
	iv.events = 55;
	iv.bpf_known = true;
	iv.bpf_run_ns = 123456;
	iv.bpf_runs = 60;
	iv.cpu_ns = 7000000;
	text = json_interval(&iv, 1700000000.25, &o);
	assert_int_equal(count_lines(text), 3);
	assert_string_equal(line_at(text, 0),
			    "{\"type\":\"flow\",\"interval\":3,\"ts\":1700000000.250,\"pid\":1234,"
			    "\"comm\":\"curl\",\"proto\":\"tcp\",\"family\":4,\"laddr\":\"10.0.0.1\",\"lport\":54321,"
			    "\"raddr\":\"93.184.216.34\",\"rport\":443,\"netns\":4026531840,"
			    "\"cgroup\":\"/system.slice/a\\\"b.service\",\"container\":\"a\\\"b.service\","
			    "\"rx_bytes\":1536,"
			    "\"tx_bytes\":512,\"rx_total\":10240,\"tx_total\":2048}");
	assert_string_equal(line_at(text, 1),
			    "{\"type\":\"flow\",\"interval\":3,\"ts\":1700000000.250,\"pid\":99,"
			    "\"comm\":\"srv\",\"proto\":\"tcp\",\"family\":6,\"laddr\":\"::1\",\"lport\":80,"
			    "\"raddr\":\"2001:db8::1\",\"rport\":443,\"netns\":0,\"cgroup\":\"\","
			    "\"container\":\"\",\"rx_bytes\":7,"
			    "\"tx_bytes\":0,\"rx_total\":70,\"tx_total\":18446744073709551615}");
	assert_string_equal(line_at(text, 2),
			    "{\"type\":\"interval\",\"interval\":3,\"ts\":1700000000.250,"
			    "\"flows\":2,\"rx_bytes\":1543,\"tx_bytes\":512,\"dropped\":4,"
			    "\"dropped_bytes\":9000,\"tracked\":17,\"evicted\":2,\"events\":55,\"collect_us\":0,"
			    "\"bpf_run_ns\":123456,\"bpf_runs\":60,\"cpu_ns\":7000000}");
	free(text);
}

/* --by cgroup/container and -w: names last on the line, control bytes shown as '?' */
static void test_table_cgroup_container_and_wide(void **state)
{
	struct options o = default_options();
	struct cgroup_name web = { .id = 10, .path = "/system.slice/web.service",
				   .container = "web.service", .container_no = 1, .known = true };
	struct cgroup_name web2 = { .id = 11, .path = "/system.slice/web.service/sub",
				    .container = "web.service", .container_no = 1, .known = true };
	struct cgroup_name odd = { .id = 12, .path = "/bad\x1b[2Jname", .container = "",
				   .known = true };
	struct flow_entry a = entry(key_v4(1, "10.0.0.1", 1000, "10.0.0.2", 80), "nginx", 1024,
				    0, 1024, 0);
	struct flow_entry b = entry(key_v4(2, "10.0.0.1", 1001, "10.0.0.2", 80), "nginx", 2048,
				    0, 2048, 0);
	struct flow_entry c = entry(key_v4(3, "10.0.0.1", 1002, "10.0.0.2", 80), "sh", 512, 0,
				    512, 0);
	struct flow_entry *rows[] = { &b, &a, &c };
	struct interval iv = interval_of(1, rows, 3);
	char *text;

	(void)state;
	a.key.cgroup = 10;
	a.cg = &web;
	b.key.cgroup = 11;
	b.cg = &web2;
	c.key.cgroup = 12;
	c.key.netns = 4026531840u;
	c.cg = &odd;
	o.by = BY_CONTAINER;
	text = table(&iv, &o);
	assert_string_equal(text,
		"     RX_KB      TX_KB   RXSUM_KB   TXSUM_KB     SUM_KB  FLOWS CONTAINER\n"
		"      3.00       0.00       3.00       0.00       3.00      2 web.service\n"
		"      0.50       0.00       0.50       0.00       0.50      1 -\n");
	free(text);
	o.by = BY_CGROUP;
	o.rows = 2;
	text = table(&iv, &o);
	assert_string_equal(text,
		"     RX_KB      TX_KB   RXSUM_KB   TXSUM_KB     SUM_KB  FLOWS CONTAINER    CGROUP\n"
		"      2.00       0.00       2.00       0.00       2.00      1 web.service  "
		"/system.slice/web.service/sub\n"
		"      1.00       0.00       1.00       0.00       1.00      1 web.service  "
		"/system.slice/web.service\n"
		"      0.50       0.00       0.50       0.00       0.50      1 (others)\n");
	free(text);
	o.by = BY_FLOW;
	o.rows = 0;
	o.wide = true;
	rows[0] = &c;
	iv = interval_of(1, rows, 1);
	text = table(&iv, &o);
	assert_string_equal(line_at(text, 1),
		"3       sh                     0.50       0.00       0.50       0.00       0.50 "
		"10.0.0.1:1002           10.0.0.2:80             4026531840 -            "
		"/bad?[2Jname");
	free(text);
}

static void test_json_flow_mapped_address(void **state)
{
	struct options o = default_options();
	struct flow_entry e = entry(key_v6(5, "::ffff:127.0.0.1", 8080, "::ffff:127.0.0.1",
					   50000), "java", 1, 2, 3, 4);
	struct flow_entry *rows[] = { &e };
	struct interval iv = interval_of(1, rows, 1);
	char *text = json_interval(&iv, 0.0, &o);

	(void)state;
	assert_string_equal(line_at(text, 0),
			    "{\"type\":\"flow\",\"interval\":1,\"ts\":0.000,\"pid\":5,"
			    "\"comm\":\"java\",\"proto\":\"tcp\",\"family\":4,\"laddr\":\"127.0.0.1\",\"lport\":8080,"
			    "\"raddr\":\"127.0.0.1\",\"rport\":50000,\"netns\":0,\"cgroup\":\"\","
			    "\"container\":\"\",\"rx_bytes\":1,"
			    "\"tx_bytes\":2,\"rx_total\":3,\"tx_total\":4}");
	free(text);

	o.map_v4 = false;
	text = json_interval(&iv, 0.0, &o);
	assert_string_equal(line_at(text, 0),
			    "{\"type\":\"flow\",\"interval\":1,\"ts\":0.000,\"pid\":5,"
			    "\"comm\":\"java\",\"proto\":\"tcp\",\"family\":6,\"laddr\":\"::ffff:127.0.0.1\","
			    "\"lport\":8080,\"raddr\":\"::ffff:127.0.0.1\",\"rport\":50000,"
			    "\"netns\":0,\"cgroup\":\"\",\"container\":\"\",\"rx_bytes\":1,\"tx_bytes\":2,\"rx_total\":3,\"tx_total\":4}");
	free(text);
}

static void test_json_flow_comm_escaped(void **state)
{
	struct options o = default_options();
	struct flow_entry e = entry(key_v4(1, "1.1.1.1", 1, "2.2.2.2", 2), "", 1, 0, 1, 0);
	struct flow_entry *rows[] = { &e };
	struct interval iv = interval_of(1, rows, 1);
	char *text;

	(void)state;
	memcpy(e.comm, "a\"b\\c\x01\xff" "d", 8);
	text = json_interval(&iv, 1.5, &o);
	assert_non_null(strstr(line_at(text, 0), ",\"comm\":\"a\\\"b\\\\c\\u0001\\ufffdd\","));
	free(text);

	/* all 16 bytes used, no NUL: printed whole, nothing read past them */
	memcpy(e.comm, "ABCDEFGHIJKLMNOP", FLOW_COMM_LEN);
	text = json_interval(&iv, 1.5, &o);
	assert_non_null(strstr(line_at(text, 0), ",\"comm\":\"ABCDEFGHIJKLMNOP\","));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_ipv4),
		cmocka_unit_test(test_addr_ipv4_extremes),
		cmocka_unit_test(test_addr_ipv6_compressed),
		cmocka_unit_test(test_addr_ipv6_longest),
		cmocka_unit_test(test_addr_mapped_folded_with_map_v4),
		cmocka_unit_test(test_addr_mapped_kept_without_map_v4),
		cmocka_unit_test(test_addr_not_mapped_stays_v6),
		cmocka_unit_test(test_endpoint_small_buffer_terminated),
		cmocka_unit_test(test_escape_plain),
		cmocka_unit_test(test_escape_quote_backslash),
		cmocka_unit_test(test_escape_control_chars),
		cmocka_unit_test(test_escape_valid_utf8_passes),
		cmocka_unit_test(test_escape_invalid_utf8),
		cmocka_unit_test(test_escape_stops_at_n_or_nul),
		cmocka_unit_test(test_comm_printable),
		cmocka_unit_test(test_comm_printable_limits),
		cmocka_unit_test(test_table_header_columns),
		cmocka_unit_test(test_table_row_values),
		cmocka_unit_test(test_table_kb_rounding),
		cmocka_unit_test(test_table_rows_in_given_order),
		cmocka_unit_test(test_table_blank_line_from_second_interval),
		cmocka_unit_test(test_table_ipv6_and_mapped),
		cmocka_unit_test(test_table_comm_control_chars),
		cmocka_unit_test(test_json_start_no_pid),
		cmocka_unit_test(test_json_start_one_pid),
		cmocka_unit_test(test_json_start_several_pids),
		cmocka_unit_test(test_json_interval_empty),
		cmocka_unit_test(test_json_interval_every_field),
		cmocka_unit_test(test_json_flow_mapped_address),
		cmocka_unit_test(test_table_cgroup_container_and_wide),
		cmocka_unit_test(test_json_flow_comm_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
