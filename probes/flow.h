/* SPDX-License-Identifier: MIT */
/*
 * Structures shared by the BPF probe text (probes/flow.bpf.c) and the host
 * (src/). Defined once here; the host compiles it directly and the probe
 * gets it spliced in place of its #include line at run time.
 */
#ifndef BCCFLOW_FLOW_H
#define BCCFLOW_FLOW_H

#define FLOW_COMM_LEN 16

/*
 * The struct sock_common fields the probe reads, listed once: the host reads
 * their offsets from BTF (kfeatures.c) and defines OFF_<field> for the probe
 * (probe_text.c); a probe that reads them through kernel headers instead
 * declares one witness map per field (flow.bpf.c), which the host checks
 * against BTF before loading (loader.c).
 */
#define FLOW_SK_FIELDS(X) \
	X(skc_daddr) X(skc_rcv_saddr) X(skc_dport) X(skc_num) X(skc_family) \
	X(skc_v6_daddr) X(skc_v6_rcv_saddr) X(skc_net)

/*
 * The task fields the BTF raw tracepoint programs load directly, one helper
 * call (bpf_get_current_task_btf()) or none instead of two, for the current
 * thread's id (pid), its process's (tgid) and its cgroup v2 id
 * (task->cgroups->dfl_cgrp->kn->id, as bpf_get_current_cgroup_id() reads
 * it), as (struct, member): the host defines OFF_<struct>_<member> from BTF
 * (kfeatures.c, probe_text.c).
 */
#define FLOW_TASK_FIELDS(X) \
	X(task_struct, pid) X(task_struct, tgid) X(task_struct, cgroups) X(css_set, dfl_cgrp) \
	X(cgroup, kn) X(kernfs_node, id)

/*
 * Kernel functions (kfuncs) the probe calls, as (name, marker): BCC emits
 * only helper calls, so the probe calls the marker, a number no helper
 * has, and the host makes each such call one of the kfunc (src/kfunc.c).
 */
#define FLOW_KFUNCS(X) X(bpf_rdonly_cast, 0x7b01)

/*
 * How the BTF raw tracepoint programs find the current task without a
 * helper call (flow.bpf.c, flow_current_task()), listed once: members as
 * (struct, member), the host defining OFF_<struct>_<member> from BTF;
 * per-CPU variables, PCPU_<name> their offsets in the per-CPU section
 * (BTF's .data..percpu); and CURRENT_CAST_ID, the BTF id of the struct
 * FLOW_CURRENT_CAST, whose one member points to a task.
 */
#define FLOW_CURRENT_FIELDS(X) X(task_struct, se) X(sched_entity, cfs_rq) X(cfs_rq, rq)
#define FLOW_CURRENT_PERCPU(X) X(current_task) X(runqueues)
#define FLOW_CURRENT_CAST "rcuwait"

/*
 * The tracepoints that advance the task epoch (flow.bpf.c, FLOW_STAMPS), as
 * (category, event): a task moved to another cgroup, a task exiting.
 */
#define FLOW_EPOCH_TRACEPOINTS(X) \
	X(cgroup, cgroup_attach_task) X(cgroup, cgroup_transfer_tasks) X(sched, sched_process_exit)

/* Address families as Linux numbers them (ABI), for probe texts without socket headers. */
#define FLOW_AF_INET 2
#define FLOW_AF_INET6 10

/* Protocols as IP numbers them (ABI): struct flow_key.proto. */
#define FLOW_PROTO_TCP 6
#define FLOW_PROTO_UDP 17

/* a (16 bytes) is ::ffff:a.b.c.d, an IPv4 peer of a dual-stack socket */
#define FLOW_MAPPED(a) (!((a)[0] | (a)[1] | (a)[2] | (a)[3] | (a)[4] | (a)[5] | (a)[6] | \
			  (a)[7] | (a)[8] | (a)[9]) && (a)[10] == 0xff && (a)[11] == 0xff)

/*
 * One flow: a process, in one cgroup, talking over one TCP or UDP 4-tuple
 * of one network namespace. For UDP the remote end is that of each
 * datagram (a socket that sends to many peers has one flow per peer), or
 * the connected peer, or zero when no call said it. Ports are in host byte
 * order. IPv4 addresses sit in
 * the first 4 bytes of laddr/raddr, the rest is zero. The explicit pad
 * keeps the layout free of compiler padding, so equal flows always hash to
 * the same key.
 */
