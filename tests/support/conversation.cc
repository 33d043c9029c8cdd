#include "conversation.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace flowtrail::testing {
namespace {

constexpr uint8_t kFin = 0x01;
constexpr uint8_t kSyn = 0x02;
constexpr uint8_t kRst = 0x04;
constexpr uint8_t kPsh = 0x08;
constexpr uint8_t kAck = 0x10;
constexpr uint32_t kMss = 1448;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "generate_captures: %s\n", what.c_str());
  std::exit(1);
}

// Canonical text of an address (RFC 5952 for IPv6), as the record reader prints it.
std::string Canonical(const std::string& ip, uint8_t version) {
  uint8_t buf[16];
  const int af = version == 6 ? AF_INET6 : AF_INET;
  if (inet_pton(af, ip.c_str(), buf) != 1) {
    Fail("bad address " + ip);
  }
  char out[INET6_ADDRSTRLEN];
  inet_ntop(af, buf, out, sizeof(out));
  return out;
}

std::vector<uint8_t> SynOptions(uint32_t tsval) {
  // MSS 1460, SACK permitted, timestamps, NOP, window scale 7.
  return {2,
          4,
          0x05,
          0xb4,
          4,
          2,
          8,
          10,
          static_cast<uint8_t>(tsval >> 24),
          static_cast<uint8_t>(tsval >> 16),
          static_cast<uint8_t>(tsval >> 8),
          static_cast<uint8_t>(tsval),
          0,
          0,
          0,
          0,
          1,
          3,
          3,
          7};
}

void FixIpv4Checksum(std::vector<uint8_t>& f, size_t ip_at) {
  const size_t hlen = static_cast<size_t>(f[ip_at] & 0x0f) * 4;
  f[ip_at + 10] = f[ip_at + 11] = 0;
  uint32_t sum = 0;
  for (size_t i = 0; i < hlen; i += 2) {
    sum += (f[ip_at + i] << 8) | f[ip_at + i + 1];
  }
  while (sum >> 16) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  const uint16_t c = static_cast<uint16_t>(~sum);
  f[ip_at + 10] = static_cast<uint8_t>(c >> 8);
  f[ip_at + 11] = static_cast<uint8_t>(c);
}

std::string Num(uint64_t v) { return std::to_string(v); }
std::string Bool(bool b) { return b ? "true" : "false"; }
std::string SideName(std::optional<Dir> d) {
  if (!d) {
    return "\"SIDE_NONE\"";
  }
  return *d == Dir::kC2S ? "\"SIDE_CLIENT\"" : "\"SIDE_SERVER\"";
}

}  // namespace

