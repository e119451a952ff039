/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the report layer and every output format. A pool of flows
 * (odd comm bytes: quotes, backslashes, control bytes, invalid UTF-8,
 * 15- and 16-byte names without NUL; IPv4, IPv6 and v4-mapped addresses)
 * moves bytes over a few intervals; each interval goes through
 * report_build() (src/report.c) with fuzzed --by/--sort/--rows/--listen,
 * then format_table(), format_json(), format_json_start(),
 * format_csv_header() and format_csv() (src/format.c), and the live
 * screen's layout (src/screen_layout.c) at a fuzzed size and view.
 *
 * Checks against a model kept here: the rows' sums equal the interval's
 * (others row included); one row per group; group totals are the sums of
 * their flows' bytes since first seen; a row shows its flow's comm; rows
 * are sorted and the others row holds only the smallest. Output: every JSON
 * line is one valid object (RFC 8259, UTF-8) with the right numbers and the
 * comm decoded back to its bytes (invalid ones as U+FFFD); every CSV line
 * has the header's field count (RFC 4180) and the right numbers; the table
 * has the right lines and no control characters; the screen's frame has
 * no more lines than its height, none wider than its width, the status
 * line first, and no control bytes but its colour codes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <sys/socket.h>

#include "format.h"
#include "fuzz_common.h"
#include "report.h"
#include "screen_layout.h"

#define POOL 12
#define MAX_IV 4

struct pflow {
	struct flow_entry e;		/* key and comm fixed; numbers per interval */
	__u64 rx_total, tx_total;
};

struct model_group {
	int id;				/* group identity (see group_id) */
	__u64 rx_total, tx_total;
	bool seen;
};

static const unsigned char mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static void make_addr(struct fdp *d, __u16 family, __u8 a[16])
{
	memset(a, 0, 16);
	switch (fdp_u8(d) & 3) {
	case 0:	/* loopback */
		if (family == AF_INET) {
			a[0] = 127;
			a[3] = 1;
		} else {
			a[15] = 1;
		}
		break;
	case 1:	/* v4-mapped (or plain IPv4) */
		if (family == AF_INET) {
			fdp_bytes(d, a, 4);
		} else {
			memcpy(a, mapped_prefix, 12);
			fdp_bytes(d, a + 12, 4);
		}
		break;
	default:
		fdp_bytes(d, a, family == AF_INET ? 4 : 16);
	}
}

static void make_comm(struct fdp *d, char comm[FLOW_COMM_LEN], const struct pflow *pool,
		      int n)
{
	uint8_t how = fdp_u8(d);

	if (n && (how & 0xc0) == 0xc0) {	/* the same name as another flow */
		memcpy(comm, pool[how % n].e.comm, FLOW_COMM_LEN);
		return;
	}
	fdp_bytes(d, comm, FLOW_COMM_LEN);
	/* the kernel's names end by NUL at 15 at the latest; now and then not */
	if ((how & 0x30) != 0x30)
		comm[how % FLOW_COMM_LEN] = '\0';
}

/* Which group a key belongs to under by: the index of its first member. */
static bool same_group(enum group_by by, bool map_v4, const struct flow_entry *a,
		       const struct flow_entry *b)
{
	struct flow_key ka = a->key, kb = b->key;

	switch (by) {
	case BY_FLOW:
		return !memcmp(&ka, &kb, sizeof(ka));
	case BY_PID:
		return ka.pid == kb.pid;
	case BY_COMM:
		return !strncmp(a->comm, b->comm, FLOW_COMM_LEN - 1);
	case BY_LPORT:
		return ka.lport == kb.lport;
	case BY_CGROUP:
		return ka.cgroup == kb.cgroup;
	case BY_CONTAINER:	/* the fuzzed flows have no names: container 0 */
		return true;
	case BY_RADDR:
		for (int i = 0; i < 2; i++) {
			struct flow_key *k = i ? &kb : &ka;

			if (map_v4 && k->family == AF_INET6 && !memcmp(k->raddr, mapped_prefix, 12)) {
				k->family = AF_INET;
				memmove(k->raddr, k->raddr + 12, 4);
				memset(k->raddr + 4, 0, 12);
			}
		}
		return ka.family == kb.family && !memcmp(ka.raddr, kb.raddr, 16);
	}
	return false;
}

