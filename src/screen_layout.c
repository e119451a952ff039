/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE	/* strcasestr */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <wchar.h>

#include "cgroup_names.h"
#include "format.h"
#include "screen_layout.h"
#include "utf8.h"

/* ---- cells ---------------------------------------------------------------- */

/*
 * One character of text at s (n bytes left): its byte length in *len and its
 * cells, or 0 when it must be shown as '?' (a control, invalid UTF-8, or
 * anything but ASCII when the terminal is not UTF-8).
 */
static int glyph(const unsigned char *s, size_t n, bool utf8, size_t *len)
{
	unsigned cp;
	size_t l = utf8_next(s, n, &cp);
	int w;

	*len = l ? l : 1;
	if (l == 1)
		return s[0] >= 0x20 && s[0] != 0x7f;
	if (!l || !utf8)
		return 0;
	w = wcwidth((wchar_t)cp);
	return w > 0 ? w : 0;
}

/* Skips an SGR sequence (ESC [ ... m) at s: its length, or 0. */
static size_t sgr_len(const char *s)
{
	size_t i = 2;

	if (s[0] != '\033' || s[1] != '[')
		return 0;
	while (s[i] && s[i] != 'm')
		i++;
	return s[i] ? i + 1 : i;
}

int scr_cells(const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n = strlen(text), i = 0, len;
	int cells = 0, w;

	while (i < n) {
		size_t e = sgr_len(text + i);

		if (e) {
			i += e;
			continue;
		}
		w = glyph(s + i, n - i, true, &len);
		cells += w ? w : 1;
		i += len;
	}
	return cells;
}

/* ---- a line being built ----------------------------------------------------- */

struct line {
	char *p;
	size_t len, cap;
	int cells, width;
	const struct scr_style *st;
};

static void put_bytes(struct line *l, const char *s, size_t n)
{
	if (l->len + n >= l->cap)
		return;	/* cap leaves room for every cell and code: never reached */
	memcpy(l->p + l->len, s, n);
	l->len += n;
	l->p[l->len] = '\0';
}

static void put_sgr(struct line *l, const char *code)
{
	if (l->st->color)
		put_bytes(l, code, strlen(code));
}

static void put_spaces(struct line *l, int n)
{
	while (n-- > 0 && l->cells < l->width) {
		put_bytes(l, " ", 1);
		l->cells++;
	}
}

/* One glyph of cells w (0: '?'), if it fits the line. */
static void put_glyph(struct line *l, const char *s, size_t len, int w)
{
	if (l->cells + (w ? w : 1) > l->width)
		return;
	if (w)
		put_bytes(l, s, len);
	else
		put_bytes(l, "?", 1);
	l->cells += w ? w : 1;
}

enum cut {
	CUT_END,	/* names: the start stays */
	CUT_MID,	/* addresses: the start and the port stay */
};

static const char *ellipsis(const struct line *l)
{
	return l->st->utf8 ? "\xe2\x80\xa6" : "~";
}

/* The glyphs of text from cell from on, while they end at or before cell to. */
static void put_span(struct line *l, const char *text, int from, int to)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n = strlen(text), len;
	int at = 0, w;

	for (size_t i = 0; i < n; i += len) {
		w = glyph(s + i, n - i, l->st->utf8, &len);
		if (at >= from && at + (w ? w : 1) <= to)
			put_glyph(l, text + i, len, w);
		at += w ? w : 1;
	}
}

/*
 * text in exactly cells cells (or up to the line's end): padded, or cut with
 * an ellipsis where cut says.
 */
static void put_text(struct line *l, const char *text, int cells, bool right, enum cut cut)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n = strlen(text), len;
	int total = 0, head, start = l->cells, w;

	if (cells <= 0)
		return;
	for (size_t i = 0; i < n; i += len) {
		w = glyph(s + i, n - i, l->st->utf8, &len);
		total += w ? w : 1;
	}
	if (total <= cells) {
		if (right)
			put_spaces(l, cells - total);
		put_span(l, text, 0, total);
		put_spaces(l, start + cells - l->cells);
		return;
	}
	/* cells - 1 cells of text around the ellipsis */
	head = cut == CUT_END ? cells - 1 : (cells - 1) / 2;
	put_span(l, text, 0, head);
	put_spaces(l, start + head - l->cells);	/* a wide glyph across the cut */
	if (l->cells < l->width) {
		put_bytes(l, ellipsis(l), strlen(ellipsis(l)));
		l->cells++;
	}
	/* the tail: what ends the text in the cells left, from a glyph start */
	put_span(l, text, total - (cells - 1 - head), total);
	put_spaces(l, start + cells - l->cells);
}

