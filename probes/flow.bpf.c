/* SPDX-License-Identifier: MIT */
/*
 * bccflow probe text: TCP and UDP payload bytes per (pid, cgroup, network
 * namespace, protocol, family, local, remote).
 *
 * Compiled at run time by libbcc. The host splices probes/flow.h in place
 * of the include line below, follows it with the filters' maps and
 * functions, replaces the two filter placeholders with calls of those
 * functions (the task's pid, comm and cgroup, in count_sock(), on every
 * event; family, ports and addresses in count_slow(), where the 4-tuple is
 * read), and
 * defines exactly one of BCCFLOW_BACKEND_{FENTRY,KPROBE,RAW_TRACEPOINT,
 * TP_BTF,TRACEPOINT} plus MAX_FLOWS (and, for kprobe/fentry, the kernel's
 * tcp_recvmsg flavour and HAVE_TCP_SENDPAGE; for raw tracepoints,
 * OFF_sk_protocol; for tp-btf, the task's offsets and, where the kernel
 * allows it, what finds the current task without a helper (flow.h,
 * FLOW_CURRENT_FIELDS); OFF_net_ns_inum when the kernel has BTF; and
 * HAVE_TP_CGROUP_DIRS when that tracepoint has a 64-bit id; FLOW_STAMPS
 * where entries may skip the cgroup read; FLOW_TASK_FILTER when the task
 * filter has code), and BCCFLOW_COUNT_TCP and/or BCCFLOW_COUNT_UDP for what
 * --proto counts.
 *
 * Exactness rules, for every backend:
 *  - count what the socket layer returned (bytes accepted / delivered),
 *    never what was asked for, and nothing for errors or MSG_PEEK;
 *  - counters are cumulative and added atomically; the host never resets
 *    them, it computes per-interval deltas, so no read/clear race exists;
 *  - a full table is counted in "stats", never silently ignored.
 */
#include <uapi/linux/ptrace.h>
#include "flow.h"

#ifndef MAX_FLOWS
#define MAX_FLOWS 65536
#endif
#if !defined(BCCFLOW_COUNT_TCP) && !defined(BCCFLOW_COUNT_UDP)
#define BCCFLOW_COUNT_TCP 1	/* a text compiled on its own counts both */
#define BCCFLOW_COUNT_UDP 1
#endif

/*
 * The host replaces each filter placeholder below (the task's needs a u32
 * pid in scope, the key's a struct flow_key key) with a call of the filter
 * it generates from the options, or with nothing; the host leaves
 * preprocessor lines alone, so these empty definitions are for editors.
 */
#define FILTER_PID
#define FILTER_KEY

/*
 * Stable Linux ABI values, defined here rather than included: the socket
 * headers would add about a second to every compile.
 */
#define FLOW_MSG_PEEK 2
#define FLOW_TCP_CLOSE 7
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FLOW_NTOHS(x) __builtin_bswap16(x)
#else
#define FLOW_NTOHS(x) (x)
#endif

#ifdef BCCFLOW_BTF_OFFSETS
/*
 * The host read these offsets from the running kernel's BTF and defined
 * OFF_<field> for each: no struct headers, nothing to mismatch.
 */
struct sock;
struct msghdr;
struct page;
#define SK_FIELD(sk, f) ((const char *)(sk) + OFF_##f)
#ifndef OFF_net_ns_inum
#error "BTF offsets need OFF_net_ns_inum (struct net.ns.inum)"
#endif
#else
/* Borrowed headers: the host checks the offsets below against BTF. */
#include <net/sock.h>
#define SK_FIELD(sk, f) ((const char *)&(sk)->__sk_common.f)

/*
 * Layout witnesses: each map's max_entries is 1 + the offset of a field we
 * read through the headers, so the host can compare them with BTF before it
 * loads anything.
 */
#define FLOW_WITNESS(f) BPF_ARRAY(off_##f, u8, 1 + offsetof(struct sock, __sk_common.f));
FLOW_SK_FIELDS(FLOW_WITNESS)
#ifndef OFF_net_ns_inum
#define OFF_net_ns_inum offsetof(struct net, ns.inum)
#endif
#endif

#ifndef SOCK_TABLE_BITS
#define SOCK_TABLE_BITS SOCK_TABLE_MAX_BITS
#endif
/*
 * Sockets used by one process (struct sock_flow), at slots found from the
 * socket's address (sock_slot()): an array, so finding one is an index
 * computation, not a hash lookup. A slot is taken by inserting its index
 * into sock_claims, which only one CPU can do; the host frees it. The host
 * maps the array into its memory and reads only the claimed slots, so an
 * interval costs it in proportion to the sockets, not to the table.
 */
#ifndef BPF_F_MMAPABLE
#define BPF_F_MMAPABLE (1U << 10)
#endif
BPF_F_TABLE("array", u32, struct sock_flow, socks, 1u << SOCK_TABLE_BITS, BPF_F_MMAPABLE);
BPF_HASH(sock_claims, u32, u64, 1u << SOCK_TABLE_BITS);
/* by pid and 4-tuple: what the socket table cannot take */
BPF_HASH(flows, struct flow_key, struct flow_val, MAX_FLOWS);
/*
 * 4-tuples (pid 0) of the flows in the table, and those whose socket reached
 * TCP_CLOSE: the host evicts closed flows and then forgets both. Only
 * tracked tuples get marks, so filtered-out traffic cannot crowd them out.
 */
BPF_HASH(tuples, struct flow_key, u8, MAX_FLOWS);
BPF_HASH(closed, struct flow_key, u8, MAX_FLOWS);
BPF_PERCPU_ARRAY(stats, u64, STAT_MAX);

static __always_inline void stat_add(int idx, u64 n)
{
	u64 *v = stats.lookup(&idx);

	if (v)
		*v += n;	/* per-CPU slot: no other CPU writes it */
}

#ifdef SK_HEAD_PACKED
/*
 * The first 16 bytes of struct sock_common hold the IPv4 addresses and both
 * ports (daddr, rcv_saddr, hash, dport, num; the host checked this in BTF):
 * one read instead of four on the hot path.
 */
struct sk_head {
	u32 daddr;
	u32 rcv_saddr;
	u32 hash;
	u16 dport;
	u16 num;
};

