#!/usr/bin/env python3
"""End-to-end test of the sensor's collector links (issue 9): the real
flowtrail-sensor replays a capture to the real `flowtrail collect` over
loopback TLS with mutual certificates, with a small in-memory queue so the
spill directory is used.

    e2e_collector_link.py CASE

collector_link_kill: the collector is SIGKILLed mid-stream and restarted
  2 s later on the same port and directory; after the sensor stops, the
  collector's files hold every record the sensor produced (`flowtrail cat`:
  the same records as the sensor's own --output file, none missing), the
  collector reports no gap, and the link's counters (--stats-json) show the
  reconnect, the spill, nothing dropped or undelivered.
collector_link_spill_budget: the collector is away while the sensor runs
  and comes up during the drain at the end; the spill budget is far smaller
  than the stream, so blocks are dropped: every record is either in the
  collector's files or counted in records_dropped, exactly, and the workers
  lost nothing (the --output file holds every record).
collector_link_restart: the collector is away for a whole run, which ends
  with its records undelivered in the spill; the next run (the collector
  up) delivers that earlier run first, as segments of its own run id, then
  its own: the collector holds both runs without a gap, every record of
  each, and the second link counts the first run's records as replayed.

Python 3 standard library only; certificates from the `openssl` command line.
"""

import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as lib  # noqa: E402
from e2e_collect import CollectorProc, free_port, make_certs  # noqa: E402
from e2e_lib import Failure, expect, log  # noqa: E402

CAPTURE = "many_sessions"
SENSOR_ID = "e2e-link"


class Collector(CollectorProc):
    """`flowtrail collect` over TLS on a fixed port (a restart reuses it)."""

    def __init__(self, work, port, store, certs, tag):
        super().__init__(work, ["--dir", store, "--tls-ca", f"{certs}/ca.pem",
                                "--tls-cert", f"{certs}/collector.pem",
                                "--tls-key", f"{certs}/collector.key"], port=port, tag=tag)

    def stop(self):
        rc = super().stop()
        expect(rc == 0, f"collector exited {rc}: {lib.tail(self.log())}")
        with open(self.stats_path) as f:
            return json.load(f)


def stored_records(store, gaps=False):
    """The records in the collector's files for the sensor (cat, JSON lines).
    gaps: the sensor may have dropped ranges (cat exits 3 when one lies between
    stored segments, 0 when the drops were the run's tail)."""
    d = os.path.join(store, SENSOR_ID)
    # .part: the file a SIGKILLed collector was writing (it holds what was
    # acknowledged from it; the restarted collector counts it).
    files = sorted(os.path.join(d, n) for n in os.listdir(d)
                   if n.endswith(".ftr") or n.endswith(".ftr.part")) \
        if os.path.isdir(d) else []
    if not files:
        return []
    p = subprocess.run([lib.CLI, "cat", "--format", "json", "--allow-unfinished"] + files,
                       capture_output=True, text=True, timeout=300)
    expect(p.returncode in ((0, 3) if gaps else (0,)),
           f"flowtrail cat on the collector's files exited {p.returncode}: {lib.tail(p.stderr)}")
    return [line for line in p.stdout.splitlines() if line.strip()]


def setup(case):
    work = os.path.join(lib.WORK_DIR, case)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    certs = os.path.join(work, "certs")
    os.makedirs(certs)
    make_certs(certs, SENSOR_ID)
    store = os.path.join(work, "store")
    os.makedirs(store)
    spill = os.path.join(work, "spill")
    pcap, _ = lib.capture(CAPTURE)
    return work, certs, store, spill, pcap


def sensor_args(port, certs, spill, budget, queue):
    return ["--sensor-id", SENSOR_ID, "--collector", f"127.0.0.1:{port}",
            "--collector-ca", f"{certs}/ca.pem", "--collector-cert", f"{certs}/sensor.pem",
            "--collector-key", f"{certs}/sensor.key", "--collector-queue", queue,
            "--spill-dir", spill, "--spill-budget", budget]


def start_sensor(case, pcap, args):
    r = lib.Run(case, "sensor")
    cmd = r.command(f"net_pcap0,rx_pcap={pcap}", args)
    log("$ " + " ".join(cmd))
    err = open(r.stderr_path, "w")
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    return r, p, err


