#!/usr/bin/env python3
"""End-to-end tests: the real flowtrail-sensor on captures, read back with
`flowtrail cat`, compared field by field with what the capture generator says
each session's record must contain.

    e2e_cases.py CASE      (meson runs one test() per case; see meson.build)
    meson test -C build --suite e2e [e2e_CASE]

Exit 0 pass, 1 fail, 77 skip (the shared captures when absent). Each run's
stream, stats JSON and stderr stay in BUILD/tests/e2e/work/CASE/ for a look.
tests/data/sample.pcap is a capture of the traffic lab (tests/lab/lab.py,
scenario `sample`) with its ground truth beside it; refresh both with
    sudo tests/lab/lab.py DIR --scenarios sample && cp DIR/sample.* tests/data/
"""

import collections
import csv
import io
import ipaddress
import json
import os
import re
import signal
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as lib  # noqa: E402
import pcap_variants as variants  # noqa: E402
import tshark_oracle as oracle  # noqa: E402
from e2e_ports import PORTS_CASES  # noqa: E402
from e2e_clusters import CLUSTERS_CASES  # noqa: E402
from e2e_live import LIVE_CASES  # noqa: E402
import e2e_lab as lab  # noqa: E402
from e2e_lab import LAB_CASES  # noqa: E402
from e2e_lib import Failure, Skip, expect, log, report  # noqa: E402

# 3 workers on this 2-CPU box: main, 3 workers, dispatcher, exporter,
# analytics (oversubscribed, which the sensor must tolerate).
THREE_WORKER_LCORES = "0@0,1@1,2@0,3@1,4@0,5@1,6@0"


def check_stats(stats, exp, workers, records):
    """Counters of a capture-mode run against the capture's expectations."""
    problems = []
    frames = exp["frames"]
    sessions = len(exp["sessions"])
    got_workers = len(stats.get("workers", []))
    if got_workers != workers:
        problems.append(f"stats: {got_workers} workers, expected {workers}")
    rx = lib.port_counter(stats, "rx")
    if rx != frames:
        problems.append(f"stats: ports rx = {rx}, the capture has {frames} frames")
    for key in ("imissed", "nombuf"):
        v = lib.port_counter(stats, key)
        if v != 0:
            problems.append(f"stats: ports {key} = {v}, expected 0 (capture mode is lossless)")
    bad = lib.bad_by_reason(stats)
    if bad != exp["bad_packets"]:
        problems.append(f"stats: bad_packets = {bad}, expected {exp['bad_packets']}")
    # Counted by class, not bad: non-IP frames, later fragments, snapped headers.
    if non_ip_counts(stats) != exp.get("non_ip", {}):
        problems.append(f"stats: non_ip = {non_ip_counts(stats)}, expected {exp.get('non_ip', {})}")
    for key, want in (("later_fragment_total", exp.get("later_fragments", 0)),
                      ("snapped_total", exp.get("snapped_headers", 0))):
        v = lib.sum_workers(stats, key)
        if v != want:
            problems.append(f"stats: workers' {key} = {v}, expected {want}")
    packets = lib.sum_workers(stats, "packets")
    if packets != frames:
        problems.append(f"stats: workers' packets = {packets}, expected {frames} (every frame "
                        f"of the capture, bad ones included)")
    for key, want in (("sessions_created", sessions), ("sessions_ended", sessions),
                      ("sessions_evicted", 0), ("sessions_active", 0)):
        v = lib.sum_workers(stats, key)
        if v != want:
            problems.append(f"stats: workers' {key} = {v}, expected {want}")
    if int(stats.get("ring_drops", 0)) != 0:
        problems.append(f"stats: ring_drops = {stats.get('ring_drops')}, expected 0")
    if int(stats.get("records_written", -1)) != records:
        problems.append(f"stats: records_written = {stats.get('records_written')}, the stream "
                        f"has {records}")
    return problems


def run_and_read(case, tag, name, extra_args=(), lcores=None, memory=512):
    pcap, exp = lib.capture(name)
    r = lib.run_sensor(case, tag, pcap, list(exp["sensor_args"]) + list(extra_args), lcores,
                       memory)
    n = lib.check_stream_framing(r.output)
    records = lib.cat_json(r.output)
    expect(len(records) == n, f"flowtrail cat printed {len(records)} records, the stream has {n}")
    log(f"  {n} records")
    return r, exp, records


# ---------------------------------------------------------------------------
# 1. basic.pcap: every expected record, field by field.


def basic_records():
    r, exp, records = run_and_read("basic_records", "w1", "basic")
    problems = lib.compare_records(records, exp["sessions"], sensor_id="e2e-basic")
    report(problems, f"{len(records)} records vs basic.expected.json")
    report(check_stats(r.stats(), exp, 1, len(records)), "stats JSON")
    # Classic and CSV renderings of the same stream.
    report(check_classic_and_csv(r.output, records), "classic and csv formats")


FTP_DATA = ("ftp_pasv_data", "ftp_port_data")


def basic_records_3_workers():
    """The same expectations through the software dispatcher and 3 workers:
    VLAN, MPLS, IPv6, ICMP, fragments and bad frames all land right. (The FTP
    data sessions' transient flag has its own test, ftp_transient_3_workers.)"""
    r, exp, records = run_and_read("basic_records_3_workers", "w3", "basic", ["--workers", "3"],
                                   THREE_WORKER_LCORES, memory=768)
    sessions = [dict(s, unchecked=s["unchecked"] + ["transient_server"])
                if s["name"] in FTP_DATA else s for s in exp["sessions"]]
    problems = lib.compare_records(records, sessions, sensor_id="e2e-basic")
    report(problems, f"{len(records)} records vs basic.expected.json")
    report(check_stats(r.stats(), exp, 3, len(records)), "stats JSON")


def ftp_transient_3_workers():
    """An FTP data session announced on a control session that another worker
    tracks must still be flagged transient: with 3 workers the control and
    data 5-tuples of basic.pcap hash to different workers."""
    r, exp, records = run_and_read("ftp_transient_3_workers", "w3", "basic", ["--workers", "3"],
                                   THREE_WORKER_LCORES, memory=768)
    by_key = {lib.key_of(x): x for x in records}
    problems = []
    for s in exp["sessions"]:
        if s["name"] not in FTP_DATA + ("ftp_control",):
            continue
        x = by_key.get(lib.key_of(s))
        if x is None:
            problems.append(f"{s['name']}: no record")
            continue
        log(f"  {s['name']}: worker {x.get('worker_id')}, transient_server "
            f"{x.get('transient_server')}")
        if bool(x.get("transient_server")) != s["transient_server"]:
            problems.append(f"{s['name']}: transient_server {x.get('transient_server')}, "
                            f"expected {s['transient_server']} (the announcement was seen by "
                            f"the control session's worker only?)")
    report(problems, "FTP data sessions across workers")


TCP_FLAGS = re.compile(r"(?<![A-Za-z_])[U_][A_][P_][R_][S_][F_](?![A-Za-z_])")


def check_classic_and_csv(path, records):
    problems = []
    classic = [l for l in lib.cat(path, "classic").stdout.splitlines() if l.strip()]
    if len(classic) != len(records):
        problems.append(f"classic: {len(classic)} lines for {len(records)} records")
    tcp = [r for r in records if int(r.get("protocol", 0) or 0) == 6]
    with_flags = sum(1 for l in classic if TCP_FLAGS.search(l))
    if with_flags < len(tcp):
        problems.append(f"classic: {with_flags} lines carry UAPRSF flags, {len(tcp)} TCP records")
    if not any("_A__S_" in l for l in classic):
        problems.append("classic: no SYN-ACK flags rendered as _A__S_")
    text = lib.cat(path, "csv").stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    if len(rows) != len(records):
        problems.append(f"csv: {len(rows)} rows for {len(records)} records")
    for field in ("client_ip", "client_port", "server_ip", "server_port", "client_packets",
                  "server_packets", "client_bytes", "server_bytes", "conn_state", "protocol"):
        if rows and field not in rows[0]:
            problems.append(f"csv: no column {field}")
    if rows and "client_ip" in rows[0]:
        got = collections.Counter(lib.norm_ip(x["client_ip"]) for x in rows)
        want = collections.Counter(lib.norm_ip(x.get("client_ip")) for x in records)
        if got != want:
            problems.append("csv: client_ip column differs from the JSON records")
    return problems


# ---------------------------------------------------------------------------
# 2. One worker and three workers give the same records: dispatch is symmetric.


def workers_1_vs_3():
    case = "workers_1_vs_3"
    r1, exp, one = run_and_read(case, "w1", "many_sessions")
    r3, _, three = run_and_read(case, "w3", "many_sessions", ["--workers", "3"],
                                THREE_WORKER_LCORES, memory=768)
    a = collections.Counter(lib.norm_record(r) for r in one)
    b = collections.Counter(lib.norm_record(r) for r in three)
    only1, only3 = a - b, b - a
    problems = []
    for rec, n in list(only1.items())[:10]:
        problems.append(f"only with 1 worker (x{n}): {dict(rec)}")
    for rec, n in list(only3.items())[:10]:
        problems.append(f"only with 3 workers (x{n}): {dict(rec)}")
    if only1 or only3:
        problems.append(f"{sum(only1.values())} records only with 1 worker, "
                        f"{sum(only3.values())} only with 3")
    report(problems, f"1 worker ({len(one)} records) vs 3 workers ({len(three)} records)")
    # Three workers really shared the work.
    per_worker = collections.Counter(int(r.get("worker_id", 0) or 0) for r in three)
    log(f"  records per worker with 3 workers: {dict(sorted(per_worker.items()))}")
    expect(len(per_worker) == 3 and min(per_worker.values()) > len(three) // 6,
           f"3 workers did not share the sessions: {dict(per_worker)}")
    report(lib.compare_records(one, exp["sessions"], sensor_id="e2e-many"),
           "1-worker records vs many_sessions.expected.json")
    report(check_stats(r1.stats(), exp, 1, len(one)), "stats JSON, 1 worker")
    report(check_stats(r3.stats(), exp, 3, len(three)), "stats JSON, 3 workers")