static __always_inline void fill_key(struct flow_key *k, struct sock *sk, u16 family)
{
	struct sk_head h = {};

	bpf_probe_read_kernel(&h, sizeof(h), sk);
	k->lport = h.num;
	k->rport = FLOW_NTOHS(h.dport);
	if (family == FLOW_AF_INET) {
		__builtin_memcpy(k->laddr, &h.rcv_saddr, 4);
		__builtin_memcpy(k->raddr, &h.daddr, 4);
	} else {
		bpf_probe_read_kernel(k->laddr, 16, SK_FIELD(sk, skc_v6_rcv_saddr));
		bpf_probe_read_kernel(k->raddr, 16, SK_FIELD(sk, skc_v6_daddr));
	}
}
#else
static __always_inline void fill_key(struct flow_key *k, struct sock *sk, u16 family)
{
	u16 lport = 0, rport = 0;

	bpf_probe_read_kernel(&lport, sizeof(lport), SK_FIELD(sk, skc_num));
	bpf_probe_read_kernel(&rport, sizeof(rport), SK_FIELD(sk, skc_dport));
	k->lport = lport;
	k->rport = FLOW_NTOHS(rport);
	if (family == FLOW_AF_INET) {
		bpf_probe_read_kernel(k->laddr, 4, SK_FIELD(sk, skc_rcv_saddr));
		bpf_probe_read_kernel(k->raddr, 4, SK_FIELD(sk, skc_daddr));
	} else {
		bpf_probe_read_kernel(k->laddr, 16, SK_FIELD(sk, skc_v6_rcv_saddr));
		bpf_probe_read_kernel(k->raddr, 16, SK_FIELD(sk, skc_v6_daddr));
	}
}
#endif

/*
 * The socket's network namespace as its inode number, what /proc/PID/ns/net
 * and `ip netns` show: sk->__sk_common.skc_net.net->ns.inum.
 */
static __always_inline u32 sk_netns(struct sock *sk)
{
	const char *net = NULL;
	u32 inum = 0;

	bpf_probe_read_kernel(&net, sizeof(net), SK_FIELD(sk, skc_net));
	if (net)
		bpf_probe_read_kernel(&inum, sizeof(inum), net + OFF_net_ns_inum);
	return inum;
}

static __always_inline void add_bytes(struct flow_val *val, u64 bytes, int tx)
{
	if (tx)
		lock_xadd(&val->tx_bytes, bytes);
	else
		lock_xadd(&val->rx_bytes, bytes);
}

/* An event of a flow in the flows table. */
static __always_inline void add_flow_bytes(struct flow_val *val, u64 bytes, int tx)
{
	add_bytes(val, bytes, tx);
	stat_add(STAT_EVENTS, 1);
}

/*
 * An event of a socket entry: counted in the entry, whose cache line the
 * event writes anyway, not in a per-CPU counter of its own (the host sums
 * the entries' counts as it sums their bytes).
 */
static __always_inline int add_sock_bytes(struct sock_flow *sf, u64 bytes, int tx)
{
	add_bytes(&sf->val, bytes, tx);
	lock_xadd(&sf->events, 1);
	return 0;
}

static __always_inline int key_equal(const struct flow_key *a, const struct flow_key *b)
{
	const u32 *x = (const u32 *)a, *y = (const u32 *)b;
	u32 diff = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*a) / sizeof(u32)); i++)
		diff |= x[i] ^ y[i];
	return !diff;
}

/* By pid and 4-tuple: sockets shared between processes, reused addresses. */
static __always_inline int count_tuple(struct flow_key *key, u64 bytes, int tx)
{
	struct flow_val *val = flows.lookup(key);

	if (!val) {
		struct flow_val init;
		u32 pid = key->pid;
		u64 cgroup = key->cgroup;
		u8 one = 1;

		__builtin_memset(&init, 0, sizeof(init));
		bpf_get_current_comm(init.comm, sizeof(init.comm));
		/* re-looks the key up if another CPU inserted it first */
		val = flows.lookup_or_try_init(key, &init);
		if (!val) {
			stat_add(STAT_DROPPED, 1);
			stat_add(STAT_DROPPED_BYTES, bytes);
			return 0;
		}
		if (key->proto == FLOW_PROTO_TCP) {
			/* the 4-tuple in its namespace, as close marks name it */
			key->pid = 0;
			key->cgroup = 0;
			if (tuples.update(key, &one))
				stat_add(STAT_MARKS_LOST, 1);
			key->pid = pid;
			key->cgroup = cgroup;
		}
	}
	add_flow_bytes(val, bytes, tx);
	return 0;
}

/* Whether this text counts protocol proto (--proto). */
static __always_inline int proto_counted(u16 proto)
{
#ifdef BCCFLOW_COUNT_TCP
	if (proto == FLOW_PROTO_TCP)
		return 1;
#endif
#ifdef BCCFLOW_COUNT_UDP
	if (proto == FLOW_PROTO_UDP)
		return 1;
#endif
	return 0;
}

#if defined(BCCFLOW_BACKEND_RAW_TRACEPOINT) || defined(BCCFLOW_BACKEND_TP_BTF)
#define BCCFLOW_PROTO_FROM_SK 1	/* the hooks see sockets of every protocol */
#endif

#ifdef BCCFLOW_PROTO_FROM_SK
#ifndef OFF_sk_protocol
#error "the raw tracepoint backend needs OFF_sk_protocol (struct sock.sk_protocol from BTF)"
#endif
/* The socket's protocol: only a raw tracepoint sees sockets of every protocol. */
static __always_inline u8 sk_proto(struct sock *sk)
{
	u16 protocol = 0;

	bpf_probe_read_kernel(&protocol, sizeof(protocol), (const char *)sk + OFF_sk_protocol);
	return proto_counted(protocol) ? (u8)protocol : 0;
}
#endif

static __always_inline u16 read_sk_family(struct sock *sk)
{
	u16 family = 0;

	bpf_probe_read_kernel(&family, sizeof(family), SK_FIELD(sk, skc_family));
	return family;
}

/*
 * A socket's entries sit in a group of SK_SLOTS slots picked by its address
 * (Fibonacci hashing), at the two slots from its connection hash, skc_hash,
 * on. A socket that took the address of one whose closed entry the host
 * has not freed yet then most often finds its own slot with one lookup,
 * not a walk through the slow path on every event. A UDP socket's hash is
 * set when it binds (its low bits are the local port's), and its release
 * marks the whole group.
 */
