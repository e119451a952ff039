/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the small formatters of src/format.c and src/report.c on raw
 * bytes: json_escape(), comm_printable(), shown_addr() + format_endpoint()
 * (IPv4, IPv6, v4-mapped, odd families; any buffer size), format_amount()
 * (any unit and buffer size) and group_key().
 *
 * Checks: json_escape() writes a valid JSON string body that decodes to the
 * input cut at its first NUL or n, with each byte outside well-formed UTF-8
 * as U+FFFD; comm_printable() stays in its buffer and maps control bytes to
 * '?'; an endpoint reads back (inet_pton) as the key's address and port and
 * fits ADDR_STR_LEN; amounts are numbers and never overrun their buffer.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <sys/socket.h>

#include "format.h"
#include "fuzz_common.h"
#include "report.h"

static void check_json_escape(const char *s, size_t n)
{
	struct sbuf quoted = { 0 }, got = { 0 }, want = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct jp j;

	if (!f)
		abort();
	json_escape(f, s, n);
	if (fclose(f))
		abort();
	sb_add(&quoted, "\"", 1);
	sb_add(&quoted, text, len);
	sb_add(&quoted, "\"", 1);
	j = (struct jp){ quoted.s, quoted.s + quoted.len, 0 };
	CHECK(jp_string(&j, &got) && j.p == j.end, "json_escape wrote no valid JSON string: %s",
	      quoted.s);
	ref_utf8_fix(s, n, &want);
	CHECK(got.len == want.len && (!got.len || !memcmp(got.s, want.s, got.len)),
	      "json_escape output decodes to other bytes (%zu vs %zu)", got.len, want.len);
	free(text);
	sb_free(&quoted);
	sb_free(&got);
	sb_free(&want);
}

static void check_comm_printable(const char comm[FLOW_COMM_LEN], size_t len)
{
	char out[40];
	size_t i;

	memset(out, 0x55, sizeof(out));
	comm_printable(comm, out, len);
	CHECK(out[len] == 0x55 || len >= sizeof(out), "comm_printable wrote past its buffer");
	for (i = 0; out[i]; i++) {
		unsigned char in = (unsigned char)comm[i], c = (unsigned char)out[i];

		CHECK(i + 1 < len && i < FLOW_COMM_LEN, "comm_printable too long");
		CHECK(c >= 0x20 && c != 0x7f, "control byte 0x%02x left", c);
		/* '?' stands for a control byte, DEL, or a byte of invalid UTF-8 / C1 */
		CHECK(c == in || (c == '?' && (in < 0x20 || in == 0x7f || in >= 0x80)),
		      "byte %zu changed", i);
	}
	CHECK(i == FLOW_COMM_LEN || i + 1 == len || !comm[i], "comm_printable stopped early");
}

static void check_endpoint(const struct flow_key *k, bool local, bool map_v4, size_t buflen)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const __u8 *a = local ? k->laddr : k->raddr;
	unsigned port = local ? k->lport : k->rport;
	struct shown_addr s;
	char buf[ADDR_STR_LEN + 8], full[ADDR_STR_LEN], host[ADDR_STR_LEN];
	unsigned char back[16];
	char *colon;

	memset(&s, 0x55, sizeof(s));
	shown_addr(k, local, map_v4, &s);
	CHECK(s.family == 4 || s.family == 6, "family %d", s.family);
	CHECK(memchr(s.addr, 0, sizeof(s.addr)), "address not NUL-terminated");
	if (k->family == AF_INET || (map_v4 && !memcmp(a, mapped, 12))) {
		CHECK(s.family == 4, "IPv4 shown as family %d", s.family);
		CHECK(inet_pton(AF_INET, s.addr, back) == 1 &&
		      !memcmp(back, k->family == AF_INET ? a : a + 12, 4), "IPv4 '%s' reads back "
		      "as another address", s.addr);
	} else {
		CHECK(s.family == 6, "IPv6 shown as family %d", s.family);
		CHECK(inet_pton(AF_INET6, s.addr, back) == 1 && !memcmp(back, a, 16),
		      "IPv6 '%s' reads back as another address", s.addr);
	}
	format_endpoint(&s, port, full, sizeof(full));
	CHECK(strlen(full) < sizeof(full) - 1, "endpoint '%s' may be cut", full);
	snprintf(host, sizeof(host), "%s", full);
	colon = strrchr(host, ':');
	CHECK(colon && strtoul(colon + 1, NULL, 10) == port, "port of '%s'", full);
	*colon = '\0';
	if (s.family == 6)
		CHECK(host[0] == '[' && colon[-1] == ']', "IPv6 endpoint without brackets: %s", full);
	/* a small buffer is cut, never overrun */
	memset(buf, 0x55, sizeof(buf));
	format_endpoint(&s, port, buf, buflen);
	CHECK(buf[buflen] == 0x55, "format_endpoint wrote past %zu bytes", buflen);
	if (buflen)
		CHECK(!strncmp(buf, full, buflen - 1) && strlen(buf) < buflen, "cut endpoint");
}

