"""e2e cases of `flowtrail report clusters` (behaviour clusters, issue 7,
Heberlein §7): the real sensor on the generator's clusters_polymorph capture
(its own generator run), then the report in json, and its --plot pictures;
and the real nmap-vsn capture when ../shared/captures is here.
"""

import json
import os
import struct
import subprocess

import e2e_lib as lib
from e2e_lib import Failure, Skip, expect, log, report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOTTED = ("client_bytes", "server_bytes", "client_fingerprint", "server_fingerprint",
           "first_data_sender", "shutdown_initiator", "shutdown_kind")


def clusters_json(files, *args):
    cmd = [lib.CLI, "report", "clusters", "--format", "json", *args, *files]
    log("$ " + " ".join(cmd))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise Failure(f"flowtrail report clusters exited {p.returncode}: {lib.tail(p.stderr)}")
    log("  " + p.stderr.strip().splitlines()[-1])
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def rows_of(rows, section, client, **match):
    return [r for r in rows if r["section"] == section and r["client"] == client and
            all(r.get(k) == v for k, v in match.items())]


def polymorph_stream(case):
    out = os.path.join(lib.WORK_DIR, case)
    os.makedirs(out, exist_ok=True)
    subprocess.run([lib.GENERATOR, out, "--only", "clusters_polymorph"], check=True,
                   stdout=subprocess.DEVNULL)
    pcap = os.path.join(out, "clusters_polymorph.pcap")
    with open(os.path.join(out, "clusters_polymorph.expected.json")) as f:
        exp = json.load(f)
    r = lib.run_sensor(case, "w1", pcap, exp["sensor_args"])
    # The story stands on the records the generator meant.
    lib.check_stream_framing(r.output)
    records = lib.cat_json(r.output)
    report(lib.compare_records(records, exp["sessions"], sensor_id="e2e-clusters_polymorph"),
           f"{len(records)} records vs clusters_polymorph.expected.json")
    return r.output


def clusters_polymorph():
    stream = polymorph_stream("clusters_polymorph")
    rows = clusters_json([stream], "--top", "2")
    problems = []
    keys = [r for r in rows if r["section"] == "key"]
    got = [(k["client"], k["port"], k["rank"]) for k in keys]
    if got != [("10.80.0.7", 1433, 1), ("10.80.0.9", 80, 2)]:
        problems.append(f"key rows {got}: expected the exploit scanner, then the control")
    sql = "10.80.0.7"
    # The exploit embeds each target's address: several distinct but close
    # fingerprints over its 40 sessions, one group of them; the fixed probe
    # is one exact value (40 sessions), a group of its own.
    groups = rows_of(rows, "group", sql, attribute="client_fingerprint")
    multi = [g for g in groups if g["members"] > 1]
    exact = [g for g in groups if g["members"] == 1]
    big = multi[0] if len(multi) == 1 else None
    if len(groups) != 2 or not big or big["sessions"] != 40 or big["members"] < 4 or \
            not exact or exact[0]["sessions"] != 40:
        problems.append(f"{sql}: client fingerprint groups {groups} (expected one group of >= 4 "
                        f"close values over the 40 exploit sessions and the probe's exact value)")
    elif not (0 < int(big["hi"]) - int(big["lo"]) <= 256):
        problems.append(f"{sql}: group range {big['lo']}-{big['hi']} is not close-but-unequal")
    else:
        log(f"  exploit group {big['group']}: {big['members']} values, {big['sessions']} sessions")
    # The simhashes see the address too: (nearly) one value per target, one
    # group within Hamming distance 6.
    sims = [g for g in rows_of(rows, "group", sql, attribute="client_simhash")
            if g["members"] > 1]
    if len(sims) != 1 or sims[0]["members"] < 30 or sims[0]["sessions"] != 40:
        problems.append(f"{sql}: client simhash groups {sims} (expected one of >= 30 values "
                        f"over the 40 exploit sessions)")
    # Every exploit answered by the 111-byte banner: server bytes 111 -> the
    # exploit's group, 100 %.
    sb = {v["value"]: v["sessions"] for v in rows_of(rows, "value", sql, attribute="server_bytes")}
    if sb.get("111") != 30 or sb.get("26") != 40:
        problems.append(f"{sql}: server_bytes distribution {sb} (expected 111 x30, 26 x40)")
    rule = rows_of(rows, "rule", sql, attribute="server_bytes", value="111",
                   then_attribute="client_fingerprint_group")
    if big and (not rule or rule[0]["then_value"] != big["group"] or
                rule[0]["confidence"] != 100.0 or rule[0]["support"] != 30):
        problems.append(f"{sql}: rule server_bytes=111 -> client_fingerprint_group: {rule} "
                        f"(expected {big['group']} at 100 % of 30)")
    elif rule:
        log(f"  {rule[0]['text']}")
    # The resets: 10 accepted sessions where the server reset.
    si = {v["value"]: v["sessions"] for v in
          rows_of(rows, "value", sql, attribute="shutdown_initiator")}
    fds = {v["value"]: v["sessions"] for v in
           rows_of(rows, "value", sql, attribute="first_data_sender")}
    if fds.get("client") != 80 or si.get("server", 0) < 10:
        problems.append(f"{sql}: first_data_sender {fds}, shutdown_initiator {si} (expected "
                        f"80 client-first sessions and >= 10 server resets)")
    # The control scanner sent one identical request: one exact fingerprint.
    web = "10.80.0.9"
    wfps = [v for v in rows_of(rows, "value", web, attribute="client_fingerprint")
            if v["value"] != "none"]
    if len(wfps) != 1 or wfps[0]["sessions"] != 24:
        problems.append(f"{web}: client fingerprints {wfps} (expected one value, 24 sessions)")
    wsb = {v["value"]: v["sessions"] for v in rows_of(rows, "value", web, attribute="server_bytes")}
    if wsb.get("162") != 16 or wsb.get("409") != 8:
        problems.append(f"{web}: server bytes {wsb} (expected 162 x16, 409 x8)")
    # The same key asked for by --client/--port gives the same rows.
    one = clusters_json([stream], "--client", sql, "--port", "1433")
    if [r for r in one if r["section"] != "key"] != \
            [r for r in rows if r["client"] == sql and r["section"] != "key"]:
        problems.append("--client/--port rows differ from the --top rows of the same key")
    report(problems, "clusters of an embedded-address scanner and its control")


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    expect(head[:8] == PNG_SIGNATURE, f"{path}: not a PNG (signature {head[:8]!r})")
    expect(head[12:16] == b"IHDR", f"{path}: no IHDR chunk first")
    return struct.unpack(">II", head[16:24])