#define SK_SLOTS 8

/*
 * A pointer's value as a number: the verifier allows no arithmetic but
 * addition on a typed pointer (a context, or fentry's BTF socket), and a
 * value read back from a map is a plain number.
 */
BPF_PERCPU_ARRAY(sk_addr_buf, u64, 1);

static __always_inline u64 sk_addr(const void *p)
{
	int zero = 0;
	volatile u64 *v = sk_addr_buf.lookup(&zero);

	if (!v)
		return 0;
	*v = (u64)p;
	return *v;
}

/*
 * A socket's number, as entries and slots (sk_group()) know it. Where the
 * hook gives the socket as a typed pointer, its distance from the socket
 * table's first entry, fixed while the programs are loaded: the verifier
 * lets a privileged program subtract two pointers, which costs nothing,
 * where sk_addr() is a map round trip. Elsewhere, its address.
 */
#if defined(BCCFLOW_BACKEND_FENTRY) || defined(BCCFLOW_BACKEND_TP_BTF)
static __always_inline u64 sk_number(const void *sk)
{
	int zero = 0;
	const struct sock_flow *base = socks.lookup(&zero);

	return base ? (u64)sk - (u64)base : 0;
}

/* A socket given as a number (a trace record's address). */
static __always_inline u64 sk_number_of_addr(u64 addr)
{
	int zero = 0;

	return addr - sk_addr(socks.lookup(&zero));
}

/* A socket that is a program's context (struct bpf_sock). */
static __always_inline u64 sk_number_of_ctx(const void *ctx)
{
	return sk_number(ctx);
}
#else
static __always_inline u64 sk_number(const void *sk)
{
	return (u64)sk;	/* the hook gives it as a number */
}

static __always_inline u64 sk_number_of_addr(u64 addr)
{
	return addr;
}

static __always_inline u64 sk_number_of_ctx(const void *ctx)
{
	return sk_addr(ctx);
}
#endif

static __always_inline u32 sk_group(u64 skp)
{
	return (u32)((skp * 0x9E3779B97F4A7C15ull) >> (64 - SOCK_TABLE_BITS)) &
	       ~(u32)(SK_SLOTS - 1);
}

static __always_inline u32 sk_slot(u64 skp, u32 hash, u32 k)
{
	return sk_group(skp) + ((hash + k) & (SK_SLOTS - 1));
}

/* The slot holds a ready entry of socket skp (open or closed). */
static __always_inline int sock_has(const struct sock_flow *sf, u64 skp)
{
	return sf && sf->sk == skp && (sf->flags & SOCK_FLOW_READY);
}

/* Marks socket skp's entry in a slot closed. */
static __always_inline void sock_close(u32 slot, u64 skp)
{
	struct sock_flow *sf = socks.lookup(&slot);

	if (sock_has(sf, skp))
		sf->flags = SOCK_FLOW_READY | SOCK_FLOW_CLOSED;	/* a store is enough */
}

#ifdef SK_HEAD_PACKED
/* skc_hash, the ports and, right after them in every kernel so far, skc_family */
struct sk_id {
	u32 hash;
	u32 ports;
	u16 family;
};

/* The socket's family and hash (its slots): one read where the layout allows. */
static __always_inline u16 read_sk_id(struct sock *sk, u32 *hash)
{
	u32 h = 0;

	if (OFF_skc_family == 16) {
		struct sk_id id = {};

		bpf_probe_read_kernel(&id, sizeof(id), (const char *)sk + 8);
		*hash = id.hash;
		return id.family;
	}
	bpf_probe_read_kernel(&h, sizeof(h), (const char *)sk + 8);
	*hash = h;
	return read_sk_family(sk);
}
#else
/* Without the packed head (header offsets) every socket uses slots 0 and 1. */
static __always_inline u16 read_sk_id(struct sock *sk, u32 *hash)
{
	*hash = 0;
	return read_sk_family(sk);
}
#endif

#if defined(BCCFLOW_BACKEND_TP_BTF) && defined(CURRENT_CAST_ID)
/*
 * The current task without a helper call: a call and its return cost
 * about 20 ns here (return thunks), a third of what an event costs. Each
 * CPU's pointer to its current task is the per-CPU variable current_task;
 * its address on this CPU, once found, is kept in this CPU's slot, and an
 * event reads the task through it (bpf_rdonly_cast() is a kfunc the
 * verifier turns into a register move). 0: not looked for yet; 1 to
 * CURRENT_TRIES: looked for and not found that many times; above: the
 * address.
 */
#define CURRENT_TRIES 16
/* FLOW_KFUNC_<name>: the marker the host makes a call of kfunc name */
#define FLOW_KFUNC_ENUM(name, marker) enum { FLOW_KFUNC_##name = marker };
FLOW_KFUNCS(FLOW_KFUNC_ENUM)
BPF_PERCPU_ARRAY(current_slot, u64, 1);
static void *(*flow_rdonly_cast)(const void *obj, u32 btf_id) = (void *)FLOW_KFUNC_bpf_rdonly_cast;

/*
 * current_task's address on this CPU, or 0. The current task's scheduler
 * entity points to this CPU's run queue, the per-CPU variable runqueues;
 * current_task lies at a known distance from it. The address counts only
 * if it holds the current task, as the helper gives it.
 */
static __always_inline u64 current_slot_find(void)
{
	u64 t = bpf_get_current_task(), cfs = 0, rq = 0, seen = 0, slot;

	bpf_probe_read_kernel(&cfs, sizeof(cfs),
			      (const char *)t + OFF_task_struct_se + OFF_sched_entity_cfs_rq);
	if (!cfs)
		return 0;
	bpf_probe_read_kernel(&rq, sizeof(rq), (const char *)cfs + OFF_cfs_rq_rq);
	if (!rq)
		return 0;
	slot = rq - PCPU_runqueues + PCPU_current_task;
	bpf_probe_read_kernel(&seen, sizeof(seen), (const void *)slot);
	return seen == t ? slot : 0;
}

