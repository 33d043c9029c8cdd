// What the parser extracts from one frame: the contract between packet parsing
// and session tracking. Plain data, no DPDK, no allocation.
#pragma once

#include <cstdint>

#include "common/ip_address.h"

namespace flowtrail::packet {

// IP protocol numbers the tracker understands.
inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIcmpV6 = 58;

inline constexpr uint8_t kNoWindowScale = 0xff;

// TCP flag bits as in the header's flag byte.
inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;
inline constexpr uint8_t kTcpUrg = 0x20;

struct ParsedPacket {
  IpAddress src;
  IpAddress dst;
  uint8_t ip_version = 0;  // 4 or 6
  uint8_t protocol = 0;    // any IP protocol (the one ending the IPv6 extension chain)
  // TCP/UDP ports. ICMP: src_port = type, dst_port = code of this message.
  // Any other protocol: 0 (its flow is the protocol and the address pair).
  uint16_t src_port = 0;
  uint16_t dst_port = 0;

  // TCP only.
  uint8_t tcp_flags = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint16_t window = 0;

  // ICMP / ICMPv6 only.
  uint8_t icmp_type = 0;
  uint8_t icmp_code = 0;
  uint16_t icmp_id = 0;  // identifier of echo/timestamp/info messages, else 0

  // Outer and inner VLAN ids (802.1Q / 802.1ad), in the order on the wire.
  uint8_t vlan_count = 0;  // tags seen (may exceed 2; only two ids are kept)
  uint16_t vlan_outer = 0;
  uint16_t vlan_inner = 0;

  // First fragment of a fragmented datagram (MF set, offset 0): L4 header is
  // present but the payload continues in later fragments (payload_len counts
  // this fragment's data only).
  bool first_fragment = false;
  // IPv4 identification or IPv6 fragment-header identification when the
  // datagram is fragmented (first fragment, or kNonFirstFragment); else 0.
  // With src, dst and protocol it names the datagram a later fragment belongs to.
  uint32_t fragment_id = 0;
  // Fragments (first and later): where this fragment's data starts in the
  // datagram's IP payload, in bytes, and whether more fragments follow. With
  // payload coverage per datagram the tracker counts overlapping or duplicate
  // fragments once.
  uint16_t fragment_offset = 0;
  bool more_fragments = false;

  // L4 payload length from the IP/L4 length fields (what the sender sent),
  // independent of the capture's snap length.
  uint32_t payload_len = 0;
  // Captured payload bytes available at `payload` (<= payload_len).
  const uint8_t* payload = nullptr;
  uint32_t captured_payload_len = 0;

  uint32_t frame_len = 0;  // wire length of the frame

  // The capture cut this frame (caplen < wire length) within the datagram:
  // lengths come from the headers, captured_payload_len says what is present.
  bool snapped = false;
  // SYN segments: the window scale option (RFC 7323) when present and
  // captured, else kNoWindowScale.
  uint8_t tcp_window_scale = 0xff;
  // Non-IP frames: the ethertype (or Linux cooked protocol, or BSD loopback
  // address family) that ended the parse, for counting by class; else 0.
  uint16_t ethertype = 0;
};

}  // namespace flowtrail::packet
