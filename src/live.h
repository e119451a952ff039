/* SPDX-License-Identifier: MIT */
/*
 * The live screen (table output on a terminal, without -C): the terminal
 * (term.c), the keys and the view they choose (screen.c), the layout
 * (screen_layout.c) and the names (resolve.c), fed one interval at a time
 * by the monitor, which waits in live_wait() instead of sleeping.
 */
#ifndef BCCFLOW_LIVE_H
#define BCCFLOW_LIVE_H

#include <stdbool.h>

#include "collect.h"
#include "opts.h"
#include "report.h"
#include "resolve.h"
#include "screen.h"
#include "term.h"

struct live {
	struct term term;
	struct scr_view view;
	struct scr_style style;
	struct options vo;		/* the options of the view: its by and sort, no --rows */
	struct reporter rep;		/* the view's rows */
	struct interval iv;		/* the last interval (its rows valid until the next) */
	struct report latest;		/* its rows under the view (valid until the next) */
	bool have_iv;
	double elapsed_s;
	struct report_row *rows;	/* what is shown: frozen while paused */
	size_t nrows, cap;
	double rows_elapsed_s;
	struct scr_status status;
	struct resolver *res;		/* NULL until names are first asked for */
	bool repaint;			/* the next frame clears the screen first */
	char message[192];		/* shown instead of the hint for one interval */
};

enum live_wait {
	LIVE_DEADLINE,			/* the interval is over */
	LIVE_QUIT,			/* q, or the terminal is gone */
	LIVE_SIGNAL,			/* SIGINT/SIGTERM (exiting is set) */
	LIVE_FAILED,			/* said why on stderr */
};

/* 0, or -errno (said on stderr). */
int live_open(struct live *l, const struct options *o, const char *attach);
void live_close(struct live *l);

/*
 * One interval: its rows under the view (the monitor calls collect_end()
 * only before the next interval, so that a key can group them again).
 * 0 or -ENOMEM; the frame goes to stdout, which the caller flushes.
 */
int live_interval(struct live *l, const struct interval *iv, double elapsed_s);
/* A one-off line for the hint's place (a warning), for this interval. */
void live_message(struct live *l, const char *msg);
/* Keys and terminal signals until the deadline. */
enum live_wait live_wait(struct live *l, const struct timespec *deadline);

#endif
