#!/usr/bin/env bash
# bench-locks.sh (make bench-locks; make bench runs it after the suite): the
# figures of issue 4 (locks and caching under them), on the make up mount
# (MNT=, default mnt/; started if it is not up, and then stopped at the end)
# next to the go-fuse loopback test/bench/fuseloop (kernel passthrough off)
# over a local directory, in the same run:
#
#   cached-reread   a 1 GiB file (REREAD_MB) written, read once, then re-read
#                   with dd (no drop_caches) REREAD_ROUNDS times (default 5),
#                   alternating the two file systems; median MiB/s, the
#                   ratio, and the OST_READ RPCs Stria's re-reads sent.
#                   Goal: stria >= 0.9 x fuseloop.
#   stat-cached     STATS (1000) stat(2)s of a cached file on Stria; the
#                   client's RPCs (lctl get_param mdc.*.stats osc.*.stats,
#                   pings left out) before and after, per stat. Goal: 0.
#   ior-hard-2mnt   ior-hard-style shared-file write (fio, 47008-byte records
#                   interleaved, end_fsync) from two client mounts of the
#                   file system: a second client is mounted for it (on
#                   CLIENT2_IP, default 127.0.0.6), one fio job on each mount;
#                   the same two jobs on the one fuseloop mount beside it.
#                   HARD_RECS (2000) records per job, ROUNDS (3) rounds;
#                   median MiB/s, reported.
#   mdtest-easy-stat  from make bench's suite run (BENCH_TSV=, its
#                   results.tsv); run alone, this script runs the suite's
#                   mdtest-easy create, stat and delete itself (mdbench,
#                   2 x 5000 files, caches dropped before the stat), ROUNDS
#                   times. Goal: stria >= 20,000/s (served from what the
#                   client caches under its locks).
#
# It prints a table like make bench's and appends TSV lines (label, test,
# metric, value, unit) to RES/locks.tsv (RES=, default
# run/bench/locks-TIMESTAMP/). Unmet goals are reported, not an error; a
# failed measurement is. LOOP_MNT= names a fuseloop mount to use instead of
# starting one (make bench passes its own). PORT= as for make up. Needs root
# (make up, the mounts, drop_caches), fio, jq and go.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
RUN=$ROOT/run
BIN=$ROOT/bin
BENCH_DIR=${BENCH_DIR:-$ROOT/../shared/bench}
ROUNDS=${ROUNDS:-3}
REREAD_ROUNDS=${REREAD_ROUNDS:-5}
REREAD_MB=${REREAD_MB:-1024}
STATS=${STATS:-1000}
HARD_REC=47008
HARD_RECS=${HARD_RECS:-2000}
MNT=${MNT:-$ROOT/mnt}
case $MNT in /*) ;; *) MNT=$ROOT/$MNT ;; esac
PORT=${PORT:-988}
MGS_NID=127.0.0.1@tcp
CLIENT2_IP=${CLIENT2_IP:-127.0.0.6}
BENCH_TSV=${BENCH_TSV:-}
LOOP_MNT=${LOOP_MNT:-}
TS=$(date -u +%Y%m%dT%H%M%SZ)
RES=${RES:-$RUN/bench/locks-$TS}
TSV=$RES/locks.tsv
export STRIA_CTL_DIR=$RUN/ctl

say() { printf '%s\n' "$*"; }
die() { printf 'bench-locks: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (make up, the client and loopback mounts, drop_caches): run 'sudo make bench-locks'"
for v in ROUNDS REREAD_ROUNDS REREAD_MB STATS HARD_RECS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number, not '${!v}'"
done
[ -e /dev/fuse ] || die "/dev/fuse is missing: this machine has no FUSE"
for t in fio jq go perl dd; do command -v $t >/dev/null || die "$t is not on PATH (make bench installs fio and jq)"; done

mkdir -p "$RES"
WORK=$RUN/bench/locks-work.$$ # removed on exit
mkdir -p "$WORK/bin" "$WORK/loopsrc" "$WORK/loopmnt" "$WORK/mnt2"
MNT2=$WORK/mnt2
SUB=bench-locks.$$ # the directory this run works in, on each mount

loop_pid=
client2=0
started_stria=0
cleanup() {
	local rc=$?
	set +e
	rm -rf "${MNT:?}/$SUB" 2>/dev/null
	[ -n "$LOOP_MNT" ] && rm -rf "${LOOP_MNT:?}/$SUB" 2>/dev/null
	if [ $client2 = 1 ] && grep -qs " $MNT2 fuse.stria " /proc/mounts; then
		"$BIN/stria-client" umount --ctl-dir "$STRIA_CTL_DIR" --timeout 60s "$MNT2" >/dev/null 2>&1 ||
			umount -l "$MNT2"
	fi
	if [ -n "$loop_pid" ]; then
		kill -TERM "$loop_pid" 2>/dev/null
		for _ in $(seq 50); do grep -qs " $WORK/loopmnt " /proc/mounts || break; sleep 0.1; done
		grep -qs " $WORK/loopmnt " /proc/mounts && umount -l "$WORK/loopmnt"
		wait "$loop_pid" 2>/dev/null
	fi
	rm -rf "$WORK"
	if [ $started_stria = 1 ]; then
		say "Stopping the Stria this run started (make down)."
		MNT=$MNT test/scripts/down.sh
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say ""
say "bench-locks: the figures of issue 4; results in ${RES#"$ROOT"/}/"
say "Load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"

# The loopback: make bench's, or one of our own.
if [ -z "$LOOP_MNT" ]; then
	go build -o "$WORK/bin/fuseloop" ./test/bench/fuseloop
	"$WORK/bin/fuseloop" "$WORK/loopmnt" "$WORK/loopsrc" >"$RES/fuseloop.log" 2>&1 &
	loop_pid=$!
	for _ in $(seq 100); do
		grep -qs " $WORK/loopmnt fuse" /proc/mounts && break
		kill -0 "$loop_pid" 2>/dev/null || die "fuseloop exited: $(tail -n 5 "$RES/fuseloop.log")"
		sleep 0.1
	done
	grep -qs " $WORK/loopmnt fuse" /proc/mounts || die "fuseloop did not mount $WORK/loopmnt within 10s"
	LOOP_MNT=$WORK/loopmnt
fi
grep -qs " $LOOP_MNT fuse" /proc/mounts || die "LOOP_MNT=$LOOP_MNT is not a FUSE mount"

if grep -qs " $MNT fuse.stria " /proc/mounts; then
	say "Stria is mounted on $MNT; using it as it is."
else
	say "Stria is not mounted on $MNT; starting it (make up)."
	started_stria=1
	make --no-print-directory up MNT="$MNT" >"$RES/up.log" 2>&1 || die "make up failed: $(tail -n 5 "$RES/up.log")"
fi
for b in stria-client lctl; do [ -x "$BIN/$b" ] || die "$BIN/$b is missing: run 'make build'"; done
mkdir "$MNT/$SUB" "$LOOP_MNT/$SUB"
declare -A dir=([fuseloop]=$LOOP_MNT/$SUB [stria]=$MNT/$SUB)

emit() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TSV"; } # label test metric value unit

# rpcs [PATTERN]: RPCs the Stria clients sent, by the opcodes matching
# PATTERN (default: all but pings), from lctl get_param mdc.*.stats and
# osc.*.stats.
rpcs() {
	"$BIN/lctl" get_param -n 'mdc.*.stats' 'osc.*.stats' |
		awk -v pat="${1:-}" '$3 == "samples" && $4 == "[usec]" && (pat == "" ? $1 != "obd_ping" : $1 ~ pat) { n += $2 } END { print n + 0 }'
}
# llite_ops OP: how many OP requests the Stria clients served.
llite_ops() {
	"$BIN/lctl" get_param -n 'llite.*.stats' | awk -v op="$1" '$1 == op && $3 == "samples" { n += $2 } END { print n + 0 }'
}
now() { date +%s%N; }
mibps() { awk -v mb="$1" -v ns="$2" 'BEGIN { printf "%.1f", mb / (ns / 1e9) }'; }

# --------------------------------------------------------------- cached re-read
say ""
say "=== cached re-read of a $REREAD_MB MiB file: write, read once, then $REREAD_ROUNDS timed re-reads each (dd bs=1M, no drop_caches)"
for l in fuseloop stria; do
	f=${dir[$l]}/reread.dat
	dd if=/dev/zero of="$f" bs=1M count="$REREAD_MB" conv=fsync status=none || die "writing $f failed"
	dd if="$f" of=/dev/null bs=1M status=none || die "reading $f failed"
done
ostreads=$(rpcs '^ost_read$')
for r in $(seq "$REREAD_ROUNDS"); do
	order=(fuseloop stria)
	[ $((r % 2)) = 0 ] && order=(stria fuseloop)
	line="round $r:"
	for l in "${order[@]}"; do
		t0=$(now)
		dd if="${dir[$l]}/reread.dat" of=/dev/null bs=1M status=none || die "re-reading on $l failed"
		v=$(mibps "$REREAD_MB" $(($(now) - t0)))
		emit "$l" cached-reread bandwidth "$v" MiB/s
		line="$line $l $v MiB/s"
	done
	say "$line"
done
ostreads=$(($(rpcs '^ost_read$') - ostreads))
emit stria cached-reread ost-read-rpcs "$ostreads" RPCs
say "Stria's re-reads sent $ostreads OST_READ RPCs"
rm -f "${dir[fuseloop]}/reread.dat" "${dir[stria]}/reread.dat"

# --------------------------------------------------------------- cached stat
# Only make up's client is mounted now, so the counters are its own.
say ""
say "=== $STATS stat(2)s of a cached file on Stria: the client's RPCs before and after"
f=${dir[stria]}/statfile
echo data >"$f"
# The first access takes the locks in the background; a later stat is
# served under them.
for _ in $(seq 100); do
	b=$(rpcs)
	stat "$f" >/dev/null
	[ "$(rpcs)" = "$b" ] && break
done
b=$(rpcs)
g=$(llite_ops getattr)
perl -e 'for (1 .. $ARGV[1]) { stat($ARGV[0]) or die "stat $ARGV[0]: $!\n" }' "$f" "$STATS"
n=$(($(rpcs) - b))
g=$(($(llite_ops getattr) - g))
per=$(awk -v n="$n" -v s="$STATS" 'BEGIN { printf "%.3f", n / s }')
emit stria stat-cached rpcs-per-stat "$per" RPC
say "$STATS stats: $n RPCs (pings left out), $per per stat; $g getattr requests reached the client (the kernel answers the others from attributes the client lets it cache)"

# --------------------------------------------------------------- ior-hard, two mounts
say ""
say "Mounting a second Stria client on $MNT2 ($CLIENT2_IP@tcp)."
client2=1
"$BIN/stria-client" mount --networks "tcp0($CLIENT2_IP)" --port "$PORT" --ctl-dir "$STRIA_CTL_DIR" \
	--timeout 60s --log-file "$RES/client2.log" --log-format console "$MGS_NID:/stria" "$MNT2" ||
	die "mounting a second client failed; see ${RES#"$ROOT"/}/client2.log"
HARD_SKIP=$HARD_REC # two jobs: each skips the other's record
HARD_REGION=$(((2 * HARD_RECS - 1) * HARD_REC))
HARD_BYTES=$((2 * HARD_RECS * HARD_REC))
say "=== ior-hard-style write from two mounts: 2 x $HARD_RECS x $HARD_REC B interleaved in one file, end_fsync ($ROUNDS rounds)"
for r in $(seq "$ROUNDS"); do
	line="round $r:"
	for l in fuseloop stria; do
		f0=${dir[$l]}/ior-hard.dat f1=${dir[$l]}/ior-hard.dat
		[ $l = stria ] && f1=$MNT2/$SUB/ior-hard.dat
		j=$RES/ior-hard-2mnt.$l.$r
		cat >"$j.fio" <<EOF
[global]
ioengine=psync
direct=0
bs=$HARD_REC
rw=write:$HARD_SKIP
size=$HARD_REGION
io_size=$((HARD_RECS * HARD_REC))
fallocate=none
end_fsync=1
runtime=300
group_reporting=1
[mount0]
filename=$f0
offset=0
[mount1]
filename=$f1
offset=$HARD_REC
EOF
		timeout 600 fio --output-format=json --output="$j.json" "$j.fio" >/dev/null || die "fio failed on $l (${j#"$ROOT"/}.fio)"
		io=$(jq -r '.jobs[0].write.io_bytes' "$j.json")
		[ "$io" = "$HARD_BYTES" ] || die "ior-hard on $l wrote $io bytes, not $HARD_BYTES (runtime cap?)"
		sz=$(stat -c %s "$f0")
		[ "$sz" = "$HARD_BYTES" ] || die "ior-hard's file on $l is $sz bytes, not $HARD_BYTES"
		v=$(jq -r '.jobs[0].write.bw_bytes / 1048576 | . * 10 | round / 10' "$j.json")
		emit "$l" ior-hard-2mnt bandwidth "$v" MiB/s
		line="$line $l $v MiB/s"
		rm -f "$f0"
	done
	say "$line"
done

# --------------------------------------------------------------- mdtest-easy stat
say ""
if [ -n "$BENCH_TSV" ]; then
	say "=== mdtest-easy-stat: from make bench's suite ($BENCH_TSV)"
	awk -F'\t' '$2 == "mdtest-easy-stat" && $3 == "rate" { print }' "$BENCH_TSV" >>"$TSV"
else
	[ -d "$BENCH_DIR/mdbench" ] || die "$BENCH_DIR/mdbench is missing: the suite lives in ../shared/bench (BENCH_DIR= names another place)"
	say "=== mdtest-easy-stat: fsbench's mdtest-easy (mdbench, 2 x 5000 empty files, caches dropped before the stat), $ROUNDS rounds"
	(cd "$BENCH_DIR/mdbench" && go build -o "$WORK/bin/mdbench" .)
	for r in $(seq "$ROUNDS"); do
		line="round $r:"
		for l in fuseloop stria; do
			d=${dir[$l]}/mdtest-easy
			mkdir "$d"
			for ph in create stat delete; do
				[ $ph = create ] || { sync; echo 3 >/proc/sys/vm/drop_caches; }
				out=$("$WORK/bin/mdbench" -dir "$d" -phase $ph -workers 2 -files 5000 -size 0 -stonewall 60) ||
					die "mdbench $ph failed on $l"
				IFS=$'\t' read -r _ _ _ rate sw <<<"$out"
				[ "$sw" = 1 ] && say "warning: mdtest-easy-$ph on $l hit mdbench's 60 s stonewall"
				[ $ph = stat ] && { emit "$l" mdtest-easy-stat rate "$rate" ops/s; line="$line $l $rate/s"; }
			done
			rm -rf "$d"
		done
		say "$line"
	done
fi

# --------------------------------------------------------------- the table
say ""
say "Medians; TSV in ${TSV#"$ROOT"/}."
awk -F'\t' '
function median(key,   n, i, j, t, a) {
	n = cnt[key]
	if (n == 0) return ""
	for (i = 1; i <= n; i++) a[i] = val[key, i]
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
function fmt(v) { return v == "" ? "-" : sprintf(v >= 100 ? "%.0f" : v >= 1 || v == 0 ? "%.1f" : "%.3f", v) }
{ key = $1 SUBSEP $2 SUBSEP $3; val[key, ++cnt[key]] = $4 + 0 }
END {
	printf "%-20s %-7s %10s %10s %9s  %s\n", "test", "unit", "fuseloop", "stria", "s/loop", "goal (issue 4)"
	bad = 0
	f = median("fuseloop" SUBSEP "cached-reread" SUBSEP "bandwidth"); s = median("stria" SUBSEP "cached-reread" SUBSEP "bandwidth")
	ok = (f != "" && s != "" && s >= 0.9 * f); if (!ok) bad++
	o = median("stria" SUBSEP "cached-reread" SUBSEP "ost-read-rpcs")
	printf "%-20s %-7s %10s %10s %9s  %s\n", "cached-reread-1g", "MiB/s", fmt(f), fmt(s), (f > 0 && s != "") ? sprintf("%.2f", s / f) : "-",
		sprintf(">=0.9x loop %s (%s OST_READs)", ok ? "PASS" : "FAIL", o == "" ? "?" : o)
	s = median("stria" SUBSEP "stat-cached" SUBSEP "rpcs-per-stat")
	ok = (s != "" && s == 0); if (!ok) bad++
	printf "%-20s %-7s %10s %10s %9s  %s\n", "stat-cached", "RPC/op", "-", fmt(s), "-", sprintf("0 RPC per stat %s", ok ? "PASS" : "FAIL")
	f = median("fuseloop" SUBSEP "ior-hard-2mnt" SUBSEP "bandwidth"); s = median("stria" SUBSEP "ior-hard-2mnt" SUBSEP "bandwidth")
	printf "%-20s %-7s %10s %10s %9s  %s\n", "ior-hard-write-2mnt", "MiB/s", fmt(f), fmt(s), (f > 0 && s != "") ? sprintf("%.2f", s / f) : "-", "reported (two client mounts; loop: one mount)"
	f = median("fuseloop" SUBSEP "mdtest-easy-stat" SUBSEP "rate"); s = median("stria" SUBSEP "mdtest-easy-stat" SUBSEP "rate")
	ok = (s != "" && s >= 20000); if (!ok) bad++
	printf "%-20s %-7s %10s %10s %9s  %s\n", "mdtest-easy-stat", "ops/s", fmt(f), fmt(s), (f > 0 && s != "") ? sprintf("%.2f", s / f) : "-", sprintf(">=20000/s %s", ok ? "PASS" : "FAIL")
	printf "issue 4 goals: %s\n", bad ? bad " not met" : "all met"
}' "$TSV"
