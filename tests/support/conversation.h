// Scripted conversations for generated captures: a Conversation emits the
// frames of one TCP connection, UDP exchange or ICMP echo (with correct
// sequence and acknowledgement numbers) into a FrameSink, and keeps the
// session record the sensor must write for it, so a capture and its expected
// records come from one script. The record model follows SPEC §2 (flags,
// packets, payload bytes, first/last sequence numbers, sequence-derived
// application bytes, first-data sender, shutdown initiator); conn_state and
// end reason are derived from what was sent and the timeouts, or set by the
// scenario where it knows better.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "frame_builder.h"

namespace flowtrail::testing {

// All frames of a capture; written in timestamp order (stable for equal
// timestamps, i.e. in the order they were added).
class FrameSink {
 public:
  // `skew_us` shifts the timestamp written to the file, not the frame's place
  // in it (clock glitches: a frame written 45 s ahead of its neighbours).
  void Add(uint64_t ts_us, std::vector<uint8_t> bytes, uint32_t caplen = UINT32_MAX,
           uint32_t wire_len = 0, int64_t skew_us = 0);
  size_t size() const { return frames_.size(); }
  uint64_t last_ts_us() const;
  // Sorts and writes; false if the file cannot be written.
  bool WritePcap(const std::string& path);

 private:
  struct Timed {
    uint64_t ts_us;
    uint64_t order;
    uint32_t caplen;
    uint32_t wire_len;
    int64_t skew_us;
    std::vector<uint8_t> bytes;
  };
  std::vector<Timed> frames_;
};

// Timeouts the sensor runs with (seconds on its command line); the expected
// end reasons depend on them.
struct Timeouts {
  uint64_t tcp_syn_us = 30'000'000;
  uint64_t tcp_idle_us = 300'000'000;
  uint64_t tcp_closing_us = 30'000'000;
  uint64_t tcp_linger_us = 2'000'000;
  uint64_t udp_us = 60'000'000;
  uint64_t icmp_us = 30'000'000;
  uint64_t other_us = 60'000'000;  // other IP protocols (GRE, ESP, SCTP...)
  // Sessions whose expiry falls within this distance of the end of the capture
  // have no well-defined end reason (timeout vs end of input); the generator
  // refuses them.
  uint64_t margin_us = 10'000'000;
};

// A protected-networks list (IPv4/IPv6 CIDRs) to derive the inbound flag.
class ProtectedNets {
 public:
  explicit ProtectedNets(std::vector<std::string> cidrs);
  bool Contains(const std::string& ip) const;
  const std::vector<std::string>& cidrs() const { return cidrs_; }

 private:
  std::vector<std::string> cidrs_;
};

enum class Dir : uint8_t { kC2S, kS2C };

struct ConversationSpec {
  std::string name;  // for messages and the expected-records file
  uint8_t ip_version = 4;
  uint8_t protocol = 6;  // 6, 17, 1 or 58
  std::string client_ip = "10.0.0.1";
  uint16_t client_port = 40000;
  std::string server_ip = "10.0.0.2";
  uint16_t server_port = 80;
  uint32_t client_isn = 1000;
  uint32_t server_isn = 500000;
  // ICMP echo: request type (8 or 128) and identifier.
  uint16_t icmp_id = 0;
  // Link layer of every frame.
  std::vector<uint16_t> vlans;
  bool qinq = false;
  std::vector<uint32_t> mpls_labels;
  // IPv4 identification of the first datagram (one higher for each after).
  uint16_t first_ip_id = 1;
  // TCP options on SYN and SYN-ACK (MSS, SACK permitted, timestamps, window scale).
  bool syn_options = true;
};

// One field of an expected record: rendered JSON text of its value.
using ExpectedFields = std::vector<std::pair<std::string, std::string>>;

class Conversation {
 public:
  Conversation(FrameSink* sink, ConversationSpec spec, uint64_t start_us);

  // Time of the next frame.
  Conversation& At(uint64_t t_us);
  Conversation& Wait(uint64_t us);
  uint64_t now_us() const { return now_us_; }
  // Gap added after every frame (the default keeps frames of a session apart).
  Conversation& Step(uint64_t us);

  // TCP. Sequence numbers advance as a real stack's would; ACKs acknowledge
  // everything the peer sent so far.
  Conversation& Syn(uint8_t extra_flags = 0);  // client SYN (retransmit: call again)
  Conversation& SynAck(uint8_t extra_flags = 0);
  Conversation& Ack(Dir d);
  Conversation& Handshake() { return Syn().SynAck().Ack(Dir::kC2S); }
  Conversation& Data(Dir d, const std::string& payload, uint8_t flags = 0x18);
  // Sends `payload` at the sequence number it had `bytes_back` bytes ago (a
  // retransmission): sequence-derived bytes stay, payload bytes grow.
  Conversation& Retransmit(Dir d, const std::string& payload, uint32_t bytes_back);
  // Data the sender sent but the capture missed: advances the sequence only.
  Conversation& Uncaptured(Dir d, uint32_t bytes);
  Conversation& Fin(Dir d);   // FIN|ACK
  Conversation& Rst(Dir d);   // RST|ACK at the sender's next sequence
  Conversation& RstRefuse();  // server RST|ACK with seq 0 answering a SYN
  Conversation& RawTcp(Dir d, uint8_t flags, const std::string& payload);
  // A whole HTTP-like exchange: handshake, request, response in MSS-sized
  // segments, close initiated by `closer`.
  Conversation& HttpExchange(const std::string& request, const std::string& response,
                             Dir closer = Dir::kC2S);
  Conversation& Close(Dir closer);  // FIN, FIN|ACK back, last ACK

