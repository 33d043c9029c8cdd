#!/usr/bin/env bash
# Whole-process time of flowtrail-sensor in capture mode over a large capture
# file, beside `argus -r FILE -w /dev/null` (Debian's argus-server: reads the
# file, tracks every flow, writes its records) and `tcpdump -r FILE --count`
# (the bare libpcap read of the file, nothing decoded) on the same file in the
# same run, as ratios (goals: >= 10x faster than argus, <= 2x the bare read).
# Uses hyperfine when installed (medians, warm-up run), else repeated runs
# timed here. Performance claims come from here, never from the tests.
#
#   bench/offline_vs_argus.sh [BUILD_DIR] [PCAP]
#
# BUILD_DIR defaults to build; PCAP to a generated offline_big.pcap (~1.5 M
# packets of ~14k concurrent TCP sessions; PACKETS=N changes the size).
# Environment: RUNS (default 5), WORKERS (sensor workers, default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
pcap=${2:-}
runs=${RUNS:-5}
workers=${WORKERS:-1}

sensor=$build/src/app/flowtrail-sensor
generator=$build/tests/captures/generate_captures
for b in "$sensor" "$generator"; do
  [[ -x $b ]] || { echo "missing $b: build first (scripts/build.sh release $build)" >&2; exit 1; }
done
command -v argus >/dev/null ||
  { echo "argus not found: scripts/install-deps.sh installs it (Debian: argus-server)" >&2; exit 1; }
command -v tcpdump >/dev/null ||
  { echo "tcpdump not found: scripts/install-deps.sh installs it (Debian: tcpdump)" >&2; exit 1; }

work=$build/bench
mkdir -p "$work"
if [[ -z $pcap ]]; then
  pcap=$work/offline_big.pcap
  if [[ ! -f $pcap ]]; then
    echo "generating $pcap ..." >&2
    "$generator" "$work" --only offline_big --packets "${PACKETS:-1500000}" >/dev/null
  fi
fi
pcap=$(readlink -f "$pcap")
read -r packets captured _ < <(python3 bench/pcap_info.py "$pcap")

lcores="0-1"
if ((workers > 1)); then
  lcores=$(python3 -c "n=$workers+4; print(','.join(f'{i}@{i%2}' for i in range(n)))")
fi
out=$work/offline.ftr
# Hugepages are the sensor's own choice: it falls back to --no-huge without them.
sensor_cmd="$sensor -m 512 --no-pci --no-shconf --no-telemetry --file-prefix=ft-bench-offline-$$ --lcores=$lcores --log-level=*:warning --vdev=net_pcap0,rx_pcap=$pcap -- --output $out --workers $workers --status-interval 0"
argus_cmd="argus -r $pcap -w /dev/null"
read_cmd="tcpdump -r $pcap --count"

echo "capture: $pcap ($packets packets, $((captured / 1048576)) MiB)"
echo "sensor: $sensor_cmd"
echo "argus:  $argus_cmd"
echo "read:   $read_cmd"

# One checked run first: the sensor must read every packet.
$sensor_cmd --stats-json "$work/offline.stats.json" 2>"$work/offline.stderr" >/dev/null ||
  { echo "sensor failed:" >&2; tail -5 "$work/offline.stderr" >&2; exit 1; }
python3 - "$work/offline.stats.json" "$packets" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
rx = sum(p["rx"] for p in s["ports"])
if rx != int(sys.argv[2]):
    sys.exit(f"sensor read {rx} of {sys.argv[2]} packets")
print(f"sensor run: {rx} packets, {s['records_written']} records, {s['elapsed_s']:.2f} s inside "
      f"the sensor ({rx / s['elapsed_s']:.0f} packets/s, EAL set-up excluded); first packet "
      f"{s.get('first_packet_s', -1):.3f} s after start")
PY

median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# The verdict line: ratios of the median wall times (goals from issue 8).
verdict() {
  awk -v s="$1" -v a="$2" -v r="$3" -v p="$packets" 'BEGIN {
    printf "median wall time: flowtrail-sensor %.3f s (%.0f packets/s), argus %.3f s, tcpdump --count %.3f s\n", s, p / s, a, r
    printf "flowtrail-sensor is %.1fx faster than argus (goal >= 10) and takes %.2fx the bare libpcap read (goal <= 2)\n", a / s, s / r }'
}

if command -v hyperfine >/dev/null; then
  hyperfine --warmup 1 --runs "$runs" --export-json "$work/offline_vs_argus.json" \
    -n flowtrail-sensor "$sensor_cmd" -n argus "$argus_cmd" -n tcpdump-count "$read_cmd"
  read -r s a r < <(python3 - "$work/offline_vs_argus.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
print(r["flowtrail-sensor"]["median"], r["argus"]["median"], r["tcpdump-count"]["median"])
cpu = {k: v["user"] + v["system"] for k, v in r.items()}
print(f"mean CPU time (user+system): flowtrail-sensor {cpu['flowtrail-sensor']:.3f} s, "
      f"argus {cpu['argus']:.3f} s, tcpdump --count {cpu['tcpdump-count']:.3f} s "
      f"(less sensitive to other load on the machine)", file=sys.stderr)
PY
  )
  verdict "$s" "$a" "$r"
else
  st=() at=() rt=()
  for i in $(seq 1 "$runs"); do
    st+=("$( { /usr/bin/time -f %e $sensor_cmd >/dev/null 2>/dev/null; } 2>&1 | tail -1)")
    at+=("$( { /usr/bin/time -f %e $argus_cmd >/dev/null 2>/dev/null; } 2>&1 | tail -1)")
    rt+=("$( { /usr/bin/time -f %e $read_cmd >/dev/null 2>/dev/null; } 2>&1 | tail -1)")
  done
  echo "runs: sensor ${st[*]} s; argus ${at[*]} s; tcpdump --count ${rt[*]} s"
  verdict "$(printf '%s\n' "${st[@]}" | median)" "$(printf '%s\n' "${at[@]}" | median)" \
    "$(printf '%s\n' "${rt[@]}" | median)"
fi
