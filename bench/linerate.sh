#!/usr/bin/env bash
# Packets per second per worker when a capture is replayed from memory
# (net_pcap with infinite_rx=1): flowtrail-sensor beside dpdk-testpmd
# --forward-mode=rxonly on the same capture, in the same run (alternating),
# REPEATS times. Prints every run, the medians and the ratio sensor/testpmd
# (testpmd rxonly is the ceiling of the input path on this machine).
#
#   bench/linerate.sh [BUILD_DIR] [PCAP]
#
# BUILD_DIR defaults to build; PCAP to the generated many_sessions.pcap (20k
# sessions, ~150k packets). Environment: RUN_SECONDS (measured seconds per run,
# default 10), WARMUP (seconds dropped at the start of each run, default 5: the
# sensor's first pass touches its session table), REPEATS (default 3),
# WORKERS (sensor workers, default 1; more than 1 adds the software dispatcher
# on this single-queue port and needs more lcores than -l 0-1 gives).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
pcap=${2:-}
run_s=${RUN_SECONDS:-10}
warmup=${WARMUP:-5}
repeats=${REPEATS:-3}
workers=${WORKERS:-1}

sensor=$build/src/app/flowtrail-sensor
generator=$build/tests/captures/generate_captures
for b in "$sensor" "$generator"; do
  [[ -x $b ]] || { echo "missing $b: build first (scripts/build.sh release $build)" >&2; exit 1; }
done
command -v dpdk-testpmd >/dev/null ||
  { echo "dpdk-testpmd not found: scripts/install-deps.sh installs it (Debian: dpdk-dev)" >&2; exit 1; }

work=$build/bench
mkdir -p "$work"
if [[ -z $pcap ]]; then
  pcap=$work/many_sessions.pcap
  [[ -f $pcap ]] || "$generator" "$work" --only many_sessions >/dev/null
fi
pcap=$(readlink -f "$pcap")
read -r packets captured < <(python3 bench/pcap_info.py "$pcap")

# infinite_rx holds the whole file in mbufs (2.3 KiB each, budget 4 KiB with
# the pool's overheads under --no-huge); the sensor rounds its pool up to 2^n-1
# and keeps a session table per worker.
pool=1
while ((pool <= packets + 16384)); do pool=$((pool * 2)); done
sensor_mem=$((pool * 4 / 1024 + 512 + 512 * workers))
testpmd_mbufs=$((packets + 16384))
testpmd_mem=$((testpmd_mbufs * 4 / 1024 + 256))
lcores="0-1"
if ((workers > 1)); then
  lcores=$(python3 -c "n=$workers+4; print(','.join(f'{i}@{i%2}' for i in range(n)))")
fi

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print 0; exit} if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# Runs testpmd until it has printed warmup+run_s stats periods; prints the
# Rx-pps samples after the warm-up.
run_testpmd() {
  local log=$work/linerate-testpmd-$1.log
  local cmd=(dpdk-testpmd --no-huge -m "$testpmd_mem" --no-pci --no-shconf --no-telemetry
    "--file-prefix=ft-bench-testpmd-$$" -l 0-1 "--vdev=net_pcap0,rx_pcap=$pcap,infinite_rx=1"
    -- --forward-mode=rxonly --no-flush-rx --stats-period=1 "--total-num-mbufs=$testpmd_mbufs")
  [[ $1 == 1 ]] && echo "  testpmd: ${cmd[*]}" >&2
  stdbuf -oL "${cmd[@]}" </dev/null >"$log" 2>&1 &
  local pid=$! waited=0
  while kill -0 "$pid" 2>/dev/null && (($(grep -c 'Rx-pps' "$log" 2>/dev/null) < warmup + run_s)); do
    sleep 0.5
    waited=$((waited + 1))
    if ((waited > 2 * (warmup + run_s) + 240)); then break; fi
  done
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" || true
  if ! grep -q 'Rx-pps' "$log"; then
    echo "testpmd printed no statistics, see $log:" >&2
    tail -5 "$log" >&2
    exit 1
  fi
  grep 'Rx-pps' "$log" | awk '{print $2}' | tail -n +$((warmup + 1)) | head -n "$run_s"
}

