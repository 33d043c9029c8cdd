"""The ClickHouse cluster test (issue 9): a real two-shard cluster (two
clickhouse-server processes on loopback, their own ports and directories, config
written here), the schema of deploy/clickhouse/schema.sql, the sensor's records of
generated captures loaded with `flowtrail clickhouse-load` (one) and through
`flowtrail collect --clickhouse` fed by the sensor over loopback (the other), then
deploy/clickhouse/scans.sql and ports.sql compared with `flowtrail report scans` and
`report ports` number for number; both shards hold rows, and loading the same file
again (and a retry whose INSERT response was lost) stores nothing twice.

Usage: e2e_clickhouse.py CASE (see CASES); skips (77) when clickhouse-server is not
installed (scripts/install-deps.sh installs it).
"""

import json
import re
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import e2e_lib as lib
from e2e_cases import report_text as report_rows
from e2e_collect import CollectorProc  # noqa: E402  (flowtrail collect as a process)
from e2e_lib import Failure, Skip, log, report

SERVER = shutil.which("clickhouse-server") or (
    "/usr/bin/clickhouse-server" if os.path.exists("/usr/bin/clickhouse-server") else None)
DEPLOY = os.path.join(lib.SOURCE_ROOT, "deploy", "clickhouse")

CONFIG = """<?xml version="1.0"?>
<clickhouse>
  <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/error.log</errorlog>
    <size>10M</size><count>1</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http}</http_port>
  <tcp_port>{tcp}</tcp_port>
  <interserver_http_port>{inter}</interserver_http_port>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <remote_servers>
    <flowtrail>
{shards}
    </flowtrail>
  </remote_servers>
</clickhouse>
"""

SHARD = """      <shard><replica><host>127.0.0.1</host><port>{tcp}</port></replica></shard>"""