static __u64 sat(__u64 a, __u64 b)
{
	return a + b < a ? ~0ULL : a + b;
}

static __u64 sort_value(__u64 rd, __u64 td, __u64 rt, __u64 tt, enum sort_key s)
{
	switch (s) {
	case SORT_RX:
		return rd;
	case SORT_TX:
		return td;
	case SORT_RX_TOTAL:
		return rt;
	case SORT_TX_TOTAL:
		return tt;
	case SORT_TOTAL_ALL:
		return sat(rt, tt);
	default:
		return sat(rd, td);
	}
}

/* Does report row w stand for the group of pool flow f? (its key holds the --by fields) */
static bool row_is_group(const struct report_row *w, const struct flow_entry *f,
			 enum group_by by, bool map_v4)
{
	struct flow_entry r = { .key = w->key };

	memcpy(r.comm, w->comm, FLOW_COMM_LEN);
	return same_group(by, map_v4, &r, f);
}

struct out_check {
	const struct report *r;
	const struct options *o;
	const struct interval *iv;
	size_t line;
	int csv_fields;
	struct sbuf err;
};

static void json_line(const char *line, size_t n, void *arg)
{
	struct out_check *c = arg;
	const struct report *r = c->r;
	uint64_t v;

	CHECK(json_object_line(line, n), "JSON line %zu is not one valid object: %.*s", c->line,
	      (int)n, line);
	if (c->line < r->nrows) {
		const struct report_row *w = &r->rows[c->line];
		struct sbuf want = { 0 }, got = { 0 };

		CHECK(json_member_u64(line, n, "rx_bytes", &v) && v == w->rx_delta, "rx_bytes");
		CHECK(json_member_u64(line, n, "tx_bytes", &v) && v == w->tx_delta, "tx_bytes");
		CHECK(json_member_u64(line, n, "rx_total", &v) && v == w->rx_total, "rx_total");
		CHECK(json_member_u64(line, n, "tx_total", &v) && v == w->tx_total, "tx_total");
		if (!w->others && (r->by == BY_FLOW || r->by == BY_PID || r->by == BY_COMM)) {
			CHECK(json_member_str(line, n, "comm", &got), "no comm string: %.*s", (int)n,
			      line);
			ref_utf8_fix(w->comm, FLOW_COMM_LEN, &want);
			CHECK(got.len == want.len && (!got.len || !memcmp(got.s, want.s, got.len)),
			      "comm decodes to other bytes: %.*s", (int)n, line);
		}
		sb_free(&want);
		sb_free(&got);
	} else {
		CHECK(c->line == r->nrows, "JSON: more lines than rows + 1");
		CHECK(json_member_u64(line, n, "rx_bytes", &v) && v == c->iv->rx_bytes,
		      "interval rx_bytes");
		CHECK(json_member_u64(line, n, "flows", &v) && v == c->iv->nrows, "interval flows");
	}
	c->line++;
}

/* the widest CSV line (--by flow) has 17 fields: room for a few more */
#define CSV_MAX_FIELDS 24

static void csv_line(const char *line, size_t n, void *arg)
{
	struct out_check *c = arg;
	struct sbuf f[CSV_MAX_FIELDS];
	int nf;

	memset(f, 0, sizeof(f));
	nf = csv_split(line, n, f, CSV_MAX_FIELDS);
	CHECK(nf > 0, "CSV line %zu is malformed: %.*s", c->line, (int)n, line);
	if (c->line == 0) {
		c->csv_fields = nf;
	} else {
		const struct report_row *w = &c->r->rows[c->line - 1];
		int ci = c->r->by == BY_COMM ? 2 : 3;	/* where comm is, if shown */

		CHECK(nf == c->csv_fields, "CSV line %zu has %d fields, the header %d: %.*s",
		      c->line, nf, c->csv_fields, (int)n, line);
		CHECK(c->line - 1 < c->r->nrows, "CSV: more lines than rows");
		CHECK(strtoull(f[nf - 4].s, NULL, 10) == w->rx_delta &&
		      strtoull(f[nf - 3].s, NULL, 10) == w->tx_delta &&
		      strtoull(f[nf - 2].s, NULL, 10) == w->rx_total &&
		      strtoull(f[nf - 1].s, NULL, 10) == w->tx_total, "CSV numbers: %.*s", (int)n,
		      line);
		if (!w->others && (c->r->by == BY_FLOW || c->r->by == BY_PID || c->r->by == BY_COMM)) {
			char want[FLOW_COMM_LEN + 1];
			size_t k;

			for (k = 0; k < FLOW_COMM_LEN && w->comm[k]; k++) {
				unsigned char ch = (unsigned char)w->comm[k];

				want[k] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
			}
			want[k] = '\0';
			CHECK(f[ci].len == k && !memcmp(f[ci].s, want, k), "CSV comm: %.*s", (int)n,
			      line);
		}
	}
	for (int i = 0; i < CSV_MAX_FIELDS; i++)
		sb_free(&f[i]);
	c->line++;
}