/* ---- numbers ---------------------------------------------------------------- */

void scr_human(char *buf, size_t len, __u64 bytes, bool rate)
{
	static const char suffix[] = "BKMGTPE";
	const char *per = rate ? "/s" : "";
	double v = (double)bytes;
	int i = 0;

	if (bytes < 1000) {
		snprintf(buf, len, "%lluB%s", (unsigned long long)bytes, per);
		return;
	}
	/* 1024 units; a value that would print as 1000 or more goes up one */
	while (v >= 999.5 && i < 6) {
		v /= 1024.0;
		i++;
	}
	if (v < 9.95)
		snprintf(buf, len, "%.1f%c%s", v, suffix[i], per);
	else
		snprintf(buf, len, "%.0f%c%s", v, suffix[i], per);
}

static void amount(char *buf, size_t len, __u64 bytes, bool rate, const struct scr_style *st)
{
	if (st->human)
		scr_human(buf, len, bytes, rate);
	else
		format_amount(buf, len, bytes, st->units);
}

/* ---- columns ---------------------------------------------------------------- */

enum col {
	C_PID,
	C_COMM,
	C_KADDR,	/* --by raddr: the remote address */
	C_LPORT,
	C_RX,
	C_TX,
	C_BAR,
	C_FLOWS,
	C_LADDR,	/* endpoints of a flow */
	C_RADDR,
	C_CONTAINER,
	C_CGROUP,
	C_N,
};

struct colspec {
	const char *head;
	bool right;
	enum cut cut;
	int max;	/* widest wanted (0: any) */
};

static const struct colspec specs[C_N] = {
	[C_PID] = { "PID", false, CUT_END, 7 },
	[C_COMM] = { "COMM", false, CUT_END, 15 },
	[C_KADDR] = { "RADDR", false, CUT_MID, 0 },
	[C_LPORT] = { "LPORT", false, CUT_END, 5 },
	[C_RX] = { NULL, true, CUT_END, 0 },
	[C_TX] = { NULL, true, CUT_END, 0 },
	[C_BAR] = { "", false, CUT_END, 0 },
	[C_FLOWS] = { "FLOWS", true, CUT_END, 0 },
	[C_LADDR] = { "LADDR", false, CUT_MID, 0 },
	[C_RADDR] = { "RADDR", false, CUT_MID, 0 },
	[C_CONTAINER] = { "CONTAINER", false, CUT_END, 0 },
	[C_CGROUP] = { "CGROUP", false, CUT_MID, 0 },
};

/* The columns of each --by, in order (C_N ends a list). */
static const enum col layouts[][9] = {
	[BY_FLOW] = { C_PID, C_COMM, C_RX, C_TX, C_BAR, C_LADDR, C_RADDR, C_N },
	[BY_PID] = { C_PID, C_COMM, C_RX, C_TX, C_BAR, C_FLOWS, C_N },
	[BY_COMM] = { C_COMM, C_RX, C_TX, C_BAR, C_FLOWS, C_N },
	[BY_RADDR] = { C_KADDR, C_RX, C_TX, C_BAR, C_FLOWS, C_N },
	[BY_LPORT] = { C_LPORT, C_RX, C_TX, C_BAR, C_FLOWS, C_N },
	[BY_CGROUP] = { C_RX, C_TX, C_BAR, C_FLOWS, C_CONTAINER, C_CGROUP, C_N },
	[BY_CONTAINER] = { C_RX, C_TX, C_BAR, C_FLOWS, C_CONTAINER, C_N },
};

/*
 * On a narrow terminal, these steps apply in order until the columns fit
 * (a step on a column the table has not is skipped); whatever still does not
 * fit is cut at the right edge. The man page lists the same order.
 */
