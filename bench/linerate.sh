#!/usr/bin/env bash
# Packets per second per worker when a capture is replayed from memory
# (net_pcap with infinite_rx=1): flowtrail-sensor beside dpdk-testpmd
# --forward-mode=rxonly on the same capture, in the same run (alternating),
# REPEATS times. Prints, for every run and as medians over runs: testpmd's
# Rx packets/s (the ceiling of the input path on this machine), the sensor's
# packets/s per worker core, their ratio, cycles per packet, new sessions/s
# and records/s; then the memory per session of the sensor's tables.
#
#   bench/linerate.sh [BUILD_DIR] [PCAP]
#
# BUILD_DIR defaults to build; PCAP to the generated many_sessions.pcap (20k
# sessions, ~150k packets); bench/gen_bench_captures writes the others (1 M
# established flows of 60-byte ACKs, a realistic mix, a SYN flood, 1 M
# concurrent sessions). Environment: RUN_SECONDS (measured seconds per run,
# default 10), WARMUP (seconds dropped at the start of each run, default 5:
# the sensor's first pass touches its session table), REPEATS (default 3),
# WORKERS (sensor workers, default 1; more than 1 adds the software dispatcher
# on this single-queue port and needs more lcores than -l 0-1 gives),
# SENSOR_ARGS (more sensor options, e.g. --no-snapshots for the SYN flood,
# whose 1 M-client analytics snapshot exceeds the 64 MiB frame limit),
# HUGEPAGES=reserve (root: reserve the 2 MiB pages both programs need for the
# run, mounting hugetlbfs if it is not, and give them back at exit). Without
# hugepages both run under --no-huge, where net_pcap's copy out of the
# stored file takes a TLB miss per frame: testpmd then reads 2-2.5x slower
# than on hugepages, as a deployed sensor runs (bench/README.md, session 15).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
pcap=${2:-}
run_s=${RUN_SECONDS:-10}
warmup=${WARMUP:-5}
repeats=${REPEATS:-3}
workers=${WORKERS:-1}
read -r -a sensor_args <<<"${SENSOR_ARGS:-}"

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
read -r packets captured longest < <(python3 bench/pcap_info.py "$pcap")

# infinite_rx holds the whole file in mbufs. Both programs size their mbufs
# for the longest frame (the sensor does so itself when every port replays
# files; testpmd is told with --mbuf-size): headroom 128 + the frame rounded
# up to 64, plus the mbuf header (128) and the pool's per-object overhead.
room=$((128 + (longest + 63) / 64 * 64))
per_mbuf=$((room + 128 + 128))
pool=$((packets + 16384))
sensor_mem=$((pool * per_mbuf / 1048576 * 5 / 4 + 512 + 512 * workers))
testpmd_mbufs=$((packets + 16384))
testpmd_mem=$((testpmd_mbufs * per_mbuf / 1048576 * 5 / 4 + 256))
lcores="0-1"
if ((workers > 1)); then
  lcores=$(python3 -c "n=$workers+4; print(','.join(f'{i}@{i%2}' for i in range(n)))")
fi

# HUGEPAGES=reserve: enough 2 MiB pages for the larger of the two programs
# (they run one after the other) plus the sensor's session tables, which it
# maps from the same pool when pages are free; the old count and mount come
# back at exit.
if [[ ${HUGEPAGES:-} == reserve ]]; then
  [[ $(id -u) == 0 ]] || { echo "HUGEPAGES=reserve needs root" >&2; exit 1; }
  old_pages=$(cat /proc/sys/vm/nr_hugepages)
  mounted_here=""
  want_mb=$(( (testpmd_mem > sensor_mem ? testpmd_mem : sensor_mem) + 300 * workers + 64 ))
  restore_huge() {
    [[ -n $mounted_here ]] && umount "$mounted_here" 2>/dev/null || true
    echo "$old_pages" >/proc/sys/vm/nr_hugepages
  }
  trap restore_huge EXIT
  echo $(( (want_mb + 1) / 2 + old_pages )) >/proc/sys/vm/nr_hugepages
  if ! grep -qs hugetlbfs /proc/mounts; then
    mkdir -p /dev/hugepages
    mount -t hugetlbfs nodev /dev/hugepages && mounted_here=/dev/hugepages
  fi
fi

