/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/types.h>
#include <bcc/libbpf.h>

#include "drain.h"

int parse_cpu_list(const char *s)
{
	int max = -1;

	while (s && *s && *s != '\n') {
		char *end;
		long a = strtol(s, &end, 10), b;

		if (end == s || a < 0)
			return -1;
		b = a;
		if (*end == '-') {
			s = end + 1;
			b = strtol(s, &end, 10);
			if (end == s || b < a)
				return -1;
		}
		if (b > max)
			max = (int)b;
		s = end;
		if (*s == ',')
			s++;
		else if (*s && *s != '\n')
			return -1;
	}
	return max < 0 || max > 65535 ? -1 : max + 1;
}

static int possible_cpus(void)
{
	char buf[256] = "";
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	return parse_cpu_list(buf);
}

/*
 * Maps the socket array when the probe made it mappable and its claims
 * table exists: each interval then reads the claimed slots from memory.
 * Otherwise (a --probe text without them) the array is read whole.
 */
static void map_socks(struct drain *d)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = d->socks_slots * sizeof(struct sock_flow);
	void *p;

	if (d->sock_claims_fd < 0 || page <= 0)
		return;
	len = (len + (size_t)page - 1) / (size_t)page * (size_t)page;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, d->socks_fd, 0);
	if (p == MAP_FAILED)
		return;
	d->sock_map = p;
	d->sock_map_len = len;
}

int drain_init(struct drain *d, const struct drain_fds *fds, size_t cap)
{
	memset(d, 0, sizeof(*d));
	d->flows_fd = fds->flows;
	d->socks_fd = fds->socks;
	d->closed_fd = fds->closed;
	d->tuples_fd = fds->tuples;
	d->stats_fd = fds->stats;
	d->cgroup_dirs_fd = fds->cgroup_dirs;
	d->sock_claims_fd = fds->sock_claims;
	d->socks_slots = fds->socks_slots;
	d->cap = cap;
	d->ncpus = possible_cpus();
	if (d->ncpus < 1)
		return -EINVAL;
	d->keys = calloc(cap, sizeof(*d->keys));
	d->vals = calloc(cap, sizeof(*d->vals));
	d->closed = calloc(cap, sizeof(*d->closed));
	d->percpu = calloc((size_t)d->ncpus, sizeof(*d->percpu));
	if (d->socks_fd >= 0) {
		d->slot_ids = calloc(d->socks_slots, sizeof(*d->slot_ids));
		d->claim_owners = calloc(d->socks_slots, sizeof(*d->claim_owners));
		d->sock_keys = calloc(d->socks_slots, sizeof(*d->sock_keys));
		d->sock_vals = calloc(d->socks_slots, sizeof(*d->sock_vals));
		map_socks(d);
	}
	if (!d->keys || !d->vals || !d->closed || !d->percpu ||
	    (d->socks_fd >= 0 && (!d->slot_ids || !d->claim_owners || !d->sock_keys ||
				  !d->sock_vals))) {
		drain_free(d);
		return -ENOMEM;
	}
	return 0;
}

void drain_free(struct drain *d)
{
	free(d->keys);
	free(d->vals);
	free(d->closed);
	free(d->percpu);
	if (d->sock_map)
		munmap(d->sock_map, d->sock_map_len);
	d->sock_map = NULL;
	free(d->slot_ids);
	free(d->claim_owners);
	d->claim_owners = NULL;
	free(d->sock_keys);
	free(d->sock_vals);
	d->slot_ids = NULL;
	d->sock_keys = NULL;
	d->sock_vals = NULL;
	d->keys = NULL;
	d->vals = NULL;
	d->closed = NULL;
	d->percpu = NULL;
}

/* One map's keys and values, a few syscalls for the whole table. */
struct table {
	int fd;
	size_t cap, key_size, val_size;
	void *keys, *vals;
};

/* Batch lookup. -EINVAL (or -ENOTSUP) if the kernel lacks it. */
static ssize_t read_batch(const struct table *t)
{
	__u32 in = 0, out = 0, count;
	size_t n = 0;
	bool first = true;
	int rc;

	do {
		count = (__u32)(t->cap - n);
		if (!count)
			break;
		rc = bpf_lookup_batch(t->fd, first ? NULL : &in, &out,
				      (char *)t->keys + n * t->key_size,
				      (char *)t->vals + n * t->val_size, &count);
		/* the last call says ENOENT and still returns entries */
		if (rc && errno != ENOENT)
			return -errno;
		n += count;
		in = out;
		first = false;
	} while (!rc);
	return (ssize_t)n;
}

