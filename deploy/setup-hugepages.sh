#!/usr/bin/env bash
# Reserves hugepages for DPDK and mounts them: 1 GiB pages when the CPU has
# them (pdpe1gb), else 2 MiB pages.   setup-hugepages.sh [GIB] (default 8)
# For 1 GiB pages at run time memory must still be unfragmented; reserving at
# boot is surer: default_hugepagesz=1G hugepagesz=1G hugepages=16 on the
# kernel command line.
set -euo pipefail
gib=${1:-8}
nodes=$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | wc -l)
nodes=$(( nodes > 0 ? nodes : 1 ))
if grep -qw pdpe1gb /proc/cpuinfo; then
  size_kb=1048576; dir=/dev/hugepages-1G; pages=$gib
else
  size_kb=2048; dir=/dev/hugepages; pages=$(( gib * 512 ))
fi
# Spread evenly over NUMA nodes; put the NIC's node first in --socket-mem.
per_node=$(( (pages + nodes - 1) / nodes ))
for n in /sys/devices/system/node/node[0-9]*; do
  f="$n/hugepages/hugepages-${size_kb}kB/nr_hugepages"
  [[ -w $f ]] && echo "$per_node" > "$f"
done
mkdir -p "$dir"
mountpoint -q "$dir" || mount -t hugetlbfs -o pagesize=${size_kb}K nodev "$dir"
grep -H . /sys/devices/system/node/node*/hugepages/hugepages-${size_kb}kB/nr_hugepages
echo "hugepages: $per_node x ${size_kb} kB per node, mounted on $dir"
