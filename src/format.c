/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "format.h"

static const unsigned char v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

void shown_addr(const struct flow_key *k, bool local, bool map_v4, struct shown_addr *out)
{
	const __u8 *a = local ? k->laddr : k->raddr;

	if (k->family == AF_INET) {
		out->family = 4;
		inet_ntop(AF_INET, a, out->addr, sizeof(out->addr));
	} else if (map_v4 && !memcmp(a, v4mapped_prefix, sizeof(v4mapped_prefix))) {
		out->family = 4;
		inet_ntop(AF_INET, a + 12, out->addr, sizeof(out->addr));
	} else {
		out->family = 6;
		inet_ntop(AF_INET6, a, out->addr, sizeof(out->addr));
	}
}

void format_endpoint(const struct shown_addr *a, unsigned port, char *buf, size_t len)
{
	if (a->family == 6)
		snprintf(buf, len, "[%s]:%u", a->addr, port);
	else
		snprintf(buf, len, "%s:%u", a->addr, port);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and values past U+10FFFF are invalid */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
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
	size_t i;

	for (i = 0; i + 1 < len && i < FLOW_COMM_LEN && comm[i]; i++) {
		unsigned char c = (unsigned char)comm[i];

		out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	out[i] = '\0';
}

static double kb(__u64 bytes)
{
	return (double)bytes / 1024.0;
}

void format_table_interval(FILE *out, const struct interval *iv, const struct options *o)
{
	if (iv->index > 1)
		fputc('\n', out);
	fprintf(out, "%-7s %-16s %10s %10s %10s %10s %10s %-23s %-23s\n", "PID", "COMM", "RX_KB",
		"TX_KB", "RXSUM_KB", "TXSUM_KB", "SUM_KB", "LADDR", "RADDR");
	for (size_t i = 0; i < iv->nrows; i++) {
		const struct flow_entry *e = iv->rows[i];
		char comm[FLOW_COMM_LEN], la[ADDR_STR_LEN], ra[ADDR_STR_LEN];
		struct shown_addr l, r;

		comm_printable(e->comm, comm, sizeof(comm));
		shown_addr(&e->key, true, o->map_v4, &l);
		shown_addr(&e->key, false, o->map_v4, &r);
		format_endpoint(&l, e->key.lport, la, sizeof(la));
		format_endpoint(&r, e->key.rport, ra, sizeof(ra));
		fprintf(out, "%-7u %-16s %10.2f %10.2f %10.2f %10.2f %10.2f %-23s %-23s\n",
			e->key.pid, comm, kb(e->rx_delta), kb(e->tx_delta), kb(e->rx_total),
			kb(e->tx_total), kb(e->rx_total) + kb(e->tx_total), la, ra);
	}
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
	fprintf(out, ",\"max_flows\":%u}\n", o->max_flows);
}

static void json_flow(FILE *out, const struct flow_entry *e, unsigned long index, double ts,
		      const struct options *o)
{
	struct shown_addr l, r;

	shown_addr(&e->key, true, o->map_v4, &l);
	shown_addr(&e->key, false, o->map_v4, &r);
	fprintf(out, "{\"type\":\"flow\",\"interval\":%lu,\"ts\":%.3f,\"pid\":%u,\"comm\":\"",
		index, ts, e->key.pid);
	json_escape(out, e->comm, FLOW_COMM_LEN);
	fprintf(out, "\",\"family\":%d,\"laddr\":\"%s\",\"lport\":%u,\"raddr\":\"%s\","
		"\"rport\":%u,\"rx_bytes\":%llu,\"tx_bytes\":%llu,\"rx_total\":%llu,"
		"\"tx_total\":%llu}\n", l.family, l.addr, e->key.lport, r.addr, e->key.rport,
		(unsigned long long)e->rx_delta, (unsigned long long)e->tx_delta,
		(unsigned long long)e->rx_total, (unsigned long long)e->tx_total);
}

void format_json_interval(FILE *out, const struct interval *iv, double ts,
			  const struct options *o)
{
	for (size_t i = 0; i < iv->nrows; i++)
		json_flow(out, iv->rows[i], iv->index, ts, o);
	fprintf(out, "{\"type\":\"interval\",\"interval\":%lu,\"ts\":%.3f,\"flows\":%zu,"
		"\"rx_bytes\":%llu,\"tx_bytes\":%llu,\"dropped\":%llu,\"dropped_bytes\":%llu,"
		"\"tracked\":%zu,\"evicted\":%zu,\"events\":%llu,\"collect_us\":%llu}\n",
		iv->index, ts, iv->nrows,
		(unsigned long long)iv->rx_bytes, (unsigned long long)iv->tx_bytes,
		(unsigned long long)iv->dropped, (unsigned long long)iv->dropped_bytes,
		iv->tracked, iv->evicted, (unsigned long long)iv->events,
		(unsigned long long)iv->collect_us);
}