/* Fallback for kernels before 5.6: one key at a time (no values if vals is NULL). */
static ssize_t read_iter(const struct table *t)
{
	char *keys = t->keys, *vals = t->vals;
	void *prev = NULL;
	size_t n = 0;

	while (n < t->cap && bpf_get_next_key(t->fd, prev, keys + n * t->key_size) == 0) {
		void *k = keys + n * t->key_size;

		if (vals && bpf_lookup_elem(t->fd, k, vals + n * t->val_size))
			continue;	/* deleted meanwhile: try the next key from prev */
		prev = k;
		n++;
	}
	return (ssize_t)n;
}

static ssize_t read_table(struct drain *d, const struct table *t)
{
	ssize_t n = -EINVAL;

	if (!d->no_batch) {
		n = read_batch(t);
		if (n == -EINVAL || n == -ENOTSUP || n == -EOPNOTSUPP)
			d->no_batch = true;
	}
	if (d->no_batch)
		n = read_iter(t);
	return n;
}

static ssize_t ops_read_flows(void *ctx, const struct flow_key **keys,
			      const struct flow_val **vals)
{
	struct drain *d = ctx;
	struct table t = { d->flows_fd, d->cap, sizeof(*d->keys), sizeof(*d->vals),
			   d->keys, d->vals };

	*keys = d->keys;
	*vals = d->vals;
	return read_table(d, &t);
}

/*
 * One entry from the mapped array: its counters (added by BPF programs as
 * we read) each with one 64-bit load, never torn.
 */
static void copy_slot(struct sock_flow *to, struct sock_flow *from)
{
	memcpy(to, from, sizeof(*to));
	to->val.rx_bytes = __atomic_load_n(&from->val.rx_bytes, __ATOMIC_RELAXED);
	to->val.tx_bytes = __atomic_load_n(&from->val.tx_bytes, __ATOMIC_RELAXED);
	to->events = __atomic_load_n(&from->events, __ATOMIC_RELAXED);
	to->flags = __atomic_load_n(&from->flags, __ATOMIC_ACQUIRE);
}

/* The claimed slots' entries, copied from the mapped array into sock_vals. */
static ssize_t read_claimed(struct drain *d)
{
	struct table t = { d->sock_claims_fd, d->socks_slots, sizeof(*d->slot_ids),
			   sizeof(*d->claim_owners), d->slot_ids, d->claim_owners };
	ssize_t n = read_table(d, &t), m = 0;

	for (ssize_t i = 0; i < n; i++) {
		if (d->slot_ids[i] >= d->socks_slots)
			continue;
		d->slot_ids[m] = d->slot_ids[i];
		copy_slot(&d->sock_vals[m++], &d->sock_map[d->slot_ids[i]]);
	}
	return n < 0 ? n : m;
}

/* The socket array's ready entries, by slot: free and half-made ones are left out. */
static ssize_t ops_read_socks(void *ctx, const __u64 **keys, const struct sock_flow **vals)
{
	struct drain *d = ctx;
	struct table t = { d->socks_fd, d->socks_slots, sizeof(*d->slot_ids),
			   sizeof(*d->sock_vals), d->slot_ids, d->sock_vals };
	ssize_t n = d->sock_map ? read_claimed(d) : read_table(d, &t), ready = 0;

	for (ssize_t i = 0; i < n; i++) {
		if (!(d->sock_vals[i].flags & SOCK_FLOW_READY))
			continue;
		d->sock_keys[ready] = d->slot_ids[i];
		d->sock_vals[ready++] = d->sock_vals[i];
	}
	*keys = d->sock_keys;
	*vals = d->sock_vals;
	return n < 0 ? n : ready;
}

