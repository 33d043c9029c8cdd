"""e2e cases of `flowtrail report ports` (client-port distributions, issue 7):
the real sensor on the generator's ports_* captures, then the report.
"""

import json
import os
import subprocess

import e2e_lib as lib
from e2e_lib import Failure, expect, log, report

THREE_WORKER_LCORES = "0@0,1@1,2@0,3@1,4@0,5@1,6@0"


def report_ports(args, check=True):
    cmd = [lib.CLI, "report", "ports"] + list(args)
    log("$ " + " ".join(cmd))
    p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=120)
    if check and p.returncode != 0:
        raise Failure(f"{' '.join(cmd)} exited {p.returncode}: {lib.tail(p.stderr)}")
    return p


def report_json(args):
    out = report_ports(["--format", "json"] + list(args)).stdout
    try:
        return json.loads(out)
    except ValueError as e:
        raise Failure(f"report ports --format json is not JSON ({e}): {out[:300]}")


def sensor_stream(case, tag, name, extra=(), lcores=None):
    pcap, exp = lib.capture(name)
    r = lib.run_sensor(case, tag, pcap, list(exp["sensor_args"]) + list(extra), lcores)
    lib.check_stream_framing(r.output)
    records = lib.cat_json(r.output)
    report(lib.compare_records(records, exp["sessions"], sensor_id=f"e2e-{name}"),
           f"{len(records)} records vs {name}.expected.json")
    return r.output, exp


def by_port(doc):
    return {p["server_port"]: p for p in doc["server_ports"]}


