#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite:
#   1. release build (gcc): unit + end-to-end tests (the real sensor on captures)
#   2. sanitizer build (clang, ASan+UBSan): unit tests + bounded libFuzzer runs
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

scripts/build.sh release build
meson test -C build --no-rebuild --print-errorlogs --suite unit --suite e2e

scripts/build.sh asan build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  meson test -C build-asan --no-rebuild --print-errorlogs --suite unit --suite fuzz
echo "all tests passed"
