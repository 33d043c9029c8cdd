"""An independent reading of a capture's TCP sessions with tshark, for the
conformance test (e2e case `tshark_conformance`). Python 3 standard library
only; tshark is Debian's package (4.0 on Debian 12).

What tshark gives: one run per capture, every frame, with these fields
(FIELDS below): frame number and epoch time, the protocol stack, IPv4/IPv6
addresses, TCP ports, `tcp.stream`, raw sequence and acknowledgement numbers,
`tcp.len`, flags, VLAN ids and the receiver's calculated window. Preferences
(PREFS) switch off what could change those numbers: TCP desegmentation and IP
defragmentation (each frame stands for itself), relative sequence numbers
(raw ones are printed anyway); `tcp.analyze_sequence_numbers` stays on because
tshark's port-reuse detection (a new `tcp.stream` for a SYN with a new ISN)
needs it. tshark computes `tcp.len` from the IP header's length, not from what
was captured, so a frame cut by the snap length still counts its wire payload
(checked on ../shared/captures/bad__zeek_tcp_truncated-header.pcap: a frame
with caplen 54 of 138 has tcp.len 84).

Which frames count: a frame is a TCP packet of a session when tshark decoded
TCP directly over the first IP header (frame.protocols: link layers, one
`ip`/`ipv6`, only IPv6 extension headers, then `tcp`) and printed its stream,
sequence number and flags. TCP quoted inside ICMP errors, tunnelled TCP (GRE,
IP-in-IP, UDP tunnels) and frames tshark calls malformed before TCP are not:
the sensor counts those as ICMP, as the tunnel's flow, or as bad.

Sequence-derived application bytes (SPEC §2), per stream and direction, from
tshark's fields only: sequence numbers are unwrapped (each one placed within
2^31 of the highest end seen so far, so wraps past 2^32 are safe and sessions
may exceed 4 GiB); a segment's end is seq + tcp.len + SYN + FIN; the peer's
ACKs (not in RST segments) are ends too (acknowledged data was sent even when
the capture missed it);

    bytes = highest end - ISN - (SYN seen) - (FIN seen)

where the ISN is the SYN's (SYN-ACK's) sequence number, or the lowest start
seen when that side's SYN was not captured. A segment or ACK further than a
plausible window from what was seen (PLAUSIBLE_WINDOW: the largest window the
receiver advertised, scaled, and at least 16 MiB) is not trusted: it changes
no byte count (a 1-byte segment at seq + 10^9 does not inflate anything).

From tshark streams to sensor sessions. tshark keeps one `tcp.stream` for a
5-tuple until a SYN arrives with a sequence number different from the
stream's first one: then it starts a new stream (port reuse). The sensor
applies timeouts, which tshark does not, so a stream is cut into sessions by
the sensor's documented rules, applied here to tshark's packets:

  1. Capture clock: the clock is the latest packet time, except that a packet
     more than CLOCK_JUMP_US ahead of it moves it only when the next packet
     is beyond that too (then to the earlier of the two); times running
     backwards never move it back.
  2. Idle timeouts by state (SessionRules): a packet arriving when the clock
     has passed the session's last packet by its state's timeout (handshake
     30 s, established 300 s, one FIN 30 s, FIN both ways or RST: the 2 s
     linger) starts a new session on the same 5-tuple, without a SYN (such
     "tails" are reported but only compared for exactly-once).
  3. 5-tuple reuse: a tshark stream that starts with a SYN (new ISN) while
     the previous session on the 5-tuple is closed, reset or half-closed (a
     FIN from either side) is a new session: the sensor ends the old one as
     REPLACED. A new stream on a 5-tuple whose session is still open (no FIN,
     no RST, not timed out) is merged into it, as the sensor keeps one
     session (e.g. a SYN retransmitted with a new ISN before any data, Zeek
     #3313); merged sessions are excluded from the byte comparison and listed.
  4. VLAN ids are part of the key (the sensor's default, --vlan-key both):
     the key is (up to two VLAN ids outermost first, 802.1ad `ieee8021ad.id`
     before 802.1Q `vlan.id`; the canonical address/port pair). tshark's
     streams ignore VLANs, so with one 5-tuple live on several VLANs its
     stream numbers interleave: the oracle follows its own key and uses a
     stream change only where a SYN (without ACK) starts it.

  5. Malformed frames: a frame tshark flags with one of the MALFORMED expert
     messages (an IPv4 total length beyond the frame's recorded wire length,
     an IPv6 payload beyond its framing, a dissector exception such as an
     IPv4 option of impossible length) is bad for the sensor, as Zeek
     (truncated_IP) and Suricata (ipv4.trunc_pkt) call it too: tshark still
     gives such a frame a stream, the oracle leaves it out.

An oracle session maps to the sensor record with the same key (protocol 6,
both endpoints, VLAN ids) whose [first_time_us, last_time_us] overlaps the
session's packet times; the session's first packet time (the smallest
timestamp among its packets, to the microsecond) must equal the record's
first_time_us. A session is compared for bytes and packets only when its
client's SYN was seen in it.
"""