def ports_fixed_sport_scan():
    """One source port (40950) to 300 servers on 445 among 120 SMB client
    ports: flagged on 445 by goldfarb, mad and fanout; port 80 is quiet.
    The follow-up query prints the 300 records; 3 workers give the same report."""
    stream, exp = sensor_stream("ports_fixed_sport_scan", "w1", "ports_fixed_sport_scan")
    doc = report_json([stream])
    problems = []
    ports = by_port(doc)
    if set(ports) != {445}:
        problems.append(f"server ports with flags: {sorted(ports)}, expected only 445")
    p = ports.get(445)
    if p is not None:
        log(f"  445: {p['client_ports']} client ports, {p['flows']} flows, mean {p['mean']}, "
            f"stddev {p['stddev']}, threshold {p['threshold']}, max z {p['max_z']}")
        if (p["client_ports"], p["flows"]) != (121, 420):
            problems.append(f"445: {p['client_ports']} client ports / {p['flows']} flows, "
                            f"expected 121 / 420")
        g = [(x["client_port"], x["flows"]) for x in p["goldfarb"]]
        if g != [(40950, 300)]:
            problems.append(f"445 goldfarb flags {g}, expected [(40950, 300)]")
        rb = {x["client_port"]: x for x in p["robust"]}
        x = rb.get(40950)
        if set(rb) != {40950} or not x["mad"] or not x["fanout"]:
            problems.append(f"445 robust flags {p['robust']}, expected 40950 by mad and fanout")
        elif x["distinct_clients"] != 1 or x["distinct_servers"] < 150:
            problems.append(f"445/40950: {x['distinct_clients']} clients, "
                            f"{x['distinct_servers']} servers (estimates), expected 1 and ~300")
    stats = doc["stats"]
    if stats["flows"] != len(exp["sessions"]) - 1 or stats["evicted_cells"] != 0:
        problems.append(f"stats {stats}: expected {len(exp['sessions']) - 1} TCP/UDP flows to "
                        f"0-1023 (all sessions but the tail) and no eviction")
    report(problems, "report ports --format json")

    table = report_ports([stream]).stdout
    problems = []
    for want in ("Port 445\n", "goldfarb:\nsPort | count\n40950 | 300\n", "| mad+fanout\n"):
        if want not in table:
            problems.append(f"table lacks {want!r}")
    if "Port 80\n" in table:
        problems.append("table lists port 80")
    if problems:
        log(table)
    report(problems, "report ports (table, the paper's Appendix A)")

    csv_rows = report_ports(["--format", "csv", stream]).stdout.splitlines()
    rows = [r.split(",") for r in csv_rows[1:]]
    got = sorted((r[1], r[2], r[3], r[4], r[-1]) for r in rows)
    want = [("445", "goldfarb", "40950", "300", "goldfarb"),
            ("445", "robust", "40950", "300", "mad+fanout")]
    report([] if got == want else [f"csv rows {got}, expected {want}"], "report ports --format csv")

    # The follow-up query, in the formats of flowtrail cat.
    problems = []
    out = report_ports(["--flows", "445:40950", "--format", "json", stream]).stdout
    recs = [json.loads(line) for line in out.splitlines() if line.strip()]
    if len(recs) != 300 or any((r["server_port"], r["client_port"], r["client_ip"]) !=
                               (445, 40950, "10.66.0.5") for r in recs):
        problems.append(f"--flows 445:40950: {len(recs)} records, expected 300 from "
                        f"10.66.0.5:40950 to port 445")
    classic = report_ports(["--flows", "445:40950", stream]).stdout.splitlines()
    cat_lines = lib.cat(stream, "classic").stdout.splitlines()
    scan_lines = [ln for ln in cat_lines if "  10.66.0.5  40950  " in ln]
    if classic != scan_lines:
        problems.append(f"--flows classic: {len(classic)} lines differ from flowtrail cat's "
                        f"{len(scan_lines)} lines of the scanner")
    csv_out = report_ports(["--flows", "445:40950", "--format", "csv", stream]).stdout
    if len(csv_out.splitlines()) != 301:
        problems.append(f"--flows csv: {len(csv_out.splitlines())} lines, expected header + 300")
    none = report_ports(["--flows", "445:1", stream]).stdout
    if none:
        problems.append(f"--flows 445:1 printed {none[:200]!r}")
    report(problems, "--flows follow-up query")

    # A cell budget far below the 181 cells: evictions are counted and the
    # hot cell survives them (the smallest go first).
    small = report_json(["--max-cells", "64", stream])
    p = by_port(small).get(445, {})
    ok = (small["stats"]["evicted_cells"] > 0 and small["stats"]["cells"] <= 64 and
          [x["client_port"] for x in p.get("goldfarb", [])] == [40950])
    report([] if ok else [f"--max-cells 64: {small['stats']} {p}"], "cell budget")
    table = report_ports(["--max-cells", "64", stream]).stdout
    expect("warning: the cell budget was exceeded" in table, "no eviction warning in the table")

    # Record time, not arrival order: 3 workers give the same report.
    stream3, _ = sensor_stream("ports_fixed_sport_scan", "w3", "ports_fixed_sport_scan",
                               ["--workers", "3"], THREE_WORKER_LCORES)
    doc3 = report_json([stream3])
    same = doc3["server_ports"] == doc["server_ports"] and doc3["stats"]["flows"] == stats["flows"]
    report([] if same else [f"3 workers: {doc3['server_ports']} vs {doc['server_ports']}"],
           "1 vs 3 workers")