static __always_inline const char *flow_current_task(void)
{
	int zero = 0;
	u64 *slot = current_slot.lookup(&zero), found;

	if (!slot)
		return (const char *)bpf_get_current_task_btf();
	if (*slot > CURRENT_TRIES)
		return *(const char *const *)flow_rdonly_cast((const void *)*slot, CURRENT_CAST_ID);
	if (*slot < CURRENT_TRIES) {
		found = current_slot_find();
		*slot = found ? found : *slot + 1;
	}
	return (const char *)bpf_get_current_task_btf();
}
#elif defined(BCCFLOW_BACKEND_TP_BTF)
static __always_inline const char *flow_current_task(void)
{
	return (const char *)bpf_get_current_task_btf();
}
#endif

/* The current thread, as who_am_i() finds it. */
struct who {
	u64 stamp;		/* 0 without FLOW_STAMPS */
	u32 pid;		/* its process's id (tgid), where it comes with the thread's */
};

#if defined(BCCFLOW_BACKEND_TP_BTF) && defined(OFF_task_struct_tgid)
/*
 * The current thread's id: a load through the task's typed pointer (the
 * host put the offsets from BTF here), after one helper call or none
 * (flow_current_task()).
 */
static __always_inline u32 current_tid(struct who *me)
{
	me->pid = 0;	/* who_pid() reads it where needed: not on the fast path */
	return *(const u32 *)(flow_current_task() + OFF_task_struct_pid);
}

/* The current process's id (tgid). */
static __always_inline u32 who_pid(const struct who *me)
{
	return *(const u32 *)(flow_current_task() + OFF_task_struct_tgid);
}

/* The current task's cgroup v2 id, as bpf_get_current_cgroup_id() reads it. */
static __always_inline u64 current_cgroup(void)
{
	const char *t = flow_current_task();
	const char *cset = *(const char *const *)(t + OFF_task_struct_cgroups);
	const char *cgrp = *(const char *const *)(cset + OFF_css_set_dfl_cgrp);
	const char *kn = *(const char *const *)(cgrp + OFF_cgroup_kn);

	return *(const u64 *)(kn + OFF_kernfs_node_id);
}
#else
/* The current thread's id, and its process's in me->pid: one helper call. */
static __always_inline u32 current_tid(struct who *me)
{
	u64 id = bpf_get_current_pid_tgid();

	me->pid = id >> 32;
	return (u32)id;
}

static __always_inline u32 who_pid(const struct who *me)
{
	return me->pid;
}

static __always_inline u64 current_cgroup(void)
{
	return bpf_get_current_cgroup_id();
}
#endif

#ifdef FLOW_STAMPS
/*
 * An entry's stamp (struct sock_flow) says which thread last found it its
 * own, and when: while that thread keeps its cgroup, its events need not
 * read the cgroup again (four dependent loads, or a helper call). "When"
 * is the task epoch, which the hooks below advance whenever a task moves
 * to another cgroup or exits (so a thread id cannot be reused within one
 * epoch); a stamp of an earlier epoch, or of another thread, sends the
 * event through the full check. The host sets FLOW_STAMPS only where the
 * kernel has these tracepoints and loads are not reordered with older
 * loads (x86): an event reads the epoch before the cgroup, so a stamp never
 * pairs a cgroup with an epoch that began after the task left it.
 */
BPF_ARRAY(task_epoch, u64, 1);

/* Thread ids are below 2^22 (PID_MAX_LIMIT); the epoch fills the rest. */
#define STAMP_TID_BITS 22

static __always_inline int epoch_advance(void)
{
	int zero = 0;
	u64 *e = task_epoch.lookup(&zero);

	if (e)
		lock_xadd(e, 1);
	return 0;
}

/* FLOW_EPOCH_TRACEPOINTS, one by one: BCC cannot expand the list into probes */
TRACEPOINT_PROBE(cgroup, cgroup_attach_task)
{
	return epoch_advance();
}

TRACEPOINT_PROBE(cgroup, cgroup_transfer_tasks)
{
	return epoch_advance();
}

TRACEPOINT_PROBE(sched, sched_process_exit)
{
	return epoch_advance();
}

/* The current thread's stamp (never 0: thread 0 sends nothing). */
static __always_inline void who_am_i(struct who *me)
{
	int zero = 0;
	u64 *e = task_epoch.lookup(&zero);
	u32 tid = current_tid(me);	/* on every path: it also sets me->pid */

	me->stamp = e ? (*(volatile u64 *)e << STAMP_TID_BITS) | tid : 0;
	asm volatile("" ::: "memory");	/* the epoch before anything after it */
}

/* An event of the thread and epoch of the entry's stamp, on its open TCP socket. */
#define SOCK_STAMPED(sf, skp, st) ((st) && (sf) && (sf)->sk == (skp) && \
				   (sf)->flags == (SOCK_FLOW_READY | SOCK_FLOW_TCP) && \
				   (sf)->stamp == (st))
#else
static __always_inline void who_am_i(struct who *me)
{
	current_tid(me);
	me->stamp = 0;
}

#define SOCK_STAMPED(sf, skp, st) 0
#endif

/* One send or receive, as every step of counting it needs it. */
struct event {
	struct sock *sk;
	u64 skp;		/* the socket's address */
	u32 slot1, slot2;	/* its slots (sk_slot()) */
	u64 bytes;
	u64 cgroup;
	u64 stamp;		/* the thread's (struct who) */
	u32 pid;
	u16 family;
	u8 proto;		/* 0 where the hook does not give it */
	u8 tx;
};

/*
 * The entry counts this process's events, in its present cgroup, on socket
 * skp, which is still open, and its flow is TCP (a UDP event reads the
 * datagram's peer). One compare of the flags says the last two.
 */
#define SOCK_MINE(sf, skp, pid, cg) ((sf) && (sf)->sk == (skp) && \
				     (sf)->flags == (SOCK_FLOW_READY | SOCK_FLOW_TCP) && \
				     (sf)->key.pid == (pid) && (sf)->key.cgroup == (cg))

/* An entry of this thread (SOCK_MINE): stamped, so its next events skip the cgroup. */
static __always_inline int own_sock(struct sock_flow *sf, u64 stamp, u64 bytes, int tx)
{
#ifdef FLOW_STAMPS
	sf->stamp = stamp;
#endif
	return add_sock_bytes(sf, bytes, tx);
}

