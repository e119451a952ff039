/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/screen_layout.c: width x height x rows -> lines. Every
 * frame fits (lines <= height, cells <= width), starts with the status line
 * and the header, shows the busiest rows and sums the rest exactly into the
 * others row; columns shrink and drop in the documented order.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cgroup_names.h"
#include "screen_layout.h"

/* ---- helpers -------------------------------------------------------------- */

static struct scr_status status = {
	.when = "12:34:56", .attach = "raw-tracepoint", .flows = 300, .tracked = 310,
	.dropped = 0, .rx_rate = 123456, .tx_rate = 7890, .bpf_known = true, .bpf_ms = 0.3,
	.cpu_ms = 1.2,
};

/* n flows, busiest first: row i moved (n - i) * 1000 + i bytes in, a tenth out. */
static struct report_row *make_rows(size_t n)
{
	struct report_row *rows = calloc(n ? n : 1, sizeof(*rows));

	assert_non_null(rows);
	for (size_t i = 0; i < n; i++) {
		struct report_row *r = &rows[i];

		r->key.pid = (__u32)(1000 + i);
		r->key.proto = 6;
		r->key.lport = (__u16)(40000 + i);
		r->key.rport = 443;
		if (i % 3 == 2) {
			r->key.family = AF_INET6;
			inet_pton(AF_INET6, "2001:db8:1234:5678:9abc:def0:1234:5678", r->key.laddr);
			inet_pton(AF_INET6, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", r->key.raddr);
		} else {
			r->key.family = AF_INET;
			inet_pton(AF_INET, "127.0.0.1", r->key.laddr);
			inet_pton(AF_INET, "10.1.2.3", r->key.raddr);
		}
		snprintf(r->comm, sizeof(r->comm), "proc-%u", (unsigned)(i % 100000));
		r->nflows = 1;
		r->rx_delta = (n - i) * 1000 + i;
		r->tx_delta = r->rx_delta / 10;
		r->rx_total = r->rx_delta * 3;
		r->tx_total = r->tx_delta * 2;
	}
	return rows;
}

static struct scr_style plain_style(void)
{
	struct scr_style st = { .utf8 = true, .human = true, .map_v4 = true };

	return st;
}

static struct scr_frame *layout(const struct report_row *rows, size_t n,
				const struct scr_view *v, const struct scr_style *st, int w, int h)
{
	struct scr_input in = { .rows = rows, .nrows = n, .elapsed_s = 1.0, .status = &status };
	struct scr_frame *f = scr_layout(&in, v, st, w, h);

	assert_non_null(f);
	return f;
}

/* Every frame fits: lines and cells. */
static void assert_fits(const struct scr_frame *f, int w, int h)
{
	assert_true(f->nlines <= h);
	for (int i = 0; i < f->nlines; i++) {
		if (scr_cells(f->lines[i]) > w)
			fail_msg("line %d has %d cells > %d: '%s'", i, scr_cells(f->lines[i]), w,
				 f->lines[i]);
	}
}

static int find_line(const struct scr_frame *f, const char *needle)
{
	for (int i = 0; i < f->nlines; i++)
		if (strstr(f->lines[i], needle))
			return i;
	return -1;
}

/* Whitespace-separated field k of a line (k from 0). */
static void field(const char *line, int k, char *out, size_t len)
{
	const char *p = line;

	for (int i = 0;; i++) {
		size_t n;

		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (i == k) {
			snprintf(out, len, "%.*s", (int)n, p);
			return;
		}
		p += n;
		if (!*p) {
			*out = '\0';
			return;
		}
	}
}

/* ---- tests ---------------------------------------------------------------- */

static void test_every_size_fits(void **state)
{
	static const int sizes[][2] = {
		{ 80, 24 }, { 100, 25 }, { 200, 60 }, { 40, 10 }, { 20, 5 }, { 12, 4 }, { 10, 3 },
		{ 5, 2 }, { 1, 1 }, { 300, 100 },
	};
	static const size_t counts[] = { 0, 1, 5, 21, 22, 300 };
	struct scr_style st = plain_style();

	(void)state;
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		struct report_row *rows = make_rows(counts[c]);

		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
			for (int by = BY_FLOW; by <= BY_CONTAINER; by++)
				for (int mode = 0; mode < 8; mode++) {
					struct scr_view v = { .by = (enum group_by)by, .totals = mode & 1 };
					struct scr_frame *f;
					int w = sizes[s][0], h = sizes[s][1];

					st.utf8 = mode & 2;
					st.color = mode & 4;
					f = layout(rows, counts[c], &v, &st, w, h);
					assert_fits(f, w, h);
					assert_true(f->nlines >= 1);
					/* the status line first, the header second */
					if (w >= 16)
						assert_non_null(strstr(f->lines[0], "bccflow 12:34:56"));
					if (h >= 2 && w >= 40)
						assert_non_null(strstr(f->lines[1], "RX"));
					if (h >= 2 && w >= 80)
						assert_non_null(strstr(f->lines[1], by == BY_RADDR ? "RADDR" :
									by == BY_LPORT ? "LPORT" :
									by == BY_COMM ? "COMM" :
									by >= BY_CGROUP ? "CONTAINER" : "PID"));
					/* the whole height is used from 3 lines up: the hint last */
					if (h >= 3)
						assert_int_equal(f->nlines, h);
					free(f);
				}
		free(rows);
	}
}