import collections
import decimal
import ipaddress
import os
import shutil
import subprocess

TSHARK = os.environ.get("FLOWTRAIL_TSHARK") or shutil.which("tshark") or ""

FIELDS = ("frame.number", "frame.time_epoch", "frame.protocols", "ip.src", "ipv6.src",
          "ip.dst", "ipv6.dst", "tcp.srcport", "tcp.dstport", "tcp.stream", "tcp.seq_raw",
          "tcp.ack_raw", "tcp.len", "tcp.flags", "vlan.id", "tcp.window_size",
          "ieee8021ad.id", "_ws.expert.message")

PREFS = ("tcp.desegment_tcp_streams:FALSE", "tcp.reassemble_out_of_order:FALSE",
         "tcp.analyze_sequence_numbers:TRUE", "tcp.relative_sequence_numbers:FALSE",
         "tcp.calculate_timestamps:FALSE", "tcp.track_bytes_in_flight:FALSE",
         "tcp.try_heuristic_first:FALSE", "ip.defragment:FALSE", "ipv6.defragment:FALSE")

# tshark's expert messages for frames the sensor counts as malformed (bad),
# not as packets of a session (rule 5).
MALFORMED = ("total length exceeds packet length", "payload length exceeds framing length",
             "Malformed Packet")

CLOCK_JUMP_US = 10_000_000
PLAUSIBLE_WINDOW_FLOOR = 1 << 24

SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10
LINK_LAYERS = {"eth", "ethertype", "vlan", "mpls", "sll", "null", "raw", "loop", "pwethheuristic",
               "pwethcw", "ieee8021ad", "llc", "frame"}


class OracleError(Exception):
    pass


class SessionRules:
    """The sensor's timeouts (seconds on its command line; the defaults are the
    sensor's own and those the generator's captures assume)."""

    def __init__(self, syn=30, idle=300, closing=30, linger=2):
        self.syn_us, self.idle_us = int(syn * 1e6), int(idle * 1e6)
        self.closing_us, self.linger_us = int(closing * 1e6), int(linger * 1e6)

    @classmethod
    def from_args(cls, args):
        names = {"--tcp-syn-timeout": "syn", "--tcp-idle-timeout": "idle",
                 "--tcp-closing-timeout": "closing", "--tcp-linger": "linger"}
        kw = {}
        args = list(args)
        for i, a in enumerate(args[:-1]):
            if a in names:
                kw[names[a]] = float(args[i + 1])
        return cls(**kw)


Packet = collections.namedtuple(
    "Packet", "frame ts_us src dst sport dport stream seq ack length flags vlans window")


def available():
    return bool(TSHARK) and os.access(TSHARK, os.X_OK)


def _epoch_us(text):
    # Exact integer arithmetic: seconds >= 2^31 and 0 stay what was written.
    sec, _, frac = text.partition(".")
    if sec.lstrip("-").isdigit() and (frac.isdigit() or not frac):
        us = int(sec) * 1_000_000 + int((frac + "000000")[:6])
        return us
    return int(decimal.Decimal(text).scaleb(6).to_integral_value(rounding=decimal.ROUND_FLOOR))


_ADDRESSES = {}


def _address(text):
    """Canonical text and packed bytes of an address (cached: captures repeat
    a few addresses many times)."""
    a = _ADDRESSES.get(text)
    if a is None:
        ip = ipaddress.ip_address(text)
        a = _ADDRESSES[text] = (str(ip), ip.packed)
    return a


def _plain_tcp(protocols):
    """TCP directly over the first (only) IP header, see the module docstring."""
    layers = protocols.split(":")
    if "tcp" not in layers:
        return False
    before = layers[:layers.index("tcp")]
    ips = [i for i, p in enumerate(before) if p in ("ip", "ipv6")]
    if len(ips) != 1:
        return False
    if any(p not in LINK_LAYERS for p in before[:ips[0]]):
        return False
    return all(p.startswith("ipv6.") for p in before[ips[0] + 1:])


