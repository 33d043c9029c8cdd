"""Helpers for the end-to-end tests: run the real flowtrail-sensor on a capture
through DPDK's net_pcap vdev, read its stream with `flowtrail cat`, and compare
records field by field with the expectations the capture generator wrote.

Python 3 standard library only. Paths come from the environment meson sets
(see meson.build); every sensor run gets its own --file-prefix.
"""

import base64
import collections
import fcntl
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time

SKIP = 77  # meson's "skipped" exit code

SENSOR = os.environ.get("FLOWTRAIL_SENSOR", "")
CLI = os.environ.get("FLOWTRAIL_CLI", "")
GENERATOR = os.environ.get("FLOWTRAIL_GENERATOR", "")
WORK_DIR = os.environ.get("FLOWTRAIL_E2E_DIR", "/tmp/flowtrail-e2e")
SOURCE_ROOT = os.environ.get("FLOWTRAIL_SOURCE_ROOT", "")
SHARED_CAPTURES = os.environ.get("FLOWTRAIL_SHARED_CAPTURES", "")

CAPTURES = ("basic", "many_sessions", "large_packets", "sample", "live")
# One generated capture per class of issue 6 (see generate_captures.cc).
ISSUE6_CAPTURES = ("clock_glitch", "every_protocol", "time_zero", "time_high", "seq_outlier",
                   "reuse_half_close", "vlan_key", "fragments_overlap", "scan_burst",
                   "link_plain")
# Client-port distributions (issue 7, e2e_ports.py).
PORTS_CAPTURES = ("ports_fixed_sport_scan", "ports_small_sample")
ALL_CAPTURES = CAPTURES + ISSUE6_CAPTURES + PORTS_CAPTURES

# Proto enums, by number, in the short form records are compared in.
ENUMS = {
    "server_confidence": ["LOW", "MEDIUM", "HIGH"],
    "first_data_sender": ["NONE", "CLIENT", "SERVER"],
    "shutdown_initiator": ["NONE", "CLIENT", "SERVER"],
    "shutdown_kind": ["NONE", "FIN", "RST"],
    "end_reason": ["UNSPECIFIED", "CLOSED", "RESET", "IDLE_TIMEOUT", "ACTIVE_TIMEOUT",
                   "EVICTED", "SHUTDOWN", "END_OF_INPUT", "REPLACED"],
    "conn_state": ["UNSPECIFIED", "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR",
                   "RSTOS0", "RSTRH", "SH", "SHR", "OTH"],
}
ENUM_PREFIXES = ("END_REASON_", "SIDE_", "SHUTDOWN_", "CONFIDENCE_", "SERVER_CONFIDENCE_",
                 "CONN_STATE_", "KIND_")
FLAG_FIELDS = ("client_first_flags", "server_first_flags", "client_flags", "server_flags")
IP_FIELDS = ("client_ip", "server_ip")
# Not compared with the expectation: ids depend on the run (checked for
# uniqueness instead), the pseudo fields are checked separately.
PSEUDO = ("name", "unchecked", "client_fingerprint_nonzero", "server_fingerprint_nonzero",
          "client_first_data_digest", "server_first_data_digest")


class Failure(Exception):
    pass


def log(*args):
    print(*args, flush=True)


def require_binaries():
    for what, path in (("flowtrail-sensor", SENSOR), ("flowtrail", CLI),
                       ("generate_captures", GENERATOR)):
        if not path or not os.access(path, os.X_OK):
            raise Failure(f"{what} not built (expected at {path!r})")


# ---------------------------------------------------------------------------
# Captures


def captures_dir():
    return os.path.join(WORK_DIR, "captures")