def finish_sensor(r, p, err, timeout=240):
    try:
        rc = p.wait(timeout)
    except subprocess.TimeoutExpired:
        lib.kill_group(p)
        raise Failure(f"sensor did not finish within {timeout} s")
    err.close()
    with open(r.stderr_path, errors="replace") as f:
        r.stderr = f.read()
    expect(rc == 0, f"sensor exited {rc}: {lib.tail(r.stderr)}")
    return r.stats()


def link_of(stats):
    links = stats.get("collectors", [])
    expect(len(links) == 1, f"stats: {len(links)} collectors, expected 1")
    log(f"  link: {json.dumps(links[0])}")
    return links[0]


def case_collector_link_kill():
    case = "collector_link_kill"
    work, certs, store, spill, pcap = setup(case)
    port = free_port()
    c = Collector(work, port, store, certs, "first")
    r, p, err = start_sensor(case, pcap, sensor_args(port, certs, spill, "1G", "8M"))
    # Mid-stream: once the collector has stored something.
    deadline = time.monotonic() + 120
    sensor_dir = os.path.join(store, SENSOR_ID)
    while not (os.path.isdir(sensor_dir) and os.listdir(sensor_dir)):
        expect(time.monotonic() < deadline and p.poll() is None,
               "the collector never received the sensor's stream")
        time.sleep(0.01)
    c.kill()
    log("  collector SIGKILLed mid-stream; restarting in 2 s")
    time.sleep(2)
    c = Collector(work, port, store, certs, "second")
    stats = finish_sensor(r, p, err)
    cstats = c.stop()
    link = link_of(stats)
    written = stats["records_written"]
    problems = []
    if link["reconnects"] < 1:
        problems.append(f"no reconnect after the kill: {link['reconnects']}")
    if link["spilled_total_bytes"] <= 0:
        problems.append("the spill directory was never used")
    if link["records_dropped"] != 0 or link["frames_dropped"] != 0 or \
            link["records_undelivered"] != 0:
        problems.append(f"dropped {link['records_dropped']} records, "
                        f"{link['frames_dropped']} frames (snapshots), "
                        f"undelivered {link['records_undelivered']}")
    if link["records_acked"] != written:
        problems.append(f"{link['records_acked']} records acknowledged of {written}")
    runs = cstats.get("runs", [])
    if len(runs) != 1 or runs[0].get("gaps") != []:
        problems.append(f"collector runs/gaps: {[(x.get('run_id'), x.get('gaps')) for x in runs]}")
    else:
        log(f"  collector: {runs[0].get('frames')} frames, duplicates {runs[0].get('duplicates')} "
            f"{runs[0].get('duplicate_ranges')}")
    got = sorted(stored_records(store))
    want = sorted(lib.cat(r.output).stdout.splitlines())
    if len(want) != written:
        problems.append(f"--output holds {len(want)} records, the sensor wrote {written}")
    missing = set(want) - set(got)
    if missing:
        problems.append(f"{len(missing)} records missing from the collector's files")
    if len(set(got)) != len(set(want)):
        problems.append(f"collector files: {len(set(got))} distinct records, expected {len(set(want))}")
    lib.report(problems, f"{written} records through a SIGKILLed collector")


def case_collector_link_spill_budget():
    case = "collector_link_spill_budget"
    work, certs, store, spill, pcap = setup(case)
    port = free_port()  # nobody listens until the sensor is done reading
    r, p, err = start_sensor(case, pcap, sensor_args(port, certs, spill, "256k", "1M"))
    # The collector comes up while the sensor drains its links at the end
    # (10 s): wait until the records are all written.
    stats_seen = False
    deadline = time.monotonic() + 120
    while not stats_seen:
        expect(time.monotonic() < deadline, "the sensor never reached its drain")
        with open(r.stderr_path, errors="replace") as f:
            text = f.read()
        stats_seen = "not connect" in text and p.poll() is None
        time.sleep(0.05)
    time.sleep(3)  # a capture's records take well under this on one worker
    c = Collector(work, port, store, certs, "late")
    stats = finish_sensor(r, p, err)
    cstats = c.stop()
    link = link_of(stats)
    written = stats["records_written"]
    got = stored_records(store, gaps=True)
    unique = len(set(got))
    problems = []
    if link["records_dropped"] <= 0:
        problems.append("no records dropped: the spill budget was not exceeded")
    if link["records_undelivered"] != 0:
        problems.append(f"{link['records_undelivered']} records undelivered")
    if link["records_dropped"] + link["records_acked"] != written:
        problems.append(f"dropped {link['records_dropped']} + acked {link['records_acked']} != "
                        f"{written} written")
    if unique != link["records_acked"]:
        problems.append(f"collector files hold {unique} distinct records, the link counts "
                        f"{link['records_acked']} acknowledged")
    # The workers kept up: the file output has every record, none lost before the exporter.
    want = lib.cat(r.output).stdout.splitlines()
    if len(want) != written:
        problems.append(f"--output holds {len(want)} records, the sensor wrote {written}")
    tracker_drops = lib.sum_workers(stats, "tracker_records_dropped")
    if tracker_drops != 0:
        problems.append(f"workers dropped {tracker_drops} records")
    log(f"  collector runs: {[(x.get('frames'), x.get('gaps')) for x in cstats.get('runs', [])]}")
    lib.report(problems, f"{written} records: {link['records_dropped']} dropped and counted, "
                         f"{unique} delivered")