static const struct step {
	enum col col;
	int width;	/* shrink to this; 0: drop */
} steps[] = {
	{ C_BAR, 6 },
	{ C_LADDR, 21 },	/* "255.255.255.255:65535" */
	{ C_CGROUP, 24 },
	{ C_RADDR, 21 },
	{ C_COMM, 10 },
	{ C_CONTAINER, 12 },
	{ C_BAR, 0 },
	{ C_LADDR, 0 },
	{ C_PID, 0 },		/* when the key is the flow */
	{ C_FLOWS, 0 },
	{ C_RADDR, 15 },
	{ C_KADDR, 15 },
	{ C_CGROUP, 12 },
	{ C_CONTAINER, 0 },	/* when the cgroup is shown too */
};

#define BAR_WANT 10
#define BAR_MAX 30

struct table {
	enum col cols[9];
	int ncols;
	int width[C_N];		/* 0: not shown */
};

static int table_width(const struct table *t)
{
	int w = -1;

	for (int i = 0; i < t->ncols; i++)
		if (t->width[t->cols[i]])
			w += t->width[t->cols[i]] + 1;
	return w < 0 ? 0 : w;
}

/* Whether column c may be dropped: not the only key of the rows. */
static bool droppable(enum col c, enum group_by by)
{
	return !((c == C_PID && by == BY_PID) || (c == C_CONTAINER && by == BY_CONTAINER));
}

static void fit(struct table *t, enum group_by by, int width)
{
	int spare;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && table_width(t) > width; i++) {
		const struct step *s = &steps[i];

		if (!t->width[s->col])
			continue;
		if (s->width && t->width[s->col] > s->width)
			t->width[s->col] = s->width;
		else if (!s->width && droppable(s->col, by))
			t->width[s->col] = 0;
	}
	/* room left: a longer bar */
	spare = width - table_width(t);
	if (t->width[C_BAR] && spare > 0) {
		t->width[C_BAR] += spare;
		if (t->width[C_BAR] > BAR_MAX)
			t->width[C_BAR] = BAR_MAX;
	}
}

/* ---- cell texts --------------------------------------------------------------- */

struct ctx {
	const struct scr_input *in;
	const struct scr_view *v;
	const struct scr_style *st;
};

static const char *cg_container(const struct report_row *w)
{
	return w->cg && *w->cg->container ? w->cg->container : "-";
}

static const char *cg_path(const struct report_row *w)
{
	return w->cg && *w->cg->path ? w->cg->path : "-";
}

/* The remote end as shown: its name when names are on and it has one. */
static void remote(const struct ctx *x, const struct report_row *w, bool port, char *buf,
		   size_t len)
{
	struct shown_addr a;
	const char *name = NULL;
	char nbuf[256];

	shown_addr(&w->key, false, x->st->map_v4, &a);
	if (x->v->names && x->in->name && w->key.family)
		name = x->in->name(x->in->name_ctx, w->key.family, w->key.raddr, nbuf,
				   sizeof(nbuf));
	if (name && port)
		snprintf(buf, len, "%s:%u", name, w->key.rport);
	else if (name)
		snprintf(buf, len, "%s", name);
	else if (port)
		format_endpoint(&a, w->key.rport, buf, len);
	else
		snprintf(buf, len, "%s", a.addr);
}

static void header_text(const struct ctx *x, enum col c, char *buf, size_t len)
{
	static const char *const suffix[] = {
		[UNITS_KB] = "_KB", [UNITS_B] = "_B", [UNITS_MB] = "_MB", [UNITS_AUTO] = "",
	};
	const char *u = x->st->human ? "" : suffix[x->st->units];

	if (c == C_RX || c == C_TX)
		snprintf(buf, len, x->v->totals ? "%sSUM%s" : "%s%s/s", c == C_RX ? "RX" : "TX", u);
	else
		snprintf(buf, len, "%s", specs[c].head);
}

