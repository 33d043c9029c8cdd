#!/usr/bin/env python3
"""End-to-end test of `flowtrail collect` (issue 9): a well-behaved sensor
streams a real record stream (the real sensor's output on a generated
capture) over TLS with mutual certificates, honouring acks, reconnects once
and resends from before its last ack (duplicates), while hostile peers hit
the same port: random bytes, a 2 GiB length prefix, a truncated frame, a
valid header followed by garbage, a TLS handshake with an unknown
certificate, an enrolled certificate that does not name the sensor id its
stream claims, a plaintext peer, a peer too slow to finish a frame, and
1,000 idle connections. Each hostile
connection must be closed by the collector with its own clear log line;
then SIGTERM, exit 0, and every acknowledged record must be in the files
(`flowtrail cat`), each once, with the duplicates counted.

    e2e_collect.py CASE   (meson: e2e_collect_hostile, e2e_collect_options)

Certificates are made with the `openssl` command line into the case's work
directory. Python 3 standard library only.
"""

import os
import random
import re
import resource
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as lib  # noqa: E402
from e2e_lib import Failure, Skip, expect, log  # noqa: E402

IDLE_TIMEOUT = 5  # seconds (--idle-timeout)
SENSOR_ID = "e2e-collect"  # the sensor certificate's CN


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def split_frames(buf):
    """Raw frames (prefix and body) of a stream with their (sequence, kind)."""
    frames, at = [], 0
    while at < len(buf):
        start = at
        n, at = lib._varint(buf, at)
        seq, kind = 0, None
        for number, _, value in lib._fields(buf[at:at + n]):
            if number == 1:
                seq = value
            elif number in (2, 3, 4, 5):
                kind = {2: "header", 3: "record", 4: "trailer", 5: "snapshot"}[number]
        at += n
        frames.append((seq, kind, buf[start:at]))
    return frames


