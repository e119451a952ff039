/* SPDX-License-Identifier: MIT */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <math.h>
#include <string.h>
#include <sys/socket.h>

#include "cgroup_names.h"
#include "format.h"
#include "utf8.h"


void shown_addr(const struct flow_key *k, bool local, bool map_v4, struct shown_addr *out)
{
	const __u8 *a = local ? k->laddr : k->raddr;

	if (k->family == AF_INET) {
		out->family = 4;
		inet_ntop(AF_INET, a, out->addr, sizeof(out->addr));
	} else if (map_v4 && FLOW_MAPPED(a)) {
		out->family = 4;
		inet_ntop(AF_INET, a + 12, out->addr, sizeof(out->addr));
	} else {
		out->family = 6;
		inet_ntop(AF_INET6, a, out->addr, sizeof(out->addr));
	}
}

const char *proto_name(unsigned proto)
{
	return proto == FLOW_PROTO_UDP ? "udp" : proto == FLOW_PROTO_TCP ? "tcp" : "";
}

void format_endpoint(const struct shown_addr *a, unsigned port, char *buf, size_t len)
{
	if (a->family == 6)
		snprintf(buf, len, "[%s]:%u", a->addr, port);
	else
		snprintf(buf, len, "%s:%u", a->addr, port);
}

void json_escape(FILE *out, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;

	for (size_t i = 0; i < n && s[i];) {
		size_t len = utf8_len(s + i, n - i);

		if (len == 0) {
			fputs("\\ufffd", out);
			i++;
		} else if (s[i] == '"' || s[i] == '\\') {
			fprintf(out, "\\%c", s[i++]);
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			fprintf(out, "\\u%04x", s[i++]);
		} else {
			fwrite(s + i, 1, len, out);
			i += len;
		}
	}
}

void comm_printable(const char *comm, char *out, size_t len)
{
	text_printable(comm, FLOW_COMM_LEN, out, len);
}

void text_printable(const char *text, size_t max, char *out, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n = 0, o = 0;

	while (n < max && s[n])
		n++;
	if (n > len - 1)
		n = len - 1;
	/*
	 * A terminal must see no control bytes from a name (C0, DEL, C1
	 * U+0080..U+009F) and no invalid UTF-8: each such byte becomes '?', one
	 * for one, as does a character cut by the end of the buffer.
	 */
	while (o < n) {
		size_t l = utf8_len(s + o, n - o);
		bool bad = l == 0 || s[o] < 0x20 || s[o] == 0x7f ||
			   (l == 2 && s[o] == 0xc2 && s[o + 1] < 0xa0);

		if (l == 0)
			l = 1;
		if (o + l > n) {
			bad = true;
			l = n - o;
		}
		for (size_t k = 0; k < l; k++, o++)
			out[o] = bad ? '?' : (char)s[o];
	}
	out[o] = '\0';
}

void format_amount(char *buf, size_t len, __u64 bytes, enum units u)
{
	static const char suffix[] = "KMGTPE";
	double v = (double)bytes;
	int i = -1;

	switch (u) {
	case UNITS_B:
		snprintf(buf, len, "%llu", (unsigned long long)bytes);
		return;
	case UNITS_MB:
		snprintf(buf, len, "%.2f", v / 1048576.0);
		return;
	case UNITS_AUTO:
		if (bytes < 1024) {
			snprintf(buf, len, "%lluB", (unsigned long long)bytes);
			return;
		}
		while (v >= 1024.0 && i < 5) {
			v /= 1024.0;
			i++;
		}
		snprintf(buf, len, "%.1f%c", v, suffix[i]);
		return;
	default:
		snprintf(buf, len, "%.2f", v / 1024.0);
	}
}

static const char *unit_suffix(enum units u)
{
	switch (u) {
	case UNITS_B:
		return "_B";
	case UNITS_MB:
		return "_MB";
	case UNITS_AUTO:
		return "";
	default:
		return "_KB";
	}
}

__u64 per_second(__u64 bytes, double elapsed)
{
	return elapsed > 0 ? (__u64)llround((double)bytes / elapsed) : bytes;
}