# ---------------------------------------------------------------------------
# 3. Far more packets than mbufs: every session, every packet.


# The sensor's pool in capture mode; the capture has ~150 times more packets.
LARGE_MBUFS = 2047


def large_capture_lossless():
    r, exp, records = run_and_read("large_capture_lossless", "w1", "large_packets",
                                   ["--mbufs", str(LARGE_MBUFS)])
    expect(exp["frames"] > 100 * LARGE_MBUFS, "large_packets.pcap is not much larger than the pool")
    in_records = sum(int(x.get("client_packets", 0) or 0) + int(x.get("server_packets", 0) or 0)
                     for x in records)
    want = exp["frames"] - exp["bad_frames"]
    log(f"  {exp['frames']} frames, {in_records} packets in {len(records)} records")
    expect(in_records == want, f"records account for {in_records} packets, expected {want}")
    report(lib.compare_records(records, exp["sessions"], sensor_id="e2e-large_packets"),
           "records vs large_packets.expected.json")
    report(check_stats(r.stats(), exp, 1, len(records)), "stats JSON")


# ---------------------------------------------------------------------------
# 3b. A session table far smaller than the live sessions: the stalest leave as
# evicted records, and still no packet is lost.


def table_pressure_evicts():
    pcap, exp = lib.capture("many_sessions")
    r = lib.run_sensor("table_pressure_evicts", "w1", pcap,
                       list(exp["sensor_args"]) + ["--table-size", "1024"])
    n = lib.check_stream_framing(r.output)
    records = lib.cat_json(r.output)
    stats = r.stats()
    evicted = lib.sum_workers(stats, "sessions_evicted")
    by_reason = collections.Counter(lib.norm_enum("end_reason", x.get("end_reason"))
                                    for x in records)
    in_records = sum(int(x.get("client_packets", 0) or 0) + int(x.get("server_packets", 0) or 0)
                     for x in records)
    log(f"  {n} records, end reasons {dict(by_reason)}")
    problems = []
    if evicted == 0 or by_reason["EVICTED"] != evicted:
        problems.append(f"{by_reason['EVICTED']} evicted records, stats say {evicted} evictions "
                        f"(expected some, and equal)")
    if in_records != exp["session_packets"]:
        problems.append(f"records account for {in_records} packets, expected "
                        f"{exp['session_packets']}")
    if lib.port_counter(stats, "rx") != exp["frames"]:
        problems.append(f"ports rx {lib.port_counter(stats, 'rx')} != {exp['frames']} frames")
    for key in ("sessions_created", "sessions_ended"):
        if lib.sum_workers(stats, key) != n:
            problems.append(f"stats {key} {lib.sum_workers(stats, key)} != {n} records")
    if int(stats.get("records_written", -1)) != n or int(stats.get("ring_drops", 0)) != 0:
        problems.append(f"records_written {stats.get('records_written')}, ring_drops "
                        f"{stats.get('ring_drops')}")
    # Every expected session's 5-tuple is in some record.
    tuples = {lib.tuple_of(x) for x in records}
    missing = [s["name"] for s in exp["sessions"] if lib.tuple_of(s) not in tuples]
    if missing:
        problems.append(f"{len(missing)} sessions without a record, e.g. {missing[:5]}")
    report(problems, "eviction under table pressure")


# ---------------------------------------------------------------------------
# 3c. Active timeout: long sessions are reported periodically, flagged as
# continuing, with the same id and cumulative counters; the final record is
# unchanged.


def active_timeout_interim():
    pcap, exp = lib.capture("large_packets")
    args = list(exp["sensor_args"])
    args[args.index("--active-timeout") + 1] = "20"
    r = lib.run_sensor("active_timeout_interim", "w1", pcap, args)
    lib.check_stream_framing(r.output)
    records = lib.cat_json(r.output)
    final = [x for x in records if not x.get("continuing")]
    interim = [x for x in records if x.get("continuing")]
    log(f"  {len(final)} final and {len(interim)} interim records")
    report(lib.compare_records(final, exp["sessions"], sensor_id="e2e-large_packets"),
           "final records vs large_packets.expected.json")
    problems = []
    by_id = collections.defaultdict(list)
    for x in interim:
        by_id[str(x.get("session_id"))].append(x)
    final_by_id = {str(x.get("session_id")): x for x in final}
    for sid, xs in by_id.items():
        f = final_by_id.get(sid)
        if f is None:
            problems.append(f"interim records of session {sid} without a final record")
            continue
        if lib.tuple_of(xs[0]) != lib.tuple_of(f):
            problems.append(f"session {sid}: interim and final records differ in 5-tuple")
        packets = [int(x.get("client_packets", 0)) + int(x.get("server_packets", 0))
                   for x in xs] + [int(f.get("client_packets", 0)) + int(f.get("server_packets", 0))]
        if packets != sorted(packets):
            problems.append(f"session {sid}: packet counts not cumulative: {packets}")
        for x in xs:
            if lib.norm_enum("end_reason", x.get("end_reason")) != "ACTIVE_TIMEOUT":
                problems.append(f"session {sid}: continuing record with end_reason "
                                f"{x.get('end_reason')}")
    # Sessions last ~55-65 s from their first packet: two or three reports each.
    long_lived = sum(1 for s in exp["sessions"] if s["last_time_us"] - s["first_time_us"] > 41e6)
    if len(by_id) < long_lived:
        problems.append(f"{len(by_id)} sessions had interim records, {long_lived} lasted > 41 s")
    if lib.sum_workers(r.stats(), "interim_records") != len(interim):
        problems.append(f"stats interim_records {lib.sum_workers(r.stats(), 'interim_records')} "
                        f"!= {len(interim)}")
    report(problems, "interim records")


# ---------------------------------------------------------------------------
# 4. The real captures in ../shared/captures (skipped when absent).

# TCP/UDP session counts where they differ from tshark's conversation counts
# in README.md (tshark counts 5-tuples; a SYN reusing a closed 5-tuple is a new
# session; a frame the parser refuses makes no session).
SESSION_COUNT_EXCEPTIONS = {
    # Its one frame claims an IPv4 total length of 65028 in a 1516-byte frame:
    # refused (ipv4_total_length_beyond_capture), where tshark still lists the
    # UDP conversation.
    "bad__suricata_ipv4-truncated.pcap": {"tcp": 0, "udp": 0},
    # Both sides close by 1078895641.29; the client retransmits its last
    # segments 3.2 s later, after the 2 s linger: a second (midstream) session.
    "retrans__zeek_reassembly.pcap": {"tcp": 2, "udp": 0},
}

# capture -> {reason: count} the parser must report (absent: none).
# Malformed frames ("bad": nothing else counts as bad) per shared capture...
SHARED_BAD = {
    "bad__suricata_ipv4-truncated.pcap": {"ipv4_total_length_beyond_capture": 1},
    # A security option of length 2 (RFC 1108: at least 3); tshark and
    # Suricata call the packet malformed too.
    "bad__suricata_tcp-session-decode-malformed-ipv4.pcap": {"bad_ipv4_options": 1},
    "bad__tcpdump_ipv6_invalid_length.pcap": {"truncated_ipv6": 1},
    "bad__tcpdump_tcp_header_heapoverflow.pcap": {},
    "bad__zeek_ip-bogus-header-len.pcap": {"ipv4_total_length_too_short": 1},
    "bad__zeek_ip4-trunc.pcap": {},
    "bad__zeek_ip6-trunc.pcap": {},
    "bad__zeek_ipv4-truncated-broken-header.pcap": {"bad_ipv4_header_length": 1},
    # Snap length 54: every frame parses (payload and sequence bytes from the
    # IPv4 lengths the wire length covers).
    "bad__zeek_tcp_truncated-header.pcap": {},
    "bad__zeek_trunc-hdr.pcap": {},
    # 5 frames really are shorter than their IPv4 total length (wire = caplen).
    "retrans__zeek_reassembly.pcap": {"ipv4_total_length_beyond_capture": 5},
}
# ...and the frames counted by the other classes (non-IP, snapped headers):
# the wire length says the snapped ones were whole on the wire.
SHARED_COUNTED = {
    # Wire length 262144, caplen 46: the TCP header is cut by the capture.
    "bad__tcpdump_tcp_header_heapoverflow.pcap": {"snapped": {"snapped_headers": 1}},
    "bad__zeek_ip4-trunc.pcap": {"snapped": {"snapped_headers": 1}},  # caplen 20 of 46
    "bad__zeek_ip6-trunc.pcap": {"snapped": {"snapped_headers": 1}},  # caplen 48 of 74
    # caplen 8 of 78, header snap length 1: not even the Ethernet header.
    "bad__zeek_trunc-hdr.pcap": {"snapped": {"snapped_headers": 1}},
    "mixed__zeek_wikipedia.pcap": {"non_ip": {"arp": 6, "llc": 4}},  # ARP, STP
    "scan__zeek_nmap-vsn.pcap": {"non_ip": {"arp": 503}},  # the ARP sweep
}


def counted_by_class(stats, cls):
    """The workers' `cls` object ({result: n}) summed, zeros dropped."""
    total = collections.Counter()
    for w in stats.get("workers", []):
        for k, v in (w.get(cls) or {}).items():
            if int(v):
                total[k] += int(v)
    return dict(total)