# Hugepages when enough are free (the sensor decides the same way by itself).
free_huge_mb=0
if grep -qs hugetlbfs /proc/mounts; then
  free_huge_mb=$(awk '/^HugePages_Free/ {f=$2} /^Hugepagesize/ {s=$2} END {print int(f * s / 1024)}' /proc/meminfo)
fi
huge_opt=(--no-huge)
((free_huge_mb >= testpmd_mem)) && huge_opt=()

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) {print 0; exit} if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# Runs testpmd until it has printed warmup+run_s stats periods; prints the
# Rx-pps samples after the warm-up.
run_testpmd() {
  local log=$work/linerate-testpmd-$1.log
  local cmd=(dpdk-testpmd "${huge_opt[@]}" -m "$testpmd_mem" --no-pci --no-shconf --no-telemetry
    "--file-prefix=ft-bench-testpmd-$$" -l 0-1 "--vdev=net_pcap0,rx_pcap=$pcap,infinite_rx=1"
    -- --forward-mode=rxonly --no-flush-rx --stats-period=1 "--total-num-mbufs=$testpmd_mbufs"
    "--mbuf-size=$room")
  [[ $1 == 1 ]] && echo "  testpmd: ${cmd[*]}" >&2
  stdbuf -oL "${cmd[@]}" </dev/null >"$log" 2>&1 &
  local pid=$! waited=0
  local periods=0
  while kill -0 "$pid" 2>/dev/null && ((periods < warmup + run_s)); do
    sleep 0.5
    # (grep -c prints nothing before the child has created the log)
    periods=$(grep -c 'Rx-pps' "$log" 2>/dev/null || true)
    periods=${periods:-0}
    waited=$((waited + 1))
    if ((waited > 2 * (warmup + run_s) + 240)); then break; fi
  done
  # testpmd can miss a SIGINT (one that lands while it sets up is lost):
  # ask again each second, then kill it.
  local asked=0
  while kill -0 "$pid" 2>/dev/null; do
    if ((asked < 20)); then kill -INT "$pid" 2>/dev/null || true; else kill -KILL "$pid" 2>/dev/null || true; fi
    asked=$((asked + 1))
    sleep 1
  done
  wait "$pid" || true
  if ! grep -q 'Rx-pps' "$log"; then
    echo "testpmd printed no statistics, see $log:" >&2
    tail -5 "$log" >&2
    exit 1
  fi
  grep 'Rx-pps' "$log" | awk '{print $2}' | tail -n +$((warmup + 1)) | head -n "$run_s"
}

# Runs the sensor for warmup+run_s seconds (--duration) with a status line per
# second. Prints "PPS_PER_WORKER NEW_SESSIONS_PER_S RECORDS_PER_S": the median
# of the per-second packet rates after the warm-up, and the session and record
# rates over the same seconds (from the status lines' cumulative counts).
run_sensor() {
  local log=$work/linerate-sensor-$1.log
  local cmd=("$sensor" -m "$sensor_mem" --no-pci --no-shconf --no-telemetry
    "--file-prefix=ft-bench-sensor-$$" "--lcores=$lcores" "--vdev=net_pcap0,rx_pcap=$pcap,infinite_rx=1"
    -- --output /dev/null --stats-json "$work/linerate-sensor-$1.json" --workers "$workers"
    --duration $((warmup + run_s)) --status-interval 1 "${sensor_args[@]}")
  [[ $1 == 1 ]] && echo "  sensor:  ${cmd[*]}" >&2
  "${cmd[@]}" >/dev/null 2>"$log" || { echo "sensor failed, see $log" >&2; tail -5 "$log" >&2; exit 1; }
  # "flowtrail: 6.0s rx=2726496 (1089026 pps) ... created=20480 ended=0 evicted=0 records=0 ..."
  local pps
  # Lines after --duration are the flush at the end (no input): not counted.
  local end=$((warmup + run_s))
  pps=$(sed -n 's/^flowtrail: \([0-9.]*\)s rx=[0-9]* (\([0-9.]*\) pps).*/\1 \2/p' "$log" |
    awk -v w="$warmup" -v e="$end" -v n="$workers" '$1 > w && $1 <= e + 0.5 {printf "%.0f\n", $2 / n}' | median)
  sed -n 's/^flowtrail: \([0-9.]*\)s rx=.* created=\([0-9]*\) .* records=\([0-9]*\) .*/\1 \2 \3/p' "$log" |
    awk -v w="$warmup" -v e="$end" -v p="$pps" '
      $1 <= w {t0 = $1; c0 = $2; r0 = $3}
      $1 > w && $1 <= e + 0.5 {t1 = $1; c1 = $2; r1 = $3}
      END {d = t1 - t0; if (d <= 0) d = 1; printf "%s %.0f %.0f\n", p, (c1 - c0) / d, (r1 - r0) / d}'
}

