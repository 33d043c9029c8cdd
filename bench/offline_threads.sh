#!/usr/bin/env bash
# Per-thread CPU time (user/system, seconds) of one flowtrail-sensor capture-mode
# run, the same command bench/offline_vs_argus.sh times: says which lcore
# (main: reader + exporter + analytics; rte-worker-N: the tracker) bounds the
# whole-process time. Samples /proc/PID/task/*/stat until the sensor exits and
# prints the last sample, which misses at most the last 0.2 s.
#
#   bench/offline_threads.sh [BUILD_DIR] PCAP
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
pcap=$(readlink -f "${2:?usage: $0 [BUILD_DIR] PCAP}")
sensor=$build/src/app/flowtrail-sensor
work=$build/bench
mkdir -p "$work"
hz=$(getconf CLK_TCK)
"$sensor" -m 512 --no-pci --no-shconf --no-telemetry --file-prefix=ft-bench-threads-$$ \
  --lcores=0-1 --log-level=*:warning --vdev=net_pcap0,rx_pcap="$pcap" -- \
  --output "$work/offline_threads.ftr" --workers 1 --status-interval 0 \
  --stats-json "$work/offline_threads.json" >/dev/null 2>"$work/offline_threads.stderr" &
pid=$!
last=""
while kill -0 "$pid" 2>/dev/null; do
  # Fields after "(comm)": 12 = utime, 13 = stime (proc(5), counted from state).
  cur=$(cat /proc/"$pid"/task/*/stat 2>/dev/null |
    sed -E 's/^[0-9]+ \(([^)]*)\) /\1 /' | awk '{print $1, $13, $14}') || true
  [[ -n $cur ]] && last=$cur
  sleep 0.2
done
wait "$pid"
python3 -c "import json,sys; print(f\"elapsed_s {json.load(open(sys.argv[1]))['elapsed_s']:.3f}\")" \
  "$work/offline_threads.json"
echo "$last" | awk -v hz="$hz" '{printf "%-18s user %7.2f s  system %7.2f s\n", $1, $2 / hz, $3 / hz}'