static void cell_text(const struct ctx *x, const struct report_row *w, enum col c, char *buf,
		      size_t len)
{
	char comm[FLOW_COMM_LEN + 1];
	struct shown_addr a;

	switch (c) {
	case C_PID:
		snprintf(buf, len, "%u", w->key.pid);
		break;
	case C_COMM:
		memcpy(comm, w->comm, FLOW_COMM_LEN);
		comm[FLOW_COMM_LEN] = '\0';
		snprintf(buf, len, "%s", comm);
		break;
	case C_KADDR:
		remote(x, w, false, buf, len);
		break;
	case C_LPORT:
		snprintf(buf, len, "%u", w->key.lport);
		break;
	case C_RX:
	case C_TX:
		if (x->v->totals)
			amount(buf, len, c == C_RX ? w->rx_total : w->tx_total, false, x->st);
		else
			amount(buf, len, per_second(c == C_RX ? w->rx_delta : w->tx_delta,
						    x->in->elapsed_s), true, x->st);
		break;
	case C_FLOWS:
		snprintf(buf, len, "%zu", w->nflows);
		break;
	case C_LADDR:
		shown_addr(&w->key, true, x->st->map_v4, &a);
		format_endpoint(&a, w->key.lport, buf, len);
		break;
	case C_RADDR:
		remote(x, w, true, buf, len);
		break;
	case C_CONTAINER:
		snprintf(buf, len, "%s", cg_container(w));
		break;
	case C_CGROUP:
		snprintf(buf, len, "%s", cg_path(w));
		break;
	default:
		*buf = '\0';
		return;
	}
	if ((c == C_LADDR || c == C_RADDR) && w->key.proto == FLOW_PROTO_UDP)
		strncat(buf, "/udp", len - strlen(buf) - 1);
}

bool scr_row_matches(const struct report_row *w, enum group_by by, bool map_v4,
		     const char *filter)
{
	char comm[FLOW_COMM_LEN + 1];
	struct shown_addr a;

	if (!filter || !*filter)
		return true;
	memcpy(comm, w->comm, FLOW_COMM_LEN);
	comm[FLOW_COMM_LEN] = '\0';
	if (by != BY_RADDR && by != BY_LPORT && strcasestr(comm, filter))
		return true;
	for (int local = 0; local < 2; local++) {
		char ep[ADDR_STR_LEN];

		if ((local && by != BY_FLOW) || (!local && by != BY_FLOW && by != BY_RADDR))
			continue;
		shown_addr(&w->key, local, map_v4, &a);
		if (by == BY_FLOW)
			format_endpoint(&a, local ? w->key.lport : w->key.rport, ep, sizeof(ep));
		else
			snprintf(ep, sizeof(ep), "%s", a.addr);
		if (strcasestr(ep, filter))
			return true;
	}
	if ((by == BY_CGROUP || by == BY_CONTAINER || by == BY_FLOW) && w->cg &&
	    (strcasestr(w->cg->container, filter) || (by != BY_CONTAINER &&
						      strcasestr(w->cg->path, filter))))
		return true;
	return false;
}

/* ---- lines ------------------------------------------------------------------ */

#define SGR_RESET "\033[0m"

static bool is_key(enum col c)
{
	return c == C_PID || c == C_COMM || c == C_KADDR || c == C_LPORT || c == C_CONTAINER ||
	       c == C_CGROUP;
}

static __u64 bar_value(const struct report_row *w, bool totals)
{
	__u64 a = totals ? w->rx_total : w->rx_delta, b = totals ? w->tx_total : w->tx_delta;

	return a + b < a ? ~0ULL : a + b;
}

/* A bar of value against max in cells cells: eighths of a cell in UTF-8. */
static void put_bar(struct line *l, __u64 value, __u64 max, int cells)
{
	/* U+2588 full block, then U+2589..U+258F: seven eighths down to one */
	static const char *const part[8] = {
		"", "\xe2\x96\x8f", "\xe2\x96\x8e", "\xe2\x96\x8d", "\xe2\x96\x8c",
		"\xe2\x96\x8b", "\xe2\x96\x8a", "\xe2\x96\x89",
	};
	int start = l->cells, unit = l->st->utf8 ? 8 : 1;
	long n = max ? lround((double)value / (double)max * cells * unit) : 0;

	if (value && !n)
		n = 1;	/* moved bytes: never an empty bar */
	if (n > (long)cells * unit)
		n = (long)cells * unit;
	put_sgr(l, "\033[32m");
	for (long i = 0; i < n / unit; i++)
		put_glyph(l, l->st->utf8 ? "\xe2\x96\x88" : "#", l->st->utf8 ? 3 : 1, 1);
	if (n % unit)
		put_glyph(l, part[n % unit], 3, 1);
	put_sgr(l, SGR_RESET);
	put_spaces(l, start + cells - l->cells);
}

