/* SPDX-License-Identifier: MIT */
/*
 * flowgen: loopback TCP traffic with exactly known byte counts, for bccflow's
 * end-to-end tests.
 *
 * The parent forks a server and a client process (separate pids and comms, as
 * bccflow attributes flows to processes). The client opens N connections, and
 * both sides move a configured number of bytes over each in lock-step rounds.
 * Every byte is counted from syscall return values, both processes report
 * their counts to the parent over pipes, and the parent prints the counts as
 * JSON Lines only after checking that both ends agree. Those lines are the
 * truth that bccflow's output is compared against.
 *
 * Build: gcc -std=c11 -O2 -Wall -Wextra -Werror -o flowgen flowgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FLOWS 9999u
#define MAX_BUF (64u << 20)		/* largest --chunk / --recv-size */
#define MAX_FILE ((uint64_t)64 << 20)	/* largest sendfile/splice source file */
#define MAX_BYTES ((uint64_t)1 << 56)	/* largest byte count of one connection */
#define MAX_MS 86400000u		/* one day: longest sleep option */
#define MAX_ROUNDS 1000000u
#define COMM_MAX 15			/* TASK_COMM_LEN - 1 */
#define NONBLOCK_SNDBUF 4096		/* small, so non-blocking sends run out of room */
#define PEEK_SIZE 4096
#define LOWAT_POLL_MS 1		/* poll period for reads below SO_RCVLOWAT */

enum family { FAM_4, FAM_6, FAM_MAPPED };
enum send_mode { SEND_PLAIN, SEND_NONBLOCK, SEND_SENDFILE, SEND_SPLICE };
enum recv_mode { RECV_PLAIN, RECV_WAITALL };

struct config {
	enum family family;
	const char *family_name;	/* as given, echoed in the output */
	unsigned flows;
	uint64_t tx, rx, step;
	uint64_t chunk, rounds, period_ms;
	enum recv_mode recv_mode;
	uint64_t recv_size;
	int lowat;			/* 0: leave SO_RCVLOWAT alone */
	bool peek;
	enum send_mode send_mode;
	const char *client_comm, *server_comm;
	uint64_t hold_ms, start_delay_ms;
	bool exit_early;
	int ready_fd;			/* -1: none */
};

/* One connection as seen from one end; tx/rx are that end's own directions. */
struct conn_rec {
	char addr[INET6_ADDRSTRLEN];	/* getsockname() of this end */
	uint16_t port;
	uint64_t tx, rx;
	uint64_t eagain, partial;	/* sender-side events, see send_socket() */
};

/* Child -> parent messages; a REPORT is followed by flows * struct conn_rec. */
enum msg_kind { MSG_PORT = 1, MSG_REPORT, MSG_ERROR };

struct msg {
	int32_t kind;
	uint16_t port;
	char text[256];
};

/* Everything one child process (client or server) works with. */
struct endpoint {
	const struct config *cfg;
	int *fds;			/* socket of connection i, in connect order */
	struct conn_rec *recs;
	char *sbuf, *rbuf;
	int file_fd;			/* sendfile/splice source, -1 if unused */
	uint64_t file_size;
	int pipe_fd[2];			/* splice: file -> pipe -> socket */
};

/* Failure handling differs by role: children report, the parent prints. */
static bool g_is_child;
static int g_report_fd = -1;
static const char *g_role = "flowgen";
static pid_t g_children[2] = { -1, -1 };

static void kill_children(void)
{
	for (int i = 0; i < 2; i++) {
		if (g_children[i] <= 0)
			continue;
		kill(g_children[i], SIGKILL);
		while (waitpid(g_children[i], NULL, 0) < 0 && errno == EINTR)
			;
		g_children[i] = -1;
	}
}

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Returns the bytes read: short only at end of file, -1 on error. */
static ssize_t read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/*
 * Any runtime failure ends here. A child sends its message to the parent
 * instead of printing it, so that exactly one line reaches stderr even when
 * both children fail (one failure usually makes the peer fail too).
 */