/* Columns before the numbers, per --by. */
static void table_key_header(FILE *out, enum group_by by)
{
	switch (by) {
	case BY_FLOW:
	case BY_PID:
		fprintf(out, "%-7s %-16s", "PID", "COMM");
		break;
	case BY_COMM:
		fprintf(out, "%-16s", "COMM");
		break;
	case BY_RADDR:
		fprintf(out, "%-39s", "RADDR");
		break;
	case BY_LPORT:
		fprintf(out, "%-5s", "LPORT");
		break;
	case BY_CGROUP:
	case BY_CONTAINER:
		break;	/* names of any length: last (table_names) */
	}
}

static const char *cg_path(const struct report_row *w)
{
	return w->cg ? w->cg->path : "";
}

static const char *cg_container(const struct report_row *w)
{
	return w->cg ? w->cg->container : "";
}

/*
 * The columns of names, last on a line since they have any length:
 * CONTAINER and CGROUP for --by cgroup and -w, CONTAINER for --by container.
 */
static void table_names(FILE *out, const struct report_row *w, enum group_by by)
{
	char c[WORKLOAD_TEXT_LEN], p[CGROUP_TEXT_LEN];

	if (w && w->others) {
		fprintf(out, " %s", "(others)");
		return;
	}
	text_printable(w ? cg_container(w) : "CONTAINER", WORKLOAD_TEXT_LEN, c, sizeof(c));
	/* the last column is not padded */
	fprintf(out, by == BY_CONTAINER ? " %s" : " %-12s", *c ? c : "-");
	if (by == BY_CONTAINER)
		return;
	text_printable(w ? cg_path(w) : "CGROUP", CGROUP_TEXT_LEN, p, sizeof(p));
	fprintf(out, " %s", *p ? p : "-");
}

static void table_key(FILE *out, const struct report_row *w, enum group_by by, bool map_v4)
{
	char comm[FLOW_COMM_LEN];
	struct shown_addr a;

	comm_printable(w->comm, comm, sizeof(comm));
	if (w->others) {
		if (by == BY_FLOW || by == BY_PID)
			fprintf(out, "%-7s %-16s", "-", "(others)");
		else if (by != BY_CGROUP && by != BY_CONTAINER)
			fprintf(out, "%-*s", by == BY_RADDR ? 39 : by == BY_LPORT ? 5 : 16,
				"(others)");
		return;
	}
	switch (by) {
	case BY_FLOW:
	case BY_PID:
		fprintf(out, "%-7u %-16s", w->key.pid, comm);
		break;
	case BY_COMM:
		fprintf(out, "%-16s", comm);
		break;
	case BY_RADDR:
		shown_addr(&w->key, false, map_v4, &a);
		fprintf(out, "%-39s", a.addr);
		break;
	case BY_LPORT:
		fprintf(out, "%-5u", w->key.lport);
		break;
	case BY_CGROUP:
	case BY_CONTAINER:
		break;
	}
}

static void table_header(FILE *out, const struct report *r, const struct options *o)
{
	const char *u = unit_suffix(o->units);
	char h[7][24];

	snprintf(h[0], sizeof(h[0]), "RX%s", u);
	snprintf(h[1], sizeof(h[1]), "TX%s", u);
	snprintf(h[2], sizeof(h[2]), "RX%s/s", u);
	snprintf(h[3], sizeof(h[3]), "TX%s/s", u);
	snprintf(h[4], sizeof(h[4]), "RXSUM%s", u);
	snprintf(h[5], sizeof(h[5]), "TXSUM%s", u);
	snprintf(h[6], sizeof(h[6]), "SUM%s", u);
	table_key_header(out, r->by);
	/* no key column first: the numbers start the line */
	fprintf(out, r->by == BY_CGROUP || r->by == BY_CONTAINER ? "%10s %10s" : " %10s %10s",
		h[0], h[1]);
	if (o->rate)
		fprintf(out, " %10s %10s", h[2], h[3]);
	fprintf(out, " %10s %10s %10s", h[4], h[5], h[6]);
	if (r->by == BY_FLOW) {
		fprintf(out, " %-23s %-23s", "LADDR", "RADDR");
		if (o->wide)
			fprintf(out, " %10s", "NETNS");
	} else {
		fprintf(out, " %6s", "FLOWS");
	}
	if ((r->by == BY_FLOW && o->wide) || r->by == BY_CGROUP || r->by == BY_CONTAINER)
		table_names(out, NULL, r->by);
	fputc('\n', out);
}

