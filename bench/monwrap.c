/* SPDX-License-Identifier: MIT */
/*
 * monwrap: runs a monitor (bccflow, the reference tool, nethogs) with its
 * stdout and stderr on pipes, and timestamps the lines that matter, so the
 * benchmark can tell start-up times and per-report costs without trusting
 * the monitor's own clock.
 *
 * For each stderr line, and each stdout line that starts with one of the
 * -m prefixes, it prints one event line on its own stdout, at once:
 *
 *   E <mono_ns> <out|err> <cpu_ns> <rss_kb> <anon_kb> <the line>
 *
 * mono_ns is CLOCK_MONOTONIC when the line was read; cpu_ns is the
 * monitor's CPU time at that moment (sum of sum_exec_runtime over its
 * threads, /proc/PID/task/ * /schedstat); rss_kb and anon_kb are VmRSS and
 * RssAnon. Before the fork it prints "X <mono_ns> exec", after it
 * "P <pid>", and once both pipes are closed and the child is reaped
 * "Z <mono_ns> <status> <cpu_ns from wait4> <maxrss_kb> <out_lines> <out_bytes>".
 * All other stdout bytes are counted and, with -O FILE, copied to FILE.
 *
 * Usage: monwrap [-c CPU] [-O FILE] [-m PREFIX]... -- COMMAND [ARG]...
 *   -c  pin the monitor to this CPU (before exec, so start-up is pinned too)
 *
 * Build: cc -std=c11 -O2 -Wall -Wextra -o monwrap monwrap.c
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PREFIX 8
#define LINE_MAX_KEEP 4096	/* longer marker lines are cut in the event */

static pid_t child;
static const char *prefixes[MAX_PREFIX];
static int nprefix;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU of all the child's threads, from schedstat (nanoseconds). */
static uint64_t child_cpu_ns(void)
{
	char path[64], buf[128];
	uint64_t sum = 0;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)child);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		int fd;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.20s/schedstat", (int)child, de->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			sum += strtoull(buf, NULL, 10);
		}
	}
	closedir(d);
	return sum;
}

static void child_rss(unsigned long *rss, unsigned long *anon)
{
	char path[64], line[256];
	FILE *f;

	*rss = *anon = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)child);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmRSS:", 6))
			*rss = strtoul(line + 6, NULL, 10);
		else if (!strncmp(line, "RssAnon:", 8))
			*anon = strtoul(line + 8, NULL, 10);
	}
	fclose(f);
}

struct stream {
	int fd;
	const char *tag;
	int all;		/* every line is an event (stderr) */
	FILE *copy;
	char *line;
	size_t len, cap;
	uint64_t lines, bytes;
	int skipping;		/* inside a long non-marker line */
};

static void event(const struct stream *s, uint64_t t, const char *text, size_t n)
{
	unsigned long rss, anon;
	uint64_t cpu = child_cpu_ns();

	child_rss(&rss, &anon);
	if (n > LINE_MAX_KEEP)
		n = LINE_MAX_KEEP;
	printf("E %" PRIu64 " %s %" PRIu64 " %lu %lu %.*s\n", t, s->tag, cpu, rss, anon, (int)n, text);
	fflush(stdout);
}

static int is_marker(const struct stream *s, const char *p, size_t n)
{
	if (s->all)
		return 1;
	for (int i = 0; i < nprefix; i++) {
		size_t l = strlen(prefixes[i]);

		if (n >= l && !memcmp(p, prefixes[i], l))
			return 1;
	}
	return 0;
}