static _Noreturn void fail(const char *fmt, ...)
{
	struct msg m = { .kind = MSG_ERROR };
	char text[sizeof(m.text) - 16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (g_is_child) {
		snprintf(m.text, sizeof(m.text), "%s: %s", g_role, text);
		(void)write_full(g_report_fd, &m, sizeof(m));
		_exit(1);
	}
	fprintf(stderr, "flowgen: %s\n", text);
	kill_children();
	exit(1);
}

static _Noreturn void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("flowgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	exit(2);
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
			       .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

enum {
	OPT_TX = 256, OPT_RX, OPT_STEP, OPT_CHUNK, OPT_ROUNDS, OPT_PERIOD,
	OPT_RECV, OPT_RECV_SIZE, OPT_LOWAT, OPT_PEEK, OPT_SEND,
	OPT_CLIENT_COMM, OPT_SERVER_COMM, OPT_HOLD, OPT_EXIT_EARLY,
	OPT_START_DELAY, OPT_READY_FD,
};

static const struct option long_opts[] = {
	{ "family", required_argument, NULL, 'f' },
	{ "flows", required_argument, NULL, 'n' },
	{ "tx", required_argument, NULL, OPT_TX },
	{ "rx", required_argument, NULL, OPT_RX },
	{ "step", required_argument, NULL, OPT_STEP },
	{ "chunk", required_argument, NULL, OPT_CHUNK },
	{ "rounds", required_argument, NULL, OPT_ROUNDS },
	{ "period-ms", required_argument, NULL, OPT_PERIOD },
	{ "recv", required_argument, NULL, OPT_RECV },
	{ "recv-size", required_argument, NULL, OPT_RECV_SIZE },
	{ "lowat", required_argument, NULL, OPT_LOWAT },
	{ "peek", no_argument, NULL, OPT_PEEK },
	{ "send", required_argument, NULL, OPT_SEND },
	{ "client-comm", required_argument, NULL, OPT_CLIENT_COMM },
	{ "server-comm", required_argument, NULL, OPT_SERVER_COMM },
	{ "hold-ms", required_argument, NULL, OPT_HOLD },
	{ "client-exit-early", no_argument, NULL, OPT_EXIT_EARLY },
	{ "start-delay-ms", required_argument, NULL, OPT_START_DELAY },
	{ "ready-fd", required_argument, NULL, OPT_READY_FD },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *out)
{
	fprintf(out,
"Usage: flowgen [OPTIONS]\n"
"Generate loopback TCP traffic with exactly known byte counts between a forked\n"
"client and server process, then print one JSON line per connection.\n"
"\n"
"  -f, --family 4|6|mapped  4: 127.0.0.1; 6: ::1; mapped: server on [::] (dual\n"
"                           stack), client AF_INET to 127.0.0.1 (default 4)\n"
"  -n, --flows N            connections, 1..%u (default 1)\n"
"      --tx BYTES           client -> server bytes per connection (default 0)\n"
"      --rx BYTES           server -> client bytes per connection (default 0)\n"
"      --step BYTES         connection i moves tx+i*step and rx+i*step (default 0)\n"
"      --chunk BYTES        bytes per send call (default 65536)\n"
"      --rounds R           split each connection's bytes into R rounds (default 1)\n"
"      --period-ms MS       sleep between rounds (default 0)\n"
"      --recv plain|waitall receive with recv() or recv(MSG_WAITALL)\n"
"      --recv-size N        bytes per receive call (default 65536)\n"
"      --lowat N            SO_RCVLOWAT on every socket\n"
"      --peek               MSG_PEEK|MSG_DONTWAIT before each receive\n"
"      --send plain|nonblock|sendfile|splice   sender method (both directions)\n"
"      --client-comm NAME   client process name (default fg-client)\n"
"      --server-comm NAME   server process name (default fg-server)\n"
"      --hold-ms MS         keep connections open after the traffic (default 0)\n"
"      --client-exit-early  client closes and exits right after its last send\n"
"                           (needs --rx 0 and --step 0)\n"
"      --start-delay-ms MS  sleep after connecting, before the traffic\n"
"      --ready-fd FD        write \"ready\\n\" to FD once all connections are up\n"
"  -h, --help               show this help\n"
"\n"
"Exit status: 0 ok, 1 failure (one line on stderr), 2 bad usage.\n",
		MAX_FLOWS);
}

/* Strict decimal in [min, max]; anything else is a usage error. */
static uint64_t parse_num(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	unsigned long long v = 0;
	char *end = NULL;
	bool ok = s[0] >= '0' && s[0] <= '9';	/* strtoull would take "-1" or " 1" */

	if (ok) {
		errno = 0;
		v = strtoull(s, &end, 10);
		ok = !errno && !*end && v >= min && v <= max;
	}
	if (!ok)
		usage_error("invalid %s '%s': expected a whole number from %" PRIu64
			    " to %" PRIu64, opt, s, min, max);
	return (uint64_t)v;
}

/* Index of arg in the NULL-terminated names, or a usage error. */
static int parse_choice(const char *opt, const char *arg, const char *const *names)
{
	char list[64] = "";

	for (int i = 0; names[i]; i++) {
		if (!strcmp(arg, names[i]))
			return i;
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 i ? "|" : "", names[i]);
	}
	usage_error("invalid %s '%s': expected %s", opt, arg, list);
}

static const char *parse_comm(const char *opt, const char *arg)
{
	size_t len = strlen(arg);

	if (len == 0 || len > COMM_MAX)
		usage_error("invalid %s '%s': expected 1 to %d characters", opt, arg, COMM_MAX);
	return arg;
}

static void set_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->family = FAM_4;
	c->family_name = "4";
	c->flows = 1;
	c->chunk = 65536;
	c->rounds = 1;
	c->recv_mode = RECV_PLAIN;
	c->recv_size = 65536;
	c->send_mode = SEND_PLAIN;
	c->client_comm = "fg-client";
	c->server_comm = "fg-server";
	c->ready_fd = -1;
}

