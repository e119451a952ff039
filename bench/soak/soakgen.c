/* SPDX-License-Identifier: MIT */
/*
 * soakgen: the load of bccflow's soak test (bench/soak.sh), on loopback,
 * with every byte it moves counted from syscall return values.
 *
 *   long-lived flows  --conns C connections kept open for the whole run: the
 *                     client ends in one process ("soak-lcli"), the server
 *                     ends in another ("soak-lsrv"), so 2*C flows over two
 *                     processes (each holds C descriptors). Every --tick-ms
 *                     each side writes to a rotating slice of its connections
 *                     and reads whatever arrived.
 *   short flows       --rate R new connections a second, each from a new,
 *                     short-lived process ("soak-short", forked by the
 *                     "soak-spawn" process) to a server process
 *                     ("soak-ssrv"): the client sends a request whose size
 *                     depends on its sequence number, the server answers
 *                     with a size that also does, both close, the child
 *                     exits.
 *
 * --long-port/--short-port fix the two listening ports (so that a monitor
 * started before the load can filter on them); by default any free port.
 *
 * After --seconds S (or SIGINT/SIGTERM) writing stops, every long-lived
 * connection is half-closed and drained to EOF so all bytes are read, and
 * the truth is written to --out FILE as JSON Lines, one line per flow end:
 *   {"kind":"long|short","pid":P,"lport":L,"rport":R,"rx":N,"tx":N}
 * plus one {"kind":"summary",...} line. Exit 0 only if every short
 * connection moved exactly its planned bytes on both ends.
 *
 * Build: cc -O2 -Wall -Wextra -o soakgen soakgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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

#define MAX_CONNS 20000
#define SHORT_REC_MAGIC 0x534f414bu	/* "SOAK" */

struct cfg {
	unsigned conns;
	unsigned rate;
	unsigned seconds;
	unsigned tick_ms;
	unsigned slice;		/* connections written per tick per side */
	uint16_t long_port, short_port;	/* listening ports; 0: any */
	const char *out;
};

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *what)
{
	fprintf(stderr, "soakgen: %s: %s\n", what, strerror(errno));
	_exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Planned sizes of short connection i: both ends check them. */
static uint32_t req_size(uint64_t i) { return 16 + (uint32_t)((i * 7919) % 3000); }
static uint32_t resp_size(uint64_t i) { return 1 + (uint32_t)((i * 104729) % 20000); }
/* Bytes a long-lived flow end writes in one turn. */
static uint32_t long_size(unsigned conn, uint64_t turn, int side)
{
	return 1 + (uint32_t)(((uint64_t)conn * 31 + turn * 17 + (unsigned)side * 7) % 1400);
}

/* Listens on 127.0.0.1:*port (0: any free port, written back). */
static int listen_on(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(*port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4096))
		die("bind/listen");
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

static int connect_to(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	while (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		if (errno == EINTR)
			continue;
		close(fd);
		return -1;
	}
	return fd;
}

static uint16_t local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	getsockname(fd, (struct sockaddr *)&a, &len);
	return ntohs(a.sin_port);
}

static uint16_t peer_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	getpeername(fd, (struct sockaddr *)&a, &len);
	return ntohs(a.sin_port);
}