USERS = """<?xml version="1.0"?>
<clickhouse>
  <profiles><default><max_memory_usage>1000000000</max_memory_usage>
    <max_threads>2</max_threads></default></profiles>
  <users><default><password></password>
    <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
  </interval></default></quotas>
</clickhouse>
"""


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class Cluster:
    """Two clickhouse-server processes, shards of the cluster `flowtrail`."""

    def __init__(self, root, shards=2):
        self.root = root
        shutil.rmtree(root, ignore_errors=True)
        ports = free_ports(3 * shards)
        self.http = ports[0::3]
        self.tcp = ports[1::3]
        inter = ports[2::3]
        shard_xml = "\n".join(SHARD.format(tcp=t) for t in self.tcp)
        self.procs = []
        for i in range(shards):
            d = os.path.join(root, f"shard{i + 1}")
            for sub in ("data", "tmp", "user_files", "format_schemas"):
                os.makedirs(os.path.join(d, sub))
            with open(os.path.join(d, "users.xml"), "w") as f:
                f.write(USERS)
            conf = os.path.join(d, "config.xml")
            with open(conf, "w") as f:
                f.write(CONFIG.format(d=d, http=self.http[i], tcp=self.tcp[i], inter=inter[i],
                                      shards=shard_xml))
            log(f"$ {SERVER} --config-file={conf}  (shard {i + 1}: http {self.http[i]}, "
                f"tcp {self.tcp[i]})")
            out = open(os.path.join(d, "stdout.log"), "w")
            self.procs.append(subprocess.Popen([SERVER, f"--config-file={conf}"], stdout=out,
                                               stderr=subprocess.STDOUT, cwd=d))
            out.close()
        for i in range(shards):
            self.wait_ready(i)

    def url(self, i=0):
        return f"http://127.0.0.1:{self.http[i]}/"

    def wait_ready(self, i):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.procs[i].poll() is not None:
                raise Failure(f"clickhouse-server shard {i + 1} exited "
                              f"{self.procs[i].returncode}: see {self.root}/shard{i + 1}")
            try:
                with urllib.request.urlopen(self.url(i) + "ping", timeout=2) as r:
                    if r.read().strip() == b"Ok.":
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise Failure(f"clickhouse-server shard {i + 1} not ready within 60 s")

    def query(self, sql, i=0):
        req = urllib.request.Request(self.url(i), data=sql.encode(), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.read().decode()
        except urllib.error.HTTPError as e:
            raise Failure(f"shard {i + 1}: {sql[:120]!r}: HTTP {e.code}: "
                          f"{e.read().decode(errors='replace')[:600]}")

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def statements(path):
    """The statements of an SQL file: comment lines dropped, split at ';'."""
    with open(path) as f:
        text = "\n".join(line for line in f.read().splitlines()
                         if not line.lstrip().startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


def tsv_rows(text):
    lines = [line for line in text.splitlines() if line]
    if not lines:
        return []
    names = lines[0].split("\t")
    return [dict(zip(names, line.split("\t"))) for line in lines[1:]]


def load(cluster, files, *extra):
    cmd = [lib.CLI, "clickhouse-load", "--url", cluster.url(0), "--batch", "500", *extra, *files]
    log("$ " + " ".join(cmd))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise Failure(f"clickhouse-load exited {p.returncode}: {lib.tail(p.stderr)}")
    log("  " + p.stderr.strip().splitlines()[-1])
    return p.stderr


def sensor_records(name, extra_args=()):
    """The sensor's stream of a generated capture (generated here if missing)."""
    out = os.path.join(lib.WORK_DIR, "clickhouse_captures")
    os.makedirs(out, exist_ok=True)
    if not os.path.exists(os.path.join(out, f"{name}.pcap")):
        subprocess.run([lib.GENERATOR, out, "--only", name], check=True,
                       stdout=subprocess.DEVNULL)
    with open(os.path.join(out, f"{name}.expected.json")) as f:
        exp = json.load(f)
    r = lib.run_sensor("clickhouse_cluster", name, os.path.join(out, f"{name}.pcap"),
                       list(exp["sensor_args"]) + list(extra_args), memory=768)
    lib.check_stream_framing(r.output)
    return r.output


def compare_scans(cluster, files):
    sql = statements(os.path.join(DEPLOY, "scans.sql"))[0]
    got = {(r["client"], int(r["port"])): r for r in tsv_rows(cluster.query(sql))}
    by_servers = [json.loads(x) for x in report_rows("scans", files).splitlines() if x.strip()]
    by_sessions = [json.loads(x) for x in report_rows("scans", files, "--by", "sessions")
                   .splitlines() if x.strip()]
    problems = []
    want = {(r["client"], r["port"]): r for r in by_servers}
    if set(got) != set(want):
        problems.append(f"rows: {len(got)} from SQL, {len(want)} from the report; only in SQL "
                        f"{sorted(set(got) - set(want))[:5]}, only in the report "
                        f"{sorted(set(want) - set(got))[:5]}")
    exact = sketched = 0
    cols = ("rejects", "silents", "success", "data", "count", "disjoint")
    for key, w in want.items():
        g = got.get(key)
        if g is None:
            continue
        sql_values = {c: int(g["scan_count" if c == "count" else c]) for c in cols}
        if w["est"]:
            # HyperLogLog rows: the report estimates, the SQL counts (README.md).
            sketched += 1
            for c in cols:
                if abs(sql_values[c] - w[c]) > max(2, 0.07 * sql_values[c]):
                    problems.append(f"{key} (est) {c}: SQL {sql_values[c]}, report {w[c]}")
            continue
        exact += 1
        for c in cols:
            if sql_values[c] != w[c]:
                problems.append(f"{key} {c}: SQL {sql_values[c]}, report {w[c]}")
    for w in by_sessions:
        g = got.get((w["client"], w["port"]))
        if g is None:
            continue
        for c in ("rejects", "silents", "success", "data", "count"):
            v = int(g[("scan_count" if c == "count" else c) + "_sessions"])
            if v != w[c]:
                problems.append(f"{(w['client'], w['port'])} {c} by sessions: SQL {v}, "
                                f"report {w[c]}")
    # The order of the report (by servers) over the exact rows.
    order_sql = [k for k in (tuple(x) for x in got) if k in want and not want[k]["est"]]
    order_rep = [k for k in want if not want[k]["est"]]
    if order_sql != order_rep:
        problems.append("row order differs from the report's")
    log(f"  scans: {len(got)} rows, {exact} exact rows equal number for number, {sketched} "
        f"sketched rows within the estimate's error, sessions columns equal on all")
    if exact < 10:
        problems.append(f"only {exact} exact rows compared: the capture lost its scan stories")
    report(problems, "scans.sql vs flowtrail report scans")


def compare_ports(cluster, files):
    sql = statements(os.path.join(DEPLOY, "ports.sql"))[0]
    got = tsv_rows(cluster.query(sql))
    p = subprocess.run([lib.CLI, "report", "ports", "--format", "csv", *files],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise Failure(f"report ports exited {p.returncode}: {lib.tail(p.stderr)}")
    lines = p.stdout.splitlines()
    names = lines[0].split(",")
    want = [r for r in (dict(zip(names, x.split(","))) for x in lines[1:])
            if r["method"] == "goldfarb"]
    problems = []
    key = ("window_start_us", "server_port", "client_port", "flows", "client_ports")
    gk = [tuple(int(r[k]) for k in key) for r in got]
    wk = [tuple(int(r[k]) for k in key) for r in want]
    if gk != wk:
        problems.append(f"goldfarb flags: SQL {gk[:5]}, report {wk[:5]}")
    for g, w in zip(got, want):
        for c in ("mean", "stddev", "threshold"):
            if abs(float(g[c]) - float(w[c])) > 1e-5 * max(1.0, abs(float(w[c]))):
                problems.append(f"{g['server_port']}/{g['client_port']} {c}: SQL {g[c]}, "
                                f"report {w[c]}")
    log(f"  ports: {len(got)} goldfarb flags from SQL, {len(want)} from the report: {gk[:3]}")
    if not want:
        problems.append("the report flags nothing: the capture lost its fixed-source-port scan")
    report(problems, "ports.sql vs flowtrail report ports")


def count(cluster, table="flowtrail.sessions", i=0):
    return int(cluster.query(f"SELECT count() FROM {table}", i).strip())


def clickhouse_cluster():
    if SERVER is None:
        raise Skip("clickhouse-server is not installed (scripts/install-deps.sh installs it)")
    files = [sensor_records("scan_stories")]
    cluster = Cluster(os.path.join(lib.WORK_DIR, "clickhouse_cluster", "servers"))
    try:
        for i in range(2):
            for s in statements(os.path.join(DEPLOY, "schema.sql")):
                cluster.query(s, i)
        log(f"  schema created on both shards; server {cluster.query('SELECT version()')}")

        # The first file with the responses of two INSERTs lost: the retries find the
        # rows stored (the journal says 'started') and send nothing twice.
        out = load(cluster, files[:1], "--test-lose-insert-responses", "2")
        problems = []
        if " 2 retries" not in out or " 2 looked up" not in out:
            problems.append(f"the lost responses were not retried and looked up: {out}")
        # The second stream the way a site runs it: sensor -> `flowtrail collect
        # --clickhouse` over loopback, the collector loading what it made durable.
        cdir = os.path.join(lib.WORK_DIR, "clickhouse_cluster", "collector")
        shutil.rmtree(cdir, ignore_errors=True)
        os.makedirs(cdir)
        collector = CollectorProc(cdir, ["--dir", cdir, "--clickhouse", cluster.url(0)])
        try:
            files.append(sensor_records("ports_fixed_sport_scan",
                                        ["--collector", f"127.0.0.1:{collector.port}"]))
        finally:
            rc = collector.stop()
        n_second = len(lib.cat_json(files[1]))
        m = re.search(r"clickhouse: (\d+) records loaded, (\d+) failed, (\d+) dropped",
                      collector.log())
        log("  collector: " + (m.group(0) if m else lib.tail(collector.log(), 5)))
        if rc != 0 or not m or m.groups() != (str(n_second), "0", "0"):
            problems.append(f"collect --clickhouse (exit {rc}) did not load all {n_second} "
                            f"records: {lib.tail(collector.log(), 8)}")
        n_records = sum(len(lib.cat_json(f)) for f in files)
        total = count(cluster)
        if total != n_records:
            problems.append(f"{total} rows stored, {n_records} records in the streams")
        dup = cluster.query("SELECT count() FROM (SELECT sensor_id, run_id, sequence, count() "
                            "AS n FROM flowtrail.sessions GROUP BY sensor_id, run_id, sequence "
                            "HAVING n > 1)").strip()
        if dup != "0":
            problems.append(f"{dup} sequence numbers stored more than once")
        runs = cluster.query("SELECT sensor_id, run_id, min(sequence), max(sequence), count() "
                             "FROM flowtrail.sessions GROUP BY sensor_id, run_id "
                             "ORDER BY sensor_id FORMAT TabSeparated").splitlines()
        log(f"  runs: {runs}")
        if len(runs) != 2 or any(r.split("\t")[1] == "" for r in runs):
            problems.append(f"expected two (sensor_id, run_id) with run ids: {runs}")
        shards = [count(cluster, "flowtrail.sessions_local", i) for i in range(2)]
        log(f"  {total} rows: shard 1 {shards[0]}, shard 2 {shards[1]}")
        if min(shards) == 0 or sum(shards) != total:
            problems.append(f"rows per shard {shards}, total {total}")
        # Every row on the shard its client address hashes to.
        for i in range(2):
            wrong = cluster.query(
                f"SELECT count() FROM flowtrail.sessions_local WHERE "
                f"cityHash64(client_ip) % 2 != {i}", i).strip()
            if wrong != "0":
                problems.append(f"shard {i + 1}: {wrong} rows of the other shard")
        # The same files again: every batch already stored, nothing inserted.
        out = load(cluster, files)
        if count(cluster) != total or " 0 rows inserted" not in out:
            problems.append(f"loading again changed the table: {count(cluster)} rows, {out}")
        report(problems, "load, shards and deduplication")

        compare_scans(cluster, files)
        compare_ports(cluster, files)
    finally:
        cluster.stop()
    log("  servers stopped")


CASES = {"clickhouse_cluster": clickhouse_cluster}

if __name__ == "__main__":
    sys.exit(lib.main(CASES))