static void apply_option(struct config *c, int opt, const char *arg)
{
	static const char *const families[] = { "4", "6", "mapped", NULL };
	static const char *const recvs[] = { "plain", "waitall", NULL };
	static const char *const sends[] = { "plain", "nonblock", "sendfile", "splice", NULL };

	switch (opt) {
	case 'f':
		c->family = (enum family)parse_choice("--family", arg, families);
		c->family_name = families[c->family];
		break;
	case 'n': c->flows = (unsigned)parse_num("--flows", arg, 1, MAX_FLOWS); break;
	case OPT_TX: c->tx = parse_num("--tx", arg, 0, MAX_BYTES); break;
	case OPT_RX: c->rx = parse_num("--rx", arg, 0, MAX_BYTES); break;
	case OPT_STEP: c->step = parse_num("--step", arg, 0, MAX_BYTES); break;
	case OPT_CHUNK: c->chunk = parse_num("--chunk", arg, 1, MAX_BUF); break;
	case OPT_ROUNDS: c->rounds = parse_num("--rounds", arg, 1, MAX_ROUNDS); break;
	case OPT_PERIOD: c->period_ms = parse_num("--period-ms", arg, 0, MAX_MS); break;
	case OPT_RECV:
		c->recv_mode = (enum recv_mode)parse_choice("--recv", arg, recvs);
		break;
	case OPT_RECV_SIZE: c->recv_size = parse_num("--recv-size", arg, 1, MAX_BUF); break;
	case OPT_LOWAT: c->lowat = (int)parse_num("--lowat", arg, 1, INT_MAX); break;
	case OPT_PEEK: c->peek = true; break;
	case OPT_SEND:
		c->send_mode = (enum send_mode)parse_choice("--send", arg, sends);
		break;
	case OPT_CLIENT_COMM: c->client_comm = parse_comm("--client-comm", arg); break;
	case OPT_SERVER_COMM: c->server_comm = parse_comm("--server-comm", arg); break;
	case OPT_HOLD: c->hold_ms = parse_num("--hold-ms", arg, 0, MAX_MS); break;
	case OPT_EXIT_EARLY: c->exit_early = true; break;
	case OPT_START_DELAY:
		c->start_delay_ms = parse_num("--start-delay-ms", arg, 0, MAX_MS);
		break;
	case OPT_READY_FD: c->ready_fd = (int)parse_num("--ready-fd", arg, 0, INT_MAX); break;
	}
}

/* Combinations that cannot work are rejected before anything is started. */
static void check_config(const struct config *c)
{
	uint64_t n = c->flows - 1;

	if (n && c->step > (MAX_BYTES - (c->tx > c->rx ? c->tx : c->rx)) / n)
		usage_error("--tx/--rx + (flows-1) * --step exceeds %" PRIu64 " bytes",
			    MAX_BYTES);
	/* An exited client cannot read, so the server must have nothing to send. */
	if (c->exit_early && (c->rx || c->step))
		usage_error("--client-exit-early needs --rx 0 and --step 0");
	if (c->ready_fd >= 0 && fcntl(c->ready_fd, F_GETFD) < 0)
		usage_error("--ready-fd %d is not an open file descriptor", c->ready_fd);
}

static void parse_options(int argc, char **argv, struct config *c)
{
	int opt;

	set_defaults(c);
	opterr = 0;	/* our own one-line messages instead of getopt's */
	while ((opt = getopt_long(argc, argv, ":f:n:h", long_opts, NULL)) != -1) {
		const char *bad = optind > 1 ? argv[optind - 1] : "?";

		if (opt == 'h') {
			usage(stdout);
			exit(0);
		}
		if (opt == ':')
			usage_error("option '%s' needs an argument", bad);
		if (opt == '?')
			usage_error("unknown option '%s'", bad);
		apply_option(c, opt, optarg);
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	check_config(c);
}

/* ------------------------------------------------------------------ */
/* Addresses                                                           */
/* ------------------------------------------------------------------ */

static socklen_t make_addr(struct sockaddr_storage *ss, int af, const void *ip, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, ip, sizeof(sin->sin_addr));
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	memcpy(&sin6->sin6_addr, ip, sizeof(sin6->sin6_addr));
	return sizeof(*sin6);
}

static socklen_t server_bind_addr(const struct config *c, struct sockaddr_storage *ss)
{
	struct in_addr lo4 = { htonl(INADDR_LOOPBACK) };

	if (c->family == FAM_4)
		return make_addr(ss, AF_INET, &lo4, 0);
	/* mapped: the wildcard is what lets an AF_INET peer reach an AF_INET6 socket */
	return make_addr(ss, AF_INET6, c->family == FAM_6 ? &in6addr_loopback : &in6addr_any, 0);
}

static socklen_t client_dest_addr(const struct config *c, uint16_t port,
				  struct sockaddr_storage *ss)
{
	struct in_addr lo4 = { htonl(INADDR_LOOPBACK) };

	if (c->family == FAM_6)
		return make_addr(ss, AF_INET6, &in6addr_loopback, port);
	return make_addr(ss, AF_INET, &lo4, port);
}

static uint16_t sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* Only loopback peers take part; the mapped server listens on every address. */
static bool sa_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;

	if (IN6_IS_ADDR_V4MAPPED(a))
		return a->s6_addr[12] == 127;
	return IN6_IS_ADDR_LOOPBACK(a);
}

