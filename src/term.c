/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "term.h"

/* the alternate screen, no cursor; and back, colours reset */
#define ENTER "\033[?1049h\033[?25l"
#define LEAVE "\033[0m\033[?25h\033[?1049l"

static void put(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;	/* a gone terminal: nothing more to restore there */
		s += w;
		n -= (size_t)w;
	}
}

static void enter(struct term *t)
{
	struct termios raw;

	if (t->keys) {
		raw = t->saved;
		/* keys one by one, no echo; Ctrl-C and Ctrl-Z stay signals */
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(t->in, TCSANOW, &raw);
	}
	put(t->out, ENTER);
	t->shown = true;
}

static void leave(struct term *t)
{
	if (t->shown)
		put(t->out, LEAVE);
	t->shown = false;
	if (t->keys)
		tcsetattr(t->in, TCSANOW, &t->saved);
}

int term_open(struct term *t, int in, int out)
{
	sigset_t set;

	memset(t, 0, sizeof(*t));
	t->in = in;
	t->out = out;
	t->sigfd = -1;
	t->keys = isatty(in) && tcgetattr(in, &t->saved) == 0;
	sigemptyset(&set);
	sigaddset(&set, SIGWINCH);
	sigaddset(&set, SIGTSTP);
	sigaddset(&set, SIGCONT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &set, &t->oldmask))
		return -errno;
	t->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (t->sigfd < 0) {
		int err = -errno;

		sigprocmask(SIG_SETMASK, &t->oldmask, NULL);
		return err;
	}
	term_size(t);
	enter(t);
	return 0;
}

void term_close(struct term *t)
{
	if (t->sigfd < 0)
		return;
	leave(t);
	close(t->sigfd);
	t->sigfd = -1;
	sigprocmask(SIG_SETMASK, &t->oldmask, NULL);
}

void term_size(struct term *t)
{
	struct winsize ws;

	t->width = 80;
	t->height = 24;
	if (!ioctl(t->out, TIOCGWINSZ, &ws) && ws.ws_col && ws.ws_row) {
		t->width = ws.ws_col;
		t->height = ws.ws_row;
	}
}

/* Ctrl-Z: the terminal as it was while stopped, the screen again after. */
static void suspend(struct term *t)
{
	leave(t);
	kill(getpid(), SIGSTOP);
	enter(t);
}

static enum term_event on_signal(struct term *t)
{
	struct signalfd_siginfo si;
	enum term_event ev = TERM_SIGNAL;

	while (read(t->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
		case SIGQUIT:
			return TERM_HANGUP;
		case SIGTSTP:
			suspend(t);
			/* fall through */
		case SIGCONT:
		case SIGWINCH:
			term_size(t);
			ev = TERM_RESIZED;
			break;
		}
	}
	return ev;
}

static int ms_until(const struct timespec *deadline)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	     (deadline->tv_nsec - now.tv_nsec + 999999) / 1000000;
	return ms < 0 ? 0 : ms > 86400000 ? 86400000 : (int)ms;
}

enum term_event term_wait(struct term *t, const struct timespec *deadline, unsigned char *buf,
			  size_t len, size_t *n)
{
	struct pollfd p[2] = { { .fd = t->sigfd, .events = POLLIN },
			       { .fd = t->keys ? t->in : -1, .events = POLLIN } };
	int ms = ms_until(deadline), rc;
	ssize_t r;

	*n = 0;
	if (!ms)
		return TERM_TIMEOUT;
	rc = poll(p, 2, ms);
	if (rc < 0)
		return errno == EINTR ? TERM_SIGNAL : TERM_ERROR;
	if (!rc)
		return ms_until(deadline) ? TERM_SIGNAL : TERM_TIMEOUT;
	if (p[0].revents)
		return on_signal(t);
	if (p[1].revents & (POLLHUP | POLLERR | POLLNVAL))
		return TERM_HANGUP;
	r = read(t->in, buf, len);
	if (r < 0)
		return errno == EINTR || errno == EAGAIN ? TERM_SIGNAL : TERM_ERROR;
	if (r == 0)
		return TERM_SIGNAL;	/* nothing after all: wait again */
	*n = (size_t)r;
	return TERM_KEYS;
}