static void check_amount(__u64 bytes, enum units u, size_t buflen)
{
	char buf[64], full[64], *end;
	double v;

	memset(buf, 0x55, sizeof(buf));
	format_amount(buf, buflen, bytes, u);
	CHECK(buf[buflen] == 0x55, "format_amount wrote past %zu bytes", buflen);
	format_amount(full, sizeof(full), bytes, u);
	CHECK(strlen(full) < 24, "amount '%s' is wider than the table's buffer", full);
	v = strtod(full, &end);
	CHECK(end != full && v >= 0, "amount '%s' is not a number", full);
	if (u == UNITS_AUTO)
		CHECK(!*end || (end[1] == '\0' && strchr("BKMGTPE", *end)), "amount '%s'", full);
	else
		CHECK(!*end, "amount '%s' has a suffix", full);
}

static void check_group_key(const struct flow_key *k, const char comm[FLOW_COMM_LEN],
			    enum group_by by, bool map_v4)
{
	struct flow_key gk;
	char gcomm[FLOW_COMM_LEN];

	memset(&gk, 0x55, sizeof(gk));
	memset(gcomm, 0x55, sizeof(gcomm));
	group_key(by, map_v4, k, comm, 3, &gk, gcomm);
	CHECK(gcomm[FLOW_COMM_LEN - 1] == '\0', "group comm not NUL-terminated");
	if (by != BY_FLOW && by != BY_PID)
		CHECK(gk.pid == 0, "pid kept in a --by %s key", group_by_name(by));
	if (by != BY_FLOW && by != BY_LPORT)
		CHECK(gk.lport == 0, "lport kept in a --by %s key", group_by_name(by));
	if (by != BY_FLOW)
		CHECK(gk.rport == 0 && gk.pad == 0 && gk.netns == 0,
		      "rport or netns kept in a --by %s key", group_by_name(by));
	if (by != BY_FLOW && by != BY_CGROUP)
		CHECK(gk.cgroup == (by == BY_CONTAINER ? 3u : 0u),
		      "cgroup kept in a --by %s key", group_by_name(by));
	if (by == BY_COMM)
		CHECK(!strncmp(gcomm, comm, FLOW_COMM_LEN - 1), "group comm differs");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fdp d = { data, size };
	uint8_t sel = fdp_u8(&d);
	struct flow_key k;
	char comm[FLOW_COMM_LEN];
	size_t n;

	/* json_escape on the rest of the input, cut at n */
	if ((sel & 0xc0) == 0xc0) {
		n = fdp_u8(&d);
		n = n < d.n ? n : d.n;
		if (sel & 1) {
			/* exactly the bytes there are: no NUL after them */
			char *s = malloc(n ? n : 1);

			if (!s)
				return 0;
			memcpy(s, d.p, n);
			check_json_escape(s, n);
			free(s);
		} else {
			check_json_escape((const char *)d.p, d.n);
		}
		return 0;
	}
	memset(&k, 0, sizeof(k));
	k.pid = fdp_u32(&d);
	switch (sel & 3) {
	case 0:
		k.family = AF_INET;
		fdp_bytes(&d, k.laddr, 4);
		fdp_bytes(&d, k.raddr, 4);
		break;
	case 1:
		k.family = AF_INET6;
		fdp_bytes(&d, k.laddr, 16);
		fdp_bytes(&d, k.raddr, 16);
		break;
	case 2:
		k.family = AF_INET6;
		k.laddr[10] = k.laddr[11] = k.raddr[10] = k.raddr[11] = 0xff;
		fdp_bytes(&d, k.laddr + 12, 4);
		fdp_bytes(&d, k.raddr + 12, 4);
		break;
	default:
		k.family = fdp_u16(&d);
		fdp_bytes(&d, k.laddr, 16);
		fdp_bytes(&d, k.raddr, 16);
	}
	k.lport = fdp_u16(&d);
	k.rport = fdp_u16(&d);
	fdp_bytes(&d, comm, sizeof(comm));

	for (int local = 0; local < 2; local++)
		for (int map = 0; map < 2; map++)
			check_endpoint(&k, local, map, fdp_u8(&d) % (ADDR_STR_LEN + 1));
	check_comm_printable(comm, 1 + fdp_u8(&d) % 24);
	check_json_escape(comm, FLOW_COMM_LEN);
	check_json_escape(comm, fdp_u8(&d) % (FLOW_COMM_LEN + 1));
	for (int u = 0; u < 4; u++)
		check_amount(fdp_count(&d), (enum units)u, fdp_u8(&d) % 40);
	for (int by = 0; by <= BY_CONTAINER; by++)
		check_group_key(&k, comm, (enum group_by)by, sel & 4);
	return 0;
}
