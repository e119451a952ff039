/* SPDX-License-Identifier: MIT */
/*
 * The live screen's keys and what they change (struct scr_view), with no
 * terminal in it: the monitor feeds it the bytes typed and acts on the
 * answer. Also which style a terminal gets (colour, block characters).
 */
#ifndef BCCFLOW_SCREEN_H
#define BCCFLOW_SCREEN_H

#include <stdbool.h>

#include "screen_layout.h"

enum scr_action {
	SCR_NONE,	/* nothing changed */
	SCR_REDRAW,	/* the same rows, shown otherwise */
	SCR_RESORT,	/* the sort key changed: sort the rows again */
	SCR_REGROUP,	/* the grouping changed: build the rows again */
	SCR_REPAINT,	/* Ctrl-L: clear and draw everything again */
	SCR_QUIT,
};

/* The view the options start with. */
void scr_view_init(struct scr_view *v, const struct options *o);

/* One byte typed: what it changed in *v. */
enum scr_action scr_key(struct scr_view *v, unsigned char key);

/*
 * Colour only on a terminal that has it and without NO_COLOR (any
 * non-empty value): term, no_color and colorterm are the environment's
 * TERM, NO_COLOR and COLORTERM (each may be NULL).
 */
bool scr_color_wanted(const char *term, const char *no_color, const char *colorterm);

/* Block characters unless --ascii or the locale's codeset is not UTF-8. */
bool scr_utf8_wanted(const char *codeset, bool ascii);

#endif
