#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time over a corpus kept in the build
# directory (so later runs start from what earlier ones found).
set -euo pipefail
exe=$1 corpus=$2 seconds=$3
mkdir -p "$corpus"
exec "$exe" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "$corpus"