static void table_row(FILE *out, const struct report_row *w, const struct report *r,
		      const struct options *o)
{
	__u64 v[7] = { w->rx_delta, w->tx_delta, per_second(w->rx_delta, r->elapsed_s),
		       per_second(w->tx_delta, r->elapsed_s), w->rx_total, w->tx_total, 0 };
	char num[24];

	table_key(out, w, r->by, o->map_v4);
	for (int i = 0; i < 6; i++) {
		bool first = i == 0 && (r->by == BY_CGROUP || r->by == BY_CONTAINER);

		if ((i == 2 || i == 3) && !o->rate)
			continue;
		format_amount(num, sizeof(num), v[i], o->units);
		fprintf(out, first ? "%10s" : " %10s", num);
	}
	/* the sum of the shown totals, in the unit (no 64-bit wrap) */
	if (o->units == UNITS_KB || o->units == UNITS_MB)
		snprintf(num, sizeof(num), "%.2f", ((double)w->rx_total + (double)w->tx_total) /
			 (o->units == UNITS_KB ? 1024.0 : 1048576.0));
	else
		format_amount(num, sizeof(num), w->rx_total + w->tx_total, o->units);
	fprintf(out, " %10s", num);
	if (r->by != BY_FLOW) {
		fprintf(out, " %6zu", w->nflows);
		if (r->by == BY_CGROUP || r->by == BY_CONTAINER)
			table_names(out, w, r->by);
		fputc('\n', out);
	} else if (w->others) {
		fprintf(out, " %-23s %zu flows\n", "-", w->nflows);
	} else {
		char la[ADDR_STR_LEN], ra[ADDR_STR_LEN];
		struct shown_addr l, rr;

		shown_addr(&w->key, true, o->map_v4, &l);
		shown_addr(&w->key, false, o->map_v4, &rr);
		format_endpoint(&l, w->key.lport, la, sizeof(la));
		format_endpoint(&rr, w->key.rport, ra, sizeof(ra));
		if (w->key.proto == FLOW_PROTO_UDP) {	/* TCP is the article's default */
			strncat(la, "/udp", sizeof(la) - strlen(la) - 1);
			strncat(ra, "/udp", sizeof(ra) - strlen(ra) - 1);
		}
		fprintf(out, " %-23s %-23s", la, ra);
		if (o->wide) {
			fprintf(out, " %10u", w->key.netns);
			table_names(out, w, r->by);
		}
		fputc('\n', out);
	}
}

void format_table(FILE *out, const struct report *r, const struct options *o)
{
	if (r->iv->index > 1)
		fputc('\n', out);
	table_header(out, r, o);
	for (size_t i = 0; i < r->nrows; i++)
		table_row(out, &r->rows[i], r, o);
}

void format_json_start(FILE *out, enum backend b, const struct options *o)
{
	fprintf(out, "{\"type\":\"start\",\"version\":\"" BCCFLOW_VERSION "\",\"attach\":\"%s\","
		"\"interval_s\":%u,\"pid_filter\":", backend_name(b), o->interval);
	if (o->npids == 0)
		fputs("null", out);
	else if (o->npids == 1)
		fprintf(out, "%d", o->pids[0]);
	else
		for (int i = 0; i < o->npids; i++)
			fprintf(out, "%c%d%s", i ? ',' : '[', o->pids[i],
				i == o->npids - 1 ? "]" : "");
	fprintf(out, ",\"max_flows\":%u,\"by\":\"%s\"}\n", o->max_flows, group_by_name(o->by));
}

static void json_counts(FILE *out, const struct report_row *w)
{
	fprintf(out, "\"rx_bytes\":%llu,\"tx_bytes\":%llu,\"rx_total\":%llu,\"tx_total\":%llu}\n",
		(unsigned long long)w->rx_delta, (unsigned long long)w->tx_delta,
		(unsigned long long)w->rx_total, (unsigned long long)w->tx_total);
}