/* Records this end's address as the kernel (and so the probes) see it. */
static void record_local_name(int fd, struct conn_rec *rec)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const void *ip;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		fail("getsockname: %s", strerror(errno));
	if (ss.ss_family == AF_INET)
		ip = &((struct sockaddr_in *)&ss)->sin_addr;
	else
		ip = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	if (!inet_ntop(ss.ss_family, ip, rec->addr, sizeof(rec->addr)))
		fail("inet_ntop: %s", strerror(errno));
	rec->port = sa_port(&ss);
}

/* ------------------------------------------------------------------ */
/* Child setup                                                         */
/* ------------------------------------------------------------------ */

static void become_child(const char *role, const char *comm, int report_fd, pid_t parent)
{
	g_is_child = true;
	g_role = role;
	g_report_fd = report_fd;
	g_children[0] = g_children[1] = -1;
	/* No orphans: if the parent dies, so do we. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	if (prctl(PR_SET_NAME, comm) < 0)
		fail("prctl(PR_SET_NAME): %s", strerror(errno));
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		fail("out of memory");
	return p;
}

static uint64_t conn_bytes(const struct config *c, uint64_t base, unsigned i)
{
	return base + (uint64_t)i * c->step;
}

/* Bytes of round r: an even split, the first rounds taking the remainder. */
static uint64_t round_bytes(uint64_t total, uint64_t rounds, uint64_t r)
{
	return total / rounds + (r < total % rounds ? 1 : 0);
}

/*
 * The sendfile/splice source: one unlinked file, as large as the biggest
 * single round of one connection (capped; the sender wraps around in it).
 */
static void make_source_file(struct endpoint *ep, uint64_t base)
{
	const struct config *c = ep->cfg;
	uint64_t size = round_bytes(conn_bytes(c, base, c->flows - 1), c->rounds, 0);
	char path[] = "/tmp/flowgen.XXXXXX";
	char block[65536];

	ep->file_size = min_u64(size, MAX_FILE);
	if (ep->file_size == 0)
		return;
	ep->file_fd = mkstemp(path);
	if (ep->file_fd < 0)
		fail("mkstemp(%s): %s", path, strerror(errno));
	unlink(path);
	memset(block, 'f', sizeof(block));
	for (uint64_t done = 0; done < ep->file_size;) {
		size_t n = (size_t)min_u64(sizeof(block), ep->file_size - done);

		if (write_full(ep->file_fd, block, n) < 0)
			fail("writing %s: %s", path, strerror(errno));
		done += n;
	}
}

static void make_splice_pipe(struct endpoint *ep)
{
	if (pipe(ep->pipe_fd) < 0)
		fail("pipe: %s", strerror(errno));
	/* A pipe as large as a chunk saves calls; the default size also works. */
	(void)fcntl(ep->pipe_fd[1], F_SETPIPE_SZ, (int)min_u64(ep->cfg->chunk, 1u << 20));
}

/* base: this process's per-connection send amount before --step. */
static void init_endpoint(struct endpoint *ep, const struct config *c, uint64_t base)
{
	memset(ep, 0, sizeof(*ep));
	ep->cfg = c;
	ep->fds = xcalloc(c->flows, sizeof(*ep->fds));
	ep->recs = xcalloc(c->flows, sizeof(*ep->recs));
	ep->sbuf = xcalloc(c->chunk, 1);
	ep->rbuf = xcalloc(c->recv_size, 1);
	memset(ep->sbuf, 's', c->chunk);
	ep->file_fd = -1;
	ep->pipe_fd[0] = ep->pipe_fd[1] = -1;
	if (c->send_mode == SEND_SENDFILE || c->send_mode == SEND_SPLICE)
		make_source_file(ep, base);
	if (c->send_mode == SEND_SPLICE && ep->file_fd >= 0)
		make_splice_pipe(ep);
}

/* Options that apply to every data socket, on both ends. */
static void configure_socket(const struct config *c, int fd)
{
	int sndbuf = NONBLOCK_SNDBUF;

	if (c->lowat &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &c->lowat, sizeof(c->lowat)) < 0)
		fail("setsockopt(SO_RCVLOWAT): %s", strerror(errno));
	if (c->send_mode != SEND_NONBLOCK)
		return;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) < 0)
		fail("setsockopt(SO_SNDBUF): %s", strerror(errno));
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		fail("fcntl(O_NONBLOCK): %s", strerror(errno));
}

static void send_msg(int fd, int kind, uint16_t port)
{
	struct msg m = { .kind = kind, .port = port };

	if (write_full(fd, &m, sizeof(m)) < 0)
		_exit(1);	/* the parent is gone: nobody to tell */
}

static void close_all(struct endpoint *ep)
{
	for (unsigned i = 0; i < ep->cfg->flows; i++)
		close(ep->fds[i]);
}

static _Noreturn void report_and_exit(struct endpoint *ep)
{
	send_msg(g_report_fd, MSG_REPORT, 0);
	if (write_full(g_report_fd, ep->recs, ep->cfg->flows * sizeof(*ep->recs)) < 0)
		_exit(1);
	_exit(0);
}

/* ------------------------------------------------------------------ */
/* Traffic                                                             */
/* ------------------------------------------------------------------ */

