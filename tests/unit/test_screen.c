/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/screen.c (each key and what it changes; colour and
 * block characters) and src/resolve.c (names in the background: a lookup
 * that never answers holds up neither a question nor the end).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "resolve.h"
#include "screen.h"

static struct scr_view fresh_view(void)
{
	struct options o;
	struct scr_view v;

	memset(&o, 0, sizeof(o));
	o.by = BY_FLOW;
	o.sort = SORT_TOTAL;
	scr_view_init(&v, &o);
	return v;
}

static void test_keys(void **state)
{
	struct scr_view v = fresh_view();

	(void)state;
	assert_int_equal(scr_key(&v, 'q'), SCR_QUIT);
	assert_int_equal(scr_key(&v, 'x'), SCR_NONE);
	/* s: every sort key in turn, back to the first */
	for (int i = 1; i <= SORT_TOTAL_ALL + 1; i++) {
		assert_int_equal(scr_key(&v, 's'), SCR_RESORT);
		assert_int_equal(v.sort, i % (SORT_TOTAL_ALL + 1));
	}
	/* b: flow, pid, comm, raddr, lport, cgroup, container, flow */
	for (int i = 1; i <= BY_CONTAINER + 1; i++) {
		assert_int_equal(scr_key(&v, 'b'), SCR_REGROUP);
		assert_int_equal(v.by, i % (BY_CONTAINER + 1));
	}
	assert_int_equal(scr_key(&v, 'r'), SCR_NONE);	/* rates already */
	assert_int_equal(scr_key(&v, 't'), SCR_REDRAW);
	assert_true(v.totals);
	assert_int_equal(scr_key(&v, 'r'), SCR_REDRAW);
	assert_false(v.totals);
	assert_int_equal(scr_key(&v, 'p'), SCR_REDRAW);
	assert_true(v.paused);
	assert_int_equal(scr_key(&v, 'p'), SCR_REDRAW);
	assert_false(v.paused);
	assert_int_equal(scr_key(&v, 'n'), SCR_REDRAW);
	assert_true(v.names);
	assert_int_equal(scr_key(&v, 12), SCR_REPAINT);
	/* h: help; any key goes back, q still quits */
	assert_int_equal(scr_key(&v, 'h'), SCR_REDRAW);
	assert_true(v.help);
	assert_int_equal(scr_key(&v, 's'), SCR_REDRAW);
	assert_false(v.help);
	assert_int_equal(v.sort, SORT_TOTAL);	/* that key only closed the help */
	scr_key(&v, 'h');
	assert_int_equal(scr_key(&v, 'q'), SCR_QUIT);
}

static void type(struct scr_view *v, const char *s)
{
	for (; *s; s++)
		scr_key(v, (unsigned char)*s);
}

static void test_filter_keys(void **state)
{
	struct scr_view v = fresh_view();

	(void)state;
	assert_int_equal(scr_key(&v, '/'), SCR_REDRAW);
	assert_true(v.editing);
	type(&v, "nginq");	/* q is text while typing */
	assert_string_equal(v.edit, "nginq");
	assert_string_equal(v.filter, "");
	scr_key(&v, 127);
	scr_key(&v, 'x');
	scr_key(&v, 8);
	type(&v, "x\r");
	assert_false(v.editing);
	assert_string_equal(v.filter, "nginx");
	/* editing again starts from the filter; Esc drops it */
	scr_key(&v, '/');
	assert_string_equal(v.edit, "nginx");
	scr_key(&v, 21);
	assert_string_equal(v.edit, "");
	type(&v, "10.0\x1b");
	assert_false(v.editing);
	assert_string_equal(v.filter, "");
	/* control and non-ASCII bytes are not text; the length is bounded */
	scr_key(&v, '/');
	assert_int_equal(scr_key(&v, 0x80), SCR_NONE);
	assert_int_equal(scr_key(&v, 1), SCR_NONE);
	for (int i = 0; i < 200; i++)
		scr_key(&v, 'a');
	assert_int_equal(strlen(v.edit), SCR_FILTER_LEN - 1);
	scr_key(&v, '\n');
	assert_int_equal(strlen(v.filter), SCR_FILTER_LEN - 1);
}

static void test_view_from_options(void **state)
{
	struct options o;
	struct scr_view v;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.by = BY_COMM;
	o.sort = SORT_TX;
	o.names = true;
	scr_view_init(&v, &o);
	assert_int_equal(v.by, BY_COMM);
	assert_int_equal(v.sort, SORT_TX);
	assert_true(v.names);
	assert_false(v.totals || v.paused || v.help || v.editing);
}

static void test_colour_wanted(void **state)
{
	(void)state;
	assert_true(scr_color_wanted("xterm-256color", NULL, NULL));
	assert_true(scr_color_wanted("tmux-256color", NULL, NULL));
	assert_true(scr_color_wanted("screen", NULL, NULL));
	assert_true(scr_color_wanted("linux", NULL, NULL));
	assert_true(scr_color_wanted("xterm", "", NULL));	/* empty NO_COLOR: ignored */
	assert_false(scr_color_wanted("xterm-256color", "1", NULL));
	assert_false(scr_color_wanted("dumb", NULL, NULL));
	assert_false(scr_color_wanted(NULL, NULL, "truecolor"));
	assert_false(scr_color_wanted("", NULL, NULL));
	assert_false(scr_color_wanted("vt100", NULL, NULL));
	assert_true(scr_color_wanted("vt100", NULL, "truecolor"));
}

