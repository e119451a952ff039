/* SPDX-License-Identifier: MIT */
/*
 * The /metrics endpoint (libmicrohttpd). The exposition is made in
 * prom_expo.c and --listen is read in listen_addr.c.
 *
 * The monitor renders one whole exposition per interval and publishes it. A
 * published text is immutable and reference counted: the server holds one
 * reference, every response being sent holds another, so publishing never
 * frees a text that a scrape is still sending.
 *
 * The listening socket is created and bound here, not by libmicrohttpd, so a
 * bind failure reports the real errno ("... Address already in use").
 */
#define _GNU_SOURCE
#include "prom.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "basic_auth.h"
#include "webconfig.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define LISTEN_BACKLOG 512
/*
 * Clients that never finish a request must not keep a scraper out: there is
 * room for thousands of them (as many as descriptors allow, up to
 * CONN_LIMIT_MAX), each is dropped after CONN_TIMEOUT_S without a byte, and
 * a request header larger than CONN_MEMORY is refused (431).
 */
#define CONN_LIMIT_MAX 4096
#define CONN_LIMIT_MIN 64
#define CONN_TIMEOUT_S 10
#define CONN_MEMORY (16u << 10)
#define FD_RESERVE 256		/* descriptors left for everything else */

/* ---- the HTTP server ----------------------------------------------------- */

/* One published exposition, immutable, freed with its last reference. */
struct prom_text {
	atomic_uint refs;
	size_t len;
	char *text;
};

struct prom_server {
	struct MHD_Daemon *daemon;
	pthread_mutex_t mu;		/* guards cur, started, last_log */
	struct prom_text *cur;
	bool started;			/* MHD_start_daemon() returned */
	char start_msg[256];		/* libmicrohttpd's last message while starting */
	time_t last_log;		/* rate limit of libmicrohttpd's messages */
	char addr[INET6_ADDRSTRLEN + 8];
	int fd;				/* bound; libmicrohttpd's once serving */
	int family;
	const struct web_config *wc;	/* NULL: plain HTTP, no auth */
	struct auth_cache auth;		/* only the server thread touches it */
};

static struct prom_text *text_new(char *text, size_t len)
{
	struct prom_text *t = malloc(sizeof(*t));

	if (!t)
		return NULL;
	atomic_init(&t->refs, 1);
	t->text = text;
	t->len = len;
	return t;
}

static void text_unref(void *cls)
{
	struct prom_text *t = cls;

	if (t && atomic_fetch_sub(&t->refs, 1) == 1) {
		free(t->text);
		free(t);
	}
}

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(out, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(out, len, "%s:%u", a, ntohs(s4->sin_port));
	}
}

/*
 * Messages about one client's misbehaviour or departure: not worth a line,
 * and whoever can connect must not be able to write to our stderr. Prefixes
 * of libmicrohttpd 0.9.75's and 1.0's texts (1.0 checks requests strictly
 * and explains each refusal).
 */
static const char *const client_noise[] = {
	/* a client going away, or failing to read our reply */
	"Socket has been disconnected", "Connection socket is closed",
	"Connection was closed by remote", "The connection was forcibly closed",
	"The socket is no longer available", "Failed to send", "Too late",
	"Closing connection", "Failed to forward", "Failed to push the data",
	/* a malformed or oversized request */
	"Error processing request", "The request", "Bare CR", "Bare LF",
	"Invalid character", "The NUL character", "Whitespace-prefixed", "One ",
	"Too many meaningless", "Received HTTP/1.1 request without",
	"Too large value of 'Content-Length'", "Failed to parse `Content-Length'",
	"Failed to parse 'Content-Length'", "The 'Content-Length'", "No space left in the read buffer",
	"Request Header Fields Too Large", "Not enough memory in", "Failed to allocate memory in the connection",
	"The Cookie", "The Basic Authorization", "The Digest Authorization",
	"Refused wrong status code", "Wrong status code", "Application reported internal error",
	/* plain HTTP or garbage on the TLS port, a client that breaks the handshake */
	"Error: received handshake message out of context", "TLS encryption or decryption error",
	/* many clients at once (the limit does its job) */
	"Server reached connection limit", "Error accepting connection",
	"Failed to set nonblocking mode on new client", "Accepted socket", NULL,
};

/* Other messages: at most one line a minute, printable bytes only. */
#define LOG_INTERVAL_S 60

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	struct prom_server *srv = cls;
	char msg[256];
	size_t n;
	time_t now;
	bool print = true;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '.' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
		else if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	for (int i = 0; client_noise[i]; i++)
		if (strncmp(msg, client_noise[i], strlen(client_noise[i])) == 0)
			return;

	now = time(NULL);
	pthread_mutex_lock(&srv->mu);
	if (!srv->started) {	/* reported through prom_start()'s err instead */
		snprintf(srv->start_msg, sizeof(srv->start_msg), "%s", msg);
		print = false;
	} else if (srv->last_log && now - srv->last_log < LOG_INTERVAL_S) {
		print = false;
	} else {
		srv->last_log = now;
	}
	pthread_mutex_unlock(&srv->mu);
	if (print)
		fprintf(stderr, "bccflow: metrics server on %s: %s\n", srv->addr, msg);
}

