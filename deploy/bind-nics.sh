#!/usr/bin/env bash
# Binds capture NICs to vfio-pci for DPDK.   bind-nics.sh PCI_ADDR...
# Needs the IOMMU on (intel_iommu=on iommu=pt on the kernel command line).
# Mellanox/NVIDIA (mlx5) NICs are NOT bound: their PMD works beside the kernel
# driver; pass them to the EAL with -a PCI_ADDR only.
set -euo pipefail
[[ $# -gt 0 ]] || { echo "usage: $0 PCI_ADDR..." >&2; exit 0; }
modprobe vfio-pci
devbind=$(command -v dpdk-devbind.py || echo /usr/share/dpdk/usertools/dpdk-devbind.py)
for dev in "$@"; do
  ifname=$(ls "/sys/bus/pci/devices/$dev/net" 2>/dev/null || true)
  [[ -n $ifname ]] && ip link set "$ifname" down || true
  "$devbind" --bind=vfio-pci "$dev"
done
"$devbind" --status-dev net
