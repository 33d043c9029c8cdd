"""e2e cases of the live analytics (issue 7, "Live"): first-contact events from
the workers, live TRW verdicts on the analytics lcore, the stats JSON summary
and the /flowtrail/{scans,ports,servers} telemetry commands of a running
sensor. Capture: the generator's scan_stories (blind scanner 10.20.0.66 on
port 23, mail relay, P2P client, web clients).
"""

import json
import os
import signal
import socket
import subprocess
import time

import e2e_lib as lib
from e2e_lib import Failure, expect, log, report

THREE_WORKER_LCORES = "0@0,1@1,2@0,3@1,4@0,5@1,6@0"
SCANNER = "10.20.0.66"
SYN_TIMEOUT_US = 30_000_000


def scan_stories_capture(case):
    out = os.path.join(lib.WORK_DIR, case)
    os.makedirs(out, exist_ok=True)
    subprocess.run([lib.GENERATOR, out, "--only", "scan_stories"], check=True,
                   stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "scan_stories.expected.json")) as f:
        exp = json.load(f)
    return os.path.join(out, "scan_stories.pcap"), exp


def report_verdicts(path):
    """Per client, the record-based TRW verdict of `flowtrail report scans`."""
    cmd = [lib.CLI, "report", "scans", "--format", "json", path]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise Failure(f"flowtrail report scans exited {p.returncode}: {lib.tail(p.stderr)}")
    return {r["client"]: r["verdict"] for r in map(json.loads, filter(str.strip,
                                                                      p.stdout.splitlines()))}


def live_verdict_capture():
    """Capture mode, 1 and 3 workers: the scanner's live verdict comes from
    contact events (record time: 4 silent probes + the 3 s attempt timeout
    after its first SYN, far below the 30 s SYN timeout its first record waits
    for), and the live verdicts agree with the record-based scan table."""
    pcap, exp = scan_stories_capture("live_verdict_capture")
    problems = []
    for tag, extra, lcores in (("w1", [], None), ("w3", ["--workers", "3"], THREE_WORKER_LCORES)):
        r = lib.run_sensor("live_verdict_capture", tag, pcap, list(exp["sensor_args"]) + extra,
                           lcores, memory=768)
        a = r.stats()["analytics"]
        live = a["live"]
        log(f"  {tag}: live {json.dumps(live)}")
        scanners = {x["client"]: x for x in a["live_scanners"]}
        s = scanners.get(SCANNER)
        if s is None:
            problems.append(f"{tag}: {SCANNER} not among the live scanners {sorted(scanners)}")
            continue
        delay = s["decided_us"] - s["first_us"]
        if not 3_000_000 <= delay <= 5_000_000:
            problems.append(f"{tag}: live verdict {delay} us after the first SYN, expected "
                            f"3-5 s (4 silent probes 2 ms apart + the 3 s attempt timeout)")
        if s["decided_after"] != 4:
            problems.append(f"{tag}: decided after {s['decided_after']} first contacts, want 4")
        # No record of the scanner's sessions could have left by then.
        records = [x for x in lib.cat_json(r.output) if x["client_ip"] == SCANNER]
        first_out = min(int(x["last_time_us"]) for x in records) + SYN_TIMEOUT_US
        if s["decided_us"] >= first_out - 20_000_000:
            problems.append(f"{tag}: verdict at {s['decided_us']}, its first record leaves at "
                            f"{first_out}: not early")
        if live["events"] != a["scan_table"]["counted"]:
            problems.append(f"{tag}: {live['events']} contact events, the scan table counted "
                            f"{a['scan_table']['counted']} TCP sessions with a client SYN")
        for k in ("client_evictions", "server_evictions", "walked_early"):
            if live[k] != 0:
                problems.append(f"{tag}: live {k} = {live[k]}, expected 0")
        # The live walk runs in first-contact order: the same verdicts as the
        # record-based TRW on this capture.
        table = report_verdicts(r.output)
        want = sorted(c for c, v in table.items() if v == "scanner")
        if sorted(scanners) != want:
            problems.append(f"{tag}: live scanners {sorted(scanners)}, report scans {want}")
        counts = {v: sum(1 for x in table.values() if x == v)
                  for v in ("scanner", "benign", "pending")}
        got = {"scanner": live["scanners"], "benign": live["benign"], "pending": live["pending"]}
        if got != counts:
            problems.append(f"{tag}: live verdict counts {got}, report scans {counts}")
    report(problems, "live verdicts (capture mode)")


def telemetry_query(path, commands):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    try:
        s.connect(path)
        json.loads(s.recv(16384).decode())  # the greeting: version, pid, max_output_len
        out = {}
        for cmd in commands:
            s.send(cmd.encode())
            out.update(json.loads(s.recv(65536).decode()))
        return out
    finally:
        s.close()


