#!/usr/bin/env bash
# Smoke test of the QEMU guest infrastructure:
#
#   tests/vm/smoke.sh WORKDIR
#
# Builds the image if needed (build-image.sh), compiles a tiny libbcc C program
# on the host, boots the guest (run-guest.sh) and checks there: the kernel
# version, kprobes, BTF, kernel headers, that the host binary runs against the
# guest's libbcc, and that it compiles one BPF text holding a kprobe and an
# fentry (KFUNC_PROBE) program on tcp_sendmsg, loads and attaches both, counts
# its own loopback bytes exactly through each, and detaches cleanly.
# The files of the run stay in WORKDIR/smoke (console.log, the program).
# Exit 0 when every check passed.
set -euo pipefail

log() { printf 'smoke: %s\n' "$*" >&2; }
die() { printf 'smoke: error: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 WORKDIR"
[ "$(id -u)" -eq 0 ] || die "must run as root"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$1"
WORKDIR=$(cd "$1" && pwd)

T0=$SECONDS
bash "$HERE/build-image.sh" "$WORKDIR"
T_IMAGE=$((SECONDS - T0))

# host toolchain for the test program
missing=()
for p in gcc libc6-dev pkg-config libbpfcc-dev; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null ||
		{ apt-get update -qq -o DPkg::Lock::Timeout=600 && apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null; } ||
		die "apt-get install ${missing[*]} failed"
fi

S=$WORKDIR/smoke
rm -rf "$S"
mkdir -p "$S"

cat >"$S/bcc-smoke.c" <<'EOF'
/* Compile one BPF text with a kprobe and an fentry program on tcp_sendmsg,
 * load + attach each, send loopback traffic, check the byte counts, detach. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bcc/bcc_common.h>
#include <bcc/libbpf.h>

static const char *TEXT =
	"#include <net/sock.h>\n"
	"BPF_ARRAY(counts, u64, 4);\n" /* 0,1: kprobe calls, bytes; 2,3: fentry */
	"static inline void add(int k, u64 v) {\n"
	"	u64 *c = counts.lookup(&k);\n"
	"	if (c) __sync_fetch_and_add(c, v);\n"
	"}\n"
	"int kp_tcp_sendmsg(struct pt_regs *ctx, struct sock *sk, struct msghdr *msg, size_t size) {\n"
	"	if ((bpf_get_current_pid_tgid() >> 32) != TARGET_TGID) return 0;\n"
	"	add(0, 1); add(1, size);\n"
	"	return 0;\n"
	"}\n"
	"KFUNC_PROBE(tcp_sendmsg, struct sock *sk, struct msghdr *msg, size_t size) {\n"
	"	if ((bpf_get_current_pid_tgid() >> 32) != TARGET_TGID) return 0;\n"
	"	add(2, 1); add(3, size);\n"
	"	return 0;\n"
	"}\n";

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define FAIL(...) do { printf("SMOKE FAIL: " __VA_ARGS__); printf("\n"); return 1; } while (0)

/* Send `chunks` x 1000 bytes over a loopback TCP connection; 0 on success. */
static int traffic(int chunks)
{
	char buf[1000];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0), s;

	memset(buf, 'x', sizeof(buf));
	if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &al) || connect(c, (struct sockaddr *)&a, sizeof(a)) ||
	    (s = accept(l, NULL, NULL)) < 0) {
		perror("loopback setup");
		return -1;
	}
	for (int i = 0; i < chunks; i++) {
		size_t got = 0;
		if (send(c, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf)) { perror("send"); return -1; }
		while (got < sizeof(buf)) {
			ssize_t n = recv(s, buf, sizeof(buf) - got, 0);
			if (n <= 0) { perror("recv"); return -1; }
			got += n;
		}
	}
	close(c); close(s); close(l);
	return 0;
}

static uint64_t get(int fd, int k)
{
	uint64_t v = 0;
	bpf_lookup_elem(fd, &k, &v);
	return v;
}

static int load(void *mod, const char *fn, int type)
{
	static char logbuf[65536];
	int fd = bcc_func_load(mod, type, fn, bpf_function_start(mod, fn), bpf_function_size(mod, fn),
			       bpf_module_license(mod), bpf_module_kern_version(mod), 0, logbuf,
			       sizeof(logbuf), NULL, -1);
	if (fd < 0)
		printf("load %s: %s\n%s\n", fn, strerror(-fd), logbuf);
	return fd;
}