/* Counts what the kernel actually took: the return value, not the request. */
static void count_sent(struct conn_rec *rec, size_t asked, ssize_t n)
{
	if (n == 0)
		fail("a send call returned 0");
	rec->tx += (uint64_t)n;
	if ((size_t)n < asked)
		rec->partial++;
}

static void wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (poll(&p, 1, timeout_ms) < 0 && errno != EINTR)
		fail("poll: %s", strerror(errno));
}

/*
 * A failed send call: EINTR and EAGAIN (counted; only non-blocking sockets
 * get it) mean "try again", after waiting for room; anything else is fatal.
 */
static void send_failed(struct conn_rec *rec, int fd, const char *what)
{
	if (errno == EINTR)
		return;
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		fail("%s on %s:%u: %s", what, rec->addr, rec->port, strerror(errno));
	rec->eagain++;
	wait_fd(fd, POLLOUT, -1);
}

static void send_socket(struct endpoint *ep, unsigned i, uint64_t len)
{
	struct conn_rec *rec = &ep->recs[i];

	while (len > 0) {
		size_t want = (size_t)min_u64(len, ep->cfg->chunk);
		ssize_t n = send(ep->fds[i], ep->sbuf, want, MSG_NOSIGNAL);

		if (n < 0) {
			send_failed(rec, ep->fds[i], "send");
			continue;
		}
		count_sent(rec, want, n);
		len -= (uint64_t)n;
	}
}

/* How much of the source file the next call may use, wrapping at its end. */
static size_t file_piece(struct endpoint *ep, off_t *off, uint64_t len)
{
	if ((uint64_t)*off >= ep->file_size)
		*off = 0;
	return (size_t)min_u64(min_u64(len, ep->cfg->chunk), ep->file_size - (uint64_t)*off);
}

static void send_sendfile(struct endpoint *ep, unsigned i, uint64_t len)
{
	struct conn_rec *rec = &ep->recs[i];
	off_t off = 0;

	while (len > 0) {
		size_t want = file_piece(ep, &off, len);
		ssize_t n = sendfile(ep->fds[i], ep->file_fd, &off, want);

		if (n < 0) {
			send_failed(rec, ep->fds[i], "sendfile");
			continue;
		}
		count_sent(rec, want, n);
		len -= (uint64_t)n;
	}
}

/* Moves everything now in the pipe to the socket; only this side is counted. */
static void drain_pipe(struct endpoint *ep, unsigned i, size_t len)
{
	struct conn_rec *rec = &ep->recs[i];

	while (len > 0) {
		ssize_t n = splice(ep->pipe_fd[0], NULL, ep->fds[i], NULL, len, SPLICE_F_MOVE);

		if (n < 0) {
			send_failed(rec, ep->fds[i], "splice");
			continue;
		}
		count_sent(rec, len, n);
		len -= (size_t)n;
	}
}

static void send_splice(struct endpoint *ep, unsigned i, uint64_t len)
{
	off_t off = 0;

	while (len > 0) {
		size_t want = file_piece(ep, &off, len);
		ssize_t n = splice(ep->file_fd, &off, ep->pipe_fd[1], NULL, want, SPLICE_F_MOVE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail("splice from file: %s", n ? strerror(errno) : "unexpected end");
		drain_pipe(ep, i, (size_t)n);
		len -= (uint64_t)n;
	}
}

static void send_bytes(struct endpoint *ep, unsigned i, uint64_t len)
{
	switch (ep->cfg->send_mode) {
	case SEND_PLAIN:
	case SEND_NONBLOCK:
		send_socket(ep, i, len);
		break;
	case SEND_SENDFILE:
		send_sendfile(ep, i, len);
		break;
	case SEND_SPLICE:
		send_splice(ep, i, len);
		break;
	}
}

/* --peek: look without taking; never blocks and is never counted. */
static void peek(int fd)
{
	static char buf[PEEK_SIZE];

	if (recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT) < 0 && errno != EAGAIN &&
	    errno != EWOULDBLOCK && errno != EINTR)
		fail("recv(MSG_PEEK): %s", strerror(errno));
}

/*
 * While fewer than SO_RCVLOWAT bytes are due, the kernel wakes neither a
 * blocked recv() nor poll() (it only wakes readers once lowat bytes are
 * queued), so such reads must not block and their polls need a timeout.
 */
static bool below_lowat(const struct config *c, uint64_t len)
{
	return c->lowat && len < (uint64_t)c->lowat;
}

/*
 * Receives exactly len bytes. Asking for at most the bytes still due keeps
 * round boundaries exact: the peer may already have sent the next round.
 */
static void recv_bytes(struct endpoint *ep, unsigned i, uint64_t len)
{
	const struct config *c = ep->cfg;
	struct conn_rec *rec = &ep->recs[i];
	int flags = c->recv_mode == RECV_WAITALL ? MSG_WAITALL : 0;
	bool slow = c->send_mode == SEND_NONBLOCK;

	for (bool first = true; len > 0; first = false) {
		/* A slow reader makes the non-blocking sender meet full buffers. */
		if (slow && !first)
			sleep_ms(1);
		if (c->peek)
			peek(ep->fds[i]);
		bool tail = below_lowat(c, len);
		ssize_t n = recv(ep->fds[i], ep->rbuf, (size_t)min_u64(len, c->recv_size),
				 flags | (tail ? MSG_DONTWAIT : 0));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			wait_fd(ep->fds[i], POLLIN, c->lowat ? LOWAT_POLL_MS : -1);
			continue;
		}
		if (n <= 0)
			fail("recv from connection %u: %s", i,
			     n ? strerror(errno) : "peer closed early");
		rec->rx += (uint64_t)n;
		len -= (uint64_t)n;
	}
}

