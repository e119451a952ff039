/* SPDX-License-Identifier: MIT */
/*
 * popgen: a population of idle-but-active loopback TCP flows, for measuring
 * what a flow monitor costs per report as the number of flows grows.
 *
 * FLOWS counts what a per-flow monitor sees: one TCP connection whose client
 * end sends and whose server end receives is two flows (two sockets, each
 * moving bytes), so FLOWS/2 connections are opened. Every connection's client
 * sends SIZE bytes once per interval, spread evenly over the interval (one
 * batch every 10 ms); the server end reads them (one recv per readiness).
 * So a monitor sees every flow active in every interval, with about FLOWS
 * socket calls per interval.
 *
 * Both ends of a connection live in the same worker process; the open-file
 * limit (RLIMIT_NOFILE, hard 20000 here) caps a worker at -P connections
 * (default 5000, i.e. 10001 descriptors), so 100,000 flows use 10 workers,
 * each with its own listener. Client sockets close with RST (SO_LINGER 0),
 * leaving no TIME_WAIT behind between runs.
 *
 * The parent prints one JSON line once every connection is up:
 *   {"type":"ready","flows":N,"connections":C,"workers":W,"setup_s":S,"pids":[...]}
 * and, after SIGINT/SIGTERM or -d SECONDS, stops the workers and prints
 *   {"type":"done","sends":...,"recvs":...,"bytes_sent":...,"bytes_received":...}
 *
 * Usage: popgen -n FLOWS [-6] [-i INTERVAL_MS] [-s SIZE] [-P CONNS_PER_PROC] [-d SECONDS]
 *
 * Build: cc -std=c11 -O2 -Wall -Wextra -o popgen popgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TICKS_PER_INTERVAL 100
#define SETUP_BATCH 256		/* connects before accepting them: below the backlog */
#define MAX_WORKERS 256
#define MAX_SIZE 65536

struct config {
	unsigned long flows;
	int family;
	unsigned interval_ms;
	unsigned size;
	unsigned per_proc;
	double seconds;
};

struct report {
	int32_t err;		/* errno of a setup failure, 0 when fine */
	int32_t ready;
	uint64_t sends, recvs, bytes_sent, bytes_received;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put(int fd, const struct report *r)
{
	if (write(fd, r, sizeof(*r)) != (ssize_t)sizeof(*r))
		_exit(1);
}

static void fail(int fd, const char *what)
{
	struct report r = { .err = errno ? errno : EIO };

	fprintf(stderr, "popgen: worker %d: %s: %s\n", (int)getpid(), what, strerror(r.err));
	put(fd, &r);
	_exit(1);
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void worker(const struct config *c, unsigned conns, int rfd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct rlimit rl;
	struct linger lg = { 1, 0 };
	struct epoll_event evs[1024];
	struct report r = { 0 };
	char buf[MAX_SIZE];
	int *cli, lfd, ep;
	uint64_t start, tick_ns, next;
	unsigned long tick = 0;

	prctl(PR_SET_NAME, "popgen-w");
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2 * (rlim_t)conns + 32) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < 2 * (rlim_t)conns + 32) {
			errno = EMFILE;
			fail(rfd, "open-file limit too low for -P");
		}
	}
	cli = calloc(conns, sizeof(*cli));
	ep = epoll_create1(0);
	if (!cli || ep < 0)
		fail(rfd, "setup");
	memset(&ss, 0, sizeof(ss));
	if (c->family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
	}
	lfd = socket(c->family, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, sizeof(ss)) || listen(lfd, 4096) ||
	    getsockname(lfd, (struct sockaddr *)&ss, &sl))
		fail(rfd, "listen");
	for (unsigned i = 0; i < conns;) {
		unsigned b = conns - i < SETUP_BATCH ? conns - i : SETUP_BATCH;

		for (unsigned j = 0; j < b; j++) {
			int fd = socket(c->family, SOCK_STREAM, 0);

			if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl))
				fail(rfd, "connect");
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			if (set_nonblock(fd))
				fail(rfd, "O_NONBLOCK");
			cli[i + j] = fd;
		}
		for (unsigned j = 0; j < b; j++) {
			struct epoll_event ev = { .events = EPOLLIN };
			int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);

			if (fd < 0)
				fail(rfd, "accept");
			ev.data.fd = fd;
			if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
				fail(rfd, "epoll_ctl");
		}
		i += b;
	}
	close(lfd);
	r.ready = 1;
	put(rfd, &r);

	memset(buf, 'p', sizeof(buf));
	tick_ns = (uint64_t)c->interval_ms * 1000000u / TICKS_PER_INTERVAL;
	start = mono_ns();
	next = start;
	while (!stop) {
		uint64_t now = mono_ns();
		int n, timeout;

		while (now >= next) {
			/* this tick's slice of the clients */
			unsigned k = (unsigned)(tick % TICKS_PER_INTERVAL);
			unsigned from = (unsigned)((uint64_t)conns * k / TICKS_PER_INTERVAL);
			unsigned to = (unsigned)((uint64_t)conns * (k + 1) / TICKS_PER_INTERVAL);

			for (unsigned i = from; i < to; i++) {
				ssize_t s = send(cli[i], buf, c->size, MSG_NOSIGNAL);

				if (s > 0) {
					r.sends++;
					r.bytes_sent += (uint64_t)s;
				}
			}
			tick++;
			next = start + tick * tick_ns;
		}
		timeout = (int)((next - now + 999999) / 1000000);
		n = epoll_wait(ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), timeout);
		for (int i = 0; i < n; i++) {
			ssize_t s = recv(evs[i].data.fd, buf, sizeof(buf), 0);

			if (s > 0) {
				r.recvs++;
				r.bytes_received += (uint64_t)s;
			}
		}
	}
	put(rfd, &r);
	_exit(0);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: popgen -n FLOWS [-6] [-i INTERVAL_MS] [-s SIZE] [-P CONNS_PER_PROC] "
		   "[-d SECONDS]\n");
}

