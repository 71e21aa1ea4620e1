#!/usr/bin/env bash
# run.sh: builds testdata/iorhard.c and runs it by hand, IOR-hard style,
# on one shared file seen through two paths (two client mounts).
#
#   test/mpi/run.sh PATH_A PATH_B [RECORDS_PER_RANK=256] [ind|coll] [ompio|romio321]
#
# PATH_A and PATH_B must name the same file through two mounts of one file
# system (e.g. mnt/iorhard and a second client's mount of `make up`'s file
# system); even ranks use PATH_A, odd ranks PATH_B. NP (default 4) sets the
# number of ranks, RECORD_SIZE (default 47008) the record size. It exits
# non-zero, naming the rank, record and offset, on the first wrong byte.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if [ $# -lt 2 ]; then
	sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
fi
a=$1 b=$2 records=${3:-256} mode=${4:-ind} io=${5:-ompio}

for tool in mpicc mpirun; do
	command -v "$tool" >/dev/null || {
		echo "run.sh: $tool not found (apt-get install openmpi-bin libopenmpi-dev)" >&2
		exit 2
	}
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mpicc -O2 -Wall -Werror -o "$work/iorhard" "$here/testdata/iorhard.c"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# No "ufs:" prefix: OMPIO would take it as part of the name.
timeout --signal=TERM --kill-after=10 "${TIMEOUT:-600}" \
	mpirun --allow-run-as-root --oversubscribe -np "${NP:-4}" --mca btl self,vader --mca io "$io" \
	"$work/iorhard" "$a" "$b" "$records" "${RECORD_SIZE:-47008}" "$mode"
