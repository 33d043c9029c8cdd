"""e2e cases of segment files (issue 9): the sensor with --output-dir, rotation
and zstd, read back with `flowtrail cat` in any order and with the Python
example consumer, against the single-file output of the same capture.

    python3 e2e_segments.py CASE
"""

import ipaddress
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as lib  # noqa: E402
from e2e_lib import Failure, Skip, expect, log  # noqa: E402

CAPTURE = "many_sessions"


def cli(args, check=None):
    p = subprocess.run([lib.CLI] + args, capture_output=True, text=True, errors="replace",
                       timeout=300)
    if check is not None and p.returncode != check:
        raise Failure(f"flowtrail {' '.join(args[:3])} ... exited {p.returncode}, expected "
                      f"{check}: {lib.tail(p.stderr)}")
    return p


def single_and_segments(case, extra=()):
    """The capture through the sensor twice: one --output file, and
    --output-dir with small files. Returns (single path, dir, segment files)."""
    pcap, exp = lib.capture(CAPTURE)
    args = list(exp["sensor_args"])
    single = lib.run_sensor(case, "single", pcap, args)
    r = lib.Run(case, "dir")
    out_dir = os.path.join(r.dir, "segments")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    cmd = r.command(f"net_pcap0,rx_pcap={pcap}", args, output=False)
    cmd += ["--output-dir", out_dir, "--rotate-bytes", "4k"] + list(extra)
    r.run(cmd)
    if r.returncode != 0:
        raise Failure(f"sensor exited {r.returncode}: {lib.tail(r.stderr)}")
    names = sorted(os.listdir(out_dir))
    expect(not [n for n in names if n.startswith(".")], f"temporary files left: {names}")
    files = [os.path.join(out_dir, n) for n in names]
    log(f"  {len(files)} segment files")
    return single.output, out_dir, files


def first_sequence(path):
    """The header's first_sequence, from `flowtrail cat --show-header` (one
    segment of the middle of a run: exit 3, a gap before it); the file name
    (SENSOR_RUNID_FIRSTSEQ_UTCTIME.ftr.zst) must say the same."""
    p = cli(["cat", "--show-header", "--format", "csv", path])
    expect(p.returncode in (0, 3), f"cat {path} exited {p.returncode}: {lib.tail(p.stderr)}")
    for line in p.stderr.splitlines():
        if "header:" in line and "first_sequence:" in line:
            seq = int(line.split("first_sequence:")[1].split()[0])
            named = int(os.path.basename(path).split("_")[2])
            expect(seq == named, f"{path}: header first_sequence {seq}, name says {named}")
            return seq
    raise Failure(f"no first_sequence in the header of {path}: {p.stderr[:300]}")


def segments_rotate_zstd():
    single, out_dir, files = single_and_segments("segments_rotate_zstd", ["--compress", "zstd"])
    expect(len(files) >= 5, f"only {len(files)} files: --rotate-bytes 4k should cut many")
    for f in files:
        expect(f.endswith(".ftr.zst"), f"{f} is not compressed")
        with open(f, "rb") as fh:
            expect(fh.read(4) == b"\x28\xb5\x2f\xfd", f"{f} does not start with zstd's magic")
    want = cli(["cat", "--format", "json", single], check=0).stdout
    expect(want.count("\n") > 1000, "the capture gives too few records for this test")
    shuffled = list(files)
    random.Random(9).shuffle(shuffled)
    got = cli(["cat", "--format", "json"] + shuffled, check=0)
    expect("gap" not in got.stderr, f"gaps reported: {got.stderr[-500:]}")
    # The order of the command line does not matter: sequence order.
    in_order = cli(["cat", "--format", "json"] + files, check=0).stdout
    expect(got.stdout == in_order, "cat of the shuffled segments differs from cat in name order")
    # Two sensor runs may hand records to the exporter in another order (the
    # workers' expiry timing), never other records.
    expect(sorted(got.stdout.splitlines()) == sorted(want.splitlines()),
           "the segments do not hold the single file's records "
           f"({got.stdout.count(chr(10))} vs {want.count(chr(10))} lines)")
    log(f"  {want.count(chr(10))} records, shuffled segments == single file's records")

    # Reports: the segments twice count as once, and as the single file.
    one = cli(["report", "scans", single], check=0).stdout
    twice = cli(["report", "scans"] + shuffled + files, check=0).stdout
    expect(one == twice, "report scans over the segments (each twice) differs from the file")
    log("  report scans: segments twice == single file")
    # Snapshots are cumulative: only the run's latest counts, not one per file.
    one = cli(["report", "scans", "--from", "snapshots", single], check=0).stdout
    many = cli(["report", "scans", "--from", "snapshots"] + shuffled, check=0).stdout
    expect(one == many, "report scans --from snapshots over the segments differs from the file")
    log("  report scans --from snapshots: segments == single file")

    # One middle file missing: exactly its sequences are the gap.
    # A file of records (a snapshot frame is a block, and may be a file, of
    # its own; it takes a sequence too).
    i, held = len(files) // 2, 0
    while held == 0 and i + 2 < len(files):
        i += 1
        held = cli(["cat", "--format", "json", files[i]]).stdout.count("\n")
    expect(held > 0, "no middle file holds records")
    lo, hi = first_sequence(files[i]), first_sequence(files[i + 1]) - 1
    os.remove(files[i])
    rest = files[:i] + files[i + 1:]
    random.Random(4).shuffle(rest)
    gap = cli(["cat", "--format", "json"] + rest, check=3)
    expect(f"gap {lo}..{hi} (" in gap.stderr, f"no 'gap {lo}..{hi}' in: {gap.stderr[-500:]}")
    expect(gap.stderr.count("gap ") == 1, f"more than one gap: {gap.stderr[-500:]}")
    expect(gap.stdout.count("\n") == want.count("\n") - held,
           "the records printed are not all but the missing file's")
    log(f"  file {i} removed: gap {lo}..{hi} reported, exit 3")