int main(int argc, char **argv)
{
	struct config c = { .family = AF_INET, .interval_ms = 1000, .size = 64, .per_proc = 5000 };
	pid_t pids[MAX_WORKERS];
	int rfd[MAX_WORKERS], opt, workers, failed = 0;
	unsigned long conns;
	struct report tot = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t t0;

	while ((opt = getopt(argc, argv, "n:46i:s:P:d:h")) != -1) {
		switch (opt) {
		case 'n':
			c.flows = strtoul(optarg, NULL, 10);
			break;
		case '4':
			c.family = AF_INET;
			break;
		case '6':
			c.family = AF_INET6;
			break;
		case 'i':
			c.interval_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			c.size = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'P':
			c.per_proc = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			c.seconds = strtod(optarg, NULL);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	conns = (c.flows + 1) / 2;
	if (!conns || !c.per_proc || c.interval_ms < TICKS_PER_INTERVAL / 10 || !c.size ||
	    c.size > MAX_SIZE || (conns + c.per_proc - 1) / c.per_proc > MAX_WORKERS) {
		usage(stderr);
		return 2;
	}
	workers = (int)((conns + c.per_proc - 1) / c.per_proc);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	t0 = mono_ns();
	for (int w = 0; w < workers; w++) {
		/* spread the connections evenly over the workers */
		unsigned n = (unsigned)(conns / (unsigned long)workers +
					((unsigned long)w < conns % (unsigned long)workers));
		int p[2];

		if (pipe(p)) {
			perror("popgen: pipe");
			return 1;
		}
		pids[w] = fork();
		if (pids[w] < 0) {
			perror("popgen: fork");
			return 1;
		}
		if (pids[w] == 0) {
			close(p[0]);
			for (int k = 0; k < w; k++)
				close(rfd[k]);
			worker(&c, n, p[1]);
		}
		close(p[1]);
		rfd[w] = p[0];
	}
	for (int w = 0; w < workers; w++) {
		struct report r;

		if (read(rfd[w], &r, sizeof(r)) != (ssize_t)sizeof(r) || !r.ready)
			failed = 1;
	}
	if (failed) {
		for (int w = 0; w < workers; w++)
			kill(pids[w], SIGTERM);
		while (wait(NULL) > 0)
			;
		fprintf(stderr, "popgen: setup failed\n");
		return 1;
	}
	printf("{\"type\":\"ready\",\"flows\":%lu,\"connections\":%lu,\"workers\":%d,"
	       "\"setup_s\":%.3f,\"pids\":[", conns * 2, conns, workers,
	       (double)(mono_ns() - t0) / 1e9);
	for (int w = 0; w < workers; w++)
		printf("%s%d", w ? "," : "", (int)pids[w]);
	printf("]}\n");
	fflush(stdout);

	if (c.seconds > 0) {
		struct timespec ts = { (time_t)c.seconds,
				       (long)((c.seconds - (double)(time_t)c.seconds) * 1e9) };

		while (!stop && nanosleep(&ts, &ts) && errno == EINTR)
			;
	} else {
		while (!stop)
			pause();
	}
	for (int w = 0; w < workers; w++)
		kill(pids[w], SIGTERM);
	for (int w = 0; w < workers; w++) {
		struct report r;

		if (read(rfd[w], &r, sizeof(r)) == (ssize_t)sizeof(r)) {
			tot.sends += r.sends;
			tot.recvs += r.recvs;
			tot.bytes_sent += r.bytes_sent;
			tot.bytes_received += r.bytes_received;
		}
		waitpid(pids[w], NULL, 0);
	}
	printf("{\"type\":\"done\",\"seconds\":%.3f,\"sends\":%" PRIu64 ",\"recvs\":%" PRIu64
	       ",\"bytes_sent\":%" PRIu64 ",\"bytes_received\":%" PRIu64 "}\n",
	       (double)(mono_ns() - t0) / 1e9, tot.sends, tot.recvs, tot.bytes_sent,
	       tot.bytes_received);
	return 0;
}
