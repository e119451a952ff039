#!/usr/bin/env bash
# Regenerates docs/examples.md: real bccflow output of every mode, while real
# programs from Debian move bytes over loopback (nginx serving files to curl,
# redis-server driven by redis-benchmark, iperf3 client and server).
#   sudo docs/examples.sh [OUT]      (default: docs/examples.md)
# Needs root (bccflow loads BPF programs). Installs nginx-light, redis-server,
# redis-tools, iperf3 and curl with apt-get when missing (services are not
# started: policy-rc.d). Builds with scripts/build.sh unless BCCFLOW names a
# binary. Servers listen on 127.0.0.1 / ::1 only, on fixed ports (below the
# ephemeral range), are started here and stopped on every exit path.
# Output is written as captured; the only transformations are mechanical and
# stated in the file (the terminal's clear-screen codes shown as a word, CRs of
# the terminal dropped, the --ebpf text cut by the grep shown). Never edit the
# result by hand: tests/e2e/test_examples.py compares its shape with a fresh run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out="${1:-$root/docs/examples.md}"
WEB=18080 REDIS=16379 IPERF=15201 PROM=19877 DNS=15353
PORTS="$WEB,$REDIS,$IPERF"
IV=10		# seconds per interval: each run is stopped before the first ends
log() { printf 'examples: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (bccflow loads BPF programs)"

# ---- programs ---------------------------------------------------------------
made_policy=0
tmp=""
pids=()
tmux_socks=()
cgdir=""
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	for p in "${tmux_socks[@]}"; do tmux -L "$p" kill-server 2>/dev/null || true; done
	[ -z "$tmp" ] || rm -rf "$tmp"
	# the servers in them have exited: the cgroups are empty
	[ -z "$cgdir" ] || rmdir "$cgdir"/*.scope "$cgdir"/*.service "$cgdir" 2>/dev/null || true
	[ "$made_policy" -eq 0 ] || rm -f /usr/sbin/policy-rc.d
}
trap cleanup EXIT
# forget PID: it has been waited for, so the number may be reused by now
forget() {
	local keep=() p
	for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	pids=("${keep[@]}")
}
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-benchmark >/dev/null || need+=(redis-tools)
command -v iperf3 >/dev/null || need+=(iperf3)
command -v curl >/dev/null || need+=(curl)
command -v tmux >/dev/null || need+=(tmux)
command -v ss >/dev/null || need+=(iproute2)
command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
command -v dig >/dev/null || need+=(bind9-dnsutils)
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	if [ ! -e /usr/sbin/policy-rc.d ]; then	# no service starts on install
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt=(apt-get -q -o DPkg::Lock::Timeout=600)
	"${apt[@]}" install -y --no-install-recommends "${need[@]}" >/dev/null ||
		{ "${apt[@]}" update >/dev/null &&
		  "${apt[@]}" install -y --no-install-recommends "${need[@]}" >/dev/null; } ||
		die "apt-get install ${need[*]} failed"
	[ "$made_policy" -eq 0 ] || { rm -f /usr/sbin/policy-rc.d; made_policy=0; }
fi

if [ -z "${BCCFLOW:-}" ]; then
	"$root/scripts/build.sh"
	BCCFLOW="${BCCFLOW_BUILD_DIR:-$root/build}/bccflow"
fi
[ -x "$BCCFLOW" ] || die "no bccflow binary at $BCCFLOW"

for p in $WEB $REDIS $IPERF $PROM $DNS; do
	[ -z "$(ss -Hltn "sport = :$p")" ] || die "port $p is in use"
done

tmp=$(mktemp -d /tmp/bccflow-examples.XXXXXX)
chmod 755 "$tmp"	# nginx's worker runs as nobody

# wait_port PORT: until something listens on it (10 s)
wait_port() {
	for _ in $(seq 100); do
		[ -z "$(ss -Hltn "sport = :$1")" ] || return 0
		sleep 0.1
	done
	die "nothing listens on port $1 after 10 s"
}

mkdir -p "$tmp/nginx/www" "$tmp/nginx/logs" "$tmp/redis"
head -c 1048576 /dev/urandom >"$tmp/nginx/www/1m.bin"
head -c 262144 /dev/urandom >"$tmp/nginx/www/256k.bin"
chmod -R a+rX "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log;
events { worker_connections 64; }
http {
	access_log off;
	server {
		listen 127.0.0.1:$WEB;
		listen [::1]:$WEB;
		root $tmp/nginx/www;
	}
}
EOF
nginx -p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" \
	</dev/null >"$tmp/nginx.out" 2>&1 &
pids+=($!)
redis-server --bind 127.0.0.1 --port $REDIS --save '' --appendonly no \
	--dir "$tmp/redis" --logfile "$tmp/redis/redis.log" --daemonize no </dev/null &
pids+=($!)
iperf3 -s -B 127.0.0.1 -p $IPERF </dev/null >"$tmp/iperf3.out" 2>&1 &
pids+=($!)
# a DNS server for dig: answers one made-up name from its own config
/usr/sbin/dnsmasq -k -C /dev/null --port $DNS --listen-address 127.0.0.1 --bind-interfaces \
	--no-resolv --no-hosts --pid-file= --user=root --address=/bccflow.example/192.0.2.7 \
	</dev/null >"$tmp/dnsmasq.out" 2>&1 &
pids+=($!)
wait_port $WEB
wait_port $REDIS
wait_port $IPERF
wait_port $DNS

# nginx in a cgroup named as Docker names a container's, redis-server in one
# named as systemd names a service: what bccflow shows of containers and
# units (see the section on them below)
CID=c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00
cgroot=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
[ -n "$cgroot" ] || die "no cgroup2 mount"
cgdir=$cgroot/bccflow-examples.slice
mkdir -p "$cgdir/docker-$CID.scope" "$cgdir/redis.service"
for p in "${pids[0]}" $(pgrep -P "${pids[0]}"); do echo "$p" >"$cgdir/docker-$CID.scope/cgroup.procs"; done
echo "${pids[1]}" >"$cgdir/redis.service/cgroup.procs"

# The same traffic for every capture, all four programs at once, finished
# well within one interval.
traffic() {
	local t=() p bad=0
	timeout 20 curl -sS -o /dev/null "http://127.0.0.1:$WEB/1m.bin" &
	t+=($!)
	timeout 20 curl -sS -g -o /dev/null "http://[::1]:$WEB/256k.bin" &
	t+=($!)
	timeout 20 redis-benchmark -h 127.0.0.1 -p $REDIS -c 1 -n 500 -t set -d 100 -q >/dev/null &
	t+=($!)
	timeout 20 iperf3 -c 127.0.0.1 -p $IPERF -n 4M >/dev/null &
	t+=($!)
	pids+=("${t[@]}")
	for p in "${t[@]}"; do
		wait "$p" || bad=1
		forget "$p"
	done
	[ "$bad" -eq 0 ] || die "a traffic program failed"
}

# Three DNS queries with dig against dnsmasq (UDP), one process each.
dns_traffic() {
	local q
	for q in www mail ns; do
		timeout 10 dig @127.0.0.1 -p $DNS +noedns +tries=1 +time=2 "$q.bccflow.example" A \
			>/dev/null || die "dig failed"
	done
}

# wait_started ERRFILE PID: until bccflow says it is counting (60 s)
wait_started() {
	for _ in $(seq 600); do
		grep -q '^bccflow: counting .* bytes with' "$1" && return 0
		kill -0 "$2" 2>/dev/null || die "bccflow exited before counting: $(cat "$1")"
		sleep 0.1
	done
	die "bccflow did not start within 60 s: $(cat "$1")"
}

# run_until_traffic_ends PIDFILE PID: bccflow (started under timeout(1),
# which wrote its pid to PIDFILE) counts, the traffic runs, then SIGTERM (what
# Ctrl-C does): bccflow reports the interval so far and exits 0. So each
# capture holds all the traffic in one interval, however slow the machine.
run_until_traffic_ends() {
	wait_started "$tmp/err" "$2"
	"${TRAFFIC:-traffic}"
	sleep 0.2
	kill -TERM "$(cat "$1")"
	local rc=0
	wait "$2" || rc=$?
	forget "$2"
	[ "$rc" -eq 0 ] || die "bccflow exited $rc on SIGTERM; stderr: $(cat "$tmp/err"); stdout: $(head -c 2000 "$tmp/out" "$tmp/tty" 2>/dev/null)"
}

# capture ARGS...: stdout in $tmp/out, stderr in $tmp/err
capture() {
	rm -f "$tmp/pid"
	: >"$tmp/err"	# now: the previous run's start line must not count
	sh -c 'echo $$ >"$0"; exec timeout 60 "$@"' "$tmp/pid" "$BCCFLOW" "$@" \
		</dev/null >"$tmp/out" 2>"$tmp/err" &
	pids+=($!)
	run_until_traffic_ends "$tmp/pid" $!
}

# capture_screen ARGS...: bccflow on a 100x25 terminal (a tmux pane), while
# redis-benchmark keeps 150 connections to redis-server busy besides the usual
# traffic; the pane as shown once the traffic has run, then q
capture_screen() {
	local sock="bccflow-examples-$$" bench rc
	: >"$tmp/err"
	rm -f "$tmp/rc"
	tmux -L "$sock" -f /dev/null new-session -d -x 100 -y 25 -s s \
		"env LANG=C.UTF-8 TERM=xterm-256color $(printf '%q ' "$BCCFLOW" "$@") 2>$tmp/err; echo \$? >$tmp/rc; exec sleep 600"
	tmux_socks+=("$sock")
	wait_started "$tmp/err" "$(tmux -L "$sock" display-message -p -t s '#{pane_pid}')"
	timeout 60 redis-benchmark -h 127.0.0.1 -p $REDIS -c 150 -n 2000000 -t set -d 100 -q \
		>/dev/null 2>&1 &
	bench=$!
	pids+=("$bench")
	traffic
	sleep 2.5	# a refresh after the traffic, redis-benchmark still busy
	tmux -L "$sock" capture-pane -p -t s >"$tmp/out"
	tmux -L "$sock" send-keys -t s q
	for _ in $(seq 100); do [ -s "$tmp/rc" ] && break; sleep 0.1; done
	kill "$bench" 2>/dev/null || true
	wait "$bench" 2>/dev/null || true
	forget "$bench"
	rc=$(cat "$tmp/rc" 2>/dev/null || echo none)
	tmux -L "$sock" kill-server
	[ "$rc" = 0 ] || die "bccflow on the screen exited $rc: $(cat "$tmp/err")"
	# trailing blanks of the pane are no part of the screen
	sed -i -e 's/ *$//' "$tmp/out"
}

cmd() { printf '$ bccflow'; printf ' %s' "$@"; printf '\n'; }
fence() { printf '```\n'; }

# ---- the file -----------------------------------------------------------------
ver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo "?"; }
. /etc/os-release
{
cat <<EOF
# bccflow examples

Generated by \`docs/examples.sh\`, do not edit: run \`sudo docs/examples.sh\`
to regenerate (tests/e2e/test_examples.py fails when this file and the
script's output differ in shape).

Captured on $PRETTY_NAME, Linux $(uname -r), BCC $(ver libbpfcc), with
\`$("$BCCFLOW" --version)\` and Debian's own programs making the traffic over
loopback: nginx $(ver nginx-light) serving files to curl $(ver curl), redis-server
$(ver redis-server) driven by redis-benchmark, iperf3 $(ver iperf3) client and
server, and dnsmasq $(ver dnsmasq-base) answering dig $(ver bind9-dnsutils) for the
UDP section. During every capture the script runs these four at once:

- \`curl http://127.0.0.1:$WEB/1m.bin\` (1 MiB) and \`curl -g http://[::1]:$WEB/256k.bin\` (256 KiB), each its own connection to nginx;
- \`redis-benchmark -h 127.0.0.1 -p $REDIS -c 1 -n 500 -t set -d 100 -q\`;
- \`iperf3 -c 127.0.0.1 -p $IPERF -n 4M\` (a control connection and a data connection).

Every command ran as root. Each bccflow run uses $IV-second intervals: it was
started, then the traffic ran, and once the traffic had ended bccflow got
SIGTERM (what Ctrl-C sends is SIGINT; both do the same), reported the
interval so far and exited 0, so each capture holds all the traffic in one
interval. Other programs on the machine were busy too, so each bccflow run is
limited to these servers' ports with \`--port\`, a filter applied in the
kernel: what is shown is all the output there was. Blocks show stdout;
stderr where noted. Numbers, pids, ports and times change from run to run;
the layout does not.

## The article's table (default; \`-C\` because stdout is not a terminal)

EOF
capture -C --port $PORTS $IV
fence; cmd -C --port $PORTS $IV; cat "$tmp/out"; fence
cat <<EOF

- One row per flow that moved bytes in the interval, busiest first.
  RX_KB/TX_KB are this interval (cut short by the SIGTERM), the *SUM_KB
  columns the flow's totals since bccflow started (here equal: the first
  interval).
- nginx's TX is the file plus its HTTP response headers; curl receives the same.
  Each connection appears twice: once for each end's process.
- The \`[::1]\` rows are the IPv6 download.
- The iperf3 server's RX is often less than its client's TX: the server
  stops reading its data connection when the client reports the end of the
  test, and bytes no process read are not counted. iperf3's own server
  report (\`iperf3 -s -J\`, \`end.sum_received\`) falls short the same way.

On stderr, the same run:

EOF
fence; cat "$tmp/err"; fence

cat <<EOF

## JSON Lines

EOF
capture --json --port $PORTS $IV
fence; cmd --json --port $PORTS $IV; cat "$tmp/out"; fence
cat <<EOF

The interval record's \`rx_bytes\`/\`tx_bytes\` are the sums over its flow
records.

## CSV

EOF
capture --csv --port $PORTS $IV
fence; cmd --csv --port $PORTS $IV; cat "$tmp/out"; fence

cat <<EOF

## Per process name, with rates and human units

EOF
capture --by comm --rate --units auto -C --port $PORTS $IV
fence; cmd --by comm --rate --units auto -C --port $PORTS $IV; cat "$tmp/out"; fence

cat <<EOF

## UDP: dig against dnsmasq

Three \`dig @127.0.0.1 -p $DNS +noedns NAME A\` queries against dnsmasq
(\`--port $DNS --address=/bccflow.example/192.0.2.7\`), each dig its own
process. Each query and answer is one datagram; dnsmasq's
one socket has a flow per client:

EOF
TRAFFIC=dns_traffic capture --proto udp -C --port $DNS $IV
fence; cmd --proto udp -C --port $DNS $IV; cat "$tmp/out"; fence
TRAFFIC=dns_traffic capture --proto udp --json --port $DNS $IV
fence; cmd --proto udp --json --port $DNS $IV; cat "$tmp/out"; fence

cat <<EOF

## Containers, services and network namespaces

For these captures nginx runs in the cgroup \`/bccflow-examples.slice/docker-$CID.scope\`
(named as Docker's systemd driver names a container's) and redis-server in
\`/bccflow-examples.slice/redis.service\`; the other programs stay where the
script runs. One row per container or systemd unit; an empty CONTAINER (\`-\`)
is a cgroup that names neither:

EOF
capture --by container -C --port $PORTS $IV
fence; cmd --by container -C --port $PORTS $IV; cat "$tmp/out"; fence
cat <<EOF

Per cgroup, with its path below the cgroup2 root:

EOF
capture --by cgroup -C --port $PORTS $IV
fence; cmd --by cgroup -C --port $PORTS $IV; cat "$tmp/out"; fence
cat <<EOF

\`-w\` adds the network namespace (its inode number, as \`ls -L -i
/proc/PID/ns/net\` shows), the container and the cgroup to every flow:

EOF
capture -w -C --port $PORTS $IV
fence; cmd -w -C --port $PORTS $IV; cat "$tmp/out"; fence

cat <<EOF

## Per local port

EOF
capture --by lport -C --port $PORTS $IV
fence; cmd --by lport -C --port $PORTS $IV; cat "$tmp/out"; fence

cat <<EOF

## Top rows and the others row

EOF
capture -r 3 --sort tx -C --port $PORTS $IV
fence; cmd -r 3 --sort tx -C --port $PORTS $IV; cat "$tmp/out"; fence
cat <<EOF

The \`(others)\` row sums every flow beyond the top 3, so the rows still add up
to the interval's totals. In JSON, groups and the others row are their own
record types:

EOF
capture --json --by pid -r 2 --port $PORTS $IV
fence; cmd --json --by pid -r 2 --port $PORTS $IV; cat "$tmp/out"; fence

cat <<EOF

## The live screen (stdout is a terminal)

Without \`-C\`, a terminal gets a screen like top's: the status line, the
header, as many of the busiest rows as fit and one row summing the others,
and the keys at the bottom, redrawn every interval and at once on a key or a
resize. Captured with \`tmux capture-pane\` from a 100x25 terminal while
\`redis-benchmark -c 150\` kept 150 connections to redis-server busy
besides the usual traffic:

EOF
capture_screen --port $PORTS 2
fence; cmd --port $PORTS 2; cat "$tmp/out"; fence
cat <<EOF

Rates are per second, in units that keep their width (B, K, M, G: 1024
bytes); each bar compares its row with the busiest. Keys: \`q\` quits, \`s\`
the next sort key, \`b\` the next grouping, \`r\`/\`t\` rates or totals since
start, \`p\` pauses the display (counting goes on), \`/\` filters rows by part
of a comm or address, \`n\` remote host names, \`h\` help.

## Prometheus

bccflow serves the counters while it runs; here scraped with curl after one
interval with the traffic (\`--by\` is \`comm\` by default when listening):

EOF
: >"$tmp/err"
timeout 120 "$BCCFLOW" --listen 127.0.0.1:$PROM --port $PORTS 1 </dev/null >/dev/null 2>"$tmp/err" &
bp=$!
pids+=("$bp")
wait_started "$tmp/err" $bp
wait_port $PROM
traffic
intervals() {
	curl -sS --max-time 5 "http://127.0.0.1:$PROM/metrics" 2>/dev/null |
		awk '$1 == "bccflow_intervals_total" { print $2 }'
}
n0=""
for _ in $(seq 50); do
	n0=$(intervals)
	[ -z "$n0" ] || break
	sleep 0.1
done
[ -n "$n0" ] || die "no bccflow_intervals_total at http://127.0.0.1:$PROM/metrics"
n=$n0
for _ in $(seq 100); do	# one whole interval after the traffic
	n=$(intervals)
	[ -z "$n" ] || [ "$n" -lt $((n0 + 2)) ] || break
	sleep 0.1
done
[ -n "$n" ] && [ "$n" -ge $((n0 + 2)) ] || die "bccflow --listen: no new interval within 10 s"
curl -sS --max-time 5 "http://127.0.0.1:$PROM/metrics" >"$tmp/out"
kill -INT $bp
wait $bp || { forget $bp; die "bccflow --listen failed: $(cat "$tmp/err")"; }
forget $bp
fence
cmd --listen 127.0.0.1:$PROM --port $PORTS 1 '>' /dev/null '&'
printf '$ curl -s http://127.0.0.1:%s/metrics\n' $PROM
cat "$tmp/out"
fence

cat <<EOF

## Filters become generated code, never user text

A pid becomes a number in the text; ports and networks go into BPF maps that
bccflow fills, and the text only looks them up:

EOF
fence
printf "\$ bccflow --ebpf -p 1234 --port 443 --raddr 10.0.0.0/8 | grep -E '1234|_filter\\\\.lookup'\n"
"$BCCFLOW" --ebpf -p 1234 --port 443 --raddr 10.0.0.0/8 2>/dev/null | grep -E '1234|_filter\.lookup'
fence

cat <<EOF

## Bad input: one line, exit 2, nothing compiled

EOF
fence
for args in "--port 0" "--raddr 10.0.0.0/33" "-p 0" "--attach uprobe" "2 0"; do
	cmd $args
	rc=0
	# shellcheck disable=SC2086
	"$BCCFLOW" $args >"$tmp/out" 2>&1 || rc=$?
	cat "$tmp/out"
	printf '(exit %d)\n' $rc
done
fence
} >"$tmp/examples.md"

mv -f "$tmp/examples.md" "$out" 2>/dev/null || cp "$tmp/examples.md" "$out"
log "wrote $out"
