#!/usr/bin/env bash
# bench.sh (make bench): the file-system benchmark. Runs the IO500-style suite
# of ../shared/bench (fsbench.sh) in one run against three file systems, in
# alternation for ROUNDS rounds (default 3; ROUNDS=1 for a quick look):
#
#   local     a directory on the disk that holds run/
#   fuseloop  test/bench/fuseloop (go-fuse loopback, kernel passthrough off,
#             so the data goes through the daemon, as Stria's must) over
#             another directory on that disk
#   stria     the make up mount (MNT=, default mnt/); started if it is not
#             up, and then stopped at the end
#
# and prints the median of each workload per file system, stria/fuseloop, and
# the goals of issue 3: ior-easy write and read >= 0.5 x fuseloop,
# mdtest-easy-create >= 1500 ops/s, and ior-easy ahead of GlusterFS and
# MooseFS as ../shared/bench/BASELINE.md records them. Then
# test/scripts/bench-locks.sh measures the figures of issue 4 (cached re-read,
# RPCs per cached stat, ior-hard from two client mounts, mdtest-easy-stat from
# this suite) on the same mounts and prints its own table; BENCH_LOCKS=0
# leaves it out (make bench-locks runs it alone).
#
# Results (TSV, fsbench's raw fio/mdbench output, the run's log) stay in
# run/bench/TIMESTAMP/; the data directories and the loopback mount are
# removed on exit, failure or interrupt included. Needs root (fsbench drops
# the kernel caches; make up needs it), fio and jq (installed from Debian when
# missing) and go. BENCH_DIR= names the suite's directory.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
RUN=$ROOT/run
BENCH_DIR=${BENCH_DIR:-$ROOT/../shared/bench}
ROUNDS=${ROUNDS:-3}
MNT=${MNT:-$ROOT/mnt}
case $MNT in /*) ;; *) MNT=$ROOT/$MNT ;; esac
LABELS=(local fuseloop stria)

say() { printf '%s\n' "$*"; }
die() { printf 'make bench: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root: the suite drops the kernel caches (/proc/sys/vm/drop_caches) before every read phase, and make up and the loopback mount need it; run 'sudo make bench'"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive number, not '$ROUNDS'"
[ -f "$BENCH_DIR/fsbench.sh" ] || die "$BENCH_DIR/fsbench.sh is missing: the suite lives in ../shared/bench beside this checkout (BENCH_DIR= names another place)"
[ -f "$BENCH_DIR/BASELINE.md" ] || die "$BENCH_DIR/BASELINE.md is missing"
[ -e /dev/fuse ] || die "/dev/fuse is missing: this machine has no FUSE"
command -v go >/dev/null || die "go is not on PATH (the suite builds its metadata workload, mdbench)"
need=()
command -v fio >/dev/null || need+=(fio)
command -v jq >/dev/null || need+=(jq)
if [ ${#need[@]} -gt 0 ]; then
	say "Installing ${need[*]} (Debian packages)."
	apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@"; }
	apt_get install -y -q "${need[@]}" >/dev/null 2>&1 ||
		{ apt_get update -q >/dev/null && apt_get install -y -q "${need[@]}" >/dev/null; } ||
		die "could not install ${need[*]} with apt-get"
fi

TS=$(date -u +%Y%m%dT%H%M%SZ)
RES=$RUN/bench/$TS
TSV=$RES/results.tsv
WORK=$RUN/bench/work.$$ # removed on exit
mkdir -p "$RES" "$WORK/local" "$WORK/loopsrc" "$WORK/loopmnt" "$WORK/bin"
LOG=$RES/bench.log
exec > >(tee -a "$LOG") 2>&1
tee_pid=$!

loop_pid=
started_stria=0
cleanup() {
	local rc=$?
	set +e
	if grep -qs " $WORK/loopmnt " /proc/mounts; then
		[ -n "$loop_pid" ] && kill -TERM "$loop_pid" 2>/dev/null
		for _ in $(seq 50); do grep -qs " $WORK/loopmnt " /proc/mounts || break; sleep 0.1; done
		grep -qs " $WORK/loopmnt " /proc/mounts && umount -l "$WORK/loopmnt"
	fi
	if [ -n "$loop_pid" ]; then
		kill -TERM "$loop_pid" 2>/dev/null
		wait "$loop_pid" 2>/dev/null
	fi
	rm -rf "$WORK"
	if [ $started_stria = 1 ]; then
		say "Stopping the Stria this run started (make down)."
		MNT=$MNT test/scripts/down.sh
	fi
	say "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); $(uptime)"
	exec >&- 2>&-
	wait "$tee_pid" 2>/dev/null
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "make bench: ROUNDS=$ROUNDS, suite $BENCH_DIR/fsbench.sh, results in ${RES#"$ROOT"/}/"
say "Load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores); $(uptime)"
say "Commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes in the tree)')"

# The loopback, built in this module (no download).
go build -o "$WORK/bin/fuseloop" ./test/bench/fuseloop
"$WORK/bin/fuseloop" "$WORK/loopmnt" "$WORK/loopsrc" >"$RES/fuseloop.log" 2>&1 &
loop_pid=$!
for _ in $(seq 100); do
	grep -qs " $WORK/loopmnt fuse" /proc/mounts && break
	kill -0 "$loop_pid" 2>/dev/null || die "fuseloop exited: $(tail -n 5 "$RES/fuseloop.log")"
	sleep 0.1
done
grep -qs " $WORK/loopmnt fuse" /proc/mounts || die "fuseloop did not mount $WORK/loopmnt within 10s"

# Stria: make up's mount, started here if it is not up.
if grep -qs " $MNT fuse.stria " /proc/mounts; then
	say "Stria is already mounted on $MNT; using it as it is (this run will not stop it)."
else
	say "Stria is not mounted on $MNT; starting it (make up)."
	started_stria=1
	make --no-print-directory up MNT="$MNT" || die "make up failed; see run/log/"
fi
say "Stria client pid $(cat "$RUN/pids/client.pid" 2>/dev/null || echo '?'); $(findmnt -n -o SOURCE,FSTYPE,OPTIONS -T "$MNT" || true)"

declare -A dir=([local]=$WORK/local [fuseloop]=$WORK/loopmnt [stria]=$MNT)
failed=()
for r in $(seq "$ROUNDS"); do
	for l in "${LABELS[@]}"; do
		say ""
		say "=== round $r/$ROUNDS: $l (load average $(cut -d' ' -f1-3 /proc/loadavg))"
		if ! RAWDIR=$RES/raw/$l.$r "$BENCH_DIR/fsbench.sh" "${dir[$l]}" "$l" "$TSV"; then
			failed+=("round $r $l")
			say "make bench: fsbench.sh failed on $l in round $r (raw output in ${RES#"$ROOT"/}/raw/$l.$r/)"
			if [ "$l" = stria ]; then
				for f in client mds oss0 oss1 mgs; do
					[ -f "$RUN/log/$f.log" ] || continue
					say "--- the end of run/log/$f.log"
					tail -n 20 "$RUN/log/$f.log"
				done
				grep -qs " $MNT fuse.stria " /proc/mounts || die "the Stria mount is gone; stopping"
			fi
		fi
	done
done

# The table: medians over the rounds; ratios; the goals of issue 3.
say ""
say "Medians over $ROUNDS round(s); $(wc -l <"$TSV") result lines in ${TSV#"$ROOT"/}."
awk -F'\t' -v base="$BENCH_DIR/BASELINE.md" -v rounds="$ROUNDS" '
function median(key,   n, i, j, t, a) {
	n = cnt[key]
	if (n == 0) return ""
	for (i = 1; i <= n; i++) a[i] = val[key, i]
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
function num(s) { gsub(/,/, "", s); return s + 0 }
function fmt(v) { return v == "" ? "-" : sprintf(v >= 100 ? "%.0f" : "%.1f", v) }
BEGIN {
	# BASELINE.md: the first table, columns by header name.
	while ((getline line < base) > 0) {
		if (line !~ /^\|/) { if (hdr) break; continue }
		nf = split(line, c, "|")
		for (i = 2; i < nf; i++) { gsub(/^ +| +$/, "", c[i]) }
		if (!hdr) { for (i = 2; i < nf; i++) col[c[i]] = i; hdr = 1; continue }
		if (c[2] ~ /^-+$/) continue
		for (k in col) if (k ~ /^GlusterFS/) gl[c[2]] = num(c[col[k]]); else if (k ~ /^MooseFS/) mo[c[2]] = num(c[col[k]])
	}
	metric["ior-easy-write"] = "bandwidth"; metric["ior-easy-read"] = "bandwidth"
	metric["ior-hard-write"] = "bandwidth"; metric["ior-hard-read"] = "bandwidth"
	metric["rand-read-4k"] = "iops"
	ntests = split("ior-easy-write ior-easy-read ior-hard-write ior-hard-read mdtest-easy-create mdtest-easy-stat mdtest-easy-delete mdtest-hard-create mdtest-hard-stat mdtest-hard-read mdtest-hard-delete rand-read-4k", tests, " ")
}
{
	key = $1 SUBSEP $2 SUBSEP $3
	val[key, ++cnt[key]] = $4
	unit[$2, $3] = $5
	if ($3 ~ /^(short-run|stonewalled)/) flag[$1, $2] = flag[$1, $2] " " $3
	if ($2 == "suite") done[$1]++
}
END {
	printf "%-20s %-6s %10s %10s %10s %9s  %s\n", "test", "unit", "local", "fuseloop", "stria", "s/loop", "goal (issue 3)"
	bad = 0
	for (t = 1; t <= ntests; t++) {
		name = tests[t]; m = (name in metric) ? metric[name] : "rate"
		l = median("local" SUBSEP name SUBSEP m); f = median("fuseloop" SUBSEP name SUBSEP m); s = median("stria" SUBSEP name SUBSEP m)
		ratio = (f != "" && s != "" && f > 0) ? sprintf("%.2f", s / f) : "-"
		goal = ""
		if (name == "ior-easy-write" || name == "ior-easy-read") {
			ok = (s != "" && f != "" && s >= 0.5 * f)
			goal = sprintf(">=0.5x loop %s; > GlusterFS %d %s, MooseFS %d %s", ok ? "PASS" : "FAIL",
				gl[name], (s != "" && s > gl[name]) ? "PASS" : "FAIL", mo[name], (s != "" && s > mo[name]) ? "PASS" : "FAIL")
			if (!ok || s == "" || s <= gl[name] || s <= mo[name]) bad++
		} else if (name == "mdtest-easy-create") {
			ok = (s != "" && s >= 1500)
			goal = sprintf(">=1500/s %s", ok ? "PASS" : "FAIL")
			if (!ok) bad++
		}
		for (lb = 1; lb <= 3; lb++) { x = (lb == 1 ? "local" : lb == 2 ? "fuseloop" : "stria"); if (flag[x, name] != "") goal = goal " [" x ":" flag[x, name] "]" }
		printf "%-20s %-6s %10s %10s %10s %9s  %s\n", name, unit[name, m], fmt(l), fmt(f), fmt(s), ratio, goal
	}
	printf "rounds completed: local %d, fuseloop %d, stria %d (of %d)\n", done["local"], done["fuseloop"], done["stria"], rounds
	printf "issue 3 goals: %s\n", bad ? bad " not met" : "all met"
}' "$TSV"
# The figures of issue 4, on the same Stria mount and loopback.
if [ "${BENCH_LOCKS:-1}" != 0 ]; then
	if ! BENCH_TSV=$TSV LOOP_MNT=$WORK/loopmnt RES=$RES MNT=$MNT ROUNDS=$ROUNDS BENCH_DIR=$BENCH_DIR \
		test/scripts/bench-locks.sh; then
		failed+=("bench-locks")
	fi
fi
if [ ${#failed[@]} -gt 0 ]; then
	say "make bench: the suite failed in: ${failed[*]} (see ${LOG#"$ROOT"/})"
	exit 1
fi