def python_reader():
    """Debian's python3 (python3-protobuf lives there, not in a pyenv)."""
    for py in ("/usr/bin/python3", sys.executable):
        if os.path.exists(py) and subprocess.run(
                [py, "-c", "import google.protobuf"], capture_output=True).returncode == 0:
            return py
    raise Skip("no python3 with google.protobuf (Debian: python3-protobuf)")


def norm(rec):
    for k in ("client_ip", "server_ip"):
        rec[k] = str(ipaddress.ip_address(rec[k]))
    return rec


def segments_python_consumer():
    py = python_reader()
    has_zstd = subprocess.run([py, "-c", "import zstandard"], capture_output=True).returncode == 0
    extra = ["--compress", "zstd"] if has_zstd else []
    single, out_dir, files = single_and_segments("segments_python_consumer", extra)
    if shutil.which("protoc") is None:
        raise Skip("protoc not installed (Debian: protobuf-compiler)")
    pb_dir = tempfile.mkdtemp(prefix="ft_pb_", dir=lib.WORK_DIR)
    proto_root = os.path.join(lib.SOURCE_ROOT, "proto")
    subprocess.run(["protoc", f"--python_out={pb_dir}", "-I", proto_root,
                    os.path.join(proto_root, "flowtrail", "v1", "session.proto")], check=True)
    script = os.path.join(lib.SOURCE_ROOT, "examples", "python", "read_stream.py")
    for what, paths in (("the single file", [single]), ("the segment directory", [out_dir])):
        want = [norm(json.loads(x)) for x in
                cli(["cat", "--format", "json"] + (files if paths == [out_dir] else paths),
                    check=0).stdout.splitlines()]
        p = subprocess.run([py, script, "--pb-dir", pb_dir] + paths, capture_output=True,
                           text=True, timeout=600)
        expect(p.returncode == 0, f"read_stream.py on {what} exited {p.returncode}: "
               f"{lib.tail(p.stderr)}")
        got = [norm(json.loads(x)) for x in p.stdout.splitlines()]
        expect(len(got) == len(want), f"read_stream.py printed {len(got)} records of {what}, "
               f"flowtrail cat {len(want)}")
        for n, (g, w) in enumerate(zip(got, want)):
            expect(g == w, f"record {n} of {what} differs: python {g} vs cat {w}")
        log(f"  read_stream.py on {what}: {len(got)} records == flowtrail cat"
            + (" (zstd)" if extra and what != "the single file" else ""))


def segments_bad_options():
    pcap, _ = lib.capture("basic")
    d = tempfile.mkdtemp(prefix="ft_seg_opts_", dir=lib.WORK_DIR)
    cases = [
        (["--output", os.devnull, "--output-dir", d], "exclusive"),
        (["--output", os.devnull, "--rotate-bytes", "1M"], "need --output-dir"),
        (["--output", os.devnull, "--compress", "zstd"], "need --output-dir"),
        (["--output-dir", d, "--compress", "gzip"], "expected zstd"),
        (["--output-dir", d, "--rotate-bytes", "100"], "at least 4k"),
        (["--output-dir", os.path.join(d, "missing")], "missing"),
    ]
    problems = []
    for n, (args, text) in enumerate(cases):
        r = lib.Run("segments_bad_options", f"c{n}")
        r.run(r.command(f"net_pcap0,rx_pcap={pcap}", args, output=False, stats=False), 120)
        if r.returncode == 0 or text not in r.stderr:
            problems.append(f"{args}: exit {r.returncode}, stderr {r.stderr[-300:]!r}")
    lib.report(problems, "bad --output-dir combinations")


SEGMENTS_CASES = {
    "segments_rotate_zstd": segments_rotate_zstd,
    "segments_python_consumer": segments_python_consumer,
    "segments_bad_options": segments_bad_options,
}

if __name__ == "__main__":
    sys.exit(lib.main(SEGMENTS_CASES))