# capture -> fields of its first TCP record (checked with tcpdump by hand).
SHARED_GOLDEN = {
    # The SYN-ACK is captured before the SYN: the SYN sender is the client.
    "retrans__zeek_handshake-reorder.pcap": {
        "client_ip": "141.142.228.5", "client_port": 59856, "server_port": 80,
        "server_confidence": "HIGH", "conn_state": "SF", "client_payload_bytes": 136,
        "server_payload_bytes": 5007, "client_bytes": 136, "server_bytes": 5007},
    "mixed__zeek_ssh_single-conn.pcap": {
        "client_port": 49244, "server_port": 22, "conn_state": "SF", "client_packets": 52,
        "server_packets": 42, "client_bytes": 3168, "server_bytes": 8799},
    # Retransmissions and segments missing from the capture: the sequence-derived
    # bytes (highest end 3401108482 - ISN 3401075273 - SYN) are what was sent.
    "retrans__zeek_reassembly.pcap": {
        # Payload: 27194 bytes in the frames the parser takes, less the 1535
        # retransmitted after the close (the second session's).
        "client_port": 2564, "server_port": 80, "conn_state": "SF", "client_bytes": 33208,
        "client_payload_bytes": 25659, "shutdown_initiator": "SERVER"},
    "v6vlan__zeek_http-vlan-0.pcap": {
        "vlan_count": 1, "vlan_outer": 0, "client_bytes": 136, "server_bytes": 5007},
    "v6vlan__zeek_http-qinq-0.pcap": {
        "vlan_count": 2, "vlan_outer": 0, "vlan_inner": 0, "client_bytes": 136,
        "server_bytes": 5007},
}


def parse_captures_readme(path):
    rows = {}
    with open(path) as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 10 and cells[0].startswith("`") and cells[0].endswith(".pcap`"):
                try:
                    rows[cells[0].strip("`")] = {"packets": int(cells[5]), "tcp": int(cells[7]),
                                                 "udp": int(cells[8])}
                except ValueError:
                    pass
    return rows


def shared_captures():
    d = lib.SHARED_CAPTURES
    readme = os.path.join(d, "README.md") if d else ""
    if not d or not os.path.isfile(readme):
        raise Skip(f"no shared captures at {d!r}")
    table = parse_captures_readme(readme)
    expect(table, f"no capture rows parsed from {readme}")
    problems = []
    for name in sorted(table):
        pcap = os.path.join(d, name)
        if not os.path.exists(pcap):
            problems.append(f"{name}: listed in README.md but missing")
            continue
        row = table[name]
        tag = name[:-5]
        r = lib.Run("shared_captures", tag)
        r.run(r.command(f"net_pcap0,rx_pcap={pcap}", ["--sensor-id", "shared"]), timeout=60)
        if r.returncode != 0:
            problems.append(f"{name}: sensor exited {r.returncode}: {lib.tail(r.stderr, 5)}")
            continue
        try:
            lib.check_stream_framing(r.output)
            records = lib.cat_json(r.output)
            stats = r.stats()
        except Failure as e:
            problems.append(f"{name}: {e}")
            continue
        by_proto = collections.Counter(int(x.get("protocol", 0) or 0) for x in records)
        tuples = {p: len({lib.tuple_of(x) for x in records if int(x.get("protocol", 0) or 0) == p})
                  for p in (6, 17)}
        bad = lib.bad_by_reason(stats)
        log(f"  {name}: {len(records)} records (tcp {by_proto[6]}, udp {by_proto[17]}, "
            f"icmp {by_proto[1] + by_proto[58]}), bad {bad}")
        rx = lib.port_counter(stats, "rx")
        if rx != row["packets"]:
            problems.append(f"{name}: ports rx = {rx}, README says {row['packets']} packets")
        want = SESSION_COUNT_EXCEPTIONS.get(name, {"tcp": row["tcp"], "udp": row["udp"]})
        for proto, label in ((6, "tcp"), (17, "udp")):
            if tuples[proto] != want[label] and tuples[proto] != row[label]:
                problems.append(f"{name}: {tuples[proto]} {label} 5-tuples, README (tshark) says "
                                f"{row[label]}")
            if by_proto[proto] != want[label]:
                problems.append(f"{name}: {by_proto[proto]} {label} sessions, expected "
                                f"{want[label]}")
        want_bad = SHARED_BAD.get(name, {})
        if bad != want_bad:
            problems.append(f"{name}: bad packets {bad}, expected {want_bad}")
        if name.startswith("bad__") and name not in SHARED_BAD:
            problems.append(f"{name}: no expectation for its bad packets")
        for cls in ("non_ip", "snapped", "later_fragment"):
            want_n = SHARED_COUNTED.get(name, {}).get(cls, {})
            got_n = counted_by_class(stats, cls)
            if got_n != want_n:
                problems.append(f"{name}: {cls} frames {got_n}, expected {want_n}")
        if name in SHARED_GOLDEN:
            tcp = sorted((x for x in records if int(x.get("protocol", 0) or 0) == 6),
                         key=lambda x: int(x.get("first_time_us", 0)))
            if not tcp:
                problems.append(f"{name}: no TCP record")
            else:
                for field, want in SHARED_GOLDEN[name].items():
                    got = lib.norm_value(field, tcp[0].get(field), want)
                    if field in lib.ENUMS:
                        want = lib.norm_enum(field, want)
                    if got != want:
                        problems.append(f"{name}: {field} = {got!r}, expected {want!r}")
        if name.startswith("ftp__"):
            control = [x for x in records if int(x.get("server_port", 0) or 0) == 21]
            data = [x for x in records if int(x.get("protocol", 0) or 0) == 6 and
                    int(x.get("server_port", 0) or 0) != 21]
            if len(control) != 1:
                problems.append(f"{name}: {len(control)} control sessions, expected 1")
            not_transient = [x for x in data if not x.get("transient_server")]
            if not data or not_transient:
                problems.append(f"{name}: {len(not_transient)} of {len(data)} data sessions not "
                                f"flagged transient")
            if any(x.get("transient_server") for x in control):
                problems.append(f"{name}: the control session is flagged transient")
        # Every record of the tagged captures carries the tags.
        tags = 2 if "qinq" in name else 1 if "http-vlan" in name else 0
        for x in records:
            if int(x.get("vlan_count", 0) or 0) != tags:
                problems.append(f"{name}: record with vlan_count {x.get('vlan_count')}, "
                                f"expected {tags}")
    report(problems, f"{len(table)} shared captures")


# ---------------------------------------------------------------------------
# 5. Bad options and bad input: a clear message and the contract's exit code.


def bad_options():
    pcap, _ = lib.capture("basic")
    vdev = f"net_pcap0,rx_pcap={pcap}"
    problems = []
    cases = [
        ("workers_zero", ["--workers", "0"], True, 2, "workers"),
        ("workers_not_a_number", ["--workers", "three"], True, 2, "workers"),
        ("unknown_option", ["--no-such-option"], True, 2, "no-such-option"),
        ("bad_cidr_prefix", ["--protected-nets", "10.0.0.0/33"], True, 2, "10.0.0.0/33"),
        ("bad_cidr_address", ["--protected-nets", "10.0.0.300/8"], True, 2, "10.0.0.300"),
        ("bad_policy", ["--full-analysis", "sometimes"], True, 2, "sometimes"),
        ("negative_timeout", ["--udp-timeout", "-5"], True, 2, "udp-timeout"),
        ("missing_output", [], False, 2, "output"),
        # Options that used to pass here and fail after the EAL started.
        ("mbufs_too_few", ["--mbufs", "1024"], True, 2, "--mbufs"),
        ("sub_microsecond_timeout", ["--tcp-idle-timeout", "0.0000001"], True, 2,
         "--tcp-idle-timeout"),
        ("sensor_id_too_long", ["--sensor-id", "s" * 257], True, 2, "--sensor-id"),
        ("table_beyond_memory", ["--table-size", "268435456", "--workers", "64"], True, 2,
         "physical memory"),
        # Files: never the input capture, nor --output and --stats-json the same.
        ("output_is_the_capture", ["--output", pcap], False, 2, "input capture"),
        ("stats_is_the_capture", ["--output", os.devnull, "--stats-json",
                                  os.path.join(os.path.dirname(pcap), ".",
                                               os.path.basename(pcap))], False, 2,
         "input capture"),
        ("output_is_stats", ["--output", os.path.join(lib.WORK_DIR, "same.out"), "--stats-json",
                             os.path.join(lib.WORK_DIR, ".", "same.out")], False, 2,
         "same file"),
        ("vlan_key_bad", ["--vlan-key", "inner"], True, 2, "--vlan-key"),
    ]
    before = os.stat(pcap)
    for tag, args, with_output, code, mention in cases:
        r = lib.Run("bad_options", tag)
        r.run(r.command(vdev, args, output=with_output, stats=False), timeout=60)
        if r.returncode != code:
            problems.append(f"{tag}: exit {r.returncode}, expected {code} "
                            f"(stderr: {lib.tail(r.stderr, 3)!r})")
        elif mention.lower() not in r.stderr.lower():
            problems.append(f"{tag}: stderr does not mention {mention!r}: "
                            f"{lib.tail(r.stderr, 3)!r}")
        else:
            log(f"  {tag}: exit {code}, {r.stderr.strip().splitlines()[0]!r}")
    after = os.stat(pcap)
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        problems.append(f"the input capture {pcap} was modified")
    if os.path.exists(os.path.join(lib.WORK_DIR, "same.out")):
        problems.append("output_is_stats: the output file was created before the refusal")
    # Too few lcores for the workers asked for: a clear error, exit 1.
    r = lib.Run("bad_options", "too_few_lcores")
    r.run(r.command(vdev, ["--workers", "4"]), timeout=60)
    if r.returncode != 1 or "lcore" not in r.stderr.lower():
        problems.append(f"too_few_lcores: exit {r.returncode}, expected 1 with a message about "
                        f"lcores (stderr: {lib.tail(r.stderr, 3)!r})")
    else:
        log(f"  too_few_lcores: exit 1, {lib.tail(r.stderr, 1).strip()!r}")
    # A capture file that does not exist: EAL/port set-up fails, no crash.
    missing = "/nonexistent/flowtrail-e2e/missing.pcap"
    r = lib.Run("bad_options", "missing_capture")
    r.run(r.command(f"net_pcap0,rx_pcap={missing}", []), timeout=60)
    if r.returncode <= 0:
        problems.append(f"missing_capture: exit {r.returncode}, expected a non-zero exit "
                        f"(negative = killed by a signal)")
    elif not r.stderr.strip():
        problems.append("missing_capture: no message on stderr")
    else:
        log(f"  missing_capture: exit {r.returncode}, {lib.tail(r.stderr, 1).strip()!r}")
    # Captures the sensor cannot read are refused before anything starts,
    # naming the file and why: an unsupported link type (802.11), not a
    # capture at all.
    _, snaplen, recs = variants.read_pcap(pcap)
    wifi = os.path.join(lib.WORK_DIR, "bad_options", "wifi.pcap")
    variants.write_pcap(wifi, 105, snaplen, recs[:3])
    text = os.path.join(lib.WORK_DIR, "bad_options", "notes.pcap")
    with open(text, "w") as f:
        f.write("not a capture\n")
    for tag, path, mention in (("unsupported_link_type", wifi, "IEEE802_11"),
                               ("not_a_capture", text, "not a pcap")):
        r = lib.Run("bad_options", tag)
        r.run(r.command(f"net_pcap0,rx_pcap={path}", []), timeout=60)
        if r.returncode != 2 or mention.lower() not in r.stderr.lower() or path not in r.stderr:
            problems.append(f"{tag}: exit {r.returncode}, expected 2 naming {path} and "
                            f"{mention!r} (stderr: {lib.tail(r.stderr, 3)!r})")
        else:
            log(f"  {tag}: exit 2, {r.stderr.strip().splitlines()[0]!r}")
    # --help documents every option of the contract and exits 0.
    p = subprocess.run([lib.SENSOR, "--", "--help"], capture_output=True, text=True, timeout=30)
    text = p.stdout + p.stderr
    if p.returncode != 0:
        problems.append(f"--help: exit {p.returncode}")
    for opt in ("--output", "--sensor-id", "--workers", "--capture", "--protected-nets",
                "--full-analysis", "--table-size", "--tcp-syn-timeout", "--tcp-idle-timeout",
                "--tcp-closing-timeout", "--tcp-linger", "--udp-timeout", "--icmp-timeout",
                "--active-timeout", "--status-interval", "--stats-json", "--vlan-key",
                "--other-timeout", "--clock-jump", "--mbufs"):
        if opt not in text:
            problems.append(f"--help does not document {opt}")
    report(problems, "bad options and input")