def ports_small_sample():
    """6 client ports on 993, one with 200 sessions: mean + 3 sigma cannot
    alert (max z 2.04) and says so; the mad rule flags 40001. Two files are
    merged (two runs of the sensor on the capture: every count doubles, the
    same flags; the same run twice counts once)."""
    stream, exp = sensor_stream("ports_small_sample", "w1", "ports_small_sample")
    doc = report_json([stream])
    problems = []
    ports = by_port(doc)
    p = ports.get(993)
    if set(ports) != {993} or p is None:
        problems.append(f"server ports with flags: {sorted(ports)}, expected only 993")
    else:
        log(f"  993: {p['client_ports']} client ports, mean {p['mean']}, stddev {p['stddev']}, "
            f"threshold {p['threshold']}, max z {p['max_z']}, robust {p['robust']}")
        if (p["client_ports"], p["flows"], p["goldfarb_eligible"]) != (6, 205, True):
            problems.append(f"993: {p['client_ports']} client ports, {p['flows']} flows, "
                            f"eligible {p['goldfarb_eligible']}; expected 6, 205, true")
        if abs(p["max_z"] - 5 / 6 ** 0.5) > 1e-3 or p["goldfarb"]:
            problems.append(f"993: max z {p['max_z']} (expected 2.041), goldfarb {p['goldfarb']} "
                            f"(expected none)")
        if p["threshold"] <= 200:
            problems.append(f"993: threshold {p['threshold']} should exceed the outlier's 200")
        rb = p["robust"]
        if [(x["client_port"], x["flows"], x["mad"], x["fanout"]) for x in rb] != \
                [(40001, 200, True, False)]:
            problems.append(f"993 robust {rb}, expected 40001 (200 flows) by mad only")
    report(problems, "small sample, json")

    table = report_ports([stream]).stdout
    want = "goldfarb:\n(cannot alert: with 6 client ports no z-score can exceed 2.04)\nrobust:\n"
    report([] if want in table and "40001 | 200 | 1 | 1 |" in table else
           [f"table lacks the blind-spot note or the robust row:\n{table}"], "small sample, table")

    # Population stddev: the other reading of the paper, the same blind spot.
    pop = by_port(report_json(["--stddev", "population", stream])).get(993, {})
    report([] if pop.get("goldfarb") == [] and abs(pop.get("max_z", 0) - 5 ** 0.5) < 1e-3 else
           [f"population stddev: {pop}"], "small sample, population stddev")

    # A second run (its own run id): the same file twice would be one run's
    # duplicates, counted once.
    other, _ = sensor_stream("ports_small_sample", "w2", "ports_small_sample")
    both = report_json([stream, other])
    b = by_port(both).get(993, {})
    ok = (b.get("flows") == 410 and both["stats"]["records"] == 2 * doc["stats"]["records"] and
          [x["client_port"] for x in b.get("robust", [])] == [40001] and b.get("goldfarb") == [])
    report([] if ok else [f"two files: {b} {both['stats']}"], "two files merged")
    same = report_json([stream, stream])
    report([] if same["stats"]["records"] == doc["stats"]["records"] else
           [f"the same run twice: {same['stats']}"], "the same run twice counted once")

    bad = report_ports(["--window", "0", stream], check=False)
    expect(bad.returncode == 2, f"--window 0 exited {bad.returncode}, expected 2 (usage)")
    missing = report_ports([stream + ".missing"], check=False)
    expect(missing.returncode == 1, f"a missing file exited {missing.returncode}, expected 1")


def ports_interim_once():
    """Interim records (active timeout 20 s on large_packets: sessions of
    about a minute report two or three times) are not counted again: the
    report counts each session once, at its final record."""
    pcap, exp = lib.capture("large_packets")
    args = list(exp["sensor_args"])
    args[args.index("--active-timeout") + 1] = "20"
    r = lib.run_sensor("ports_interim_once", "w1", pcap, args)
    records = lib.cat_json(r.output)
    interim = sum(1 for x in records if x.get("continuing"))
    final = [x for x in records if not x.get("continuing")]
    flows = sum(1 for x in final if int(x.get("protocol", 0)) in (6, 17))
    expect(interim > 0, "no interim records: nothing was tested")
    stats = report_json(["--server-ports", "all", r.output])["stats"]
    log(f"  {len(records)} records, {interim} interim; report stats {stats}")
    problems = []
    if stats["interim_skipped"] != interim or stats["flows"] != flows:
        problems.append(f"report counted {stats['flows']} flows and skipped "
                        f"{stats['interim_skipped']} interim records; the stream has {flows} "
                        f"final TCP/UDP records and {interim} interim ones")
    if stats["flows"] != len(exp["sessions"]):
        problems.append(f"{stats['flows']} flows for {len(exp['sessions'])} sessions")
    report(problems, "each session counted once")


PORTS_CASES = {
    "ports_interim_once": ports_interim_once,
    "ports_fixed_sport_scan": ports_fixed_sport_scan,
    "ports_small_sample": ports_small_sample,
}