/* Deletes key from a hash map, returning its last value: 0, -ENOENT or -errno. */
static int take(int fd, void *key, void *last)
{
	if (bpf_lookup_and_delete(fd, key, last) == 0)
		return 0;
	if (errno == ENOENT)
		return -ENOENT;
	/* kernels before 5.14 lack lookup-and-delete on hash maps */
	if (bpf_lookup_elem(fd, key, last))
		return -errno;
	return bpf_delete_elem(fd, key) && errno != ENOENT ? -errno : 0;
}

/* Whether slot i is read and written in the mapped array (else by syscalls). */
static bool slot_mapped(const struct drain *d, __u32 i)
{
	return d->sock_map && i < d->socks_slots;
}

/* Slot i's entry into *to: 0 or -errno. */
static int read_slot(struct drain *d, __u32 i, struct sock_flow *to)
{
	if (slot_mapped(d, i)) {
		copy_slot(to, &d->sock_map[i]);
		return 0;
	}
	return bpf_lookup_elem(d->socks_fd, &i, to) ? -errno : 0;
}

/* Zeroes slot i, so the next entry made there starts from nothing: 0 or -errno. */
static int clear_slot(struct drain *d, __u32 i)
{
	struct sock_flow zero;

	if (slot_mapped(d, i)) {
		memset(&d->sock_map[i], 0, sizeof(d->sock_map[i]));
		return 0;
	}
	memset(&zero, 0, sizeof(zero));
	return bpf_update_elem(d->socks_fd, &i, &zero, BPF_ANY) ? -errno : 0;
}

/*
 * Frees a slot, returning its entry's last value: zeroed first, then its
 * claim deleted, so the next entry made there starts from nothing.
 */
static int ops_evict_sock(void *ctx, __u64 slot, struct sock_flow *last)
{
	struct drain *d = ctx;
	__u32 i = (__u32)slot;
	int err = read_slot(d, i, last);

	if (err)
		return err;
	if (!(last->flags & SOCK_FLOW_READY))
		return -ENOENT;
	err = clear_slot(d, i);
	if (err)
		return err;
	if (d->sock_claims_fd >= 0 && bpf_delete_elem(d->sock_claims_fd, &i) && errno != ENOENT)
		return -errno;
	return 0;
}

static ssize_t ops_read_closed(void *ctx, const struct flow_key **keys)
{
	struct drain *d = ctx;

	struct table t = { d->closed_fd, d->cap, sizeof(*d->closed), 0, d->closed, NULL };

	*keys = d->closed;
	return read_iter(&t);
}

static int ops_evict(void *ctx, const struct flow_key *k, struct flow_val *last)
{
	struct drain *d = ctx;

	return take(d->flows_fd, (void *)k, last);
}

static int ops_unmark(void *ctx, const struct flow_key *k)
{
	struct drain *d = ctx;

	/* the tuple's flows are all gone: forget the tuple as well */
	if (d->tuples_fd >= 0 && bpf_delete_elem(d->tuples_fd, (void *)k) && errno != ENOENT)
		return -errno;
	return bpf_delete_elem(d->closed_fd, (void *)k) ? -errno : 0;
}

static int ops_read_stats(void *ctx, __u64 out[STAT_MAX])
{
	struct drain *d = ctx;

	for (__u32 i = 0; i < STAT_MAX; i++) {
		out[i] = 0;
		if (bpf_lookup_elem(d->stats_fd, &i, d->percpu))
			return -errno;
		for (int c = 0; c < d->ncpus; c++)
			out[i] += d->percpu[c];
	}
	return 0;
}

int drain_cgroup_dir(void *ctx, __u64 id, char *path, size_t len)
{
	struct drain *d = ctx;
	struct cgroup_dir g;

	if (d->cgroup_dirs_fd < 0 || !len)
		return -ENOENT;
	if (bpf_lookup_elem(d->cgroup_dirs_fd, &id, &g))
		return -errno;
	snprintf(path, len, "%.*s", (int)sizeof(g.path), g.path);
	return 0;
}

struct map_ops drain_ops(struct drain *d)
{
	return (struct map_ops){
		.ctx = d,
		.read_flows = ops_read_flows,
		.read_socks = d->socks_fd >= 0 ? ops_read_socks : NULL,
		.evict_sock = ops_evict_sock,
		.read_closed = ops_read_closed,
		.evict = ops_evict,
		.unmark = ops_unmark,
		.read_stats = ops_read_stats,
	};
}