static void test_others_sum_exactly(void **state)
{
	struct report_row *rows = make_rows(300);
	struct scr_style st = plain_style();
	struct scr_view v = { .by = BY_FLOW, .totals = true };
	unsigned long long rx = 0, tx = 0, shown_rx = 0;
	struct scr_frame *f;
	char buf[64];
	int o;

	(void)state;
	st.human = false;
	st.units = UNITS_B;
	f = layout(rows, 300, &v, &st, 100, 25);
	assert_fits(f, 100, 25);
	/* status, header, 21 rows, the others row, the hint */
	o = find_line(f, " others");
	assert_int_equal(o, 23);
	assert_non_null(strstr(f->lines[o], "279 others"));
	for (size_t i = 21; i < 300; i++) {
		rx += rows[i].rx_total;
		tx += rows[i].tx_total;
	}
	field(f->lines[o], 2, buf, sizeof(buf));
	assert_int_equal(strtoull(buf, NULL, 10), rx);
	field(f->lines[o], 3, buf, sizeof(buf));
	assert_int_equal(strtoull(buf, NULL, 10), tx);
	/* the busiest flow first, each shown row exact */
	for (int i = 0; i < 21; i++) {
		field(f->lines[2 + i], 0, buf, sizeof(buf));
		assert_int_equal(atoi(buf), 1000 + i);
		field(f->lines[2 + i], 2, buf, sizeof(buf));
		shown_rx += strtoull(buf, NULL, 10);
	}
	for (int i = 0; i < 21; i++)
		shown_rx -= rows[i].rx_total;
	assert_int_equal(shown_rx, 0);
	assert_non_null(strstr(f->lines[24], "q quit"));
	free(f);
	free(rows);
}

static void test_no_others_row_when_all_fit(void **state)
{
	struct report_row *rows = make_rows(22);
	struct scr_style st = plain_style();
	struct scr_view v = { .by = BY_FLOW };
	struct scr_frame *f;

	(void)state;
	f = layout(rows, 22, &v, &st, 100, 25);
	assert_int_equal(find_line(f, " others"), -1);
	assert_non_null(strstr(f->lines[23], "1021"));
	free(f);
	free(rows);
	rows = make_rows(23);
	f = layout(rows, 23, &v, &st, 100, 25);
	assert_int_equal(find_line(f, "2 others"), 23);	/* 22 rows do not leave room */
	free(f);
	free(rows);
}

static void test_max_rows_like_rows_option(void **state)
{
	struct report_row *rows = make_rows(10);
	struct scr_style st = plain_style();
	struct scr_view v = { .by = BY_FLOW };
	struct scr_frame *f;

	(void)state;
	st.max_rows = 3;
	f = layout(rows, 10, &v, &st, 100, 25);
	assert_int_equal(find_line(f, "7 others"), 5);
	assert_string_equal(f->lines[6], "");
	free(f);
	free(rows);
}

