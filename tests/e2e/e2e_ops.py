"""e2e cases of operating the sensor (issue 11, "Configuration" -> Reload and
"deploy/" -> the systemd watchdog), on a live veth port (root):
- ops_reload_live: SIGHUP applies new analytics thresholds (the final
  analytics snapshot frame carries the TRW parameters in effect) and a new log
  level: at `warning` the info status lines stop, back at `info` they return.
- ops_systemd_notify: with NOTIFY_SOCKET (a unix datagram socket this test
  owns) and WATCHDOG_USEC set, the sensor sends READY=1 (with a STATUS=),
  repeated WATCHDOG=1 and STOPPING=1 at SIGTERM.
"""

import os
import signal
import socket
import struct
import subprocess
import time

import e2e_lib as lib
from e2e_config import wait_for, with_veth, work
from e2e_lib import Failure, log, report

VETH, PEER = "ftops0", "ftops1"


def sensor_cmd(case, tag, lcores, app_args):
    r = lib.Run(case, tag)
    return [lib.SENSOR, "--no-huge", "-m", "512", "--no-pci", "--no-shconf", "--no-telemetry",
            f"--file-prefix={r.prefix}", "--log-level=*:warning", f"--lcores={lcores}",
            f"--vdev=net_pcap0,iface={VETH}", "--"] + app_args


def final_snapshot_trw(path):
    """(theta0, theta1, alpha, beta) of the stream's last snapshot frame
    (Frame.snapshot = 5 -> AnalyticsSnapshot.scans = 1 -> ScanTableState.options
    = 1 -> ScanOptionsState trw_theta0..trw_beta = 2..5, doubles)."""
    with open(path, "rb") as f:
        buf = f.read()
    at, last = 0, None
    while at < len(buf):
        n, at = lib._varint(buf, at)
        for number, _, value in lib._fields(buf[at:at + n]):
            if number == 5:
                last = value
        at += n
    if last is None:
        raise Failure(f"{path}: no snapshot frame")
    fields = lambda msg, k: [v for num, _, v in lib._fields(msg) if num == k]
    scans = fields(last, 1)
    options = fields(scans[0], 1) if scans else []
    if not options:
        raise Failure(f"{path}: the last snapshot has no scan options")
    values = {num: struct.unpack("<d", v)[0] for num, w, v in lib._fields(options[0]) if w == 1}
    return tuple(values.get(k, 0.0) for k in (2, 3, 4, 5))


def status_lines(text):
    return sum(1 for line in text.splitlines() if line.startswith("flowtrail: ") and " rx=" in line)


def reload_run():
    d = work("ops_reload_live")
    conf = os.path.join(d, "sensor.toml")
    out = os.path.join(d, "reload.ftr")
    stderr_path = os.path.join(d, "reload.stderr")

    def write(level, theta0, sigma):
        with open(conf, "w") as f:
            f.write(f"[output]\nfile = \"{out}\"\nstatus_interval = 0.1\nlog_level = \"{level}\"\n"
                    f"[input]\ncapture = false\n[tracker]\ntable_size = 65536\n"
                    f"[analytics]\ntrw_theta0 = {theta0}\nsigma = {sigma}\n")

    write("info", 0.8, 3)
    cmd = sensor_cmd("ops_reload_live", "reload", "0@0,1@1", ["--config", conf])
    log("$ " + " ".join(cmd))
    with open(stderr_path, "w") as err:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    read = lambda: open(stderr_path, errors="replace").read()
    problems = []
    try:
        wait_for(stderr_path, lambda t: status_lines(t) >= 1, p, "a status line")
        # New thresholds; every reader (workers, analytics lcore) takes them.
        write("info", 0.75, 2.5)
        p.send_signal(signal.SIGHUP)
        wait_for(stderr_path, "every worker runs the new settings", p, "the threshold reload")
        # warning: the status lines (info) stop. The reload's own messages
        # still follow the old level, then the main loop (which also writes
        # the status lines) switches.
        write("warning", 0.75, 2.5)
        p.send_signal(signal.SIGHUP)
        wait_for(stderr_path, "reload: output.log_level applied", p, "the level reload")
        quiet_from = len(read())
        time.sleep(1.5)  # 15 status intervals: lines would show if the level did not hold
        quiet = read()[quiet_from:]
        if status_lines(quiet) != 0 or "every worker runs" in quiet:
            problems.append(f"at log level warning, info/notice lines still appear: {quiet[:300]!r}")
        # Back to info: the status lines return.
        write("info", 0.75, 2.5)
        p.send_signal(signal.SIGHUP)
        wait_for(stderr_path, lambda t: status_lines(t[quiet_from:]) >= 1, p,
                 "status lines at info again")
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=120)
    finally:
        if p.poll() is None:
            lib.kill_group(p)
    text = read()
    if rc != 0:
        problems.append(f"sensor exited {rc}")
    for s in ("reload: analytics.trw_theta0 applied", "reload: analytics.sigma applied",
              "reload: output.log_level applied"):
        if s not in text:
            problems.append(f"stderr lacks {s!r}")
    if "restart is needed" in text:
        problems.append("a live key was refused")
    trw = final_snapshot_trw(out)
    log(f"  final snapshot TRW: {trw}")
    if trw != (0.75, 0.2, 0.01, 0.99):
        problems.append(f"the final snapshot's TRW parameters are {trw}, expected the reloaded "
                        "(0.75, 0.2, 0.01, 0.99)")
    report(problems, "SIGHUP: analytics thresholds and log level")


