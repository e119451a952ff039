/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "live.h"
#include "monitor.h"

/* Names cached for the screen: far more than ever fit on it. */
#define NAMES_CACHED 4096

static void draw(struct live *l);

/* The status line's time: when the report was made (a redraw keeps it). */
static void stamp(struct live *l)
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(l->status.when, sizeof(l->status.when), "%H:%M:%S", &tm);
}

int live_open(struct live *l, const struct options *o, const char *attach)
{
	int err;

	memset(l, 0, sizeof(*l));
	/* the character set only: numbers in JSON and CSV keep the C locale */
	setlocale(LC_CTYPE, "");
	scr_view_init(&l->view, o);
	l->style.utf8 = scr_utf8_wanted(nl_langinfo(CODESET), o->ascii);
	l->style.color = scr_color_wanted(getenv("TERM"), getenv("NO_COLOR"),
					  getenv("COLORTERM"));
	l->style.human = !o->units_set;
	l->style.units = o->units;
	l->style.map_v4 = o->map_v4;
	l->style.max_rows = o->rows;
	l->vo = *o;
	l->vo.rows = 0;		/* the screen folds what does not fit */
	l->vo.listen = NULL;	/* its groups are its own, not the metrics' */
	l->status.attach = attach;
	l->repaint = true;
	err = reporter_init(&l->rep, &l->vo);
	if (err) {
		fprintf(stderr, "bccflow: cannot set up the screen: %s\n", strerror(-err));
		return err;
	}
	err = term_open(&l->term, STDIN_FILENO, STDOUT_FILENO);
	if (err) {
		fprintf(stderr, "bccflow: cannot set up the terminal: %s\n", strerror(-err));
		reporter_free(&l->rep);
		return err;
	}
	/* the screen at once, empty until the first interval ends */
	stamp(l);
	snprintf(l->message, sizeof(l->message), "counting: the first report comes in %u s "
		 "(h: keys, q: quit)", o->interval);
	draw(l);
	l->message[0] = '\0';
	return 0;
}

void live_close(struct live *l)
{
	fflush(stdout);
	term_close(&l->term);
	resolver_free(l->res);
	reporter_free(&l->rep);
	free(l->rows);
	memset(l, 0, sizeof(*l));
}

static const char *name_of(void *ctx, int family, const __u8 *addr, char *buf, size_t len)
{
	struct live *l = ctx;

	if (!l->res) {
		l->res = resolver_new(NAMES_CACHED, NULL);
		if (!l->res)
			return NULL;	/* no thread: addresses it is */
	}
	return resolver_name(l->res, family, addr, buf, len);
}

static void draw(struct live *l)
{
	struct scr_input in = {
		.rows = l->rows, .nrows = l->nrows, .elapsed_s = l->rows_elapsed_s,
		.status = &l->status, .name = name_of, .name_ctx = l,
		.message = *l->message ? l->message : NULL,
	};
	struct scr_frame *f;

	f = scr_layout(&in, &l->view, &l->style, l->term.width, l->term.height);
	if (!f)
		return;	/* out of memory: the last frame stays */
	/* home; the whole screen cleared only when needed, so it never flickers */
	fputs(l->repaint ? "\033[H\033[2J" : "\033[H", stdout);
	l->repaint = false;
	for (int i = 0; i < f->nlines; i++) {
		fputs(f->lines[i], stdout);
		/* the rest of the line cleared; no newline after the last: no scroll */
		fputs(i + 1 < f->nlines ? "\033[K\r\n" : "\033[K", stdout);
	}
	fputs("\033[J", stdout);
	fflush(stdout);
	free(f);
}

/* The rows shown become the view reporter's latest. */
static int take_rows(struct live *l, const struct report *r)
{
	if (r->nrows > l->cap) {
		struct report_row *rows = realloc(l->rows, r->nrows * sizeof(*rows));

		if (!rows)
			return -ENOMEM;
		l->rows = rows;
		l->cap = r->nrows;
	}
	if (r->nrows)
		memcpy(l->rows, r->rows, r->nrows * sizeof(*l->rows));
	l->nrows = r->nrows;
	l->rows_elapsed_s = r->elapsed_s;
	return 0;
}