static void table_line(const char *line, size_t n, void *arg)
{
	struct out_check *c = arg;

	for (size_t i = 0; i < n;) {
		unsigned char ch = (unsigned char)line[i];
		size_t len = ref_utf8_len((const unsigned char *)line + i, n - i);

		CHECK(ch >= 0x20 && ch != 0x7f, "table line %zu has control byte 0x%02x", c->line,
		      ch);
		if (!fuzz_skip("tablectl")) {
			CHECK(len, "table line %zu has invalid UTF-8 at byte %zu (a terminal may "
			      "take 0x%02x for a C1 control): %.*s", c->line, i, ch, (int)n, line);
			CHECK(!(len == 2 && ch == 0xc2 && (unsigned char)line[i + 1] < 0xa0),
			      "table line %zu has C1 control U+%04X", c->line,
			      (unsigned char)line[i + 1]);
		}
		i += len ? len : 1;
	}
	c->line++;
}

static char *capture(void (*fn)(FILE *, void *), void *arg, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	if (!f)
		abort();
	fn(f, arg);
	if (fclose(f))
		abort();
	return text;
}

struct fmt_args {
	const struct report *r;
	const struct options *o;
	double ts;
	enum backend b;
};

static void do_table(FILE *f, void *a)
{
	struct fmt_args *x = a;

	format_table(f, x->r, x->o);
}

static void do_json(FILE *f, void *a)
{
	struct fmt_args *x = a;

	format_json(f, x->r, x->ts, x->o);
}

static void do_csv(FILE *f, void *a)
{
	struct fmt_args *x = a;

	format_csv_header(f, x->o);
	format_csv(f, x->r, x->ts, x->o);
}

static void do_start(FILE *f, void *a)
{
	struct fmt_args *x = a;

	format_json_start(f, x->b, x->o);
}

/* The live screen's frame of these rows fits, whatever the size and view. */
static const char *fuzz_name(void *ctx, int family, const __u8 *addr, char *buf, size_t len)
{
	(void)family;
	if (!ctx || addr[0] & 1)
		return NULL;
	snprintf(buf, len, "%s", (const char *)ctx);
	return buf;
}