/* The response headers the web config sets, on every response. */
static void add_config_headers(const struct prom_server *srv, struct MHD_Response *r)
{
	for (size_t i = 0; srv->wc && i < srv->wc->nheaders; i++)
		MHD_add_response_header(r, srv->wc->headers[i].name, srv->wc->headers[i].value);
}

/* extra: one more header (name, value), or NULL */
static enum MHD_Result queue_static(const struct prom_server *srv, struct MHD_Connection *conn,
				    unsigned status, const char *body, const char *const *extra)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (extra)
		MHD_add_response_header(r, extra[0], extra[1]);
	add_config_headers(srv, r);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* client_auth_type, checked on the TLS session's peer certificate */
static bool client_cert_ok(const struct prom_server *srv, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	unsigned n = 0, status = 0;
	bool given, valid;

	if (srv->wc->client_auth <= CLIENT_AUTH_REQUEST)
		return true;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return false;
	given = gnutls_certificate_get_peers(ci->tls_session, &n) && n > 0;
	valid = given && gnutls_certificate_verify_peers2(ci->tls_session, &status) == 0 &&
		status == 0;
	switch (srv->wc->client_auth) {
	case CLIENT_AUTH_REQUIRE_ANY:
		return given;
	case CLIENT_AUTH_VERIFY_IF_GIVEN:
		return !given || valid;
	default:
		return valid;
	}
}

/* TLS client certificate, then basic auth: a response queued, or NULL to go on. */
static const char *refusal(struct prom_server *srv, struct MHD_Connection *conn,
			   unsigned *status)
{
	if (!srv->wc)
		return NULL;
	if (srv->wc->tls && !client_cert_ok(srv, conn)) {
		*status = MHD_HTTP_FORBIDDEN;
		return "403 Forbidden: a valid client certificate is required\n";
	}
	if (srv->wc->nusers &&
	    !basic_auth_check(srv->wc, &srv->auth,
			      MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							  MHD_HTTP_HEADER_AUTHORIZATION))) {
		*status = MHD_HTTP_UNAUTHORIZED;
		return "401 Unauthorized\n";
	}
	return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **req_cls)
{
	static const char *const allow[] = { MHD_HTTP_HEADER_ALLOW, "GET, HEAD" };
	static const char *const challenge[] = { MHD_HTTP_HEADER_WWW_AUTHENTICATE,
						 "Basic realm=\"bccflow\", charset=\"UTF-8\"" };
	struct prom_server *srv = cls;
	struct MHD_Response *r;
	struct prom_text *t;
	enum MHD_Result ret;
	const char *refused;
	unsigned status;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;
	refused = refusal(srv, conn, &status);
	if (refused)
		return queue_static(srv, conn, status, refused,
				    status == MHD_HTTP_UNAUTHORIZED ? challenge : NULL);
	if (strcmp(url, "/metrics") != 0)
		return queue_static(srv, conn, MHD_HTTP_NOT_FOUND,
				    "404 Not Found: bccflow serves /metrics\n", NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return queue_static(srv, conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				    "405 Method Not Allowed: use GET\n", allow);

	pthread_mutex_lock(&srv->mu);
	t = srv->cur;
	atomic_fetch_add(&t->refs, 1);
	pthread_mutex_unlock(&srv->mu);

	/* the response holds the reference until libmicrohttpd is done with it */
	r = MHD_create_response_from_buffer_with_free_callback_cls(t->len, t->text, text_unref,
								    t);
	if (!r) {
		text_unref(t);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	add_config_headers(srv, r);
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * How many clients may be connected at once: raises the soft limit on open
 * files (up to the hard one) to make room for CONN_LIMIT_MAX of them.
 */
static unsigned conn_limit(void)
{
	struct rlimit rl;
	rlim_t want = CONN_LIMIT_MAX + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return CONN_LIMIT_MIN;
	if (rl.rlim_cur < want) {
		struct rlimit up = { want < rl.rlim_max ? want : rl.rlim_max, rl.rlim_max };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	if (rl.rlim_cur < CONN_LIMIT_MIN + FD_RESERVE)
		return CONN_LIMIT_MIN;
	return rl.rlim_cur - FD_RESERVE < CONN_LIMIT_MAX ? (unsigned)(rl.rlim_cur - FD_RESERVE) :
							    CONN_LIMIT_MAX;
}

/* A listening socket bound to exactly ss, or -1 with the reason in err. */
static int listen_socket(const struct sockaddr_storage *ss, socklen_t sslen, const char *addr,
			 char *err, size_t errlen)
{
	int one = 1, fd, e;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		set_err(err, errlen, "cannot listen on %s: %s", addr, strerror(errno));
		return -1;
	}
	/* a restart must not wait for TIME_WAIT; two listeners still conflict */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* [::]:PORT means IPv6 only; 0.0.0.0:PORT can be bound beside it */
	if (ss->ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)ss, sslen) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
		goto fail;
	return fd;
fail:
	e = errno;
	close(fd);
	if (e == EADDRINUSE)
		set_err(err, errlen, "cannot listen on %s: the address is in use (%s)", addr,
			strerror(e));
	else if (e == EADDRNOTAVAIL)
		set_err(err, errlen, "cannot listen on %s: %s (no local interface has it)", addr,
			strerror(e));
	else
		set_err(err, errlen, "cannot listen on %s: %s", addr, strerror(e));
	return -1;
}

struct prom_server *prom_open(const struct sockaddr_storage *ss, socklen_t sslen, char *err,
			      size_t errlen)
{
	struct prom_server *srv;
	char *empty;

	if (!ss || (ss->ss_family != AF_INET && ss->ss_family != AF_INET6)) {
		set_err(err, errlen, "cannot listen: not an IPv4 or IPv6 address");
		return NULL;
	}
	srv = calloc(1, sizeof(*srv));
	empty = calloc(1, 1);
	if (!srv || !empty || !(srv->cur = text_new(empty, 0))) {
		free(empty);
		free(srv);
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	format_addr(ss, srv->addr, sizeof(srv->addr));
	srv->family = ss->ss_family;
	srv->fd = listen_socket(ss, sslen, srv->addr, err, errlen);
	if (srv->fd < 0) {
		text_unref(srv->cur);
		free(srv);
		return NULL;
	}
	pthread_mutex_init(&srv->mu, NULL);
	return srv;
}

/* TLS options for libmicrohttpd, into opts (room for 5); the count. */
static int tls_options(const struct web_config *wc, struct MHD_OptionItem *opts, char *prio,
		       size_t priolen)
{
	int n = 0;

	if (!wc || !wc->tls)
		return 0;
	web_config_priorities(wc, prio, priolen);
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, wc->cert_pem };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, wc->key_pem };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0, prio };
	/* a trust list makes libmicrohttpd ask clients for a certificate */
	if (wc->ca_pem && wc->client_auth > CLIENT_AUTH_NONE)
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0, wc->ca_pem };
	return n;
}

