#!/usr/bin/env bash
# deps.sh: installs the Debian packages Stria's build and tests need, when
# they are missing. Harmless to run again; does nothing when all are there.
set -euo pipefail

pkgs=(
	fuse3                                     # fusermount3 for the FUSE client
	libibverbs-dev librdmacm-dev ibverbs-providers # o2iblnd's cgo build (-tags rdma)
	gcc pkg-config                            # cgo
	openmpi-bin libopenmpi-dev                # mpicc/mpirun for test/mpi (MPI-IO through two mounts)
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages: ${missing[*]} (run make test as root, or apt-get install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt=(apt-get -o DPkg::Lock::Timeout=300 -y -q)
echo "deps: installing ${missing[*]}"
if ! "${apt[@]}" install --no-install-recommends "${missing[@]}"; then
	"${apt[@]}" update
	"${apt[@]}" install --no-install-recommends "${missing[@]}"
fi