static void check_screen(const struct report *r, const struct options *o, struct fdp *d)
{
	static const char *const names[] = { "h", "a-rather-long-host-name.example.org",
					     "\033[2J\x07", "\xff\xfe" };
	struct scr_status st = { .when = "12:34:56", .attach = "tracepoint",
				 .flows = r->nrows, .tracked = fdp_u32(d),
				 .dropped = fdp_u32(d), .rx_rate = r->rx_bytes,
				 .tx_rate = r->tx_bytes, .bpf_ms = fdp_u16(d) / 10.0 };
	struct scr_view v = { .by = r->by, .sort = o->sort, .totals = fdp_bool(d),
			      .paused = fdp_bool(d), .help = fdp_bool(d), .names = fdp_bool(d),
			      .editing = fdp_bool(d) };
	struct scr_style sty = { .utf8 = fdp_bool(d), .color = fdp_bool(d),
				 .human = fdp_bool(d), .units = o->units, .map_v4 = o->map_v4,
				 .max_rows = o->rows };
	struct scr_input in = { .rows = r->rows, .nrows = r->nrows, .elapsed_s = r->elapsed_s,
				.status = &st, .name = fuzz_name,
				.name_ctx = (void *)names[fdp_u8(d) % 4],
				.message = fdp_bool(d) ? "warning: \033[1mx" : NULL };
	int width = fdp_u16(d) % 400, height = fdp_u16(d) % 120;
	struct scr_frame *f;

	snprintf(v.filter, sizeof(v.filter), "%s", fdp_bool(d) ? "1" : "");
	f = scr_layout(&in, &v, &sty, width, height);
	CHECK(f, "scr_layout failed");
	width = width < 1 ? 1 : width;
	height = height < 1 ? 1 : height;
	CHECK(f->nlines >= 1 && f->nlines <= height, "screen: %d lines for %d", f->nlines,
	      height);
	for (int i = 0; i < f->nlines; i++) {
		const unsigned char *p = (const unsigned char *)f->lines[i];

		CHECK(scr_cells(f->lines[i]) <= width, "screen: line %d wider than %d: %s", i,
		      width, f->lines[i]);
		for (; *p; p++) {
			if (*p == '\033' && sty.color && p[1] == '[') {
				p += strspn((const char *)p + 2, "0123456789;") + 2;
				CHECK(*p == 'm', "screen: a code other than SGR: %s", f->lines[i]);
				continue;
			}
			CHECK(*p >= 0x20 && *p != 0x7f, "screen: control byte 0x%02x in %s", *p,
			      f->lines[i]);
		}
	}
	if (width >= 16)
		CHECK(strstr(f->lines[0], "bccflow 12:34:56"), "screen: no status line first");
	free(f);
}

