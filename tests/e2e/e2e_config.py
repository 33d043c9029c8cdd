"""e2e cases of the configuration file (issue 11, "Configuration"): every
example in deploy/sensor/ is accepted by the real sensor's parser and its
--print-config reads back to the same text; each kind of bad file exits 2
naming the key, the value and what is allowed; SIGHUP on a running sensor
applies a new protected-network list (records of later sessions carry the new
inbound flag) and refuses a change that needs a restart.
"""

import glob
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time

import e2e_lib as lib
from e2e_lib import Failure, Skip, expect, log, report


def sensor(args, timeout=60):
    return subprocess.run([lib.SENSOR, "--"] + args, capture_output=True, text=True,
                          timeout=timeout)


def work(case):
    d = os.path.join(lib.WORK_DIR, case)
    os.makedirs(d, exist_ok=True)
    return d


def case_config_examples():
    examples = sorted(glob.glob(os.path.join(lib.SOURCE_ROOT, "deploy", "sensor", "*.toml")))
    expect(len(examples) >= 4, f"expected the 10/25/40/100 GbE examples, found {examples}")
    d = work("config_examples")
    problems = []
    for path in examples:
        name = os.path.basename(path)
        p = sensor(["--config", path, "--print-config"])
        if p.returncode != 0:
            problems.append(f"{name}: exit {p.returncode}: {p.stderr.strip()}")
            continue
        printed = os.path.join(d, name + ".printed")
        with open(printed, "w") as f:
            f.write(p.stdout)
        again = sensor(["--config", printed, "--print-config"])
        if again.returncode != 0 or again.stdout != p.stdout:
            problems.append(f"{name}: --print-config does not read back to the same text "
                            f"(exit {again.returncode}: {again.stderr.strip()})")
        if "[eal]\nargs = [" not in p.stdout or "workers = " not in p.stdout:
            problems.append(f"{name}: --print-config lacks the [eal] args or workers")
        log(f"  {name}: ok, {len(p.stdout.splitlines())} lines printed")
    # The README's command, as written there.
    p = sensor(["--config", os.path.join(lib.SOURCE_ROOT, "deploy", "sensor", "25g.toml"),
                "--print-config"])
    if "sensor_id = \"border-1\"" not in p.stdout:
        problems.append("25g.toml: sensor_id not printed")
    report(problems, "deploy/sensor examples")


ERRORS = [
    # (kind, file text, what stderr must mention)
    ("bad key", "[tracker]\nudp_timout = 3\n",
     ["tracker.udp_timout", "unknown key", "did you mean tracker.udp_timeout?"]),
    ("bad value", "[tracker]\nvlan_key = \"sideways\"\n",
     ["tracker.vlan_key", "'sideways'", "expected none, outer or both"]),
    ("out of range", "[analytics]\ntelemetry_top = 50\n",
     ["analytics.telemetry_top", "'50'", "expected an integer in [1, 20]"]),
    ("type mismatch", "[lcores]\nworkers = \"four\"\n",
     ["lcores.workers", "expected an integer, got a string"]),
    ("conflicting combination", "[output]\nrotate_bytes = \"1M\"\n",
     ["--rotate-bytes, --rotate-seconds and --compress need --output-dir DIR"]),
]


def case_config_errors():
    d = work("config_errors")
    problems = []
    for kind, text, mentions in ERRORS:
        path = os.path.join(d, kind.replace(" ", "_") + ".toml")
        with open(path, "w") as f:
            f.write("[output]\nfile = \"-\"\n" + text if "[output]" not in text
                    else "[output]\nfile = \"-\"\n" + text.replace("[output]\n", ""))
        p = sensor(["--config", path])
        missing = [m for m in mentions if m not in p.stderr]
        if p.returncode != 2 or missing:
            problems.append(f"{kind}: exit {p.returncode}, missing {missing} in {p.stderr!r}")
        else:
            log(f"  {kind}: exit 2, {p.stderr.splitlines()[0]!r}")
    h = sensor(["--help"])
    for s in ("--config FILE", "--print-config", "[tracker.udp_timeout]", "(live)"):
        if s not in h.stdout:
            problems.append(f"--help lacks {s!r}")
    report(problems, "configuration errors")


# --- SIGHUP on a running sensor ---------------------------------------------

VETH, PEER = "ftcfg0", "ftcfg1"


def ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), capture_output=True, text=True, check=check)


def udp_frame(src, dst, sport, dport, payload=b"x" * 32):
    def csum(b):
        if len(b) % 2:
            b += b"\0"
        s = sum(struct.unpack(f"!{len(b) // 2}H", b))
        s = (s >> 16) + (s & 0xFFFF)
        return ~(s + (s >> 16)) & 0xFFFF
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return eth + hdr + udp