/* Writes all of n bytes (blocking); returns the bytes the kernel accepted. */
static uint64_t write_all(int fd, const char *buf, size_t n)
{
	uint64_t done = 0;

	while (done < n) {
		ssize_t w = write(fd, buf + done, n - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (uint64_t)w;
	}
	return done;
}

static void set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* ---- long-lived flows ---------------------------------------------------- */

struct lconn {
	int fd;
	uint16_t lport, rport;	/* taken while connected */
	uint64_t rx, tx;
	bool eof;
};

/*
 * One side of the long-lived flows: writes a slice per tick, reads what
 * arrives; at stop, half-closes and drains to EOF, then reports.
 */
static void long_side(const struct cfg *c, struct lconn *lc, int side, FILE *out,
		      int start_fd)
{
	static char wbuf[2048], rbuf[65536];
	int ep = epoll_create1(EPOLL_CLOEXEC);
	uint64_t turn = 0;
	unsigned next = 0, open = c->conns;
	double next_tick;
	char go;

	memset(wbuf, side ? 's' : 'c', sizeof(wbuf));
	for (unsigned i = 0; i < c->conns; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

		set_nonblock(lc[i].fd, true);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, lc[i].fd, &ev))
			die("epoll_ctl");
	}
	/* wait for the parent's go (all connections made) */
	if (read(start_fd, &go, 1) != 1)
		die("start pipe");
	next_tick = now_s();
	while (open) {
		struct epoll_event evs[256];
		double t = now_s();
		int n, timeout;

		if (!stop && t >= next_tick) {
			for (unsigned k = 0; k < c->slice; k++, next = (next + 1) % c->conns) {
				struct lconn *l = &lc[next];
				uint32_t want = long_size(next, turn, side);
				ssize_t w = write(l->fd, wbuf, want);

				/* a full socket buffer is fine: what was accepted is counted */
				if (w > 0)
					l->tx += (uint64_t)w;
			}
			turn++;
			next_tick += c->tick_ms / 1000.0;
		}
		if (stop == 1) {
			/* no more writes: half-close every connection, then read to EOF */
			for (unsigned i = 0; i < c->conns; i++)
				shutdown(lc[i].fd, SHUT_WR);
			stop = 2;
		}
		timeout = stop ? 1000 : (int)((next_tick - now_s()) * 1000);
		n = epoll_wait(ep, evs, 256, timeout < 0 ? 0 : timeout);
		for (int e = 0; e < n; e++) {
			struct lconn *l = &lc[evs[e].data.u32];

			for (;;) {
				ssize_t r = read(l->fd, rbuf, sizeof(rbuf));

				if (r > 0) {
					l->rx += (uint64_t)r;
					continue;
				}
				if (r == 0 && !l->eof) {
					l->eof = true;
					open--;
					epoll_ctl(ep, EPOLL_CTL_DEL, l->fd, NULL);
				}
				break;
			}
		}
	}
	for (unsigned i = 0; i < c->conns; i++)
		fprintf(out, "{\"kind\":\"long\",\"pid\":%d,\"lport\":%u,\"rport\":%u,\"rx\":%" PRIu64
			",\"tx\":%" PRIu64 "}\n", getpid(), lc[i].lport, lc[i].rport, lc[i].rx, lc[i].tx);
	fflush(out);
	for (unsigned i = 0; i < c->conns; i++)
		close(lc[i].fd);
	close(ep);
}

/* ---- short flows --------------------------------------------------------- */

struct short_rec {
	uint32_t magic;
	int32_t pid;
	uint64_t seq, rx, tx;
	uint16_t lport, rport;
	uint32_t ok;
};

/* One short connection, in its own process. */
static void short_client(uint16_t port, uint64_t seq, int rec_fd)
{
	static char buf[65536];
	struct short_rec r = { .magic = SHORT_REC_MAGIC, .pid = getpid(), .seq = seq };
	uint32_t want_rx = resp_size(seq), req = req_size(seq);
	int fd;

	prctl(PR_SET_NAME, "soak-short");
	fd = connect_to(port);
	if (fd >= 0) {
		memset(buf, 'q', req);
		memcpy(buf, &seq, sizeof(seq));
		r.lport = local_port(fd);
		r.rport = port;
		r.tx = write_all(fd, buf, req);
		while (r.rx < want_rx) {
			ssize_t n = read(fd, buf, sizeof(buf));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			r.rx += (uint64_t)n;
		}
		r.ok = r.tx == req && r.rx == want_rx;
		close(fd);
	}
	if (write(rec_fd, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	_exit(0);
}

struct sconn {
	int fd;
	uint64_t seq, rx, tx, need_rx;
	uint16_t rport;
	bool replied;
};

/* The short connections' server: epoll, one state per connection. */
static void short_server(int lfd, FILE *out)
{
	static char buf[65536], wbuf[65536];
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	uint64_t served = 0, bad = 0, nopen = 0;
	double stopped = 0;

	prctl(PR_SET_NAME, "soak-ssrv");
	memset(wbuf, 'r', sizeof(wbuf));
	set_nonblock(lfd, true);
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	/* after stop: until every connection has closed (30 s at most) */
	while (!stop || (nopen && now_s() - stopped < 30)) {
		struct epoll_event evs[128];
		int n = epoll_wait(ep, evs, 128, 200);

		if (stop && !stopped)
			stopped = now_s();
		for (int e = 0; e < n; e++) {
			struct sconn *s = evs[e].data.ptr;

			if (!s) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
					struct epoll_event cev = { .events = EPOLLIN };

					s = calloc(1, sizeof(*s));
					if (!s)
						die("calloc");
					s->fd = fd;
					s->need_rx = 8;
					s->rport = peer_port(fd);
					nopen++;
					cev.data.ptr = s;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
				}
				continue;
			}
			for (;;) {
				ssize_t r = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);

				if (r > 0) {
					if (s->rx < 8) {
						size_t k = (size_t)r < 8 - s->rx ? (size_t)r : 8 - s->rx;

						memcpy((char *)&s->seq + s->rx, buf, k);
					}
					s->rx += (uint64_t)r;
					if (s->rx >= 8)
						s->need_rx = req_size(s->seq);
					if (!s->replied && s->rx >= s->need_rx) {
						uint32_t left = resp_size(s->seq);

						/* the answer fits the socket buffer: write it blocking */
						set_nonblock(s->fd, false);
						while (left) {
							uint64_t w = write_all(s->fd, wbuf,
									       left < sizeof(wbuf) ? left : sizeof(wbuf));

							if (!w)
								break;
							s->tx += w;
							left -= (uint32_t)w;
						}
						s->replied = true;
					}
					continue;
				}
				if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
					/* the client closed: this flow end is done */
					fprintf(out, "{\"kind\":\"short\",\"pid\":%d,\"lport\":%u,\"rport\":%u,"
						"\"rx\":%" PRIu64 ",\"tx\":%" PRIu64 "}\n", getpid(),
						local_port(s->fd), s->rport, s->rx, s->tx);
					served++;
					bad += !(s->replied && s->rx == req_size(s->seq) &&
						 s->tx == resp_size(s->seq));
					epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
					close(s->fd);
					free(s);
					nopen--;
				}
				break;
			}
		}
	}
	fflush(out);
	fprintf(stderr, "soakgen: short server: %" PRIu64 " connections, %" PRIu64 " wrong, %"
		PRIu64 " still open\n", served, bad, nopen);
	_exit(bad || nopen ? 1 : 0);
}