def ensure_captures():
    """Runs the generator once per generator build (tests share the output)."""
    out = captures_dir()
    os.makedirs(out, exist_ok=True)
    st = os.stat(GENERATOR)
    stamp_text = f"{st.st_mtime_ns} {st.st_size}\n"
    stamp = os.path.join(out, "stamp")
    with open(os.path.join(out, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fresh = os.path.exists(stamp) and open(stamp).read() == stamp_text and all(
            os.path.exists(os.path.join(out, f"{c}.{ext}"))
            for c in ALL_CAPTURES for ext in ("pcap", "expected.json"))
        if not fresh:
            t = time.monotonic()
            subprocess.run([GENERATOR, out], check=True, stdout=subprocess.DEVNULL)
            log(f"generated captures in {out} ({time.monotonic() - t:.1f} s)")
            with open(stamp, "w") as f:
                f.write(stamp_text)
    return out


def capture(name):
    d = ensure_captures()
    with open(os.path.join(d, f"{name}.expected.json")) as f:
        expected = json.load(f)
    return os.path.join(d, f"{name}.pcap"), expected


# ---------------------------------------------------------------------------
# Running the binaries


class Run:
    """One sensor run: its files, exit code and output."""

    def __init__(self, case, tag):
        self.dir = os.path.join(WORK_DIR, case)
        os.makedirs(self.dir, exist_ok=True)
        self.tag = tag
        self.output = os.path.join(self.dir, f"{tag}.ftr")
        self.stats_path = os.path.join(self.dir, f"{tag}.stats.json")
        self.stderr_path = os.path.join(self.dir, f"{tag}.stderr")
        self.prefix = f"ft-e2e-{case}-{tag}-{os.getpid()}"
        self.returncode = None
        self.stderr = ""
        self.seconds = 0.0
        for p in (self.output, self.stats_path):
            if os.path.exists(p):
                os.remove(p)

    def eal_args(self, vdev, lcores=None, memory=512, telemetry=False):
        args = ["--no-huge", "-m", str(memory), "--no-pci", "--no-shconf"]
        args += [] if telemetry else ["--no-telemetry"]
        args += [f"--file-prefix={self.prefix}", "--log-level=*:warning"]
        args += [f"--lcores={lcores}"] if lcores else ["-l", "0-1"]
        return args + [f"--vdev={vdev}"]

    def command(self, vdev, app_args, lcores=None, memory=512, output=True, stats=True,
                telemetry=False):
        cmd = [SENSOR] + self.eal_args(vdev, lcores, memory, telemetry) + ["--"]
        if output:
            cmd += ["--output", self.output]
        if stats:
            cmd += ["--stats-json", self.stats_path]
        return cmd + ["--status-interval", "0"] + list(app_args)

    def run(self, cmd, timeout=240):
        log("$ " + " ".join(cmd))
        t = time.monotonic()
        with open(self.stderr_path, "w") as err:
            try:
                p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=err, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise Failure(f"sensor did not finish within {timeout} s (stderr: "
                              f"{self.stderr_path})")
        self.seconds = time.monotonic() - t
        self.returncode = p.returncode
        with open(self.stderr_path, errors="replace") as f:
            self.stderr = f.read()
        return self

    def stats(self):
        try:
            with open(self.stats_path) as f:
                return json.load(f)
        except (OSError, ValueError) as e:
            raise Failure(f"cannot read stats JSON {self.stats_path}: {e}")


def run_sensor(case, tag, pcap, app_args, lcores=None, memory=512, timeout=240, vdev_extra=""):
    r = Run(case, tag)
    vdev = f"net_pcap0,rx_pcap={pcap}{vdev_extra}"
    r.run(r.command(vdev, app_args, lcores, memory), timeout)
    if r.returncode != 0:
        raise Failure(f"sensor exited {r.returncode} on {pcap}; stderr:\n{tail(r.stderr)}")
    log(f"  sensor ran {r.seconds:.2f} s")
    return r


def tail(text, lines=25):
    return "\n".join(text.splitlines()[-lines:])


def cat(path, fmt="json", check=True):
    p = subprocess.run([CLI, "cat", "--format", fmt, path], capture_output=True, text=True,
                       errors="replace", timeout=120)
    if check and p.returncode != 0:
        raise Failure(f"flowtrail cat --format {fmt} {path} exited {p.returncode}: "
                      f"{tail(p.stderr)}")
    return p


def cat_json(path):
    out = cat(path, "json").stdout
    records = []
    for n, line in enumerate(out.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError as e:
            raise Failure(f"line {n} of `flowtrail cat --format json` is not JSON ({e}): "
                          f"{line[:200]}")
    return records


# ---------------------------------------------------------------------------
# Reading the stream directly (framing checks independent of the reader)


def _varint(buf, at):
    shift = value = 0
    while True:
        if at >= len(buf):
            raise Failure("stream: truncated varint")
        b = buf[at]
        at += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, at
        shift += 7
        if shift > 63:
            raise Failure("stream: varint too long")


def _fields(msg):
    """(field number, wire type, value) of a protobuf message."""
    at = 0
    while at < len(msg):
        key, at = _varint(msg, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(msg, at)
        elif wire == 1:
            value, at = msg[at:at + 8], at + 8
        elif wire == 2:
            n, at = _varint(msg, at)
            value, at = msg[at:at + n], at + n
        elif wire == 5:
            value, at = msg[at:at + 4], at + 4
        else:
            raise Failure(f"stream: unexpected wire type {wire}")
        yield number, wire, value


def read_frames(path):
    """Frames of a record stream as (sequence, kind, body bytes)."""
    with open(path, "rb") as f:
        buf = f.read()
    frames = []
    at = 0
    while at < len(buf):
        n, at = _varint(buf, at)
        if at + n > len(buf):
            raise Failure(f"stream {path}: frame at byte {at} runs past the end")
        seq, kind, body = 0, None, b""
        for number, _, value in _fields(buf[at:at + n]):
            if number == 1:
                seq = value
            elif number in (2, 3, 4):
                kind, body = {2: "header", 3: "record", 4: "trailer"}[number], value
        frames.append((seq, kind, body))
        at += n
    return frames


def check_stream_framing(path, expect_trailer=True):
    """Header first, sequence numbers +1, trailer last with the record count."""
    frames = read_frames(path)
    if not frames or frames[0][1] != "header":
        raise Failure(f"stream {path}: first frame is not a header")
    for i, (seq, _, _) in enumerate(frames):
        if seq != frames[0][0] + i:
            raise Failure(f"stream {path}: frame {i} has sequence {seq}, expected "
                          f"{frames[0][0] + i}")
    records = sum(1 for f in frames if f[1] == "record")
    if expect_trailer:
        if frames[-1][1] != "trailer":
            raise Failure(f"stream {path}: last frame is not a trailer (not closed cleanly)")
        trailer = {n: v for n, _, v in _fields(frames[-1][2])}
        if trailer.get(1, 0) != records:
            raise Failure(f"stream {path}: trailer says {trailer.get(1, 0)} records, stream "
                          f"has {records}")
    return records


# ---------------------------------------------------------------------------
# Normalising records


def norm_enum(field, value):
    names = ENUMS[field]
    if value is None:
        return names[0]
    if isinstance(value, int):
        return names[value] if 0 <= value < len(names) else f"?{value}"
    s = str(value).strip().upper().replace("-", "_").replace(" ", "_")
    for p in ENUM_PREFIXES:
        if s.startswith(p) and s[len(p):] in names:
            return s[len(p):]
    if s == "EOF" or s == "END_OF_FILE":
        return "END_OF_INPUT"
    return s


def norm_flags(value):
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    s = str(value)
    if s.isdigit():
        return int(s)
    if s.lower().startswith("0x"):
        return int(s, 16)
    # Classic letters: the low six bits as UAPRSF (extra letters for ECE/CWR).
    bits = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20, "E": 0x40,
            "C": 0x80}
    v = 0
    for ch in s:
        if ch not in "_-.":
            v |= bits.get(ch.upper(), 0)
    return v


def norm_ip(value):
    if value is None:
        return ""
    s = str(value)
    try:
        return str(ipaddress.ip_address(s))
    except ValueError:
        pass
    try:  # protobuf JSON renders bytes as base64
        raw = base64.b64decode(s, validate=True)
        if len(raw) in (4, 16):
            return str(ipaddress.ip_address(raw))
    except ValueError:
        pass
    return s


def norm_value(field, value, like):
    """`value` from a record, in the type of the expectation `like`."""
    if field in ENUMS:
        return norm_enum(field, value)
    if field in FLAG_FIELDS:
        return norm_flags(value)
    if field in IP_FIELDS:
        return norm_ip(value)
    if isinstance(like, bool):
        if value is None:
            return False
        if isinstance(value, str):
            return value.lower() in ("true", "1", "yes")
        return bool(value)
    if isinstance(like, int):
        if value is None or value == "":
            return 0
        if isinstance(value, str):
            return int(value, 0) if value.lower().startswith("0x") else int(value)
        return int(value)
    return "" if value is None else value


def norm_record(rec, drop=("session_id", "worker_id")):
    """A record as a hashable tuple of its normalised fields (for multisets)."""
    items = []
    for k, v in rec.items():
        if k in drop:
            continue
        if k in ENUMS:
            v = norm_enum(k, v)
        elif k in FLAG_FIELDS:
            v = norm_flags(v)
        elif k in IP_FIELDS:
            v = norm_ip(v)
        elif isinstance(v, (list, dict)):
            v = json.dumps(v, sort_keys=True)
        elif v in (0, "0", False, "", None):
            continue  # proto3 JSON may omit defaults; treat them alike
        items.append((k, str(v)))
    return tuple(sorted(items))


def key_of(rec_or_exp):
    g = rec_or_exp.get
    return (int(g("protocol", 0) or 0), norm_ip(g("client_ip")), int(g("client_port", 0) or 0),
            norm_ip(g("server_ip")), int(g("server_port", 0) or 0),
            int(g("first_time_us", 0) or 0))


def tuple_of(rec_or_exp):
    k = key_of(rec_or_exp)
    a, b = (k[1], k[2]), (k[3], k[4])
    return (k[0],) + (min(a, b), max(a, b))


# ---------------------------------------------------------------------------
# Comparing with expectations


def compare_records(records, expected_sessions, sensor_id=None, max_errors=60):
    """Every expected session has exactly one record with the expected fields,
    and there is no other record. Returns the list of problems."""
    problems = []
    by_key = collections.defaultdict(list)
    for r in records:
        by_key[key_of(r)].append(r)
    by_tuple = collections.defaultdict(list)
    for r in records:
        by_tuple[tuple_of(r)].append(r)
    matched = set()
    digests = {"client": collections.defaultdict(set), "server": collections.defaultdict(set)}
    for exp in expected_sessions:
        name = exp.get("name", "?")
        cands = by_key.get(key_of(exp), [])
        if len(cands) != 1:
            near = by_tuple.get(tuple_of(exp), [])
            hint = ""
            if near:
                hint = "; records on the same 5-tuple: " + "; ".join(
                    f"client {norm_ip(n.get('client_ip'))}:{n.get('client_port')} "
                    f"first_time_us {n.get('first_time_us')} "
                    f"end_reason {norm_enum('end_reason', n.get('end_reason'))}" for n in near)
            problems.append(f"{name}: {len(cands)} records with key {key_of(exp)}{hint}")
            continue
        rec = cands[0]
        matched.add(id(rec))
        unchecked = set(exp.get("unchecked", []))
        for field, want in exp.items():
            if field in PSEUDO or field in unchecked:
                continue
            got = norm_value(field, rec.get(field), want)
            if field in ENUMS:
                want = norm_enum(field, want)
            if got != want:
                problems.append(f"{name}: {field} = {got!r}, expected {want!r}")
        for side in ("client", "server"):
            fp = norm_value(f"{side}_fingerprint", rec.get(f"{side}_fingerprint"), 0)
            want_nonzero = exp.get(f"{side}_fingerprint_nonzero")
            if want_nonzero is not None and f"{side}_fingerprint" not in unchecked and \
                    (fp != 0) != want_nonzero:
                problems.append(f"{name}: {side}_fingerprint = {fp}, expected "
                                f"{'non-zero' if want_nonzero else '0'}")
            d = exp.get(f"{side}_first_data_digest")
            if d:
                digests[side][d].add(fp)
        if sensor_id is not None and rec.get("sensor_id") != sensor_id:
            problems.append(f"{name}: sensor_id = {rec.get('sensor_id')!r}, expected "
                            f"{sensor_id!r}")
    for side, groups in digests.items():
        for d, fps in groups.items():
            if len(fps) > 1:
                problems.append(f"equal {side} first payloads (digest {d}) gave different "
                                f"fingerprints {sorted(fps)}")
    for r in records:
        if id(r) not in matched:
            problems.append(f"unexpected record: {json.dumps(r, sort_keys=True)[:300]}")
    ids = [r.get("session_id") for r in records]
    if len(set(map(str, ids))) != len(ids):
        problems.append("session_id values are not unique")
    if len(problems) > max_errors:
        problems = problems[:max_errors] + [f"... and {len(problems) - max_errors} more"]
    return problems


def sum_workers(stats, key):
    return sum(int(w.get(key, 0)) for w in stats.get("workers", []))


def bad_by_reason(stats):
    total = collections.Counter()
    for w in stats.get("workers", []):
        for reason, n in (w.get("bad_packets") or {}).items():
            if int(n):
                total[reason] += int(n)
    # A dispatcher that drops unparseable frames before the workers may
    # report its own counts.
    for extra in ("dispatcher", "dispatchers"):
        blocks = stats.get(extra)
        if isinstance(blocks, dict):
            blocks = [blocks]
        for b in blocks or []:
            for reason, n in (b.get("bad_packets") or {}).items():
                if int(n):
                    total[reason] += int(n)
    return dict(total)


def port_counter(stats, key):
    total = 0
    for p in stats.get("ports", []):
        if key in p:
            total += int(p[key])
        for q in p.get("queues", []) or []:
            if key in q and key not in p:
                total += int(q[key])
    return total


def main(cases):
    """Runs the case named by argv[1]; exit 0 pass, 1 fail, 77 skip."""
    if len(sys.argv) != 2 or sys.argv[1] not in cases:
        print(f"usage: {sys.argv[0]} CASE  ({', '.join(cases)})", file=sys.stderr)
        return 2
    try:
        require_binaries()
        result = cases[sys.argv[1]]()
    except Failure as e:
        print(f"FAIL: {e}", flush=True)
        return 1
    except Skip as e:
        print(f"SKIP: {e}", flush=True)
        return SKIP
    return 0 if result is None else result


class Skip(Exception):
    pass


def expect(cond, message):
    if not cond:
        raise Failure(message)


def report(problems, what):
    if problems:
        for p in problems:
            log("  " + p)
        raise Failure(f"{what}: {len(problems)} problem(s)")
    log(f"  {what}: ok")


def kill_group(p):
    try:
        p.send_signal(signal.SIGKILL)
    except ProcessLookupError:
        pass