# ---------------------------------------------------------------------------
# 5b. Write errors: the sensor is not killed, stops writing, counts the error,
# flushes, prints its summary and exits 1; records_written is what got out.


def check_write_error_run(tag, r, stats):
    problems = []
    if r.returncode != 1:
        problems.append(f"{tag}: exit {r.returncode}, expected 1 (negative = killed by a "
                        f"signal; stderr: {lib.tail(r.stderr, 3)!r})")
    if "records written:" not in r.stderr:
        problems.append(f"{tag}: no summary on stderr: {lib.tail(r.stderr, 3)!r}")
    if "incomplete" not in r.stderr:
        problems.append(f"{tag}: stderr does not say the stream is incomplete")
    if int(stats.get("write_errors", 0)) < 1:
        problems.append(f"{tag}: write_errors = {stats.get('write_errors')}, expected >= 1")
    out = lib.sum_workers(stats, "records_out")
    if int(stats.get("records_written", -1)) >= out:
        problems.append(f"{tag}: records_written {stats.get('records_written')} of {out} "
                        f"records out, after a write error")
    return problems


def write_errors():
    pcap, exp = lib.capture("many_sessions")
    vdev = f"net_pcap0,rx_pcap={pcap}"
    problems = []
    # A full disk: nothing reaches the file, and nothing is counted as written.
    r = lib.Run("write_errors", "dev_full")
    r.run(r.command(vdev, ["--output", "/dev/full"], output=False))
    stats = r.stats()
    problems += check_write_error_run("dev_full", r, stats)
    if int(stats.get("records_written", -1)) != 0 or int(stats.get("bytes_written", -1)) != 0:
        problems.append(f"dev_full: records_written {stats.get('records_written')}, "
                        f"bytes_written {stats.get('bytes_written')}, expected 0 and 0")
    if "No space left" not in r.stderr:
        problems.append(f"dev_full: the error (ENOSPC) is not named: {lib.tail(r.stderr, 5)!r}")
    # `--output - | head -c 100`: the reader takes 100 bytes and goes away;
    # then (reader gone before the first write) a reader that reads nothing.
    for tag, take in (("pipe_head", 100), ("pipe_closed", 0)):
        r = lib.Run("write_errors", tag)
        cmd = r.command(vdev, ["--output", "-"], output=False)
        lib.log("$ " + " ".join(cmd) + f" | head -c {take}")
        with open(r.stderr_path, "w") as err:
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
            got = p.stdout.read(take) if take else b""
            p.stdout.close()
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                lib.kill_group(p)
                raise Failure(f"{tag}: sensor did not finish after its reader went away")
        r.returncode = p.returncode
        with open(r.stderr_path, errors="replace") as f:
            r.stderr = f.read()
        if len(got) != take:
            problems.append(f"{tag}: read {len(got)} bytes of the stream, expected {take}")
        try:
            stats = r.stats()
        except Failure as e:
            problems.append(f"{tag}: exit {r.returncode} (negative = killed by a signal): {e}")
            continue
        problems += check_write_error_run(tag, r, stats)
        if "Broken pipe" not in r.stderr:
            problems.append(f"{tag}: the error (EPIPE) is not named: {lib.tail(r.stderr, 5)!r}")
        log(f"  {tag}: exit {r.returncode}, records_written {stats.get('records_written')} of "
            f"{lib.sum_workers(stats, 'records_out')}, write_errors {stats.get('write_errors')}")
    report(problems, "write errors")


# ---------------------------------------------------------------------------
# 6. SIGTERM (and SIGINT) on a live-style run: exit 0, trailer, every session
# flushed with end reason shutdown.


def sigterm_live():
    """SIGTERM, then SIGINT: the same clean stop."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        stop_live_run(sig)


def stop_live_run(sig):
    name = signal.Signals(sig).name
    log(f"{name}:")
    pcap, exp = lib.capture("live")
    r = lib.Run("sigterm_live", name.lower())
    cmd = r.command(f"net_pcap0,rx_pcap={pcap},infinite_rx=1", ["--sensor-id", "e2e-live"])
    log("$ " + " ".join(cmd))
    with open(r.stderr_path, "w") as err:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        try:
            # Let it run: the stream header is written at start; give the
            # workers time to replay the capture many times.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and p.poll() is None and not (
                    os.path.exists(r.output) and os.path.getsize(r.output) > 0):
                time.sleep(0.1)
            expect(p.poll() is None, f"sensor exited {p.returncode} before {name}: "
                   f"{lib.tail(open(r.stderr_path).read())}")
            time.sleep(2.0)
            p.send_signal(sig)
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            lib.kill_group(p)
            raise Failure(f"sensor did not exit within 30 s of {name}")
        finally:
            if p.poll() is None:
                lib.kill_group(p)
    stderr = open(r.stderr_path, errors="replace").read()
    expect(rc == 0, f"exit {rc} after {name}, expected 0; stderr:\n{lib.tail(stderr)}")
    n = lib.check_stream_framing(r.output, expect_trailer=True)
    records = lib.cat_json(r.output)
    expect(len(records) == n, f"cat printed {len(records)} records, the stream has {n}")
    problems = []
    by_tuple = collections.defaultdict(list)
    for x in records:
        by_tuple[lib.tuple_of(x)].append(x)
    for s in exp["sessions"]:
        got = by_tuple.get(lib.tuple_of(s), [])
        if len(got) != 1:
            problems.append(f"{s['name']}: {len(got)} records, expected 1")
            continue
        x = got[0]
        reason = lib.norm_enum("end_reason", x.get("end_reason"))
        if reason != "SHUTDOWN":
            problems.append(f"{s['name']}: end_reason {reason}, expected SHUTDOWN")
        for side in ("client", "server"):
            pk = int(x.get(f"{side}_packets", 0) or 0)
            if pk < s[f"{side}_packets"]:
                problems.append(f"{s['name']}: {side}_packets {pk} < {s[f'{side}_packets']} "
                                f"(one pass over the capture)")
    if len(records) != len(exp["sessions"]):
        problems.append(f"{len(records)} records, expected {len(exp['sessions'])}")
    report(problems, f"{len(records)} records flushed at {name}")
    stats = r.stats()
    expect(int(stats.get("records_written", -1)) == len(records),
           f"stats records_written {stats.get('records_written')} != {len(records)}")
    log(f"  replayed {lib.sum_workers(stats, 'packets')} packets before {name}")


# ---------------------------------------------------------------------------
# 7. The shipped capture: up to date with the generator, and its records.


def sample_capture():
    """tests/data/sample.pcap, the README's capture, is a lab capture
    (tests/lab/lab.py OUT --scenarios sample): its records and reports
    against the ground truth committed beside it, sample.truth.json."""
    shipped = os.path.join(lib.SOURCE_ROOT, "tests", "data", "sample.pcap")
    expect(os.path.exists(shipped), f"{shipped} is missing")
    # As scripts/run-sample.sh runs it: the sensor's defaults.
    r, records = lab.check_shipped_sample("sample_capture")
    stream = r.output
    n = lib.check_stream_framing(stream)
    expect(len(records) == n, f"cat printed {len(records)} records, the stream has {n}")
    truth = lab.load_truth(os.path.join(lib.SOURCE_ROOT, "tests", "data", "sample.truth.json"))
    stats = r.stats()
    problems = []
    rx = lib.port_counter(stats, "rx")
    if rx != truth["capture"]["packets"]:
        problems.append(f"stats: ports rx = {rx}, tcpdump wrote {truth['capture']['packets']}")
    for key in ("imissed", "nombuf"):
        if lib.port_counter(stats, key):
            problems.append(f"stats: ports {key} = {lib.port_counter(stats, key)}, expected 0")
    if lib.bad_by_reason(stats):
        problems.append(f"stats: bad_packets = {lib.bad_by_reason(stats)}, expected none")
    report(problems, "stats JSON")
    report(check_classic_and_csv(stream, records), "classic and csv formats")


def startup_memory_choice():
    """Issue 8: without --no-huge the sensor takes hugepages when enough are
    free and runs with --no-huge (4 KiB pages) otherwise, saying which; it
    reports the time from start to the first packet (log and stats JSON);
    the records are basic.pcap's all the same."""
    pcap, exp = lib.capture("basic")
    r = lib.Run("startup_memory_choice", "auto")
    cmd = [a for a in r.command(f"net_pcap0,rx_pcap={pcap}", list(exp["sensor_args"]))
           if a != "--no-huge"]
    r.run(cmd, timeout=120)
    if r.returncode != 0:
        raise Failure(f"sensor exited {r.returncode} without --no-huge; stderr:\n"
                      f"{lib.tail(r.stderr)}")
    problems = []
    huge = [line for line in r.stderr.splitlines() if "hugepages:" in line]
    if not huge:
        problems.append("no line says whether hugepages are used")
    elif " 0 MiB free" in huge[0] and "--no-huge" not in huge[0]:
        problems.append(f"no free hugepages but no fall-back to --no-huge: {huge[0]!r}")
    if not any("first packet" in line for line in r.stderr.splitlines()):
        problems.append("no start-up line with the time to the first packet")
    stats = r.stats()
    if not 0 <= stats.get("first_packet_s", -1) <= stats["elapsed_s"] + 3600:
        problems.append(f"stats: first_packet_s = {stats.get('first_packet_s')}")
    records = lib.cat_json(r.output)
    problems += lib.compare_records(records, exp["sessions"], sensor_id="e2e-basic")
    report(problems, f"{len(records)} records vs basic.expected.json, start-up report")


