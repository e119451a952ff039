/* SPDX-License-Identifier: MIT */
/* Where output is formatted: the article's table, JSON Lines and CSV. */
#ifndef BCCFLOW_FORMAT_H
#define BCCFLOW_FORMAT_H

#include <stdbool.h>
#include <stdio.h>

#include "opts.h"
#include "report.h"

#define ADDR_STR_LEN 64		/* "[" IPv6 "]:" port, NUL */

/* An address as shown: mapped IPv4 folded to IPv4 when map_v4. */
struct shown_addr {
	int family;		/* 4 or 6 */
	char addr[48];		/* inet_ntop form */
};

void shown_addr(const struct flow_key *k, bool local, bool map_v4, struct shown_addr *out);
/* "tcp", "udp" ("" for anything else) */
const char *proto_name(unsigned proto);
/* "a.b.c.d:port" or "[v6]:port" */
void format_endpoint(const struct shown_addr *a, unsigned port, char *buf, size_t len);

/* Writes s as a JSON string body: escapes, invalid UTF-8 as U+FFFD. */
void json_escape(FILE *out, const char *s, size_t n);
/* Table COMM: control bytes become '?'. */
void comm_printable(const char *comm, char *out, size_t len);
/* The same for any text of at most max bytes (cgroup paths, container names). */
void text_printable(const char *text, size_t max, char *out, size_t len);

/* Longest cgroup path and container name shown, in bytes */
#define CGROUP_TEXT_LEN 4096
#define WORKLOAD_TEXT_LEN 256
/* Bytes per second over elapsed seconds, rounded (elapsed 0: bytes). */
__u64 per_second(__u64 bytes, double elapsed);
/* A byte count in the table's units ("1.50", "1536", "1.5K"). */
void format_amount(char *buf, size_t len, __u64 bytes, enum units u);

/* The rolling table (a pipe, a file, -C); the live screen is screen_layout.c's. */
void format_table(FILE *out, const struct report *r, const struct options *o);
void format_json_start(FILE *out, enum backend b, const struct options *o);
void format_json(FILE *out, const struct report *r, double ts, const struct options *o);
void format_csv_header(FILE *out, const struct options *o);
void format_csv(FILE *out, const struct report *r, double ts, const struct options *o);

#endif