# Cycles per packet: the CPU clock (the TSC rate the kernel measured at boot,
# "tsc: Refined TSC clocksource calibration" or /proc/cpuinfo's "cpu MHz" on a
# VM) over the packets per second of one polling worker, which is always busy.
mhz=$(awk -F: '/^cpu MHz/ {print $2; exit}' /proc/cpuinfo)
mhz=${mhz:-0}

echo "capture: $pcap ($packets packets, $((captured / packets)) bytes/frame on average, longest $longest)"
echo "runs: $repeats x (testpmd, sensor), $warmup s warm-up + $run_s s measured each; sensor workers: $workers; memory: ${huge_opt[*]:-hugepages}"
printf '%-6s %14s %14s %7s %10s %14s %12s\n' run "testpmd pps" "sensor pps/w" ratio cyc/pkt "new sess/s" "records/s"
tp_all=() se_all=() ratio_all=() cyc_all=() new_all=() rec_all=()
for i in $(seq 1 "$repeats"); do
  tp=$(run_testpmd "$i" | median)
  read -r se new rec < <(run_sensor "$i")
  ratio=$(awk -v a="$se" -v b="$tp" 'BEGIN {print (b > 0 ? a / b : 0)}')
  cyc=$(awk -v m="$mhz" -v p="$se" 'BEGIN {print (p > 0 ? m * 1e6 / p : 0)}')
  tp_all+=("$tp") se_all+=("$se") ratio_all+=("$ratio") cyc_all+=("$cyc") new_all+=("$new") rec_all+=("$rec")
  printf '%-6s %14.0f %14.0f %7.3f %10.0f %14.0f %12.0f\n' "$i" "$tp" "$se" "$ratio" "$cyc" "$new" "$rec"
done
med() { printf '%s\n' "$@" | median; }
# Each column's median over runs; the ratio is the median of the per-run
# ratios (each run pairs the two under the same machine load).
printf '%-6s %14.0f %14.0f %7.3f %10.0f %14.0f %12.0f\n' median "$(med "${tp_all[@]}")" \
  "$(med "${se_all[@]}")" "$(med "${ratio_all[@]}")" "$(med "${cyc_all[@]}")" \
  "$(med "${new_all[@]}")" "$(med "${rec_all[@]}")"
echo "cycles per packet: ${mhz} MHz (/proc/cpuinfo) / sensor packets/s per worker"
log=$work/linerate-sensor-$repeats.log
# "flowtrail: session tables: 1 x 1048576 sessions, 280.0 MiB each (280 bytes per session)"
sed -n 's/^flowtrail: session tables: \(.*\)/memory per session: \1 (Tracker::MemoryBytes \/ capacity)/p' "$log"
sed -n 's/^flowtrail: \(first packet .*\)/sensor start-up, last run: \1/p' "$log"
json=$work/linerate-sensor-$repeats.json
python3 - "$json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
t = s.get("elapsed_s") or 1
created = sum(w.get("sessions_created", 0) for w in s.get("workers", []))
evicted = sum(w.get("sessions_evicted", 0) for w in s.get("workers", []))
print(f"sensor, last run: {created} sessions created ({evicted} evicted), "
      f"{s.get('records_written', 0)} records in {t:.1f} s (a replay repeats the same sessions: "
      f"a repeated SYN with the same ISN is a retransmission, so sessions are new on the first "
      f"pass only, unless the table evicted them)")
# Records the tracker could not keep: its queue was full because the rings'
# consumers (exporter, analytics) fell behind, as on a 2-core machine where
# they share the main lcore in a flood. The worker did not build those.
dropped = sum(w.get("tracker_records_dropped", 0) for w in s.get("workers", []))
ended = sum(w.get("sessions_ended", 0) for w in s.get("workers", []))
if dropped:
    print(f"sensor, last run: {dropped} records dropped by the tracker ({100 * dropped / max(ended, 1):.1f} % "
          f"of {ended} ended sessions): the consumers on the main lcore fell behind the worker")
EOF