/* One direction of round r on every connection, in connection order. */
static void transfer(struct endpoint *ep, uint64_t base, uint64_t r, bool sending)
{
	const struct config *c = ep->cfg;

	for (unsigned i = 0; i < c->flows; i++) {
		uint64_t n = round_bytes(conn_bytes(c, base, i), c->rounds, r);

		if (sending)
			send_bytes(ep, i, n);
		else
			recv_bytes(ep, i, n);
	}
}

/*
 * Lock-step rounds that cannot deadlock: one side writes connections
 * 0..N-1 in order while the other reads them in the same order, so the
 * reader always waits on a connection the writer has reached or passed.
 */
static void run_rounds(struct endpoint *ep, bool client)
{
	const struct config *c = ep->cfg;

	for (uint64_t r = 0; r < c->rounds; r++) {
		transfer(ep, c->tx, r, client);		/* client -> server */
		transfer(ep, c->rx, r, !client);	/* server -> client */
		if (r + 1 < c->rounds)
			sleep_ms(c->period_ms);
	}
}

/* ------------------------------------------------------------------ */
/* Client                                                              */
/* ------------------------------------------------------------------ */

/* Pipes between the children, created by the parent before forking. */
struct sync_pipes {
	int ports[2];	/* client -> server: local port of connection i */
	int go[2];	/* server -> client: all connections matched */
};

static int connect_one(const struct config *c, uint16_t port)
{
	struct sockaddr_storage dst;
	socklen_t len = client_dest_addr(c, port, &dst);
	int fd = socket(dst.ss_family, SOCK_STREAM, 0);

	if (fd < 0)
		fail("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&dst, len) < 0)
		fail("connect: %s", strerror(errno));
	return fd;
}

/* Blocking connects, one at a time: connection i is the i-th connect. */
static void connect_all(struct endpoint *ep, uint16_t port, int ports_fd)
{
	const struct config *c = ep->cfg;
	uint16_t *ports = xcalloc(c->flows, sizeof(*ports));

	for (unsigned i = 0; i < c->flows; i++) {
		ep->fds[i] = connect_one(c, port);
		record_local_name(ep->fds[i], &ep->recs[i]);
		ports[i] = ep->recs[i].port;
	}
	/* The server needs these to put its accepted sockets in connect order. */
	if (write_full(ports_fd, ports, c->flows * sizeof(*ports)) < 0)
		fail("sending ports to the server: %s", strerror(errno));
	close(ports_fd);
	free(ports);
}

static _Noreturn void run_client(const struct config *c, uint16_t port,
				 const struct sync_pipes *sp, int report_fd, pid_t parent)
{
	struct endpoint ep;
	char go;

	become_child("client", c->client_comm, report_fd, parent);
	close(sp->ports[0]);
	close(sp->go[1]);
	init_endpoint(&ep, c, c->tx);
	connect_all(&ep, port, sp->ports[1]);
	if (read_full(sp->go[0], &go, 1) != 1)
		fail("server did not confirm the connections");
	close(sp->go[0]);
	for (unsigned i = 0; i < c->flows; i++)
		configure_socket(c, ep.fds[i]);
	sleep_ms(c->start_delay_ms);
	run_rounds(&ep, true);
	/* --client-exit-early: gone while the server may still be reading */
	if (!c->exit_early)
		sleep_ms(c->hold_ms);
	close_all(&ep);
	report_and_exit(&ep);
}

/* ------------------------------------------------------------------ */
/* Server                                                              */
/* ------------------------------------------------------------------ */

static int open_listener(const struct config *c, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = server_bind_addr(c, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);
	int off = 0;
	int backlog = c->flows > SOMAXCONN ? (int)c->flows : SOMAXCONN;

	if (fd < 0)
		fail("socket: %s", strerror(errno));
	if (c->family == FAM_MAPPED &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0)
		fail("setsockopt(IPV6_V6ONLY): %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		fail("bind: %s", strerror(errno));
	if (listen(fd, backlog) < 0)
		fail("listen: %s", strerror(errno));
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		fail("getsockname: %s", strerror(errno));
	*port = sa_port(&ss);
	return fd;
}

/* Accepts flows connections; peer_ports[j] is the peer port of accept j. */
static void accept_all(struct endpoint *ep, int lfd, uint16_t *peer_ports)
{
	unsigned got = 0;

	while (got < ep->cfg->flows) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = accept(lfd, (struct sockaddr *)&peer, &len);

		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0)
			fail("accept: %s", strerror(errno));
		if (!sa_is_loopback(&peer)) {
			close(fd);	/* a stranger on the [::] listener */
			continue;
		}
		ep->fds[got] = fd;
		peer_ports[got++] = sa_port(&peer);
	}
}

