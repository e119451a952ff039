#!/bin/sh
# Runs inside the QEMU guest as /payload/guest-main.sh (see test_vm.py).
# One bccflow for every scenario's traffic (compiles are slow under TCG), a
# second one with -p, then SIGINT, then a look for anything left attached.
# The host compares the JSON with flowgen's truth files exactly.
set -u
P=/payload
B=$P/bin/bccflow
F=$P/bin/flowgen
BK=$(cat $P/backend)
O=$P/out
mkdir -p $O
cd /tmp

say() { echo "guest[$BK]: $*"; }

wait_start() { # FILE PID: until the JSON start line, or the tool died
	i=0
	while ! grep -q '"type":"start"' "$1" 2>/dev/null; do
		kill -0 "$2" 2>/dev/null || return 1
		i=$((i + 1))
		[ $i -gt 900 ] && return 1
		sleep 1
	done
}

scenario() { # NAME FLOWGEN-ARGS...
	name=$1
	shift
	if $F "$@" >$O/$name.truth 2>$O/$name.fgerr; then
		say "scenario $name done"
	else
		say "scenario $name: flowgen failed: $(cat $O/$name.fgerr)"
	fi
}

t0=$(date +%s)
# The -p scenario's processes exist (stopped) before bccflow -p starts.
$F --client-comm pf-cli --server-comm pf-srv --tx 123457 --rx 7654 --start-delay-ms 3000 \
	>$O/pfilter.truth 2>$O/pfilter.fgerr &
FGP=$!
i=0
while ! { pgrep -x pf-cli && pgrep -x pf-srv; } >/dev/null 2>&1 && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
PIDS="$(pgrep -x pf-cli) $(pgrep -x pf-srv)"
kill -STOP $PIDS
echo $PIDS >$O/pfilter.pids

$B --json --attach "$BK" 1 >$O/main.jsonl 2>$O/main.err &
M=$!
# the kprobe guest's -p run also checks that auto picks fentry on a real kernel
PBK=$BK
[ "$BK" = kprobe ] && PBK=auto
$B --json --attach "$PBK" -p "$(echo $PIDS | tr ' ' ,)" 1 >$O/pid.jsonl 2>$O/pid.err &
MP=$!
if ! wait_start $O/main.jsonl $M || ! wait_start $O/pid.jsonl $MP; then
	say "bccflow did not start: $(cat $O/main.err $O/pid.err)"
	kill -CONT $PIDS
	kill -INT $M $MP 2>/dev/null
	exit 3
fi
echo $(($(date +%s) - t0)) >$O/startup.seconds
say "bccflow started after $(cat $O/startup.seconds) s"
kill -CONT $PIDS

scenario v4 -f 4 -n 2 --tx 300001 --rx 200003 --step 7 --rounds 3 --period-ms 1100
scenario v6 -f 6 -n 2 --tx 300001 --rx 200003 --step 7 --rounds 3 --period-ms 1100
scenario mapped -f mapped --tx 40000 --rx 30000
scenario waitall --tx 4000000 --chunk 1000 --recv waitall --recv-size 1000000
scenario lowat --tx 1000000 --chunk 1000 --lowat 65536
scenario nonblock --tx 2000000 --rx 1000000 --send nonblock --chunk 65536
scenario sendfile --tx 3000017 --rx 100003 --send sendfile
scenario splice --tx 2000029 --rx 90001 --send splice
scenario peek --tx 500000 --rx 70000 --peek
scenario intervals -n 16 --tx 240000 --rx 120000 --step 13 --chunk 4096 --rounds 13 \
	--period-ms 500
wait $FGP
sleep 2

kill -INT $M $MP
wait $M
echo $? >$O/main.rc
wait $MP
echo $? >$O/pid.rc
bpftool prog show >$O/progs.after 2>&1
bpftool link show >$O/links.after 2>&1
cat /sys/kernel/tracing/kprobe_events >$O/kprobe_events.after 2>/dev/null
echo $(($(date +%s) - t0)) >$O/total.seconds
say "done in $(cat $O/total.seconds) s"
exit 0
