/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "btf.h"
#include "cgroup_path.h"
#include "kfeatures.h"
#include "versions.h"

#define TRACEFS_MOUNT "/sys/kernel/tracing"

#define SK_FIELD_NAME(f) [SK_##f] = #f,
const char *const sk_field_names[SK_NFIELDS] = { FLOW_SK_FIELDS(SK_FIELD_NAME) };
#undef SK_FIELD_NAME

/* Offsets of the fields in struct sock (sock_common is its first member). */
static bool sk_offsets_from_btf(const struct kbtf *btf, long off[SK_NFIELDS])
{
	long base = kbtf_member_offset(btf, "sock", "__sk_common");

	if (base < 0)
		return false;
	for (int i = 0; i < SK_NFIELDS; i++) {
		long o = kbtf_member_offset(btf, "sock_common", sk_field_names[i]);

		if (o < 0)
			return false;
		off[i] = base + o;
	}
	return true;
}

static bool task_offsets_from_btf(const struct kbtf *btf, long off[TASK_NFIELDS])
{
	int i = 0;

#define TASK_FIELD_OFF(s, m) off[i++] = kbtf_member_offset(btf, #s, #m);
	FLOW_TASK_FIELDS(TASK_FIELD_OFF)
#undef TASK_FIELD_OFF
	for (i = 0; i < TASK_NFIELDS; i++)
		if (off[i] < 0)
			return false;
	return true;
}

/*
 * The facts flow_current_task() in the probe needs, from BTF: false unless all
 * are there (Linux 6.2+ for bpf_rdonly_cast(); a kernel built without group
 * scheduling has no cfs_rq.rq).
 */
static bool current_facts_from_btf(const struct kbtf *btf, long fact[CURRENT_NFACTS])
{
	long hot, member;
	int i = 0;

#define CURRENT_FIELD_OFF(s, m) fact[i++] = kbtf_member_offset(btf, #s, #m);
#define CURRENT_PERCPU_OFF(v) fact[i++] = kbtf_percpu_offset(btf, #v);
	FLOW_CURRENT_FIELDS(CURRENT_FIELD_OFF)
	FLOW_CURRENT_PERCPU(CURRENT_PERCPU_OFF)
#undef CURRENT_FIELD_OFF
#undef CURRENT_PERCPU_OFF
	/* Linux 6.2 to 6.14 keep current_task in the per-CPU struct pcpu_hot */
	if (fact[CURRENT_PCPU_current_task] < 0) {
		hot = kbtf_percpu_offset(btf, "pcpu_hot");
		member = kbtf_member_offset(btf, "pcpu_hot", "current_task");
		if (hot >= 0 && member >= 0)
			fact[CURRENT_PCPU_current_task] = hot + member;
	}
	fact[CURRENT_CAST] = kbtf_struct_id(btf, FLOW_CURRENT_CAST);
	for (i = 0; i < CURRENT_NFACTS; i++)
		if (fact[i] < 0)
			return false;
	return kbtf_func_id(btf, kfunc_names[KFUNC_bpf_rdonly_cast]) > 0;
}

/* stat(), not access(): access() ignores the capabilities of a non-root user */
static bool exists(const char *fmt, const char *a, const char *b)
{
	char path[PATH_MAX + 128];
	struct stat st;

	snprintf(path, sizeof(path), fmt, a, b);
	return stat(path, &st) == 0;
}

/* Prefers the place libbcc itself uses; mounts tracefs if nobody has. */
static void find_tracefs(struct kfeatures *f)
{
	static const char *const dirs[] = { "/sys/kernel/debug/tracing", TRACEFS_MOUNT };

	for (size_t i = 0; i < 2; i++) {
		if (exists("%s/events%s", dirs[i], "")) {
			snprintf(f->tracefs, sizeof(f->tracefs), "%s", dirs[i]);
			return;
		}
		if (errno == EACCES)	/* there, but root's alone */
			f->tracefs_denied = true;
	}
	if (mount("nodev", TRACEFS_MOUNT, "tracefs", 0, NULL) == 0) {
		f->mounted_tracefs = true;
		snprintf(f->tracefs, sizeof(f->tracefs), "%s", TRACEFS_MOUNT);
	}
}

/* struct net.ns.inum: where a namespace keeps its inode number */
static long net_inum_from_btf(const struct kbtf *btf)
{
	long ns = kbtf_member_offset(btf, "net", "ns");
	long inum = kbtf_member_offset(btf, "ns_common", "inum");

	return ns < 0 || inum < 0 ? -1 : ns + inum;
}

/* Whether tracepoint event ("cat/name") has field (its format line's text). */
static bool tp_has_field(const char *tracefs, const char *event, const char *field)
{
	char path[PATH_MAX + 64], line[256];
	bool found = false;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/events/%s/format", tracefs, event);
	fp = fopen(path, "r");
	if (!fp)
		return false;
	while (!found && fgets(line, sizeof(line), fp))
		found = strstr(line, field) != NULL;
	fclose(fp);
	return found;
}