/* Full IPv6 on a wide terminal; shortened, then dropped, as it narrows. */
static void test_columns_shrink_then_drop_in_order(void **state)
{
	static const char *const v6 = "[2001:db8:1234:5678:9abc:def0:1234:5678]:40002";
	struct report_row *rows = make_rows(5);
	struct scr_style st = plain_style();
	struct scr_view v = { .by = BY_FLOW };
	struct scr_frame *f;

	(void)state;
	f = layout(rows, 5, &v, &st, 200, 10);
	assert_non_null(strstr(f->lines[4], v6));
	assert_non_null(strstr(f->lines[4], "[2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff]:443"));
	assert_non_null(strstr(f->lines[4], "\xe2\x96\x88"));	/* a bar */
	free(f);
	/* 100: the local address shortened in its middle, the port kept */
	f = layout(rows, 5, &v, &st, 100, 10);
	assert_null(strstr(f->lines[4], v6));
	assert_non_null(strstr(f->lines[4], "\xe2\x80\xa6"));
	assert_non_null(strstr(f->lines[4], ":40002 "));
	assert_non_null(strstr(f->lines[1], "LADDR"));
	free(f);
	/* 60: no bar, no local address */
	f = layout(rows, 5, &v, &st, 60, 10);
	assert_null(strstr(f->lines[1], "LADDR"));
	assert_null(strstr(f->lines[4], "\xe2\x96"));
	assert_non_null(strstr(f->lines[1], "PID"));
	assert_non_null(strstr(f->lines[1], "RADDR"));
	free(f);
	/* 40: the pid goes too; the numbers stay */
	f = layout(rows, 5, &v, &st, 40, 10);
	assert_null(strstr(f->lines[1], "PID"));
	assert_non_null(strstr(f->lines[1], "RX/s"));
	assert_non_null(strstr(f->lines[1], "TX/s"));
	assert_fits(f, 40, 10);
	free(f);
	/* --by pid: the pid is the key and stays */
	v.by = BY_PID;
	f = layout(rows, 5, &v, &st, 30, 10);
	assert_non_null(strstr(f->lines[1], "PID"));
	assert_fits(f, 30, 10);
	free(f);
	free(rows);
}

static void test_human_units_keep_width(void **state)
{
	static const struct {
		__u64 v;
		const char *want;
	} cases[] = {
		{ 0, "0B" }, { 999, "999B" }, { 1000, "1.0K" }, { 1023, "1.0K" }, { 1024, "1.0K" },
		{ 1280, "1.2K" }, { 10188, "9.9K" }, { 10189, "10K" }, { 1022975, "999K" },
		{ 1022976, "999K" }, { 1023487, "999K" }, { 1023488, "1.0M" }, { 1048576, "1.0M" }, { 5ULL << 30, "5.0G" },
		{ ULLONG_MAX, "16E" },
	};
	char buf[16];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		scr_human(buf, sizeof(buf), cases[i].v, false);
		assert_string_equal(buf, cases[i].want);
		assert_true(strlen(buf) <= 4);
		scr_human(buf, sizeof(buf), cases[i].v, true);
		assert_true(strlen(buf) <= 6);
		assert_non_null(strstr(buf, "/s"));
	}
	/* every value up to 2^40 in steps: never more than 4 characters */
	for (__u64 v = 1; v < (1ULL << 40); v = v * 3 / 2 + 1) {
		scr_human(buf, sizeof(buf), v, false);
		assert_true(strlen(buf) <= 4);
	}
}

static void test_rates_and_totals(void **state)
{
	struct report_row *rows = make_rows(2);
	struct scr_style st = plain_style();
	struct scr_view v = { .by = BY_PID };
	struct scr_frame *f;
	char buf[32];

	(void)state;
	st.human = false;
	st.units = UNITS_B;
	f = layout(rows, 2, &v, &st, 100, 10);
	assert_non_null(strstr(f->lines[1], "RX_B/s"));
	field(f->lines[2], 2, buf, sizeof(buf));
	assert_string_equal(buf, "2000");	/* 2000 bytes in 1 s */
	free(f);
	v.totals = true;
	f = layout(rows, 2, &v, &st, 100, 10);
	assert_non_null(strstr(f->lines[1], "RXSUM_B"));
	field(f->lines[2], 2, buf, sizeof(buf));
	assert_string_equal(buf, "6000");
	free(f);
	free(rows);
}