  // UDP.
  Conversation& Datagram(Dir d, const std::string& payload);
  // First fragment of a UDP datagram of `payload` (MF set, offset 0, only
  // `first_bytes` of UDP data in it) and the non-first fragment with the rest.
  // The sensor counts the non-first fragment by its parse reason
  // (non_first_fragment) and attributes it to the session of the first.
  Conversation& FragmentedDatagram(Dir d, const std::string& payload, uint32_t first_bytes);

  // IPv4 fragments of one UDP datagram of `payload`: each piece is (offset,
  // length) in bytes of the IP payload (UDP header + data), 8-byte aligned
  // except the last; pieces may overlap or repeat. The model counts every
  // fragment as a packet and the datagram's payload once (what it covers).
  Conversation& FragmentPieces(Dir d, const std::string& payload,
                               const std::vector<std::pair<uint32_t, uint32_t>>& pieces);

  // A TCP segment `ahead` bytes beyond the sender's next sequence number (far
  // outside any window): a packet with payload, but no sequence-derived bytes.
  Conversation& OutOfWindow(Dir d, uint64_t ahead, const std::string& payload);

  // The next frame's timestamp is written `us` off its place in the capture.
  Conversation& Skew(int64_t us);

  // ICMP / ICMPv6 echo request (client) or reply (server).
  Conversation& Echo(Dir d, const std::string& data);

  // Scenario overrides.
  Conversation& ExpectEndReason(std::string reason);  // e.g. "END_REASON_REPLACED"
  Conversation& ExpectConnState(std::string state);
  Conversation& ExpectTransient(bool transient = true);
  Conversation& Unchecked(const std::string& field);  // do not compare this field

  // The record the sensor must write, given how the capture ends.
  ExpectedFields Expected(const Timeouts& t, const ProtectedNets& nets,
                          bool full_analysis_inbound_only, uint64_t capture_end_us) const;
  // Derived end reason; aborts the generator if it is ambiguous.
  std::string EndReason(const Timeouts& t, uint64_t capture_end_us) const;
  std::string ConnState() const;

  const ConversationSpec& spec() const { return spec_; }
  uint64_t frames() const { return frames_; }
  uint64_t first_us() const { return first_us_; }
  uint64_t last_us() const { return last_us_; }
  uint64_t packets(Dir d) const { return side(d).packets; }

 private:
  struct SideModel {
    // Generation state.
    uint64_t next_seq = 0;  // unwrapped; the wire carries the low 32 bits
    bool sent_syn = false;
    // Record model (captured packets only).
    bool seen = false;
    uint8_t first_flags = 0;
    uint8_t flags = 0;
    uint64_t packets = 0;
    uint64_t payload_bytes = 0;
    uint64_t first_seq = 0;  // unwrapped
    uint64_t last_seq = 0;
    uint64_t max_end = 0;
    bool syn = false;
    bool fin = false;
    bool rst = false;
    uint32_t first_data_len = 0;
    std::string first_data;
  };

  SideModel& side(Dir d) { return d == Dir::kC2S ? client_ : server_; }
  const SideModel& side(Dir d) const { return d == Dir::kC2S ? client_ : server_; }
  FrameSpec Base(Dir d) const;
  void Emit(Dir d, const FrameSpec& f, uint64_t seq_unwrapped, uint32_t payload_len,
            const std::string& payload, uint32_t caplen = UINT32_MAX, bool in_window = true);

  FrameSink* sink_;
  ConversationSpec spec_;
  uint64_t now_us_;
  uint64_t step_us_ = 1000;
  SideModel client_;
  SideModel server_;
  uint64_t frames_ = 0;
  uint64_t first_us_ = 0;
  uint64_t last_us_ = 0;
  uint32_t fragments_ = 0;
  uint16_t icmp_seq_ = 0;
  uint16_t ip_id_ = 1;
  int64_t skew_us_ = 0;
  std::optional<Dir> first_data_sender_;
  std::optional<Dir> shutdown_initiator_;
  bool shutdown_rst_ = false;
  std::optional<std::string> end_reason_;
  std::optional<std::string> conn_state_;
  bool transient_ = false;
  std::vector<std::string> unchecked_;
};

// JSON string literal of `s` (quotes and escapes).
std::string JsonQuote(const std::string& s);
// 64-bit FNV-1a of `s`, as 16 hex digits: identifies equal first payloads.
std::string Digest(const std::string& s);

}  // namespace flowtrail::testing
