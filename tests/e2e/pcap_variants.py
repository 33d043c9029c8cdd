"""Rewrites a classic Ethernet pcap into the variants the conformance tests
feed the sensor (Python 3 standard library only):

  snap(records, n)          cut to snap length n: caplen = min(caplen, n), the
                            wire length kept, the file header's snaplen n
  relink(records, linktype) the same packets on another link layer (below)
  write_pcap / write_pcapng classic pcap (microseconds) or pcapng (SHB, one
                            IDB, one EPB per packet)
  truncated_tail / corrupt_middle   broken files (the last record cut short;
                            a record claiming caplen 300000 in the middle)

Link types (LINKTYPE_* numbers): LINUX_SLL 113 (16-byte cooked header,
protocol = the ethertype), LINUX_SLL2 276 (20 bytes), RAW 101 and its older
numbers 12 and 14 (bare IP), IPV4 228 / IPV6 229 (bare IP of that version
only), NULL 0 (4-byte address family in the file's byte order: AF_INET 2,
AF_INET6 30 as macOS writes), LOOP 108 (the same in network order, AF_INET6
24 as OpenBSD writes). Ethernet padding after the IP datagram is removed (no
such trailer exists on those links) and the wire length shrinks with it.

Not carried over, and counted in the returned `dropped` Counter: frames with
VLAN tags or MPLS labels (on cooked captures libpcap would show the tag after
the header; the link-type tests use a capture without tags instead), non-IP
frames on the IP-only link types, and on IPV4/IPV6 the other IP version.
"""

import collections
import struct

ETHERNET, NULL, RAW_OLD, RAW_BSD, RAW, LOOP, LINUX_SLL, IPV4, IPV6, LINUX_SLL2 = (
    1, 0, 12, 14, 101, 108, 113, 228, 229, 276)
NAMES = {ETHERNET: "EN10MB", NULL: "NULL", RAW_OLD: "RAW_12", RAW_BSD: "RAW_14", RAW: "RAW",
         LOOP: "LOOP", LINUX_SLL: "LINUX_SLL", IPV4: "IPV4", IPV6: "IPV6",
         LINUX_SLL2: "LINUX_SLL2"}

Record = collections.namedtuple("Record", "ts_sec ts_usec caplen wirelen data")


class PcapError(Exception):
    pass


