/* SPDX-License-Identifier: MIT */
/*
 * trafficgen: loopback TCP and UDP load with fixed shapes and exact byte counts, for
 * measuring what a flow monitor adds to the processes it watches.
 *
 * The parent process is the client; it forks the server before connecting.
 * Both ends count every send/recv call that moved bytes (each such call is
 * one event for a socket-layer monitor) and every byte, from the syscalls'
 * return values, and measure their own CPU time with getrusage(RUSAGE_SELF)
 * over the traffic phase only (after the connection is up, until the end of
 * the stream). The server reports to the client over a pipe; the client
 * checks that both ends agree and prints one JSON line.
 *
 * Besides the totals, each end cuts its run into slices of about 10 ms of
 * wall time and keeps the CPU per call of every slice (process CPU clock,
 * the same clock getrusage sums). Other load on a shared machine can only
 * make a slice more expensive (cache pollution, a busy sibling thread), so
 * the 10th percentile of the slices is a steadier estimate of what a call
 * costs than the mean; it is reported next to the mean ("p10").
 *
 * Workloads (fixed shapes):
 *   W0  1-byte writes, streaming one way (Nagle on): the cheapest calls there are
 *   W1  64-byte request/response ping-pong, TCP_NODELAY: per-call cost dominates
 *   W2  64-byte writes, streaming one way (Nagle on)
 *   W3  16 KiB writes, streaming one way
 *   W4  1 MiB writes, streaming one way (bulk)
 *   U1  64-byte UDP request/response ping-pong: a connected client (send,
 *       recv), an unconnected server (recvfrom, sendto)
 *   U2  64-byte UDP datagrams streaming one way; the server acknowledges
 *       every 32nd with 1 byte and the client waits for it, so nothing is
 *       dropped at the receiver
 *   X2  64-byte writes streaming one way over a unix stream socket pair: not
 *       TCP or UDP, so a flow monitor counts nothing, but its hooks still run
 * The TCP streaming receiver reads with a 128 KiB buffer. A UDP run ends
 * with a 1-byte datagram from the client; it counts as one more call.
 *
 * Usage: trafficgen -w W0|W1|W2|W3|W4|U1|U2|X2 [-4|-6] (-d SECONDS | -n COUNT) [-c NAME]
 *   -d  run for this long (decimal seconds), or
 *   -n  this many client operations (W1: round trips; W2-W4: send calls)
 *   -c  comm (thread name) of both ends, default "tg-client"/"tg-server"
 *
 * Build: cc -std=c11 -O2 -Wall -Wextra -o trafficgen trafficgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RECV_BUF (128u << 10)
#define SLICE_NS 10000000u	/* 10 ms */
#define MAX_SLICES 200000

struct shape {
	const char *name;
	size_t write_size;
	bool pingpong;
	bool udp;
	bool local;		/* a unix stream socket pair, not TCP */
	const char *what;
};

#define UDP_WINDOW 32	/* U2: datagrams per acknowledgement */

static const struct shape shapes[] = {
	{ "W0", 1, false, false, false, "1 B writes, streaming" },
	{ "W1", 64, true, false, false, "64 B request/response ping-pong" },
	{ "W2", 64, false, false, false, "64 B writes, streaming" },
	{ "W3", 16u << 10, false, false, false, "16 KiB writes, streaming" },
	{ "W4", 1u << 20, false, false, false, "1 MiB writes, streaming" },
	{ "U1", 64, true, true, false, "64 B UDP request/response ping-pong" },
	{ "U2", 64, false, true, false, "64 B UDP datagrams, streaming (1-byte ack every 32)" },
	{ "X2", 64, false, false, true, "64 B writes, streaming over a unix stream socket pair" },
};

/* What each end counted; the server sends its copy to the client. */
struct tally {
	uint64_t send_calls, recv_calls;
	uint64_t bytes_sent, bytes_received;
	uint64_t cpu_ns;	/* user + system, getrusage, traffic phase only */
	uint64_t wall_ns;
	double slice_p10, slice_p50, slice_min;	/* CPU ns per call over slices */
	uint32_t slices;
	int32_t pid;
	int32_t err;		/* errno of a failure, 0 when fine */
};

/* CPU-per-call samples of ~10 ms slices of one end's run. */
struct slicer {
	uint64_t next_wall, cpu0, calls0;
	double *v;
	uint32_t n;
};