/*
 * Accept order need not be connect order, so sort the accepted sockets by
 * the client's list of local ports (all peers share one address).
 */
static void order_by_client_ports(struct endpoint *ep, const uint16_t *peer_ports,
				  int ports_fd)
{
	unsigned n = ep->cfg->flows;
	uint16_t *client_ports = xcalloc(n, sizeof(*client_ports));
	int *accepted = xcalloc(65536, sizeof(*accepted));	/* peer port -> fd + 1 */
	size_t bytes = n * sizeof(*client_ports);

	if (read_full(ports_fd, client_ports, bytes) != (ssize_t)bytes)
		fail("did not get the client's ports");
	for (unsigned j = 0; j < n; j++)
		accepted[peer_ports[j]] = ep->fds[j] + 1;
	for (unsigned i = 0; i < n; i++) {
		int fd = accepted[client_ports[i]] - 1;

		if (fd < 0)
			fail("no accepted connection from client port %u", client_ports[i]);
		accepted[client_ports[i]] = 0;
		ep->fds[i] = fd;
		record_local_name(fd, &ep->recs[i]);
	}
	free(accepted);
	free(client_ports);
}

static void announce_ready(const struct config *c, int go_fd)
{
	if (c->ready_fd >= 0 && write_full(c->ready_fd, "ready\n", 6) < 0)
		fail("writing to --ready-fd %d: %s", c->ready_fd, strerror(errno));
	if (write_full(go_fd, "g", 1) < 0)
		fail("telling the client to start: %s", strerror(errno));
	close(go_fd);
}

static _Noreturn void run_server(const struct config *c, const struct sync_pipes *sp,
				 int report_fd, pid_t parent)
{
	struct endpoint ep;
	uint16_t port;
	uint16_t *peer_ports;
	int lfd;

	become_child("server", c->server_comm, report_fd, parent);
	close(sp->ports[1]);
	close(sp->go[0]);
	init_endpoint(&ep, c, c->rx);
	lfd = open_listener(c, &port);
	send_msg(report_fd, MSG_PORT, port);
	peer_ports = xcalloc(c->flows, sizeof(*peer_ports));
	accept_all(&ep, lfd, peer_ports);
	close(lfd);
	order_by_client_ports(&ep, peer_ports, sp->ports[0]);
	close(sp->ports[0]);
	free(peer_ports);
	for (unsigned i = 0; i < c->flows; i++)
		configure_socket(c, ep.fds[i]);
	announce_ready(c, sp->go[1]);
	sleep_ms(c->start_delay_ms);
	run_rounds(&ep, false);
	sleep_ms(c->hold_ms);
	close_all(&ep);
	report_and_exit(&ep);
}

/* ------------------------------------------------------------------ */
/* Parent                                                              */
/* ------------------------------------------------------------------ */

/* One child's report as it arrives: a struct msg, then the records. */
struct inbox {
	const char *who;
	int fd;
	char *buf;
	size_t have, need;
};

static void raise_fd_limit(const struct config *c)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* each child: its sockets plus a few pipes, files and the listener */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)c->flows + 32)
		fail("open-file limit %llu is too low for %u flows",
		     (unsigned long long)rl.rlim_cur, c->flows);
}

static void make_pipe(int fds[2])
{
	if (pipe(fds) < 0)
		fail("pipe: %s", strerror(errno));
}

static pid_t fork_child(void)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	return pid;
}

/* Reads what is there; returns true once the whole report has arrived. */
static bool inbox_read(struct inbox *in, const struct config *c)
{
	ssize_t n = read(in->fd, in->buf + in->have, in->need - in->have);

	if (n < 0 && errno == EINTR)
		return false;
	if (n < 0)
		fail("reading the %s report: %s", in->who, strerror(errno));
	if (n == 0)
		fail("%s process ended without a report", in->who);
	in->have += (size_t)n;
	if (in->have == sizeof(struct msg) && in->need == sizeof(struct msg)) {
		const struct msg *m = (const struct msg *)in->buf;

		if (m->kind == MSG_ERROR)
			fail("%.*s", (int)sizeof(m->text), m->text);
		if (m->kind != MSG_REPORT)
			fail("unexpected message %d from the %s", m->kind, in->who);
		in->need += c->flows * sizeof(struct conn_rec);
	}
	return in->have == in->need;
}

static void wait_child(int k, const char *who)
{
	int status;

	while (waitpid(g_children[k], &status, 0) < 0)
		if (errno != EINTR)
			fail("waitpid: %s", strerror(errno));
	g_children[k] = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail("%s process exited abnormally (status 0x%x)", who, status);
}