int prom_serve(struct prom_server *srv, const struct web_config *wc, char *err, size_t errlen)
{
	struct MHD_OptionItem opts[8];
	struct stat before, after;
	sigset_t all, old;
	char prio[128];
	unsigned flags;
	int n;

	srv->wc = wc;
	n = tls_options(wc, opts, prio, sizeof(prio));
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	fstat(srv->fd, &before);
	/* epoll: thousands of clients; select() could not watch past 1024 descriptors */
	flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	if (srv->family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (wc && wc->tls)
		flags |= MHD_USE_TLS;
	/*
	 * The server thread inherits the signal mask: with everything blocked,
	 * SIGINT/SIGTERM always reach (and interrupt) the monitor's thread.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
				       MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, srv,	/* first */
				       MHD_OPTION_LISTEN_SOCKET, (MHD_socket)srv->fd,
				       MHD_OPTION_CONNECTION_LIMIT, conn_limit(),
				       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
				       MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
				       MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_lock(&srv->mu);
	srv->started = true;
	pthread_mutex_unlock(&srv->mu);
	if (!srv->daemon) {
		/* libmicrohttpd closes the socket on some failure paths only */
		if (fstat(srv->fd, &after) == 0 && after.st_ino == before.st_ino &&
		    after.st_dev == before.st_dev)
			close(srv->fd);
		srv->fd = -1;
		set_err(err, errlen, "cannot serve metrics on %s: %s", srv->addr,
			srv->start_msg[0] ? srv->start_msg : "libmicrohttpd failed to start");
		return -1;
	}
	return 0;
}

struct prom_server *prom_start(const struct sockaddr_storage *ss, socklen_t sslen, char *err,
			       size_t errlen)
{
	struct prom_server *srv = prom_open(ss, sslen, err, errlen);

	if (srv && prom_serve(srv, NULL, err, errlen)) {
		prom_stop(srv);
		return NULL;
	}
	return srv;
}

void prom_publish(struct prom_server *srv, char *text, size_t len)
{
	struct prom_text *t, *old;

	if (!srv || !text) {
		free(text);
		return;
	}
	t = text_new(text, len);
	if (!t) {	/* keep serving the previous exposition */
		free(text);
		return;
	}
	pthread_mutex_lock(&srv->mu);
	old = srv->cur;
	srv->cur = t;
	pthread_mutex_unlock(&srv->mu);
	text_unref(old);
}

void prom_stop(struct prom_server *srv)
{
	if (!srv)
		return;
	if (srv->daemon)
		MHD_stop_daemon(srv->daemon);	/* joins its thread, closes every socket */
	else if (srv->fd >= 0)
		close(srv->fd);
	text_unref(srv->cur);
	pthread_mutex_destroy(&srv->mu);
	free(srv);
}
