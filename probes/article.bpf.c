/* SPDX-License-Identifier: MIT */
/*
 * TEACHING VARIANT: the blog article's original hooks, in bccflow's tables.
 *
 *   sudo bccflow --attach kprobe --offsets headers --probe probes/article.bpf.c
 *
 * It counts what the article counted, so its numbers are WRONG in the ways
 * the article's were; compare them with the exact built-in probe:
 *
 *  - TX: kprobe on tcp_sendmsg adds its 'size' argument, the bytes the
 *    caller ASKED to send. A non-blocking send that returns EAGAIN or sends
 *    only part still adds everything (bcc issue #2440).
 *  - RX: kprobe on tcp_cleanup_rbuf adds 'copied'. tcp_recvmsg() calls it
 *    more than once with a running total when it loops (MSG_WAITALL,
 *    SO_RCVLOWAT), so the same bytes are added again (bcc issue #5352).
 *  - sendfile() before Linux 6.5 goes through tcp_sendpage(), which the
 *    article does not hook: those bytes are missing.
 *
 * What this file does NOT copy from the article: the read-then-clear of
 * the tables (it loses increments; bccflow keeps cumulative counters), the
 * non-atomic increment, IPv4 only, and /proc/PID/comm at print time.
 * Kprobes only (--attach kprobe); offsets come from the kernel headers.
 */
#include <uapi/linux/ptrace.h>
#include <net/sock.h>
#include "flow.h"

/* The host replaces these with its filters' calls; empty for editors. */
#define FILTER_PID
#define FILTER_KEY

BPF_HASH(flows, struct flow_key, struct flow_val, MAX_FLOWS);
BPF_HASH(closed, struct flow_key, u8, MAX_FLOWS);
BPF_PERCPU_ARRAY(stats, u64, STAT_MAX);

/* int: a filter's call returns 0 from here */
static __always_inline int add(struct sock *sk, u64 bytes, int tx)
{
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct flow_key key = {};
	struct flow_val zero = {}, *val;
	u16 family = sk->__sk_common.skc_family, dport = sk->__sk_common.skc_dport;
	int idx = STAT_EVENTS;
	u64 *events;

	FILTER_PID

	if (family != AF_INET && family != AF_INET6)
		return 0;
	key.pid = pid;
	key.family = family;
	key.lport = sk->__sk_common.skc_num;
	key.rport = ntohs(dport);
	if (family == AF_INET) {
		bpf_probe_read_kernel(key.laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_probe_read_kernel(key.raddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_probe_read_kernel(key.laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_probe_read_kernel(key.raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	FILTER_KEY
	bpf_get_current_comm(zero.comm, sizeof(zero.comm));
	val = flows.lookup_or_try_init(&key, &zero);
	if (!val)
		return 0;
	if (tx)
		lock_xadd(&val->tx_bytes, bytes);
	else
		lock_xadd(&val->rx_bytes, bytes);
	events = stats.lookup(&idx);
	if (events)
		*events += 1;
	return 0;
}

/* the article: bytes asked for, not bytes accepted */
int kprobe__tcp_sendmsg(struct pt_regs *ctx, struct sock *sk, struct msghdr *msg, size_t size)
{
	return add(sk, size, 1);
}

/* the article: a running total that tcp_recvmsg() may report more than once */
int kprobe__tcp_cleanup_rbuf(struct pt_regs *ctx, struct sock *sk, int copied)
{
	return copied > 0 ? add(sk, copied, 0) : 0;
}

/* bccflow's eviction marks, so the table does not fill up */
TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
	struct flow_key key = {};
	u8 one = 1;

	if (args->newstate != TCP_CLOSE || args->protocol != IPPROTO_TCP)
		return 0;
	key.family = args->family;
	key.lport = args->sport;
	key.rport = args->dport;
	if (args->family == AF_INET) {
		__builtin_memcpy(key.laddr, args->saddr, 4);
		__builtin_memcpy(key.raddr, args->daddr, 4);
	} else {
		__builtin_memcpy(key.laddr, args->saddr_v6, 16);
		__builtin_memcpy(key.raddr, args->daddr_v6, 16);
	}
	closed.update(&key, &one);
	return 0;
}
