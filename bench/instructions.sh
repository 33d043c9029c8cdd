#!/usr/bin/env bash
# Instructions per packet of the tracker's burst path (Tracker::ProcessBurst),
# counted by callgrind over tracker_bench cases: a figure that does not move
# with the load of a shared machine, unlike time. It says what a change
# removed from the per-packet work, not what that is worth in time (memory
# stalls are not instructions): pair it with bench/ab.py and bench/linerate.sh.
#
#   bench/instructions.sh [BUILD_DIR] [BASE_BUILD_DIR]
#
# With BASE_BUILD_DIR (e.g. a build of main) both are counted and their ratio
# printed. Needs valgrind (scripts/install-deps.sh installs it). Each case
# runs in a few seconds under callgrind; the count is per packet handed to
# ProcessBurst, the bench's set-up (per-packet Process()) excluded.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
base=${2:-}
command -v valgrind >/dev/null ||
  { echo "valgrind not found: scripts/install-deps.sh installs it (Debian: valgrind)" >&2; exit 1; }

# tracker_bench cases: established TCP packets (cache-resident 1 k sessions,
# and 20 k in random order), and the SYN flood into a full 1 M table (each
# packet a new session evicting the stalest).
cases=(
  'BM_TrackerUpdateExistingSessionBurst32/1024$'
  'BM_TrackerLookupUpdateRandomBurst32/20000$'
  'BM_TrackerSynFloodFullTableBurst32'
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Prints instructions per packet for tracker_bench binary $1, case $2.
per_packet() {
  local bin=$1 filter=$2 out=$work/cg.out
  [[ -x $bin ]] || { echo "missing $bin: build first (scripts/build.sh release)" >&2; exit 1; }
  valgrind --tool=callgrind --callgrind-out-file="$out" \
    --toggle-collect='flowtrail::session::Tracker::Impl::ProcessBurst*' \
    "$bin" --benchmark_filter="$filter" --benchmark_min_time=0.02 >/dev/null 2>"$work/vg.log" ||
    { cat "$work/vg.log" >&2; exit 1; }
  # Instructions inside ProcessBurst over the calls it made to ProcessKeyed
  # (one per packet).
  callgrind_annotate --tree=caller "$out" 2>/dev/null | python3 -c '
import re, sys
lines = sys.stdin.read().splitlines()
total = calls = None
for i, l in enumerate(lines):
    if total is None and "PROGRAM TOTALS" in l:
        total = int(l.split()[0].replace(",", ""))
    if re.search(r"\*\s+(\S*tracker\.cc|\?\?\?):\S*Impl::ProcessKeyed\(", l):
        prev = lines[i - 1]
        m = re.search(r"Impl::ProcessBurst\(.*\((\d[\d,]*)x\)", prev)
        if m:
            calls = int(m.group(1).replace(",", ""))
            break
if not total or not calls:
    sys.exit("no calls from Tracker::Impl::ProcessBurst to an out-of-line "
             "Tracker::Impl::ProcessKeyed in the profile (inlined?): this "
             "script counts packets by them")
print(f"{total / calls:.1f}")'
}

printf '%-48s %12s' "case (tracker_bench)" "instr/packet"
[[ -n $base ]] && printf ' %12s %8s' "base" "new/base"
printf '\n'
for c in "${cases[@]}"; do
  n=$(per_packet "$build/bench/tracker_bench" "$c")
  printf '%-48s %12s' "${c%\$}" "$n"
  if [[ -n $base ]]; then
    b=$(per_packet "$base/bench/tracker_bench" "$c")
    printf ' %12s %8s' "$b" "$(python3 -c "print(f'{$n / $b:.3f}')")"
  fi
  printf '\n'
done