int main(void)
{
	char def[64];
	const char *cflags[] = { def };
	double t;
	int chunks = 100, total = 100 * 1000;

	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(def, sizeof(def), "-DTARGET_TGID=%d", getpid());

	t = now();
	void *mod = bpf_module_create_c_from_string(TEXT, 0, cflags, 1, true, NULL);
	if (!mod)
		FAIL("BPF compile");
	printf("SMOKE compile: %.1f s\n", now() - t);
	int counts = bpf_table_fd(mod, "counts");
	if (counts < 0)
		FAIL("no map 'counts'");

	/* kprobe */
	t = now();
	int kfd = load(mod, "kp_tcp_sendmsg", BPF_PROG_TYPE_KPROBE);
	if (kfd < 0)
		FAIL("load kprobe program");
	int pfd = bpf_attach_kprobe(kfd, BPF_PROBE_ENTRY, "bccsmoke_p_tcp_sendmsg", "tcp_sendmsg", 0, 0);
	if (pfd < 0)
		FAIL("attach kprobe on tcp_sendmsg: %s", strerror(errno));
	printf("SMOKE kprobe load+attach: %.2f s\n", now() - t);
	if (traffic(chunks))
		FAIL("traffic");
	printf("SMOKE kprobe: calls %llu bytes %llu (sent %d in %d sends)\n",
	       (unsigned long long)get(counts, 0), (unsigned long long)get(counts, 1), total, chunks);
	if (get(counts, 0) != (uint64_t)chunks || get(counts, 1) != (uint64_t)total)
		FAIL("kprobe counts");
	bpf_close_perf_event_fd(pfd);
	bpf_detach_kprobe("bccsmoke_p_tcp_sendmsg");
	close(kfd);
	if (traffic(chunks))
		FAIL("traffic");
	if (get(counts, 0) != (uint64_t)chunks)
		FAIL("kprobe still counting after detach");
	printf("SMOKE ok: kprobe exact, detached\n");

	/* fentry */
	t = now();
	int ffd = load(mod, "kfunc__tcp_sendmsg", BPF_PROG_TYPE_TRACING);
	if (ffd < 0)
		FAIL("load fentry program");
	int lfd = bpf_attach_kfunc(ffd);
	if (lfd < 0)
		FAIL("attach fentry on tcp_sendmsg: %s", strerror(errno));
	printf("SMOKE fentry load+attach: %.2f s\n", now() - t);
	if (traffic(chunks))
		FAIL("traffic");
	printf("SMOKE fentry: calls %llu bytes %llu (sent %d in %d sends)\n",
	       (unsigned long long)get(counts, 2), (unsigned long long)get(counts, 3), total, chunks);
	if (get(counts, 2) != (uint64_t)chunks || get(counts, 3) != (uint64_t)total)
		FAIL("fentry counts");
	close(lfd);
	close(ffd);
	if (traffic(chunks))
		FAIL("traffic");
	if (get(counts, 2) != (uint64_t)chunks)
		FAIL("fentry still counting after detach");
	printf("SMOKE ok: fentry exact, detached\n");

	bpf_module_destroy(mod);
	return 0;
}
EOF
# shellcheck disable=SC2046 # pkg-config output is a list of flags
gcc -O2 -Wall -o "$S/bcc-smoke" "$S/bcc-smoke.c" $(pkg-config --cflags --libs libbcc) ||
	die "compiling the libbcc test program on the host failed"

cat >"$S/guest-main.sh" <<'EOF'
#!/bin/bash
# runs in the guest (cwd /payload)
set -u
read -r up _ </proc/uptime
echo "SMOKE boot-to-script: ${up} s of guest uptime"
fail=0
check() {
	if eval "$2"; then echo "SMOKE ok: $1"; else echo "SMOKE FAIL: $1"; fail=1; fi
}
kver=$(uname -r)
echo "SMOKE uname -r: $kver"
check "kprobes available" \
	'[ -e /sys/bus/event_source/devices/kprobe/type ] || [ -e /sys/kernel/tracing/kprobe_events ]'
check "BTF (/sys/kernel/btf/vmlinux)" '[ -e /sys/kernel/btf/vmlinux ]'
check "kernel headers (/lib/modules/$kver/{build,source}/include/linux/kconfig.h)" \
	'[ -e /lib/modules/$kver/build/include/linux/kconfig.h ] || [ -e /lib/modules/$kver/source/include/linux/kconfig.h ]'
check "host binary finds its libraries (libbcc.so.0)" \
	'ldd ./bcc-smoke | grep -q "libbcc.so.0 => /" && ! ldd ./bcc-smoke | grep -q "not found"'
start=$(date +%s.%N)
./bcc-smoke || { echo "SMOKE FAIL: bcc-smoke exited with $?"; fail=1; }
echo "SMOKE bcc-smoke total: $(echo "$(date +%s.%N) $start" | awk '{printf "%.1f", $1 - $2}') s"
grep -q bccsmoke /sys/kernel/tracing/kprobe_events 2>/dev/null &&
	{ echo "SMOKE FAIL: kprobe left in kprobe_events"; fail=1; }
exit $fail
EOF
chmod +x "$S/guest-main.sh"

T1=$SECONDS
set +e
bash "$HERE/run-guest.sh" "$WORKDIR" "$S" "${SMOKE_TIMEOUT:-900}"
rc=$?
set -e
T_GUEST=$((SECONDS - T1))

echo "---- smoke summary ----"
grep -a 'SMOKE \|VM-GUEST-EXIT-CODE' "$S/console.log" || true
echo "image build/check: ${T_IMAGE} s, guest run (boot to power-off): ${T_GUEST} s"
passed=$(grep -ac '^SMOKE ok: ' "$S/console.log" || true)
failed=$(grep -ac '^SMOKE FAIL' "$S/console.log" || true)
# the checks that must pass: kprobes, BTF, headers, libraries, kprobe, fentry
if [ "$rc" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -eq 6 ]; then
	echo "vm-smoke: $passed passed, 0 failed"
	exit 0
fi
[ "$failed" -gt 0 ] || failed=1
echo "vm-smoke: $passed passed, $failed failed"
echo "smoke: FAILED (run-guest.sh exit $rc; console: $S/console.log)"
exit 1
