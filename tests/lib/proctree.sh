# shellcheck shell=bash
# Sourced by the test scripts that start long-running processes
# (tests/vm/build-image.sh, tests/userland/run.sh): they run long commands in
# the background and wait for them, so that a signal is handled at once (bash
# runs traps only between commands), and their exit traps end every process
# they started, by id from /proc (procps may be absent).

bgrun() { "$@" & wait "$!"; }

children_of() { # PID: its child processes' ids
	local f line ppid
	for f in /proc/[0-9]*/stat; do
		{ read -r line <"$f"; } 2>/dev/null || continue
		read -r _ ppid _ <<<"${line##*) }"
		[ "$ppid" != "$1" ] || { f=${f#/proc/}; echo "${f%/stat}"; }
	done
}

kill_tree() { # PID: the process and its descendants, stopped first so none escapes
	local c
	kill -STOP "$1" 2>/dev/null || return 0
	for c in $(children_of "$1"); do kill_tree "$c"; done
	kill -TERM "$1" 2>/dev/null
	kill -CONT "$1" 2>/dev/null || true
}

kill_children() { # every process this shell started
	local c
	for c in $(children_of $$); do kill_tree "$c"; done
	wait 2>/dev/null || true
}