def read_capture(path):
    """(all frame times in file order, TCP packets) from one tshark run."""
    if not available():
        raise OracleError("tshark not found (install Debian's tshark package)")
    cmd = [TSHARK, "-n", "-r", path, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a",
           "-E", "aggregator=,"]
    for p in PREFS:
        cmd += ["-o", p]
    for f in FIELDS:
        cmd += ["-e", f]
    p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=300)
    if p.returncode != 0 and not p.stdout:
        raise OracleError(f"tshark -r {path} exited {p.returncode}: {p.stderr.strip()[-500:]}")
    times, packets = [], []
    for line in p.stdout.splitlines():
        c = line.split("\t")
        if len(c) < len(FIELDS):
            c += [""] * (len(FIELDS) - len(c))
        (frame, epoch, protocols, ip_src, ip6_src, ip_dst, ip6_dst, sport, dport, stream, seq,
         ack, length, flags, vlans, window, stags, expert) = c[:len(FIELDS)]
        if not epoch:
            continue
        ts = _epoch_us(epoch)
        times.append(ts)
        if not _plain_tcp(protocols) or not (stream and seq and flags and sport and dport):
            continue
        if any(m in expert for m in MALFORMED):
            continue  # malformed for the sensor too (rule 5)
        src = (ip_src or ip6_src).split(",")[0]
        dst = (ip_dst or ip6_dst).split(",")[0]
        if not src or not dst:
            continue
        packets.append(Packet(
            frame=int(frame), ts_us=ts, src=_address(src)[0], dst=_address(dst)[0], sport=int(sport.split(",")[0]),
            dport=int(dport.split(",")[0]), stream=int(stream.split(",")[0]),
            seq=int(seq.split(",")[0]), ack=int(ack.split(",")[0]) if ack else 0,
            length=int(length.split(",")[0]) if length else 0,
            flags=int(flags.split(",")[0], 16) & 0xFF,
            # 802.1ad S-tags (0x88a8) are outermost, then 802.1Q tags.
            vlans=tuple(int(v) for v in (stags + "," + vlans).split(",") if v != ""),
            window=int(window.split(",")[0]) if window else 0))
    return times, packets


def capture_clock(times):
    """The clock value at each frame (rule 1 of the module docstring)."""
    out = []
    clock = None
    for i, t in enumerate(times):
        if clock is None:
            clock = t
        elif t > clock + CLOCK_JUMP_US:
            if i + 1 < len(times) and times[i + 1] > clock + CLOCK_JUMP_US:
                clock = min(t, times[i + 1])  # confirmed by the next packet
        elif t > clock:
            clock = t
        out.append(clock)
    return out


class SideSeq:
    """One direction's sequence-derived bytes (module docstring)."""

    def __init__(self):
        self.anchored = False
        self.lowest = self.highest = 0
        self.isn = None
        self.syn = self.fin = False
        self.untrusted = 0

    def _unwrap(self, s):
        d = (s - (self.highest & 0xFFFFFFFF)) & 0xFFFFFFFF
        if d >= 1 << 31:
            d -= 1 << 32
        return self.highest + d

    def segment(self, seq, length, flags, window):
        syn, fin = bool(flags & SYN), bool(flags & FIN)
        if not self.anchored:
            self.anchored = True
            start = (1 << 32) + seq
            self.lowest = self.highest = start
        else:
            start = self._unwrap(seq)
            if start > self.highest + window or start + window < self.lowest:
                self.untrusted += 1
                return
        if syn and self.isn is None:
            self.isn = start
        self.lowest = min(self.lowest, start)
        self.highest = max(self.highest, start + length + syn + fin)
        self.syn |= syn
        self.fin |= fin

    def peer_ack(self, ack, window):
        if not self.anchored:
            return
        a = self._unwrap(ack)
        if self.highest < a <= self.highest + window:
            self.highest = a

    def bytes(self):
        if not self.anchored:
            return 0
        base = self.isn if self.isn is not None else self.lowest
        size = max(self.highest - base, 0)
        for flag in (self.syn, self.fin):
            if flag and size:
                size -= 1
        return size