/* "cgroup" (not for --by container) and "container", each with its comma */
static void json_names(FILE *out, const struct report_row *w, enum group_by by)
{
	if (by != BY_CONTAINER) {
		fputs("\"cgroup\":\"", out);
		json_escape(out, cg_path(w), CGROUP_TEXT_LEN);
		fputs("\",", out);
	}
	fputs("\"container\":\"", out);
	json_escape(out, cg_container(w), WORKLOAD_TEXT_LEN);
	fputs("\",", out);
}

static void json_flow(FILE *out, const struct report_row *w, const struct options *o)
{
	struct shown_addr l, r;

	shown_addr(&w->key, true, o->map_v4, &l);
	shown_addr(&w->key, false, o->map_v4, &r);
	fprintf(out, "\"pid\":%u,\"comm\":\"", w->key.pid);
	json_escape(out, w->comm, FLOW_COMM_LEN);
	fprintf(out, "\",\"proto\":\"%s\",\"family\":%d,\"laddr\":\"%s\",\"lport\":%u,"
		"\"raddr\":\"%s\",\"rport\":%u,\"netns\":%u,", proto_name(w->key.proto), l.family,
		l.addr, w->key.lport, r.addr, w->key.rport, w->key.netns);
	json_names(out, w, BY_FLOW);
}

static void json_group_key(FILE *out, const struct report_row *w, enum group_by by,
			   const struct options *o)
{
	struct shown_addr a;

	switch (by) {
	case BY_PID:
		fprintf(out, "\"pid\":%u,\"comm\":\"", w->key.pid);
		json_escape(out, w->comm, FLOW_COMM_LEN);
		fputs("\",", out);
		break;
	case BY_COMM:
		fputs("\"comm\":\"", out);
		json_escape(out, w->comm, FLOW_COMM_LEN);
		fputs("\",", out);
		break;
	case BY_RADDR:
		shown_addr(&w->key, false, o->map_v4, &a);
		fprintf(out, "\"family\":%d,\"raddr\":\"%s\",", a.family, a.addr);
		break;
	case BY_LPORT:
		fprintf(out, "\"lport\":%u,", w->key.lport);
		break;
	case BY_CGROUP:
	case BY_CONTAINER:
		json_names(out, w, by);
		break;
	default:
		break;
	}
}

void format_json(FILE *out, const struct report *r, double ts, const struct options *o)
{
	const struct interval *iv = r->iv;
	char when[64];

	/* the same on every record: formatting a double per row was a third of the cost */
	snprintf(when, sizeof(when), "\"interval\":%lu,\"ts\":%.3f,", iv->index, ts);
	for (size_t i = 0; i < r->nrows; i++) {
		const struct report_row *w = &r->rows[i];

		if (w->others) {
			fprintf(out, "{\"type\":\"others\",%s\"flows\":%zu,", when, w->nflows);
		} else if (r->by == BY_FLOW) {
			fputs("{\"type\":\"flow\",", out);
			fputs(when, out);
			json_flow(out, w, o);
		} else {
			fprintf(out, "{\"type\":\"group\",\"by\":\"%s\",%s",
				group_by_name(r->by), when);
			json_group_key(out, w, r->by, o);
			fprintf(out, "\"flows\":%zu,", w->nflows);
		}
		json_counts(out, w);
	}
	fprintf(out, "{\"type\":\"interval\",\"interval\":%lu,\"ts\":%.3f,\"flows\":%zu,"
		"\"rx_bytes\":%llu,\"tx_bytes\":%llu,\"dropped\":%llu,\"dropped_bytes\":%llu,"
		"\"tracked\":%zu,\"evicted\":%zu,\"events\":%llu,\"collect_us\":%llu,",
		iv->index, ts, iv->nrows,
		(unsigned long long)iv->rx_bytes, (unsigned long long)iv->tx_bytes,
		(unsigned long long)iv->dropped, (unsigned long long)iv->dropped_bytes,
		iv->tracked, iv->evicted, (unsigned long long)iv->events,
		(unsigned long long)iv->collect_us);
	/* without --bpf-stats unknown: null, the keys kept */
	if (iv->bpf_known)
		fprintf(out, "\"bpf_run_ns\":%llu,\"bpf_runs\":%llu,",
			(unsigned long long)iv->bpf_run_ns, (unsigned long long)iv->bpf_runs);
	else
		fputs("\"bpf_run_ns\":null,\"bpf_runs\":null,", out);
	fprintf(out, "\"cpu_ns\":%llu}\n", (unsigned long long)iv->cpu_ns);
}

