#!/usr/bin/env python3
"""The traffic lab (issue 10): real tools in network namespaces, one capture
and one ground-truth file per scenario.

    sudo tests/lab/lab.py OUTDIR [--scenarios a,b,...] [--list]

Run as root. It builds, in namespaces it creates (ftl<PID>-<host>), one
Ethernet segment: a bridge in its own namespace and one veth pair per host,
addresses in 10.77.0.0/24 and fd77::/64 only, no route anywhere else,
checksum and segmentation offloads off (frames as they are on a wire, with
valid checksums). Hosts (see HOSTS): a server with HTTP, an SSH-like banner,
an SMTP-like listener and FTP (pyftpdlib, active and passive); a host that
drops everything (nftables), a host that rejects everything (no listener:
RST, ICMP unreachable), addresses with no host (static neighbour entries on
every host, so SYNs to them go on the wire unanswered); a router (only for
masscan, which sends everything to one MAC); P2P peers; the clients and
scanners of the scenarios (SCENARIOS).

Per scenario, tcpdump on the bridge writes OUTDIR/NAME.pcap and the lab
writes OUTDIR/NAME.truth.json from the tools' own output: curl's -w JSON
(ports, bytes), nmap's -oX, masscan's -oJ, hping3's replies, the servers'
logs (pyftpdlib's transfers, the services' per-connection byte counts), and
which hosts are scanners (tests/lab/README.md documents the format). OUTDIR/lab.json
holds the timings. Exit 0, 1 on failure, 77 (and one line) when the machine
cannot run it (not root, no `ip netns`, a tool missing). Every namespace and
process it made is removed on exit, failure, SIGINT or SIGTERM.
"""

import argparse
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
SERVICES = os.path.join(HERE, "services.py")
SKIP = 77

NET4 = "10.77.0"
# host -> (IPv4 addresses, IPv6 address or None). The first IPv4 address
# gives the host's MAC (02:77:00:00:00:<last octet>), so captures repeat.
HOSTS = {
    "gw": ([f"{NET4}.1"], None),
    "srv": ([f"{NET4}.10", f"{NET4}.11"], "fd77::10"),
    "drop": ([f"{NET4}.20"], None),
    "rej": ([f"{NET4}.30"], None),
    "relay": ([f"{NET4}.60"], None),
    "busy": ([f"{NET4}.70"], "fd77::70"),
    "p2p": ([f"{NET4}.80"], None),
    "web": ([f"{NET4}.90"], "fd77::90"),
    "ftpc": ([f"{NET4}.91"], None),
    "nmaps": ([f"{NET4}.100"], None),
    "nmapt": ([f"{NET4}.101"], None),
    "masscan": ([f"{NET4}.102"], None),
    "hping": ([f"{NET4}.103"], None),
    "peers": ([f"{NET4}.{i}" for i in range(150, 190)], None),
}
SRV, SRV2, SRV6 = f"{NET4}.10", f"{NET4}.11", "fd77::10"
DROP, REJ = f"{NET4}.20", f"{NET4}.30"
DEAD = [f"{NET4}.{i}" for i in range(40, 60)]  # no host: static neighbours
PEERS = HOSTS["peers"][0]
FILES = {"small.html": 1200, "medium.bin": 100_000, "large.bin": 1_000_000,
         "ftp1.bin": 200_000, "ftp2.bin": 300_000, "ftp3.bin": 40_000}
BUSY_FILES = 120  # f1.html .. f120.html, 37 * i bytes
TOOLS = ("ip", "ethtool", "nft", "tcpdump", "curl", "wget", "lftp", "nmap", "masscan", "hping3")


def mac_of(addr, dead=False):
    last = int(addr.rsplit(".", 1)[1])
    return f"02:77:{'de:ad' if dead else '00:00'}:00:{last:02x}"


class Unavailable(Exception):
    pass