def notify_run():
    d = work("ops_systemd_notify")
    sock_path = os.path.join(d, "notify.sock")
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    out = os.path.join(d, "notify.ftr")
    stderr_path = os.path.join(d, "notify.stderr")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(1.0)
    # 4 lcores on the 2 cores: main, a worker, and the exporter and analytics
    # lcores on their own (their loop counts are heartbeats too).
    cmd = sensor_cmd("ops_systemd_notify", "notify", "0@0,1@1,2@0,3@1",
                     ["--output", out, "--no-capture", "--workers", "1", "--status-interval", "0"])
    env = dict(os.environ, NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="2000000")
    env.pop("WATCHDOG_PID", None)
    log("$ NOTIFY_SOCKET=... WATCHDOG_USEC=2000000 " + " ".join(cmd))
    with open(stderr_path, "w") as err:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
    messages = []

    def receive_until(pred, what, timeout=120):
        # Bounds a hang only; the sensor's timing is not asserted.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return
            try:
                messages.append(sock.recv(4096).decode())
            except socket.timeout:
                if p.poll() is not None and not pred():
                    raise Failure(f"sensor exited {p.returncode} before {what}: "
                                  f"{lib.tail(open(stderr_path).read())}")
        raise Failure(f"no {what} within {timeout} s; got {messages[-5:]}")

    lines = lambda: [l for m in messages for l in m.split("\n")]
    try:
        receive_until(lambda: "READY=1" in lines(), "READY=1")
        receive_until(lambda: lines().count("WATCHDOG=1") >= 3, "three WATCHDOG=1")
        receive_until(lambda: any(l.startswith("STATUS=") and "rx=" in l for l in lines()),
                      "a STATUS= status line")
        p.send_signal(signal.SIGTERM)
        receive_until(lambda: "STOPPING=1" in lines(), "STOPPING=1")
        rc = p.wait(timeout=120)
    finally:
        if p.poll() is None:
            lib.kill_group(p)
        sock.close()
    got = lines()
    log(f"  {len(got)} notifications, first {got[:3]}")
    problems = []
    if rc != 0:
        problems.append(f"sensor exited {rc}")
    ready = got.index("READY=1")
    if "WATCHDOG=1" in got[:ready]:
        problems.append("WATCHDOG=1 before READY=1")
    if "WATCHDOG=1" in got[got.index("STOPPING=1"):]:
        problems.append("WATCHDOG=1 after STOPPING=1")
    report(problems, "systemd notification")


# Each case on its own veth pair (root).
CASES = {
    "ops_reload_live": lambda: with_veth(VETH, PEER, reload_run),
    "ops_systemd_notify": lambda: with_veth(VETH, PEER, notify_run),
}

if __name__ == "__main__":
    raise SystemExit(lib.main(CASES))
