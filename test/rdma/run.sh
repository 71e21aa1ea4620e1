#!/usr/bin/env bash
# run.sh: runs o2iblnd over a real RDMA device (InfiniBand or RoCE) through
# its cgo verbs engine: the LND conformance suite, then the benchmarks.
#
#   test/rdma/run.sh ADDR1 ADDR2 ADDR3 [GHOST]
#
# ADDR1..3 are IPv4 addresses configured on RDMA-capable interfaces of this
# host (three secondary addresses on one ib0 will do, see README.md); each
# runs one test NI. GHOST is an address on the same subnet that nobody
# answers on, nor on the 15 after it (default: .200 of ADDR1's /24). The
# addresses may also come from STRIA_RDMA_ADDRS="a,b,c" and
# STRIA_RDMA_GHOST. BENCHTIME (default 3s) is passed to -benchtime;
# NOBENCH=1 skips the benchmarks.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if [ $# -ge 3 ]; then
	addrs="$1,$2,$3"
	ghost=${4:-}
else
	addrs=${STRIA_RDMA_ADDRS:-}
	ghost=${STRIA_RDMA_GHOST:-}
fi
if [ -z "$addrs" ]; then
	sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
fi
first=${addrs%%,*}
[ -n "$ghost" ] || ghost="${first%.*}.200"

"$here/deps.sh"

if ! compgen -G '/sys/class/infiniband/*' >/dev/null; then
	echo "run.sh: no RDMA device (/sys/class/infiniband is empty); load the HCA's driver, or rdma_rxe for Soft-RoCE" >&2
	exit 2
fi
echo "run.sh: RDMA devices: $(ls /sys/class/infiniband | tr '\n' ' ')"
IFS=, read -r -a list <<<"$addrs"
for a in "${list[@]}"; do
	if ! ip -o -4 addr show | grep -q " inet $a/"; then
		echo "run.sh: $a is not an address of this host (ip addr add $a/24 dev ib0)" >&2
		exit 2
	fi
done
if [ "$(ulimit -l)" != unlimited ]; then
	echo "run.sh: note: locked-memory limit is $(ulimit -l) KiB; registration pins buffers (ulimit -l unlimited)" >&2
fi

cd "$root"
args=(-args "-o2ib.addrs=$addrs" "-o2ib.ghost=$ghost")
go vet -tags rdma ./lnet/o2iblnd/... ./test/rdma/
go test -tags rdma -count=1 -v -run 'TestConformance' ./test/rdma/ "${args[@]}"
if [ -z "${NOBENCH:-}" ]; then
	go test -tags rdma -count=1 -run '^$' -bench . -benchtime "${BENCHTIME:-3s}" ./test/rdma/ "${args[@]}"
fi