def live_telemetry():
    """A running sensor in live mode (wall-clock times) over the scan capture:
    /flowtrail/scans shows the scanner with verdict scanner within seconds,
    /flowtrail/servers the HTTPS servers, /flowtrail/ports answers."""
    pcap, exp = scan_stories_capture("live_telemetry")
    r = lib.Run("live_telemetry", "live")
    sock = f"/var/run/dpdk/{r.prefix}/dpdk_telemetry.v2"
    cmd = r.command(f"net_pcap0,rx_pcap={pcap}", ["--no-capture", "--duration", "30",
                                                  "--sensor-id", "e2e-live-telemetry"],
                    telemetry=True)
    log("$ " + " ".join(cmd))
    problems = []
    t0 = time.monotonic()
    with open(r.stderr_path, "w") as err:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        try:
            found, answers = None, {}
            while time.monotonic() - t0 < 25 and p.poll() is None and found is None:
                time.sleep(0.5)
                if not os.path.exists(sock):
                    continue
                try:
                    answers = telemetry_query(sock, ["/flowtrail/scans", "/flowtrail/servers",
                                                     "/flowtrail/ports"])
                except (OSError, ValueError) as e:
                    log(f"  telemetry not ready: {e}")
                    continue
                scans = answers.get("/flowtrail/scans") or {}
                for v in scans.values():
                    if isinstance(v, dict) and v.get("kind") == "live" and \
                            v.get("client") == SCANNER and v.get("verdict") == "scanner":
                        found = v
            seconds = time.monotonic() - t0
            expect(p.poll() is None, f"sensor exited {p.returncode} early: "
                   f"{lib.tail(open(r.stderr_path).read())}")
            p.send_signal(signal.SIGINT)
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            lib.kill_group(p)
            raise Failure("sensor did not exit within 30 s of SIGINT")
        finally:
            if p.poll() is None:
                lib.kill_group(p)
    if found is None:
        raise Failure(f"/flowtrail/scans never showed {SCANNER} as a live scanner; last "
                      f"answers {json.dumps(answers)[:1500]}")
    log(f"  {SCANNER} live scanner after {seconds:.1f} s: {json.dumps(found)}")
    if found["decided_after"] != 4:
        problems.append(f"decided after {found['decided_after']} first contacts, expected 4")
    delay = found["decided_us"] - found["first_us"]
    if not 0 < delay < 10_000_000:
        problems.append(f"decided {delay} us after the first SYN (wall clock), expected < 10 s")
    servers = answers.get("/flowtrail/servers") or {}
    https = {v["address"] for v in servers.values() if isinstance(v, dict) and v["port"] == 443}
    if https != {"10.51.0.1", "10.51.0.2", "10.51.0.3"}:
        problems.append(f"/flowtrail/servers HTTPS servers {sorted(https)}")
    ports = answers.get("/flowtrail/ports")
    if not isinstance(ports, dict) or "cells" not in ports:
        problems.append(f"/flowtrail/ports answered {ports}")
    expect(rc == 0, f"exit {rc} after SIGINT: {lib.tail(open(r.stderr_path).read())}")
    report(problems, "live telemetry")


def report_json(args, path):
    cmd = [lib.CLI, "report", *args, "--format", "json", path]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise Failure(f"{' '.join(cmd)} exited {p.returncode}: {lib.tail(p.stderr)}")
    return p.stdout


SNAPSHOT_REPORTS = (["scans"], ["scans", "--by", "sessions"], ["scans", "--data-only"],
                    ["servers"], ["servers", "--all"], ["ports"], ["ports", "--all"])


def live_snapshot_equals_report():
    """The analytics lcore writes snapshot frames into the record stream (every
    --snapshot-interval of record time and a final one). The final snapshot,
    reported with --from snapshots, equals the report over the same stream's
    records, byte for byte in JSON, for scans, servers and ports; and the
    1-worker and 3-worker runs give the same reports."""
    pcap, exp = scan_stories_capture("live_snapshot_equals_report")
    problems = []
    reports = {}
    for tag, extra, lcores in (("w1", [], None), ("w3", ["--workers", "3"], THREE_WORKER_LCORES)):
        r = lib.run_sensor("live_snapshot_equals_report", tag, pcap,
                           list(exp["sensor_args"]) + extra + ["--snapshot-interval", "5"],
                           lcores, memory=768)
        st = r.stats()
        # The capture spans about 20 s of record time: interval snapshots
        # and the final one.
        if st["snapshots_written"] < 2 or st["snapshots_dropped"] != 0:
            problems.append(f"{tag}: {st['snapshots_written']} snapshots written, "
                            f"{st['snapshots_dropped']} dropped; expected >= 2 and 0")
        head = subprocess.run([lib.CLI, "cat", "--show-header", r.output], capture_output=True,
                              text=True, timeout=120)
        if f"{st['snapshots_written']} snapshot frames" not in head.stderr + head.stdout:
            problems.append(f"{tag}: flowtrail cat --show-header does not count "
                            f"{st['snapshots_written']} snapshot frames: {lib.tail(head.stderr)}")
        for args in SNAPSHOT_REPORTS:
            from_records = report_json(args, r.output)
            from_snapshot = report_json(args + ["--from", "snapshots"], r.output)
            name = " ".join(args)
            if not from_records.strip():
                problems.append(f"{tag}: report {name} is empty")
            if from_snapshot != from_records:
                problems.append(f"{tag}: report {name}: the live snapshot differs from the "
                                f"records ({len(from_snapshot.splitlines())} vs "
                                f"{len(from_records.splitlines())} rows)")
            reports.setdefault(name, {})[tag] = from_snapshot
    for name, by_tag in reports.items():
        if by_tag.get("w1") != by_tag.get("w3"):
            problems.append(f"report {name}: 1 worker and 3 workers differ")
    report(problems, "live snapshot == report over the records (1 and 3 workers)")


LIVE_CASES = {
    "live_verdict_capture": live_verdict_capture,
    "live_telemetry": live_telemetry,
    "live_snapshot_equals_report": live_snapshot_equals_report,
}