class Lab:
    def __init__(self, out):
        self.out = out
        self.logs = os.path.join(out, "logs")
        self.tmp = os.path.join(out, "tmp")
        self.prefix = f"ftl{os.getpid()}"
        self.namespaces = []
        self.procs = []
        self.timings = {}

    # -- plumbing -------------------------------------------------------

    def ns(self, host):
        return f"{self.prefix}-{host}"

    def run(self, cmd, host=None, check=True, timeout=120, stdin=None, quiet=True):
        if host:
            cmd = ["ip", "netns", "exec", self.ns(host)] + cmd
        p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout,
                           errors="replace")
        if check and p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
        if not quiet and p.returncode != 0:
            print(f"  (note: {' '.join(cmd[-6:])} exited {p.returncode}: "
                  f"{p.stderr.strip()[:200]})", flush=True)
        return p

    def spawn(self, cmd, host, log, ready=None):
        """A background process in a host namespace, in its own process group
        (clean-up kills the group). `ready`: wait for this text on stdout."""
        full = ["ip", "netns", "exec", self.ns(host)] + cmd
        out = open(os.path.join(self.logs, log + ".out"), "w")
        err = open(os.path.join(self.logs, log + ".err"), "w")
        p = subprocess.Popen(full, stdout=out, stderr=err, start_new_session=True)
        self.procs.append(p)
        if ready:
            path = out.name if ready[0] == "stdout" else err.name
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with open(path, errors="replace") as f:
                    if ready[1] in f.read():
                        break
                if p.poll() is not None:
                    raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode} at start; see "
                                       f"{err.name}")
                time.sleep(0.02)
            else:
                raise RuntimeError(f"{' '.join(cmd)} not ready after 10 s; see {err.name}")
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=10):
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def cleanup(self):
        # A second Ctrl-C must not cut the clean-up short.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        for p in reversed(self.procs):
            try:
                self.stop(p, signal.SIGKILL, 5)
            except Exception as e:  # clean-up goes on whatever happens
                print(f"  clean-up: process {p.pid}: {e}", file=sys.stderr)
        self.procs = []
        for n in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", n], capture_output=True)
        self.namespaces = []

    # -- the network ----------------------------------------------------

    def build(self):
        t = time.monotonic()
        # A fresh output: the services' logs are appended to, the truth read from them.
        for d in (self.logs, self.tmp):
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
        for f in os.listdir(self.out):
            if f.endswith((".pcap", ".truth.json")):
                os.remove(os.path.join(self.out, f))
        br = self.ns("br")
        self.run(["ip", "netns", "add", br])
        self.namespaces.append(br)
        sysctl = ["sysctl", "-q", "-w"]
        self.run(sysctl + ["net.ipv6.conf.all.disable_ipv6=1",
                           "net.ipv6.conf.default.disable_ipv6=1"], "br")
        self.run(["ip", "link", "add", "br0", "type", "bridge", "stp_state", "0",
                  "forward_delay", "0", "mcast_snooping", "0"], "br")
        for host, (v4, v6) in HOSTS.items():
            n = self.ns(host)
            self.run(["ip", "netns", "add", n])
            self.namespaces.append(n)
            off = "0" if v6 else "1"
            self.run(sysctl + [f"net.ipv6.conf.all.disable_ipv6={off}",
                               f"net.ipv6.conf.default.disable_ipv6={off}",
                               "net.ipv6.conf.default.accept_ra=0",
                               "net.ipv6.conf.default.dad_transmits=0"], host)
            cmds = [f"link add v-{host} type veth peer name eth0 netns {n}",
                    f"link set v-{host} master br0", f"link set v-{host} up"]
            self.run(["ip", "-n", br, "-batch", "-"], stdin="\n".join(cmds) + "\n")
            cmds = ["link set lo up", f"link set eth0 address {mac_of(v4[0])}"]
            cmds += [f"addr add {a}/24 dev eth0" for a in v4]
            if v6:
                cmds.append(f"addr add {v6}/64 dev eth0 nodad")
            cmds.append("link set eth0 up")
            # No host answers for these: static entries put the SYNs on the wire.
            cmds += [f"neigh replace {d} lladdr {mac_of(d, True)} dev eth0 nud permanent"
                     for d in DEAD]
            self.run(["ip", "-n", n, "-batch", "-"], stdin="\n".join(cmds) + "\n")
            self.offloads_off("eth0", host)
            self.offloads_off(f"v-{host}", "br")
        self.offloads_off("br0", "br")
        self.run(["ip", "link", "set", "br0", "up"], "br")
        # The router forwards masscan's frames (sent to its MAC) back onto the
        # segment; it sends no redirects, and the capture leaves out what it
        # forwards, so each packet is captured once.
        self.run(sysctl + ["net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0",
                           "net.ipv4.conf.eth0.send_redirects=0"], "gw")
        # Reject everything: closed ports answer RST; no rate limit on the
        # ICMP port unreachables.
        self.run(sysctl + ["net.ipv4.icmp_ratelimit=0", "net.ipv4.icmp_msgs_per_sec=100000"],
                 "rej")
        # Drop everything IP (ARP still answers, so SYNs reach it and vanish).
        self.run(["nft", "-f", "-"], "drop", stdin=(
            "table inet lab {\n chain drop_all {\n  type filter hook input priority 0; policy drop;\n }\n}\n"))
        self.timings["build_s"] = round(time.monotonic() - t, 2)

    def offloads_off(self, dev, host):
        self.run(["ethtool", "-K", dev, "tx", "off", "rx", "off", "tso", "off", "gso", "off",
                  "gro", "off"], host, check=False, quiet=True)

    def start_services(self):
        www = os.path.join(self.tmp, "www")
        os.makedirs(www, exist_ok=True)
        for name, size in FILES.items():
            with open(os.path.join(www, name), "wb") as f:
                f.write(bytes((i * 7 + size) & 0xFF for i in range(size)))
        for i in range(1, BUSY_FILES + 1):
            with open(os.path.join(www, f"f{i}.html"), "wb") as f:
                f.write(b"<p>" + b"x" * (37 * i - 8) + b"</p>\n\n")
        os.makedirs(os.path.join(www, "incoming"), exist_ok=True)
        os.chmod(www, 0o755)
        py = sys.executable
        self.spawn([py, "-u", "-m", "http.server", "--bind", "::", "--directory", www, "80"],
                   "srv", "http", ready=("stdout", "Serving HTTP"))
        for kind, port in (("banner", 22), ("smtp", 25)):
            self.spawn([py, "-u", SERVICES, kind, str(port), self.log_path(kind + ".jsonl")],
                       "srv", kind, ready=("stdout", "ready"))
        self.spawn([ftp_python(), "-u", SERVICES, "ftp", "21", www, self.log_path("ftp.log")],
                   "srv", "ftp", ready=("stdout", "ready"))
        self.spawn([py, "-u", SERVICES, "peer", "6881", self.log_path("peer.jsonl")], "peers",
                   "peer", ready=("stdout", "ready"))

    def shown(self, cmd):
        """A command for the truth file, the output dir written OUT (so a
        committed truth file does not name a scratch dir)."""
        return " ".join(cmd).replace(self.out, "OUT")

    def log_path(self, name):
        return os.path.join(self.logs, name)

    # -- captures -------------------------------------------------------

    def scenario(self, name, fn, description):
        print(f"== {name}: {description}", flush=True)
        t = time.monotonic()
        pcap = os.path.join(self.out, f"{name}.pcap")
        # Not the frames the router forwards (masscan's, already captured
        # from the scanner); -U: each packet written when it arrives.
        tcpdump = self.spawn(["tcpdump", "-i", "br0", "-n", "-U", "--immediate-mode", "-s", "0",
                              "-Z", "root",
                              "-w", pcap, "not", "ether", "src", mac_of(f"{NET4}.1")],
                             "br", f"tcpdump-{name}", ready=("stderr", "listening on"))
        truth = {"scenario": name, "description": description, "scanners": [], "benign": [],
                 "sessions": [], "attempts": [], "probes": [], "fixed_ports": [],
                 "vertical": [], "tools": {}}
        fn(truth)
        time.sleep(0.5)  # the last ACKs and RSTs
        self.stop(tcpdump, signal.SIGINT)
        with open(self.log_path(f"tcpdump-{name}.err"), errors="replace") as f:
            err = f.read()
        m = re.search(r"(\d+) packets captured", err)
        r = re.search(r"(\d+) packets received by filter", err)
        d = re.search(r"(\d+) packets dropped by kernel", err)
        truth["capture"] = {"file": os.path.basename(pcap), "packets": int(m.group(1)) if m else -1,
                            "dropped": int(d.group(1)) if d else -1}
        # Every packet the filter took is in the file (tcpdump stops reading
        # at SIGINT: without --immediate-mode a buffered block is lost).
        if truth["capture"]["dropped"] != 0 or not r or int(r.group(1)) != truth["capture"][
                "packets"]:
            raise RuntimeError(f"tcpdump on {name} lost packets: {err.strip()}")
        mark_resets(pcap, truth)
        with open(os.path.join(self.out, f"{name}.truth.json"), "w") as f:
            json.dump(truth, f, indent=1, sort_keys=True)
            f.write("\n")
        self.timings[name] = round(time.monotonic() - t, 2)
        print(f"   {truth['capture']['packets']} packets, {len(truth['sessions'])} sessions, "
              f"{len(truth['probes'])} probes, {time.monotonic() - t:.1f} s", flush=True)

    # -- tools ----------------------------------------------------------

    def curl(self, host, urls, extra=(), outputs=None):
        """curl once over `urls` (globs allowed); one -w JSON object per
        transfer."""
        cmd = ["curl", "-s", "-S", "--max-time", "20", "-w", "%{json}\n"]
        for u in urls:
            cmd += ["-o", outputs or "/dev/null", u]
        cmd += list(extra)
        p = self.run(cmd, host, check=False, timeout=120)
        return [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]

    def curl_sessions(self, truth, host, transfers, tool="curl", state="SF"):
        """HTTP transfers as sessions: the client speaks first."""
        for t in transfers:
            if not t.get("local_port"):
                raise RuntimeError(f"curl transfer without a connection: {t}")
            if t.get("num_connects") != 1:
                raise RuntimeError(f"curl reused a connection (num_connects "
                                   f"{t.get('num_connects')}): {t.get('url_effective')}")
            truth["sessions"].append({
                "tool": tool, "what": t.get("url_effective", ""), "protocol": 6,
                "client_ip": t["local_ip"], "client_port": t["local_port"],
                "server_ip": t["remote_ip"], "server_port": t["remote_port"],
                "client_bytes": t["size_request"] + t["size_upload"],
                "server_bytes": t["size_header"] + t["size_download"],
                "conn_state": state, "first_data_sender": "CLIENT"})

    def nmap(self, truth, host, args, tag, protocol=6):
        xml = os.path.join(self.logs, f"nmap{re.sub(r'[^a-zA-Z0-9]+', '-', tag)}.xml")
        cmd = ["nmap", "-n", "-Pn", "--send-ip", "-T5", "--max-retries", "1",
               "--max-rtt-timeout", "200ms", "-oX", xml] + args
        self.run(cmd, host, timeout=120)
        client = HOSTS[host][0][0]
        root = ET.parse(xml).getroot()
        n = 0
        for h in root.iter("host"):
            addr = h.find("address").get("addr")
            for p in h.iter("port"):
                st = p.find("state")
                truth["probes"].append({"tool": f"nmap {tag}", "client_ip": client,
                                        "protocol": protocol, "server_ip": addr,
                                        "server_port": int(p.get("portid")),
                                        "state": st.get("state"), "reason": st.get("reason")})
                n += 1
            # Ports nmap folds into <extraports> (the "Not shown: 990 closed"):
            # their ranges are in each <extrareasons ports="1-20,23-24">.
            for ep in h.iter("extraports"):
                for er in ep.iter("extrareasons"):
                    ports = er.get("ports")
                    if not ports:
                        raise RuntimeError(f"nmap {tag}: extraports of {addr} without a port "
                                           f"list (nmap older than 7.80?)")
                    for port in expand_ports(ports):
                        truth["probes"].append({"tool": f"nmap {tag}", "client_ip": client,
                                                "protocol": protocol, "server_ip": addr,
                                                "server_port": port,
                                                "state": ep.get("state"),
                                                "reason": er.get("reason")})
                        n += 1
        if n == 0:
            raise RuntimeError(f"nmap {tag} scanned nothing; see {xml}")
        truth["tools"][f"nmap {tag}"] = {"command": self.shown(cmd), "probes": n}