static void put_sep(struct line *l, bool *first)
{
	if (!*first)
		put_spaces(l, 1);
	*first = false;
}

static void header_line(struct line *l, const struct ctx *x, const struct table *t)
{
	bool first = true;
	char h[32];

	put_sgr(l, "\033[7m");
	for (int i = 0; i < t->ncols; i++) {
		enum col c = t->cols[i];

		if (!t->width[c])
			continue;
		put_sep(l, &first);
		header_text(x, c, h, sizeof(h));
		put_text(l, h, t->width[c], specs[c].right, CUT_END);
	}
	if (x->st->color)
		put_spaces(l, l->width - l->cells);	/* the bar of the header */
	put_sgr(l, SGR_RESET);
}

static void row_line(struct line *l, const struct ctx *x, const struct table *t,
		     const struct report_row *w, __u64 max, size_t nothers)
{
	char text[CGROUP_TEXT_LEN + 64];
	bool first = true, labelled = false;

	if (w->others)
		put_sgr(l, "\033[2m");
	for (int i = 0; i < t->ncols; i++) {
		enum col c = t->cols[i];
		int span;

		if (!t->width[c])
			continue;
		put_sep(l, &first);
		if (w->others && is_key(c)) {
			/* "N others" across the key columns that follow each other */
			span = t->width[c];
			while (i + 1 < t->ncols && is_key(t->cols[i + 1])) {
				if (t->width[t->cols[++i]])
					span += t->width[t->cols[i]] + 1;
			}
			snprintf(text, sizeof(text), "%zu others", nothers);
			put_text(l, labelled ? "" : text, span, false, CUT_END);
			labelled = true;
			continue;
		}
		if (c == C_BAR) {
			if (!w->others)
				put_bar(l, bar_value(w, x->v->totals), max, t->width[c]);
			else
				put_spaces(l, t->width[c]);
			continue;
		}
		if (w->others && (c == C_LADDR || c == C_RADDR))
			snprintf(text, sizeof(text), "%s", c == C_LADDR ? "-" : "");
		else
			cell_text(x, w, c, text, sizeof(text));
		put_text(l, text, t->width[c], specs[c].right, specs[c].cut);
	}
	if (w->others)
		put_sgr(l, SGR_RESET);
}

/* Pieces of the status line, most important kept when the width is short. */
static void status_line(struct line *l, const struct ctx *x)
{
	const struct scr_status *s = x->in->status;
	char p[9][64], rx[16], tx[16];
	int prio[9], n = 0, keep[9], total;

	scr_human(rx, sizeof(rx), s->rx_rate, true);
	scr_human(tx, sizeof(tx), s->tx_rate, true);
	snprintf(p[n], sizeof(p[n]), "bccflow %s", s->when), prio[n++] = 100;
	snprintf(p[n], sizeof(p[n]), "attach %s", s->attach), prio[n++] = 20;
	snprintf(p[n], sizeof(p[n]), "flows %zu", s->flows), prio[n++] = 60;
	snprintf(p[n], sizeof(p[n]), "(tracked %zu)", s->tracked), prio[n++] = 25;
	snprintf(p[n], sizeof(p[n]), "dropped %llu", (unsigned long long)s->dropped),
		prio[n++] = s->dropped ? 95 : 30;
	snprintf(p[n], sizeof(p[n]), "rx %s", rx), prio[n++] = 90;
	snprintf(p[n], sizeof(p[n]), "tx %s", tx), prio[n++] = 90;
	if (s->bpf_known)
		snprintf(p[n], sizeof(p[n]), "cost bpf %.1f ms cpu %.1f ms", s->bpf_ms, s->cpu_ms);
	else
		snprintf(p[n], sizeof(p[n]), "cost cpu %.1f ms", s->cpu_ms);
	prio[n++] = 40;
	snprintf(p[n], sizeof(p[n]), "%s", x->v->paused ? "[paused]" : ""), prio[n++] = 99;
	for (int i = 0; i < n; i++)
		keep[i] = *p[i] != '\0';
	for (;;) {
		int low = -1;

		total = -2;
		for (int i = 0; i < n; i++)
			if (keep[i])
				total += (int)strlen(p[i]) + (*p[i] == '(' ? 1 : 2);
		if (total <= l->width)
			break;
		for (int i = 1; i < n; i++)
			if (keep[i] && (low < 0 || prio[i] < prio[low]))
				low = i;
		if (low < 0)
			break;
		keep[low] = 0;
	}
	put_sgr(l, "\033[1m");
	for (int i = 0, first = 1; i < n; i++) {
		if (!keep[i])
			continue;
		if (!first)
			put_spaces(l, *p[i] == '(' ? 1 : 2);	/* "(tracked N)" goes with flows */
		first = 0;
		put_text(l, p[i], (int)strlen(p[i]), false, CUT_END);
	}
	put_sgr(l, SGR_RESET);
}