/*
 * A new entry for key in free slot sf (index slot), or NULL when another
 * CPU claimed the slot first (the tuple table then takes the event). The
 * host zeroed the slot before it freed it.
 */
static __always_inline struct sock_flow *sock_new(struct sock_flow *sf, u32 slot,
						  const struct event *ev, const struct flow_key *key)
{
	u64 owner = ev->skp;

	if (sock_claims.insert(&slot, &owner))
		return NULL;
	__builtin_memcpy(&sf->key, key, sizeof(*key));
	bpf_get_current_comm(sf->val.comm, sizeof(sf->val.comm));
	sf->stamp = ev->stamp;
	sf->sk = ev->skp;
	/* last: readers check it first */
	sf->flags = SOCK_FLOW_READY | (key->proto == FLOW_PROTO_TCP ? SOCK_FLOW_TCP : 0);
	return sf;
}

#ifdef BCCFLOW_COUNT_UDP
/*
 * The remote end of the UDP datagram a thread is sending or has just
 * received, as the cgroup sock_addr hooks below see it (the address the
 * call gave, or the one it returns), with the socket: the counting hook
 * that follows in the same thread takes it. A call that gives or asks for
 * no address (a connected socket, recv() without one) leaves none: the
 * socket's own peer counts, zero when unconnected.
 */
struct udp_peer {
	u64 sk;			/* its number (sk_number()) */
	u16 family;
	u16 port;		/* host byte order */
	u8 addr[16];		/* as in struct flow_key */
};

BPF_HASH(udp_peers, u64, struct udp_peer, 16384);

static __always_inline int note_peer(struct bpf_sock_addr *ctx, int v6)
{
	u64 tid = bpf_get_current_pid_tgid();
	struct udp_peer p;

	__builtin_memset(&p, 0, sizeof(p));
	p.sk = sk_number(ctx->sk);	/* as take_peer() compares it */
	p.port = FLOW_NTOHS((u16)ctx->user_port);
	if (v6) {
		u32 a[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2],
			     ctx->user_ip6[3] };

		p.family = FLOW_AF_INET6;
		__builtin_memcpy(p.addr, a, 16);
	} else {
		u32 a = ctx->user_ip4;

		p.family = FLOW_AF_INET;
		__builtin_memcpy(p.addr, &a, 4);
	}
	udp_peers.update(&tid, &p);
	return 1;	/* allow: these hooks only look */
}

int cgroup_sock_addr__udp4_sendmsg(struct bpf_sock_addr *ctx)
{
	return note_peer(ctx, 0);
}

int cgroup_sock_addr__udp6_sendmsg(struct bpf_sock_addr *ctx)
{
	return note_peer(ctx, 1);
}

int cgroup_sock_addr__udp4_recvmsg(struct bpf_sock_addr *ctx)
{
	return note_peer(ctx, 0);
}

int cgroup_sock_addr__udp6_recvmsg(struct bpf_sock_addr *ctx)
{
	return note_peer(ctx, 1);
}

/*
 * A UDP socket released: its entries stop counting, and the host evicts
 * them and the flows of its local end once idle (UDP has no close state).
 * The context is the struct sock itself. Every slot of the address: a UDP
 * socket's hash may have changed since its entries were made (sk_slot()).
 */
int cgroup_sock__sock_release(struct bpf_sock *ctx)
{
	u64 skp;

	if (ctx->protocol != FLOW_PROTO_UDP)
		return 1;
	skp = sk_number_of_ctx(ctx);
#pragma unroll
	for (u32 k = 0; k < SK_SLOTS; k++)
		sock_close(sk_group(skp) + k, skp);
	return 1;
}

/* Takes this thread's noted peer: 0 with *p set when it is for socket skp. */
static __always_inline int take_peer(u64 skp, struct udp_peer *p)
{
	u64 tid = bpf_get_current_pid_tgid();
	struct udp_peer *n = udp_peers.lookup(&tid);
	int mine;

	if (!n)
		return -1;
	mine = n->sk == skp;
	if (mine)
		__builtin_memcpy(p, n, sizeof(*p));
	udp_peers.delete(&tid);
	return mine ? 0 : -1;
}

/* key's remote end becomes p (an IPv4 peer of an IPv6 socket as ::ffff:a.b.c.d). */
static __always_inline void set_peer(struct flow_key *key, const struct udp_peer *p)
{
	key->rport = p->port;
	__builtin_memset(key->raddr, 0, 16);
	if (key->family == FLOW_AF_INET6 && p->family == FLOW_AF_INET) {
		key->raddr[10] = 0xff;
		key->raddr[11] = 0xff;
		__builtin_memcpy(key->raddr + 12, p->addr, 4);
	} else if (p->family == FLOW_AF_INET6) {
		__builtin_memcpy(key->raddr, p->addr, 16);
	} else {
		__builtin_memcpy(key->raddr, p->addr, 4);
	}
}

#endif

/*
 * The socket's slots hold no open entry of this process: read the 4-tuple.
 * An entry of this socket with the same flow still counts it (a closed one:
 * reads after a reset); a free slot gets a new entry (the second slot while
 * the first one holds another); anything else counts by tuple.
 */
static __always_inline int count_slow(const struct event *ev, struct sock_flow *sf,
				      struct sock_flow *sf2)
{
	u16 family = ev->family;
	u8 proto = ev->proto;
	struct flow_key key;

#ifdef BCCFLOW_PROTO_FROM_SK
	proto = sk_proto(ev->sk);
#endif
	if (!proto)
		return 0;
	__builtin_memset(&key, 0, sizeof(key));
	key.pid = ev->pid;
	key.cgroup = ev->cgroup;
	key.family = family;
	key.proto = proto;
	fill_key(&key, ev->sk, family);
	key.netns = sk_netns(ev->sk);
#ifdef BCCFLOW_COUNT_UDP
	if (proto == FLOW_PROTO_UDP) {
		struct udp_peer p;

		/* this datagram's peer; else the socket's, which connect() may change */
		if (take_peer(ev->skp, &p) == 0)
			set_peer(&key, &p);
	}
#endif
	FILTER_KEY

