/* SPDX-License-Identifier: MIT */
/* Where the attach methods are named, and the order --attach auto tries them in. */
#ifndef BCCFLOW_BACKEND_H
#define BCCFLOW_BACKEND_H

#include <stdbool.h>

enum backend {
	BACKEND_AUTO = 0,
	BACKEND_FENTRY,
	BACKEND_KPROBE,
	BACKEND_TRACEPOINT,
	BACKEND_RAW_TRACEPOINT,
	BACKEND_TP_BTF,
};
#define BACKEND_NCHOICES (BACKEND_TP_BTF + 1)
#define BACKEND_NMETHODS (BACKEND_NCHOICES - 1)	/* all but auto */

/* As --attach takes them: "auto", "fentry", ... */
extern const char *const backend_names[BACKEND_NCHOICES];
const char *backend_name(enum backend b);

/*
 * Whether b's programs read the socket's protocol themselves (struct
 * sock.sk_protocol from BTF): raw tracepoints run for sockets of every
 * protocol and, unlike the plain tracepoint's record, do not carry it.
 */
bool backend_reads_sk_protocol(enum backend b);

/* The methods to try for want, in order, into out; returns how many. */
int backend_candidates(enum backend want, enum backend out[BACKEND_NMETHODS]);

#endif
