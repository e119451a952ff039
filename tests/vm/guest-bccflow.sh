#!/bin/sh
# Runs inside the QEMU guest as /payload/guest-main.sh (see test_vm.py).
# One bccflow per backend listed in /payload/backends, all at once, counting
# every scenario's traffic (compiles are slow under TCG: one pass of traffic
# serves them all), and one more with -p and --attach $(cat /payload/pid-attach);
# then SIGINT to all, then a look for anything left attached.
# Outputs in /payload/out: main.BACKEND.{jsonl,err,rc,startup,status}, pid.*, the
# scenarios' truth files. The host compares the JSON with them exactly.
set -u
P=/payload
B=$P/bin/bccflow
F=$P/bin/flowgen
BACKENDS=$(cat $P/backends)
PATTACH=$(cat $P/pid-attach)
O=$P/out
mkdir -p $O
cd /tmp

say() { echo "guest[$BACKENDS]: $*"; }

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

# instances: "main.BACKEND" for each backend, "pid" for the -p one
INST=
for b in $BACKENDS; do
	$B --json --attach "$b" 1 >$O/main.$b.jsonl 2>$O/main.$b.err &
	eval "PID_main_$(echo $b | tr - _)=$!"
	INST="$INST main.$b"
done
$B --json --attach "$PATTACH" -p "$(echo $PIDS | tr ' ' ,)" 1 >$O/pid.jsonl 2>$O/pid.err &
PID_pid=$!
INST="$INST pid"
pidof_inst() { eval "echo \$PID_$(echo $1 | tr .- __)"; }

# Wait until each has printed its JSON start line or died (15 min at most).
# One that cannot start is reported (INST.rc "nostart") and the rest go on.
STARTED=
for n in $INST; do
	p=$(pidof_inst $n)
	i=0
	while ! grep -q '"type":"start"' $O/$n.jsonl 2>/dev/null; do
		kill -0 $p 2>/dev/null || break
		i=$((i + 1))
		[ $i -gt 900 ] && break
		sleep 1
	done
	if grep -q '"type":"start"' $O/$n.jsonl 2>/dev/null; then
		echo $(($(date +%s) - t0)) >$O/$n.startup
		# after the start line: the user and capabilities it went on with
		grep -E '^(Uid|Gid|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/$p/status >$O/$n.status
		STARTED="$STARTED $n"
		say "$n started after $(cat $O/$n.startup) s"
	else
		say "$n did not start: $(cat $O/$n.err)"
		kill -INT $p 2>/dev/null
		wait $p
		echo "nostart $?" >$O/$n.rc
	fi
done
kill -CONT $PIDS
if [ -z "$STARTED" ]; then
	wait $FGP
	exit 3
fi

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
# one process, the same 4-tuple in two namespaces of its own
if $P/bin/nsflows 1000003 2000005 >$O/twons.truth 2>$O/twons.err; then
	say "scenario twons done"
else
	say "scenario twons: nsflows failed: $(cat $O/twons.err)"
fi
# UDP: connected and unconnected sockets, both families, mmsg, MSG_PEEK
for u in connected multi6 mmsg peek; do
	if $P/bin/udpgen $u >$O/udp-$u.truth 2>$O/udp-$u.err; then
		say "scenario udp-$u done"
	else
		say "scenario udp-$u: udpgen failed: $(cat $O/udp-$u.err)"
	fi
done
wait $FGP
sleep 2

for n in $STARTED; do kill -INT $(pidof_inst $n); done
for n in $STARTED; do
	wait $(pidof_inst $n)
	echo $? >$O/$n.rc
done
bpftool prog show >$O/progs.after 2>&1
bpftool link show >$O/links.after 2>&1
cat /sys/kernel/tracing/kprobe_events >$O/kprobe_events.after 2>/dev/null
echo $(($(date +%s) - t0)) >$O/total.seconds
say "done in $(cat $O/total.seconds) s"
exit 0
