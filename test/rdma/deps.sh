#!/usr/bin/env bash
# deps.sh: installs what o2iblnd's cgo verbs engine (build tag rdma) needs to
# build: rdma-core's development packages and the user-space providers.
# Idempotent: does nothing when they are all installed. Run as root.
set -euo pipefail

pkgs=(libibverbs-dev librdmacm-dev ibverbs-providers gcc pkg-config)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "rdma/deps.sh: missing Debian packages: ${missing[*]} (run as root, or apt-get install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt=(apt-get -o DPkg::Lock::Timeout=300 -y -q)
echo "rdma/deps.sh: installing ${missing[*]}"
if ! "${apt[@]}" install --no-install-recommends "${missing[@]}"; then
	"${apt[@]}" update
	"${apt[@]}" install --no-install-recommends "${missing[@]}"
fi
