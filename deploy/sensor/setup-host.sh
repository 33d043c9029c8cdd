#!/usr/bin/env bash
# Host set-up for flowtrail-sensor, run at boot by flowtrail-host.service:
# reserve and mount 1 GiB hugepages on the NIC's NUMA node (dpdk-hugepages.py)
# and bind the capture ports to vfio-pci (dpdk-devbind.py). Both tools come
# with Debian's `dpdk` package.
#   setup-host.sh GIB NODE PCI_ADDR...
#   e.g. setup-host.sh 4 0 0000:3b:00.0 0000:3b:00.1
# mlx5 (ConnectX) ports stay on their kernel driver: give no PCI_ADDR.
set -euo pipefail

if (($# < 2)); then
  echo "usage: $0 GIB NUMA_NODE [PCI_ADDR...]" >&2
  exit 2
fi
gib=$1
node=$2
shift 2

hugepages=$(command -v dpdk-hugepages.py || echo /usr/share/dpdk/usertools/dpdk-hugepages.py)
devbind=$(command -v dpdk-devbind.py || echo /usr/share/dpdk/usertools/dpdk-devbind.py)

# 1 GiB pages when the CPU has them (pdpe1gb), else 2 MiB; mounted where the
# example configs' --huge-dir points.
if grep -qw pdpe1gb /proc/cpuinfo; then
  pagesize=1G
  mnt=/dev/hugepages-1G
else
  pagesize=2M
  mnt=/dev/hugepages
fi
"$hugepages" --pagesize "$pagesize" --node "$node" --reserve "${gib}G"
# systemd mounts it (dev-hugepages\x2d1G.mount); without systemd, here.
if ! mountpoint -q "$mnt"; then
  mkdir -p "$mnt"
  "$hugepages" --pagesize "$pagesize" --mount --directory "$mnt"
fi
"$hugepages" --show

if (($# > 0)); then
  modprobe vfio-pci
  for addr in "$@"; do
    # Down first: the kernel driver lets go of a port that is up.
    iface=$(ls "/sys/bus/pci/devices/$addr/net" 2>/dev/null || true)
    [[ -n $iface ]] && ip link set "$iface" down
    "$devbind" --bind=vfio-pci "$addr"
  done
  "$devbind" --status-dev net
fi
