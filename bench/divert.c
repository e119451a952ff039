/* SPDX-License-Identifier: MIT */
/*
 * divert.so: an LD_PRELOAD shim for the per-call benchmark (percall.py). A
 * monitor run under it loads and attaches as usual, except on the two
 * tracepoints named in BENCH_DIVERT_TPS: there it hands the program to the
 * benchmark, which attaches and detaches it around single runs of traffic,
 * while the monitor goes on (its tables, its drains, its evictions). That
 * lets no-monitor and monitor runs alternate every half second instead of
 * every monitor start-up, so slow drift of the host cancels out.
 *
 * Diverted: BPF_RAW_TRACEPOINT_OPEN of a raw tracepoint of those names, or
 * of a BTF raw tracepoint program named after one (truncated to 15
 * characters), and PERF_EVENT_IOC_SET_BPF on a perf event of a tracepoint
 * id in BENCH_DIVERT_IDS (whose perf_event_open gets a stand-in fd). Each goes as one message on a SOCK_SEQPACKET
 * connection to BENCH_DIVERT (a unix socket path), "rawtp NAME",
 * "tp_btf NAME" or "perf ID", with the program's fd attached; the shim
 * waits for "ok" and then returns what the monitor expects (a stand-in fd
 * that closes like a link, or 0). Without BENCH_DIVERT it changes nothing.
 *
 * Build: cc -std=c11 -O2 -Wall -Wextra -shared -fPIC -o divert.so divert.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>

#define MAX_PERF_FDS 4096

/* the tracepoint id of each stand-in for a diverted perf event, by fd (0: none) */
static unsigned long perf_tp[MAX_PERF_FDS];

static long (*real_syscall)(long, ...);
static int (*real_ioctl)(int, unsigned long, ...);
static int (*real_close)(int);

static void resolve(void)
{
	if (!real_syscall)
		real_syscall = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	if (!real_ioctl)
		real_ioctl = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
	if (!real_close)
		real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
}

/*
 * name is one of BENCH_DIVERT_TPS (comma-separated); with trunc, as the
 * kernel keeps a program's name: its first BPF_OBJ_NAME_LEN - 1 characters.
 */
static int wanted_tp(const char *name, int trunc)
{
	const char *list = getenv("BENCH_DIVERT_TPS"), *p = list;

	if (!getenv("BENCH_DIVERT") || !list || !*name)
		return 0;
	while (*p) {
		size_t len = strcspn(p, ",");

		if (trunc && len > BPF_OBJ_NAME_LEN - 1)
			len = BPF_OBJ_NAME_LEN - 1;
		if (strlen(name) == len && strncmp(p, name, len) == 0)
			return 1;
		p += strcspn(p, ",");
		p += *p == ',';
	}
	return 0;
}

static int wanted_id(unsigned long id)
{
	const char *list = getenv("BENCH_DIVERT_IDS");
	char *end;

	if (!getenv("BENCH_DIVERT") || !list)
		return 0;
	for (const char *p = list; *p; p = end + (*end == ',')) {
		unsigned long v = strtoul(p, &end, 10);

		if (end == p)
			return 0;
		if (v == id)
			return 1;
	}
	return 0;
}

/* Hands prog_fd to the benchmark with msg; 0 once it said "ok". */
static int hand_over(const char *msg, int prog_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char cbuf[CMSG_SPACE(sizeof(int))], reply[16] = "";
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = strlen(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	int s, e;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", getenv("BENCH_DIVERT"));
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	memset(cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &prog_fd, sizeof(int));
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || sendmsg(s, &mh, 0) < 0 ||
	    recv(s, reply, sizeof(reply) - 1, 0) < 2 || strncmp(reply, "ok", 2) != 0) {
		e = errno ? errno : EPROTO;
		fprintf(stderr, "divert: cannot hand over \"%s\" to %s: %s\n", msg,
			getenv("BENCH_DIVERT"), strerror(e));
		close(s);
		errno = e;
		return -1;
	}
	close(s);
	return 0;
}

/* The program's name, as the kernel keeps it (15 characters at most). */
static int prog_name(int prog_fd, char *name, size_t len)
{
	struct bpf_prog_info info;
	union bpf_attr attr;

	memset(&info, 0, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (__u32)prog_fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (__u64)(unsigned long)&info;
	if (real_syscall(__NR_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr)) < 0)
		return -1;
	snprintf(name, len, "%s", info.name);
	return 0;
}

/* A raw tracepoint open to divert: a stand-in fd, or -2 when not ours. */
static long divert_raw_tp(const union bpf_attr *attr)
{
	const char *tp = (const char *)(unsigned long)attr->raw_tracepoint.name;
	int prog = (int)attr->raw_tracepoint.prog_fd;
	char name[BPF_OBJ_NAME_LEN + 1] = "", msg[128];

	if (tp) {
		if (!wanted_tp(tp, 0))
			return -2;
		snprintf(msg, sizeof(msg), "rawtp %s", tp);
	} else {
		if (prog_name(prog, name, sizeof(name)) < 0 ||
		    !wanted_tp(name, 1))
			return -2;
		snprintf(msg, sizeof(msg), "tp_btf %s", name);
	}
	if (hand_over(msg, prog) < 0)
		return -1;
	return open("/dev/null", O_RDONLY | O_CLOEXEC);	/* closes like a link */
}

/*
 * A perf event on a diverted tracepoint is not opened at all: even without
 * a program it would register the tracepoint's perf probe, and a second
 * probe on a tracepoint makes every call dearer (a loop of indirect calls
 * instead of one direct call). Its stand-in takes the ioctls.
 */
long syscall(long n, ...)
{
	long a[6], r;
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	resolve();
	if (n == __NR_bpf && a[0] == BPF_RAW_TRACEPOINT_OPEN && a[1]) {
		r = divert_raw_tp((const union bpf_attr *)a[1]);
		if (r != -2)
			return r;
	}
	if (n == __NR_perf_event_open && a[0]) {
		const struct perf_event_attr *pa = (const struct perf_event_attr *)a[0];

		if (pa->type == PERF_TYPE_TRACEPOINT && wanted_id((unsigned long)pa->config)) {
			r = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (r >= MAX_PERF_FDS) {
				close((int)r);
				errno = EMFILE;
				return -1;
			}
			if (r >= 0)
				perf_tp[r] = (unsigned long)pa->config;
			return r;
		}
	}
	r = real_syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (n == __NR_perf_event_open && r >= 0 && r < MAX_PERF_FDS)
		perf_tp[r] = 0;
	return r;
}

int ioctl(int fd, unsigned long req, ...)
{
	char msg[64];
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	resolve();
	if (fd >= 0 && fd < MAX_PERF_FDS && perf_tp[fd]) {
		if (req != PERF_EVENT_IOC_SET_BPF)
			return 0;	/* enable, disable: nothing to do on a stand-in */
		snprintf(msg, sizeof(msg), "perf %lu", perf_tp[fd]);
		return hand_over(msg, (int)(long)arg);
	}
	return real_ioctl(fd, req, arg);
}

/* A closed stand-in's number may come back as any other file. */
int close(int fd)
{
	resolve();
	if (fd >= 0 && fd < MAX_PERF_FDS)
		perf_tp[fd] = 0;
	return real_close(fd);
}
