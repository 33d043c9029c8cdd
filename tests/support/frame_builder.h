// Builds Ethernet frames byte by byte for tests, fuzz seeds and generated
// captures: VLAN/Q-in-Q tags, MPLS labels, IPv4 (options, fragments), IPv6
// (extension headers), TCP, UDP, ICMP/ICMPv6. Checksums are computed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace flowtrail::testing {

struct Ipv6Extension {
  uint8_t type = 0;           // 0 hop-by-hop, 43 routing, 44 fragment, 60 dest opts, 51 AH
  std::vector<uint8_t> body;  // bytes after next-header/length; padded to the unit size
};

struct FrameSpec {
  uint8_t ip_version = 4;
  std::string src = "10.0.0.1";
  std::string dst = "10.0.0.2";
  uint8_t protocol = 6;  // 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, anything else = raw payload
  uint16_t sport = 1024;
  uint16_t dport = 80;

  // TCP
  uint8_t flags = 0x10;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint16_t window = 65535;
  std::vector<uint8_t> tcp_options;  // padded to 4 bytes

  // ICMP
  uint8_t icmp_type = 8;
  uint8_t icmp_code = 0;
  uint16_t icmp_id = 0;
  uint16_t icmp_seq = 0;

  std::string payload;

  // Link layer: tags outermost first. `qinq` makes the outer tag 0x88a8.
  std::vector<uint16_t> vlans;
  bool qinq = false;
  std::vector<uint32_t> mpls_labels;  // outermost first; payload is IP

  // IPv4
  std::vector<uint8_t> ipv4_options;  // padded to 4 bytes
  bool more_fragments = false;
  uint16_t fragment_offset = 0;  // in 8-byte units
  uint16_t ip_id = 1;
  uint8_t ttl = 64;

  // IPv6
  std::vector<Ipv6Extension> ipv6_extensions;
};

std::vector<uint8_t> BuildFrame(const FrameSpec& spec);

// Re-encapsulates an Ethernet frame (from BuildFrame) in link type `linktype`
// (a LINKTYPE_* number), as a capture of that type would hold it: Linux cooked
// v1 (113) / v2 (276) keep the ethertype and everything after it (VLAN tags
// and MPLS labels included, as a protocol 0x8100 / 0x8847); raw IP (12, 14,
// 101, 228, 229), NULL (0) and LOOP (108) keep the bytes from the IP header on,
// and are empty when the frame has tags or labels or is not IPv4/IPv6. NULL's
// address family is written in `null_little_endian` order, AF_INET6 as
// `af_inet6` (10 Linux, 24 NetBSD/OpenBSD, 28 FreeBSD, 30 macOS). Any other
// link type returns the frame unchanged. Offsets shift by result.size() -
// ethernet.size().
std::vector<uint8_t> Encapsulate(uint16_t linktype, const std::vector<uint8_t>& ethernet,
                                 bool null_little_endian = true, uint32_t af_inet6 = 30);

// Classic pcap (microsecond) writer, linktype Ethernet.
class PcapWriter {
 public:
  explicit PcapWriter(const std::string& path, uint32_t snaplen = 65535);
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  bool ok() const { return file_ != nullptr; }
  // Writes min(frame.size(), caplen) bytes; wire length = frame.size() unless given.
  void Write(uint64_t ts_us, const std::vector<uint8_t>& frame, uint32_t caplen = UINT32_MAX,
             uint32_t wire_len = 0);
  uint64_t packets() const { return packets_; }

 private:
  FILE* file_ = nullptr;
  uint32_t snaplen_;
  uint64_t packets_ = 0;
};

}  // namespace flowtrail::testing