static void die(const char *what)
{
	fprintf(stderr, "trafficgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

static uint64_t proc_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void slicer_init(struct slicer *sl, uint64_t calls)
{
	sl->v = malloc(MAX_SLICES * sizeof(*sl->v));
	if (!sl->v) {
		perror("trafficgen: malloc");
		exit(1);
	}
	sl->n = 0;
	sl->calls0 = calls;
	sl->cpu0 = proc_cpu_ns();
	sl->next_wall = mono_ns() + SLICE_NS;
}

/* Called once per loop iteration; closes a slice every SLICE_NS of wall time. */
static inline void slicer_tick(struct slicer *sl, uint64_t now, uint64_t calls)
{
	uint64_t cpu;

	if (now < sl->next_wall)
		return;
	cpu = proc_cpu_ns();
	if (calls > sl->calls0 && sl->n < MAX_SLICES)
		sl->v[sl->n++] = (double)(cpu - sl->cpu0) / (double)(calls - sl->calls0);
	sl->cpu0 = cpu;
	sl->calls0 = calls;
	sl->next_wall = now + SLICE_NS;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void slicer_done(struct slicer *sl, struct tally *t)
{
	t->slices = sl->n;
	if (sl->n) {
		qsort(sl->v, sl->n, sizeof(*sl->v), cmp_double);
		t->slice_min = sl->v[0];
		t->slice_p10 = sl->v[sl->n / 10];
		t->slice_p50 = sl->v[sl->n / 2];
	}
	free(sl->v);
}

/* Sends all of buf, one counted call per syscall. 0, or -errno. */
static int send_all(int fd, const char *buf, size_t len, struct tally *t)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		t->send_calls++;
		t->bytes_sent += (uint64_t)n;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Receives exactly len bytes. 1 when done, 0 on EOF before any byte, -errno. */
static int recv_exact(int fd, char *buf, size_t len, struct tally *t)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return got ? -EPIPE : 0;
		t->recv_calls++;
		t->bytes_received += (uint64_t)n;
		got += (size_t)n;
	}
	return 1;
}

/* A server's end: its tally to the client over the pipe, then exit (closing its socket). */
static void report_and_exit(struct tally *t, struct slicer *sl, uint64_t c0, uint64_t w0, int rc,
			    int report_fd)
{
	slicer_done(sl, t);
	t->cpu_ns = cpu_ns() - c0;
	t->wall_ns = mono_ns() - w0;
	t->err = rc < 0 ? -rc : 0;
	if (write(report_fd, t, sizeof(*t)) != (ssize_t)sizeof(*t))
		die("report");
	exit(0);
}

static void set_nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		die("TCP_NODELAY");
}

/* The stream server on fd: a listening TCP socket, or (local) its end of the pair. */
static void server(int fd, const struct shape *s, int report_fd, const char *comm)
{
	struct tally t = { .pid = (int32_t)getpid() };
	struct slicer sl;
	char *buf = malloc(RECV_BUF);
	uint64_t c0, w0;
	int rc = 0;

	prctl(PR_SET_NAME, comm);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!s->local) {
		int lfd = fd;

		fd = accept(lfd, NULL, NULL);
		close(lfd);
	}
	if (fd < 0 || !buf)
		die("accept");
	if (s->pingpong)
		set_nodelay(fd);
	c0 = cpu_ns();
	w0 = mono_ns();
	slicer_init(&sl, 0);
	if (s->pingpong) {
		while ((rc = recv_exact(fd, buf, s->write_size, &t)) == 1) {
			rc = send_all(fd, buf, s->write_size, &t);
			if (rc)
				break;
			slicer_tick(&sl, mono_ns(), t.send_calls + t.recv_calls);
		}
	} else {
		for (;;) {
			ssize_t n = recv(fd, buf, RECV_BUF, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				rc = n < 0 ? -errno : 0;
				break;
			}
			t.recv_calls++;
			t.bytes_received += (uint64_t)n;
			slicer_tick(&sl, mono_ns(), t.recv_calls);
		}
	}
	report_and_exit(&t, &sl, c0, w0, rc, report_fd);
}