static void test_filter_is_display_only(void **state)
{
	struct report_row *rows = make_rows(30);
	struct scr_style st = plain_style();
	struct scr_view v = { .by = BY_FLOW };
	struct scr_frame *f;

	(void)state;
	strcpy(v.filter, "proc-2");	/* proc-2, proc-20 .. proc-29 */
	f = layout(rows, 30, &v, &st, 120, 25);
	assert_int_equal(find_line(f, " others"), -1);
	assert_int_equal(find_line(f, "proc-1 "), -1);
	assert_non_null(strstr(f->lines[2], "proc-2 "));
	assert_non_null(strstr(f->lines[12], "proc-29"));
	assert_string_equal(f->lines[13], "");
	assert_non_null(strstr(f->lines[24], "filter:\"proc-2\""));
	free(f);
	strcpy(v.filter, "db8:aaaa");	/* the IPv6 remote */
	f = layout(rows, 30, &v, &st, 200, 25);
	assert_non_null(strstr(f->lines[2], "proc-2 "));
	assert_non_null(strstr(f->lines[3], "proc-5 "));
	free(f);
	assert_true(scr_row_matches(&rows[0], BY_FLOW, true, "127.0.0.1:40000"));
	assert_false(scr_row_matches(&rows[0], BY_FLOW, true, "nothing"));
	assert_true(scr_row_matches(&rows[0], BY_FLOW, true, ""));
	free(rows);
}

static const char *fake_name(void *ctx, int family, const __u8 *addr, char *buf, size_t len)
{
	(void)ctx;
	if (family != AF_INET || addr[0] != 10)
		return NULL;	/* no name yet */
	snprintf(buf, len, "host.example");
	return buf;
}

static void test_names_when_known(void **state)
{
	struct report_row *rows = make_rows(3);
	struct scr_style st = plain_style();
	struct scr_view v = { .by = BY_FLOW, .names = true };
	struct scr_input in = { .rows = rows, .nrows = 3, .elapsed_s = 1, .status = &status,
				.name = fake_name };
	struct scr_frame *f = scr_layout(&in, &v, &st, 200, 10);

	(void)state;
	assert_non_null(strstr(f->lines[2], "host.example:443"));
	/* the address until a name arrives */
	assert_non_null(strstr(f->lines[4], "[2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff]:443"));
	free(f);
	v.names = false;
	f = scr_layout(&in, &v, &st, 200, 10);
	assert_null(strstr(f->lines[2], "host.example"));
	assert_non_null(strstr(f->lines[2], "10.1.2.3:443"));
	free(f);
	v.by = BY_RADDR;
	v.names = true;
	f = scr_layout(&in, &v, &st, 200, 10);
	assert_non_null(strstr(f->lines[2], "host.example "));
	free(f);
	free(rows);
}

/* Our own cost: the BPF part only when known (--bpf-stats), the CPU always. */
static void test_status_cost(void **state)
{
	struct report_row *rows = make_rows(3);
	struct scr_style st = plain_style();
	struct scr_view v = { .by = BY_FLOW };
	struct scr_frame *f = layout(rows, 3, &v, &st, 200, 10);

	(void)state;
	assert_non_null(strstr(f->lines[0], "  cost bpf 0.3 ms cpu 1.2 ms"));
	free(f);
	status.bpf_known = false;
	f = layout(rows, 3, &v, &st, 200, 10);
	status.bpf_known = true;
	assert_non_null(strstr(f->lines[0], "  cost cpu 1.2 ms"));
	assert_null(strstr(f->lines[0], "bpf"));
	free(f);
	free(rows);
}

static void test_help_paused_and_message(void **state)
{
	struct report_row *rows = make_rows(50);
	struct scr_style st = plain_style();
	struct scr_view v = { .by = BY_FLOW, .help = true, .paused = true };
	struct scr_input in = { .rows = rows, .nrows = 50, .elapsed_s = 1, .status = &status,
				.message = "warning: something" };
	struct scr_frame *f = scr_layout(&in, &v, &st, 100, 25);

	(void)state;
	assert_fits(f, 100, 25);
	assert_non_null(strstr(f->lines[0], "[paused]"));
	assert_int_equal(find_line(f, "proc-"), -1);
	assert_true(find_line(f, "q          quit") > 1);
	assert_non_null(strstr(f->lines[24], "warning: something"));
	free(f);
	v.help = false;
	v.editing = true;
	strcpy(v.edit, "ngi");
	in.message = NULL;
	f = scr_layout(&in, &v, &st, 100, 25);
	assert_non_null(strstr(f->lines[24], "filter (Enter: apply, Esc: clear): ngi_"));
	free(f);
	free(rows);
}