std::string JsonQuote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string Digest(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// ---------------------------------------------------------------------------
// FrameSink

void FrameSink::Add(uint64_t ts_us, std::vector<uint8_t> bytes, uint32_t caplen, uint32_t wire_len,
                    int64_t skew_us) {
  frames_.push_back(Timed{ts_us, frames_.size(), caplen, wire_len, skew_us, std::move(bytes)});
}

uint64_t FrameSink::last_ts_us() const {
  uint64_t t = 0;
  for (const Timed& f : frames_) {
    t = std::max(t, f.ts_us);
  }
  return t;
}

bool FrameSink::WritePcap(const std::string& path) {
  std::stable_sort(frames_.begin(), frames_.end(), [](const Timed& a, const Timed& b) {
    return a.ts_us != b.ts_us ? a.ts_us < b.ts_us : a.order < b.order;
  });
  PcapWriter w(path);
  if (!w.ok()) {
    return false;
  }
  for (const Timed& f : frames_) {
    w.Write(static_cast<uint64_t>(static_cast<int64_t>(f.ts_us) + f.skew_us), f.bytes, f.caplen,
            f.wire_len);
  }
  return true;
}

// ---------------------------------------------------------------------------
// ProtectedNets

ProtectedNets::ProtectedNets(std::vector<std::string> cidrs) : cidrs_(std::move(cidrs)) {}

bool ProtectedNets::Contains(const std::string& ip) const {
  const bool v6 = ip.find(':') != std::string::npos;
  uint8_t a[16];
  if (inet_pton(v6 ? AF_INET6 : AF_INET, ip.c_str(), a) != 1) {
    Fail("bad address " + ip);
  }
  for (const std::string& c : cidrs_) {
    const size_t slash = c.find('/');
    const std::string net = c.substr(0, slash);
    if ((net.find(':') != std::string::npos) != v6) {
      continue;
    }
    const int bits =
        slash == std::string::npos ? (v6 ? 128 : 32) : std::atoi(c.c_str() + slash + 1);
    uint8_t n[16];
    if (inet_pton(v6 ? AF_INET6 : AF_INET, net.c_str(), n) != 1) {
      Fail("bad network " + c);
    }
    bool match = true;
    for (int i = 0; i < bits && match; ++i) {
      const uint8_t mask = static_cast<uint8_t>(0x80 >> (i % 8));
      match = (a[i / 8] & mask) == (n[i / 8] & mask);
    }
    if (match) {
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------
// Conversation

Conversation::Conversation(FrameSink* sink, ConversationSpec spec, uint64_t start_us)
    : sink_(sink), spec_(std::move(spec)), now_us_(start_us), ip_id_(spec_.first_ip_id) {
  client_.next_seq = spec_.client_isn;
  server_.next_seq = spec_.server_isn;
}

Conversation& Conversation::At(uint64_t t_us) {
  now_us_ = t_us;
  return *this;
}
Conversation& Conversation::Wait(uint64_t us) {
  now_us_ += us;
  return *this;
}
Conversation& Conversation::Step(uint64_t us) {
  step_us_ = us;
  return *this;
}

FrameSpec Conversation::Base(Dir d) const {
  FrameSpec f;
  f.ip_version = spec_.ip_version;
  f.protocol = spec_.protocol;
  const bool c2s = d == Dir::kC2S;
  f.src = c2s ? spec_.client_ip : spec_.server_ip;
  f.dst = c2s ? spec_.server_ip : spec_.client_ip;
  f.sport = c2s ? spec_.client_port : spec_.server_port;
  f.dport = c2s ? spec_.server_port : spec_.client_port;
  f.vlans = spec_.vlans;
  f.qinq = spec_.qinq;
  f.mpls_labels = spec_.mpls_labels;
  f.ip_id = ip_id_;
  f.ttl = c2s ? 64 : 57;
  return f;
}

void Conversation::Emit(Dir d, const FrameSpec& f, uint64_t seq_unwrapped, uint32_t payload_len,
                        const std::string& payload, uint32_t caplen, bool in_window) {
  sink_->Add(now_us_, BuildFrame(f), caplen, 0, skew_us_);
  skew_us_ = 0;
  ++ip_id_;
  SideModel& s = side(d);
  const bool tcp = spec_.protocol == 6;
  const uint8_t flags = tcp ? f.flags : 0;
  if (!s.seen) {
    s.first_flags = flags;
    if (tcp) {
      s.first_seq = seq_unwrapped;
      s.max_end = seq_unwrapped;
    }
  }
  s.seen = true;
  s.flags |= flags;
  ++s.packets;
  s.payload_bytes += payload_len;
  if (tcp) {
    s.last_seq = seq_unwrapped;
  }
  if (tcp && in_window) {
    const uint64_t end =
        seq_unwrapped + payload_len + ((flags & kSyn) ? 1 : 0) + ((flags & kFin) ? 1 : 0);
    s.max_end = std::max(s.max_end, end);
    s.syn |= (flags & kSyn) != 0;
    s.fin |= (flags & kFin) != 0;
    s.rst |= (flags & kRst) != 0;
    if ((flags & (kFin | kRst)) && !shutdown_initiator_) {
      shutdown_initiator_ = d;
      shutdown_rst_ = (flags & kRst) != 0;
    }
  }
  if (payload_len > 0 && s.first_data_len == 0) {
    s.first_data_len = payload_len;
    s.first_data = payload;
    if (!first_data_sender_) {
      first_data_sender_ = d;
    }
  }
  if (frames_ == 0) {
    first_us_ = now_us_;
  }
  first_us_ = std::min(first_us_, now_us_);
  last_us_ = std::max(last_us_, now_us_);
  ++frames_;
  now_us_ += step_us_;
}

Conversation& Conversation::RawTcp(Dir d, uint8_t flags, const std::string& payload) {
  SideModel& s = side(d);
  const SideModel& peer = side(d == Dir::kC2S ? Dir::kS2C : Dir::kC2S);
  FrameSpec f = Base(d);
  f.flags = flags;
  f.seq = static_cast<uint32_t>(s.next_seq);
  f.ack = (flags & kAck) ? static_cast<uint32_t>(peer.next_seq) : 0;
  f.payload = payload;
  if ((flags & kSyn) && spec_.syn_options) {
    f.tcp_options = SynOptions(static_cast<uint32_t>(now_us_ / 1000));
  }
  const uint64_t seq = s.next_seq;
  Emit(d, f, seq, static_cast<uint32_t>(payload.size()), payload);
  s.next_seq += payload.size() + ((flags & kSyn) ? 1 : 0) + ((flags & kFin) ? 1 : 0);
  return *this;
}

Conversation& Conversation::Syn(uint8_t extra_flags) {
  if (client_.sent_syn) {
    client_.next_seq = spec_.client_isn;  // retransmission
  }
  client_.sent_syn = true;
  return RawTcp(Dir::kC2S, kSyn | extra_flags, "");
}

Conversation& Conversation::SynAck(uint8_t extra_flags) {
  if (server_.sent_syn) {
    server_.next_seq = spec_.server_isn;
  }
  server_.sent_syn = true;
  // Without a SYN in the capture the client's SYN still happened on the wire.
  if (!client_.sent_syn) {
    client_.sent_syn = true;
    client_.next_seq = static_cast<uint64_t>(spec_.client_isn) + 1;
  }
  return RawTcp(Dir::kS2C, kSyn | kAck | extra_flags, "");
}

Conversation& Conversation::Ack(Dir d) { return RawTcp(d, kAck, ""); }

Conversation& Conversation::Data(Dir d, const std::string& payload, uint8_t flags) {
  return RawTcp(d, flags, payload);
}

Conversation& Conversation::Retransmit(Dir d, const std::string& payload, uint32_t bytes_back) {
  SideModel& s = side(d);
  s.next_seq -= bytes_back;
  const uint64_t keep = s.next_seq + bytes_back;
  RawTcp(d, kAck | kPsh, payload);
  s.next_seq = std::max(keep, s.next_seq);
  return *this;
}

Conversation& Conversation::Uncaptured(Dir d, uint32_t bytes) {
  side(d).next_seq += bytes;
  return *this;
}

Conversation& Conversation::Fin(Dir d) { return RawTcp(d, kFin | kAck, ""); }
Conversation& Conversation::Rst(Dir d) { return RawTcp(d, kRst | kAck, ""); }

Conversation& Conversation::RstRefuse() {
  FrameSpec f = Base(Dir::kS2C);
  f.flags = kRst | kAck;
  f.seq = 0;
  f.ack = static_cast<uint32_t>(client_.next_seq);
  Emit(Dir::kS2C, f, 0, 0, "");
  return *this;
}

Conversation& Conversation::Close(Dir closer) {
  const Dir other = closer == Dir::kC2S ? Dir::kS2C : Dir::kC2S;
  return Fin(closer).Fin(other).Ack(closer);
}

Conversation& Conversation::HttpExchange(const std::string& request, const std::string& response,
                                         Dir closer) {
  Handshake();
  for (size_t at = 0; at < request.size(); at += kMss) {
    Data(Dir::kC2S, request.substr(at, kMss));
  }
  Ack(Dir::kS2C);
  size_t segments = 0;
  for (size_t at = 0; at < response.size(); at += kMss) {
    Data(Dir::kS2C, response.substr(at, kMss));
    if (++segments % 2 == 0) {
      Ack(Dir::kC2S);
    }
  }
  if (segments % 2 == 1) {
    Ack(Dir::kC2S);
  }
  return Close(closer);
}

Conversation& Conversation::Datagram(Dir d, const std::string& payload) {
  FrameSpec f = Base(d);
  f.payload = payload;
  Emit(d, f, 0, static_cast<uint32_t>(payload.size()), payload);
  return *this;
}

Conversation& Conversation::FragmentedDatagram(Dir d, const std::string& payload,
                                               uint32_t first_bytes) {
  if (spec_.ip_version != 4 || spec_.protocol != 17 || !spec_.vlans.empty() ||
      !spec_.mpls_labels.empty() || first_bytes % 8 != 0 || first_bytes >= payload.size()) {
    Fail(spec_.name + ": FragmentedDatagram needs plain IPv4 UDP and 8-byte aligned pieces");
  }
  constexpr size_t kIp = 14;
  // First fragment: the UDP header (length of the whole datagram) and the
  // first piece of the data.
  FrameSpec f = Base(d);
  f.payload = payload;
  f.more_fragments = true;
  std::vector<uint8_t> first = BuildFrame(f);
  const uint16_t first_total = static_cast<uint16_t>(20 + 8 + first_bytes);
  first.resize(kIp + first_total);
  first[kIp + 2] = static_cast<uint8_t>(first_total >> 8);
  first[kIp + 3] = static_cast<uint8_t>(first_total);
  FixIpv4Checksum(first, kIp);
  while (first.size() < 60) {
    first.push_back(0);
  }
  sink_->Add(now_us_, first);
  // Model: the first fragment is a packet of the session carrying its piece
  // of the data; the later fragment below is attributed to the same session.
  SideModel& s = side(d);
  s.seen = true;
  ++s.packets;
  s.payload_bytes += first_bytes;
  if (s.first_data_len == 0) {
    s.first_data_len = first_bytes;
    s.first_data = payload.substr(0, first_bytes);
    if (!first_data_sender_) {
      first_data_sender_ = d;
    }
  }
  ++fragments_;
  if (frames_ == 0) {
    first_us_ = now_us_;
  }
  last_us_ = std::max(last_us_, now_us_);
  ++frames_;
  now_us_ += step_us_;

  // Non-first fragment: raw data at offset (8 + first_bytes) / 8, same IP id.
  FrameSpec g = Base(d);
  g.protocol = 253;  // raw payload; patched to UDP below
  g.payload = payload.substr(first_bytes);
  g.fragment_offset = static_cast<uint16_t>((8 + first_bytes) / 8);
  std::vector<uint8_t> rest = BuildFrame(g);
  rest[kIp + 9] = 17;
  FixIpv4Checksum(rest, kIp);
  sink_->Add(now_us_, rest);
  ++ip_id_;
  // Not a parsed packet (counted as non_first_fragment), but attributed to
  // this session: a packet, its data and a fragment of the sender's side.
  ++s.packets;
  s.payload_bytes += static_cast<uint32_t>(payload.size()) - first_bytes;
  ++fragments_;
  last_us_ = std::max(last_us_, now_us_);
  ++frames_;
  now_us_ += step_us_;
  return *this;
}

Conversation& Conversation::FragmentPieces(
    Dir d, const std::string& payload, const std::vector<std::pair<uint32_t, uint32_t>>& pieces) {
  if (spec_.ip_version != 4 || spec_.protocol != 17 || !spec_.vlans.empty() ||
      !spec_.mpls_labels.empty()) {
    Fail(spec_.name + ": FragmentPieces needs plain IPv4 UDP");
  }
  constexpr size_t kIp = 14;
  FrameSpec whole = Base(d);
  whole.payload = payload;
  const std::vector<uint8_t> full = BuildFrame(whole);
  const std::vector<uint8_t> l4(full.begin() + kIp + 20,
                                full.begin() + kIp + 20 + 8 + payload.size());
  std::vector<bool> covered(l4.size(), false);
  SideModel& s = side(d);
  for (const auto& [offset, len] : pieces) {
    if (offset % 8 != 0 || offset + len > l4.size() || len == 0) {
      Fail(spec_.name + ": bad fragment piece");
    }
    const bool more = offset + len < l4.size();
    std::vector<uint8_t> f(full.begin(), full.begin() + kIp + 20);
    f.insert(f.end(), l4.begin() + offset, l4.begin() + offset + len);
    const uint16_t total = static_cast<uint16_t>(20 + len);
    f[kIp + 2] = static_cast<uint8_t>(total >> 8);
    f[kIp + 3] = static_cast<uint8_t>(total);
    const uint16_t frag = static_cast<uint16_t>((more ? 0x2000 : 0) | (offset / 8));
    f[kIp + 6] = static_cast<uint8_t>(frag >> 8);
    f[kIp + 7] = static_cast<uint8_t>(frag);
    FixIpv4Checksum(f, kIp);
    while (f.size() < 60) f.push_back(0);
    sink_->Add(now_us_, f);
    for (uint32_t i = offset; i < offset + len; ++i) covered[i] = true;
    s.seen = true;
    ++s.packets;
    ++fragments_;
    if (frames_ == 0) first_us_ = now_us_;
    last_us_ = std::max(last_us_, now_us_);
    ++frames_;
    now_us_ += step_us_;
  }
  // UDP payload bytes covered by some fragment (the 8-byte header excluded).
  uint32_t data = 0;
  for (size_t i = 8; i < covered.size(); ++i) data += covered[i] ? 1 : 0;
  s.payload_bytes += data;
  if (s.first_data_len == 0 && covered[0]) {
    s.first_data_len = static_cast<uint32_t>(payload.size());
    s.first_data = payload;
    if (!first_data_sender_) first_data_sender_ = d;
  }
  ++ip_id_;
  return *this;
}

Conversation& Conversation::OutOfWindow(Dir d, uint64_t ahead, const std::string& payload) {
  SideModel& s = side(d);
  const SideModel& peer = side(d == Dir::kC2S ? Dir::kS2C : Dir::kC2S);
  FrameSpec f = Base(d);
  f.flags = kAck | kPsh;
  const uint64_t seq = s.next_seq + ahead;
  f.seq = static_cast<uint32_t>(seq);
  f.ack = static_cast<uint32_t>(peer.next_seq);
  f.payload = payload;
  Emit(d, f, seq, static_cast<uint32_t>(payload.size()), payload, UINT32_MAX, false);
  return *this;
}

Conversation& Conversation::Skew(int64_t us) {
  skew_us_ = us;
  return *this;
}

Conversation& Conversation::Echo(Dir d, const std::string& data) {
  FrameSpec f = Base(d);
  const bool v6 = spec_.protocol == 58;
  if (d == Dir::kC2S) {
    f.icmp_type = v6 ? 128 : 8;
    ++icmp_seq_;
  } else {
    f.icmp_type = v6 ? 129 : 0;
  }
  f.icmp_code = 0;
  f.icmp_id = spec_.icmp_id;
  f.icmp_seq = icmp_seq_;
  f.payload = data;
  Emit(d, f, 0, static_cast<uint32_t>(data.size()), data);
  return *this;
}

Conversation& Conversation::ExpectEndReason(std::string reason) {
  end_reason_ = std::move(reason);
  return *this;
}
Conversation& Conversation::ExpectConnState(std::string state) {
  conn_state_ = std::move(state);
  return *this;
}
Conversation& Conversation::ExpectTransient(bool transient) {
  transient_ = transient;
  return *this;
}
Conversation& Conversation::Unchecked(const std::string& field) {
  unchecked_.push_back(field);
  return *this;
}

std::string Conversation::ConnState() const {
  if (conn_state_) {
    return *conn_state_;
  }
  // Zeek's use for the other protocols: UDP answered (SF) or not (S0), ICMP OTH.
  if (spec_.protocol == 17) {
    return client_.seen && server_.seen ? "SF" : "S0";
  }
  if (spec_.protocol != 6) {
    return "OTH";
  }
  const SideModel& c = client_;
  const SideModel& s = server_;
  // "SYN" here is the client's SYN without ACK, "SYN-ACK" the server's.
  const bool c_syn = c.syn;
  const bool s_synack = s.syn;
  if (c_syn && s_synack) {
    if (c.rst) {
      return "RSTO";
    }
    if (s.rst) {
      return "RSTR";
    }
    if (c.fin && s.fin) {
      return "SF";
    }
    if (c.fin) {
      return "S2";
    }
    if (s.fin) {
      return "S3";
    }
    return "S1";
  }
  if (c_syn) {
    if (s.rst) {
      return "REJ";
    }
    if (c.rst) {
      return "RSTOS0";
    }
    if (c.fin) {
      return "SH";
    }
    if (!s.seen) {
      return "S0";
    }
    return "OTH";
  }
  if (s_synack) {
    if (s.rst) {
      return "RSTRH";
    }
    if (s.fin) {
      return "SHR";
    }
    return "OTH";
  }
  return "OTH";
}

std::string Conversation::EndReason(const Timeouts& t, uint64_t end_us) const {
  if (end_reason_) {
    return *end_reason_;
  }
  std::string reason = "END_REASON_IDLE_TIMEOUT";
  bool must_expire = false;
  uint64_t expiry = 0;
  if (spec_.protocol == 6) {
    if (client_.rst || server_.rst) {
      reason = "END_REASON_RESET";
      must_expire = true;
      expiry = last_us_ + t.tcp_linger_us;
    } else if (client_.fin && server_.fin) {
      reason = "END_REASON_CLOSED";
      must_expire = true;
      expiry = last_us_ + t.tcp_linger_us;
    } else if (client_.fin || server_.fin) {
      expiry = last_us_ + t.tcp_closing_us;
    } else if (client_.syn != server_.syn) {  // handshake not completed
      expiry = last_us_ + t.tcp_syn_us;
    } else {  // established, or midstream
      expiry = last_us_ + t.tcp_idle_us;
    }
  } else if (spec_.protocol == 17) {
    expiry = last_us_ + t.udp_us;
  } else if (spec_.protocol == 1 || spec_.protocol == 58) {
    expiry = last_us_ + t.icmp_us;
  } else {
    expiry = last_us_ + t.other_us;
  }
  if (expiry + t.margin_us <= end_us) {
    return reason;
  }
  if (!must_expire && expiry >= end_us + t.margin_us) {
    return "END_REASON_END_OF_INPUT";
  }
  Fail(spec_.name + ": its expiry is too close to the end of the capture for a defined end reason");
}

ExpectedFields Conversation::Expected(const Timeouts& t, const ProtectedNets& nets,
                                      bool full_analysis_inbound_only, uint64_t end_us) const {
  const bool tcp = spec_.protocol == 6;
  const bool icmp = spec_.protocol == 1 || spec_.protocol == 58;
  const std::string cip = Canonical(spec_.client_ip, spec_.ip_version);
  const std::string sip = Canonical(spec_.server_ip, spec_.ip_version);
  const bool inbound = !nets.Contains(cip) && nets.Contains(sip);
  auto bytes = [&](const SideModel& s) -> uint64_t {
    if (!tcp || !s.seen) {
      return 0;
    }
    const uint64_t used = (s.syn ? 1 : 0) + (s.fin ? 1 : 0);
    const uint64_t span = s.max_end - s.first_seq;
    return span > used ? span - used : 0;
  };
  ExpectedFields f;
  f.emplace_back("protocol", Num(spec_.protocol));
  f.emplace_back("ip_version", Num(spec_.ip_version));
  f.emplace_back("client_ip", JsonQuote(cip));
  f.emplace_back("client_port", Num(icmp ? (spec_.protocol == 58 ? 128 : 8) : spec_.client_port));
  f.emplace_back("server_ip", JsonQuote(sip));
  f.emplace_back("server_port", Num(icmp ? 0 : spec_.server_port));
  // Who decided the roles: a SYN or an ICMP request (high), a SYN-ACK or an
  // ICMP reply alone (medium), a service port below 1024 on the server side
  // only (medium), else the first packet's sender (low). The scenarios avoid
  // the higher ports some sensors also treat as service ports.
  const auto service = [](uint16_t p) { return p != 0 && p < 1024; };
  const char* confidence = "\"CONFIDENCE_LOW\"";
  if ((tcp && client_.syn) || (icmp && client_.seen)) {
    confidence = "\"CONFIDENCE_HIGH\"";
  } else if ((tcp && server_.syn) || icmp ||
             (service(spec_.server_port) && !service(spec_.client_port))) {
    confidence = "\"CONFIDENCE_MEDIUM\"";
  }
  f.emplace_back("server_confidence", confidence);
  f.emplace_back("transient_server", Bool(transient_));
  f.emplace_back("inbound", Bool(inbound));
  f.emplace_back("full_analysis", Bool(full_analysis_inbound_only ? inbound : true));
  f.emplace_back("client_first_flags", Num(client_.first_flags));
  f.emplace_back("server_first_flags", Num(server_.first_flags));
  f.emplace_back("client_flags", Num(client_.flags));
  f.emplace_back("server_flags", Num(server_.flags));
  f.emplace_back("client_payload_bytes", Num(client_.payload_bytes));
  f.emplace_back("server_payload_bytes", Num(server_.payload_bytes));
  f.emplace_back("client_packets", Num(client_.packets));
  f.emplace_back("server_packets", Num(server_.packets));
  f.emplace_back("client_first_seq", Num(tcp ? static_cast<uint32_t>(client_.first_seq) : 0));
  f.emplace_back("server_first_seq", Num(tcp ? static_cast<uint32_t>(server_.first_seq) : 0));
  f.emplace_back("client_last_seq", Num(tcp ? static_cast<uint32_t>(client_.last_seq) : 0));
  f.emplace_back("server_last_seq", Num(tcp ? static_cast<uint32_t>(server_.last_seq) : 0));
  f.emplace_back("first_time_us", Num(first_us_));
  f.emplace_back("last_time_us", Num(last_us_));
  f.emplace_back("client_bytes", Num(bytes(client_)));
  f.emplace_back("server_bytes", Num(bytes(server_)));
  f.emplace_back("first_data_sender", SideName(first_data_sender_));
  f.emplace_back("shutdown_initiator", SideName(shutdown_initiator_));
  f.emplace_back("shutdown_kind", !shutdown_initiator_ ? "\"SHUTDOWN_NONE\""
                                  : shutdown_rst_      ? "\"SHUTDOWN_RST\""
                                                       : "\"SHUTDOWN_FIN\"");
  f.emplace_back("end_reason", JsonQuote(EndReason(t, end_us)));
  const std::string state = ConnState();
  if (!state.empty()) {
    f.emplace_back("conn_state", JsonQuote(state));
  }
  const size_t tags = spec_.vlans.size();
  f.emplace_back("vlan_outer", Num(tags > 0 ? spec_.vlans[0] : 0));
  f.emplace_back("vlan_inner", Num(tags > 1 ? spec_.vlans[1] : 0));
  f.emplace_back("vlan_count", Num(tags));
  f.emplace_back("input_port", "0");
  f.emplace_back("continuing", "false");
  f.emplace_back("client_first_data_len", Num(client_.first_data_len));
  f.emplace_back("server_first_data_len", Num(server_.first_data_len));
  f.emplace_back("icmp_id", Num(icmp ? spec_.icmp_id : 0));
  f.emplace_back("fragments", Num(fragments_));
  f.emplace_back("server_isn_changed", "false");
  // Pseudo fields: fingerprints are non-zero exactly when a side sent data and
  // the session had the full analysis; equal first payloads (same digest) must
  // give equal fingerprints.
  const bool analysed = full_analysis_inbound_only ? inbound : true;
  f.emplace_back("client_fingerprint_nonzero", Bool(analysed && client_.first_data_len > 0));
  f.emplace_back("server_fingerprint_nonzero", Bool(analysed && server_.first_data_len > 0));
  f.emplace_back("client_first_data_digest",
                 JsonQuote(client_.first_data_len ? Digest(client_.first_data) : ""));
  f.emplace_back("server_first_data_digest",
                 JsonQuote(server_.first_data_len ? Digest(server_.first_data) : ""));
  std::string unchecked = "[";
  for (size_t i = 0; i < unchecked_.size(); ++i) {
    unchecked += (i ? "," : "") + JsonQuote(unchecked_[i]);
  }
  f.emplace_back("unchecked", unchecked + "]");
  f.emplace_back("name", JsonQuote(spec_.name));
  return f;
}

}  // namespace flowtrail::testing