/* Forks a client every 1/rate s; collects their records. */
static void short_spawner(const struct cfg *c, uint16_t port, FILE *out)
{
	int p[2];
	uint64_t seq = 0, done = 0, bad = 0, failed_forks = 0;
	double t0 = now_s(), next = t0;

	prctl(PR_SET_NAME, "soak-spawn");
	if (pipe2(p, O_CLOEXEC))
		die("pipe");
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		struct short_rec r;
		double t = now_s();

		while (!stop && t >= next) {
			pid_t pid = fork();

			if (pid == 0) {
				close(p[0]);
				short_client(port, seq, p[1]);
			}
			if (pid < 0)
				failed_forks++;
			else
				seq++;
			next += 1.0 / c->rate;
		}
		while (read(p[0], &r, sizeof(r)) == sizeof(r)) {
			if (r.magic != SHORT_REC_MAGIC)
				continue;
			done++;
			bad += !r.ok;
			fprintf(out, "{\"kind\":\"short\",\"pid\":%d,\"lport\":%u,\"rport\":%u,"
				"\"rx\":%" PRIu64 ",\"tx\":%" PRIu64 "}\n", r.pid, r.lport, r.rport, r.rx,
				r.tx);
		}
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (stop && done + bad >= seq)
			break;
		if (stop && now_s() - t > 30)
			break;	/* a client that never reported: counted below */
		usleep(stop ? 10000 : 1000);
	}
	while (waitpid(-1, NULL, 0) > 0)
		;
	fflush(out);
	fprintf(stderr, "soakgen: short clients: %" PRIu64 " started, %" PRIu64 " reported, %" PRIu64
		" wrong, %" PRIu64 " failed forks, %.1f/s\n", seq, done, bad, failed_forks,
		seq / (now_s() - t0));
	_exit(bad || done != seq ? 1 : 0);
}

