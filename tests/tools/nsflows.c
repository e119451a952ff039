/* SPDX-License-Identifier: MIT */
/*
 * Test helper: one process, the same TCP 4-tuple in two network
 * namespaces. In each namespace a server on 127.0.0.1:41001 and a client
 * bound to 127.0.0.1:43001 connected to it; the client of the first sends
 * BYTES_A, that of the second BYTES_B, and each server reads them.
 *
 *   nsflows BYTES_A BYTES_B [NS_A NS_B]
 *
 * With NS_A and NS_B (e.g. /run/netns/x, loopback up) it enters those;
 * without, it makes two namespaces of its own (unshare) and brings their
 * loopback up: they go away with the process, nothing to clean up.
 * Prints one JSON line: pid, ports, each namespace's inode and bytes, as
 * send() and recv() returned them.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPORT 41001
#define CPORT 43001

static void die(const char *what)
{
	fprintf(stderr, "nsflows: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void enter(const char *path)
{
	int fd;

	if (!path) {
		struct ifreq ifr = { 0 };
		int s;

		if (unshare(CLONE_NEWNET))
			die("unshare");
		s = socket(AF_INET, SOCK_DGRAM, 0);
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
		if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr))
			die("lo flags");
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr))
			die("lo up");
		close(s);
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		die(path);
	close(fd);
}

static unsigned long netns_inode(void)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		die("/proc/self/ns/net");
	return (unsigned long)st.st_ino;
}

static int tcp_at(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(s, (struct sockaddr *)&a, sizeof(a)))
		die("bind");
	return s;
}

/* The connected client and server sockets in the present namespace. */
static void pair(int *c, int *a)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(SPORT),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int srv = tcp_at(SPORT);

	if (listen(srv, 1))
		die("listen");
	*c = tcp_at(CPORT);
	if (connect(*c, (struct sockaddr *)&to, sizeof(to)))
		die("connect");
	*a = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
	if (*a < 0)
		die("accept");
	close(srv);
}

/* Sends n bytes from c and reads them at a, a block at a time; bytes moved. */
static long long move(int c, int a, long long n)
{
	static char buf[65536];
	long long sent = 0, got = 0;

	while (sent < n) {
		size_t k = n - sent < (long long)sizeof(buf) ? (size_t)(n - sent) : sizeof(buf);
		ssize_t w = send(c, buf, k, 0), r;

		if (w <= 0)
			die("send");
		sent += w;
		while (got < sent) {
			r = recv(a, buf, sizeof(buf), 0);
			if (r <= 0)
				die("recv");
			got += r;
		}
	}
	return got;
}

int main(int argc, char **argv)
{
	long long want[2], moved[2];
	unsigned long ino[2];
	int c[2], a[2];

	if (argc != 3 && argc != 5) {
		fprintf(stderr, "usage: nsflows BYTES_A BYTES_B [NS_A NS_B]\n");
		return 2;
	}
	want[0] = atoll(argv[1]);
	want[1] = atoll(argv[2]);
	for (int i = 0; i < 2; i++) {
		enter(argc == 5 ? argv[3 + i] : NULL);
		ino[i] = netns_inode();
		pair(&c[i], &a[i]);
	}
	for (int i = 0; i < 2; i++)
		moved[i] = move(c[i], a[i], want[i]);
	printf("{\"pid\":%d,\"sport\":%d,\"cport\":%d,\"netns\":[%lu,%lu],\"bytes\":[%lld,%lld]}\n",
	       getpid(), SPORT, CPORT, ino[0], ino[1], moved[0], moved[1]);
	for (int i = 0; i < 2; i++) {
		close(c[i]);
		close(a[i]);
	}
	return 0;
}
