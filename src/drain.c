/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int drain_init(struct drain *d, int flows_fd, int closed_fd, int tuples_fd, int stats_fd,
	       size_t cap)
{
	memset(d, 0, sizeof(*d));
	d->flows_fd = flows_fd;
	d->closed_fd = closed_fd;
	d->tuples_fd = tuples_fd;
	d->stats_fd = stats_fd;
	d->cap = cap;
	d->ncpus = possible_cpus();
	if (d->ncpus < 1)
		return -EINVAL;
	d->keys = calloc(cap, sizeof(*d->keys));
	d->vals = calloc(cap, sizeof(*d->vals));
	d->closed = calloc(cap, sizeof(*d->closed));
	d->percpu = calloc((size_t)d->ncpus, sizeof(*d->percpu));
	if (!d->keys || !d->vals || !d->closed || !d->percpu) {
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
	d->keys = NULL;
	d->vals = NULL;
	d->closed = NULL;
	d->percpu = NULL;
}

/* Batch lookup: a few syscalls for the whole table. -EINVAL if unsupported. */
static ssize_t read_batch(struct drain *d)
{
	__u32 in = 0, out = 0, count;
	size_t n = 0;
	bool first = true;
	int rc;

	do {
		count = (__u32)(d->cap - n);
		if (!count)
			break;
		rc = bpf_lookup_batch(d->flows_fd, first ? NULL : &in, &out, d->keys + n,
				      d->vals + n, &count);
		/* the last call says ENOENT and still returns entries */
		if (rc && errno != ENOENT)
			return -errno;
		n += count;
		in = out;
		first = false;
	} while (!rc);
	return (ssize_t)n;
}

/* Fallback for kernels before 5.6: one key at a time. */
static ssize_t read_iter(int fd, struct flow_key *keys, struct flow_val *vals, size_t cap)
{
	struct flow_key *prev = NULL;
	size_t n = 0;

	while (n < cap && bpf_get_next_key(fd, prev, &keys[n]) == 0) {
		if (vals && bpf_lookup_elem(fd, &keys[n], &vals[n]))
			continue;	/* deleted meanwhile: try the next key from prev */
		prev = &keys[n++];
	}
	return (ssize_t)n;
}

static ssize_t ops_read_flows(void *ctx, const struct flow_key **keys,
			      const struct flow_val **vals)
{
	struct drain *d = ctx;
	ssize_t n = -EINVAL;

	if (!d->no_batch) {
		n = read_batch(d);
		if (n == -EINVAL || n == -ENOTSUP || n == -EOPNOTSUPP)
			d->no_batch = true;
	}
	if (d->no_batch)
		n = read_iter(d->flows_fd, d->keys, d->vals, d->cap);
	*keys = d->keys;
	*vals = d->vals;
	return n;
}

static ssize_t ops_read_closed(void *ctx, const struct flow_key **keys)
{
	struct drain *d = ctx;

	*keys = d->closed;
	return read_iter(d->closed_fd, d->closed, NULL, d->cap);
}

static int ops_evict(void *ctx, const struct flow_key *k, struct flow_val *last)
{
	struct drain *d = ctx;

	if (bpf_lookup_and_delete(d->flows_fd, (void *)k, last) == 0)
		return 0;
	if (errno == ENOENT)
		return -ENOENT;
	/* kernels before 5.14 lack lookup-and-delete on hash maps */
	if (bpf_lookup_elem(d->flows_fd, (void *)k, last))
		return -errno;
	return bpf_delete_elem(d->flows_fd, (void *)k) && errno != ENOENT ? -errno : 0;
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

struct map_ops drain_ops(struct drain *d)
{
	return (struct map_ops){
		.ctx = d,
		.read_flows = ops_read_flows,
		.read_closed = ops_read_closed,
		.evict = ops_evict,
		.unmark = ops_unmark,
		.read_stats = ops_read_stats,
	};
}
