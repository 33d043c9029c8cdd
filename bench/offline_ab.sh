#!/usr/bin/env bash
# Whole-process time of two (or more) sensor builds over one capture, runs
# alternated so that the machine's drift hits every build alike: prints each
# build's elapsed times (the sensor's own summary, EAL start-up excluded) and
# the median, then each build's median over the first's. The sensor command is
# bench/offline_vs_argus.sh's (capture mode, one worker, lcores 0-1).
#
#   bench/offline_ab.sh ROUNDS PCAP SENSOR_A SENSOR_B [SENSOR_C...]
# e.g. bench/offline_ab.sh 8 /tmp/b/concurrent.pcap /tmp/base/flowtrail-sensor build/src/app/flowtrail-sensor
set -euo pipefail
rounds=${1:?usage: $0 ROUNDS PCAP SENSOR_A SENSOR_B...}
pcap=$(readlink -f "${2:?usage: $0 ROUNDS PCAP SENSOR_A SENSOR_B...}")
shift 2
(($# >= 2)) || { echo "usage: $0 ROUNDS PCAP SENSOR_A SENSOR_B..." >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
declare -a times
for ((r = 0; r < rounds; ++r)); do
  for ((k = 1; k <= $#; ++k)); do
    sensor=${!k}
    t=$("$sensor" -m 512 --no-pci --no-shconf --no-telemetry --file-prefix=ft-offline-ab-$$-$k \
      --lcores=0-1 --log-level=*:warning --vdev=net_pcap0,rx_pcap="$pcap" -- \
      --output "$out/$k.ftr" --workers 1 --status-interval 0 2>&1 |
      sed -nE 's/.*summary \(end_of_input, capture mode, ([0-9.]+) s\).*/\1/p')
    [[ -n $t ]] || { echo "$sensor: no summary line (did it fail?)" >&2; exit 1; }
    times[k]="${times[k]:-} $t"
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
first=""
for ((k = 1; k <= $#; ++k)); do
  m=$(echo "${times[k]}" | median)
  [[ -n $first ]] || first=$m
  awk -v name="${!k}" -v all="${times[k]}" -v m="$m" -v f="$first" \
    'BEGIN {printf "%s:%s  median %s s  (%.2f of the first)\n", name, all, m, m / f}'
done