/* RFC 4180 quoting when needed; control bytes become '?'. */
static void csv_field(FILE *out, const char *s, size_t n)
{
	bool quote = false;
	size_t len = 0;

	while (len < n && s[len])
		len++;
	for (size_t i = 0; i < len; i++)
		quote |= s[i] == ',' || s[i] == '"' || s[i] == ' ';
	if (quote)
		fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"')
			fputs("\"\"", out);
		else
			fputc(c < 0x20 || c == 0x7f ? '?' : c, out);
	}
	if (quote)
		fputc('"', out);
}

void format_csv_header(FILE *out, const struct options *o)
{
	static const char *const keys[] = {
		[BY_FLOW] = "pid,comm,family,laddr,lport,raddr,rport,netns,cgroup,container,proto",
		[BY_PID] = "pid,comm,flows", [BY_COMM] = "comm,flows",
		[BY_RADDR] = "family,raddr,flows", [BY_LPORT] = "lport,flows",
		[BY_CGROUP] = "cgroup,container,flows", [BY_CONTAINER] = "container,flows",
	};

	fprintf(out, "interval,ts,%s,rx_bytes,tx_bytes,rx_total,tx_total\n", keys[o->by]);
}

static void csv_key(FILE *out, const struct report_row *w, enum group_by by,
		    const struct options *o)
{
	struct shown_addr l, r;

	if (w->others) {
		static const char *const empty[] = {
			[BY_FLOW] = ",(others),,,,,,,,,", [BY_PID] = ",(others),%zu",
			[BY_COMM] = "(others),%zu", [BY_RADDR] = ",(others),%zu", [BY_LPORT] = ",%zu",
			[BY_CGROUP] = "(others),,%zu", [BY_CONTAINER] = "(others),%zu",
		};

		fprintf(out, empty[by], w->nflows);
		return;
	}
	shown_addr(&w->key, true, o->map_v4, &l);
	shown_addr(&w->key, false, o->map_v4, &r);
	switch (by) {
	case BY_FLOW:
		fprintf(out, "%u,", w->key.pid);
		csv_field(out, w->comm, FLOW_COMM_LEN);
		fprintf(out, ",%d,%s,%u,%s,%u,%u,", l.family, l.addr, w->key.lport, r.addr,
			w->key.rport, w->key.netns);
		csv_field(out, cg_path(w), CGROUP_TEXT_LEN);
		fputc(',', out);
		csv_field(out, cg_container(w), WORKLOAD_TEXT_LEN);
		fprintf(out, ",%s", proto_name(w->key.proto));
		break;
	case BY_PID:
		fprintf(out, "%u,", w->key.pid);
		csv_field(out, w->comm, FLOW_COMM_LEN);
		fprintf(out, ",%zu", w->nflows);
		break;
	case BY_COMM:
		csv_field(out, w->comm, FLOW_COMM_LEN);
		fprintf(out, ",%zu", w->nflows);
		break;
	case BY_RADDR:
		fprintf(out, "%d,%s,%zu", r.family, r.addr, w->nflows);
		break;
	case BY_LPORT:
		fprintf(out, "%u,%zu", w->key.lport, w->nflows);
		break;
	case BY_CGROUP:
		csv_field(out, cg_path(w), CGROUP_TEXT_LEN);
		fputc(',', out);
		/* fall through */
	case BY_CONTAINER:
		csv_field(out, cg_container(w), WORKLOAD_TEXT_LEN);
		fprintf(out, ",%zu", w->nflows);
		break;
	}
}

void format_csv(FILE *out, const struct report *r, double ts, const struct options *o)
{
	char when[64];

	snprintf(when, sizeof(when), "%lu,%.3f,", r->iv->index, ts);
	for (size_t i = 0; i < r->nrows; i++) {
		const struct report_row *w = &r->rows[i];

		fputs(when, out);
		csv_key(out, w, r->by, o);
		fprintf(out, ",%llu,%llu,%llu,%llu\n", (unsigned long long)w->rx_delta,
			(unsigned long long)w->tx_delta, (unsigned long long)w->rx_total,
			(unsigned long long)w->tx_total);
	}
}