def header_from(header_frame, first):
    """The header frame re-based on `first`: protobuf merges repeated
    occurrences of a message field, so appending Frame.sequence and a
    StreamHeader{first_sequence} to the body overrides both."""
    n, at = lib._varint(header_frame, 0)
    body = header_frame[at:]
    sub = b"\x48" + varint(first)  # StreamHeader.first_sequence = 9
    body += b"\x08" + varint(first - 1) + b"\x12" + varint(len(sub)) + sub
    return varint(len(body)) + body


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_certs(d, sensor_id):
    """A CA, the collector's certificate, the sensor's (its CN the sensor id,
    as the collector requires), an enrolled impostor's, and a rogue CA's
    sensor."""
    for ca in ("ca", "rogue-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-keyout", f"{d}/{ca}.key", "-out", f"{d}/{ca}.pem", "-subj", f"/CN={ca}")
    ext = f"{d}/san.ext"
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, cn, ca in (("collector", "collector", "ca"), ("sensor", sensor_id, "ca"),
                         ("impostor", "impostor", "ca"), ("rogue", "rogue", "rogue-ca")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/{name}.key",
                "-out", f"{d}/{name}.csr", "-subj", f"/CN={cn}")
        openssl("x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/{ca}.pem",
                "-CAkey", f"{d}/{ca}.key", "-CAcreateserial", "-days", "2",
                "-out", f"{d}/{name}.pem", "-extfile", ext)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class CollectorProc:
    """`flowtrail collect` as a process; `port` fixed (a restart reuses it) or free."""

    def __init__(self, work, args, port=None, tag=""):
        suffix = f"-{tag}" if tag else ""
        self.stderr_path = os.path.join(work, f"collect{suffix}.stderr")
        self.stats_path = os.path.join(work, f"collect{suffix}.stats.json")
        self.port = port if port is not None else free_port()
        cmd = [lib.CLI, "collect", "--listen", f"127.0.0.1:{self.port}",
               "--stats-json", self.stats_path] + args
        log("$ " + " ".join(cmd))
        self.err = open(self.stderr_path, "w")
        self.p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.err)
        deadline = time.monotonic() + 30
        while "listening on" not in self.log():
            if self.p.poll() is not None or time.monotonic() > deadline:
                raise Failure(f"collector did not start: {lib.tail(self.log())}")
            time.sleep(0.05)

    def log(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def kill(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait(30)
        self.err.close()

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(60)
        except subprocess.TimeoutExpired:
            lib.kill_group(self.p)
            raise Failure("collector did not exit within 60 s of SIGTERM")
        self.err.close()
        return rc


def client_context(d, cert):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(f"{d}/ca.pem")
    ctx.load_cert_chain(f"{d}/{cert}.pem", f"{d}/{cert}.key")
    return ctx


def connect_tls(d, port, cert="sensor"):
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    return client_context(d, cert).wrap_socket(raw, server_hostname="127.0.0.1")


class AckReader:
    """CollectorAcks of one connection, read by the thread that also sends
    (an OpenSSL connection must not be used by two threads at once)."""

    def __init__(self, sock, on_ack):
        self.sock, self.on_ack = sock, on_ack
        self.buf = b""
        self.closed = False
        self.error = None

    def poll(self, timeout):
        """Reads what has arrived (waiting up to `timeout` for something)."""
        if self.closed:
            return
        if self.sock.pending() == 0:
            r, _, _ = select.select([self.sock], [], [], timeout)
            if not r:
                return
        self.sock.setblocking(False)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    self.closed = True
                    break
                self.buf += data
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            pass
        except (OSError, ssl.SSLError):
            self.closed = True
        finally:
            self.sock.setblocking(True)
        while self.buf:
            try:
                n, at = lib._varint(self.buf, 0)
            except Failure:
                break
            if at + n > len(self.buf):
                break
            ack = {num: v for num, _, v in lib._fields(self.buf[at:at + n])}
            self.buf = self.buf[at + n:]
            if 3 in ack:
                self.error = ack[3].decode(errors="replace")
            else:
                self.on_ack(ack.get(2, 0))


class GoodSensor(threading.Thread):
    """Streams the frames over two connections: the first stops after an ack
    (no trailer), the second resends from before that ack (duplicates) to
    the trailer. Sends slowly until `hostiles_done`, so the attacks overlap
    the stream."""

    def __init__(self, d, port, frames, hostiles_done):
        super().__init__(daemon=True)
        self.d, self.port, self.frames, self.done_evt = d, port, frames, hostiles_done
        self.acked = 0
        self.error = None
        self.conn_error = None
        self.resent_from = None
        self.exc = None
        self.acks = None

    def on_ack(self, seq):
        if seq < self.acked:
            self.error = f"ack went back from {self.acked} to {seq}"
        self.acked = max(self.acked, seq)

    def wait_ack(self, seq, timeout=60):
        deadline = time.monotonic() + timeout
        while self.acked < seq and not self.acks.closed and time.monotonic() < deadline:
            self.acks.poll(0.1)
        expect(self.acked >= seq,
               f"good sensor: no ack for {seq} within {timeout} s (acked {self.acked})")

    def connection(self, header, data, trailer, pace):
        s = connect_tls(self.d, self.port)
        self.acks = AckReader(s, self.on_ack)
        s.sendall(header)
        for i in range(0, len(data), 20):
            s.sendall(b"".join(f[2] for f in data[i:i + 20]))
            self.acks.poll(0.02 if pace and not self.done_evt.is_set() else 0)
        if trailer is not None:
            s.sendall(trailer[2])
        return s

    def run(self):
        try:
            header = self.frames[0][2]
            data = [f for f in self.frames if f[1] in ("record", "snapshot")]
            trailer = self.frames[-1] if self.frames[-1][1] == "trailer" else None
            half = len(data) // 2
            s = self.connection(header, data[:half], None, pace=True)
            self.wait_ack(data[half - 1][0])
            s.close()  # mid-run, no trailer: like a sensor losing its link
            # Resend from 100 frames before the ack, as a sensor that missed it.
            self.resent_from = data[half - 100][0]
            rest = [f for f in data if f[0] >= self.resent_from]
            # The trailer of this segment counts this segment's frames.
            records = sum(1 for f in rest if f[1] == "record")
            t = b"\x08" + varint(records) + b"\x20" + varint(len(rest) - records)
            n, at = lib._varint(trailer[2], 0)
            body = trailer[2][at:] + b"\x22" + varint(len(t)) + t
            trailer = (trailer[0], "trailer", varint(len(body)) + body)
            s = self.connection(header_from(header, self.resent_from), rest, trailer, pace=False)
            self.wait_ack(data[-1][0])
            self.conn_error = self.acks.error
            s.close()
        except Exception as e:  # reported by the main thread
            self.exc = e


class SigtermSensor(GoodSensor):
    """Streams slowly until the collector goes away."""

    def __init__(self, d, port, header, frames):
        super().__init__(d, port, frames, threading.Event())
        self.header = header
        self.started = threading.Event()

    def on_ack(self, seq):
        super().on_ack(seq)
        if seq >= 2000:
            self.started.set()

    def run(self):
        s = None
        try:
            data = [f for f in self.frames if f[1] in ("record", "snapshot")]
            s = self.connection(self.header, data, None, pace=True)
        except (OSError, ssl.SSLError):
            pass  # the collector closed the connection
        except Exception as e:
            self.exc = e
        # The acks up to the collector's last one, sent before it closed.
        deadline = time.monotonic() + 30
        while self.acks is not None and not self.acks.closed and time.monotonic() < deadline:
            self.acks.poll(0.1)
        if s is not None:
            s.close()


def expect_closed(sock, what, timeout=IDLE_TIMEOUT + 30):
    """The collector closes the connection: EOF or reset within the time."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return
    except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
        return
    except socket.timeout:
        raise Failure(f"{what}: the collector did not close the connection")
    except OSError:
        return


def hostile_tls(d, port, payload, what, shut=False, cert="sensor"):
    s = connect_tls(d, port, cert)
    local = s.getsockname()[1]
    s.sendall(payload)
    if shut:
        s.shutdown(socket.SHUT_WR)  # end of stream without close_notify
    expect_closed(s, what)
    s.close()
    return local


def hostile_slow(d, port, header, rec):
    """A frame dribbled a byte a second: never idle, never complete."""
    s = connect_tls(d, port)
    local = s.getsockname()[1]
    s.sendall(header + rec[:10])
    deadline = time.monotonic() + IDLE_TIMEOUT + 30
    try:
        # Until the collector's close makes a send fail (reading here could
        # block on TLS session tickets, which carry no data).
        for b in rec[10:-1]:
            expect(time.monotonic() < deadline, "slow peer: not closed by the collector")
            s.sendall(bytes([b]))
            time.sleep(1.0)
    except (OSError, ssl.SSLError):
        pass
    expect_closed(s, "slow peer")
    s.close()
    return local


def hostile_raw(port, payload, what):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    local = s.getsockname()[1]
    s.sendall(payload)
    expect_closed(s, what)
    s.close()
    return local


def hostile_rogue(d, port):
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    local = raw.getsockname()[1]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(f"{d}/ca.pem")
    ctx.load_cert_chain(f"{d}/rogue.pem", f"{d}/rogue.key")
    try:
        s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        # TLS 1.3: the server's verdict on the client certificate comes
        # after the client's handshake returns.
        expect_closed(s, "unknown certificate")
        s.close()
    except (ssl.SSLError, OSError):
        raw.close()
    return local


def stream_file(case):
    pcap, exp = lib.capture("many_sessions")
    r = lib.run_sensor(case, "stream", pcap,
                       list(exp["sensor_args"]) + ["--sensor-id", SENSOR_ID])
    with open(r.output, "rb") as f:
        buf = f.read()
    return r.output, buf


def case_collect_hostile():
    if shutil.which("openssl") is None:
        raise Skip("no openssl command")
    case = "collect_hostile"
    work = os.path.join(lib.WORK_DIR, case)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    certs = os.path.join(work, "certs")
    os.makedirs(certs)
    make_certs(certs, SENSOR_ID)
    src_path, buf = stream_file(case)
    frames = split_frames(buf)
    records = sum(1 for f in frames if f[1] == "record")
    log(f"  stream: {len(frames)} frames, {records} records")
    expect(records > 1000, "the stream is too small for the test")
    store = os.path.join(work, "store")
    os.makedirs(store)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))

    c = CollectorProc(work, ["--dir", store, "--tls-ca", f"{certs}/ca.pem",
                             "--tls-cert", f"{certs}/collector.pem",
                             "--tls-key", f"{certs}/collector.key",
                             "--idle-timeout", str(IDLE_TIMEOUT), "--max-connections", "1100",
                             "--rotate-bytes", "1000000"])
    done = threading.Event()
    good = GoodSensor(certs, c.port, frames, done)
    good.start()
    time.sleep(0.5)  # the good sensor is connected and streaming

    header = frames[0][2]
    rnd = random.Random(9)
    expected = {}  # hostile name -> (local port, log pattern)
    try:
        idle = []
        for _ in range(1000):
            idle.append(socket.create_connection(("127.0.0.1", c.port), timeout=30))
        log("  1000 idle connections open")
        # Ended by the peer (FIN), so a length that asks for more is a
        # truncated frame rather than a wait for the idle timeout.
        expected["random bytes"] = (hostile_tls(
            certs, c.port, bytes(rnd.randrange(256) for _ in range(4096)), "random bytes",
            shut=True), r"closed: bad frame: byte 0: ")
        expected["2 GiB length"] = (hostile_tls(certs, c.port, varint(2 << 30) + b"x" * 100,
                                                "2 GiB length"),
                                    r"bad frame: byte 0: frame length 2147483648 exceeds")
        rec = frames[1][2]
        expected["truncated frame"] = (hostile_tls(certs, c.port, header + rec[:len(rec) // 2],
                                                   "truncated frame", shut=True),
                                       r"bad frame: byte \d+: stream truncated")
        expected["header then garbage"] = (hostile_tls(
            certs, c.port, header + b"\x10" + b"\xff" * 16, "header then garbage"),
            r"bad frame: byte \d+: frame of 16 bytes is not a valid flowtrail.v1.Frame")
        expected["slow peer"] = (hostile_slow(certs, c.port, header, rec),
                                 r"closed: too slow: a frame incomplete after 5 s")
        expected["unknown certificate"] = (hostile_rogue(certs, c.port),
                                           r"refused conn \d+ 127\.0\.0\.1:{}: bad_certificate")
        expected["impostor"] = (hostile_tls(
            certs, c.port, header + rec, "impostor", cert="impostor"),
            r"closed: sensor id 'e2e-collect' is not a name of the peer's certificate "
            r"\(CN or DNS subjectAltName: impostor, localhost\)")
        expected["plaintext on TLS"] = (hostile_raw(c.port, header + rec, "plaintext peer"),
                                        r"refused conn \d+ 127\.0\.0\.1:{}: plaintext_on_tls")
        for s in idle:
            expect_closed(s, "idle connection")
        idle_ports = [s.getsockname()[1] for s in idle]
        for s in idle:
            s.close()
        log("  1000 idle connections closed by the collector")
    finally:
        done.set()
    good.join(180)
    expect(not good.is_alive(), "good sensor did not finish")
    if good.exc is not None:
        raise Failure(f"good sensor: {good.exc}")
    expect(good.error is None, f"good sensor: {good.error}")
    last = [f for f in frames if f[1] in ("record", "snapshot")][-1][0]
    expect(good.acked == last, f"good sensor acked up to {good.acked}, the stream ends at {last}")

    # SIGTERM while a second run streams: every frame acknowledged before the
    # collector exits is in its files.
    run2 = "ffffffffffffffffffffffffffffffff"
    sub = b"\x42" + varint(len(run2)) + run2.encode()  # StreamHeader.run_id = 8
    n, at = lib._varint(header, 0)
    body = header[at:] + b"\x12" + varint(len(sub)) + sub
    late = SigtermSensor(certs, c.port, varint(len(body)) + body, frames)
    late.start()
    expect(late.started.wait(60), f"second run: no ack for 2000 (acked {late.acked})")
    rc = c.stop()
    late.join(60)
    expect(late.exc is None, f"second run: {late.exc}")
    log(f"  SIGTERM mid-stream: second run acknowledged up to {late.acked}")
    text = c.log()
    expect(rc == 0, f"collector exited {rc} after SIGTERM: {lib.tail(text)}")
    problems = []
    for what, (port, pattern) in expected.items():
        pat = pattern.format(port) if "{}" in pattern else (r"127\.0\.0\.1:%d[: ].*" % port
                                                           + pattern)
        if not re.search(pat, text):
            problems.append(f"{what}: no log line matching {pat!r}")
    idle_logged = sum(1 for p in idle_ports
                      if re.search(r"127\.0\.0\.1:%d: closed: idle: no byte for 5 s" % p, text))
    if idle_logged != 1000:
        problems.append(f"idle connections: {idle_logged} of 1000 logged as timed out")
    lib.report(problems, "hostile peers closed with their errors")

    import json
    with open(c.stats_path) as f:
        stats = json.load(f)
    log(f"  stats: {json.dumps({k: v for k, v in stats.items() if k != 'runs'})}")
    runs = [r for r in stats["runs"] if r["run_id"] != run2]
    expect(len(runs) == 1, f"stats: runs {stats['runs']}, expected the good sensor's and {run2}")
    run = runs[0]
    dups = [f for f in frames if f[1] in ("record", "snapshot")
            and good.resent_from <= f[0] <= good.acked]
    expect(run["gaps"] == [], f"stats: gaps {run['gaps']}")
    expect(run["frames"] == last, f"stats: holds {run['frames']} frames, expected {last}")
    resent = len([f for f in frames if f[1] in ("record", "snapshot")
                  and good.resent_from <= f[0] < good.resent_from + 100])
    expect(run["duplicates"] == resent == 100,
           f"stats: {run['duplicates']} duplicates, the sensor resent {resent} acked frames")
    expect(run["duplicate_ranges"] == [[good.resent_from, good.resent_from + 99]],
           f"stats: duplicate ranges {run['duplicate_ranges']}")
    del dups
    refused = stats["connections_refused"]
    expect(refused.get("bad_certificate", 0) == 1, f"refused: {refused}")
    expect(refused.get("plaintext_on_tls", 0) == 1, f"refused: {refused}")
    expect(refused.get("sensor_id", 0) == 1, f"refused: {refused}")
    expect(stats["connections_over_budget"] == 0, f"over budget: {stats}")
    timed_out = stats["connections_timed_out"]
    expect(timed_out == {"idle": 1000, "slow": 1}, f"timed out: {timed_out}")
    expect(sum(stats["bad_frames"].values()) == 4, f"bad frames: {stats['bad_frames']}")
    expect(good.conn_error is None, f"good sensor refused: {good.conn_error}")

    # Every acknowledged record is in the files, once.
    sensor_dir = os.path.join(store, SENSOR_ID)
    files = sorted(os.path.join(sensor_dir, n) for n in os.listdir(sensor_dir)
                   if n.endswith(".ftr") and run2 not in n)
    expect(len(files) >= 2, f"expected rotated files, got {files}")
    p = subprocess.run([lib.CLI, "cat", "--format", "json", "--allow-unfinished"] + files,
                       capture_output=True, text=True, timeout=120)
    expect(p.returncode == 0, f"flowtrail cat on the collector's files: {lib.tail(p.stderr)}")
    got = sorted(p.stdout.splitlines())
    want = sorted(lib.cat(src_path).stdout.splitlines())
    expect(len(got) == len(want) == records,
           f"collector files hold {len(got)} records, the stream {len(want)}")
    expect(got == want, "the collector's records differ from the stream's")
    log(f"  {len(files)} files hold all {records} records once; duplicates identified")

    # A restarted collector knows what it holds.
    c2 = CollectorProc(work, ["--dir", store, "--tls-ca", f"{certs}/ca.pem",
                              "--tls-cert", f"{certs}/collector.pem",
                              "--tls-key", f"{certs}/collector.key"])
    rc = c2.stop()
    expect(rc == 0, f"restarted collector exited {rc}")
    m = re.search(r"holds sensor e2e-collect run %s: sequences 1-(\d+)\n" % run2, c2.log())
    expect(m and int(m.group(1)) >= late.acked,
           f"second run: acknowledged {late.acked}, the files hold {m and m.group(1)}")
    late_files = [os.path.join(sensor_dir, n) for n in os.listdir(sensor_dir) if run2 in n]
    p = subprocess.run([lib.CLI, "cat", "--format", "json", "--allow-unfinished"] + late_files,
                       capture_output=True, text=True, timeout=120)
    expect(p.returncode == 0 and len(p.stdout.splitlines()) >= late.acked,
           f"second run: {len(p.stdout.splitlines())} records in the files, "
           f"{late.acked} acknowledged: {lib.tail(p.stderr)}")
    expect(re.search(r"holds sensor e2e-collect run \w+: sequences 1-%d\n" % last, c2.log()),
           f"restarted collector does not report 1-{last}: {lib.tail(c2.log())}")


def case_collect_options():
    case = "collect_options"
    work = os.path.join(lib.WORK_DIR, case)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    problems = []
    for args, pattern in (
            (["--listen", "0.0.0.0:0", "--dir", work], "refusing to accept plaintext on 0.0.0.0"),
            (["--listen", "127.0.0.1:0", "--dir", work, "--clickhouse", "ftp://x"],
             "needs an http:// or https:// URL"),
            (["--listen", "127.0.0.1:0", "--dir", work, "--tls-ca", "x"],
             "needs all of --tls-ca, --tls-cert and --tls-key"),
            (["--listen", "127.0.0.1:0", "--dir", os.path.join(work, "missing")],
             "is not a directory"),
            (["--listen", "127.0.0.1", "--dir", work], "needs ADDR:PORT")):
        p = subprocess.run([lib.CLI, "collect"] + args, capture_output=True, text=True,
                           timeout=30)
        if p.returncode != 2 or pattern not in p.stderr:
            problems.append(f"{args}: exit {p.returncode}, stderr {p.stderr.strip()!r}")
    lib.report(problems, "bad options refused")
    # Plaintext on loopback is allowed (the sensor on the same host).
    c = CollectorProc(work, ["--dir", work])
    # One collector per directory: a second one would cut the first one's
    # open files at its start.
    p = subprocess.run([lib.CLI, "collect", "--listen", "127.0.0.1:0", "--dir", work],
                       capture_output=True, text=True, timeout=30)
    expect(p.returncode == 2 and "another flowtrail collect" in p.stderr,
           f"a second collector on {work}: exit {p.returncode}, stderr {p.stderr.strip()!r}")
    s = socket.create_connection(("127.0.0.1", c.port))
    s.sendall(b"\x00")  # a frame of 0 bytes: no body
    expect_closed(s, "plaintext bad frame")
    rc = c.stop()
    expect(rc == 0, f"collector exited {rc}")
    expect("has no body" in c.log(), f"no error logged: {lib.tail(c.log())}")


CASES = {
    "collect_hostile": case_collect_hostile,
    "collect_options": case_collect_options,
}

if __name__ == "__main__":
    sys.exit(lib.main(CASES))