# ---------------------------------------------------------------------------
# 8. Issue 6: records exactly right on real-world captures. The tshark
# conformance test, snap-length and link-type variants, 1 vs 3 workers on all
# of them, one generated capture per class, broken files.


# Broken capture files (broken_files): the exit status the sensor must give.
# The integration decides these (and documents them in --help); adjust here.
EXIT_TRUNCATED_TAIL = 0  # a capture cut short while being written: a warning
EXIT_CORRUPT_MIDDLE = 3  # a record no reader could take (caplen 300000): the rest is unread
# The summary on stderr names the byte offset of the bad record (its header's
# offset or its data's, in decimal).
SUMMARY_NAMES_OFFSET = True

# Fields that depend on what was captured, not on the wire (fingerprints and
# FTP parsing use the captured bytes), or on the run.
RUN_FIELDS = ("session_id", "worker_id")
SNAP_DEPENDENT = ("client_fingerprint", "server_fingerprint", "client_simhash", "server_simhash",
                  "client_first_data_len", "server_first_data_len", "transient_server")
# Link fields: what a link-type rewrite may change.
LINK_FIELDS = ("vlan_outer", "vlan_inner", "vlan_count", "input_port")


def sensor_records(case, tag, pcap, args, workers=1, timeout=240):
    """Runs the sensor on `pcap`; (Run, records). Fails on a non-zero exit."""
    lcores = THREE_WORKER_LCORES if workers == 3 else None
    extra = ["--workers", "3"] if workers == 3 else []
    r = lib.run_sensor(case, tag, pcap, list(args) + extra, lcores, 768 if workers == 3 else 512,
                       timeout)
    n = lib.check_stream_framing(r.output)
    records = lib.cat_json(r.output)
    expect(len(records) == n, f"{tag}: flowtrail cat printed {len(records)} records, the "
           f"stream has {n}")
    return r, records


def record_key(r):
    n = int(r.get("vlan_count", 0) or 0)
    vlans = [int(r.get("vlan_outer", 0) or 0), int(r.get("vlan_inner", 0) or 0)][:min(n, 2)]
    return oracle.make_key(vlans, (lib.norm_ip(r.get("client_ip")), int(r.get("client_port", 0) or 0)),
                           (lib.norm_ip(r.get("server_ip")), int(r.get("server_port", 0) or 0)))


def conformance_problems(sessions, records, max_problems=15):
    """Sensor records against the oracle's sessions (rules in tshark_oracle.py).
    Returns (problems, stats)."""
    problems = []
    final = [r for r in records if not r.get("continuing")]
    ids = collections.Counter(str(r.get("session_id")) for r in final)
    dup_ids = [i for i, n in ids.items() if n > 1]
    if dup_ids:
        problems.append(f"{len(dup_ids)} session ids appear in more than one final record, "
                        f"e.g. {dup_ids[:3]}")
    tcp = [r for r in final if int(r.get("protocol", 0) or 0) == 6]
    by_key = collections.defaultdict(list)
    for r in tcp:
        by_key[record_key(r)].append(r)
    claims = collections.defaultdict(list)
    st = collections.Counter()
    for s in sessions:
        st["sessions"] += 1
        first, last = s.first_us, s.last_us
        cands = [r for r in by_key.get(s.key, [])
                 if int(r.get("first_time_us", 0)) <= last and int(r.get("last_time_us", 0)) >= first]
        where = (f"{s.key[1][0]}:{s.key[1][1]} <-> {s.key[2][0]}:{s.key[2][1]}"
                 f"{' vlan ' + '/'.join(map(str, s.key[0])) if s.key[0] else ''} "
                 f"(tshark stream {'+'.join(map(str, sorted(s.streams)))}, first frame "
                 f"{s.packets[0].frame}, {first} us)")
        for r in cands:
            claims[id(r)].append(s)
        if len(cands) > 1:
            problems.append(f"{where}: reported {len(cands)} times (session ids "
                            f"{[r.get('session_id') for r in cands]}, end reasons "
                            f"{[lib.norm_enum('end_reason', r.get('end_reason')) for r in cands]})")
            continue
        comparable = s.syn_seen and not s.merged and not s.tail
        if s.merged:
            st["merged"] += 1
        if s.tail:
            st["tails"] += 1
        if not comparable:
            st["not compared"] += 1
            if not cands:
                st["no record (not compared)"] += 1
            continue
        st["compared"] += 1
        if not cands:
            near = by_key.get(s.key, [])
            problems.append(f"{where}: no sensor record (records on this key: "
                            f"{[(r.get('first_time_us'), r.get('last_time_us')) for r in near][:4]})")
            continue
        r = cands[0]
        m = s.summary()
        diffs = []
        got_client = (lib.norm_ip(r.get("client_ip")), int(r.get("client_port", 0) or 0))
        if got_client != m["client"]:
            diffs.append(f"client {got_client[0]}:{got_client[1]}, tshark's SYN came from "
                         f"{m['client'][0]}:{m['client'][1]}")
        if int(r.get("first_time_us", 0)) != first:
            diffs.append(f"first_time_us {r.get('first_time_us')} != {first}")
        for f in ("client_packets", "server_packets", "client_payload_bytes",
                  "server_payload_bytes", "client_bytes", "server_bytes"):
            got = int(r.get(f, 0) or 0)
            if got != m[f]:
                diffs.append(f"{f} {got} != tshark {m[f]}")
        if diffs:
            problems.append(f"{where}: " + "; ".join(diffs))
    for rid, ss in claims.items():
        compared = [s for s in ss if s.syn_seen and not s.merged and not s.tail]
        if len(compared) > 1:
            r = next(x for x in tcp if id(x) == rid)
            problems.append(f"one record (session id {r.get('session_id')}, "
                            f"{r.get('client_ip')}:{r.get('client_port')}) covers "
                            f"{len(compared)} tshark sessions that each began with a SYN "
                            f"(5-tuple reuse merged?)")
    st["records"] = len(tcp)
    st["records without a tshark session"] = sum(1 for r in tcp if id(r) not in claims)
    if len(problems) > max_problems:
        problems = problems[:max_problems] + [f"... and {len(problems) - max_problems} more"]
    return problems, st


def conformance_inputs():
    """(name, pcap, sensor args) of every shared and every generated capture."""
    inputs = []
    d = lib.SHARED_CAPTURES
    if d and os.path.isdir(d):
        for name in sorted(os.listdir(d)):
            if name.endswith((".pcap", ".pcapng")):
                inputs.append((name, os.path.join(d, name), ["--sensor-id", "conformance"]))
    else:
        log(f"  no shared captures at {d!r}: generated captures only")
    for name in lib.ALL_CAPTURES:
        pcap, exp = lib.capture(name)
        inputs.append((name, pcap, exp["sensor_args"]))
    return inputs


def tshark_conformance():
    """Every shared and generated capture through the sensor and through
    tshark: for every TCP session whose SYN was seen, one record with equal
    packets, payload bytes and sequence-derived bytes per side; every session
    exactly once (see tshark_oracle.py for how streams map to sessions)."""
    if not oracle.available():
        raise Failure("tshark is not installed (scripts/install-deps.sh installs it)")
    problems = []
    for name, pcap, args in conformance_inputs():
        tag = os.path.splitext(name)[0]
        r = lib.Run("tshark_conformance", tag)
        r.run(r.command(f"net_pcap0,rx_pcap={pcap}", args), timeout=240)
        if r.returncode != 0:
            problems.append(f"{name}: sensor exited {r.returncode}: {lib.tail(r.stderr, 3)}")
            continue
        try:
            lib.check_stream_framing(r.output)
            records = lib.cat_json(r.output)
            sessions, frames = oracle.read_sessions(pcap, oracle.SessionRules.from_args(args))
        except (Failure, oracle.OracleError) as e:
            problems.append(f"{name}: {e}")
            continue
        ps, st = conformance_problems(sessions, records)
        log(f"  {name}: {frames} frames, tshark {st['sessions']} TCP sessions ({st['compared']} "
            f"with SYN compared, {st['merged']} merged, {st['tails']} tails), sensor "
            f"{st['records']} TCP records ({st['records without a tshark session']} without a "
            f"tshark session): {'ok' if not ps else f'{len(ps)} problem(s)'}")
        problems += [f"{name}: {p}" for p in ps]
    report(problems, "tshark conformance")


SNAP_CAPTURES = ("basic", "sample") + tuple(c for c in lib.ISSUE6_CAPTURES)
SNAP_LENGTHS = (64, 96)


