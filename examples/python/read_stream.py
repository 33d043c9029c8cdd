#!/usr/bin/env python3
"""Reads flowtrail record streams and prints their records as JSON lines.

A minimal consumer of the public interface, proto/flowtrail/v1/session.proto
(docs/record-stream.md), with Debian's python3-protobuf:

    protoc --python_out=OUT -I proto proto/flowtrail/v1/session.proto
    examples/python/read_stream.py --pb-dir OUT PATH...

PATH is a stream file, a segment file, or a directory of segment files
(--output-dir of the sensor, a collector's directory; hidden .part files are
skipped). Without --pb-dir the module is generated into a temporary directory
with protoc from the proto/ next to this script.

The segments are grouped by run (sensor_id, run_id), ordered by
first_sequence, and each data sequence is printed once; gaps and duplicates
are reported on stderr, exit status 3 when a run has gaps, 1 on a bad stream.
Files compressed with zstd (.ftr.zst, recognised by their magic number) need
python3-zstandard (Debian 12 has it).

Each line is one record: every field of SessionRecord in field-number order
under its proto name, zero values included, enums by value name, addresses
as text (what `flowtrail cat --format json` prints).
"""

import argparse
import ipaddress
import json
import os
import subprocess
import sys
import tempfile

MAX_FRAME = 1 << 20  # a frame body; snapshot frames may be up to 64 MiB
MAX_SNAPSHOT_FRAME = 64 << 20
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def load_module(pb_dir):
    if pb_dir is None:
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")
        pb_dir = tempfile.mkdtemp(prefix="flowtrail_pb_")
        subprocess.run(["protoc", f"--python_out={pb_dir}", "-I", root,
                        os.path.join(root, "flowtrail", "v1", "session.proto")], check=True)
    sys.path.insert(0, pb_dir)
    from flowtrail.v1 import session_pb2  # noqa: E402
    return session_pb2


class BadStream(Exception):
    pass


def read_bytes(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] == ZSTD_MAGIC:
        try:
            import zstandard
        except ImportError:
            raise BadStream(f"{path}: zstd-compressed; install python3-zstandard")
        try:
            # Streaming: the frame header may not say the content size.
            with zstandard.ZstdDecompressor().stream_reader(data) as r:
                data = r.read()
        except zstandard.ZstdError as e:
            raise BadStream(f"{path}: corrupt zstd data: {e}")
    return data


def frames(data, path):
    """Yields (offset, body bytes) of each length-delimited frame."""
    at = 0
    while at < len(data):
        start, shift, length = at, 0, 0
        while True:
            if at >= len(data) or at - start >= 10:
                raise BadStream(f"{path}: byte {start}: bad frame length")
            b = data[at]
            at += 1
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        if length > MAX_SNAPSHOT_FRAME or at + length > len(data):
            raise BadStream(f"{path}: byte {start}: frame of {length} bytes truncated or too long")
        yield start, data[at:at + length]
        at += length


class Segment:
    """One file: its header and its data frames (records kept as messages)."""

    def __init__(self, pb, path, allow_unfinished):
        self.path = path
        self.header = None
        self.trailer = None
        self.records = []  # (sequence, SessionRecord)
        self.end = 0  # one past the last data frame
        expected = None
        for offset, body in frames(read_bytes(path), path):
            f = pb.Frame()
            try:
                f.ParseFromString(body)
            except Exception as e:  # google.protobuf.message.DecodeError
                raise BadStream(f"{path}: byte {offset}: not a Frame ({e})")
            kind = f.WhichOneof("body")
            if self.header is None:
                if kind != "header":
                    raise BadStream(f"{path}: byte {offset}: does not start with a header")
                self.header = f.header
                self.first = f.header.first_sequence or 1
                if f.sequence != self.first - 1:
                    raise BadStream(f"{path}: header sequence {f.sequence}, expected "
                                    f"{self.first - 1}")
                expected = self.first
                continue
            if self.trailer is not None:
                raise BadStream(f"{path}: byte {offset}: data after the trailer")
            if f.sequence != expected:
                raise BadStream(f"{path}: byte {offset}: sequence {f.sequence}, expected "
                                f"{expected}")
            if kind != "snapshot" and len(body) > MAX_FRAME:
                raise BadStream(f"{path}: byte {offset}: frame of {len(body)} bytes too long")
            if kind == "trailer":
                self.trailer = f.trailer
                continue
            expected += 1
            if kind == "record":
                self.records.append((f.sequence, f.record))
            # snapshots and frame types this reader does not know: skipped,
            # they still take their sequence number
        if self.header is None:
            raise BadStream(f"{path}: empty stream: no header frame")
        if self.trailer is None and not allow_unfinished:
            raise BadStream(f"{path}: no trailer (truncated, or still being written); "
                            "--allow-unfinished reads it")
        if self.trailer is not None and self.trailer.records != len(self.records):
            raise BadStream(f"{path}: trailer counts {self.trailer.records} records, the "
                            f"segment has {len(self.records)}")
        self.end = expected


def to_json(pb, rec):
    out = {}
    for field in sorted(rec.DESCRIPTOR.fields, key=lambda f: f.number):
        v = getattr(rec, field.name)
        if field.type == field.TYPE_ENUM:
            v = field.enum_type.values_by_number[v].name
        elif field.type == field.TYPE_BYTES:
            v = str(ipaddress.ip_address(v)) if len(v) in (4, 16) else v.hex()
        out[field.name] = v
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def expand(paths):
    for p in paths:
        if os.path.isdir(p):
            for name in sorted(os.listdir(p)):
                if not name.startswith("."):
                    yield os.path.join(p, name)
        else:
            yield p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="+", help="stream files, segment files or directories")
    ap.add_argument("--pb-dir", help="where protoc --python_out put flowtrail/v1/session_pb2.py")
    ap.add_argument("--allow-unfinished", action="store_true",
                    help="accept segments without trailer")
    args = ap.parse_args()
    pb = load_module(args.pb_dir)

    status = 0
    runs = {}  # (sensor_id, run_id) -> [Segment]; a stream without run id is its own run
    for i, path in enumerate(expand(args.paths)):
        try:
            seg = Segment(pb, path, args.allow_unfinished)
        except (BadStream, OSError) as e:
            print(f"read_stream: {e}", file=sys.stderr)
            status = 1
            continue
        key = (seg.header.sensor_id, seg.header.run_id or f"#{i}")
        runs.setdefault(key, []).append(seg)

    gaps = False
    out = sys.stdout
    for (sensor, run_id), segs in runs.items():
        segs.sort(key=lambda s: s.first)
        nxt, dups = 1, 0
        for seg in segs:
            if seg.first > nxt:
                gaps = True
                print(f"read_stream: run {sensor}/{run_id[:8]}: sequences {nxt}..{seg.first - 1}"
                      " missing", file=sys.stderr)
            for seq, rec in seg.records:
                if seq < nxt:
                    dups += 1
                    continue
                nxt = seq + 1
                out.write(to_json(pb, rec) + "\n")
            nxt = max(nxt, seg.end)
        if dups:
            print(f"read_stream: run {sensor}/{run_id[:8]}: {dups} duplicate records skipped",
                  file=sys.stderr)
    if status == 0 and gaps:
        status = 3
    return status


if __name__ == "__main__":
    sys.exit(main())