# tcpdump -nn's "IP 10.77.0.90.38110 > 10.77.0.10.80: Flags [R.]" (IP6 alike).
RST_LINE = re.compile(r" IP6? (\S+)\.(\d+) > (\S+)\.(\d+): Flags \[[^\]]*R")


def reset_state(resets, client, cport, server, sport):
    """The state a connection's RST gives it (Zeek's names: RSTR when the
    server sent one, else RSTO when the client did), None without one;
    `resets` holds the RSTs' (src ip, src port, dst ip, dst port)."""
    if (server, sport, client, cport) in resets:
        return "RSTR"
    if (client, cport, server, sport) in resets:
        return "RSTO"
    return None


def mark_resets(pcap, truth):
    """A connection the tool completed can still end in a RST on the wire
    (seen once in CI: curl's large.bin download, all bytes delivered, then
    a RST from the client's stack). The tool's log cannot tell; the capture
    can. Read by tcpdump, not by us: a session or attempt that would be SF
    expects the reset's state instead (Zeek's: RSTO from the client, RSTR
    from the server), and the truth says which packet made it so."""
    p = subprocess.run(["tcpdump", "-nn", "-r", pcap, "tcp"], capture_output=True, text=True,
                       errors="replace")
    if p.returncode != 0:
        raise RuntimeError(f"tcpdump -r {pcap} exited {p.returncode}: {p.stderr.strip()}")
    resets = {}  # (src ip, src port, dst ip, dst port) -> the first RST's line
    for line in p.stdout.splitlines():
        m = RST_LINE.search(line)
        if m:
            key = (str(ipaddress.ip_address(m.group(1))), int(m.group(2)),
                   str(ipaddress.ip_address(m.group(3))), int(m.group(4)))
            resets.setdefault(key, line.strip())

    def norm(a):
        return str(ipaddress.ip_address(a))

    for s in truth["sessions"]:
        if s.get("conn_state") != "SF" or s.get("protocol", 6) != 6:
            continue
        client, server = norm(s["client_ip"]), norm(s["server_ip"])
        state = reset_state(resets, client, s["client_port"], server, s["server_port"])
        if state:
            line = resets[(server, s["server_port"], client, s["client_port"]) if state == "RSTR"
                          else (client, s["client_port"], server, s["server_port"])]
            s["conn_state"], s["reset_on_wire"] = state, line
            print(f"   note: {s.get('tool')} {s.get('what', '')} ended in a RST on the wire "
                  f"({line}): expecting {state}", flush=True)
    ftp = truth.get("ftp")
    if ftp:
        # Control and data connections alike: e2e_lab expects the reset state
        # of the RST's sender for the record on that 4-tuple.
        hosts = {norm(ftp["client_ip"]), norm(ftp["server_ip"])}
        ftp["resets"] = [list(k) for k in sorted(resets) if {k[0], k[2]} == hosts]
        for k in ftp["resets"]:
            print(f"   note: FTP connection ended in a RST on the wire ({resets[tuple(k)]})",
                  flush=True)
    # An attempt's records are those no session claims (as e2e_lab checks them).
    known = {(norm(s["client_ip"]), s["client_port"], norm(s["server_ip"]), s["server_port"])
             for s in truth["sessions"] if "client_port" in s}
    for a in truth["attempts"]:
        if a.get("conn_state") != "SF":
            continue
        client, server = norm(a["client_ip"]), norm(a["server_ip"])
        for (src, sport, dst, dport), line in sorted(resets.items()):
            for cport, ours in ((sport, (src, dst, dport)), (dport, (dst, src, sport))):
                if ours == (client, server, a["server_port"]) and str(cport) not in a.get(
                        "resets", {}) and (client, cport, server, a["server_port"]) not in known:
                    state = reset_state(resets, client, cport, server, a["server_port"])
                    a.setdefault("resets", {})[str(cport)] = state
                    print(f"   note: {a['tool']} to {server}:{a['server_port']} from port "
                          f"{cport} ended in a RST on the wire ({line}): expecting {state}",
                          flush=True)