static void check_outputs(const struct report *r, const struct options *o,
			  const struct interval *iv, struct fdp *d)
{
	struct fmt_args a = { r, o, (double)fdp_u32(d) + fdp_u16(d) / 1000.0,
			      (enum backend)(fdp_u8(d) % 4) };
	struct out_check c = { .r = r, .o = o, .iv = iv };
	size_t len, want;
	char *text, *t;

	text = capture(do_json, &a, &len);
	CHECK(for_lines(text, len, json_line, &c), "JSON output does not end with a newline");
	CHECK(c.line == r->nrows + 1, "JSON: %zu lines for %zu rows", c.line, r->nrows);
	free(text);

	text = capture(do_start, &a, &len);
	CHECK(len && text[len - 1] == '\n' && json_object_line(text, len - 1) &&
	      !memchr(text, '\n', len - 1), "start record is not one JSON line: %s", text);
	free(text);

	memset(&c, 0, sizeof(c));
	c.r = r;
	c.o = o;
	c.iv = iv;
	text = capture(do_csv, &a, &len);
	CHECK(for_lines(text, len, csv_line, &c), "CSV output does not end with a newline");
	CHECK(c.line == r->nrows + 1, "CSV: %zu lines for %zu rows", c.line, r->nrows);
	free(text);

	memset(&c, 0, sizeof(c));
	c.r = r;
	text = capture(do_table, &a, &len);
	t = text;
	CHECK(for_lines(t, len, table_line, &c), "table does not end with a newline");
	want = 1 + r->nrows + (iv->index > 1 ? 1 : 0);
	CHECK(c.line == want, "table: %zu lines, want %zu", c.line, want);
	free(text);
	check_screen(r, o, d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fdp d = { data, size };
	struct pflow pool[POOL];
	struct model_group groups[POOL];
	struct flow_entry *rows[POOL];
	struct options o;
	struct reporter rep;
	int npool, niv;
	unsigned long index;

	memset(&o, 0, sizeof(o));
	o.interval = 1 + fdp_u8(&d);
	o.max_flows = 1 + fdp_u32(&d) % MAX_MAX_FLOWS;
	o.npids = fdp_u8(&d) % (MAX_PID_FILTERS + 1);
	for (int i = 0; i < o.npids; i++)
		o.pids[i] = 1 + (int)(fdp_u32(&d) % 4194303);
	o.by = (enum group_by)(fdp_u8(&d) % (BY_CONTAINER + 1));
	o.sort = (enum sort_key)(fdp_u8(&d) % 6);
	o.rows = fdp_u8(&d) % 8;
	o.units = (enum units)(fdp_u8(&d) % 4);
	o.rate = fdp_bool(&d);
	o.map_v4 = fdp_bool(&d);
	if (fdp_bool(&d)) {
		o.listen = "127.0.0.1:9877";
		o.max_series = fdp_u8(&d) % 4;
	}
	npool = 1 + fdp_u8(&d) % POOL;
	niv = 1 + fdp_u8(&d) % MAX_IV;
	index = 1 + fdp_u8(&d) % 130;

	memset(pool, 0, sizeof(pool));
	for (int i = 0; i < npool; i++) {
		struct flow_key *k = &pool[i].e.key;
		uint8_t sel = fdp_u8(&d);

		k->pid = (sel & 3) == 3 ? fdp_u32(&d) : (__u32)(sel & 3) + 1;
		k->family = (sel & 0x0c) == 0x0c ? fdp_u16(&d) : (sel & 4) ? AF_INET6 : AF_INET;
		k->lport = (sel & 0x10) ? fdp_u16(&d) : 80;
		k->rport = fdp_u16(&d);
		make_addr(&d, k->family, k->laddr);
		make_addr(&d, k->family, k->raddr);
		make_comm(&d, pool[i].e.comm, pool, i);
		pool[i].e.used = true;
		for (int j = 0; j < i; j++) {
			if (!memcmp(&pool[j].e.key, k, sizeof(*k))) {
				/* flows are unique; a step, not an XOR, which could undo itself */
				k->lport = (__u16)(k->lport + 1);
				j = -1;
			}
		}
	}
	if (reporter_init(&rep, &o))
		return 0;
	memset(groups, 0, sizeof(groups));
	/* group identity: the first pool flow of the group */
	for (int i = 0; i < npool; i++) {
		groups[i].id = i;
		for (int j = 0; j < i; j++) {
			if (same_group(o.by, o.map_v4, &pool[j].e, &pool[i].e)) {
				groups[i].id = groups[j].id;
				break;
			}
		}
	}

	for (int v = 0; v < niv; v++, index++) {
		struct interval iv;
		struct report r;
		__u64 grx[POOL] = { 0 }, gtx[POOL] = { 0 };
		size_t gflows[POOL] = { 0 };
		__u64 sum_rx = 0, sum_tx = 0;
		size_t sum_flows = 0;

		memset(&iv, 0, sizeof(iv));
		iv.index = index;
		for (int i = 0; i < npool; i++) {
			struct flow_entry *e = &pool[i].e;
			uint8_t act = fdp_u8(&d);

			e->rx_delta = e->tx_delta = 0;
			if (act & 1) {
				e->rx_delta = fdp_count(&d);
				e->tx_delta = fdp_count(&d);
			}
			if (!e->rx_delta && !e->tx_delta)
				continue;	/* the collector shows only active flows */
			pool[i].rx_total += e->rx_delta;
			pool[i].tx_total += e->tx_delta;
			e->rx_total = pool[i].rx_total;
			e->tx_total = pool[i].tx_total;
			/* any order: report_build sorts */
			if (act & 2 && iv.nrows) {
				rows[iv.nrows] = rows[0];
				rows[0] = e;
			} else {
				rows[iv.nrows] = e;
			}
			iv.nrows++;
			iv.rx_bytes += e->rx_delta;
			iv.tx_bytes += e->tx_delta;
			grx[groups[i].id] += e->rx_delta;
			gtx[groups[i].id] += e->tx_delta;
			gflows[groups[i].id]++;
		}
		iv.rows = rows;
		iv.dropped = fdp_count(&d);
		iv.dropped_bytes = fdp_count(&d);
		iv.events = fdp_count(&d);
		iv.tracked = fdp_u32(&d);
		iv.evicted = fdp_u16(&d);
		iv.collect_us = fdp_u32(&d);
		for (int g = 0; g < npool; g++) {
			if (gflows[g]) {
				groups[g].seen = true;
				groups[g].rx_total += grx[g];
				groups[g].tx_total += gtx[g];
			}
		}

		CHECK(report_build(&rep, &iv, &o, fdp_u8(&d) / 10.0, &r) == 0, "report_build failed");

		/* the model's view of this report */
		{
			bool strict = !fuzz_skip("bypid");
			size_t active = 0, shown = 0;
			bool row_of[POOL] = { false };
			__u64 min_shown = ~0ULL, max_hidden = 0;

			for (int g = 0; g < npool; g++)
				active += gflows[g] != 0 && groups[g].id == g;
			if (!strict)
				;
			else if (o.rows && active > o.rows)
				CHECK(r.nrows == o.rows + 1 && r.rows[o.rows].others,
				      "%zu groups, --rows %u: want %u rows + others, got %zu", active,
				      o.rows, o.rows, r.nrows);
			else
				CHECK(r.nrows == active, "%zu active groups, %zu rows (--by %s%s)", active,
				      r.nrows, group_by_name(o.by), o.listen ? ", --listen" : "");
			for (size_t i = 0; i < r.nrows; i++) {
				const struct report_row *w = &r.rows[i];
				int g = -1;
				__u64 val;

				sum_rx += w->rx_delta;
				sum_tx += w->tx_delta;
				sum_flows += w->nflows;
				if (w->others) {
					CHECK(i == r.nrows - 1 && o.rows, "others row not last");
					continue;
				}
				for (int p = 0; p < npool && g < 0; p++)
					if (gflows[groups[p].id] && row_is_group(w, &pool[p].e, o.by, o.map_v4))
						g = groups[p].id;
				CHECK(g >= 0, "row %zu matches no active group", i);
				CHECK(!strict || !row_of[g],
				      "two rows for one group (--by %s), row %zu pid %u", group_by_name(o.by),
				      i, w->key.pid);
				if (row_of[g])
					continue;
				row_of[g] = true;
				shown++;
				CHECK(!strict || w->nflows == gflows[g], "row %zu: %zu flows, want %zu", i,
				      w->nflows, gflows[g]);
				CHECK(!strict || (w->rx_delta == grx[g] && w->tx_delta == gtx[g]),
				      "row %zu deltas", i);
				if (strict)
					CHECK(w->rx_total == groups[g].rx_total &&
					      w->tx_total == groups[g].tx_total,
					      "row %zu (--by %s%s): totals %llu/%llu, want %llu/%llu", i,
					      group_by_name(o.by), o.listen ? ", --listen" : "",
					      (unsigned long long)w->rx_total, (unsigned long long)w->tx_total,
					      (unsigned long long)groups[g].rx_total,
					      (unsigned long long)groups[g].tx_total);
				if ((o.by == BY_FLOW || o.by == BY_PID) && !fuzz_skip("comm")) {
					bool found = false;

					for (int p = 0; p < npool; p++)
						found |= groups[p].id == g && (pool[p].e.rx_delta ||
									       pool[p].e.tx_delta) &&
							 !memcmp(pool[p].e.comm, w->comm, FLOW_COMM_LEN);
					CHECK(found, "row %zu (--by %s%s) shows comm '%.16s', not its flow's",
					      i, group_by_name(o.by), o.listen ? ", --listen" : "", w->comm);
				}
				val = sort_value(w->rx_delta, w->tx_delta, w->rx_total, w->tx_total, o.sort);
				if (val < min_shown)
					min_shown = val;
				if (i > 0 && !r.rows[i - 1].others)
					CHECK(sort_value(r.rows[i - 1].rx_delta, r.rows[i - 1].tx_delta,
							 r.rows[i - 1].rx_total, r.rows[i - 1].tx_total,
							 o.sort) >= val, "rows not sorted at %zu", i);
			}
			for (int g = 0; g < npool; g++) {
				__u64 val;

				if (!gflows[g] || groups[g].id != g || row_of[g])
					continue;
				val = sort_value(grx[g], gtx[g], groups[g].rx_total, groups[g].tx_total,
						 o.sort);
				if (val > max_hidden)
					max_hidden = val;
			}
			if (strict && shown < active)
				CHECK(max_hidden <= min_shown, "the others row hides a bigger group");
			CHECK(sum_rx == iv.rx_bytes && sum_tx == iv.tx_bytes,
			      "rows sum to %llu/%llu, the interval has %llu/%llu",
			      (unsigned long long)sum_rx, (unsigned long long)sum_tx,
			      (unsigned long long)iv.rx_bytes, (unsigned long long)iv.tx_bytes);
			CHECK(sum_flows == iv.nrows, "rows hold %zu flows, the interval %zu", sum_flows,
			      iv.nrows);
		}
		check_outputs(&r, &o, &iv, &d);
	}
	reporter_free(&rep);
	return 0;
}