def frames_not_fitting(records, n):
    """(protocol, address pair) of the frames whose headers do not fit in n
    bytes (pcap_variants.header_bytes): their sessions cannot be counted in
    full from what is captured, only as snapped packets."""
    out = set()
    for r in records:
        need = variants.header_bytes(r.data)
        if need is None or need <= n:
            continue
        info = _ip_info(r.data)
        if info:
            out.add(info)
    return out


def _ip_info(data):
    start = variants.ip_start(data)
    if start is None:
        return None
    et, at = start
    if et == 0x0800 and len(data) >= at + 20:
        a, b = data[at + 12:at + 16], data[at + 16:at + 20]
        return data[at + 9], frozenset((str(ipaddress.ip_address(a)),
                                        str(ipaddress.ip_address(b))))
    if et == 0x86DD and len(data) >= at + 40:
        a, b = data[at + 8:at + 24], data[at + 24:at + 40]
        return data[at + 6], frozenset((str(ipaddress.ip_address(a)),
                                        str(ipaddress.ip_address(b))))
    return None


def record_multiset(records, drop):
    return collections.Counter(lib.norm_record(r, drop=drop) for r in records)


def multiset_problems(a, b, label_a, label_b, limit=8):
    only_a, only_b = a - b, b - a
    problems = []
    for rec, n in list(only_a.items())[:limit]:
        problems.append(f"only in {label_a} (x{n}): {dict(rec)}")
    for rec, n in list(only_b.items())[:limit]:
        problems.append(f"only in {label_b} (x{n}): {dict(rec)}")
    if only_a or only_b:
        problems.append(f"{sum(only_a.values())} records only in {label_a}, "
                        f"{sum(only_b.values())} only in {label_b}")
    return problems


def snaplen_variants():
    """The generated captures cut to 64 and 96 bytes (wire lengths kept) give
    the same sessions, packets, payload and sequence-derived bytes, flags,
    states and times as the full captures, and no packet more counted as
    bad. What the comparison excludes: fields that use the captured bytes
    (SNAP_DEPENDENT: fingerprints, first-data lengths, FTP's transient flag)
    and, at a snap length shorter than a frame's link + IP + fixed L4 header
    (IPv6+TCP needs 74 bytes, so at 64 every IPv6 TCP packet), the sessions
    of such frames (by protocol and address pair): those packets can only be
    counted as snapped."""
    case = "snaplen_variants"
    problems = []
    for name in SNAP_CAPTURES:
        pcap, exp = lib.capture(name)
        linktype, _, recs = variants.read_pcap(pcap)
        r_full, full = sensor_records(case, f"{name}_full", pcap, exp["sensor_args"])
        bad_full = lib.bad_by_reason(r_full.stats())
        for n in SNAP_LENGTHS:
            path = os.path.join(lib.WORK_DIR, case, f"{name}_snap{n}.pcap")
            variants.write_pcap(path, linktype, n, variants.snap(recs, n))
            r_cut, cut = sensor_records(case, f"{name}_snap{n}", path, exp["sensor_args"])
            skip = frames_not_fitting(recs, n)

            def kept(x):
                return (int(x.get("protocol", 0) or 0),
                        frozenset((lib.norm_ip(x.get("client_ip")),
                                   lib.norm_ip(x.get("server_ip"))))) not in skip
            a = record_multiset([x for x in full if kept(x)], RUN_FIELDS + SNAP_DEPENDENT)
            b = record_multiset([x for x in cut if kept(x)], RUN_FIELDS + SNAP_DEPENDENT)
            excluded = sum(1 for x in full if not kept(x))
            ps = multiset_problems(a, b, "full capture", f"snap {n}")
            bad = lib.bad_by_reason(r_cut.stats())
            if bad != bad_full:
                ps.append(f"bad packets {bad}, the full capture has {bad_full} (a snapped "
                          f"packet is not bad)")
            log(f"  {name} at {n} bytes: {sum(a.values())} records compared, {excluded} "
                f"excluded (headers beyond {n} bytes): "
                f"{'ok' if not ps else f'{len(ps)} problem(s)'}")
            problems += [f"{name} snap {n}: {p}" for p in ps]
    report(problems, "snap-length variants")


LINK_VARIANTS = ((variants.LINUX_SLL, "pcap"), (variants.LINUX_SLL2, "pcap"),
                 (variants.RAW, "pcap"), (variants.RAW_OLD, "pcap"), (variants.RAW_BSD, "pcap"),
                 (variants.NULL, "pcap"), (variants.LOOP, "pcap"), (variants.IPV4, "pcap"),
                 (variants.IPV6, "pcap"), (variants.ETHERNET, "pcapng"),
                 (variants.LINUX_SLL2, "pcapng"))


def write_link_variant(case, name, linktype, fmt):
    pcap, exp = lib.capture(name)
    _, snaplen, recs = variants.read_pcap(pcap)
    out, dropped = variants.relink(recs, linktype)
    path = os.path.join(lib.WORK_DIR, case, f"{name}_{variants.NAMES[linktype]}.{fmt}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    (variants.write_pcapng if fmt == "pcapng" else variants.write_pcap)(path, linktype, snaplen,
                                                                         out)
    return path, exp, dropped


def link_type_variants():
    """link_plain.pcap (no VLAN, MPLS, fragments or non-IP) rewritten to each
    supported link type, and to pcapng, gives the same records as the
    Ethernet original apart from the link fields (LINK_FIELDS); on IPV4 and
    IPV6 the records of that IP version. basic.pcap as pcapng gives exactly
    its records."""
    case = "link_type_variants"
    pcap, exp = lib.capture("link_plain")
    _, base = sensor_records(case, "ethernet", pcap, exp["sensor_args"])
    problems = []
    for linktype, fmt in LINK_VARIANTS:
        path, _, dropped = write_link_variant(case, "link_plain", linktype, fmt)
        label = f"{variants.NAMES[linktype]} {fmt}"
        if linktype in (variants.IPV4, variants.IPV6):
            version = 4 if linktype == variants.IPV4 else 6
            want = [x for x in base if int(x.get("ip_version", 0) or 0) == version]
        else:
            want = base
            if dropped:
                problems.append(f"{label}: frames dropped by the rewrite: {dict(dropped)}")
        try:
            _, got = sensor_records(case, f"{variants.NAMES[linktype]}_{fmt}", path,
                                    exp["sensor_args"])
        except Failure as e:
            problems.append(f"{label}: {e}")
            continue
        ps = multiset_problems(record_multiset(want, RUN_FIELDS + LINK_FIELDS),
                               record_multiset(got, RUN_FIELDS + LINK_FIELDS), "EN10MB", label,
                               limit=3)
        log(f"  {label}: {len(got)} records (want {len(want)}): "
            f"{'ok' if not ps else f'{len(ps)} problem(s)'}")
        problems += [f"{label}: {p}" for p in ps]
    # The pcapng reader on everything basic.pcap holds (VLAN, MPLS, bad frames).
    bpcap, bexp = lib.capture("basic")
    _, brecs = sensor_records(case, "basic_pcap", bpcap, bexp["sensor_args"])
    path, _, _ = write_link_variant(case, "basic", variants.ETHERNET, "pcapng")
    try:
        _, ng = sensor_records(case, "basic_pcapng", path, bexp["sensor_args"])
        ps = multiset_problems(record_multiset(brecs, RUN_FIELDS), record_multiset(ng, RUN_FIELDS),
                               "basic.pcap", "basic.pcapng", limit=3)
    except Failure as e:
        ps = [str(e)]
    log(f"  basic as pcapng: {'ok' if not ps else f'{len(ps)} problem(s)'}")
    problems += [f"basic pcapng: {p}" for p in ps]
    report(problems, "link-type variants")


def workers_1_vs_3_variants():
    """1 worker and 3 workers give identical record sets (session and worker
    ids aside) on the issue-6 captures and on snap-length and link-type
    variants."""
    case = "workers_1_vs_3_variants"
    inputs = []
    for name in lib.ISSUE6_CAPTURES:
        pcap, exp = lib.capture(name)
        inputs.append((name, pcap, exp["sensor_args"]))
    for name in ("basic", "clock_glitch"):
        pcap, exp = lib.capture(name)
        linktype, _, recs = variants.read_pcap(pcap)
        for n in SNAP_LENGTHS:
            path = os.path.join(lib.WORK_DIR, case, f"{name}_snap{n}.pcap")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            variants.write_pcap(path, linktype, n, variants.snap(recs, n))
            inputs.append((f"{name}_snap{n}", path, exp["sensor_args"]))
    for linktype, fmt in ((variants.LINUX_SLL, "pcap"), (variants.LINUX_SLL2, "pcapng"),
                          (variants.RAW, "pcap"), (variants.NULL, "pcap")):
        path, exp, _ = write_link_variant(case, "link_plain", linktype, fmt)
        inputs.append((f"link_plain_{variants.NAMES[linktype]}_{fmt}", path, exp["sensor_args"]))
    problems = []
    for name, path, args in inputs:
        try:
            _, one = sensor_records(case, f"{name}_w1", path, args)
            _, three = sensor_records(case, f"{name}_w3", path, args, workers=3)
        except Failure as e:
            problems.append(f"{name}: {e}")
            continue
        ps = multiset_problems(record_multiset(one, RUN_FIELDS), record_multiset(three, RUN_FIELDS),
                               "1 worker", "3 workers", limit=3)
        if not one:
            ps.append("no records at all (an equal empty set proves nothing)")
        log(f"  {name}: {len(one)} vs {len(three)} records: "
            f"{'ok' if not ps else f'{len(ps)} problem(s)'}")
        problems += [f"{name}: {p}" for p in ps]
    report(problems, "1 vs 3 workers on the variants")


