// Shared helpers of the packet parser tests: parse from an exactly-sized heap
// copy (so ASan reports any read past caplen) and compare ParsedPacket fields.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "packet/parser.h"

namespace flowtrail::packet::test {

struct Parsed {
  ParseResult result = ParseResult::kCount;
  ParsedPacket pkt;
  std::unique_ptr<uint8_t[]> buf;  // the caplen bytes the parser saw
  uint32_t caplen = 0;

  // Offset of the payload pointer from the start of the frame.
  ptrdiff_t PayloadOffset() const { return pkt.payload - buf.get(); }
};

// Parses the first `caplen` bytes of `frame` (all of it by default) from a heap
// buffer of exactly that size; `wire_len` defaults to the full frame size.
inline constexpr uint32_t kWholeFrame = UINT32_MAX;
inline Parsed ParseCopy(LinkType link, const std::vector<uint8_t>& frame, size_t caplen = SIZE_MAX,
                        uint32_t wire_len = kWholeFrame) {
  Parsed p;
  p.caplen = static_cast<uint32_t>(std::min(caplen, frame.size()));
  p.buf.reset(new uint8_t[p.caplen]);
  if (p.caplen > 0) std::memcpy(p.buf.get(), frame.data(), p.caplen);
  if (wire_len == kWholeFrame) wire_len = static_cast<uint32_t>(frame.size());
  p.result = ParseFrame(link, p.buf.get(), p.caplen, wire_len, &p.pkt);
  return p;
}

// An Ethernet frame.
inline Parsed ParseCopy(const std::vector<uint8_t>& frame, size_t caplen = SIZE_MAX,
                        uint32_t wire_len = kWholeFrame) {
  return ParseCopy(LinkType::kEthernet, frame, caplen, wire_len);
}

inline IpAddress V4(const char* text) {
  uint8_t b[4];
  EXPECT_EQ(inet_pton(AF_INET, text, b), 1) << text;
  return IpAddress::FromV4(b);
}
inline IpAddress V6(const char* text) {
  uint8_t b[16];
  EXPECT_EQ(inet_pton(AF_INET6, text, b), 1) << text;
  return IpAddress::FromV6(b);
}

inline void Put16(std::vector<uint8_t>& f, size_t at, uint16_t v) {
  f.at(at) = static_cast<uint8_t>(v >> 8);
  f.at(at + 1) = static_cast<uint8_t>(v);
}
inline uint16_t Get16(const std::vector<uint8_t>& f, size_t at) {
  return static_cast<uint16_t>((f.at(at) << 8) | f.at(at + 1));
}

// A new field in ParsedPacket must be added to ExpectSameFields below.
static_assert(sizeof(ParsedPacket) == 104, "ParsedPacket changed: extend ExpectSameFields");

// Every field but the payload pointer (compared by the callers as an offset).
inline void ExpectSameFields(const ParsedPacket& got, const ParsedPacket& want) {
  EXPECT_EQ(got.src, want.src);
  EXPECT_EQ(got.dst, want.dst);
  EXPECT_EQ(got.ip_version, want.ip_version);
  EXPECT_EQ(got.protocol, want.protocol);
  EXPECT_EQ(got.src_port, want.src_port);
  EXPECT_EQ(got.dst_port, want.dst_port);
  EXPECT_EQ(got.tcp_flags, want.tcp_flags);
  EXPECT_EQ(got.seq, want.seq);
  EXPECT_EQ(got.ack, want.ack);
  EXPECT_EQ(got.window, want.window);
  EXPECT_EQ(got.icmp_type, want.icmp_type);
  EXPECT_EQ(got.icmp_code, want.icmp_code);
  EXPECT_EQ(got.icmp_id, want.icmp_id);
  EXPECT_EQ(got.vlan_count, want.vlan_count);
  EXPECT_EQ(got.vlan_outer, want.vlan_outer);
  EXPECT_EQ(got.vlan_inner, want.vlan_inner);
  EXPECT_EQ(got.first_fragment, want.first_fragment);
  EXPECT_EQ(got.fragment_id, want.fragment_id);
  EXPECT_EQ(got.fragment_offset, want.fragment_offset);
  EXPECT_EQ(got.more_fragments, want.more_fragments);
  EXPECT_EQ(got.payload_len, want.payload_len);
  EXPECT_EQ(got.captured_payload_len, want.captured_payload_len);
  EXPECT_EQ(got.frame_len, want.frame_len);
  EXPECT_EQ(got.snapped, want.snapped);
  EXPECT_EQ(int{got.tcp_window_scale}, int{want.tcp_window_scale});
  EXPECT_EQ(got.ethertype, want.ethertype);
}

// What holds for every kOk packet: the captured payload lies inside the
// captured bytes and never exceeds what the headers announce.
inline void ExpectConsistent(const Parsed& p) {
  ASSERT_EQ(p.result, ParseResult::kOk);
  ASSERT_NE(p.pkt.payload, nullptr);
  EXPECT_GE(p.pkt.payload, p.buf.get());
  EXPECT_LE(p.pkt.payload + p.pkt.captured_payload_len, p.buf.get() + p.caplen);
  EXPECT_LE(p.pkt.captured_payload_len, p.pkt.payload_len);
  EXPECT_TRUE(p.pkt.ip_version == 4 || p.pkt.ip_version == 6);
  EXPECT_GE(p.pkt.frame_len, p.caplen);
}

}  // namespace flowtrail::packet::test
