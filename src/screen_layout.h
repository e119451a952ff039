/* SPDX-License-Identifier: MIT */
/*
 * The live screen's layout, with no terminal in it: one report's rows and
 * the view the keys chose (screen.h), for a terminal of width x height,
 * become at most height lines of at most width cells each. A status line,
 * the column header, as many of the busiest rows as fit, one "N others" row
 * summing the rest, and a one-line key hint at the bottom. Columns shrink
 * and drop in a fixed order on narrow terminals (screen_layout.c, steps[]).
 */
#ifndef BCCFLOW_SCREEN_LAYOUT_H
#define BCCFLOW_SCREEN_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "opts.h"
#include "report.h"

#define SCR_FILTER_LEN 64

/* What the keys change (screen.c); the rest of the options stay. */
struct scr_view {
	enum group_by by;
	enum sort_key sort;
	bool totals;			/* t: totals since start; r: per-second rates */
	bool paused;			/* p: the rows stay as they were */
	bool help;			/* h: the keys instead of the rows */
	bool names;			/* n: remote host names instead of addresses */
	bool editing;			/* typing a filter after '/' */
	char filter[SCR_FILTER_LEN];	/* rows whose comm or address contain it */
	char edit[SCR_FILTER_LEN];	/* the filter being typed */
};

/* How the terminal draws. */
struct scr_style {
	bool utf8;			/* block characters for bars; else ASCII */
	bool color;			/* SGR colours */
	bool human;			/* human units of fixed width (no --units given) */
	enum units units;		/* else these */
	bool map_v4;
	unsigned max_rows;		/* --rows: at most this many rows (0: as fit) */
};

/* The status line's facts, copied from the interval (formatted by the layout). */
struct scr_status {
	char when[16];			/* "HH:MM:SS" */
	const char *attach;
	size_t flows, tracked;
	__u64 dropped;
	__u64 rx_rate, tx_rate;		/* bytes per second, all flows */
	bool bpf_known;			/* else bpf_ms is unknown and not shown */
	double bpf_ms, cpu_ms;		/* our own cost in the interval */
};

/*
 * A remote host's name into buf (returned), or NULL while it has none
 * (yet): the screen never waits for one. family AF_INET or AF_INET6, addr
 * as in struct flow_key.
 */
typedef const char *(*scr_name_fn)(void *ctx, int family, const __u8 *addr, char *buf,
				   size_t len);

/* The lines of one frame, each NUL-terminated, SGR codes included when colour is on. */
struct scr_frame {
	int nlines;
	char *lines[];			/* into the same allocation */
};

struct scr_input {
	const struct report_row *rows;	/* sorted, all of them (no --rows fold) */
	size_t nrows;
	double elapsed_s;
	const struct scr_status *status;
	scr_name_fn name;		/* may be NULL */
	void *name_ctx;
	const char *message;		/* a one-off line instead of the hint, or NULL */
};

/* Lays out one frame; NULL when out of memory. free() it. */
struct scr_frame *scr_layout(const struct scr_input *in, const struct scr_view *v,
			     const struct scr_style *st, int width, int height);

/*
 * Bytes in at most 4 cells: "999B", "1.2K", "12K", "999K", "1.0M" ... in
 * 1024 units, then "/s" when rate; buf of at least 8 bytes.
 */
void scr_human(char *buf, size_t len, __u64 bytes, bool rate);

/* Cells that text takes on the terminal, SGR codes not counted. */
int scr_cells(const char *text);

/* Whether row w passes the filter (its comm or an address contains it). */
bool scr_row_matches(const struct report_row *w, enum group_by by, bool map_v4,
		     const char *filter);

#endif
