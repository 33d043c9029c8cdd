// Hand-built ParsedPackets and a small tracker harness for the session tests:
// the tracker's input contract, without the parser in the way.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "packet/parsed_packet.h"
#include "session/tracker.h"

namespace flowtrail::session::testing {

inline IpAddress Ip(const char* text, uint8_t* version = nullptr) {
  IpAddress a;
  if (inet_pton(AF_INET, text, a.bytes.data()) == 1) {
    if (version) *version = 4;
  } else {
    EXPECT_EQ(inet_pton(AF_INET6, text, a.bytes.data()), 1) << text;
    if (version) *version = 6;
  }
  return a;
}

inline constexpr uint8_t kS = packet::kTcpSyn;
inline constexpr uint8_t kA = packet::kTcpAck;
inline constexpr uint8_t kF = packet::kTcpFin;
inline constexpr uint8_t kR = packet::kTcpRst;
inline constexpr uint8_t kP = packet::kTcpPsh;
inline constexpr uint8_t kSA = kS | kA;
inline constexpr uint8_t kFA = kF | kA;
inline constexpr uint8_t kPA = kP | kA;
inline constexpr uint8_t kRA = kR | kA;

// Payload bytes must outlive the packet: the helpers keep them in a deque.
class PacketMaker {
 public:
  packet::ParsedPacket Tcp(const char* src, uint16_t sport, const char* dst, uint16_t dport,
                           uint8_t flags, uint32_t seq, uint32_t ack = 0,
                           std::string_view payload = {}) {
    packet::ParsedPacket p = Base(src, dst, packet::kProtoTcp, payload);
    p.src_port = sport;
    p.dst_port = dport;
    p.tcp_flags = flags;
    p.seq = seq;
    p.ack = ack;
    return p;
  }
  // A payload of `len` bytes that are not kept (only lengths matter).
  packet::ParsedPacket TcpLen(const char* src, uint16_t sport, const char* dst, uint16_t dport,
                              uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len) {
    packet::ParsedPacket p = Tcp(src, sport, dst, dport, flags, seq, ack, std::string(len, 'x'));
    return p;
  }
  packet::ParsedPacket Udp(const char* src, uint16_t sport, const char* dst, uint16_t dport,
                           std::string_view payload = "d") {
    packet::ParsedPacket p = Base(src, dst, packet::kProtoUdp, payload);
    p.src_port = sport;
    p.dst_port = dport;
    return p;
  }
  packet::ParsedPacket Icmp(const char* src, const char* dst, uint8_t type, uint8_t code,
                            uint16_t id, std::string_view payload = "ping") {
    uint8_t v = 4;
    Ip(src, &v);
    packet::ParsedPacket p =
        Base(src, dst, v == 4 ? packet::kProtoIcmp : packet::kProtoIcmpV6, payload);
    p.icmp_type = type;
    p.icmp_code = code;
    p.icmp_id = id;
    p.src_port = type;
    p.dst_port = code;
    return p;
  }

 private:
  packet::ParsedPacket Base(const char* src, const char* dst, uint8_t proto,
                            std::string_view payload) {
    packet::ParsedPacket p;
    p.src = Ip(src, &p.ip_version);
    p.dst = Ip(dst);
    p.protocol = proto;
    keep_.emplace_back(payload);
    p.payload = reinterpret_cast<const uint8_t*>(keep_.back().data());
    p.payload_len = static_cast<uint32_t>(payload.size());
    p.captured_payload_len = p.payload_len;
    p.frame_len = 54 + p.payload_len;
    return p;
  }
  std::deque<std::string> keep_;
};

inline TrackerConfig SmallConfig() {
  TrackerConfig c;
  c.capacity = 1024;
  c.output_capacity = 1024;
  return c;
}

// Tracker plus the records it emitted so far.
class Harness {
 public:
  explicit Harness(const TrackerConfig& config = SmallConfig()) {
    auto t = Tracker::Create(config);
    EXPECT_TRUE(t.ok()) << t.status();
    tracker = std::move(*t);
  }
  void Send(const packet::ParsedPacket& p, uint64_t now_us, uint16_t port = 0) {
    tracker->Process(p, now_us, port);
    Collect();
  }
  void Advance(uint64_t now_us) {
    tracker->Advance(now_us);
    Collect();
  }
  void Flush(EndReason reason = EndReason::kEndOfInput, uint64_t now_us = 0) {
    while (!tracker->FlushSome(reason, now_us)) Collect();
    Collect();
  }
  void Collect() {
    SessionRecord buf[64];
    while (size_t n = tracker->Drain(buf)) records.insert(records.end(), buf, buf + n);
    ContactEvent ev[64];
    while (size_t n = tracker->DrainContacts(ev)) contacts.insert(contacts.end(), ev, ev + n);
  }
  // The only record, after flushing everything.
  SessionRecord Only() {
    Flush();
    EXPECT_EQ(records.size(), 1u);
    return records.empty() ? SessionRecord() : records.front();
  }

  std::unique_ptr<Tracker> tracker;
  std::vector<SessionRecord> records;
  std::vector<ContactEvent> contacts;
};

}  // namespace flowtrail::session::testing