	if (sock_has(sf, ev->skp) && key_equal(&sf->key, &key))
		return add_sock_bytes(sf, ev->bytes, ev->tx);
	if (sock_has(sf2, ev->skp) && key_equal(&sf2->key, &key))
		return add_sock_bytes(sf2, ev->bytes, ev->tx);
	if (sf && !sf->sk)
		sf = sock_new(sf, ev->slot1, ev, &key);
	else if (sf2 && !sf2->sk)
		sf = sock_new(sf2, ev->slot2, ev, &key);
	else
		sf = NULL;
	if (sf)
		return add_sock_bytes(sf, ev->bytes, ev->tx);
	return count_tuple(&key, ev->bytes, ev->tx);
}

/*
 * Every event. First one read of the socket (family and hash): sockets of
 * other families (unix, netlink) leave there, before anything else. A
 * process's own open TCP socket then costs two array lookups at most and
 * two atomic adds. UDP events always read the socket further (count_slow()):
 * each datagram may have its own peer. Each socket has two slots
 * (sk_slot()): when a socket closes and the kernel hands its memory to a
 * new one before bccflow has freed the closed entry, the new socket's
 * slots are most often others, and else it takes the second one. The
 * cgroup is the task's at each event: a process moved to another cgroup
 * counts there from its next event on. An entry stamped by this thread in
 * this task epoch (FLOW_STAMPS) skips reading it.
 */
static __always_inline int count_sock(const struct who *me, struct sock *sk, u16 family,
				      u32 hash, u8 proto, u64 bytes, int tx)
{
	u32 pid = 0, slot1, slot2;
	u64 cgroup, skp, stamp = me->stamp;
	struct sock_flow *sf, *sf2;
	struct event ev;

	if (family != FLOW_AF_INET && family != FLOW_AF_INET6)
		return 0;
#ifdef FLOW_TASK_FILTER
	pid = who_pid(me);	/* the filter below needs it on every event */
#endif
	FILTER_PID

	skp = sk_number(sk);
	slot1 = sk_slot(skp, hash, 0);
	slot2 = sk_slot(skp, hash, 1);
	sf = socks.lookup(&slot1);
	if (SOCK_STAMPED(sf, skp, stamp))
		return add_sock_bytes(sf, bytes, tx);
	sf2 = socks.lookup(&slot2);
	if (SOCK_STAMPED(sf2, skp, stamp))
		return add_sock_bytes(sf2, bytes, tx);
#ifndef FLOW_TASK_FILTER
	pid = who_pid(me);	/* else read above */
#endif
	cgroup = current_cgroup();
	if (SOCK_MINE(sf, skp, pid, cgroup))
		return own_sock(sf, stamp, bytes, tx);
	if (SOCK_MINE(sf2, skp, pid, cgroup))
		return own_sock(sf2, stamp, bytes, tx);
	ev.sk = sk;
	ev.skp = skp;
	ev.slot1 = slot1;
	ev.slot2 = slot2;
	ev.bytes = bytes;
	ev.pid = pid;
	ev.cgroup = cgroup;
	ev.stamp = stamp;
	ev.family = family;
	ev.proto = proto;
	ev.tx = tx;
	return count_slow(&ev, sf, sf2);
}

/* The socket's family and hash read with a helper (sockets as numbers). */
static __always_inline int count_bytes(struct sock *sk, u8 proto, u64 bytes, int tx)
{
	struct who me;
	u16 family;
	u32 hash;

	who_am_i(&me);
	family = read_sk_id(sk, &hash);
	return count_sock(&me, sk, family, hash, proto, bytes, tx);
}

/*
 * Eviction marks, for every backend: a TCP socket that reached TCP_CLOSE
 * will carry no more bytes, so the host may delete its flows once idle.
 */
TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
	struct flow_key key;
	u8 one = 1;

	u64 skp = sk_number_of_addr((u64)args->skaddr);
	u32 hash;

	if (args->newstate != FLOW_TCP_CLOSE || args->protocol != FLOW_PROTO_TCP)
		return 0;
	read_sk_id((struct sock *)args->skaddr, &hash);
	/* only one live socket has this address: its entries are the open ones */
	sock_close(sk_slot(skp, hash, 0), skp);
	sock_close(sk_slot(skp, hash, 1), skp);
	__builtin_memset(&key, 0, sizeof(key));
	key.netns = sk_netns((struct sock *)args->skaddr);
	key.family = args->family;
	key.proto = FLOW_PROTO_TCP;	/* as count_tuple() recorded it */
	key.lport = args->sport;
	key.rport = args->dport;
	if (args->family == FLOW_AF_INET) {
		__builtin_memcpy(key.laddr, args->saddr, 4);
		__builtin_memcpy(key.raddr, args->daddr, 4);
	} else if (args->family == FLOW_AF_INET6) {
		__builtin_memcpy(key.laddr, args->saddr_v6, 16);
		__builtin_memcpy(key.raddr, args->daddr_v6, 16);
	} else {
		return 0;
	}
	if (!tuples.lookup(&key))
		return 0;	/* not a flow we track */
	if (closed.update(&key, &one))
		stat_add(STAT_MARKS_LOST, 1);
	return 0;
}

#ifdef HAVE_TP_CGROUP_DIRS
/*
 * A cgroup v2 directory made or removed: keep its path by id. User space
 * reads it for a cgroup it cannot name otherwise: one removed before it was
 * asked for, or one made since its last walk of the tree (once it runs
 * without privileges it cannot ask the kernel by id). Rare (twice per
 * cgroup); the table drops its oldest entries when full.
 */
BPF_TABLE("lru_hash", u64, struct cgroup_dir, cgroup_dirs, CGROUP_DIRS_MAX);
BPF_PERCPU_ARRAY(cgroup_dir_buf, struct cgroup_dir, 1);

static __always_inline int note_cgroup_dir(int root, u64 id, const char *path)
{
	int zero = 0;
	struct cgroup_dir *g = cgroup_dir_buf.lookup(&zero);

	if (root != 0 || !g)	/* hierarchy 0 is cgroup v2's */
		return 0;
	bpf_probe_read_kernel_str(g->path, sizeof(g->path), path);
	cgroup_dirs.update(&id, g);
	return 0;
}

TRACEPOINT_PROBE(cgroup, cgroup_mkdir)
{
	return note_cgroup_dir(args->root, args->id,
			       (const char *)args + (args->data_loc_path & 0xffff));
}

