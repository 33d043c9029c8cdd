#!/usr/bin/env python3
"""End-to-end tests: the real flowtrail-sensor on captures, read back with
`flowtrail cat`, compared field by field with what the capture generator says
each session's record must contain.

    e2e_cases.py CASE      (meson runs one test() per case; see meson.build)
    meson test -C build --suite e2e [e2e_CASE]

Exit 0 pass, 1 fail, 77 skip (the shared captures when absent). Each run's
stream, stats JSON and stderr stay in BUILD/tests/e2e/work/CASE/ for a look.
tests/data/sample.pcap is the generator's `sample` capture; after changing
the generator, refresh it with
    BUILD/tests/captures/generate_captures DIR --only sample && cp DIR/sample.pcap tests/data/
"""

import collections
import csv
import io
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as lib  # noqa: E402
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
SHARED_BAD = {
    "bad__suricata_ipv4-truncated.pcap": {"ipv4_total_length_beyond_capture": 1},
    # The "malformed" packet carries IPv4 options (security, EOL) that Suricata
    # rejects; its header lengths are sound, so it is a packet of the session.
    "bad__suricata_tcp-session-decode-malformed-ipv4.pcap": {},
    "bad__tcpdump_ipv6_invalid_length.pcap": {"truncated_ipv6": 1},
    # Wire length 262144, caplen 46: net_pcap gives the mbuf caplen as pkt_len,
    # so the IPv4 total length (12336) is beyond what the parser is told.
    "bad__tcpdump_tcp_header_heapoverflow.pcap": {"ipv4_total_length_beyond_capture": 1},
    "bad__zeek_ip-bogus-header-len.pcap": {"ipv4_total_length_too_short": 1},
    "bad__zeek_ip4-trunc.pcap": {"truncated_ipv4": 1},
    "bad__zeek_ip6-trunc.pcap": {"truncated_ipv6": 1},
    "bad__zeek_ipv4-truncated-broken-header.pcap": {"bad_ipv4_header_length": 1},
    # Snap length 54: the 12 frames whose IPv4 total length exceeds the 54
    # captured bytes are refused, because net_pcap hands the sensor the
    # captured length as the packet length (the wire length is lost).
    "bad__zeek_tcp_truncated-header.pcap": {"ipv4_total_length_beyond_capture": 12},
    "bad__zeek_trunc-hdr.pcap": {"truncated_ethernet": 1},
    "mixed__zeek_wikipedia.pcap": {"arp": 6, "llc": 4},  # ARP, STP (non-IP by class)
    # 5 frames really are shorter than their IPv4 total length (wire = caplen).
    "retrans__zeek_reassembly.pcap": {"ipv4_total_length_beyond_capture": 5},
    "scan__zeek_nmap-vsn.pcap": {"arp": 503},  # ARP sweep (non-IP)
}

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
    ]
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
    # --help documents every option of the contract and exits 0.
    p = subprocess.run([lib.SENSOR, "--", "--help"], capture_output=True, text=True, timeout=30)
    text = p.stdout + p.stderr
    if p.returncode != 0:
        problems.append(f"--help: exit {p.returncode}")
    for opt in ("--output", "--sensor-id", "--workers", "--capture", "--protected-nets",
                "--full-analysis", "--table-size", "--tcp-syn-timeout", "--tcp-idle-timeout",
                "--tcp-closing-timeout", "--tcp-linger", "--udp-timeout", "--icmp-timeout",
                "--active-timeout", "--status-interval", "--stats-json"):
        if opt not in text:
            problems.append(f"--help does not document {opt}")
    report(problems, "bad options and input")


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
    shipped = os.path.join(lib.SOURCE_ROOT, "tests", "data", "sample.pcap")
    generated, exp = lib.capture("sample")
    expect(os.path.exists(shipped), f"{shipped} is missing")
    with open(shipped, "rb") as a, open(generated, "rb") as b:
        expect(a.read() == b.read(),
               f"{shipped} differs from the generator's output; regenerate it with "
               f"`generate_captures DIR --only sample` and copy DIR/sample.pcap")
    # As scripts/run-sample.sh runs it: the sensor's defaults.
    r = lib.run_sensor("sample_capture", "w1", shipped, exp["sensor_args"])
    n = lib.check_stream_framing(r.output)
    records = lib.cat_json(r.output)
    expect(len(records) == n, f"cat printed {len(records)} records, the stream has {n}")
    report(lib.compare_records(records, exp["sessions"]), f"{n} records vs sample.expected.json")
    report(check_stats(r.stats(), exp, 1, n), "stats JSON")
    report(check_classic_and_csv(r.output, records), "classic and csv formats")
    summary = r.stderr.strip()
    expect(summary, "no summary on stderr")


CASES = {
    "basic_records": basic_records,
    "basic_records_3_workers": basic_records_3_workers,
    "ftp_transient_3_workers": ftp_transient_3_workers,
    "workers_1_vs_3": workers_1_vs_3,
    "large_capture_lossless": large_capture_lossless,
    "table_pressure_evicts": table_pressure_evicts,
    "active_timeout_interim": active_timeout_interim,
    "shared_captures": shared_captures,
    "bad_options": bad_options,
    "sigterm_live": sigterm_live,
    "sample_capture": sample_capture,
}

if __name__ == "__main__":
    sys.exit(lib.main(CASES))