static const char *const sort_label[] = {
	[SORT_TOTAL] = "total", [SORT_RX] = "rx", [SORT_TX] = "tx",
	[SORT_RX_TOTAL] = "rx_total", [SORT_TX_TOTAL] = "tx_total",
	[SORT_TOTAL_ALL] = "total_all",
};

static void hint_line(struct line *l, const struct ctx *x)
{
	char h[256];

	if (x->in->message)
		snprintf(h, sizeof(h), "%s", x->in->message);
	else if (x->v->editing)
		snprintf(h, sizeof(h), "filter (Enter: apply, Esc: clear): %s_", x->v->edit);
	else
		snprintf(h, sizeof(h), "q quit  s sort:%s  b by:%s  %s  p %s  / filter%s%s%s  "
			 "n names:%s  h help", sort_label[x->v->sort], group_by_name(x->v->by),
			 x->v->totals ? "r rates  t TOTALS" : "r RATES  t totals",
			 x->v->paused ? "resume" : "pause", *x->v->filter ? ":\"" : "",
			 x->v->filter, *x->v->filter ? "\"" : "", x->v->names ? "on" : "off");
	put_sgr(l, "\033[7m");
	put_text(l, h, l->width, false, CUT_END);
	put_sgr(l, SGR_RESET);
}

static const char *const help_text[] = {
	"bccflow keys:",
	"  q          quit (everything is detached; exit 0)",
	"  s          next sort key: total, rx, tx, rx_total, tx_total, total_all",
	"  b          next grouping: flow, pid, comm, raddr, lport, cgroup, container",
	"  r / t      per-second rates / totals since start",
	"  p          pause the display (counting goes on)",
	"  /          filter rows by part of a comm or address; Enter applies, Esc clears",
	"  n          remote host names on or off (resolved in the background)",
	"  h          this help; any key goes back",
	"Bars: each row's bytes against the busiest row shown.",
};

/* ---- the frame ----------------------------------------------------------------- */

/* The rows shown: indexes into in->rows of the first k that match, and the rest summed. */
static size_t pick_rows(const struct ctx *x, size_t avail, size_t *idx,
			struct report_row *others, size_t *nothers)
{
	size_t k = 0, matching = 0, limit;

	for (size_t i = 0; i < x->in->nrows; i++)
		if (x->in->rows[i].others ||
		    scr_row_matches(&x->in->rows[i], x->v->by, x->st->map_v4, x->v->filter))
			idx[matching++] = i;
	limit = matching;
	if (x->st->max_rows && limit > x->st->max_rows)
		limit = x->st->max_rows;
	if (limit > avail)
		limit = avail;
	if (limit < matching && limit == avail)
		limit = avail ? avail - 1 : 0;	/* room for the others row */
	memset(others, 0, sizeof(*others));
	others->others = true;
	*nothers = 0;
	if (!avail)
		return 0;	/* no room for rows, nor for the others row */
	for (size_t i = limit; i < matching; i++) {
		const struct report_row *w = &x->in->rows[idx[i]];

		others->nflows += w->nflows;
		others->rx_delta += w->rx_delta;
		others->tx_delta += w->tx_delta;
		others->rx_total += w->rx_total;
		others->tx_total += w->tx_total;
		(*nothers)++;
	}
	k = limit;
	return k;
}