TRACEPOINT_PROBE(cgroup, cgroup_rmdir)
{
	return note_cgroup_dir(args->root, args->id,
			       (const char *)args + (args->data_loc_path & 0xffff));
}
#endif

#ifdef BCCFLOW_BACKEND_TRACEPOINT
/* ret is what sock_sendmsg()/sock_recvmsg() returned to the caller. */
TRACEPOINT_PROBE(sock, sock_send_length)
{
	if (!proto_counted(args->protocol) || args->ret <= 0)
		return 0;
	return count_bytes((struct sock *)args->sk, args->protocol, args->ret, 1);
}

TRACEPOINT_PROBE(sock, sock_recv_length)
{
	if (!proto_counted(args->protocol) || args->ret <= 0 || (args->flags & FLOW_MSG_PEEK))
		return 0;
	return count_bytes((struct sock *)args->sk, args->protocol, args->ret, 0);
}
#endif

#ifdef BCCFLOW_BACKEND_RAW_TRACEPOINT
/*
 * The same two tracepoints without the trace record: args are
 * (struct sock *sk, int ret, int flags), and the socket's protocol is read
 * only for a socket the table does not know yet.
 */
RAW_TRACEPOINT_PROBE(sock_send_length)
{
	int ret = (int)ctx->args[1];

	if (ret <= 0)
		return 0;
	return count_bytes((struct sock *)ctx->args[0], 0, ret, 1);
}

RAW_TRACEPOINT_PROBE(sock_recv_length)
{
	int ret = (int)ctx->args[1];

	if (ret <= 0 || ((int)ctx->args[2] & FLOW_MSG_PEEK))
		return 0;
	return count_bytes((struct sock *)ctx->args[0], 0, ret, 0);
}
#endif

#ifdef BCCFLOW_BACKEND_TP_BTF
/*
 * The same two tracepoints as BTF-enabled raw tracepoints (tp_btf): args
 * are (struct sock *sk, int ret, int flags) with sk a typed pointer, so the
 * family and hash are plain loads, not a helper's copy. BCC has no name for
 * this program type; the host loads these two itself.
 */
static __always_inline int count_btf(const u64 *ctx, int tx)
{
	struct sock *sk = (struct sock *)ctx[0];
	u16 family = *(const u16 *)SK_FIELD(sk, skc_family);
	struct who me;
	u32 hash = 0;
	int ret;

	if (family != FLOW_AF_INET && family != FLOW_AF_INET6)
		return 0;	/* unix, netlink: before anything else */
	/* then the thread, before the other reads: nothing else is live across its calls */
	who_am_i(&me);
	sk = (struct sock *)ctx[0];	/* read again (who_am_i()'s barrier) */
	ret = (int)ctx[1];
	if (ret <= 0 || (!tx && ((int)ctx[2] & FLOW_MSG_PEEK)))
		return 0;
#ifdef SK_HEAD_PACKED
	hash = *(const u32 *)((const char *)sk + 8);	/* skc_hash */
#endif
	return count_sock(&me, sk, *(const u16 *)SK_FIELD(sk, skc_family), hash, 0, ret, tx);
}

int tp_btf__sock_send_length(u64 *ctx)
{
	return count_btf(ctx, 1);
}

int tp_btf__sock_recv_length(u64 *ctx)
{
	return count_btf(ctx, 0);
}
#endif

#ifdef BCCFLOW_BACKEND_KPROBE
/*
 * Entry probes remember the socket per thread; return probes add what the
 * function returned. One map per function so nested calls cannot mix
 * (udpv6_sendmsg calls udp_sendmsg for an IPv4 peer).
 */
static __always_inline int add_return(struct sock **skp, struct pt_regs *ctx, u8 proto, int tx)
{
	int ret = PT_REGS_RC(ctx);

	if (!skp || ret <= 0)
		return 0;
	return count_bytes(*skp, proto, ret, tx);
}

#ifdef BCCFLOW_COUNT_TCP
BPF_HASH(send_sk, u64, struct sock *, 16384);
BPF_HASH(sendpage_sk, u64, struct sock *, 16384);
BPF_HASH(recv_sk, u64, struct sock *, 16384);

/* BCC rewrites map calls only when written out, hence the repetition. */
int kprobe__tcp_sendmsg(struct pt_regs *ctx, struct sock *sk)
{
	u64 tid = bpf_get_current_pid_tgid();

	send_sk.update(&tid, &sk);
	return 0;
}

int kretprobe__tcp_sendmsg(struct pt_regs *ctx)
{
	u64 tid = bpf_get_current_pid_tgid();
	int rc = add_return(send_sk.lookup(&tid), ctx, FLOW_PROTO_TCP, 1);

	send_sk.delete(&tid);
	return rc;
}

#ifdef HAVE_TCP_SENDPAGE
/* sendfile() before Linux 6.5 goes through here, not tcp_sendmsg */
int kprobe__tcp_sendpage(struct pt_regs *ctx, struct sock *sk)
{
	u64 tid = bpf_get_current_pid_tgid();

	sendpage_sk.update(&tid, &sk);
	return 0;
}

int kretprobe__tcp_sendpage(struct pt_regs *ctx)
{
	u64 tid = bpf_get_current_pid_tgid();
	int rc = add_return(sendpage_sk.lookup(&tid), ctx, FLOW_PROTO_TCP, 1);

	sendpage_sk.delete(&tid);
	return rc;
}
#endif

int kprobe__tcp_recvmsg(struct pt_regs *ctx, struct sock *sk)
{
	/* the flags argument moved when 'nonblock' was dropped in 5.19 */
	int flags = (int)TCP_RECVMSG_FLAGS(ctx);
	u64 tid = bpf_get_current_pid_tgid();

	if (flags & FLOW_MSG_PEEK)
		return 0;
	recv_sk.update(&tid, &sk);
	return 0;
}

int kretprobe__tcp_recvmsg(struct pt_regs *ctx)
{
	u64 tid = bpf_get_current_pid_tgid();
	int rc = add_return(recv_sk.lookup(&tid), ctx, FLOW_PROTO_TCP, 0);

	recv_sk.delete(&tid);
	return rc;
}
#endif