static int build(struct live *l)
{
	int err = report_build(&l->rep, &l->iv, &l->vo, l->elapsed_s, &l->latest);

	return err ? err : take_rows(l, &l->latest);
}

int live_interval(struct live *l, const struct interval *iv, double elapsed_s)
{
	int err;

	stamp(l);
	l->iv = *iv;
	l->have_iv = true;
	l->elapsed_s = elapsed_s;
	l->status.flows = iv->nrows;
	l->status.tracked = iv->tracked;
	l->status.dropped = iv->dropped;
	l->status.rx_rate = elapsed_s > 0 ? (__u64)((double)iv->rx_bytes / elapsed_s) : iv->rx_bytes;
	l->status.tx_rate = elapsed_s > 0 ? (__u64)((double)iv->tx_bytes / elapsed_s) : iv->tx_bytes;
	l->status.bpf_known = iv->bpf_known;
	l->status.bpf_ms = (double)iv->bpf_run_ns / 1e6;
	l->status.cpu_ms = (double)iv->cpu_ns / 1e6;
	/* the groups count every interval, paused or not */
	err = report_build(&l->rep, iv, &l->vo, elapsed_s, &l->latest);
	if (!err && !l->view.paused)
		err = take_rows(l, &l->latest);
	if (!err)
		draw(l);
	l->message[0] = '\0';
	return err;
}

void live_message(struct live *l, const char *msg)
{
	snprintf(l->message, sizeof(l->message), "%s", msg);
}

/* What a key asks for, done; false when it quits. */
static bool act(struct live *l, enum scr_action a)
{
	switch (a) {
	case SCR_QUIT:
		return false;
	case SCR_RESORT:
		l->vo.sort = l->view.sort;
		report_sort(l->rows, l->nrows, l->view.sort);
		report_sort(l->latest.rows, l->latest.nrows, l->view.sort);
		break;
	case SCR_REGROUP:
		/* the new grouping's rows at once, from the last interval */
		reporter_free(&l->rep);
		memset(&l->latest, 0, sizeof(l->latest));	/* its rows were the reporter's */
		l->vo.by = l->view.by;
		if (reporter_init(&l->rep, &l->vo) || (l->have_iv && build(l)))
			l->nrows = 0;	/* out of memory: an empty table until the next */
		break;
	case SCR_REPAINT:
		l->repaint = true;
		break;
	case SCR_REDRAW:
		/* back from a pause: the latest interval at once */
		if (!l->view.paused && l->have_iv && l->latest.rows &&
		    take_rows(l, &l->latest))
			l->nrows = 0;
		break;
	default:
		break;
	}
	return true;
}

enum live_wait live_wait(struct live *l, const struct timespec *deadline)
{
	unsigned char keys[64];
	size_t n;

	while (!exiting) {
		enum term_event ev = term_wait(&l->term, deadline, keys, sizeof(keys), &n);
		bool redraw = false;

		switch (ev) {
		case TERM_TIMEOUT:
			return LIVE_DEADLINE;
		case TERM_HANGUP:
			return LIVE_QUIT;
		case TERM_ERROR:
			fprintf(stderr, "bccflow: cannot read the terminal: %s\n", strerror(errno));
			return LIVE_FAILED;
		case TERM_SIGNAL:
			continue;
		case TERM_RESIZED:
			l->repaint = redraw = true;
			break;
		case TERM_KEYS:
			for (size_t i = 0; i < n; i++) {
				enum scr_action a = scr_key(&l->view, keys[i]);

				if (!act(l, a))
					return LIVE_QUIT;
				redraw |= a != SCR_NONE;
			}
			break;
		}
		if (redraw)
			draw(l);
	}
	return LIVE_SIGNAL;
}
