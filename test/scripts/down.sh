#!/usr/bin/env bash
# down.sh (make down): unmount what make up mounted and stop exactly the
# processes it started: the PIDs in run/pids/, each signalled only while
# /proc/PID/cmdline still names a Stria binary working on this checkout's
# run/ (or, for the client, the mount point). Harmless when nothing is up.
set -uo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=$ROOT/bin
RUN=$ROOT/run
CTL=$RUN/ctl
PIDS=$RUN/pids
if [ -z "${MNT:-}" ]; then
	MNT=$(cat "$RUN/mountpoint" 2>/dev/null || printf '%s' "$ROOT/mnt")
fi
case $MNT in /*) ;; *) MNT=$ROOT/$MNT ;; esac
BOUND=${DOWN_TIMEOUT:-30}

say() { printf '%s\n' "$*"; }
[ "$(id -u)" -eq 0 ] || { say "make down: needs root, as make up does" >&2; exit 1; }

# ours NAME PID: PID runs stria-* on our run directory or mount point.
ours() {
	local cmd
	cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$2/cmdline") || return 1
	case $cmd in *stria-*) ;; *) return 1 ;; esac
	case $cmd in *"$RUN/"* | *" $MNT"*) return 0 ;; esac
	return 1
}

rc=0
stopped=()

# stop NAME: SIGTERM the process in run/pids/NAME.pid and wait for it; SIGKILL
# after the bound.
stop() {
	local name=$1 f=$PIDS/$1.pid pid
	[ -f "$f" ] || return 0
	pid=$(cat "$f" 2>/dev/null)
	if ! [[ $pid =~ ^[0-9]+$ ]] || ! ours "$name" "$pid"; then
		rm -f "$f" # stale: that process is gone, or the PID is someone else's now
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null
	local deadline=$((SECONDS + BOUND))
	while kill -0 "$pid" 2>/dev/null && ours "$name" "$pid"; do
		if [ $SECONDS -ge $deadline ]; then
			say "make down: $name (pid $pid) did not stop within ${BOUND}s of SIGTERM; killing it" >&2
			kill -KILL "$pid" 2>/dev/null
			rc=1
			break
		fi
		sleep 0.1
	done
	rm -f "$f"
	stopped+=("$name (pid $pid)")
}

if grep -qs " $MNT fuse.stria " /proc/mounts; then
	if out=$("$BIN/stria-client" umount --ctl-dir "$CTL" --timeout "${BOUND}s" "$MNT" 2>&1); then
		say "Unmounted $MNT."
	else
		say "make down: $out; detaching it (umount -l)" >&2
		umount -l "$MNT" || rc=1
	fi
fi
stop client
for d in mds oss0 oss1 mgs; do stop "$d"; done
for s in "${stopped[@]}"; do say "Stopped $s."; done
[ ${#stopped[@]} -gt 0 ] || say "Nothing of make up's was running."
rm -f "$RUN/mountpoint"
exit $rc