static bool kallsyms_has(const char *sym)
{
	char line[512], name[256];
	FILE *fp = fopen("/proc/kallsyms", "r");
	bool found = false;

	if (!fp)
		return false;
	while (!found && fgets(line, sizeof(line), fp))
		found = sscanf(line, "%*s %*s %255s", name) == 1 && !strcmp(name, sym);
	fclose(fp);
	return found;
}

/* Kernel release older than major.minor? (used only when BTF is absent) */
static bool release_before(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma < major || (ma == major && mi < minor);
}

/*
 * Loads are not reordered with older loads (x86's memory model): the
 * premise of the probe's stamps (flow.bpf.c, FLOW_STAMPS).
 */
#if defined(__x86_64__) || defined(__i386__)
#define LOADS_ORDERED true
#else
#define LOADS_ORDERED false
#endif

/* Every tracepoint that advances the probe's task epoch exists. */
static bool epoch_tracepoints(const char *tracefs)
{
#define EPOCH_TP_EXISTS(cat, ev) && exists("%s/events/" #cat "/%s/id", tracefs, #ev)
	return *tracefs FLOW_EPOCH_TRACEPOINTS(EPOCH_TP_EXISTS);
#undef EPOCH_TP_EXISTS
}

void features_detect(struct kfeatures *f)
{
	int n;

	memset(f, 0, sizeof(*f));
	find_tracefs(f);
	f->btf = kbtf_load();
	f->kprobes = access("/sys/bus/event_source/devices/kprobe/type", F_OK) == 0 ||
		     (*f->tracefs && exists("%s/kprobe_events%s", f->tracefs, ""));
	f->tp_sock_length = *f->tracefs &&
			    exists("%s/events/sock/%s/id", f->tracefs, "sock_send_length") &&
			    exists("%s/events/sock/%s/id", f->tracefs, "sock_recv_length");
	f->tp_state = *f->tracefs &&
		      exists("%s/events/sock/%s/id", f->tracefs, "inet_sock_set_state");
	f->fexit_err = f->btf ? kbtf_fexit_probe(f->btf, "tcp_sendmsg") : -ENOENT;
	f->tp_btf_err = f->btf ? kbtf_tp_btf_probe(f->btf, "sock_send_length") : -ENOENT;
	/* one event class: the two have the same fields */
	f->tp_cgroup_dirs = *f->tracefs &&
			    tp_has_field(f->tracefs, "cgroup/cgroup_mkdir", "field:u64 id;") &&
			    tp_has_field(f->tracefs, "cgroup/cgroup_rmdir", "field:u64 id;");
	f->stamps_ok = LOADS_ORDERED && epoch_tracepoints(f->tracefs);
	if (cgroup2_mount_find("/proc/self/mountinfo", f->cgroup2, sizeof(f->cgroup2),
			       f->cgroup2_why, sizeof(f->cgroup2_why)))
		f->cgroup2[0] = '\0';
	f->sk_protocol_off = -1;
	f->net_inum_off = -1;
	if (f->btf) {
		f->sk_offsets_ok = sk_offsets_from_btf(f->btf, f->sk_offsets);
		f->sk_head_packed = f->sk_offsets_ok && f->sk_offsets[SK_skc_daddr] == 0 &&
				    f->sk_offsets[SK_skc_rcv_saddr] == 4 &&
				    f->sk_offsets[SK_skc_dport] == 12 &&
				    f->sk_offsets[SK_skc_num] == 14;
		/* a u16 since Linux 5.6; a bitfield before (refused above) */
		f->sk_protocol_off = kbtf_member_offset(f->btf, "sock", "sk_protocol");
		f->net_inum_off = net_inum_from_btf(f->btf);
		f->task_offsets_ok = task_offsets_from_btf(f->btf, f->task_offsets);
		f->current_ok = current_facts_from_btf(f->btf, f->current_facts);
		f->have_tcp_sendpage = kbtf_func_nparams(f->btf, "tcp_sendpage") >= 0;
		/* (sk, msg, len, nonblock, flags, addr_len) before 5.19 */
		n = kbtf_func_nparams(f->btf, "tcp_recvmsg");
		f->recvmsg_has_nonblock = n == 6;
	} else {
		f->have_tcp_sendpage = kallsyms_has("tcp_sendpage");
		f->recvmsg_has_nonblock = release_before(5, 19);
	}
}

void features_release_tracefs(struct kfeatures *f)
{
	if (f->mounted_tracefs && umount2(TRACEFS_MOUNT, MNT_DETACH) == 0)
		f->mounted_tracefs = false;
}

void features_cleanup(struct kfeatures *f)
{
	kbtf_free(f->btf);
	f->btf = NULL;
	features_release_tracefs(f);
}

