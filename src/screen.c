/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE	/* strcasecmp */
#include <string.h>
#include <strings.h>

#include "screen.h"

void scr_view_init(struct scr_view *v, const struct options *o)
{
	memset(v, 0, sizeof(*v));
	v->by = o->by;
	v->sort = o->sort;
	v->names = o->names;
}

/* Typing a filter: text, Backspace, Enter applies, Esc drops it. */
static enum scr_action edit_key(struct scr_view *v, unsigned char key)
{
	size_t n = strlen(v->edit);

	switch (key) {
	case '\r':
	case '\n':
		memcpy(v->filter, v->edit, sizeof(v->filter));
		v->editing = false;
		return SCR_REDRAW;
	case 27:	/* Esc */
		v->filter[0] = v->edit[0] = '\0';
		v->editing = false;
		return SCR_REDRAW;
	case 127:
	case 8:
		if (n)
			v->edit[n - 1] = '\0';
		return SCR_REDRAW;
	case 21:	/* Ctrl-U */
		v->edit[0] = '\0';
		return SCR_REDRAW;
	default:
		/* printable ASCII only: what a comm or an address holds */
		if (key < 0x20 || key > 0x7e || n + 1 >= sizeof(v->edit))
			return SCR_NONE;
		v->edit[n] = (char)key;
		v->edit[n + 1] = '\0';
		return SCR_REDRAW;
	}
}

enum scr_action scr_key(struct scr_view *v, unsigned char key)
{
	if (v->editing)
		return edit_key(v, key);
	if (v->help && key != 'q') {
		v->help = false;	/* any key goes back */
		return SCR_REDRAW;
	}
	switch (key) {
	case 'q':
		return SCR_QUIT;
	case 's':
		v->sort = (enum sort_key)((v->sort + 1) % (SORT_TOTAL_ALL + 1));
		return SCR_RESORT;
	case 'b':
		v->by = (enum group_by)((v->by + 1) % (BY_CONTAINER + 1));
		return SCR_REGROUP;
	case 'r':
	case 't':
		if (v->totals == (key == 't'))
			return SCR_NONE;
		v->totals = key == 't';
		return SCR_REDRAW;
	case 'p':
		v->paused = !v->paused;
		return SCR_REDRAW;
	case '/':
		v->editing = true;
		memcpy(v->edit, v->filter, sizeof(v->edit));
		return SCR_REDRAW;
	case 'n':
		v->names = !v->names;
		return SCR_REDRAW;
	case 'h':
	case '?':
		v->help = true;
		return SCR_REDRAW;
	case 12:	/* Ctrl-L */
		return SCR_REPAINT;
	default:
		return SCR_NONE;
	}
}

bool scr_color_wanted(const char *term, const char *no_color, const char *colorterm)
{
	static const char *const families[] = {
		"xterm", "screen", "tmux", "rxvt", "linux", "alacritty", "kitty",
		"foot", "wezterm", "konsole", "gnome", "putty", "st-", "cygwin", "ansi",
	};

	if (no_color && *no_color)
		return false;
	if (!term || !*term || !strcmp(term, "dumb"))
		return false;
	if ((colorterm && *colorterm) || strstr(term, "color"))
		return true;
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		if (!strncmp(term, families[i], strlen(families[i])))
			return true;
	return false;
}

bool scr_utf8_wanted(const char *codeset, bool ascii)
{
	return !ascii && codeset && (!strcasecmp(codeset, "UTF-8") || !strcasecmp(codeset, "utf8"));
}
