#!/usr/bin/env python3
"""Prints "PACKETS BYTES MAX_CAPLEN" of a classic pcap file (either byte order,
micro- or nanosecond magic): the frame count, captured bytes and the longest
captured frame, for the bench scripts."""

import struct
import sys


def main(path):
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            sys.exit(f"{path}: not a pcap file")
        magic = struct.unpack("<I", head[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            order = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            order = ">"
        else:
            sys.exit(f"{path}: not a classic pcap file (pcapng is not supported by net_pcap)")
        packets = captured = longest = 0
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                break
            _, _, caplen, _ = struct.unpack(order + "IIII", rec)
            f.seek(caplen, 1)
            packets += 1
            captured += caplen
            longest = max(longest, caplen)
    print(packets, captured, longest)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: pcap_info.py FILE.pcap")
    main(sys.argv[1])