static void usage(void)
{
	fprintf(stderr, "usage: soakgen --out FILE [--conns 5000] [--rate 200] [--seconds 600] "
		"[--tick-ms 100] [--slice N] [--long-port P] [--short-port P]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "conns", required_argument, NULL, 'c' }, { "rate", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' }, { "tick-ms", required_argument, NULL, 't' },
		{ "slice", required_argument, NULL, 'l' }, { "out", required_argument, NULL, 'o' },
		{ "long-port", required_argument, NULL, 'L' },
		{ "short-port", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct cfg c = { .conns = 5000, .rate = 200, .seconds = 600, .tick_ms = 100 };
	struct sigaction sa = { .sa_handler = on_stop };
	struct rlimit rl = { MAX_CONNS + 64, MAX_CONNS + 64 };
	pid_t kids[4];
	int go[2][2], opt, status, rc = 0;
	uint16_t lport, sport;
	int lfd, sfd;
	FILE *out;
	struct lconn *cli, *srv;
	double t0;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'c': c.conns = (unsigned)atoi(optarg); break;
		case 'r': c.rate = (unsigned)atoi(optarg); break;
		case 's': c.seconds = (unsigned)atoi(optarg); break;
		case 't': c.tick_ms = (unsigned)atoi(optarg); break;
		case 'l': c.slice = (unsigned)atoi(optarg); break;
		case 'o': c.out = optarg; break;
		case 'L': c.long_port = (uint16_t)atoi(optarg); break;
		case 'S': c.short_port = (uint16_t)atoi(optarg); break;
		default: usage();
		}
	}
	if (!c.out || !c.conns || c.conns > MAX_CONNS / 2 || !c.rate || !c.tick_ms)
		usage();
	/* every connection gets a turn about every 10 s */
	if (!c.slice)
		c.slice = c.conns * c.tick_ms / 10000 + 1;
	setrlimit(RLIMIT_NOFILE, &rl);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* several processes append lines: O_APPEND and one write() per line */
	out = fopen(c.out, "w");
	if (!out || fclose(out) || !(out = fopen(c.out, "a")))
		die(c.out);
	setvbuf(out, NULL, _IOLBF, 1 << 16);

	/* the long-lived connections, made here, then split over two processes */
	lport = c.long_port;
	lfd = listen_on(&lport);
	cli = calloc(c.conns, sizeof(*cli));
	srv = calloc(c.conns, sizeof(*srv));
	if (!cli || !srv)
		die("calloc");
	for (unsigned i = 0; i < c.conns; i++) {
		cli[i].fd = connect_to(lport);
		if (cli[i].fd < 0)
			die("connect");
		srv[i].fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (srv[i].fd < 0)
			die("accept");
		cli[i].lport = srv[i].rport = local_port(cli[i].fd);
		cli[i].rport = srv[i].lport = lport;
	}
	close(lfd);
	if (pipe(go[0]) || pipe(go[1]))
		die("pipe");
	for (int side = 0; side < 2; side++) {
		kids[side] = fork();
		if (kids[side] < 0)
			die("fork");
		if (kids[side] == 0) {
			struct lconn *mine = side ? srv : cli, *theirs = side ? cli : srv;

			prctl(PR_SET_NAME, side ? "soak-lsrv" : "soak-lcli");
			for (unsigned i = 0; i < c.conns; i++)
				close(theirs[i].fd);
			long_side(&c, mine, side, out, go[side][0]);
			fclose(out);
			_exit(0);
		}
	}
	for (unsigned i = 0; i < c.conns; i++) {
		close(cli[i].fd);
		close(srv[i].fd);
	}
	sport = c.short_port;
	sfd = listen_on(&sport);
	kids[2] = fork();
	if (kids[2] == 0)
		short_server(sfd, out);
	kids[3] = fork();
	if (kids[3] == 0) {
		close(sfd);
		short_spawner(&c, sport, out);
	}
	close(sfd);
	if (write(go[0][1], "g", 1) != 1 || write(go[1][1], "g", 1) != 1)
		die("start");
	fprintf(stderr, "soakgen: %u long-lived connections (%u flows), %u short connections/s, "
		"%u s\n", c.conns, 2 * c.conns, c.rate, c.seconds);
	t0 = now_s();
	while (!stop && now_s() - t0 < c.seconds)
		usleep(100000);
	/* the short side first: its last clients finish while the long side drains */
	kill(kids[3], SIGTERM);
	waitpid(kids[3], &status, 0);
	rc |= !WIFEXITED(status) || WEXITSTATUS(status);
	usleep(200000);
	kill(kids[2], SIGTERM);
	kill(kids[0], SIGTERM);
	kill(kids[1], SIGTERM);
	for (int k = 0; k < 3; k++) {
		waitpid(kids[k], &status, 0);
		rc |= !WIFEXITED(status) || WEXITSTATUS(status);
	}
	fprintf(out, "{\"kind\":\"summary\",\"conns\":%u,\"rate\":%u,\"seconds\":%.1f,\"rc\":%d}\n",
		c.conns, c.rate, now_s() - t0, rc);
	fclose(out);
	return rc;
}