#ifdef BCCFLOW_COUNT_UDP
BPF_HASH(udp_send_sk, u64, struct sock *, 16384);
BPF_HASH(udp6_send_sk, u64, struct sock *, 16384);
BPF_HASH(udp_recv_sk, u64, struct sock *, 16384);
BPF_HASH(udp6_recv_sk, u64, struct sock *, 16384);

/* udp_sendmsg also runs inside udpv6_sendmsg: an IPv6 socket is counted there */
int kprobe__udp_sendmsg(struct pt_regs *ctx, struct sock *sk)
{
	u64 tid = bpf_get_current_pid_tgid();

	if (read_sk_family(sk) != FLOW_AF_INET)
		return 0;
	udp_send_sk.update(&tid, &sk);
	return 0;
}

int kretprobe__udp_sendmsg(struct pt_regs *ctx)
{
	u64 tid = bpf_get_current_pid_tgid();
	int rc = add_return(udp_send_sk.lookup(&tid), ctx, FLOW_PROTO_UDP, 1);

	udp_send_sk.delete(&tid);
	return rc;
}

int kprobe__udpv6_sendmsg(struct pt_regs *ctx, struct sock *sk)
{
	u64 tid = bpf_get_current_pid_tgid();

	udp6_send_sk.update(&tid, &sk);
	return 0;
}

int kretprobe__udpv6_sendmsg(struct pt_regs *ctx)
{
	u64 tid = bpf_get_current_pid_tgid();
	int rc = add_return(udp6_send_sk.lookup(&tid), ctx, FLOW_PROTO_UDP, 1);

	udp6_send_sk.delete(&tid);
	return rc;
}

/* udp_recvmsg and udpv6_recvmsg take their flags where tcp_recvmsg does */
int kprobe__udp_recvmsg(struct pt_regs *ctx, struct sock *sk)
{
	int flags = (int)TCP_RECVMSG_FLAGS(ctx);
	u64 tid = bpf_get_current_pid_tgid();

	if (flags & FLOW_MSG_PEEK)
		return 0;
	udp_recv_sk.update(&tid, &sk);
	return 0;
}

int kretprobe__udp_recvmsg(struct pt_regs *ctx)
{
	u64 tid = bpf_get_current_pid_tgid();
	int rc = add_return(udp_recv_sk.lookup(&tid), ctx, FLOW_PROTO_UDP, 0);

	udp_recv_sk.delete(&tid);
	return rc;
}

int kprobe__udpv6_recvmsg(struct pt_regs *ctx, struct sock *sk)
{
	int flags = (int)TCP_RECVMSG_FLAGS(ctx);
	u64 tid = bpf_get_current_pid_tgid();

	if (flags & FLOW_MSG_PEEK)
		return 0;
	udp6_recv_sk.update(&tid, &sk);
	return 0;
}

int kretprobe__udpv6_recvmsg(struct pt_regs *ctx)
{
	u64 tid = bpf_get_current_pid_tgid();
	int rc = add_return(udp6_recv_sk.lookup(&tid), ctx, FLOW_PROTO_UDP, 0);

	udp6_recv_sk.delete(&tid);
	return rc;
}
#endif
#endif

#ifdef BCCFLOW_BACKEND_FENTRY
/* fexit sees arguments and return value together: nothing to stash. */
#ifdef BCCFLOW_COUNT_TCP
KRETFUNC_PROBE(tcp_sendmsg, struct sock *sk, struct msghdr *msg, size_t size, int ret)
{
	if (ret <= 0)
		return 0;
	return count_bytes(sk, FLOW_PROTO_TCP, ret, 1);
}

#ifdef HAVE_TCP_SENDPAGE
KRETFUNC_PROBE(tcp_sendpage, struct sock *sk, struct page *page, int offset,
	       size_t size, int flags, int ret)
{
	if (ret <= 0)
		return 0;
	return count_bytes(sk, FLOW_PROTO_TCP, ret, 1);
}
#endif

#ifdef TCP_RECVMSG_HAS_NONBLOCK
KRETFUNC_PROBE(tcp_recvmsg, struct sock *sk, struct msghdr *msg, size_t len,
	       int nonblock, int flags, int *addr_len, int ret)
#else
KRETFUNC_PROBE(tcp_recvmsg, struct sock *sk, struct msghdr *msg, size_t len,
	       int flags, int *addr_len, int ret)
#endif
{
	if (ret <= 0 || (flags & FLOW_MSG_PEEK))
		return 0;
	return count_bytes(sk, FLOW_PROTO_TCP, ret, 0);
}
#endif

#ifdef BCCFLOW_COUNT_UDP
/* udp_sendmsg also runs inside udpv6_sendmsg: an IPv6 socket is counted there */
KRETFUNC_PROBE(udp_sendmsg, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{
	if (ret <= 0 || read_sk_family(sk) != FLOW_AF_INET)
		return 0;
	return count_bytes(sk, FLOW_PROTO_UDP, ret, 1);
}

KRETFUNC_PROBE(udpv6_sendmsg, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{
	if (ret <= 0)
		return 0;
	return count_bytes(sk, FLOW_PROTO_UDP, ret, 1);
}

#ifdef TCP_RECVMSG_HAS_NONBLOCK
KRETFUNC_PROBE(udp_recvmsg, struct sock *sk, struct msghdr *msg, size_t len,
	       int nonblock, int flags, int *addr_len, int ret)
#else
KRETFUNC_PROBE(udp_recvmsg, struct sock *sk, struct msghdr *msg, size_t len,
	       int flags, int *addr_len, int ret)
#endif
{
	if (ret <= 0 || (flags & FLOW_MSG_PEEK))
		return 0;
	return count_bytes(sk, FLOW_PROTO_UDP, ret, 0);
}

#ifdef TCP_RECVMSG_HAS_NONBLOCK
KRETFUNC_PROBE(udpv6_recvmsg, struct sock *sk, struct msghdr *msg, size_t len,
	       int nonblock, int flags, int *addr_len, int ret)
#else
KRETFUNC_PROBE(udpv6_recvmsg, struct sock *sk, struct msghdr *msg, size_t len,
	       int flags, int *addr_len, int ret)
#endif
{
	if (ret <= 0 || (flags & FLOW_MSG_PEEK))
		return 0;
	return count_bytes(sk, FLOW_PROTO_UDP, ret, 0);
}
#endif
#endif