# Runs the sensor for warmup+run_s seconds (--duration) with a status line per
# second; prints packets/s per worker of the seconds after the warm-up.
run_sensor() {
  local log=$work/linerate-sensor-$1.log
  local cmd=("$sensor" --no-huge -m "$sensor_mem" --no-pci --no-shconf --no-telemetry
    "--file-prefix=ft-bench-sensor-$$" "--lcores=$lcores" "--vdev=net_pcap0,rx_pcap=$pcap,infinite_rx=1"
    -- --output /dev/null --stats-json "$work/linerate-sensor-$1.json" --workers "$workers"
    --duration $((warmup + run_s)) --status-interval 1)
  [[ $1 == 1 ]] && echo "  sensor:  ${cmd[*]}" >&2
  "${cmd[@]}" >/dev/null 2>"$log" || { echo "sensor failed, see $log" >&2; tail -5 "$log" >&2; exit 1; }
  # "flowtrail: 6.0s rx=2726496 (1089026 pps) ..."
  sed -n 's/^flowtrail: \([0-9.]*\)s rx=[0-9]* (\([0-9.]*\) pps).*/\1 \2/p' "$log" |
    awk -v w="$warmup" -v n="$workers" '$1 > w {printf "%.0f\n", $2 / n}'
}

echo "capture: $pcap ($packets packets, $((captured / packets)) bytes/frame on average)"
echo "runs: $repeats x (testpmd, sensor), $warmup s warm-up + $run_s s measured each; sensor workers: $workers"
printf '%-5s %18s %26s %8s\n' run "testpmd rx pps" "sensor pps per worker" ratio
tp_all=() se_all=() ratio_all=()
for i in $(seq 1 "$repeats"); do
  run_testpmd "$i" >"$work/linerate-testpmd-$i.pps"
  run_sensor "$i" >"$work/linerate-sensor-$i.pps"
  tp=$(median <"$work/linerate-testpmd-$i.pps")
  se=$(median <"$work/linerate-sensor-$i.pps")
  tp_all+=("$tp")
  se_all+=("$se")
  ratio=$(awk -v a="$se" -v b="$tp" 'BEGIN {print (b > 0 ? a / b : 0)}')
  ratio_all+=("$ratio")
  printf '%-5s %18.0f %26.0f %8.3f\n' "$i" "$tp" "$se" "$ratio"
done
tp_med=$(printf '%s\n' "${tp_all[@]}" | median)
se_med=$(printf '%s\n' "${se_all[@]}" | median)
# The ratio row is the median of the per-run ratios (each run pairs the two
# under the same machine load).
printf '%-5s %18.0f %26.0f %8.3f\n' median "$tp_med" "$se_med" "$(printf '%s\n' "${ratio_all[@]}" | median)"
ghz=$(awk -F: '/^cpu MHz/ {print $2 / 1000; exit}' /proc/cpuinfo)
if [[ -n $ghz ]]; then
  awk -v g="$ghz" -v p="$se_med" 'BEGIN {if (p > 0) printf "sensor: ~%.0f cycles per packet per worker at %.2f GHz (a polling worker is always busy)\n", g * 1e9 / p, g}'
fi
json=$work/linerate-sensor-$repeats.json
python3 - "$json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
t = s.get("elapsed_s") or 1
created = sum(w.get("sessions_created", 0) for w in s.get("workers", []))
print(f"sensor, last run: {created} sessions created, {s.get('records_written', 0)} records "
      f"in {t:.1f} s (a replay repeats the same sessions: a repeated SYN with the same ISN "
      f"is a retransmission, so sessions are new on the first pass only)")
EOF