/* One datagram sent (to, or the connected peer) and counted. 0 or -errno. */
static int dgram_send(int fd, const char *buf, size_t len, const struct sockaddr_storage *to,
		      socklen_t tolen, struct tally *t)
{
	ssize_t n;

	do
		n = to ? sendto(fd, buf, len, 0, (const struct sockaddr *)to, tolen) :
			 send(fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	t->send_calls++;
	t->bytes_sent += (uint64_t)n;
	return 0;
}

/* One datagram received and counted (from filled in when given): its size or -errno. */
static ssize_t dgram_recv(int fd, char *buf, size_t len, struct sockaddr_storage *from,
			  socklen_t *fromlen, struct tally *t)
{
	ssize_t n;

	do {
		if (fromlen)
			*fromlen = sizeof(*from);
		n = from ? recvfrom(fd, buf, len, 0, (struct sockaddr *)from, fromlen) :
			   recv(fd, buf, len, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	t->recv_calls++;
	t->bytes_received += (uint64_t)n;
	return n;
}

/* The UDP server: unconnected, answers (U1) or acknowledges (U2) its client. */
static void udp_server(int fd, const struct shape *s, int report_fd, const char *comm)
{
	struct tally t = { .pid = (int32_t)getpid() };
	struct sockaddr_storage from;
	socklen_t fromlen;
	struct slicer sl;
	char *buf = malloc(RECV_BUF);
	uint64_t c0, w0, got = 0;
	ssize_t n;
	int rc = 0;

	prctl(PR_SET_NAME, comm);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!buf)
		die("malloc");
	c0 = cpu_ns();
	w0 = mono_ns();
	slicer_init(&sl, 0);
	while ((n = dgram_recv(fd, buf, RECV_BUF, &from, &fromlen, &t)) > 1) {
		got++;
		if (s->pingpong)
			rc = dgram_send(fd, buf, (size_t)n, &from, fromlen, &t);
		else if (got % UDP_WINDOW == 0)
			rc = dgram_send(fd, "a", 1, &from, fromlen, &t);
		if (rc)
			break;
		slicer_tick(&sl, mono_ns(), t.send_calls + t.recv_calls);
	}
	if (n < 0)
		rc = (int)n;
	report_and_exit(&t, &sl, c0, w0, rc, report_fd);
}

/* One client operation over UDP: a round trip (U1), or a datagram and, every
 * UDP_WINDOW of them, the server's acknowledgement (U2). 0 or -errno. */
static int udp_client_op(int fd, char *buf, const struct shape *s, uint64_t ops, struct tally *c)
{
	int rc = dgram_send(fd, buf, s->write_size, NULL, 0, c);
	ssize_t n = 0;

	if (!rc && s->pingpong)
		n = dgram_recv(fd, buf, s->write_size, NULL, NULL, c);
	else if (!rc && (ops + 1) % UDP_WINDOW == 0)
		n = dgram_recv(fd, buf, 1, NULL, NULL, c);
	return rc ? rc : n < 0 ? (int)n : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: trafficgen -w W0|W1|W2|W3|W4|U1|U2|X2 [-4|-6] (-d SECONDS | -n COUNT) "
		"[-c NAME]\n");
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		fprintf(f, "  %s  %s\n", shapes[i].name, shapes[i].what);
}

int main(int argc, char **argv)
{
	const struct shape *s = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	double seconds = 0;
	uint64_t count = 0, deadline, c0, w0, ops = 0;
	const char *name = NULL;
	char client_comm[16], server_comm[16];
	int family = AF_INET, opt, lfd, fd = -1, pfd[2], status, rc = 0;
	struct tally c = { 0 }, srv;
	struct slicer slc;
	char *buf;
	pid_t child;

	while ((opt = getopt(argc, argv, "w:46d:n:c:h")) != -1) {
		switch (opt) {
		case 'w':
			for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
				if (!strcmp(optarg, shapes[i].name))
					s = &shapes[i];
			break;
		case '4':
			family = AF_INET;
			break;
		case '6':
			family = AF_INET6;
			break;
		case 'd':
			seconds = strtod(optarg, NULL);
			break;
		case 'n':
			count = strtoull(optarg, NULL, 10);
			break;
		case 'c':
			name = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!s || (seconds <= 0) == (count == 0) || seconds > 86400) {
		usage(stderr);
		return 2;
	}
	snprintf(client_comm, sizeof(client_comm), "%.12s-c", name ? name : "tg");
	snprintf(server_comm, sizeof(server_comm), "%.12s-s", name ? name : "tg");
	prctl(PR_SET_NAME, client_comm);

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
	}
	if (s->local) {
		int pair[2];

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair))
			die("socketpair");
		lfd = pair[1];	/* the server's end */
		fd = pair[0];
	} else {
		lfd = socket(family, s->udp ? SOCK_DGRAM : SOCK_STREAM, 0);
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, sizeof(ss)) ||
		    (!s->udp && listen(lfd, 1)) || getsockname(lfd, (struct sockaddr *)&ss, &sl))
			die("listen");
	}
	if (pipe(pfd))
		die("pipe");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		close(pfd[0]);
		if (s->local)
			close(fd);
		if (s->udp)
			udp_server(lfd, s, pfd[1], server_comm);
		server(lfd, s, pfd[1], server_comm);
	}
	close(pfd[1]);
	close(lfd);
	if (!s->local) {
		fd = socket(family, s->udp ? SOCK_DGRAM : SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl))
			die("connect");
	}
	if (s->pingpong && !s->udp)
		set_nodelay(fd);
	buf = calloc(1, s->write_size);
	if (!buf)
		die("malloc");
	memset(buf, 'x', s->write_size);

	c.pid = (int32_t)getpid();
	c0 = cpu_ns();
	w0 = mono_ns();
	deadline = w0 + (uint64_t)(seconds * 1e9);
	slicer_init(&slc, 0);
	for (;;) {
		uint64_t now = mono_ns();

		slicer_tick(&slc, now, c.send_calls + c.recv_calls);
		if (count ? ops >= count : now >= deadline)
			break;
		if (s->udp) {
			rc = udp_client_op(fd, buf, s, ops, &c);
			if (rc)
				break;
			ops++;
			continue;
		}
		rc = send_all(fd, buf, s->write_size, &c);
		if (!rc && s->pingpong) {
			rc = recv_exact(fd, buf, s->write_size, &c);
			rc = rc == 1 ? 0 : rc == 0 ? -EPIPE : rc;
		}
		if (rc)
			break;
		ops++;
	}
	if (!rc && s->udp)	/* the end: a 1-byte datagram */
		rc = dgram_send(fd, "e", 1, NULL, 0, &c);
	else if (!rc && shutdown(fd, SHUT_WR))
		rc = -errno;
	if (!rc && !s->pingpong && !s->udp) {
		/* the server closes after EOF: wait for it so its reads are done */
		char b;

		while (recv(fd, &b, 1, 0) < 0 && errno == EINTR)
			;
	}
	slicer_done(&slc, &c);
	c.cpu_ns = cpu_ns() - c0;
	c.wall_ns = mono_ns() - w0;
	if (read(pfd[0], &srv, sizeof(srv)) != (ssize_t)sizeof(srv)) {
		fprintf(stderr, "trafficgen: no report from the server\n");
		return 1;
	}
	waitpid(child, &status, 0);
	close(fd);
	if (rc || srv.err) {
		fprintf(stderr, "trafficgen: traffic failed: %s\n", strerror(rc ? -rc : srv.err));
		return 1;
	}
	if (c.bytes_sent != srv.bytes_received || srv.bytes_sent != c.bytes_received) {
		fprintf(stderr,
			"trafficgen: byte counts disagree: client sent %" PRIu64 ", server got %" PRIu64
			"; server sent %" PRIu64 ", client got %" PRIu64 "\n",
			c.bytes_sent, srv.bytes_received, srv.bytes_sent, c.bytes_received);
		return 1;
	}
	{
		uint64_t calls = c.send_calls + c.recv_calls + srv.send_calls + srv.recv_calls;
		uint64_t cpu = c.cpu_ns + srv.cpu_ns;
		double wall = (double)c.wall_ns / 1e9;
		uint64_t cc = c.send_calls + c.recv_calls, sc = srv.send_calls + srv.recv_calls;
		/* both ends at their 10th-percentile slice cost, weighted by their calls */
		double p10 = calls ? (c.slice_p10 * (double)cc + srv.slice_p10 * (double)sc) /
					     (double)calls : 0.0;

		printf("{\"tool\":\"trafficgen\",\"workload\":\"%s\",\"family\":%d,\"write_size\":%zu,"
		       "\"ops\":%" PRIu64 ",\"wall_s\":%.6f,\"client_pid\":%d,\"server_pid\":%d,"
		       "\"client_send_calls\":%" PRIu64 ",\"client_recv_calls\":%" PRIu64
		       ",\"server_send_calls\":%" PRIu64 ",\"server_recv_calls\":%" PRIu64
		       ",\"calls\":%" PRIu64 ",\"client_tx_bytes\":%" PRIu64 ",\"client_rx_bytes\":%" PRIu64
		       ",\"client_cpu_ns\":%" PRIu64 ",\"server_cpu_ns\":%" PRIu64 ",\"cpu_ns\":%" PRIu64
		       ",\"calls_per_s\":%.1f,\"cpu_ns_per_call\":%.2f,\"p10_ns_per_call\":%.2f"
		       ",\"client_slices\":%u,\"client_slice_ns\":[%.1f,%.1f,%.1f]"
		       ",\"server_slices\":%u,\"server_slice_ns\":[%.1f,%.1f,%.1f]}\n",
		       s->name, s->local ? 0 : family == AF_INET ? 4 : 6, s->write_size, ops, wall, c.pid, srv.pid,
		       c.send_calls, c.recv_calls, srv.send_calls, srv.recv_calls, calls, c.bytes_sent,
		       c.bytes_received, c.cpu_ns, srv.cpu_ns, cpu, wall > 0 ? (double)calls / wall : 0.0,
		       calls ? (double)cpu / (double)calls : 0.0, p10, c.slices, c.slice_min,
		       c.slice_p10, c.slice_p50, srv.slices, srv.slice_min, srv.slice_p10,
		       srv.slice_p50);
	}
	return 0;
}