def created(text):
    found = re.findall(r" created=(\d+) ", text)
    return int(found[-1]) if found else 0


def wait_for(path, text, p, what, timeout=120):
    # Waits for the sensor to say something (not a timed assertion: the
    # timeout only bounds a hang). `text` is a string or a predicate.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path, errors="replace") as f:
            got = f.read()
        if (text(got) if callable(text) else text in got):
            return
        if p.poll() is not None:
            raise Failure(f"sensor exited {p.returncode} before {what}: {lib.tail(open(path).read())}")
        time.sleep(0.05)
    raise Failure(f"no {what!r} within {timeout} s: {lib.tail(open(path).read())}")


def with_veth(veth, peer, run):
    """run() with the veth pair (veth, peer) up, deleted afterwards."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        raise Skip("needs root and iproute2 for a veth pair")
    ip("link", "del", veth, check=False)
    if ip("link", "add", veth, "type", "veth", "peer", "name", peer, check=False).returncode:
        raise Skip("cannot create a veth pair here")
    try:
        for dev in (veth, peer):
            subprocess.run(["sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=1"],
                           capture_output=True)
            ip("link", "set", dev, "up")
        return run()
    finally:
        ip("link", "del", veth, check=False)


def case_config_sighup():
    return with_veth(VETH, PEER, sighup_run)


def sighup_run():
    d = work("config_sighup")
    conf = os.path.join(d, "sensor.toml")
    out = os.path.join(d, "sighup.ftr")
    stderr_path = os.path.join(d, "sighup.stderr")
    # The status line every 0.1 s says when the worker has made a session.
    base = f"[output]\nfile = \"{out}\"\nstatus_interval = 0.1\n[input]\ncapture = false\n"

    def write(nets, table_size):
        with open(conf, "w") as f:
            f.write(base + f"[tracker]\nprotected_nets = [\"{nets}\"]\ntable_size = {table_size}\n")

    write("10.99.0.0/16", 65536)
    r = lib.Run("config_sighup", "sighup")
    cmd = [lib.SENSOR, "--no-huge", "-m", "512", "--no-pci", "--no-shconf", "--no-telemetry",
           f"--file-prefix={r.prefix}", "--log-level=*:warning", "-l", "0-1",
           f"--vdev=net_pcap0,iface={VETH}", "--", "--config", conf]
    log("$ " + " ".join(cmd))
    tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    tx.bind((PEER, 0))
    with open(stderr_path, "w") as err:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_for(stderr_path, "live mode", p, "the start line")
        # The pcap port buffers from its start; the session exists once the
        # worker has processed it (the status line's created count).
        for _ in range(5):
            tx.send(udp_frame("10.1.1.1", "192.168.5.5", 40001, 53))
        wait_for(stderr_path, lambda t: created(t) >= 1, p, "the first session")
        # A live change and one that needs a restart.
        write("192.168.5.0/24", 131072)
        p.send_signal(signal.SIGHUP)
        wait_for(stderr_path, "every worker runs the new settings", p, "the reload")
        for _ in range(5):
            tx.send(udp_frame("10.1.1.2", "192.168.5.5", 40002, 53))
        wait_for(stderr_path, lambda t: created(t) >= 2, p, "the second session")
        # A file that does not validate is refused as a whole.
        with open(conf, "w") as f:
            f.write(base + "[tracker]\nprotected_nets = [\"banana\"]\n")
        p.send_signal(signal.SIGHUP)
        wait_for(stderr_path, "reload refused", p, "the refused reload")
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=120)
    finally:
        if p.poll() is None:
            lib.kill_group(p)
        tx.close()
    with open(stderr_path, errors="replace") as f:
        text = f.read()
    problems = []
    if rc != 0:
        problems.append(f"sensor exited {rc}")
    for s in ("reload: tracker.protected_nets applied",
              "reload: tracker.table_size: 65536 -> 131072 not applied: a restart is needed",
              "reload refused, the running settings stay", "banana"):
        if s not in text:
            problems.append(f"stderr lacks {s!r}")
    inbound = {}
    for rec in lib.cat_json(out):
        inbound[(lib.norm_ip(rec.get("client_ip")), int(rec.get("client_port", 0)))] = \
            bool(rec.get("inbound", False))
    log(f"  records: {inbound}")
    before, after = inbound.get(("10.1.1.1", 40001)), inbound.get(("10.1.1.2", 40002))
    if before is not False:
        problems.append(f"the session before the reload: inbound {before} (expected False)")
    if after is not True:
        problems.append(f"the session after the reload: inbound {after} (expected True)")
    report(problems, "SIGHUP reload")


CASES = {
    "config_examples": case_config_examples,
    "config_errors": case_config_errors,
    "config_sighup": case_config_sighup,
}

if __name__ == "__main__":
    raise SystemExit(lib.main(CASES))
