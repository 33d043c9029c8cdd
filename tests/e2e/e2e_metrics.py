#!/usr/bin/env python3
"""Issue 11: the sensor's counters outside the process, on a running sensor
that replays the live capture endlessly (net_pcap infinite_rx=1).

  metrics_scrape            --metrics PORT (loopback by default): curl scrapes
                            /metrics twice; the values move, the text parses
                            with Debian's prometheus_client parser (run by
                            /usr/bin/python3, where python3-prometheus-client
                            lives), every SPEC section 7 counter is there
                            with its labels, HELP and TYPE
  metrics_bad_listen        --metrics values refused at start; a port in use
                            fails the start naming the address
  telemetry_every_command   every /flowtrail/* command the telemetry socket
                            lists answers, and each table-derived one holds
                            every counter the Prometheus text has

    python3 e2e_metrics.py CASE
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import e2e_lib as lib
from e2e_collect import free_port
from e2e_lib import Failure, Skip, expect, log, report
from e2e_live import telemetry_query

# prometheus_client's own text parser, as JSON: {family: {type, help, samples}}.
PARSE = r"""
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    out[f.name] = {"type": f.type, "help": f.documentation,
                   "samples": [[s.name, s.labels, s.value] for s in f.samples]}
json.dump(out, sys.stdout)
"""


def prometheus_python():
    """Debian's python3 (python3-prometheus-client lives there, not in a pyenv)."""
    for py in ("/usr/bin/python3", sys.executable):
        if os.path.exists(py) and subprocess.run(
                [py, "-c", "import prometheus_client.parser"], capture_output=True).returncode == 0:
            return py
    raise Skip("no python3 with prometheus_client (Debian: python3-prometheus-client)")