def non_ip_counts(stats):
    """Non-IP frames by class, from the stats JSON: a "non_ip" object
    ({"arp": 3, ...}) per worker and/or at the top level. None when absent."""
    total, found = collections.Counter(), False
    blocks = [stats] + list(stats.get("workers", []))
    for b in blocks:
        d = b.get("non_ip")
        if isinstance(d, dict):
            found = True
            for k, v in d.items():
                if int(v):
                    total[str(k).lower()] += int(v)
    return dict(total) if found else None


def issue6_capture(name):
    """A generated capture of one class: every expected record field by field
    (exactly once), no bad packet, counters consistent."""
    case = f"class_{name}"
    pcap, exp = lib.capture(name)
    r, records = sensor_records(case, "w1", pcap, exp["sensor_args"])
    final = [x for x in records if not x.get("continuing")]
    report(lib.compare_records(final, exp["sessions"], sensor_id=f"e2e-{name}"),
           f"{len(final)} records vs {name}.expected.json")
    stats = r.stats()
    problems = []
    bad = lib.bad_by_reason(stats)
    if bad != exp["bad_packets"]:
        problems.append(f"bad_packets = {bad}, expected {exp['bad_packets']} (bad means "
                        f"malformed, nothing else)")
    rx = lib.port_counter(stats, "rx")
    if rx != exp["frames"]:
        problems.append(f"ports rx = {rx}, the capture has {exp['frames']} frames")
    if exp.get("non_ip"):
        got = non_ip_counts(stats)
        if got != exp["non_ip"]:
            problems.append(f"non-IP frames by class = {got}, expected {exp['non_ip']} (stats "
                            f"JSON \"non_ip\" object)")
    for key in ("sessions_evicted", "sessions_active", "tracker_records_dropped",
                "export_ring_drops"):
        v = lib.sum_workers(stats, key)
        if v:
            problems.append(f"workers' {key} = {v}, expected 0")
    if lib.sum_workers(stats, "sessions_ended") != len(exp["sessions"]):
        problems.append(f"workers' sessions_ended = {lib.sum_workers(stats, 'sessions_ended')}, "
                        f"expected {len(exp['sessions'])}")
    if int(stats.get("ring_drops", 0)) or int(stats.get("records_written", -1)) != len(records):
        problems.append(f"ring_drops {stats.get('ring_drops')}, records_written "
                        f"{stats.get('records_written')} for {len(records)} records")
    report(problems, "stats JSON")


def broken_files():
    """A capture whose last record is cut short, and one with a record claiming
    caplen 300000 in the middle: input ends at the bad record, the records of
    the good packets before it are all there (as from a clean file of just
    those packets), the same on every run, with the exit status above
    (EXIT_TRUNCATED_TAIL, EXIT_CORRUPT_MIDDLE) and the offset in the summary."""
    case = "broken_files"
    pcap, exp = lib.capture("sample")
    _, _, recs = variants.read_pcap(pcap)
    d = os.path.join(lib.WORK_DIR, case)
    os.makedirs(d, exist_ok=True)
    problems = []
    for kind, (data, bad_index, offset), want_exit in (
            ("truncated_tail", variants.truncated_tail(recs), EXIT_TRUNCATED_TAIL),
            ("corrupt_middle", variants.corrupt_middle(recs), EXIT_CORRUPT_MIDDLE)):
        broken = os.path.join(d, f"{kind}.pcap")
        with open(broken, "wb") as f:
            f.write(data)
        prefix = os.path.join(d, f"{kind}_good_prefix.pcap")
        variants.write_pcap(prefix, variants.ETHERNET, 65535, recs[:bad_index])
        _, want = sensor_records(case, f"{kind}_prefix", prefix, exp["sensor_args"])
        want_set = record_multiset(want, RUN_FIELDS)
        runs = []
        for attempt in (1, 2):
            r = lib.Run(case, f"{kind}_run{attempt}")
            r.run(r.command(f"net_pcap0,rx_pcap={broken}", exp["sensor_args"]), timeout=60)
            label = f"{kind} run {attempt}"
            if r.returncode != want_exit:
                problems.append(f"{label}: exit {r.returncode}, expected {want_exit} "
                                f"(stderr: {lib.tail(r.stderr, 3)!r})")
            if SUMMARY_NAMES_OFFSET and not re.search(rf"\b({offset}|{offset + 16})\b", r.stderr):
                problems.append(f"{label}: the summary does not name the bad record's byte "
                                f"offset {offset}: {lib.tail(r.stderr, 4)!r}")
            try:
                lib.check_stream_framing(r.output)
                got = lib.cat_json(r.output)
            except Failure as e:
                problems.append(f"{label}: {e}")
                continue
            runs.append(record_multiset(got, RUN_FIELDS))
            problems += [f"{label}: {p}" for p in multiset_problems(
                want_set, runs[-1], f"the {bad_index} good packets alone", kind, limit=3)]
        if len(runs) == 2 and runs[0] != runs[1]:
            problems.append(f"{kind}: two runs gave different records")
        log(f"  {kind}: bad record {bad_index} at byte {offset}; {len(want)} records expected")
    report(problems, "broken capture files")


ISSUE6_CASES = {
    "tshark_conformance": tshark_conformance,
    "snaplen_variants": snaplen_variants,
    "link_type_variants": link_type_variants,
    "workers_1_vs_3_variants": workers_1_vs_3_variants,
    "broken_files": broken_files,
}
for _name in lib.ISSUE6_CAPTURES:
    ISSUE6_CASES[f"class_{_name}"] = (lambda n: lambda: issue6_capture(n))(_name)


def live_expiry_flood():
    """Live mode: 12000 half-open scan sessions time out together (a 1 s SYN
    timeout on wall-clock time) into record rings of 64: nearly 200 times
    what a ring holds. Expiry runs in batches the rings can take and the rest
    wait in the table: every session is written exactly once, none dropped
    (a worker that expired everything at once and dropped what the ring
    refused lost most of them)."""
    pcap, exp = lib.capture("scan_burst")
    sessions = len(exp["sessions"])
    r = lib.Run("live_expiry_flood", "w1")
    r.run(r.command(f"net_pcap0,rx_pcap={pcap}",
                    ["--no-capture", "--tcp-syn-timeout", "1", "--duration", "4",
                     "--record-ring-size", "64"]), timeout=60)
    expect(r.returncode == 0, f"sensor exited {r.returncode}: {lib.tail(r.stderr)}")
    n = lib.check_stream_framing(r.output)
    records = lib.cat_json(r.output)
    stats = r.stats()
    problems = []
    ids = collections.Counter(x["session_id"] for x in records)
    if n != sessions or len(ids) != sessions:
        problems.append(f"{n} records ({len(ids)} session ids) for {sessions} sessions")
    idle = sum(1 for x in records if lib.norm_enum("end_reason", x.get("end_reason")) ==
               "IDLE_TIMEOUT")
    if idle < sessions // 2:
        problems.append(f"only {idle} sessions ended by the timeout: no flood was tested")
    if lib.sum_workers(stats, "tracker_records_dropped") != 0:
        problems.append(f"stats: tracker_records_dropped = "
                        f"{lib.sum_workers(stats, 'tracker_records_dropped')}")
    if int(stats.get("records_written", -1)) != sessions:
        problems.append(f"stats: records_written = {stats.get('records_written')}")
    log(f"  {n} records, {idle} by the idle timeout")
    report(problems, "live expiry flood")


# ---------------------------------------------------------------------------
# Issue 7: `flowtrail report scans|servers` on the stories of
# generate_captures.cc's ScanStories (its own generator run, so that the
# shared capture set stays as it is), and on the real captures.


def report_rows(kind, files, *args, summary=None):
    cmd = [lib.CLI, "report", kind, "--format", "json", *args, *files]
    log("$ " + " ".join(cmd))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise Failure(f"flowtrail report {kind} exited {p.returncode}: {lib.tail(p.stderr)}")
    log("  " + p.stderr.strip().splitlines()[-1])
    if summary is not None:
        summary.append(p.stderr)
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def rank_of(rows, client, port=None):
    for i, r in enumerate(rows):
        if r["client"] == client and (port is None or r["port"] == port):
            return i + 1, r
    return None, None