static void test_ascii_and_colour(void **state)
{
	struct report_row *rows = make_rows(40);
	struct scr_style st = plain_style();
	struct scr_view v = { .by = BY_FLOW };
	struct scr_frame *f;

	(void)state;
	st.utf8 = false;
	f = layout(rows, 40, &v, &st, 90, 25);
	for (int i = 0; i < f->nlines; i++)
		for (const char *p = f->lines[i]; *p; p++)
			assert_true((unsigned char)*p < 0x80 && *p != '\033');
	assert_non_null(strstr(f->lines[2], "#"));
	assert_non_null(strstr(f->lines[4], "~"));	/* the cut IPv6 address */
	free(f);
	st.color = true;
	f = layout(rows, 40, &v, &st, 90, 25);
	assert_non_null(strstr(f->lines[1], "\033[7m"));
	assert_non_null(strstr(f->lines[2], "\033[32m"));
	assert_fits(f, 90, 25);
	free(f);
	free(rows);
}

/* Names from processes: controls become '?', wide characters take two cells. */
static void test_untrusted_text(void **state)
{
	struct report_row *rows = make_rows(3);
	struct scr_style st = plain_style();
	struct scr_view v = { .by = BY_COMM };
	struct scr_frame *f;

	(void)state;
	memcpy(rows[0].comm, "a\033[2Jb\x07", 7);
	memcpy(rows[1].comm, "\xe6\xbc\xa2\xe5\xad\x97\xe6\xbc\xa2\xe5\xad\x97x", 14);
	f = layout(rows, 3, &v, &st, 100, 8);
	assert_null(strchr(f->lines[2], '\033'));
	assert_non_null(strstr(f->lines[2], "a?[2Jb?"));
	assert_non_null(strstr(f->lines[3], "\xe6\xbc\xa2"));
	assert_int_equal(scr_cells(f->lines[3]), scr_cells(f->lines[4]));
	free(f);
	/* a narrow comm column cuts between wide characters, never through one */
	f = layout(rows, 3, &v, &st, 22, 8);
	assert_fits(f, 22, 8);
	free(f);
	st.utf8 = false;
	f = layout(rows, 3, &v, &st, 100, 8);
	assert_non_null(strstr(f->lines[3], "????x"));
	free(f);
	free(rows);
}

static void test_cgroup_rows(void **state)
{
	struct report_row *rows = make_rows(3);
	struct cgroup_name cg = { .id = 7, .path = "/bccflow.slice/docker-c0ffee.scope",
				  .container = "c0ffee", .container_no = 1, .known = true };
	struct scr_style st = plain_style();
	struct scr_view v = { .by = BY_CGROUP };
	struct scr_frame *f;

	(void)state;
	rows[0].cg = &cg;
	f = layout(rows, 3, &v, &st, 100, 8);
	assert_non_null(strstr(f->lines[1], "CONTAINER"));
	assert_non_null(strstr(f->lines[2], "c0ffee"));
	assert_non_null(strstr(f->lines[2], "/bccflow.slice/docker-c0ffee.scope"));
	assert_non_null(strstr(f->lines[3], "-"));
	free(f);
	strcpy(v.filter, "docker");
	f = layout(rows, 3, &v, &st, 100, 8);
	assert_int_equal(find_line(f, "c0ffee"), 2);
	assert_string_equal(f->lines[3], "");
	free(f);
	free(rows);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_size_fits),
		cmocka_unit_test(test_others_sum_exactly),
		cmocka_unit_test(test_no_others_row_when_all_fit),
		cmocka_unit_test(test_max_rows_like_rows_option),
		cmocka_unit_test(test_columns_shrink_then_drop_in_order),
		cmocka_unit_test(test_human_units_keep_width),
		cmocka_unit_test(test_rates_and_totals),
		cmocka_unit_test(test_filter_is_display_only),
		cmocka_unit_test(test_names_when_known),
		cmocka_unit_test(test_status_cost),
		cmocka_unit_test(test_help_paused_and_message),
		cmocka_unit_test(test_ascii_and_colour),
		cmocka_unit_test(test_untrusted_text),
		cmocka_unit_test(test_cgroup_rows),
	};

	/* wide characters are measured in a UTF-8 locale, as on the screen */
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		setlocale(LC_CTYPE, "en_US.UTF-8");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