def case_collector_link_restart():
    case = "collector_link_restart"
    work, certs, store, spill, pcap = setup(case)
    port = free_port()  # nobody listens during the first run
    r1, p, err = start_sensor(case, pcap, sensor_args(port, certs, spill, "1G", "8M"))
    stats1 = finish_sensor(r1, p, err)
    link1 = link_of(stats1)
    written1 = stats1["records_written"]
    problems = []
    if link1["records_undelivered"] != written1 or link1["records_dropped"] != 0:
        problems.append(f"first run: {link1['records_undelivered']} undelivered, "
                        f"{link1['records_dropped']} dropped of {written1}")
    if "for the next run to deliver" not in r1.stderr:
        problems.append(f"first run: no line about the spill left: {lib.tail(r1.stderr)}")
    c = Collector(work, port, store, certs, "up")
    r2 = lib.Run(case, "second")
    args = sensor_args(port, certs, spill, "1G", "8M")
    cmd = r2.command(f"net_pcap0,rx_pcap={pcap}", args)
    log("$ " + " ".join(cmd))
    err2 = open(r2.stderr_path, "w")
    stats2 = finish_sensor(r2, subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err2),
                           err2)
    cstats = c.stop()
    link2 = link_of(stats2)
    written2 = stats2["records_written"]
    if link2["replayed_records"] != written1:
        problems.append(f"second run replayed {link2['replayed_records']} of the first run's "
                        f"{written1} records")
    if link2["records_acked"] != written2 or link2["records_undelivered"] != 0:
        problems.append(f"second run: {link2['records_acked']} acked, "
                        f"{link2['records_undelivered']} undelivered of {written2}")
    # Both runs whole, each its own run id (the files are named by it).
    runs = cstats.get("runs", [])
    want_frames = sorted([written1 + stats1["snapshots_written"],
                          written2 + stats2["snapshots_written"]])
    if len(runs) != 2 or any(x["gaps"] != [] for x in runs) or \
            sorted(x["frames"] for x in runs) != want_frames:
        problems.append(f"collector runs {[(x['frames'], x['gaps']) for x in runs]}, expected "
                        f"frames {want_frames} and no gap")
    d = os.path.join(store, SENSOR_ID)
    by_run = []
    for x in runs:
        files = sorted(os.path.join(d, n) for n in os.listdir(d)
                       if n.endswith(".ftr") and f"_{x['run_id']}_" in n)
        p = subprocess.run([lib.CLI, "cat", "--format", "json"] + files,
                           capture_output=True, text=True, timeout=300)
        expect(p.returncode == 0, f"flowtrail cat, run {x['run_id']}: {lib.tail(p.stderr)}")
        by_run.append(sum(1 for line in p.stdout.splitlines() if line.strip()))
    if sorted(by_run) != sorted([written1, written2]):
        problems.append(f"collector files: records by run {by_run}, expected "
                        f"{[written1, written2]}")
    leftover = [os.path.join(d, f) for d, _, fs in os.walk(spill) for f in fs]
    if leftover:
        problems.append(f"spill files left after delivery: {leftover[:5]}")
    lib.report(problems, f"a run's {written1} undelivered records delivered by the next run "
                         f"before its own {written2}")


CASES = {
    "collector_link_kill": case_collector_link_kill,
    "collector_link_spill_budget": case_collector_link_spill_budget,
    "collector_link_restart": case_collector_link_restart,
}

if __name__ == "__main__":
    sys.exit(lib.main(CASES))