static void size_columns(const struct ctx *x, struct table *t, const size_t *idx, size_t k,
			 const struct report_row *others, bool with_others)
{
	char text[CGROUP_TEXT_LEN + 64];

	memset(t, 0, sizeof(*t));
	for (const enum col *c = layouts[x->v->by]; *c != C_N; c++) {
		int w;

		t->cols[t->ncols++] = *c;
		header_text(x, *c, text, sizeof(text));
		w = scr_cells(text);
		if (*c == C_BAR) {
			t->width[*c] = BAR_WANT;
			continue;
		}
		for (size_t i = 0; i < k + with_others; i++) {
			const struct report_row *r = i < k ? &x->in->rows[idx[i]] : others;
			int cw;

			if (r->others && (is_key(*c) || *c == C_LADDR || *c == C_RADDR))
				continue;
			cell_text(x, r, *c, text, sizeof(text));
			cw = scr_cells(text);
			if (cw > w)
				w = cw;
		}
		if (specs[*c].max && w > specs[*c].max)
			w = specs[*c].max;
		t->width[*c] = w ? w : 1;
	}
}

struct scr_frame *scr_layout(const struct scr_input *in, const struct scr_view *v,
			     const struct scr_style *st, int width, int height)
{
	struct ctx x = { in, v, st };
	size_t cap, avail, k = 0, nothers = 0, *idx;
	struct report_row others;
	struct scr_frame *f;
	struct table t;
	struct line l;
	char *text;
	__u64 max = 0;
	int n = 0;

	if (width < 1)
		width = 1;
	if (height < 1)
		height = 1;
	cap = (size_t)width * 4 + 96;	/* 4 bytes a cell at most, and the SGR codes */
	f = calloc(1, sizeof(*f) + (size_t)height * (sizeof(char *) + cap));
	idx = malloc((in->nrows + 1) * sizeof(*idx));
	if (!f || !idx) {
		free(f);
		free(idx);
		return NULL;
	}
	text = (char *)&f->lines[height];
	for (int i = 0; i < height; i++)
		f->lines[i] = text + (size_t)i * cap;
	/* never more lines than the terminal has: each one is counted here */
#define NEXT_LINE() (l = (struct line){ f->lines[n < height ? n++ : height - 1], 0, cap, 0, \
					width, st }, l.p[0] = '\0')
	NEXT_LINE();
	status_line(&l, &x);
	avail = height > 3 ? (size_t)height - 3 : 0;
	if (!v->help)
		k = pick_rows(&x, avail, idx, &others, &nothers);
	if (height > 1) {
		size_columns(&x, &t, idx, k, &others, nothers > 0);
		fit(&t, v->by, width);
		NEXT_LINE();
		header_line(&l, &x, &t);
	}
	for (size_t i = 0; i < k; i++) {
		__u64 b = bar_value(&in->rows[idx[i]], v->totals);

		if (b > max)
			max = b;
	}
	for (size_t i = 0; i < k; i++) {
		NEXT_LINE();
		row_line(&l, &x, &t, &in->rows[idx[i]], max, 0);
	}
	if (nothers) {
		NEXT_LINE();
		row_line(&l, &x, &t, &others, max, nothers);
	}
	for (size_t i = 0; v->help && i < sizeof(help_text) / sizeof(help_text[0]) &&
	     i < avail; i++) {
		NEXT_LINE();
		put_text(&l, help_text[i], width, false, CUT_END);
	}
	if (height > 2) {
		while (n < height - 1)
			NEXT_LINE();
		NEXT_LINE();
		hint_line(&l, &x);
	}
#undef NEXT_LINE
	f->nlines = n;
	free(idx);
	return f;
}