/* Waits for both reports at once, so either child's failure is seen at once. */
static void collect_reports(struct inbox in[2], const struct config *c)
{
	bool done[2] = { false, false };

	for (int k = 0; k < 2; k++) {
		in[k].buf = xcalloc(1, sizeof(struct msg) + c->flows * sizeof(struct conn_rec));
		in[k].need = sizeof(struct msg);
	}
	while (!done[0] || !done[1]) {
		struct pollfd p[2];

		for (int k = 0; k < 2; k++)
			p[k] = (struct pollfd){ .fd = done[k] ? -1 : in[k].fd, .events = POLLIN };
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			fail("poll: %s", strerror(errno));
		for (int k = 0; k < 2; k++) {
			if (done[k] || !(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			done[k] = inbox_read(&in[k], c);
			/* reap at once: an early-exiting client must not linger as a zombie */
			if (done[k])
				wait_child(k, in[k].who);
		}
	}
}

/* Both ends must agree, and agree with what was asked for. */
static void check_counts(const struct config *c, const struct conn_rec *cl,
			 const struct conn_rec *sv)
{
	for (unsigned i = 0; i < c->flows; i++) {
		uint64_t tx = conn_bytes(c, c->tx, i), rx = conn_bytes(c, c->rx, i);

		if (cl[i].tx != sv[i].rx || sv[i].tx != cl[i].rx)
			fail("connection %u: counts disagree: client_tx=%" PRIu64
			     " server_rx=%" PRIu64 " server_tx=%" PRIu64 " client_rx=%" PRIu64,
			     i, cl[i].tx, sv[i].rx, sv[i].tx, cl[i].rx);
		if (cl[i].tx != tx || sv[i].tx != rx)
			fail("connection %u: moved %" PRIu64 "/%" PRIu64 " bytes, expected %"
			     PRIu64 "/%" PRIu64, i, cl[i].tx, sv[i].tx, tx, rx);
	}
}

static void print_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void print_conn(const struct config *c, unsigned i, const pid_t pids[2],
		       const struct conn_rec *cl, const struct conn_rec *sv)
{
	printf("{\"conn\":%u,\"family\":\"%s\",\"client_pid\":%d,\"server_pid\":%d,"
	       "\"client_comm\":", i, c->family_name, (int)pids[1], (int)pids[0]);
	print_json_string(c->client_comm);
	printf(",\"server_comm\":");
	print_json_string(c->server_comm);
	printf(",\"client_addr\":\"%s\",\"client_port\":%u,\"server_addr\":\"%s\","
	       "\"server_port\":%u,\"client_tx\":%" PRIu64 ",\"client_rx\":%" PRIu64
	       ",\"server_tx\":%" PRIu64 ",\"server_rx\":%" PRIu64 ",\"eagain\":%" PRIu64
	       ",\"partial\":%" PRIu64 "}\n",
	       cl->addr, cl->port, sv->addr, sv->port, cl->tx, cl->rx, sv->tx, sv->rx,
	       cl->eagain + sv->eagain, cl->partial + sv->partial);
}

/* The server's first message is its listening port (or why it has none). */
static uint16_t read_server_port(int fd)
{
	struct msg m;

	if (read_full(fd, &m, sizeof(m)) != (ssize_t)sizeof(m))
		fail("server process ended before listening");
	if (m.kind == MSG_ERROR)
		fail("%.*s", (int)sizeof(m.text), m.text);
	if (m.kind != MSG_PORT)
		fail("unexpected message %d from the server", m.kind);
	return m.port;
}

/* Forks both children; on return in[0] is the server's inbox, in[1] the client's. */
static void start_children(const struct config *c, struct inbox in[2])
{
	struct sync_pipes sp;
	int srv[2], cli[2];
	pid_t self = getpid();
	uint16_t port;

	make_pipe(srv);
	make_pipe(sp.ports);
	make_pipe(sp.go);
	g_children[0] = fork_child();
	if (g_children[0] == 0) {
		close(srv[0]);
		run_server(c, &sp, srv[1], self);
	}
	close(srv[1]);
	port = read_server_port(srv[0]);
	/* created only now, so that only the client holds its write end */
	make_pipe(cli);
	g_children[1] = fork_child();
	if (g_children[1] == 0) {
		close(cli[0]);
		close(srv[0]);
		run_client(c, port, &sp, cli[1], self);
	}
	close(cli[1]);
	close(sp.ports[0]);
	close(sp.ports[1]);
	close(sp.go[0]);
	close(sp.go[1]);
	in[0] = (struct inbox){ .who = "server", .fd = srv[0] };
	in[1] = (struct inbox){ .who = "client", .fd = cli[0] };
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct inbox in[2];
	pid_t pids[2];

	parse_options(argc, argv, &cfg);
	raise_fd_limit(&cfg);
	/* A peer that vanishes must give EPIPE, never kill the sender. */
	signal(SIGPIPE, SIG_IGN);
	start_children(&cfg, in);
	pids[0] = g_children[0];
	pids[1] = g_children[1];
	collect_reports(in, &cfg);

	const struct conn_rec *sv = (const struct conn_rec *)(in[0].buf + sizeof(struct msg));
	const struct conn_rec *cl = (const struct conn_rec *)(in[1].buf + sizeof(struct msg));

	check_counts(&cfg, cl, sv);
	for (unsigned i = 0; i < cfg.flows; i++)
		print_conn(&cfg, i, pids, &cl[i], &sv[i]);
	if (fflush(stdout) != 0 || ferror(stdout))
		fail("writing the results: %s", strerror(errno));
	free(in[0].buf);
	free(in[1].buf);
	return 0;
}
