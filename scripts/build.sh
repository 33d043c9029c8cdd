#!/usr/bin/env bash
# Configures (once) and builds a flowtrail build directory.
#   scripts/build.sh [release|asan] [BUILD_DIR]
# release: gcc, optimised, everything (sensor, tools, tests, benchmarks).
# asan:    clang with ASan+UBSan, unit tests and libFuzzer targets (no DPDK).
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
case "$kind" in
  release)
    dir=${2:-build}
    if [[ ! -f "$dir/build.ninja" ]]; then
      meson setup "$dir" --buildtype=release -Dtests=enabled -Dbench=enabled -Dsensor=enabled >/dev/null
    fi
    ;;
  asan)
    dir=${2:-build-asan}
    if [[ ! -f "$dir/build.ninja" ]]; then
      CC=clang CXX=clang++ meson setup "$dir" --buildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false \
        -Dcpp_args=-fno-sanitize-recover=all -Dc_args=-fno-sanitize-recover=all \
        -Dtests=enabled -Dbench=disabled -Dsensor=disabled -Dfuzz=true >/dev/null
    fi
    ;;
  *) echo "usage: $0 [release|asan] [BUILD_DIR]" >&2; exit 2 ;;
esac
ninja -C "$dir"