struct flow_key {
	__u32 pid;
	__u32 netns;		/* the socket's network namespace: its inode number */
	__u64 cgroup;		/* the process's cgroup v2 id at the event */
	__u16 family;		/* AF_INET (2) or AF_INET6 (10) */
	__u16 lport;
	__u16 rport;
	__u8 proto;		/* FLOW_PROTO_TCP or FLOW_PROTO_UDP */
	__u8 pad;
	__u8 laddr[16];
	__u8 raddr[16];
};

/* Cumulative since the flow was first seen: never reset by the host. */
struct flow_val {
	__u64 rx_bytes;
	__u64 tx_bytes;
	char comm[FLOW_COMM_LEN];	/* thread name at the flow's first event */
};

/*
 * The flow of one socket used by one process, in the "socks" array at one of
 * its socket's two slots (flow.bpf.c, sock_slot()). Events of that process
 * on that socket find it with one read of the socket and an array lookup,
 * no hashing. sk (the socket's number) and key are fixed when the entry is
 * made and SOCK_FLOW_READY then set (with SOCK_FLOW_TCP for a TCP flow);
 * SOCK_FLOW_CLOSED replaces SOCK_FLOW_TCP when the socket reaches TCP_CLOSE
 * (or a UDP socket is released), after which the address may be reused and
 * every event checks key again. The host reads ready entries and frees a
 * slot (zeroes it, then deletes its claim) once its entry is closed and
 * idle.
 */
struct sock_flow {
	__u64 sk;		/* the socket's number (flow.bpf.c, sk_number()); 0: a free slot */
	__u32 flags;
	__u32 pad;
	/*
	 * The thread that last found this entry its own (its pid and cgroup
	 * those of key), and the task epoch then (flow.bpf.c, FLOW_STAMPS):
	 * while both hold, its events need not read its cgroup. 0: none.
	 */
	__u64 stamp;
	__u64 events;		/* events counted here: cumulative, as the bytes */
	struct flow_val val;
	struct flow_key key;
	__u8 pad2[8];
};

/*
 * What an event on its own socket reads and adds to (sk, flags, stamp, the
 * byte and event counters) lies in an entry's first 64 bytes, and entries
 * are 128 bytes in a page-aligned array (a mappable one), so such an event
 * touches one cache line of the table, not two.
 */
_Static_assert(sizeof(struct sock_flow) == 128, "sock_flow: two cache lines");
_Static_assert(__builtin_offsetof(struct sock_flow, val.tx_bytes) + 8 <= 64,
	       "sock_flow: what the fast path reads in its first cache line");

#define SOCK_FLOW_CLOSED 1
#define SOCK_FLOW_READY 2
#define SOCK_FLOW_TCP 4		/* a TCP flow: the fast path checks the flags alone */

/* Slots of the socket table: 2^bits, bits from --max-flows within these bounds. */
#define SOCK_TABLE_MIN_BITS 4
#define SOCK_TABLE_MAX_BITS 16

/*
 * Key of the --laddr/--raddr filter tries (longest-prefix match): the
 * family as a 32-bit tag, then the address as in struct flow_key, so one
 * lookup tests every network of a direction. An IPv4 network is entered
 * twice, as AF_INET and as its IPv4-mapped IPv6 network.
 */
struct addr_lpm_key {
	__u32 prefixlen;	/* ADDR_LPM_TAG_BITS + the network's prefix */
	__u32 family;
	__u8 addr[16];
};

#define ADDR_LPM_TAG_BITS 32

/*
 * A cgroup v2 directory made or removed while bccflow runs, in the
 * "cgroup_dirs" table by id: its path (relative to the cgroup2 root, cut at
 * CGROUP_DIR_PATH_LEN - 1 bytes), for user space to name cgroups it cannot
 * ask the kernel about: removed ones, and new ones once it has no privileges.
 */
#define CGROUP_DIR_PATH_LEN 256
#define CGROUP_DIRS_MAX 4096

struct cgroup_dir {
	char path[CGROUP_DIR_PATH_LEN];
};
#define ADDR_LPM_MAX_ENTRIES 16	/* 2 x MAX_CIDR_FILTERS */

/* Per-CPU counters in the "stats" array. */
enum flow_stat {
	STAT_EVENTS = 0,	/* events counted in the flows table (socket entries count theirs) */
	STAT_DROPPED,		/* events lost because the flow table was full */
	STAT_DROPPED_BYTES,	/* their bytes */
	STAT_MARKS_LOST,	/* close marks that did not fit: flows not evicted */
	STAT_MAX,
};

#endif
