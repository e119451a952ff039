/* SPDX-License-Identifier: MIT */
/*
 * Test helper: UDP traffic over loopback whose byte counts are what the
 * send and receive calls returned, one JSON line per flow as bccflow keys
 * it (pid, local address and port, remote address and port):
 *
 *   udpgen connected   an IPv4 client connect()s and send()s 5 datagrams;
 *                      an unconnected server recvfrom()s them and answers
 *                      each with sendto()
 *   udpgen multi6      one unconnected IPv6 socket sends to two peers
 *                      (sendto); each peer recvfrom()s
 *   udpgen mmsg        sendmmsg() of 8 datagrams, recvmmsg() of them
 *   udpgen peek        each datagram read with MSG_PEEK first, then for real
 *   udpgen full        a receiver with a small buffer; 400 datagrams of 1000
 *                      bytes sent at once, the receiver reads what is queued:
 *                      the kernel drops the rest, which are not bytes received
 *   udpgen many N      N sockets, each sends one datagram to one server and
 *                      closes; the server answers each
 *
 * Every socket is bound to 127.0.0.1 or ::1, so the flows' local addresses
 * are known. A flow line: {"pid","laddr","lport","raddr","rport","rx","tx"}.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[65536];

static void die(const char *what)
{
	fprintf(stderr, "udpgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

struct ep {
	struct sockaddr_storage a;
	socklen_t len;
};

static int udp(int family, struct ep *self)
{
	int s = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(self, 0, sizeof(*self));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&self->a;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		self->len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&self->a;

		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		self->len = sizeof(*in6);
	}
	if (s < 0 || bind(s, (struct sockaddr *)&self->a, self->len) ||
	    getsockname(s, (struct sockaddr *)&self->a, &self->len))
		die("bind");
	return s;
}

static void name(const struct ep *e, char *addr, size_t len, unsigned *port)
{
	if (e->a.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&e->a;

		inet_ntop(AF_INET, &in->sin_addr, addr, (socklen_t)len);
		*port = ntohs(in->sin_port);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&e->a;

		inet_ntop(AF_INET6, &in6->sin6_addr, addr, (socklen_t)len);
		*port = ntohs(in6->sin6_port);
	}
}

static void flow(const struct ep *self, const struct ep *peer, long long rx, long long tx)
{
	char la[64], ra[64];
	unsigned lp, rp;

	name(self, la, sizeof(la), &lp);
	name(peer, ra, sizeof(ra), &rp);
	printf("{\"pid\":%d,\"laddr\":\"%s\",\"lport\":%u,\"raddr\":\"%s\",\"rport\":%u,"
	       "\"rx\":%lld,\"tx\":%lld}\n", getpid(), la, lp, ra, rp, rx, tx);
}

static long long sendto_ep(int s, size_t n, const struct ep *to)
{
	ssize_t r = to ? sendto(s, buf, n, 0, (const struct sockaddr *)&to->a, to->len) :
			 send(s, buf, n, 0);

	if (r < 0)
		die("send");
	return r;
}

static long long recvfrom_ep(int s, int flags, struct ep *from)
{
	ssize_t r;

	from->len = sizeof(from->a);
	r = recvfrom(s, buf, sizeof(buf), flags, (struct sockaddr *)&from->a, &from->len);
	if (r < 0)
		die("recvfrom");
	return r;
}

static void connected(void)
{
	struct ep c, srv, from;
	int cs = udp(AF_INET, &c), ss = udp(AF_INET, &srv);
	long long ctx = 0, crx = 0, srx = 0, stx = 0;

	if (connect(cs, (struct sockaddr *)&srv.a, srv.len))
		die("connect");
	for (int i = 0; i < 5; i++) {
		ctx += sendto_ep(cs, 1000 + 111 * i, NULL);
		srx += recvfrom_ep(ss, 0, &from);
		stx += sendto_ep(ss, 37 + i, &from);
		crx += recv(cs, buf, sizeof(buf), 0);
	}
	flow(&c, &srv, crx, ctx);
	flow(&srv, &c, srx, stx);
}

static void multi6(void)
{
	struct ep s, p1, p2, from;
	int ss = udp(AF_INET6, &s), s1 = udp(AF_INET6, &p1), s2 = udp(AF_INET6, &p2);
	long long r1 = 0, r2 = 0;

	sendto_ep(ss, 3001, &p1);
	sendto_ep(ss, 4002, &p2);
	sendto_ep(ss, 5003, &p1);
	r1 += recvfrom_ep(s1, 0, &from);
	r1 += recvfrom_ep(s1, 0, &from);
	r2 += recvfrom_ep(s2, 0, &from);
	flow(&s, &p1, 0, 8004);
	flow(&s, &p2, 0, 4002);
	flow(&p1, &s, r1, 0);
	flow(&p2, &s, r2, 0);
}

static void mmsg(void)
{
	struct ep a, b;
	int as = udp(AF_INET, &a), bs = udp(AF_INET, &b);
	struct mmsghdr m[8];
	struct iovec io[8];
	struct sockaddr_storage from[8];
	long long tx = 0, rx = 0;
	int n;

	memset(m, 0, sizeof(m));
	for (int i = 0; i < 8; i++) {
		io[i].iov_base = buf;
		io[i].iov_len = 500 + i;
		m[i].msg_hdr.msg_iov = &io[i];
		m[i].msg_hdr.msg_iovlen = 1;
		m[i].msg_hdr.msg_name = &b.a;
		m[i].msg_hdr.msg_namelen = b.len;
	}
	n = sendmmsg(as, m, 8, 0);
	if (n != 8)
		die("sendmmsg");
	for (int i = 0; i < 8; i++)
		tx += m[i].msg_len;
	for (int got = 0; got < 8; got += n) {
		memset(m, 0, sizeof(m));
		for (int i = 0; i < 8; i++) {
			io[i].iov_base = buf;
			io[i].iov_len = sizeof(buf) / 8;
			m[i].msg_hdr.msg_iov = &io[i];
			m[i].msg_hdr.msg_iovlen = 1;
			m[i].msg_hdr.msg_name = &from[i];
			m[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		n = recvmmsg(bs, m, 8 - got, 0, NULL);
		if (n <= 0)
			die("recvmmsg");
		for (int i = 0; i < n; i++)
			rx += m[i].msg_len;
	}
	flow(&a, &b, 0, tx);
	flow(&b, &a, rx, 0);
}

static void peek(void)
{
	struct ep a, b, from;
	int as = udp(AF_INET, &a), bs = udp(AF_INET, &b);
	long long rx = 0;

	for (int i = 0; i < 3; i++) {
		sendto_ep(as, 700 + i, &b);
		recvfrom_ep(bs, MSG_PEEK, &from);
		rx += recvfrom_ep(bs, 0, &from);
	}
	flow(&a, &b, 0, 2103);
	flow(&b, &a, rx, 0);
}

static void full(void)
{
	struct ep a, b, from;
	int as = udp(AF_INET, &a), bs = udp(AF_INET, &b), small = 4096;
	long long rx = 0, tx = 0;
	struct pollfd p = { .fd = bs, .events = POLLIN };

	if (setsockopt(bs, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)))
		die("SO_RCVBUF");
	for (int i = 0; i < 400; i++)
		tx += sendto_ep(as, 1000, &b);
	while (poll(&p, 1, 200) == 1)
		rx += recvfrom_ep(bs, 0, &from);
	flow(&a, &b, 0, tx);
	flow(&b, &a, rx, 0);
}

static void many(int n)
{
	struct ep srv, c, from;
	int ss = udp(AF_INET, &srv);

	for (int i = 0; i < n; i++) {
		int cs = udp(AF_INET, &c);
		long long srx, crx;

		sendto_ep(cs, 100 + i % 50, &srv);
		srx = recvfrom_ep(ss, 0, &from);
		sendto_ep(ss, 10, &from);
		crx = recvfrom_ep(cs, 0, &from);
		close(cs);
		flow(&c, &srv, crx, 100 + i % 50);
		flow(&srv, &c, srx, 10);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2)
		goto usage;
	memset(buf, 'u', sizeof(buf));
	if (!strcmp(argv[1], "connected"))
		connected();
	else if (!strcmp(argv[1], "multi6"))
		multi6();
	else if (!strcmp(argv[1], "mmsg"))
		mmsg();
	else if (!strcmp(argv[1], "peek"))
		peek();
	else if (!strcmp(argv[1], "full"))
		full();
	else if (!strcmp(argv[1], "many") && argc == 3)
		many(atoi(argv[2]));
	else
		goto usage;
	return 0;
usage:
	fprintf(stderr, "usage: udpgen connected|multi6|mmsg|peek|full|many N\n");
	return 2;
}