def scan_stories():
    out = os.path.join(lib.WORK_DIR, "scan_stories")
    os.makedirs(out, exist_ok=True)
    subprocess.run([lib.GENERATOR, out, "--only", "scan_stories"], check=True,
                   stdout=subprocess.DEVNULL)
    pcap = os.path.join(out, "scan_stories.pcap")
    with open(os.path.join(out, "scan_stories.expected.json")) as f:
        exp = json.load(f)
    r = lib.run_sensor("scan_stories", "w3", pcap, list(exp["sensor_args"]) + ["--workers", "3"],
                       THREE_WORKER_LCORES, memory=768)
    problems = []
    # (a) the blind scanner ranks first with --data-only --by servers.
    rows = report_rows("scans", [r.output], "--data-only", "--by", "servers")
    if not rows or rows[0]["client"] != "10.20.0.66" or rows[0]["port"] != 23:
        problems.append(f"--data-only --by servers: first row {rows[:1]}, expected the blind "
                        f"scanner 10.20.0.66 port 23")
    else:
        a = rows[0]
        want = {"silents": 2995, "data": 5, "success": 5, "count": 2995, "after": 4}
        for k, v in want.items():
            # Thousands of servers: a HyperLogLog estimate (3 standard errors).
            tol = 0.07 * v if k in ("silents", "count") else 0
            if abs(a[k] - v) > tol:
                problems.append(f"scanner row {k} = {a[k]}, expected {v}")
        if a["verdict"] != "scanner":
            problems.append(f"scanner verdict {a['verdict']}")
        if abs(a["blind"] - 2995) > 0.07 * 2995:
            problems.append(f"scanner blind = {a['blind']}, expected ~2995 (never answered)")
    # (b) the relay: high by sessions, far down by servers.
    by_sessions = report_rows("scans", [r.output], "--by", "sessions")
    by_servers = report_rows("scans", [r.output])
    rs, row_s = rank_of(by_sessions, "10.20.0.25", 25)
    rv, row_v = rank_of(by_servers, "10.20.0.25", 25)
    if rs is None or rs > 2 or row_s["silents"] != 2000:
        problems.append(f"relay by sessions: rank {rs}, row {row_s} (expected rank <= 2, "
                        f"2000 silents)")
    if rv is None or rv <= 13 or row_v["count"] != 1:
        problems.append(f"relay by servers: rank {rv}, row {row_v} (expected below the 12 web "
                        f"clients and the scanners, count 1)")
    if row_v and row_v["verdict"] == "scanner":
        problems.append("the relay is called a scanner")
    # (c) P2P: its many first contacts, mostly successes, make it benign.
    # (d) the busy client has only 3 first contacts (its 3 servers): three
    # successes are not yet proof (ln 0.25^3 > ln 0.0101), so pending, and
    # hundreds of repeat sessions add no evidence either way.
    for client, port, story, verdict in (("10.20.0.77", 6881, "P2P-like client", "benign"),
                                         ("10.20.0.88", 443, "busy client", "pending")):
        _, row = rank_of(by_servers, client, port)
        if row is None or row["verdict"] != verdict:
            problems.append(f"{story} {client}: {row} (expected verdict {verdict})")
    _, busy = rank_of(by_sessions, "10.20.0.88", 443)
    if busy and (busy["success"] != 500 or busy["data"] != 500 or busy["count"] != 0):
        problems.append(f"busy client row {busy}: expected 500 successes with data, count 0")
    # Active servers: the 3 HTTPS servers, the 4 web servers, 3 mail servers ...
    servers = report_rows("servers", [r.output])
    https = [s for s in servers if s["port"] == 443]
    if len(https) != 3 or sum(s["accepts"] for s in https) != 500:
        problems.append(f"active HTTPS servers {https}: expected 3 with 500 accepts")
    if any(s["server"] == "10.40.0.9" for s in servers):
        problems.append("the dead mail server 10.40.0.9 is listed as active")
    # Bounded keys: 5 rows kept, the coldest evicted and counted; a memory
    # budget is reported.
    summary = []
    few = report_rows("scans", [r.output], "--max-keys", "5", summary=summary)
    m = re.search(r"evicted (\d+) rows", summary[-1])
    # (An evicted key that comes back is a new key: evictions can exceed the
    # keys that are missing at the end.)
    if len(few) != 5 or not m or int(m.group(1)) < len(by_servers) - 5:
        problems.append(f"--max-keys 5: {len(few)} rows, summary {summary[-1].strip()!r} "
                        f"(expected 5 rows and at least {len(by_servers) - 5} evicted)")
    report_rows("scans", [r.output], "--analytics-memory", "64k", summary=summary)
    m = re.search(r"memory (\d+) bytes \(budget 65536", summary[-1])
    if not m or int(m.group(1)) > 65536:
        problems.append(f"--analytics-memory 64k: summary {summary[-1].strip()!r}")
    # Workers interleave records: 1 worker gives the same report as 3.
    r1 = lib.run_sensor("scan_stories", "w1", pcap, exp["sensor_args"])
    for args in (("--by", "sessions"), ()):
        if report_rows("scans", [r1.output], *args) != report_rows("scans", [r.output], *args):
            problems.append(f"report scans {' '.join(args)}: 1 worker differs from 3")
    # Two files (the 1- and 3-worker streams) give the same rows as one, with
    # every count doubled (each session counted once per stream).
    both = report_rows("scans", [r1.output, r.output], "--by", "sessions")
    _, relay2 = rank_of(both, "10.20.0.25", 25)
    if not relay2 or relay2["silents"] != 4000:
        problems.append(f"relay over two streams: {relay2} (expected 4000 silents)")
    report(problems, "scan stories")


def report_text(kind, files, *args):
    """stdout of `flowtrail report KIND --format json` (compared exactly)."""
    cmd = [lib.CLI, "report", kind, "--format", "json", *args, *files]
    log("$ " + " ".join(cmd))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise Failure(f"flowtrail report {kind} exited {p.returncode}: {lib.tail(p.stderr)}")
    return p.stdout


def split_by_host_pair(records):
    """Two captures, each packet going by its unordered IPv4/IPv6 address pair
    (every packet of a conversation in one half; the halves interleave in
    time, so acceptances and failures of one server land in both)."""
    halves = ([], [])
    for r in records:
        start = variants.ip_start(r.data)
        key = b""
        if start is not None:
            et, at = start
            if et == 0x0800 and len(r.data) >= at + 20:
                a, b = r.data[at + 12:at + 16], r.data[at + 16:at + 20]
                key = min(a, b) + max(a, b)
            elif et == 0x86DD and len(r.data) >= at + 40:
                a, b = r.data[at + 8:at + 24], r.data[at + 24:at + 40]
                key = min(a, b) + max(a, b)
        halves[zlib.crc32(key) & 1].append(r)
    return halves


def scan_halves():
    """Issue 7: order-free, mergeable scan tables. The scan stories split into
    two captures: report over the two halves' streams == report over the
    whole capture's stream, and report --from snapshots over snapshots of
    each half == the same, compared as exact JSON."""
    out = os.path.join(lib.WORK_DIR, "scan_halves")
    os.makedirs(out, exist_ok=True)
    subprocess.run([lib.GENERATOR, out, "--only", "scan_stories"], check=True,
                   stdout=subprocess.DEVNULL)
    pcap = os.path.join(out, "scan_stories.pcap")
    with open(os.path.join(out, "scan_stories.expected.json")) as f:
        exp = json.load(f)
    linktype, snaplen, records = variants.read_pcap(pcap)
    parts = []
    for i, half in enumerate(split_by_host_pair(records)):
        path = os.path.join(out, f"half{i}.pcap")
        variants.write_pcap(path, linktype, snaplen, half)
        parts.append((path, len(half)))
    log(f"  halves: {parts[0][1]} and {parts[1][1]} of {len(records)} packets")
    problems = []
    if min(n for _, n in parts) < len(records) // 5:
        problems.append(f"uneven split {parts}")
    whole = lib.run_sensor("scan_halves", "whole", pcap, exp["sensor_args"]).output
    halves = [lib.run_sensor("scan_halves", f"half{i}", path, list(exp["sensor_args"]) +
                             (["--workers", "3"] if i else []),
                             THREE_WORKER_LCORES if i else None).output
              for i, (path, _) in enumerate(parts)]
    snaps = []
    for i, h in enumerate(halves):
        snap_path = os.path.join(out, f"half{i}.snapshot")
        cmd = [lib.CLI, "report", "snapshot", "-o", snap_path, h]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise Failure(f"{' '.join(cmd)} exited {p.returncode}: {lib.tail(p.stderr)}")
        snaps.append(snap_path)
    reports = (("scans", "--by", "sessions"), ("scans", "--by", "servers"),
               ("scans", "--data-only"), ("servers", "--all"), ("servers",))
    for kind, *args in reports:
        name = " ".join([kind, *args])
        want = report_text(kind, [whole], *args)
        if len(want.splitlines()) < 10:
            problems.append(f"report {name}: only {len(want.splitlines())} rows on the whole")
        if report_text(kind, halves, *args) != want:
            problems.append(f"report {name}: the two halves' streams differ from the whole")
        if report_text(kind, snaps, "--from", "snapshots", *args) != want:
            problems.append(f"report {name} --from snapshots: the halves' snapshots differ "
                            f"from the whole")
    # The halves really disagree on their own (the merge is what makes them
    # equal): one half alone is not the whole.
    if report_text("scans", [halves[0]]) == report_text("scans", [whole]):
        problems.append("one half alone gives the whole report: the split is degenerate")
    # flowtrail cat reads a stream with a snapshot frame: no records, a note.
    p = subprocess.run([lib.CLI, "cat", "--show-header", snaps[0]], capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0 or p.stdout.strip() or "1 snapshot frames" not in p.stderr:
        problems.append(f"flowtrail cat on a snapshot stream: exit {p.returncode}, stdout "
                        f"{p.stdout[:200]!r}, stderr {lib.tail(p.stderr)!r}")
    report(problems, "scan halves: records and snapshots merge into the whole")


def scan_golden():
    d = lib.SHARED_CAPTURES
    names = ("scan__zeek_nmap-vsn", "mixed__zeek_ssh_single-conn", "mixed__zeek_smtp")
    if not d or not all(os.path.exists(os.path.join(d, n + ".pcap")) for n in names):
        raise Skip("the shared captures are not here")
    problems = []
    for n in names:
        r = lib.run_sensor("scan_golden", n, os.path.join(d, n + ".pcap"), [])
        rows = report_rows("scans", [r.output])
        scanners = sorted({x["client"] for x in rows if x["verdict"] == "scanner"})
        log(f"  {n}: {len(rows)} rows, scanners {scanners}; top {rows[:2]}")
        if n.startswith("scan__"):
            if not scanners or rows[0]["verdict"] != "scanner":
                problems.append(f"{n}: the scanner is not called a scanner (rows {rows[:3]})")
        elif scanners:
            problems.append(f"{n}: scanner verdict for {scanners}")
    report(problems, "golden scan verdicts")


CASES = {
    "live_expiry_flood": live_expiry_flood,
    "basic_records": basic_records,
    "basic_records_3_workers": basic_records_3_workers,
    "ftp_transient_3_workers": ftp_transient_3_workers,
    "workers_1_vs_3": workers_1_vs_3,
    "large_capture_lossless": large_capture_lossless,
    "table_pressure_evicts": table_pressure_evicts,
    "active_timeout_interim": active_timeout_interim,
    "shared_captures": shared_captures,
    "bad_options": bad_options,
    "write_errors": write_errors,
    "sigterm_live": sigterm_live,
    "sample_capture": sample_capture,
    "startup_memory_choice": startup_memory_choice,
    **ISSUE6_CASES,
    "scan_stories": scan_stories,
    "scan_halves": scan_halves,
    "scan_golden": scan_golden,
    **PORTS_CASES,
    **CLUSTERS_CASES,
    **LIVE_CASES,
    **LAB_CASES,
}

if __name__ == "__main__":
    sys.exit(lib.main(CASES))
