#!/usr/bin/env python3
"""Interleaved A/B of one Google Benchmark binary built twice.

    bench/ab.py BASE_BIN NEW_BIN FILTER ROUNDS REPS [extra benchmark args]

Runs BASE_BIN and NEW_BIN alternately, ROUNDS times each, with
--benchmark_filter=FILTER --benchmark_repetitions=REPS, and prints for every
benchmark the median over all repetitions of items/s (else the first ns_per_*
counter, else CPU time) for both, and new/base. Alternating keeps the other
load on a shared machine from favouring one side.
"""
import collections
import json
import statistics
import subprocess
import sys


def main() -> int:
    if len(sys.argv) < 6:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    base, new, filt = sys.argv[1], sys.argv[2], sys.argv[3]
    rounds, reps = int(sys.argv[4]), int(sys.argv[5])
    extra = sys.argv[6:]
    bins = {"base": base, "new": new}
    res = {k: collections.defaultdict(list) for k in bins}
    for _ in range(rounds):
        for side, binary in bins.items():
            out = subprocess.run([binary, f"--benchmark_filter={filt}",
                                  f"--benchmark_repetitions={reps}", "--benchmark_format=json"] + extra,
                                 capture_output=True, text=True, check=True).stdout
            for bm in json.loads(out)["benchmarks"]:
                if bm.get("run_type") != "iteration":
                    continue
                if "items_per_second" in bm:
                    value, unit = bm["items_per_second"] / 1e6, "M/s"
                else:
                    ns = next((bm[c] for c in bm if c.startswith("ns_per_")), None)
                    value, unit = ((ns * 1e9, "ns") if ns is not None else
                                   (bm["cpu_time"], bm["time_unit"]))
                res[side][bm["run_name"]].append((value, unit))
    for name, runs in res["new"].items():
        b = [v for v, _ in res["base"].get(name, [])]
        mb = statistics.median(b) if b else float("nan")
        mn = statistics.median(v for v, _ in runs)
        print(f"{name:60s} base {mb:9.2f} new {mn:9.2f} {runs[0][1]}  new/base {mn / mb:.2f}  n={len(runs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