static void test_utf8_wanted(void **state)
{
	(void)state;
	assert_true(scr_utf8_wanted("UTF-8", false));
	assert_true(scr_utf8_wanted("utf8", false));
	assert_false(scr_utf8_wanted("UTF-8", true));	/* --ascii */
	assert_false(scr_utf8_wanted("ANSI_X3.4-1968", false));
	assert_false(scr_utf8_wanted(NULL, false));
}

/* ---- the resolver ------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int quick(int family, const __u8 *addr, char *name, size_t len)
{
	if (family != AF_INET || addr[0] != 10)
		return -1;
	snprintf(name, len, "host-%u.example", addr[3]);
	return 0;
}

static void wait_done(struct resolver *r, size_t n)
{
	for (int i = 0; i < 500 && resolver_done(r) < n; i++)
		usleep(2000);
	assert_true(resolver_done(r) >= n);
}

static void test_resolver_names_and_cache(void **state)
{
	struct resolver *r = resolver_new(2, quick);
	__u8 a[16] = { 10, 0, 0, 1 }, b[16] = { 10, 0, 0, 2 }, c[16] = { 192, 0, 2, 1 };
	char buf[64];

	(void)state;
	assert_non_null(r);
	assert_null(resolver_name(r, AF_INET, a, buf, sizeof(buf)));	/* queued */
	wait_done(r, 1);
	assert_string_equal(resolver_name(r, AF_INET, a, buf, sizeof(buf)), "host-1.example");
	assert_null(resolver_name(r, AF_INET, c, buf, sizeof(buf)));
	wait_done(r, 2);
	assert_null(resolver_name(r, AF_INET, c, buf, sizeof(buf)));	/* no name: stays so */
	assert_int_equal(resolver_done(r), 2);
	/* a third address makes room: the least recently asked (a) goes */
	assert_null(resolver_name(r, AF_INET, b, buf, sizeof(buf)));
	wait_done(r, 3);
	assert_string_equal(resolver_name(r, AF_INET, b, buf, sizeof(buf)), "host-2.example");
	assert_null(resolver_name(r, AF_INET, a, buf, sizeof(buf)));	/* asked again */
	wait_done(r, 4);
	assert_string_equal(resolver_name(r, AF_INET, a, buf, sizeof(buf)), "host-1.example");
	resolver_free(r);
}

/* A lookup that answers only when the test lets it: a DNS server that never does. */
static int hold[2];

static int never(int family, const __u8 *addr, char *name, size_t len)
{
	char c;

	(void)family;
	if (addr[0] == 10 && addr[3] == 200)
		return quick(family, addr, name, len);	/* this one answers */
	if (read(hold[0], &c, 1) != 1)
		return -1;
	snprintf(name, len, "late.example");
	return 0;
}

static void test_resolver_never_blocks(void **state)
{
	struct resolver *r;
	__u8 a[16] = { 10, 0, 0, 1 };
	char buf[64];
	double t0;

	(void)state;
	assert_int_equal(pipe(hold), 0);
	r = resolver_new(16, never);
	assert_non_null(r);
	t0 = now_s();
	for (int i = 0; i < 1000; i++) {
		a[3] = (__u8)i;
		assert_null(resolver_name(r, AF_INET, a, buf, sizeof(buf)));
	}
	usleep(20000);	/* the threads are in their lookups now */
	assert_null(resolver_name(r, AF_INET, a, buf, sizeof(buf)));
	resolver_free(r);
	assert_true(now_s() - t0 < 0.5);
	/* one lookup that hangs holds up no other name */
	r = resolver_new(16, never);
	a[3] = 1;
	assert_null(resolver_name(r, AF_INET, a, buf, sizeof(buf)));
	usleep(20000);
	a[3] = 200;
	assert_null(resolver_name(r, AF_INET, a, buf, sizeof(buf)));
	wait_done(r, 1);
	assert_string_equal(resolver_name(r, AF_INET, a, buf, sizeof(buf)), "host-200.example");
	/* the end does not wait for the lookup either */
	resolver_free(r);
	assert_true(now_s() - t0 < 0.5);
	/* let them return: the last frees the resolver (the sanitizers watch) */
	for (int i = 0; i < 8; i++)
		assert_int_equal(write(hold[1], "x", 1), 1);
	usleep(50000);
	close(hold[1]);	/* a thread still reading gets EOF; hold[0] stays theirs */
}

static void test_resolver_free_idle(void **state)
{
	struct resolver *r = resolver_new(4, quick);

	(void)state;
	assert_non_null(r);
	resolver_free(r);
	resolver_free(NULL);
	assert_null(resolver_new(0, quick));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_filter_keys),
		cmocka_unit_test(test_view_from_options),
		cmocka_unit_test(test_colour_wanted),
		cmocka_unit_test(test_utf8_wanted),
		cmocka_unit_test(test_resolver_names_and_cache),
		cmocka_unit_test(test_resolver_never_blocks),
		cmocka_unit_test(test_resolver_free_idle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