bool features_backend_usable(const struct kfeatures *f, enum backend b, char *why, size_t len)
{
	if (!*f->tracefs && f->tracefs_denied) {
		snprintf(why, len, "tracefs is not readable by this user: run as root, or give "
			 "CAP_DAC_READ_SEARCH too");
		return false;
	}
	if (!*f->tracefs) {
		snprintf(why, len, "tracefs is not mounted and could not be mounted on "
			 TRACEFS_MOUNT " (mount -t tracefs nodev " TRACEFS_MOUNT ")");
		return false;
	}
	if (!f->tp_state) {
		snprintf(why, len, "kernel lacks the sock:inet_sock_set_state tracepoint "
			 "(Linux >= 4.16 needed)");
		return false;
	}
	switch (b) {
	case BACKEND_FENTRY:
		if (!f->btf)
			snprintf(why, len, "kernel has no BTF (/sys/kernel/btf/vmlinux)");
		else if (f->fexit_err)
			snprintf(why, len, "a test fexit program on tcp_sendmsg was refused: %s",
				 strerror(-f->fexit_err));
		return f->btf && !f->fexit_err;
	case BACKEND_KPROBE:
		if (!f->kprobes)
			snprintf(why, len, "kernel has no kprobes (no kprobe PMU, no kprobe_events)");
		return f->kprobes;
	case BACKEND_TRACEPOINT:
	case BACKEND_RAW_TRACEPOINT:
	case BACKEND_TP_BTF:
		if (!f->tp_sock_length) {
			snprintf(why, len, "kernel lacks the sock:sock_send_length and "
				 "sock:sock_recv_length tracepoints (Linux >= 6.3 needed)");
			return false;
		}
		if (backend_reads_sk_protocol(b) && f->sk_protocol_off < 0) {
			snprintf(why, len, "needs the offset of struct sock.sk_protocol from the "
				 "kernel's BTF (/sys/kernel/btf/vmlinux)");
			return false;
		}
		if (b == BACKEND_TP_BTF && f->tp_btf_err) {
			snprintf(why, len, "a test BTF raw tracepoint program on sock_send_length "
				 "was refused: %s", strerror(-f->tp_btf_err));
			return false;
		}
		return true;
	default:
		snprintf(why, len, "no such backend");
		return false;
	}
}

int features_check_privileges(char *err, size_t errlen)
{
	char line[256];
	unsigned long long cap = 0;
	FILE *fp = fopen("/proc/self/status", "r");

	if (fp) {
		while (fgets(line, sizeof(line), fp))
			if (sscanf(line, "CapEff: %llx", &cap) == 1)
				break;
		fclose(fp);
	}
	/* CAP_SYS_ADMIN (21), or CAP_BPF (39) with CAP_PERFMON (38) */
	if ((cap >> 21 & 1) || ((cap >> 39 & 1) && (cap >> 38 & 1)))
		return 0;
	snprintf(err, errlen, "needs root (or CAP_BPF and CAP_PERFMON) to load BPF programs: "
		 "run it with sudo");
	return -1;
}

static bool has_kconfig(const char *dir)
{
	return exists("%s/include/linux/kconfig.h%s", dir, "");
}

int features_check_headers(char *err, size_t errlen)
{
	const char *src = getenv("BCC_KERNEL_SOURCE");
	char kdir[PATH_MAX];
	struct utsname u;

	if (src && *src) {
		if (has_kconfig(src))
			return 0;
		snprintf(err, errlen, "BCC_KERNEL_SOURCE=%s has no include/linux/kconfig.h: point it "
			 "at a kernel header tree", src);
		return -1;
	}
	if (uname(&u))
		return 0;	/* let libbcc report it */
	snprintf(kdir, sizeof(kdir), "/lib/modules/%s", u.release);
	if (exists("%s/%s/include/linux/kconfig.h", kdir, "build") ||
	    exists("%s/%s/include/linux/kconfig.h", kdir, "source") ||
	    access("/sys/kernel/kheaders.tar.xz", R_OK) == 0)
		return 0;
	snprintf(err, errlen, "no kernel headers for %s in %s: install them (Debian/Ubuntu: "
		 "apt-get install linux-headers-%s; RHEL: dnf install kernel-devel-%s), run "
		 "scripts/setup.sh, or set BCC_KERNEL_SOURCE=DIR",
		 u.release, kdir, u.release, u.release);
	return -1;
}

/* The file of the libbcc loaded into this process, links resolved. */
static int find_libbcc(struct dl_phdr_info *info, size_t size, void *data)
{
	char *path = data;

	(void)size;
	if (!strstr(info->dlpi_name, "/libbcc.so") || !realpath(info->dlpi_name, path))
		return 0;
	return 1;
}

int features_check_versions(char *err, size_t errlen)
{
	char lib[PATH_MAX] = "";
	struct utsname u;

	if (uname(&u)) {
		snprintf(err, errlen, "uname: %s", strerror(errno));
		return -1;
	}
	dl_iterate_phdr(find_libbcc, lib);
	return versions_check(u.release, *lib ? lib : NULL, err, errlen);
}
