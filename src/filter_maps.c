/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "filter_maps.h"

/* off: where the network's first byte goes in addr[] */
static void put(struct addr_lpm_key *k, int family, int off, const struct cidr *c)
{
	memset(k, 0, sizeof(*k));
	k->family = (__u32)family;
	k->prefixlen = ADDR_LPM_TAG_BITS + (__u32)(off * 8 + c->prefix);
	for (int bit = 0; bit < c->prefix; bit++)	/* host bits stay zero */
		k->addr[off + bit / 8] |= c->addr[bit / 8] & (0x80 >> (bit % 8));
	if (off == 12) {	/* ::ffff:a.b.c.d */
		k->addr[10] = 0xff;
		k->addr[11] = 0xff;
	}
}

int addr_filter_keys(const struct cidr *list, int n, struct addr_lpm_key *out)
{
	int k = 0;

	for (int i = 0; i < n && k + 2 <= ADDR_LPM_MAX_ENTRIES; i++) {
		if (list[i].family == 4) {
			put(&out[k++], AF_INET, 0, &list[i]);
			put(&out[k++], AF_INET6, 12, &list[i]);
		} else {
			put(&out[k++], AF_INET6, 0, &list[i]);
		}
	}
	return k;
}

static void add_trie(struct filter_maps *m, const char *map, const char *what,
		     const struct cidr *list, int n, struct addr_lpm_key *keys)
{
	if (n == 0)
		return;
	m->init[m->n++] = (struct map_init){
		.map = map, .what = what, .keys = keys, .values = m->one,
		.key_size = sizeof(*keys), .value_size = sizeof(m->one[0]),
		.n = addr_filter_keys(list, n, keys),
	};
}

void filter_maps_build(struct filter_maps *m, const struct options *o, int cgroup_fd)
{
	memset(m, 0, sizeof(*m));
	memset(m->one, 1, sizeof(m->one));
	m->cgroup_fd = cgroup_fd;
	if (cgroup_fd >= 0)
		m->init[m->n++] = (struct map_init){
			.map = "cgroup_filter", .what = "the --cgroup filter",
			.keys = &m->zero, .values = &m->cgroup_fd,
			.key_size = sizeof(int), .value_size = sizeof(int), .n = 1,
		};
	if (o->nports)
		m->init[m->n++] = (struct map_init){
			.map = "port_filter", .what = "the --port filter",
			.keys = o->ports, .values = m->one, .key_size = sizeof(o->ports[0]),
			.value_size = sizeof(m->one[0]), .n = o->nports,
		};
	add_trie(m, "laddr_filter", "the --laddr filter", o->laddr, o->nladdr, m->laddr);
	add_trie(m, "raddr_filter", "the --raddr filter", o->raddr, o->nraddr, m->raddr);
}

__u32 filter_netns_resolve(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), type;

	if (fd < 0) {
		snprintf(err, errlen, "invalid --netns '%s': %s", path, strerror(errno));
		return 0;
	}
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type != CLONE_NEWNET || fstat(fd, &st)) {
		snprintf(err, errlen, "invalid --netns '%s': not a network namespace (expected "
			 "/run/netns/NAME, /proc/PID/ns/net or an inode number)", path);
		close(fd);
		return 0;
	}
	close(fd);
	return (__u32)st.st_ino;
}

int filter_cgroup_open(const char *path, char *err, size_t errlen)
{
	struct statfs sf;
	int fd;

	if (statfs(path, &sf)) {
		snprintf(err, errlen, "invalid --cgroup '%s': %s", path, strerror(errno));
		return -1;
	}
	if (sf.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(err, errlen, "invalid --cgroup '%s': not in a cgroup v2 hierarchy "
			 "(e.g. /sys/fs/cgroup/system.slice)", path);
		return -1;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		snprintf(err, errlen, "invalid --cgroup '%s': %s", path, strerror(errno));
	return fd;
}