def clusters_plot():
    stream = polymorph_stream("clusters_plot")
    pics = os.path.join(lib.WORK_DIR, "clusters_plot", "pictures")
    if os.path.isdir(pics):
        for n in os.listdir(pics):
            os.remove(os.path.join(pics, n))
    cmd = [lib.CLI, "report", "clusters", "--top", "1", "--plot", pics, stream]
    log("$ " + " ".join(cmd))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    expect(p.returncode == 0, f"--plot exited {p.returncode}: {lib.tail(p.stderr)}")
    problems = []
    want = {f"10.80.0.7_1433_{a}.png" for a in PLOTTED}
    have = set(os.listdir(pics))
    if have != want:
        problems.append(f"pictures {sorted(have)}, expected {sorted(want)}")
    for n in sorted(have & want):
        path = os.path.join(pics, n)
        w, h = png_size(path)
        size = os.path.getsize(path)
        log(f"  {n}: {w} x {h}, {size} bytes")
        if not (800 <= w <= 2400 and 400 <= h <= 1200) or size < 8000:
            problems.append(f"{n}: {w} x {h}, {size} bytes (expected a drawn histogram)")
    report(problems, "clusters --plot pictures")


def clusters_golden():
    d = lib.SHARED_CAPTURES
    name = "scan__zeek_nmap-vsn"
    if not d or not os.path.exists(os.path.join(d, name + ".pcap")):
        raise Skip("the shared captures are not here")
    r = lib.run_sensor("clusters_golden", name, os.path.join(d, name + ".pcap"), [])
    rows = clusters_json([r.output], "--top", "1")
    keys = [x for x in rows if x["section"] == "key"]
    problems = []
    if len(keys) != 1 or keys[0]["verdict"] != "scanner" or keys[0]["sessions"] < 1:
        problems.append(f"nmap-vsn: key rows {keys} (expected the scanner)")
    else:
        k = keys[0]
        total = {}
        for v in rows_of(rows, "value", k["client"]):
            total[v["attribute"]] = total.get(v["attribute"], 0) + v["sessions"]
        bad = {a: n for a, n in total.items() if n != k["sessions"]}
        if len(total) != 9 or bad:
            problems.append(f"nmap-vsn: distributions {total} do not each cover the "
                            f"{k['sessions']} sessions")
        log(f"  {k['client']} port {k['port']}: {k['sessions']} sessions; "
            f"{len(rows_of(rows, 'rule', k['client']))} rules")
    report(problems, "clusters on nmap-vsn")


CLUSTERS_CASES = {
    "clusters_polymorph": clusters_polymorph,
    "clusters_plot": clusters_plot,
    "clusters_golden": clusters_golden,
}