def read_pcap(path):
    """(linktype, snaplen, records) of a classic pcap (µs or ns, either byte
    order; nanoseconds are cut to microseconds)."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 24:
        raise PcapError(f"{path}: too short for a pcap header")
    magic = buf[:4]
    for endian, nanos, m in (("<", False, 0xA1B2C3D4), (">", False, 0xA1B2C3D4),
                             ("<", True, 0xA1B23C4D), (">", True, 0xA1B23C4D)):
        if struct.unpack(endian + "I", magic)[0] == m:
            break
    else:
        raise PcapError(f"{path}: not a classic pcap (magic {magic.hex()})")
    _, _, _, _, snaplen, linktype = struct.unpack(endian + "HHiIII", buf[4:24])
    records = []
    at = 24
    while at + 16 <= len(buf):
        sec, frac, caplen, wirelen = struct.unpack(endian + "IIII", buf[at:at + 16])
        at += 16
        if at + caplen > len(buf):
            raise PcapError(f"{path}: record at byte {at - 16} runs past the end")
        records.append(Record(sec, frac // 1000 if nanos else frac, caplen, wirelen,
                              buf[at:at + caplen]))
        at += caplen
    return linktype & 0xFFFF, snaplen, records


def write_pcap(path, linktype, snaplen, records):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
        for r in records:
            f.write(struct.pack("<IIII", r.ts_sec, r.ts_usec, len(r.data), r.wirelen))
            f.write(r.data)


def _block(kind, body):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", kind, n) + body + struct.pack("<I", n)


def write_pcapng(path, linktype, snaplen, records):
    """One section, one interface (timestamps in microseconds, the default
    if_tsresol), one Enhanced Packet Block per record."""
    with open(path, "wb") as f:
        f.write(_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
        f.write(_block(0x00000001, struct.pack("<HHI", linktype, 0, snaplen)))
        for r in records:
            ts = r.ts_sec * 1_000_000 + r.ts_usec
            f.write(_block(0x00000006, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF,
                                                   len(r.data), r.wirelen) + r.data))


def snap(records, n):
    return [r._replace(caplen=min(r.caplen, n), data=r.data[:n]) for r in records]


def _ip_end(data, at):
    """End of the IP datagram starting at `at` per its header, or len(data)."""
    if len(data) >= at + 4 and data[at] >> 4 == 4:
        return min(len(data), at + struct.unpack(">H", data[at + 2:at + 4])[0])
    if len(data) >= at + 6 and data[at] >> 4 == 6:
        return min(len(data), at + 40 + struct.unpack(">H", data[at + 4:at + 6])[0])
    return len(data)


def relink(records, linktype):
    """Ethernet records on `linktype`; returns (records, dropped Counter).
    EN10MB keeps every record as it is (for pcapng of the original)."""
    out, dropped = [], collections.Counter()
    if linktype == ETHERNET:
        return list(records), dropped
    for r in records:
        d = r.data
        if len(d) < 14:
            dropped["shorter than an Ethernet header"] += 1
            continue
        ethertype = struct.unpack(">H", d[12:14])[0]
        if ethertype in (0x8100, 0x88A8, 0x9100, 0x8847, 0x8848):
            dropped["VLAN or MPLS"] += 1
            continue
        is_ip = ethertype in (0x0800, 0x86DD)
        v4 = ethertype == 0x0800
        if linktype in (RAW, RAW_OLD, RAW_BSD, NULL, LOOP, IPV4, IPV6) and not is_ip:
            dropped["non-IP"] += 1
            continue
        if (linktype == IPV4 and not v4) or (linktype == IPV6 and v4):
            dropped["other IP version"] += 1
            continue
        payload = d[14:_ip_end(d, 14)] if is_ip else d[14:]
        trailer = len(d) - 14 - len(payload)  # Ethernet padding removed
        src_mac = d[6:12]
        if linktype == LINUX_SLL:
            # packet type 0 (to us), ARPHRD_ETHER, 6-byte address padded to 8.
            head = struct.pack(">HHH", 0, 1, 6) + src_mac + b"\0\0" + struct.pack(">H", ethertype)
        elif linktype == LINUX_SLL2:
            head = (struct.pack(">HHIHBB", ethertype, 0, 1, 1, 0, 6) + src_mac + b"\0\0")
        elif linktype == NULL:
            head = struct.pack("<I", 2 if v4 else 30)
        elif linktype == LOOP:
            head = struct.pack(">I", 2 if v4 else 24)
        elif linktype in (RAW, RAW_OLD, RAW_BSD, IPV4, IPV6):
            head = b""
        else:
            raise PcapError(f"relink: link type {linktype} not supported")
        data = head + payload
        wire = max(len(data), r.wirelen - 14 - trailer + len(head))
        out.append(r._replace(caplen=len(data), wirelen=wire, data=data))
    return out, dropped


def ip_start(data):
    """(ethertype of the IP header, its offset) of an Ethernet frame, past
    VLAN tags and MPLS labels (MPLS: the version nibble says which IP);
    None when the frame is cut before it or the type field is not known."""
    at = 12
    while True:
        if len(data) < at + 2:
            return None
        et = struct.unpack(">H", data[at:at + 2])[0]
        at += 2
        if et in (0x8100, 0x88A8, 0x9100):
            at += 2
            continue
        break
    if et in (0x8847, 0x8848):
        while len(data) >= at + 4:
            bottom = data[at + 2] & 1
            at += 4
            if bottom:
                break
        if len(data) <= at:
            return None
        et = 0x0800 if data[at] >> 4 == 4 else 0x86DD
    return et, at


def header_bytes(data):
    """Bytes an Ethernet frame needs captured for its session's counters: the
    link headers, IP header (IPv6 extensions included) and the fixed L4
    header (TCP 20, UDP 8, ICMP 8); for later fragments and other protocols
    the IP header. None when the frame is not IP."""
    start = ip_start(data)
    if start is None:
        return None
    et, at = start
    if et == 0x0800:
        if len(data) < at + 20:
            return at + 20
        ihl = (data[at] & 0xF) * 4
        proto = data[at + 9]
        frag = struct.unpack(">H", data[at + 6:at + 8])[0] & 0x1FFF
        at += ihl
        if frag:
            return at
    elif et == 0x86DD:
        if len(data) < at + 40:
            return at + 40
        proto = data[at + 6]
        at += 40
        while proto in (0, 43, 60, 44, 51):
            if len(data) < at + 8:
                return at + 8
            nxt = data[at]
            if proto == 44:
                ln = 8
            elif proto == 51:
                ln = (data[at + 1] + 2) * 4
            else:
                ln = (data[at + 1] + 1) * 8
            proto = nxt
            at += ln
    else:
        return None
    return at + {6: 20, 17: 8, 1: 8, 58: 8}.get(proto, 0)


def truncated_tail(records):
    """File bytes (classic pcap) whose last record is cut in the middle of its
    data; returns (bytes, index of the bad record, its byte offset)."""
    body = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, ETHERNET))
    for r in records:
        offset = len(body)
        body += struct.pack("<IIII", r.ts_sec, r.ts_usec, len(r.data), r.wirelen) + r.data
    cut = len(records[-1].data) // 2
    return bytes(body[:len(body) - cut]), len(records) - 1, offset


def corrupt_middle(records, caplen=300000):
    """File bytes where the record in the middle claims `caplen` captured bytes
    (beyond any valid snap length; the file goes on with the records after
    it); returns (bytes, index of the bad record, its byte offset)."""
    bad = len(records) // 2
    body = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, ETHERNET))
    offset = 0
    for i, r in enumerate(records):
        if i == bad:
            offset = len(body)
            body += struct.pack("<IIII", r.ts_sec, r.ts_usec, caplen, caplen) + r.data
        else:
            body += struct.pack("<IIII", r.ts_sec, r.ts_usec, len(r.data), r.wirelen) + r.data
    return bytes(body), bad, offset