class Session:
    """Packets of one sensor session as the oracle cuts tshark's streams."""

    def __init__(self, key, streams, first):
        self.key = key  # (vlans, (ip, port), (ip, port)) with the endpoints sorted
        self.streams = set(streams)
        self.packets = []
        self.first = first  # first Packet: decides roles when no SYN
        self.merged = False  # rule 3: tshark streams merged into one session
        self.tail = False  # rule 2: started by a timeout, not by its stream's start
        self.client = None

    @property
    def first_us(self):
        return min(p.ts_us for p in self.packets)

    @property
    def last_us(self):
        return max(p.ts_us for p in self.packets)

    @property
    def syn_seen(self):
        return any((p.flags & (SYN | ACK)) == SYN for p in self.packets)

    def roles(self):
        """(client, server) endpoints: the SYN sender, else the SYN-ACK's
        receiver, else the first packet's sender."""
        for p in self.packets:
            if (p.flags & (SYN | ACK)) == SYN:
                return (p.src, p.sport), (p.dst, p.dport)
        for p in self.packets:
            if (p.flags & (SYN | ACK)) == (SYN | ACK):
                return (p.dst, p.dport), (p.src, p.sport)
        p = self.first
        return (p.src, p.sport), (p.dst, p.dport)

    def summary(self):
        """Counts per side: packets, payload bytes, sequence-derived bytes."""
        client, server = self.roles()
        seqs = {client: SideSeq(), server: SideSeq()}
        windows = {client: 0, server: 0}  # largest window each side advertised
        out = {"client": client, "server": server, "client_packets": 0, "server_packets": 0,
               "client_payload_bytes": 0, "server_payload_bytes": 0, "untrusted": 0}
        for p in self.packets:
            me, peer = (p.src, p.sport), (p.dst, p.dport)
            side = "client" if me == client else "server"
            out[f"{side}_packets"] += 1
            out[f"{side}_payload_bytes"] += p.length
            plausible = max(PLAUSIBLE_WINDOW_FLOOR, windows[peer])
            seqs[me].segment(p.seq, p.length, p.flags, plausible)
            if p.flags & ACK and not p.flags & RST:
                seqs[peer].peer_ack(p.ack, max(PLAUSIBLE_WINDOW_FLOOR, windows[me]))
            windows[me] = max(windows[me], p.window)
        out["client_bytes"] = seqs[client].bytes()
        out["server_bytes"] = seqs[server].bytes()
        out["untrusted"] = seqs[client].untrusted + seqs[server].untrusted
        return out


def make_key(vlans, a, b):
    """Session key: (VLAN ids outermost first, the two (ip, port) endpoints
    sorted), the same for both directions."""
    ka, kb = (_address(a[0])[1], a[1]), (_address(b[0])[1], b[1])
    return (tuple(vlans[:2]),) + ((a, b) if ka <= kb else (b, a))


def _endpoint_key(p):
    return make_key(p.vlans, (p.src, p.sport), (p.dst, p.dport))


def sessions(times, packets, rules=None):
    """Cuts tshark's streams into sensor sessions (rules 1-4 of the module
    docstring). Returns the sessions in order of their first packet."""
    rules = rules or SessionRules()
    clock_by_frame = {}
    clock = capture_clock(times)
    # tshark numbers frames from 1 in file order, and times[] is in file order.
    for i, c in enumerate(clock):
        clock_by_frame[i + 1] = c
    live = {}  # key -> [Session, state dict]
    out = []
    for p in packets:
        key = _endpoint_key(p)
        now = clock_by_frame.get(p.frame, p.ts_us)
        cur = live.get(key)
        new_session, tail = cur is None, False
        if cur is not None:
            s, st = cur
            if now - st["last_clock"] >= _timeout(st, rules):
                new_session, tail = True, True  # rule 2: timed out
            elif p.stream not in s.streams and (p.flags & (SYN | ACK)) == SYN:
                if st["fin"] or st["rst"]:
                    new_session = True  # rule 3: the old session is REPLACED
                else:
                    s.streams.add(p.stream)  # rule 3: merged
                    s.merged = True
            else:
                # tshark keys streams without VLAN ids: with one 5-tuple on
                # several VLANs at once its stream numbers mix them up, so
                # only a SYN's new stream counts (rule 4).
                s.streams.add(p.stream)
        if new_session:
            s = Session(key, [p.stream], p)
            s.tail = tail and (p.flags & (SYN | ACK)) != SYN
            st = {"syn": set(), "fin": set(), "rst": False, "last_clock": now}
            live[key] = [s, st]
            out.append(s)
        s, st = live[key]
        s.packets.append(p)
        me = (p.src, p.sport)
        if p.flags & SYN and not p.flags & RST:
            st["syn"].add(me)
        if p.flags & FIN:
            st["fin"].add(me)
        if p.flags & RST:
            st["rst"] = True
        st["last_clock"] = max(st["last_clock"], now)
    return out


def _timeout(st, rules):
    if st["rst"] or len(st["fin"]) == 2:
        return rules.linger_us
    if st["fin"]:
        return rules.closing_us
    if len(st["syn"]) == 1:
        return rules.syn_us
    return rules.idle_us


def read_sessions(path, rules=None):
    times, packets = read_capture(path)
    return sessions(times, packets, rules), len(times)