/* Reads what is there; 0 at EOF. Lines are split without copying non-markers. */
static int pump(struct stream *s)
{
	static char buf[1 << 16];
	ssize_t n = read(s->fd, buf, sizeof(buf));
	uint64_t t = mono_ns();
	char *p = buf, *end;

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	if (n == 0)
		return 0;
	s->bytes += (uint64_t)n;
	if (s->copy)
		fwrite(buf, 1, (size_t)n, s->copy);
	end = buf + n;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t chunk = (size_t)((nl ? nl : end) - p);

		/* a line starts here when nothing is pending */
		if (s->len == 0 && !s->skipping) {
			size_t probe = chunk < 64 ? chunk : 64;

			/* too short to decide a prefix: keep it */
			if (!nl && chunk < 64) {
				probe = 0;
			}
			if (probe && !is_marker(s, p, chunk))
				s->skipping = 1;
		}
		if (!s->skipping) {
			if (s->len + chunk + 1 > s->cap) {
				s->cap = (s->len + chunk + 1) * 2;
				s->line = realloc(s->line, s->cap);
				if (!s->line) {
					perror("monwrap");
					exit(1);
				}
			}
			memcpy(s->line + s->len, p, chunk);
			s->len += chunk;
		}
		if (!nl)
			break;
		s->lines++;
		if (!s->skipping && is_marker(s, s->line, s->len))
			event(s, t, s->line, s->len);
		s->len = 0;
		s->skipping = 0;
		p = nl + 1;
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct stream st[2] = {
		{ .tag = "out" },
		{ .tag = "err", .all = 1 },
	};
	const char *copy_path = NULL;
	int out[2], err[2], opt, cpu = -1, status = 0;
	struct rusage ru;

	while ((opt = getopt(argc, argv, "+c:O:m:")) != -1) {
		switch (opt) {
		case 'c':
			cpu = atoi(optarg);
			break;
		case 'O':
			copy_path = optarg;
			break;
		case 'm':
			if (nprefix < MAX_PREFIX)
				prefixes[nprefix++] = optarg;
			break;
		default:
			fprintf(stderr, "usage: monwrap [-c CPU] [-O FILE] [-m PREFIX]... -- CMD [ARG]...\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "monwrap: no command\n");
		return 2;
	}
	if (copy_path) {
		st[0].copy = fopen(copy_path, "w");
		if (!st[0].copy) {
			perror(copy_path);
			return 1;
		}
	}
	signal(SIGINT, SIG_IGN);	/* the caller signals the monitor itself */
	signal(SIGPIPE, SIG_IGN);
	if (pipe(out) || pipe(err)) {
		perror("pipe");
		return 1;
	}
	printf("X %" PRIu64 " exec\n", mono_ns());
	fflush(stdout);
	child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		if (cpu >= 0) {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			sched_setaffinity(0, sizeof(set), &set);
		}
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(out[1]);
		close(err[0]);
		close(err[1]);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "monwrap: cannot run %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	st[0].fd = out[0];
	st[1].fd = err[0];
	printf("P %d\n", (int)child);
	fflush(stdout);

	for (int open_ = 2; open_;) {
		struct pollfd p[2];
		int np = 0, idx[2];

		for (int i = 0; i < 2; i++) {
			if (st[i].fd >= 0) {
				p[np].fd = st[i].fd;
				p[np].events = POLLIN;
				idx[np++] = i;
			}
		}
		if (poll(p, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("poll");
			break;
		}
		for (int j = 0; j < np; j++) {
			struct stream *s = &st[idx[j]];

			if (!(p[j].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (!pump(s)) {
				if (s->len)	/* a last line without newline */
					if (is_marker(s, s->line, s->len))
						event(s, mono_ns(), s->line, s->len);
				close(s->fd);
				s->fd = -1;
				open_--;
			}
		}
	}
	memset(&ru, 0, sizeof(ru));
	while (wait4(child, &status, 0, &ru) < 0 && errno == EINTR)
		;
	if (st[0].copy)
		fclose(st[0].copy);
	printf("Z %" PRIu64 " %d %" PRIu64 " %ld %" PRIu64 " %" PRIu64 "\n", mono_ns(), status,
	       ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
		       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u,
	       ru.ru_maxrss, st[0].lines, st[0].bytes);
	fflush(stdout);
	return 0;
}