def expand_ports(text):
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += range(int(a), int(b or a) + 1)
    return out


def ftp_python():
    for py in (sys.executable, "/usr/bin/python3"):
        if py and subprocess.run([py, "-c", "import pyftpdlib"],
                                 capture_output=True).returncode == 0:
            return py
    raise Unavailable("pyftpdlib is not installed (Debian: python3-pyftpdlib)")


# ---------------------------------------------------------------------------
# Scenarios


def web(lab, truth, small=False):
    """curl downloads (IPv4 and IPv6, two server addresses, a 404), wget."""
    urls = [f"http://{SRV}/small.html", f"http://{SRV}/medium.bin", f"http://{SRV}/missing"]
    if not small:
        urls += [f"http://{SRV}/large.bin", f"http://[{SRV6}]/medium.bin"]
    for u in urls:
        lab.curl_sessions(truth, "web", lab.curl("web", [u]))
    if not small:
        lab.curl_sessions(truth, "web", lab.curl("web", [f"http://{SRV2}/small.html"]))
        # wget: no byte counts of its own; the server sent at least the file.
        lab.run(["wget", "-q", "-O", "/dev/null", f"http://{SRV}/medium.bin"], "web")
        truth["attempts"].append({"tool": "wget", "client_ip": HOSTS["web"][0][0],
                                  "server_ip": SRV, "server_port": 80, "count": 1,
                                  "conn_state": "SF", "min_server_bytes": FILES["medium.bin"]})
    truth["benign"].append(HOSTS["web"][0][0])
    if not small:
        truth["benign"].append(HOSTS["web"][1])


