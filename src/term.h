/* SPDX-License-Identifier: MIT */
/*
 * The terminal of the live screen: keys without echo, the alternate screen,
 * its size, and the signals a terminal sends (window size, Ctrl-Z, hangup)
 * read through a signalfd, so that one poll() waits for keys, signals and
 * the interval's end. Everything is put back on every way out.
 */
#ifndef BCCFLOW_TERM_H
#define BCCFLOW_TERM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <termios.h>
#include <time.h>

struct term {
	int in, out;		/* keys come from in (when a terminal), frames go to out */
	bool keys;		/* in is a terminal: its settings were changed */
	bool shown;		/* the alternate screen is on */
	struct termios saved;
	int sigfd;
	sigset_t oldmask;
	int width, height;
};

enum term_event {
	TERM_TIMEOUT,		/* the deadline came */
	TERM_KEYS,		/* bytes typed */
	TERM_RESIZED,		/* a new size (or back from Ctrl-Z): draw everything */
	TERM_HANGUP,		/* the terminal is gone, or SIGQUIT: end */
	TERM_SIGNAL,		/* another signal (SIGINT, SIGTERM): see exiting */
	TERM_ERROR,		/* errno says */
};

/* Takes over the terminal on fds in and out. 0, or -errno. */
int term_open(struct term *t, int in, int out);
/* Gives everything back (idempotent). */
void term_close(struct term *t);
/* Reads the window size into t->width, t->height (80x24 when unknown). */
void term_size(struct term *t);
/*
 * Waits for a key, a signal or the CLOCK_MONOTONIC deadline; keys read
 * go to buf (*n of them, at most len).
 */
enum term_event term_wait(struct term *t, const struct timespec *deadline, unsigned char *buf,
			  size_t len, size_t *n);

#endif
