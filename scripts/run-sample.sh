#!/usr/bin/env bash
# Installs what is missing, builds, and runs the sensor's main job on the
# capture the repository ships: every conversation in tests/data/sample.pcap
# (a capture of the traffic lab, tests/lab/lab.py: web and FTP sessions, a
# mail relay's retries at a dead server, an nmap scan from a fixed source
# port) becomes a session record in a protobuf stream, printed as the paper's
# classic record lines, followed by the sensor's summary, the scan table
# (`flowtrail report scans`) and the client-port report (`report ports`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release build >/dev/null

capture=${1:-tests/data/sample.pcap}
out=${2:-build/sample.ftr}
echo "== flowtrail-sensor on $capture -> $out" >&2
build/src/app/flowtrail-sensor --no-huge -m 512 --no-pci --no-shconf --no-telemetry \
  --file-prefix="flowtrail-sample-$$" -l 0-1 --log-level='*:warning' \
  --vdev="net_pcap0,rx_pcap=$capture" -- --output "$out" --status-interval 0
echo "== flowtrail cat --format classic $out" >&2
build/src/tools/flowtrail cat --format classic "$out"
echo "== flowtrail report scans $out" >&2
build/src/tools/flowtrail report scans "$out"
echo "== flowtrail report ports $out" >&2
build/src/tools/flowtrail report ports "$out"