def scrape(port):
    p = subprocess.run(["curl", "-sS", "--max-time", "5", f"http://127.0.0.1:{port}/metrics"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise OSError(f"curl exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def parse(py, text):
    p = subprocess.run([py, "-c", PARSE], input=text, capture_output=True, text=True)
    if p.returncode != 0:
        raise Failure(f"prometheus_client cannot parse the exposition: {lib.tail(p.stderr)}")
    return json.loads(p.stdout)


def listening_on(port):
    """Local addresses listening on TCP `port` (/proc/net/tcp{,6}, state 0A)."""
    out = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(path).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            addr, p = f[1].split(":")
            if int(p, 16) == port and f[3] == "0A":
                out.add(addr)
    return out


class LiveSensor:
    """The live capture replayed endlessly, with --metrics (and telemetry)."""

    def __init__(self, case, metrics_arg, telemetry=False, extra=()):
        pcap, _ = lib.capture("live")
        self.run = lib.Run(case, "live")
        # A collector nobody listens on: its link's counters move (connect failures).
        self.collector_port = free_port()
        args = ["--sensor-id", f"e2e-{case}", "--metrics", metrics_arg,
                "--collector", f"127.0.0.1:{self.collector_port}", *extra]
        self.cmd = self.run.command(f"net_pcap0,rx_pcap={pcap},infinite_rx=1", args,
                                    telemetry=telemetry)
        self.sock = f"/var/run/dpdk/{self.run.prefix}/dpdk_telemetry.v2"
        self.p = None

    def __enter__(self):
        log("$ " + " ".join(self.cmd))
        self.err = open(self.run.stderr_path, "w")
        self.p = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=self.err)
        return self

    def alive(self):
        expect(self.p.poll() is None, f"sensor exited {self.p.returncode} early: "
               f"{lib.tail(open(self.run.stderr_path).read())}")

    def stop(self):
        self.p.send_signal(signal.SIGINT)
        try:
            return self.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise Failure("sensor did not exit within 60 s of SIGINT")

    def __exit__(self, *exc):
        if self.p.poll() is None:
            lib.kill_group(self.p)
            self.p.wait()
        self.err.close()


def wait_for_scrape(s, port, want=lambda t: True, seconds=30):
    """The first scrape whose text passes `want` (the sensor publishes its
    snapshot every 250 ms once running)."""
    t0 = time.monotonic()
    last = ""
    while time.monotonic() - t0 < seconds:
        s.alive()
        try:
            last = scrape(port)
            if want(last):
                return last
        except OSError as e:
            last = str(e)
        time.sleep(0.3)
    raise Failure(f"no usable scrape of port {port} within {seconds} s; last: {last[-800:]}")


def value(families, family, **labels):
    f = families.get(family)
    if f is None:
        raise Failure(f"no metric family {family}")
    total = 0.0
    found = False
    for name, ls, v in f["samples"]:
        if all(ls.get(k) == str(x) for k, x in labels.items()):
            total += v
            found = True
    expect(found, f"{family}: no sample with labels {labels}: {f['samples'][:5]}")
    return total


def metrics_scrape():
    py = prometheus_python()
    if shutil.which("curl") is None:
        raise Skip("curl not installed")
    port = free_port()
    problems = []
    with LiveSensor("metrics_scrape", str(port)) as s:
        first = wait_for_scrape(s, port, lambda t: re.search(r"^flowtrail_port_rx_total\{.*\} [1-9]",
                                                             t, re.M) is not None)
        bound = listening_on(port)
        if bound != {"0100007F"}:
            problems.append(f"a bare --metrics {port} listens on {bound}, expected 127.0.0.1 only")
        time.sleep(1.5)
        second = scrape(port)
        rc = s.stop()
    a, b = parse(py, first), parse(py, second)
    log(f"  {len(b)} metric families, {sum(len(f['samples']) for f in b.values())} samples")
    # Every family has HELP and TYPE (the parser says "unknown" without TYPE).
    for name, f in b.items():
        if f["type"] not in ("counter", "gauge"):
            problems.append(f"{name}: type {f['type']}")
        if not f["help"]:
            problems.append(f"{name}: no HELP")
    # SPEC section 7: per port/queue rx and drops, per worker packets,
    # sessions, ring drops, bad packets by reason, export bytes and lag;
    # the collector links; the analytics' table sizes and evictions.
    wanted = {
        "flowtrail_port_rx": {"port": 0}, "flowtrail_port_imissed": {"port": 0},
        "flowtrail_port_nombuf": {"port": 0}, "flowtrail_port_ierrors": {"port": 0},
        "flowtrail_port_queue_rx": {"port": 0, "queue": 0},
        "flowtrail_worker_packets": {"worker": 0},
        "flowtrail_worker_sessions_active": {"worker": 0},
        "flowtrail_worker_sessions_created": {"worker": 0},
        "flowtrail_worker_sessions_ended": {"worker": 0},
        "flowtrail_worker_sessions_evicted": {"worker": 0},
        "flowtrail_worker_tracker_records_dropped": {"worker": 0},
        "flowtrail_worker_parse_results": {"worker": 0, "class": "bad_packets",
                                           "reason": "truncated_ipv4"},
        "flowtrail_ring_drops": {}, "flowtrail_bytes_written": {},
        "flowtrail_records_written": {}, "flowtrail_export_lag_records": {},
        "flowtrail_collector_lag_records": {"collector": f"127.0.0.1:{s.collector_port}"},
        "flowtrail_collector_connect_failures": {"collector": f"127.0.0.1:{s.collector_port}"},
        "flowtrail_analytics_scan_rows": {}, "flowtrail_analytics_scan_row_evictions": {},
        "flowtrail_analytics_live_clients": {}, "flowtrail_analytics_live_client_evictions": {},
        "flowtrail_analytics_port_cells": {}, "flowtrail_analytics_port_evicted_cells": {},
    }
    for family, labels in wanted.items():
        try:
            value(b, family, **labels)
        except Failure as e:
            problems.append(str(e))
    # Values move between the two scrapes.
    for family in ("flowtrail_port_rx", "flowtrail_worker_packets", "flowtrail_uptime_seconds",
                   "flowtrail_port_queue_rx"):
        before, after = value(a, family), value(b, family)
        log(f"  {family}: {before:.0f} -> {after:.0f}")
        if not after > before:
            problems.append(f"{family} did not move: {before} -> {after}")
    for family in ("flowtrail_worker_sessions_active", "flowtrail_worker_sessions_created"):
        if value(b, family) <= 0:
            problems.append(f"{family} is {value(b, family)} on a running replay")
    expect(rc == 0, f"exit {rc} after SIGINT: {lib.tail(open(s.run.stderr_path).read())}")
    report(problems, "metrics scrape")


def metrics_bad_listen():
    pcap, _ = lib.capture("basic")
    problems = []
    for bad, words in (("70000", "1 to 65535"), ("::1:9100", "brackets"), ("host:", "1 to 65535"),
                       ("", "")):
        r = lib.Run("metrics_bad_listen", "bad")
        r.run(r.command(f"net_pcap0,rx_pcap={pcap}", ["--metrics", bad]), timeout=60)
        if r.returncode != 2 or words not in r.stderr:
            problems.append(f"--metrics {bad!r}: exit {r.returncode}, stderr "
                            f"{lib.tail(r.stderr, 3)!r} (expected exit 2 naming {words!r})")
    # A port already in use: the start fails, naming the address.
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        r = lib.Run("metrics_bad_listen", "busy")
        r.run(r.command(f"net_pcap0,rx_pcap={pcap}", ["--metrics", f"127.0.0.1:{port}"]),
              timeout=60)
    finally:
        holder.close()
    if r.returncode != 1 or f"cannot listen on 127.0.0.1 port {port}" not in r.stderr:
        problems.append(f"busy port: exit {r.returncode}, stderr {lib.tail(r.stderr, 3)!r}")
    report(problems, "--metrics refusals")


def family_keys(families, prefix):
    """Table names of the Prometheus families flowtrail_<prefix>_<name>."""
    keys = set()
    for name in families:
        if name.startswith(prefix):
            keys.add(name[len(prefix):])
    return keys


def telemetry_every_command():
    py = prometheus_python()
    port = free_port()
    problems = []
    with LiveSensor("telemetry_every_command", f"127.0.0.1:{port}", telemetry=True) as s:
        text = wait_for_scrape(s, port, lambda t: re.search(
            r"^flowtrail_worker_packets_total\{.*\} [1-9]", t, re.M) is not None)
        t0 = time.monotonic()
        while not os.path.exists(s.sock) and time.monotonic() - t0 < 20:
            time.sleep(0.2)
        listed = telemetry_query(s.sock, ["/"])["/"]
        commands = sorted(c for c in listed if c.startswith("/flowtrail/"))
        log(f"  telemetry lists {commands}")
        answers = telemetry_query(s.sock, commands)
        later = scrape(port)
        rc = s.stop()
    fams = parse(py, later)
    want_commands = {"/flowtrail/stats", "/flowtrail/workers", "/flowtrail/dispatcher",
                     "/flowtrail/port_stats", "/flowtrail/inputs", "/flowtrail/collectors",
                     "/flowtrail/analytics", "/flowtrail/scans", "/flowtrail/ports",
                     "/flowtrail/servers"}
    if set(commands) != want_commands:
        problems.append(f"commands {commands}, expected {sorted(want_commands)}")
    for c in commands:
        if not isinstance(answers.get(c), dict):
            problems.append(f"{c} answered {answers.get(c)!r}")
    if problems:
        report(problems, "telemetry commands")

    def need(command, container, keys, what):
        d = answers[command]
        d = d.get(container) if container else d
        if not isinstance(d, dict):
            problems.append(f"{command}: no {container} in {json.dumps(answers[command])[:300]}")
            return {}
        missing = sorted(k for k in keys if k not in d)
        if missing:
            problems.append(f"{command} {container or ''}: {what} missing {missing}")
        return d

    # Each table family's counters, as the Prometheus text names them.
    worker_keys = family_keys(fams, "flowtrail_worker_") - {"parse_results"}
    w0 = need("/flowtrail/workers", "worker0", worker_keys, "worker counters")
    reasons = {f"{ls['class']}_{ls['reason']}" for _, ls, _ in
               fams["flowtrail_worker_parse_results"]["samples"]}
    need("/flowtrail/workers", "worker0", reasons, "parse reasons")
    port_keys = family_keys(fams, "flowtrail_port_") - {"queue_rx"}
    p0 = need("/flowtrail/port_stats", "port0", port_keys | {"queue_rx0", "name"},
              "port counters")
    need("/flowtrail/collectors", "collector0", family_keys(fams, "flowtrail_collector_"),
         "collector counters")
    # flowtrail_analytics_<k>: the tables' (/flowtrail/analytics) or the
    # analytics lcore's own counters (analytics_<k> in /flowtrail/stats).
    need("/flowtrail/analytics", None,
         {k for k in family_keys(fams, "flowtrail_analytics_")
          if f"analytics_{k}" not in answers["/flowtrail/stats"]}, "analytics table sizes")
    sensor = {n[len("flowtrail_"):] for n in fams
              if not re.match(r"flowtrail_(port|worker|dispatcher|collector|input|analytics)_", n)}
    sensor -= {"uptime_seconds"}
    st = need("/flowtrail/stats", None, sensor | port_keys | worker_keys | {"bad_packets_total"},
              "sensor totals")
    # Dispatcher and inputs: present exactly when the exposition has them.
    if any(fams[f"flowtrail_dispatcher_{k}"]["samples"]
           for k in family_keys(fams, "flowtrail_dispatcher_")):
        need("/flowtrail/dispatcher", None, family_keys(fams, "flowtrail_dispatcher_"),
             "dispatcher counters")
    if any(fams[f"flowtrail_input_{k}"]["samples"] for k in family_keys(fams, "flowtrail_input_")):
        need("/flowtrail/inputs", "input0", family_keys(fams, "flowtrail_input_"), "input counters")
    # The analytics' own commands.
    need("/flowtrail/scans", None, {"live_events", "live_clients", "live_scanners", "scan_rows"},
         "scan totals")
    need("/flowtrail/ports", None, {"cells", "flows", "evicted_cells"}, "port totals")
    need("/flowtrail/servers", None, {"servers"}, "server totals")
    # Values: a running replay, read before the later scrape.
    if w0 and p0 and st:
        if not 0 < w0.get("packets", 0) <= value(fams, "flowtrail_worker_packets", worker=0):
            problems.append(f"worker0 packets {w0.get('packets')} vs the later scrape "
                            f"{value(fams, 'flowtrail_worker_packets', worker=0)}")
        if not 0 < p0.get("rx", 0) <= value(fams, "flowtrail_port_rx", port=0):
            problems.append(f"port0 rx {p0.get('rx')}")
        # /flowtrail/port_stats was asked before /flowtrail/stats.
        if not st.get("rx", 0) >= p0.get("rx") or st.get("workers") != 1:
            problems.append(f"/flowtrail/stats rx {st.get('rx')} workers {st.get('workers')}, "
                            f"port0 rx {p0.get('rx')}")
    expect(rc == 0, f"exit {rc} after SIGINT: {lib.tail(open(s.run.stderr_path).read())}")
    report(problems, f"{len(commands)} telemetry commands")


CASES = {
    "metrics_scrape": metrics_scrape,
    "metrics_bad_listen": metrics_bad_listen,
    "telemetry_every_command": telemetry_every_command,
}

if __name__ == "__main__":
    sys.exit(lib.main(CASES))