def ftp(lab, truth, small=False):
    """lftp: passive get and put, then active get and put; pyftpdlib's log
    has each control connection's client port and each transfer's bytes."""
    client = HOSTS["ftpc"][0][0]
    log = lab.log_path("ftp.log")
    start = os.path.getsize(log)
    up = os.path.join(lab.tmp, "upload.bin")
    with open(up, "wb") as f:
        f.write(bytes((i * 13) & 0xFF for i in range(25_000 if small else 50_000)))
    base = "set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 5; set xfer:clobber on"
    files = [("passive", "on", "ftp3.bin" if small else "ftp1.bin", "up-passive.bin"),
             ("active", "off", "ftp3.bin" if small else "ftp2.bin", "up-active.bin")]
    if small:
        files = [files[0][:3] + (None,), files[1][:3] + (None,)]
    for mode, flag, get, put in files:
        script = (f"{base}; set ftp:passive-mode {flag}; open -u lab,lab ftp://{SRV}; "
                  f"get {get} -o {lab.tmp}/{mode}.bin; ")
        if put:
            script += f"put {up} -o incoming/{put}; "
        script += "bye"
        lab.run(["lftp", "-c", script], "ftpc", timeout=60)
    time.sleep(0.2)
    with open(log, errors="replace") as f:
        f.seek(start)
        lines = f.read().splitlines()
    control, transfers = [], []
    pre = re.compile(r"(\d+\.\d+\.\d+\.\d+):(\d+)-\[[^\]]*\] (.*)")
    for line in lines:
        m = pre.search(line)
        if not m or m.group(1) != client:
            continue
        msg = m.group(3)
        if msg.startswith("FTP session opened"):
            control.append(int(m.group(2)))
        t = re.match(r"(RETR|STOR|APPE|STOU) (\S+) completed=(\d) bytes=(\d+)", msg)
        if t:
            if t.group(3) != "1":
                raise RuntimeError(f"FTP transfer did not complete: {line}")
            transfers.append({"cmd": t.group(1), "file": os.path.basename(t.group(2)),
                              "bytes": int(t.group(4)), "control_port": int(m.group(2))})
    if len(control) != len(files) or len(transfers) != sum(2 if f[3] else 1 for f in files):
        raise RuntimeError(f"pyftpdlib log: {len(control)} sessions, {len(transfers)} transfers; "
                           f"see {log}")
    for port, f in zip(control, files):
        for t in transfers:
            if t["control_port"] == port:
                t["mode"] = f[0]
    truth["ftp"] = {"client_ip": client, "server_ip": SRV, "control_ports": control,
                    "transfers": transfers}
    truth["benign"].append(client)


def relay(lab, truth, retries=12):
    """A mail relay: one delivery, `retries` attempts at a dead MX (one
    connection each, 0.25 s connect timeout), two more deliveries."""
    client = HOSTS["relay"][0][0]
    dead = DEAD[1]
    msg = os.path.join(lab.tmp, "mail.txt")
    with open(msg, "w") as f:
        f.write("From: a@lab.test\r\nTo: b@lab.test\r\nSubject: lab\r\n\r\n" + "hello\r\n" * 40)

    def deliver(server, timeout="5"):
        return lab.curl("relay", [f"smtp://{server}/lab.test"],
                        ["--mail-from", "a@lab.test", "--mail-rcpt", "b@lab.test", "-T", msg,
                         "--connect-timeout", timeout])

    sent = deliver(SRV)
    for _ in range(retries):
        t = deliver(dead, "0.25")
        if t and t[0].get("local_port"):
            raise RuntimeError(f"the dead MX {dead} answered: {t}")
    sent += deliver(SRV) + deliver(SRV)
    time.sleep(0.2)
    # The SMTP listener's log holds both sides' byte counts per client port.
    logged = {}
    with open(lab.log_path("smtp.jsonl")) as f:
        for line in f:
            e = json.loads(line)
            logged[(e["client_ip"], e["client_port"])] = e
    for t in sent:
        e = logged.get((t["local_ip"], t["local_port"]))
        if e is None or e["error"]:
            raise RuntimeError(f"SMTP server has no clean log line for {t['local_port']}: {e}")
        truth["sessions"].append({
            "tool": "curl smtp", "what": "delivery", "protocol": 6, "client_ip": client,
            "client_port": t["local_port"], "server_ip": SRV, "server_port": 25,
            "client_bytes": e["server_received"], "server_bytes": e["server_sent"],
            "conn_state": "SF", "first_data_sender": "SERVER",  # the 220 greeting
            "curl_size_upload": t["size_upload"]})
    truth["attempts"].append({"tool": "curl smtp", "client_ip": client, "server_ip": dead,
                              "server_port": 25, "count": retries, "conn_state": "S0"})
    truth["benign"].append(client)


def busy(lab, truth):
    """300 HTTP connections (curl, HTTP/1.0 server: one connection each) to
    two addresses of the server and its IPv6 address."""
    outdir = os.path.join(lab.tmp, "busy")
    os.makedirs(outdir, exist_ok=True)
    n = 0
    # A name for the IPv6 address: curl's URL globbing takes [] for itself.
    resolve = ["--resolve", f"srv6.lab:80:[{SRV6}]"]
    for base, count in ((f"http://{SRV}", 120), (f"http://{SRV2}", 120),
                        ("http://srv6.lab", 60)):
        got = lab.curl("busy", [f"{base}/f[1-{count}].html"], resolve,
                       outputs=os.path.join(outdir, "f#1.html"))
        if len(got) != count:
            raise RuntimeError(f"busy: {len(got)} transfers from {base}, expected {count}")
        lab.curl_sessions(truth, "busy", got)
        n += len(got)
    truth["benign"] += [HOSTS["busy"][0][0], HOSTS["busy"][1]]
    truth["tools"]["busy"] = {"connections": n}


