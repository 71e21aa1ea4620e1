#!/usr/bin/env bash
# up.sh (make up): start a whole Stria file system on this machine and mount
# it. File system "stria": the MGS on 127.0.0.1, the MDS with MDT0000 on
# 127.0.0.2, two OSSs on 127.0.0.3 and 127.0.0.4 with two OSTs each, every
# node on port 988; targets formatted (once) under run/, logs in run/log/,
# PIDs in run/pids/, control sockets in run/ctl/; the client (127.0.0.5)
# mounted at mnt/ (MNT= overrides; PORT= moves every node off 988). Running
# it again while everything is up only says so. If anything fails to come
# up within the bound (UP_TIMEOUT seconds, default 60), it stops what it
# started and exits non-zero. test/scripts/down.sh undoes it.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=$ROOT/bin
RUN=$ROOT/run
CTL=$RUN/ctl
LOG=$RUN/log
PIDS=$RUN/pids
FSNAME=stria
PORT=${PORT:-988}
BOUND=${UP_TIMEOUT:-60} # seconds for each daemon and the mount
MGS_IP=127.0.0.1
MDS_IP=127.0.0.2
OSS_IPS=(127.0.0.3 127.0.0.4)
CLIENT_IP=127.0.0.5
OSTS_PER_OSS=2
MNT=${MNT:-$ROOT/mnt}
case $MNT in /*) ;; *) MNT=$ROOT/$MNT ;; esac
SPEC=$MGS_IP@tcp:/$FSNAME
export STRIA_CTL_DIR=$CTL

say() { printf '%s\n' "$*"; }
die() { printf 'make up: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (the daemons listen on port $PORT, below 1024, and the client mounts with FUSE for every user): run 'sudo make up'"
[ -e /dev/fuse ] || die "/dev/fuse is missing: this machine has no FUSE"
for b in stria-mgs stria-mds stria-oss stria-client lfs lctl; do
	[ -x "$BIN/$b" ] || die "$BIN/$b is missing: run 'make build'"
done

# alive NAME: the PID in run/pids/NAME.pid runs one of our binaries on our
# run directory (or, for the client, our mount point).
alive() {
	local f=$PIDS/$1.pid pid
	[ -f "$f" ] || return 1
	pid=$(cat "$f" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[ -r "/proc/$pid/cmdline" ] || return 1
	local cmd
	cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
	case $cmd in *stria-*) ;; *) return 1 ;; esac
	case $cmd in *"$RUN/"* | *" $MNT"*) return 0 ;; esac
	return 1
}
mounted() { grep -qs " $MNT fuse.stria " /proc/mounts; }

DAEMONS=(mgs mds oss0 oss1)
up=0
for d in "${DAEMONS[@]}" client; do alive "$d" && up=$((up + 1)); done
if [ "$up" -eq 5 ] && mounted; then
	say "Stria is already up: $SPEC mounted on $MNT (make down stops it)."
	exit 0
fi
if [ "$up" -gt 0 ] || mounted; then
	say "Stria is partly up; stopping it to start over."
	MNT=$MNT test/scripts/down.sh
fi

mkdir -p "$CTL" "$LOG" "$PIDS" "$MNT"
if grep -qs " $MNT " /proc/mounts; then
	die "$MNT is already a mount point of something else"
fi
printf '%s\n' "$MNT" >"$RUN/mountpoint"

cleanup_on_error() {
	local rc=$?
	[ $rc -eq 0 ] && return
	say "make up: failed; stopping what this run started." >&2
	MNT=$MNT test/scripts/down.sh >&2 || true
	exit $rc
}
trap cleanup_on_error EXIT

# format KIND DIR ARGS...: format a target once; a directory left by a
# format that did not finish is formatted again.
format() {
	local bin=$1 dir=$2
	shift 2
	if [ -f "$dir.formatted" ]; then return 0; fi
	local re=()
	[ -e "$dir" ] && re=(--reformat)
	"$BIN/$bin" format --dir "$dir" "$@" "${re[@]}" >>"$LOG/format.log" 2>&1 ||
		die "formatting $dir failed: $(tail -n 3 "$LOG/format.log")"
	touch "$dir.formatted"
}
format stria-mgs "$RUN/mgs"
format stria-mds "$RUN/mdt0" --fsname $FSNAME --index 0 --mgsnode $MGS_IP@tcp --servicenode $MDS_IP@tcp
for i in "${!OSS_IPS[@]}"; do
	for j in $(seq 0 $((OSTS_PER_OSS - 1))); do
		idx=$((i * OSTS_PER_OSS + j))
		format stria-oss "$RUN/ost$idx" --fsname $FSNAME --index $idx --mgsnode $MGS_IP@tcp \
			--servicenode "${OSS_IPS[$i]}@tcp"
	done
done

# start NAME SOCKET BIN ARGS...: start a daemon in a session of its own and
# wait until it serves its control socket.
start() {
	local name=$1 sock=$CTL/$2.ctl bin=$3
	shift 3
	rm -f "$PIDS/$name.pid"
	[ -S "$sock" ] && rm -f "$sock" # left by a daemon that is gone (checked above)
	setsid "$BIN/$bin" start "$@" --port "$PORT" --ctl-dir "$CTL" --pid-file "$PIDS/$name.pid" \
		--log-format console </dev/null >>"$LOG/$name.log" 2>&1 &
	local pid=$!
	# The daemon rewrites it (with the same PID) once it serves; written
	# now, down.sh can stop a daemon that never got that far.
	printf '%s\n' "$pid" >"$PIDS/$name.pid"
	local deadline=$((SECONDS + BOUND))
	until [ -S "$sock" ]; do
		if ! kill -0 "$pid" 2>/dev/null; then
			die "$name exited before serving; the end of $LOG/$name.log:
$(tail -n 5 "$LOG/$name.log")"
		fi
		[ $SECONDS -lt $deadline ] || die "$name did not serve within ${BOUND}s; see $LOG/$name.log"
		sleep 0.1
	done
}

start mgs mgs stria-mgs --dir "$RUN/mgs" --networks "tcp0($MGS_IP)"
start mds mds-$FSNAME-MDT0000 stria-mds --dir "$RUN/mdt0" --networks "tcp0($MDS_IP)"
for i in "${!OSS_IPS[@]}"; do
	dirs=()
	for j in $(seq 0 $((OSTS_PER_OSS - 1))); do dirs+=(--dir "$RUN/ost$((i * OSTS_PER_OSS + j))"); done
	start "oss$i" "$(printf 'oss-%s-OST%04x' $FSNAME $((i * OSTS_PER_OSS)))" stria-oss "${dirs[@]}" \
		--networks "tcp0(${OSS_IPS[$i]})"
done

# The MDS must reach every OST before files can be striped over them.
nost=$((${#OSS_IPS[@]} * OSTS_PER_OSS))
deadline=$((SECONDS + BOUND))
until [ "$("$BIN/lctl" get_param -n 'osp.*.active' 2>/dev/null | grep -c '^1$')" -eq $nost ]; do
	[ $SECONDS -lt $deadline ] || die "the MDS did not connect to all $nost OSTs within ${BOUND}s; see $LOG/mds.log"
	sleep 0.2
done

rm -f "$PIDS/client.pid"
if ! "$BIN/stria-client" mount --networks "tcp0($CLIENT_IP)" --port "$PORT" --ctl-dir "$CTL" \
	--timeout "${BOUND}s" --log-file "$LOG/client.log" --log-format console --pid-file "$PIDS/client.pid" \
	"$SPEC" "$MNT"; then
	die "mounting $SPEC on $MNT failed; see $LOG/client.log"
fi
trap - EXIT

pid() { cat "$PIDS/$1.pid"; }
rel() { case $1 in "$ROOT"/*) printf '%s' "${1#"$ROOT"/}" ;; *) printf '%s' "$1" ;; esac; }
say "Stria is up: file system \"$FSNAME\", every node on port $PORT."
printf '  %-7s %-15s pid %-7s %s\n' \
	MGS "$MGS_IP@tcp" "$(pid mgs)" "$(rel "$RUN/mgs")" \
	MDS "$MDS_IP@tcp" "$(pid mds)" "$(rel "$RUN/mdt0") ($FSNAME-MDT0000)"
for i in "${!OSS_IPS[@]}"; do
	a=$((i * OSTS_PER_OSS))
	printf '  %-7s %-15s pid %-7s %s\n' "OSS$i" "${OSS_IPS[$i]}@tcp" "$(pid oss$i)" \
		"$(rel "$RUN/ost$a") .. ost$((a + OSTS_PER_OSS - 1)) ($(printf '%s-OST%04x..%04x' $FSNAME $a $((a + OSTS_PER_OSS - 1))))"
done
printf '  %-7s %-15s pid %-7s %s\n' client "$CLIENT_IP@tcp" "$(pid client)" "$SPEC mounted on $(rel "$MNT")"
say "Logs in $(rel "$LOG")/, PIDs in $(rel "$PIDS")/."
say ""
say "Try:"
say "  export STRIA_CTL_DIR=$CTL"
say "  bin/lfs df $(rel "$MNT")"
say "  bin/lfs setstripe -c 2 $(rel "$MNT")/f; bin/lfs getstripe $(rel "$MNT")/f"
say "  bin/lctl dl; bin/lctl list_nids"
say "Stop it with: make down"
