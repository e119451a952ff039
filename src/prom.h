/* SPDX-License-Identifier: MIT */
/*
 * Prometheus / OpenMetrics text exposition and the /metrics HTTP endpoint
 * (libmicrohttpd). The monitor renders a complete exposition after every
 * interval and publishes it; scrapes are served from another thread and
 * always see one whole, consistent exposition.
 */
#ifndef BCCFLOW_PROM_H
#define BCCFLOW_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <linux/types.h>

#define PROM_MAX_LABELS 10

struct prom_label {
	const char *name;	/* e.g. "comm", "pid", "raddr", "lport" */
	const char *value;	/* any bytes; escaped when rendered */
};

/* One series: rx/tx byte counters since bccflow started (monotonic). */
struct prom_series {
	struct prom_label labels[PROM_MAX_LABELS];
	int nlabels;
	__u64 rx_bytes;
	__u64 tx_bytes;
};

/* bccflow's own metrics. */
struct prom_self {
	__u64 flows_tracked;		/* gauge: flows in the kernel table */
	__u64 dropped_events;		/* counter: events lost to a full table */
	__u64 dropped_bytes;		/* counter: their bytes */
	__u64 intervals;		/* counter: intervals collected */
	__u64 bpf_events;		/* counter: events counted by the probes */
	__u64 series_limited;		/* gauge: groups folded into the "other" series */
	bool bpf_known;			/* else the two below are unknown: not rendered */
	__u64 bpf_run_ns, bpf_runs;	/* counters: our BPF programs' run time, runs */
	__u64 cpu_ns;			/* counter: bccflow's own CPU time */
	const char *attach;		/* info label: backend in use */
	const char *version;
};

/*
 * Renders the whole exposition text (Prometheus text format 0.0.4):
 * bccflow_rx_bytes_total / bccflow_tx_bytes_total for every series, then
 * the self metrics, each family with # HELP and # TYPE. malloc'd, NUL
 * terminated; *len is set. NULL on out of memory.
 */
char *prom_render(const struct prom_series *s, size_t n, const struct prom_self *self,
		  size_t *len);

/*
 * Parses "ADDR:PORT" ("127.0.0.1:9877", "[::1]:9877", "0.0.0.0:9877",
 * "[::]:9877"; port 1..65535; numeric addresses only). 0, or -1 with a
 * one-line reason in err.
 */
int prom_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sslen,
		      char *err, size_t errlen);

struct prom_server;
struct web_config;

/*
 * Binds the listening socket, without serving yet: a busy port is found
 * before anything is compiled, and serving starts only once privileges are
 * dropped (the server thread then inherits none). NULL with a reason in err
 * (e.g. "127.0.0.1:9877 is in use") when the address cannot be bound.
 */
struct prom_server *prom_open(const struct sockaddr_storage *ss, socklen_t sslen, char *err,
			      size_t errlen);
/*
 * Starts serving GET /metrics (404 elsewhere) on an opened server: over
 * HTTPS when wc has TLS, asking for basic auth when it has users (wc may be
 * NULL; it must outlive the server). Until the first prom_publish() it
 * serves an empty exposition. 0, or -1 with a reason in err.
 */
int prom_serve(struct prom_server *srv, const struct web_config *wc, char *err, size_t errlen);
/* prom_open() then prom_serve() without a web config (for tests). */
struct prom_server *prom_start(const struct sockaddr_storage *ss, socklen_t sslen, char *err,
			       size_t errlen);
/* Replaces the served exposition; takes ownership of text (malloc'd). */
void prom_publish(struct prom_server *srv, char *text, size_t len);
void prom_stop(struct prom_server *srv);

#endif