def p2p(lab, truth):
    """A P2P-like node: 40 peers that answer, 4 that fail (two dead
    addresses, the rejecting host, the dropping host), spread out."""
    client = HOSTS["p2p"][0][0]
    fails = [DEAD[10], REJ, DEAD[11], DROP]
    order = []
    for i, peer_ip in enumerate(PEERS):
        order.append(peer_ip)
        if i % 10 == 9:
            order.append(fails[i // 10])
    log = lab.log_path("p2p.jsonl")
    lab.run([sys.executable, SERVICES, "p2p", log] + [f"{a}:6881" for a in order], "p2p",
            timeout=60)
    served = {}
    with open(lab.log_path("peer.jsonl")) as f:
        for line in f:
            e = json.loads(line)
            if e["client_ip"] == client:
                served[e["client_port"]] = e
    with open(log) as f:
        attempts = [json.loads(line) for line in f]
    for a in attempts:
        if a["server_ip"] in PEERS:
            e = served.get(a["client_port"])
            if a["result"] != "ok" or e is None or e["error"]:
                raise RuntimeError(f"p2p: peer {a} failed (peer log {e})")
            truth["sessions"].append({
                "tool": "p2p node", "what": "peer", "protocol": 6, "client_ip": client,
                "client_port": a["client_port"], "server_ip": a["server_ip"],
                "server_port": 6881, "client_bytes": e["server_received"],
                "server_bytes": e["server_sent"], "conn_state": "SF",
                "first_data_sender": "CLIENT"})
        else:
            want = {"refused": "REJ", "timeout": "S0"}.get(a["result"])
            if want is None or (a["server_ip"] == REJ) != (want == "REJ"):
                raise RuntimeError(f"p2p: failure {a} is not what the lab built")
            truth["sessions"].append({
                "tool": "p2p node", "what": "failed peer", "protocol": 6, "client_ip": client,
                "client_port": a["client_port"], "server_ip": a["server_ip"],
                "server_port": 6881, "client_bytes": 0, "server_bytes": 0,
                "conn_state": want})
    truth["benign"].append(client)
    truth["tools"]["p2p"] = {"attempts": len(attempts),
                             "failures": sum(a["result"] != "ok" for a in attempts)}


def horizontal_targets():
    return [SRV, DROP, REJ] + DEAD[:10]


def nmap_syn(lab, truth):
    """nmap -sS: horizontal (5 ports of 13 addresses: the server, the
    dropping and rejecting hosts, 10 dead addresses) and vertical (ports
    1-1024 of the server); nmap -sU on 5 ports of 3 addresses."""
    lab.nmap(truth, "nmaps", ["-sS", "-v", "--reason", "-p", "21,22,25,80,445"] +
             horizontal_targets(), "-sS horizontal")
    lab.nmap(truth, "nmaps", ["-sS", "-v", "--reason", "-p", "1-1024", SRV], "-sS vertical")
    # UDP: closed ports answer ICMP port unreachable, the others nothing.
    lab.nmap(truth, "nmaps", ["-sU", "-v", "--reason", "-p", "53,69,123,161,500",
                              REJ, DROP, DEAD[0]], "-sU", protocol=17)
    truth["scanners"].append(HOSTS["nmaps"][0][0])
    truth["vertical"].append({"client_ip": HOSTS["nmaps"][0][0], "server_ip": SRV,
                              "min_ports": 1024})


def nmap_connect(lab, truth):
    """nmap -sT: horizontal (3 ports of 13 addresses) and vertical (ports
    1-1024 of the rejecting host)."""
    lab.nmap(truth, "nmapt", ["-sT", "-v", "--reason", "-p", "22,80,3389"] +
             horizontal_targets(), "-sT horizontal")
    lab.nmap(truth, "nmapt", ["-sT", "-v", "--reason", "-p", "1-1024", REJ], "-sT vertical")
    truth["scanners"].append(HOSTS["nmapt"][0][0])
    truth["vertical"].append({"client_ip": HOSTS["nmapt"][0][0], "server_ip": REJ,
                              "min_ports": 1024})


def run_masscan(lab, truth, ports, sport, tag):
    """masscan over `ports` of 10.77.0.10-59 from source port `sport`,
    through the router (masscan sends every frame to one MAC); probes in the
    truth from its JSON (open) and what the lab built (closed, filtered)."""
    client = HOSTS["masscan"][0][0]
    out = os.path.join(lab.logs, f"masscan-{tag}.json")
    cmd = ["masscan", f"{NET4}.10-{NET4}.59", "-p", ",".join(map(str, ports)),
           "--source-port", str(sport), "--rate", "2000", "--wait", "1", "-e", "eth0",
           "--adapter-ip", client, "--router-mac", mac_of(f"{NET4}.1"), "--seed", "7",
           "-oJ", out]
    lab.run(cmd, "masscan", timeout=60)
    with open(out) as f:
        text = f.read().strip().rstrip(",")
    found = json.loads(text if text.startswith("[") else "[" + text + "]") if text else []
    open_ = {(e["ip"], p["port"]) for e in found for p in e.get("ports", [])
             if p.get("status") == "open"}
    live = set(HOSTS["srv"][0]) | {REJ}
    for last in range(10, 60):
        ip = f"{NET4}.{last}"
        for port in ports:
            if (ip, port) in open_:
                state = "open"
            elif ip in live:
                state = "closed"
            else:
                state = "filtered"
            truth["probes"].append({"tool": "masscan", "client_ip": client, "client_port": sport,
                                    "server_ip": ip, "server_port": port, "state": state})
    want = {(a, 80) for a in HOSTS["srv"][0]} if 80 in ports else set()
    if open_ != want:
        raise RuntimeError(f"masscan found {sorted(open_)}, expected {sorted(want)}")
    truth["scanners"].append(client)
    truth["fixed_ports"] += [{"client_ip": client, "client_port": sport, "server_port": p}
                             for p in ports]
    truth["tools"][f"masscan {tag}"] = {"command": lab.shown(cmd), "open": sorted(open_)}


def masscan(lab, truth):
    """masscan from one source port (40000) over ports 80 and 445 of
    10.77.0.10-59; 30 curl downloads from the web client to port 80 beside
    it."""
    run_masscan(lab, truth, (80, 445), 40000, "40000")
    lab.curl_sessions(truth, "web", lab.curl("web", [f"http://{SRV}/f[1-30].html"],
                                             outputs=os.path.join(lab.tmp, "m#1.html")))
    truth["benign"].append(HOSTS["web"][0][0])


def shared_sport(lab, truth):
    """Two scanner hosts, one source port: masscan (--source-port 40002)
    over port 445 of 10.77.0.10-59 and nmap -sS -g 40002 over port 445 of
    24 addresses. Each fans out from that port to 24 servers or more."""
    run_masscan(lab, truth, (445,), 40002, "40002")
    lab.nmap(truth, "nmaps", ["-sS", "-v", "--reason", "-g", "40002", "-p", "445", SRV2] +
             horizontal_targets() + DEAD[10:], "-sS -g 40002")
    scanner = HOSTS["nmaps"][0][0]
    truth["scanners"].append(scanner)
    truth["fixed_ports"].append({"client_ip": scanner, "client_port": 40002, "server_port": 445})


def hping(lab, truth):
    """hping3 SYN probes: ports 1-40 of the rejecting host, three to the
    dropping host, one to each of 8 dead addresses (port 23)."""
    client = HOSTS["hping"][0][0]
    runs = [(REJ, ["-p", "++1", "-c", "40"]), (DROP, ["-p", "23", "-c", "3"])]
    runs += [(d, ["-p", "23", "-c", "1"]) for d in DEAD[12:20]]
    # In parallel: each hping3 waits a second for late replies after its last probe.
    procs = []
    for target, args in runs:
        cmd = ["ip", "netns", "exec", lab.ns("hping"), "hping3", "-S", "-i", "u20000", "-n"]
        procs.append(subprocess.Popen(cmd + args + [target], stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True,
                                      start_new_session=True))
        lab.procs.append(procs[-1])
    outputs = [p.communicate(timeout=30)[0] for p in procs]
    for (target, args), text in zip(runs, outputs):
        replies = re.findall(r"ip=(\S+) .*?sport=(\d+) flags=(\w+)", text)
        sent = int(re.search(r"(\d+) packets transmitted", text).group(1))
        count = int(args[args.index("-c") + 1])
        if sent != count:
            raise RuntimeError(f"hping3 sent {sent} of {count} to {target}")
        if target == REJ:
            got = sorted(int(s) for ip, s, fl in replies if fl == "RA")
            if got != list(range(1, count + 1)):
                raise RuntimeError(f"hping3: RSTs from {target} for {got}")
            for port in got:
                truth["probes"].append({"tool": "hping3", "client_ip": client, "server_ip": REJ,
                                        "server_port": port, "state": "closed", "count": 1})
        else:
            if replies:
                raise RuntimeError(f"hping3: {target} answered {replies}")
            # hping3 moves its source port per packet: one session each.
            truth["probes"].append({"tool": "hping3", "client_ip": client, "server_ip": target,
                                    "server_port": 23, "state": "filtered", "count": count})
    truth["scanners"].append(client)
    truth["vertical"].append({"client_ip": client, "server_ip": REJ, "min_ports": 40})


def sample(lab, truth):
    """The README's capture: curl downloads, FTP passive and active, a mail
    relay's retries at a dead MX, and a horizontal nmap -sS from one fixed
    source port (-g 40001) over 24 addresses."""
    web(lab, truth, small=True)
    lab.curl_sessions(truth, "web", lab.curl("web", [f"http://{SRV}/f[1-12].html"],
                                             outputs=os.path.join(lab.tmp, "s#1.html")))
    ftp(lab, truth, small=True)
    relay(lab, truth, retries=6)
    # 24 addresses: the fan-out rule of `report ports` wants 16 servers from
    # one client port. Not masscan's 40000: a source port two scanner hosts
    # share escapes that rule (see tests/e2e/e2e_lab.py).
    lab.nmap(truth, "nmaps", ["-sS", "-v", "--reason", "-g", "40001", "-p", "80,445", SRV2] +
             horizontal_targets() + DEAD[10:], "-sS -g 40001")
    scanner = HOSTS["nmaps"][0][0]
    truth["scanners"].append(scanner)
    truth["fixed_ports"] = [{"client_ip": scanner, "client_port": 40001, "server_port": p}
                            for p in (80, 445)]


def ftp_firewalled(lab, truth):
    """An FTP client (Python's ftplib) whose firewall drops inbound
    connections asks for 6 active-mode transfers, one per control
    connection: the server's 6 data connections (transient, to the 6
    announced ports) go unanswered. A benign server, not a scanner."""
    client = HOSTS["ftpc"][0][0]
    lab.run(["nft", "-f", "-"], "ftpc", stdin=(
        "table inet fw {\n chain in {\n  type filter hook input priority 0; policy drop;\n"
        "  ct state established,related accept\n  iif lo accept\n }\n}\n"))
    log = lab.log_path("ftp-active.jsonl")
    try:
        lab.run([sys.executable, SERVICES, "ftp-active", log, SRV, "6"], "ftpc", timeout=60)
    finally:
        lab.run(["nft", "delete", "table", "inet", "fw"], "ftpc")
    with open(log) as f:
        tries = [json.loads(line) for line in f]
    if len(tries) != 6 or any(t["result"] == "ok" or not t["data_port"] for t in tries):
        raise RuntimeError(f"ftp_firewalled: {tries}")
    truth["attempts"].append({"tool": "ftplib control", "client_ip": client, "server_ip": SRV,
                              "server_port": 21, "count": len(tries), "conn_state": "SF"})
    for t in tries:
        # The server's data connection to the announced port: SYNs only.
        truth["attempts"].append({"tool": "pyftpdlib active data", "client_ip": SRV,
                                  "server_ip": client, "server_port": t["data_port"],
                                  "count": 1, "conn_state": "S0", "transient": True})
    truth["benign"].append(client)
    # The server only answered its clients: no scanner verdict is right.
    # e2e_lab_transient_not_scanner checks that (see tests/e2e/e2e_lab.py).
    truth["transient_only"] = [SRV]


SCENARIOS = {
    "web": (web, "curl and wget downloads over IPv4 and IPv6"),
    "ftp": (ftp, "lftp passive and active get and put against pyftpdlib"),
    "relay": (relay, "a mail relay retrying one dead MX 12 times between deliveries"),
    "busy": (busy, "a busy client: 300 HTTP connections to three server addresses"),
    "p2p": (p2p, "a P2P-like node: 40 peers, 4 failures"),
    "nmap_syn": (nmap_syn, "nmap -sS horizontal and vertical, nmap -sU"),
    "nmap_connect": (nmap_connect, "nmap -sT horizontal and vertical"),
    "masscan": (masscan, "masscan from source port 40000 beside 30 web downloads"),
    "hping": (hping, "hping3 SYN probes: vertical on the rejecting host, dead addresses"),
    "shared_sport": (shared_sport, "masscan and nmap -sS from one source port, two hosts"),
    "ftp_firewalled": (ftp_firewalled, "active FTP to a client that drops inbound connections"),
    "sample": (sample, "the README's capture: web, FTP, relay retries, nmap -sS -g 40001"),
}


def missing_tools():
    missing = [t for t in TOOLS if shutil.which(t) is None]
    try:
        ftp_python()
    except Unavailable:
        missing.append("pyftpdlib")
    return missing


def install_missing(missing):
    """Every lab tool is a Debian package that scripts/install-deps.sh lists
    (it installs only what is missing); --no-install leaves the machine as
    it is."""
    deps = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                        "install-deps.sh")
    print(f"lab: installing the missing {' '.join(missing)} with scripts/install-deps.sh",
          flush=True)
    p = subprocess.run(["bash", deps], capture_output=True, text=True)
    if p.returncode != 0:
        raise Unavailable(f"missing tools: {' '.join(missing)}; scripts/install-deps.sh failed: "
                          f"{(p.stderr or p.stdout).strip()[-300:]}")


def check_machine(install):
    if os.geteuid() != 0:
        raise Unavailable("needs root (network namespaces)")
    missing = missing_tools()
    if missing and install:
        install_missing(missing)
        missing = missing_tools()
    if missing:
        raise Unavailable(f"missing tools: {' '.join(missing)} (scripts/install-deps.sh)")
    name = f"ftl{os.getpid()}-probe"
    p = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if p.returncode != 0:
        raise Unavailable(f"`ip netns add` fails here: {p.stderr.strip()}")
    subprocess.run(["ip", "netns", "del", name], capture_output=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--no-install", action="store_true",
                    help="skip (exit 77) instead of installing missing Debian packages")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    if args.list:
        for k, (_, d) in SCENARIOS.items():
            print(f"{k:14} {d}")
        return 0
    if not args.out:
        ap.error("OUT (the directory for captures and truth files) is required")
    names = [s for s in args.scenarios.split(",") if s]
    unknown = [s for s in names if s not in SCENARIOS]
    if unknown:
        print(f"lab: unknown scenarios {unknown}; --list names them", file=sys.stderr)
        return 2
    try:
        check_machine(install=not args.no_install)
    except Unavailable as e:
        print(f"lab: cannot run here: {e}", flush=True)
        return SKIP
    os.makedirs(args.out, exist_ok=True)
    lab = Lab(os.path.abspath(args.out))

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    t = time.monotonic()
    try:
        lab.build()
        lab.start_services()
        for name in names:
            fn, description = SCENARIOS[name]
            lab.scenario(name, lambda truth, fn=fn: fn(lab, truth), description)
    except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError) as e:
        print(f"lab: failed: {e}", flush=True)
        return 1
    finally:
        lab.cleanup()
        lab.timings["total_s"] = round(time.monotonic() - t, 2)
        with open(os.path.join(lab.out, "lab.json"), "w") as f:
            json.dump({"scenarios": names, "timings": lab.timings}, f, indent=1)
            f.write("\n")
    print(f"lab: {len(names)} scenarios in {lab.timings['total_s']} s -> {lab.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
