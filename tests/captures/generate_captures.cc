// Writes the captures the end-to-end tests and benchmark scripts run the real
// sensor on, each beside the records the sensor must write for it:
//
//   generate_captures OUT_DIR [--only NAME[,NAME...]] [--packets N]
//
//   basic          every conn_state we can construct, the paper's Table 2
//                  sessions, UDP/ICMP, IPv6, VLAN/Q-in-Q/MPLS, a UDP idle gap,
//                  5-tuple reuse, retransmissions, a sequence wrap, FTP
//                  PASV/PORT data sessions, fragments and bad frames
//   many_sessions  20k sessions across many hosts (dispatch symmetry)
//   large_packets  300k packets of 3000 concurrent sessions (far more than
//                  the sensor's mbuf pool: lossless capture mode)
//   sample         the small realistic capture shipped as tests/data/sample.pcap
//   live           open sessions only, for the SIGTERM test (replayed endlessly)
//   offline_big    ~1.5M packets for bench/offline_vs_argus.sh (only on request;
//                  --packets sets the approximate size)
//
// One capture per class of issue 6 (tshark conformance, exactly-once):
//   clock_glitch        merged-capture timestamps: one frame 45 s ahead, one an
//                       hour ahead, a stretch running 3 s backwards
//   every_protocol      GRE, ESP, AH, SCTP, IGMP, OSPF, PIM, OSPFv3 as flows by
//                       (protocol, address pair); ARP and LLDP frames (non-IP)
//   time_zero           a capture starting at exactly 0 s
//   time_high           timestamps >= 2^31 s (pcap seconds are unsigned)
//   seq_outlier         a 1-byte segment at seq + 10^9 (no inflated bytes)
//   reuse_half_close    a SYN with a new ISN after the client's FIN: 2 sessions
//   vlan_key            one 5-tuple on VLAN 10 and 20 (and Q-in-Q 100/10, 100/20)
//   fragments_overlap   duplicate and overlapping IPv4 fragments of 100-byte
//                       datagrams: 100 payload bytes each
//   scan_burst          12000 half-open SYNs expiring in one tick
//   link_plain          no VLAN/MPLS/non-IP: the base of the link-type variants
//
// Client-port distributions (issue 7, flowtrail report ports):
//   ports_fixed_sport_scan  one source port to 300 servers on 445 among SMB clients
//   ports_small_sample      6 client ports on 993, one with 200 sessions
//
// NAME.pcap and NAME.expected.json go to OUT_DIR. Everything is derived from
// fixed seeds, so the output is byte-for-byte the same on every run.
//
// NAME.expected.json: "frames" (in the file), "bad_frames" and "bad_packets"
// ({parser reason: count}), "session_packets", "sessions_by_protocol",
// "sensor_args" (the options the expectations assume: timeouts, protected
// networks, sensor id) and "sessions": one object per session with the record
// fields by their proto names (addresses as text, enums by proto value name),
// plus "name", "unchecked" (fields not to compare), whether each side's
// fingerprint is non-zero, and a digest of each side's first payload (equal
// digests must give equal fingerprints). tests/e2e compares field by field.
#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "conversation.h"
#include "frame_builder.h"

namespace flowtrail::testing {
namespace {

constexpr uint64_t kSec = 1'000'000;
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10, kEce = 0x40, kCwr = 0x80;

// SplitMix64: the same sequence on every platform (std distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return Next() % n; }
  uint64_t Range(uint64_t lo, uint64_t hi) { return lo + Below(hi - lo + 1); }
  uint32_t Isn() { return static_cast<uint32_t>(Next()); }
  std::string Bytes(size_t n) {
    std::string s(n, '\0');
    for (char& c : s) {
      c = static_cast<char>(Next());
    }
    return s;
  }
  std::string Text(size_t n) {
    static const char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789 ";
    std::string s(n, ' ');
    for (char& c : s) {
      c = kChars[Below(sizeof(kChars) - 1)];
    }
    return s;
  }

 private:
  uint64_t s_;
};

std::string Ip4(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  return std::to_string(a) + "." + std::to_string(b) + "." + std::to_string(c) + "." +
         std::to_string(d);
}

std::string HttpGet(const std::string& host, const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: " + host +
         "\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
}

std::string HttpResponse(size_t body_len, Rng& rng, const std::string& type = "text/html") {
  std::string body = "<html><body>" + rng.Text(body_len > 40 ? body_len - 40 : 0);
  body += "</body></html>\n";
  return "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// prefix + i, spelled out (GCC 12 warns wrongly on "x" + std::to_string(i)).
std::string Numbered(const char* prefix, int i) {
  std::string s = prefix;
  s += std::to_string(i);
  return s;
}

// Pads or cuts `s` to exactly n bytes.
std::string Exactly(std::string s, size_t n) {
  s.resize(n, '.');
  return s;
}

uint32_t V4(const std::string& ip) {
  in_addr a;
  inet_pton(AF_INET, ip.c_str(), &a);
  return ntohl(a.s_addr);
}

// DNS query and answer for an A record (RFC 1035 wire format).
std::string DnsName(const std::string& name) {
  std::string out;
  size_t at = 0;
  while (at <= name.size()) {
    size_t dot = name.find('.', at);
    if (dot == std::string::npos) {
      dot = name.size();
    }
    out += static_cast<char>(dot - at);
    out += name.substr(at, dot - at);
    at = dot + 1;
  }
  return out + '\0';
}
std::string DnsQuery(uint16_t id, const std::string& name) {
  std::string q = {
      static_cast<char>(id >> 8), static_cast<char>(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  return q + DnsName(name) + std::string("\0\x01\0\x01", 4);
}
std::string DnsAnswer(uint16_t id, const std::string& name, uint32_t addr) {
  std::string a = {static_cast<char>(id >> 8),
                   static_cast<char>(id),
                   static_cast<char>(0x81),
                   static_cast<char>(0x80),
                   0,
                   1,
                   0,
                   1,
                   0,
                   0,
                   0,
                   0};
  a += DnsName(name) + std::string("\0\x01\0\x01", 4);
  a += std::string("\xc0\x0c\0\x01\0\x01\0\0\x0e\x10\0\x04", 12);
  for (int s = 24; s >= 0; s -= 8) {
    a += static_cast<char>(addr >> s);
  }
  return a;
}

// One capture being written: its frames, its sessions and its bad frames.
struct Capture {
  std::string name;
  FrameSink sink;
  std::deque<Conversation> sessions;
  std::map<std::string, uint64_t> bad;  // malformed frames: reason -> frames
  // Non-IP frames by ethertype class ("arp", "lldp"): counted, not bad.
  std::map<std::string, uint64_t> non_ip;
  uint64_t later_fragments = 0;  // IP fragments after the first (attributed, not bad)
  uint64_t snapped_headers = 0;  // frames whose headers the snap length cut
  Timeouts timeouts;
  ProtectedNets nets{{}};
  bool inbound_only = false;
  std::vector<std::string> sensor_args;
  uint64_t base_us = 0;

  Conversation& Add(ConversationSpec spec, double start_s) {
    return sessions.emplace_back(&sink, std::move(spec),
                                 base_us + static_cast<uint64_t>(std::llround(start_s * kSec)));
  }
  uint64_t At(double s) const { return base_us + static_cast<uint64_t>(std::llround(s * kSec)); }
  void NonIp(const std::string& cls, double t_s, std::vector<uint8_t> frame) {
    sink.Add(At(t_s), std::move(frame));
    ++non_ip[cls];
  }
  // A frame cut by the capture's snap length inside its headers: counted as
  // snapped, not bad (the wire length says the headers were there).
  void SnappedHeaders(double t_s, std::vector<uint8_t> frame, uint32_t caplen) {
    const auto wire = static_cast<uint32_t>(frame.size());
    sink.Add(At(t_s), std::move(frame), caplen, wire);
    ++snapped_headers;
  }
  void Bad(const std::string& reason, double t_s, std::vector<uint8_t> frame,
           uint32_t caplen = UINT32_MAX, uint32_t wire_len = 0) {
    sink.Add(At(t_s), std::move(frame), caplen, wire_len);
    ++bad[reason];
  }
};

// Timeouts and options the e2e tests run basic/many/large with (the sensor's
// defaults are the same numbers; passing them keeps the tests independent).
std::vector<std::string> TimeoutArgs(const Timeouts& t) {
  auto s = [](uint64_t us) { return std::to_string(us / kSec); };
  return {"--tcp-syn-timeout",     s(t.tcp_syn_us),
          "--tcp-idle-timeout",    s(t.tcp_idle_us),
          "--tcp-closing-timeout", s(t.tcp_closing_us),
          "--tcp-linger",          s(t.tcp_linger_us),
          "--udp-timeout",         s(t.udp_us),
          "--icmp-timeout",        s(t.icmp_us),
          "--active-timeout",      "0"};
}

bool WriteCapture(Capture& c, const std::string& dir) {
  const std::string pcap = dir + "/" + c.name + ".pcap";
  const uint64_t end_us = c.sink.last_ts_us();
  const uint64_t frames = c.sink.size();
  if (!c.sink.WritePcap(pcap)) {
    std::fprintf(stderr, "generate_captures: cannot write %s\n", pcap.c_str());
    return false;
  }
  const std::string json_path = dir + "/" + c.name + ".expected.json";
  FILE* f = std::fopen(json_path.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "generate_captures: cannot write %s\n", json_path.c_str());
    return false;
  }
  uint64_t bad_total = 0, session_packets = 0, tcp = 0, udp = 0, icmp = 0, other = 0;
  for (const auto& [reason, n] : c.bad) {
    bad_total += n;
  }
  for (const Conversation& s : c.sessions) {
    session_packets += s.packets(Dir::kC2S) + s.packets(Dir::kS2C);
    const uint8_t p = s.spec().protocol;
    (p == 6 ? tcp : p == 17 ? udp : (p == 1 || p == 58) ? icmp : other) += 1;
  }
  std::fprintf(f, "{\"capture\": %s,\n \"frames\": %llu,\n \"bad_frames\": %llu,\n",
               JsonQuote(c.name + ".pcap").c_str(), static_cast<unsigned long long>(frames),
               static_cast<unsigned long long>(bad_total));
  std::fprintf(f, " \"bad_packets\": {");
  bool first = true;
  for (const auto& [reason, n] : c.bad) {
    std::fprintf(f, "%s%s: %llu", first ? "" : ", ", JsonQuote(reason).c_str(),
                 static_cast<unsigned long long>(n));
    first = false;
  }
  std::fprintf(f, "},\n \"session_packets\": %llu,\n",
               static_cast<unsigned long long>(session_packets));
  std::fprintf(f,
               " \"sessions_by_protocol\": {\"tcp\": %llu, \"udp\": %llu, \"icmp\": %llu, "
               "\"other\": %llu},\n",
               static_cast<unsigned long long>(tcp), static_cast<unsigned long long>(udp),
               static_cast<unsigned long long>(icmp), static_cast<unsigned long long>(other));
  std::fprintf(f, " \"non_ip\": {");
  first = true;
  for (const auto& [cls, n] : c.non_ip) {
    std::fprintf(f, "%s%s: %llu", first ? "" : ", ", JsonQuote(cls).c_str(),
                 static_cast<unsigned long long>(n));
    first = false;
  }
  std::fprintf(f, "},\n \"later_fragments\": %llu,\n \"snapped_headers\": %llu,\n",
               static_cast<unsigned long long>(c.later_fragments),
               static_cast<unsigned long long>(c.snapped_headers));
  std::fprintf(f, " \"first_time_us\": %llu,\n \"last_time_us\": %llu,\n",
               static_cast<unsigned long long>(c.base_us), static_cast<unsigned long long>(end_us));
  std::fprintf(f, " \"sensor_args\": [");
  for (size_t i = 0; i < c.sensor_args.size(); ++i) {
    std::fprintf(f, "%s%s", i ? ", " : "", JsonQuote(c.sensor_args[i]).c_str());
  }
  std::fprintf(f, "],\n \"sessions\": [\n");
  for (size_t i = 0; i < c.sessions.size(); ++i) {
    const ExpectedFields fields =
        c.sessions[i].Expected(c.timeouts, c.nets, c.inbound_only, end_us);
    std::fprintf(f, "  {");
    for (size_t k = 0; k < fields.size(); ++k) {
      std::fprintf(f, "%s\"%s\": %s", k ? ", " : "", fields[k].first.c_str(),
                   fields[k].second.c_str());
    }
    std::fprintf(f, "}%s\n", i + 1 < c.sessions.size() ? "," : "");
  }
  std::fprintf(f, " ]\n}\n");
  const bool ok = std::ferror(f) == 0;
  std::fclose(f);
  std::printf("%s: %llu frames, %zu sessions, %llu bad frames\n", pcap.c_str(),
              static_cast<unsigned long long>(frames), c.sessions.size(),
              static_cast<unsigned long long>(bad_total));
  return ok;
}

ConversationSpec Tcp(const std::string& name, const std::string& cip, uint16_t cport,
                     const std::string& sip, uint16_t sport, Rng& rng) {
  ConversationSpec s;
  s.name = name;
  s.client_ip = cip;
  s.client_port = cport;
  s.server_ip = sip;
  s.server_port = sport;
  s.client_isn = rng.Isn();
  s.server_isn = rng.Isn();
  s.ip_version = cip.find(':') != std::string::npos ? 6 : 4;
  return s;
}
ConversationSpec Udp(const std::string& name, const std::string& cip, uint16_t cport,
                     const std::string& sip, uint16_t sport) {
  ConversationSpec s;
  s.name = name;
  s.protocol = 17;
  s.client_ip = cip;
  s.client_port = cport;
  s.server_ip = sip;
  s.server_port = sport;
  s.ip_version = cip.find(':') != std::string::npos ? 6 : 4;
  return s;
}
ConversationSpec Icmp(const std::string& name, const std::string& cip, const std::string& sip,
                      uint16_t id) {
  ConversationSpec s;
  s.name = name;
  s.ip_version = cip.find(':') != std::string::npos ? 6 : 4;
  s.protocol = s.ip_version == 6 ? 58 : 1;
  s.client_ip = cip;
  s.server_ip = sip;
  s.client_port = 0;
  s.server_port = 0;
  s.icmp_id = id;
  return s;
}

// ---------------------------------------------------------------------------
// basic.pcap

void Basic(Capture& c) {
  Rng rng(0xba51c);
  c.base_us = 1'700'000'000 * kSec;
  c.nets = ProtectedNets({"192.168.0.0/16", "2001:db8:1::/48"});
  c.inbound_only = true;
  c.sensor_args = TimeoutArgs(c.timeouts);
  for (const char* a : {"--protected-nets", "192.168.0.0/16,2001:db8:1::/48", "--full-analysis",
                        "inbound", "--sensor-id", "e2e-basic"}) {
    c.sensor_args.push_back(a);
  }
  const std::string web = "192.168.1.80";
  constexpr auto C = Dir::kC2S;
  constexpr auto S = Dir::kS2C;

  // SF with ECN negotiated (flags beyond the classic six).
  c.Add(Tcp("sf_http_ecn", "10.1.0.10", 40001, web, 80, rng), 1)
      .Syn(kEce | kCwr)
      .SynAck(kEce)
      .Ack(C)
      .Data(C, HttpGet("www.example.net", "/index.html"))
      .Ack(S)
      .Data(S, HttpResponse(1400, rng).substr(0, 1448))
      .Data(S, rng.Text(700))
      .Ack(C)
      .Close(C);

  // The paper's Table 2: 22/114 bytes with the server closing first gives
  // sequence deltas 23/116; 22/161 with the client closing first (its last
  // ACK not captured) gives 23/162.
  const std::string req22 = "GET /indx HTTP/1.0\r\n\r\n";
  c.Add(Tcp("table2_server_closes", "10.1.0.11", 40002, web, 80, rng), 5)
      .Handshake()
      .Data(C, req22)
      .Ack(S)
      .Data(S, Exactly("HTTP/1.0 404 Not Found\r\nContent-Length: 40\r\n\r\n", 114))
      .Ack(C)
      .Close(S);
  c.Add(Tcp("table2_client_closes", "10.1.0.12", 40003, web, 80, rng), 10)
      .Handshake()
      .Data(C, req22)
      .Ack(S)
      .Data(S, Exactly("HTTP/1.0 200 OK\r\nContent-Length: 90\r\n\r\n", 161))
      .Ack(C)
      .Fin(C)
      .Fin(S);

  c.Add(Tcp("rej", "10.1.0.13", 40004, web, 8080, rng), 15).Syn().RstRefuse();
  c.Add(Tcp("s0_retransmitted_syn", "10.1.0.14", 40005, "192.168.1.99", 3389, rng), 20)
      .Syn()
      .Wait(1 * kSec)
      .Syn()
      .Wait(2 * kSec)
      .Syn();
  c.Add(Tcp("rsto", "10.1.0.15", 40006, web, 80, rng), 25)
      .Handshake()
      .Data(C, rng.Text(50))
      .Data(S, rng.Text(200))
      .Ack(C)
      .Rst(C);
  c.Add(Tcp("rstr", "10.1.0.16", 40007, web, 80, rng), 30).Handshake().Data(C, rng.Text(80)).Rst(S);
  c.Add(Tcp("rstos0", "10.1.0.17", 40008, web, 80, rng), 35)
      .Syn()
      .Wait(kSec / 2)
      .RawTcp(C, kRst, "");
  c.Add(Tcp("sh", "10.1.0.18", 40009, web, 80, rng), 40).Syn().RawTcp(C, kFin, "");
  c.Add(Tcp("s2_client_fin_unanswered", "10.1.0.19", 40010, web, 80, rng), 50)
      .Handshake()
      .Data(C, rng.Text(30))
      .Data(S, rng.Text(60))
      .Ack(C)
      .Fin(C)
      .Ack(S);
  c.Add(Tcp("s3_server_fin_unanswered", "10.1.0.20", 40011, web, 80, rng), 55)
      .Handshake()
      .Data(C, rng.Text(31))
      .Data(S, rng.Text(61))
      .Fin(S)
      .Ack(C);
  c.Add(Tcp("shr", "10.1.0.21", 40012, web, 80, rng), 60).SynAck().Wait(kSec / 10).Fin(S);
  c.Add(Tcp("rstrh", "10.1.0.22", 40013, web, 80, rng), 65).SynAck().Wait(kSec / 10).Rst(S);

  // UDP and ICMP.
  c.Add(Udp("dns", "10.1.0.30", 53001, "192.168.1.53", 53), 70)
      .Datagram(C, DnsQuery(0x1a2b, "www.example.org"))
      .Datagram(S, DnsAnswer(0x1a2b, "www.example.org", 0xc0a80150));
  // Same 5-tuple, silent longer than the UDP timeout: two sessions.
  const ConversationSpec split =
      Udp("udp_idle_split_first", "10.1.0.31", 40000, "192.168.1.98", 9999);
  c.Add(split, 80).Datagram(C, rng.Text(100)).Wait(kSec).Datagram(S, rng.Text(20));
  ConversationSpec split2 = split;
  split2.name = "udp_idle_split_second";
  c.Add(split2, 200).Datagram(C, rng.Text(101)).Wait(kSec).Datagram(S, rng.Text(21));
  c.Add(Udp("udp_one_way_syslog", "10.1.0.32", 514, "192.168.1.97", 514), 85)
      .Datagram(C, "<34>Oct 11 22:14:15 host su: 'su root' failed")
      .Wait(kSec)
      .Datagram(C, "<34>Oct 11 22:14:16 host su: 'su root' failed")
      .Wait(kSec)
      .Datagram(C, "<34>Oct 11 22:14:17 host su: 'su root' failed");
  {
    Conversation& ping = c.Add(Icmp("icmp_echo", "10.1.0.40", "192.168.1.1", 0x1234), 90);
    for (int i = 0; i < 3; ++i) {
      const std::string data = Exactly("abcdefghijklmnopqrstuvwabcdefghi", 32);
      ping.Echo(C, data).Echo(S, data).Wait(kSec);
    }
  }
  {
    Conversation& ping6 = c.Add(Icmp("icmpv6_echo", "2001:db8:ff::40", "2001:db8:1::1", 77), 95);
    for (int i = 0; i < 2; ++i) {
      ping6.Echo(C, rng.Bytes(56)).Echo(S, rng.Bytes(56)).Wait(kSec);
    }
  }

  // IPv6, VLAN, Q-in-Q, MPLS.
  c.Add(Tcp("ipv6_sf", "2001:db8:ff::10", 50001, "2001:db8:1::80", 443, rng), 100)
      .HttpExchange(rng.Bytes(517), rng.Bytes(2900), S);
  ConversationSpec vlan = Tcp("vlan_sf", "10.1.0.50", 40050, web, 80, rng);
  vlan.vlans = {100};
  c.Add(vlan, 105).HttpExchange(HttpGet("vlan.example", "/"), HttpResponse(300, rng));
  ConversationSpec qinq = Tcp("qinq_sf", "10.1.0.51", 40051, web, 80, rng);
  qinq.vlans = {200, 300};
  qinq.qinq = true;
  c.Add(qinq, 110).HttpExchange(HttpGet("qinq.example", "/"), HttpResponse(310, rng));
  ConversationSpec mpls = Tcp("mpls_sf", "10.1.0.52", 40052, web, 80, rng);
  mpls.mpls_labels = {1000, 2000};
  c.Add(mpls, 115).HttpExchange(HttpGet("mpls.example", "/"), HttpResponse(320, rng));

  // A SYN reusing a closed 5-tuple starts a new session: after the linger
  // (the first ends closed) and within it (the first ends replaced).
  ConversationSpec reuse = Tcp("reuse_after_close_first", "10.1.0.53", 40053, web, 80, rng);
  c.Add(reuse, 120).HttpExchange(HttpGet("a", "/1"), HttpResponse(100, rng));
  reuse.name = "reuse_after_close_second";
  reuse.client_isn = rng.Isn();
  reuse.server_isn = rng.Isn();
  c.Add(reuse, 130).HttpExchange(HttpGet("a", "/2"), HttpResponse(120, rng));
  ConversationSpec quick = Tcp("reuse_within_linger_first", "10.1.0.54", 40054, web, 80, rng);
  c.Add(quick, 135)
      .HttpExchange(HttpGet("b", "/1"), HttpResponse(100, rng))
      .ExpectEndReason("END_REASON_REPLACED");
  quick.name = "reuse_within_linger_second";
  quick.client_isn = rng.Isn();
  quick.server_isn = rng.Isn();
  c.Add(quick, 135.5).HttpExchange(HttpGet("b", "/2"), HttpResponse(130, rng));

  // Retransmissions: payload bytes count them, sequence-derived bytes do not.
  {
    Conversation& r = c.Add(Tcp("retransmissions", "10.1.0.55", 40055, web, 80, rng), 140);
    const std::string a = rng.Text(100), b = rng.Text(100), d = rng.Text(100);
    const std::string resp = rng.Text(500);
    r.Handshake()
        .Data(C, a)
        .Data(C, b)
        .Retransmit(C, b, 100)
        .Data(C, d)
        .Ack(S)
        .Data(S, resp)
        .Retransmit(S, resp, 500)
        .Ack(C)
        .Close(C);
  }
  // Sequence numbers wrapping past 2^32 on both sides.
  {
    ConversationSpec w = Tcp("sequence_wrap", "10.1.0.56", 40056, web, 80, rng);
    w.client_isn = 0xffffff00u;
    w.server_isn = 0xfffffff0u;
    Conversation& r = c.Add(w, 145);
    r.Handshake();
    for (int i = 0; i < 3; ++i) {
      r.Data(C, rng.Text(200));
    }
    r.Ack(S).Data(S, rng.Text(1000)).Ack(C).Close(S);
  }
  // Data the capture missed still counts in the sequence-derived bytes.
  c.Add(Tcp("gap_not_captured", "10.1.0.57", 40057, web, 80, rng), 148)
      .Handshake()
      .Data(C, rng.Text(100))
      .Uncaptured(C, 1000)
      .Data(C, rng.Text(100))
      .Ack(S)
      .Data(S, rng.Text(50))
      .Close(C);

  // FTP: a passive (227) and an active (PORT) data session, both transient.
  {
    const std::string ftp = "192.168.1.21";
    Conversation& ctl = c.Add(Tcp("ftp_control", "10.1.0.60", 40100, ftp, 21, rng), 150);
    ctl.Step(20000).Handshake();
    ctl.Data(S, "220 (vsFTPd 3.0.3)\r\n").Data(C, "USER anonymous\r\n");
    ctl.Data(S, "331 Please specify the password.\r\n").Data(C, "PASS guest@\r\n");
    ctl.Data(S, "230 Login successful.\r\n").Data(C, "PASV\r\n");
    ctl.Data(S, "227 Entering Passive Mode (192,168,1,21,195,80).\r\n");
    ctl.Data(C, "RETR readme.txt\r\n");
    const uint64_t t = ctl.now_us();
    ctl.Wait(300000).Data(S, "150 Opening BINARY mode data connection.\r\n");
    Conversation& pasv = c.Add(Tcp("ftp_pasv_data", "10.1.0.60", 40101, ftp, 50000, rng),
                               (t - c.base_us) / 1e6 + 0.1);
    pasv.ExpectTransient().Handshake().Data(S, rng.Text(1200)).Ack(C).Close(S);
    ctl.Wait(200000).Data(S, "226 Transfer complete.\r\n");
    ctl.Data(C, "PORT 10,1,0,60,156,64\r\n").Data(S, "200 PORT command successful.\r\n");
    ctl.Data(C, "LIST\r\n");
    const uint64_t t2 = ctl.now_us();
    ctl.Wait(300000).Data(S, "150 Here comes the directory listing.\r\n");
    // Active mode: the server connects from port 20 to the announced port.
    Conversation& port =
        c.Add(Tcp("ftp_port_data", ftp, 20, "10.1.0.60", 40000, rng), (t2 - c.base_us) / 1e6 + 0.1);
    port.ExpectTransient().Handshake().Data(C, rng.Text(400)).Ack(S).Close(C);
    ctl.Wait(200000).Data(S, "226 Directory send OK.\r\n");
    ctl.Data(C, "QUIT\r\n").Data(S, "221 Goodbye.\r\n").Close(S);
  }

  // A UDP datagram in two IPv4 fragments: both are attributed to its session;
  // the second does not parse to L4, so it is also counted by that reason.
  c.Add(Udp("udp_fragmented", "10.1.0.70", 5000, "192.168.1.70", 6000), 170)
      .FragmentedDatagram(C, rng.Text(2000), 1472)
      .Datagram(S, rng.Text(10));
  c.later_fragments += 1;

  // SYN-ACK captured before the SYN: the SYN sender is still the client.
  c.Add(Tcp("handshake_reordered", "10.1.0.71", 40071, web, 80, rng), 175)
      .Step(200)
      .SynAck()
      .Syn()
      .Ack(C)
      .Data(C, rng.Text(40))
      .Data(S, rng.Text(90))
      .Ack(C)
      .Close(C);

  // Outbound and internal sessions: not inbound, so no full analysis.
  c.Add(Tcp("outbound_sf", "192.168.1.5", 41000, "198.51.100.7", 80, rng), 180)
      .HttpExchange(HttpGet("example.com", "/"), HttpResponse(200, rng));
  c.Add(Tcp("internal_sf", "192.168.1.5", 41001, "192.168.1.6", 22, rng), 185)
      .HttpExchange(rng.Text(40), rng.Text(60), S);

  // Bad frames: each counted under its reason, none makes a session.
  {
    FrameSpec f;
    f.src = "10.1.0.90";
    f.dst = web;
    f.sport = 40090;
    f.flags = kSyn;
    const std::vector<uint8_t> good = BuildFrame(f);
    // Frames that are this short on the wire are malformed; the same cuts
    // made by a snap length (wire length kept) are only snapped.
    c.Bad("truncated_ethernet", 190.0, good, 10, 10);
    c.Bad("truncated_ipv4", 190.1, good, 14 + 12, 14 + 12);
    c.SnappedHeaders(190.05, good, 10);
    c.SnappedHeaders(190.15, good, 14 + 12);
    std::vector<uint8_t> ihl = good;
    ihl[14] = 0x44;  // IHL 4: shorter than the fixed header
    c.Bad("bad_ipv4_header_length", 190.2, ihl);
    std::vector<uint8_t> arp(60, 0);  // ARP request (ethertype 0x0806)
    const uint8_t arp_head[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0,
                                1,    0x08, 0x06, 0,    1,    0x08, 0,    6, 4, 0, 1};
    std::copy(std::begin(arp_head), std::end(arp_head), arp.begin());
    c.NonIp("arp", 190.3, arp);
    std::vector<uint8_t> doff = good;
    doff[14 + 20 + 12] = 0x30;  // TCP data offset 3 words
    c.Bad("bad_tcp_data_offset", 190.4, doff);
  }

  // The same with nothing else on the wire in the gap: both datagrams may
  // reach the sensor in one burst; timeouts still come from packet times.
  const ConversationSpec quiet =
      Udp("udp_idle_split_quiet_first", "10.1.0.33", 40001, "192.168.1.98", 9998);
  c.Add(quiet, 290).Datagram(C, rng.Text(50));
  ConversationSpec quiet2 = quiet;
  quiet2.name = "udp_idle_split_quiet_second";
  c.Add(quiet2, 355).Datagram(C, rng.Text(51)).Datagram(S, rng.Text(52));

  // Open sessions when the capture ends.
  c.Add(Tcp("oth_midstream", "10.1.0.80", 51000, "192.168.1.44", 443, rng), 370)
      .Data(C, rng.Bytes(300), kAck | 0x08)
      .Data(S, rng.Bytes(1200), kAck | 0x08)
      .Ack(C)
      .Data(C, rng.Bytes(100), kAck | 0x08);
  c.Add(Tcp("s1_left_open", "10.1.0.81", 40081, web, 80, rng), 380)
      .Handshake()
      .Data(C, HttpGet("open.example", "/stream"))
      .Data(S, rng.Text(500))
      .Ack(C);
  c.Add(Udp("ntp_last", "10.1.0.82", 123, "192.168.1.123", 123), 399)
      .Datagram(C, rng.Bytes(48))
      .Datagram(S, rng.Bytes(48));
  (void)kFin;
  (void)kAck;
}

// ---------------------------------------------------------------------------
// many_sessions.pcap: 20k sessions over 100 s across ~5000 clients and 500
// servers, then a tail of UDP sessions so every worker's clock passes every
// expiry before the capture ends.

void ManySessions(Capture& c) {
  Rng rng(0x3a75);
  c.base_us = 1'700'100'000 * kSec;
  c.nets = ProtectedNets({"192.168.0.0/16"});
  c.sensor_args = TimeoutArgs(c.timeouts);
  for (const char* a : {"--protected-nets", "192.168.0.0/16", "--sensor-id", "e2e-many"}) {
    c.sensor_args.push_back(a);
  }
  constexpr auto C = Dir::kC2S;
  constexpr auto S = Dir::kS2C;
  std::set<std::string> used;  // 5-tuples: one session each in this capture
  auto client = [&](uint64_t i) {
    return Ip4(10, 20 + i / 62500 % 200, i / 250 % 250, 1 + i % 250);
  };
  auto server = [&](uint64_t i) { return Ip4(192, 168, 10 + i / 250 % 2, 1 + i % 250); };
  for (int i = 0; i < 20000; ++i) {
    const double start = rng.Below(100'000'000) / 1e6;
    const std::string cip = client(rng.Below(5000));
    const std::string sip = server(rng.Below(500));
    uint16_t cport = static_cast<uint16_t>(rng.Range(1024, 65535));
    const uint64_t kind = rng.Below(100);
    const uint16_t sport = kind < 85 ? (rng.Below(4) == 0 ? 443 : 80) : 53;
    auto tuple = [&] {
      std::string key = cip;
      key += ':';
      key += std::to_string(cport);
      key += '-';
      key += sip;
      key += ':';
      key += std::to_string(sport);
      return key;
    };
    while (!used.insert(tuple()).second) {
      ++cport;
    }
    const std::string name = Numbered("s", i);
    if (kind < 70) {
      c.Add(Tcp(name, cip, cport, sip, sport, rng), start)
          .Step(rng.Range(100, 3000))
          .HttpExchange(HttpGet(Numbered("h", i % 97), "/" + rng.Text(8)),
                        HttpResponse(rng.Range(60, 1300), rng), rng.Below(2) ? C : S);
    } else if (kind < 80) {
      c.Add(Tcp(name, cip, cport, sip, sport, rng), start).Syn().RstRefuse();
    } else if (kind < 85) {
      c.Add(Tcp(name, cip, cport, sip, sport, rng), start).Syn();
    } else {
      const uint16_t id = static_cast<uint16_t>(rng.Next());
      const std::string q = Numbered("q", i) + ".example.com";
      c.Add(Udp(name, cip, cport, sip, sport), start)
          .Step(rng.Range(200, 20000))
          .Datagram(C, DnsQuery(id, q))
          .Datagram(S, DnsAnswer(id, q, static_cast<uint32_t>(rng.Next())));
    }
  }
  for (int i = 0; i < 600; ++i) {
    const double start = 180 + rng.Below(20'000'000) / 1e6;
    c.Add(Udp(Numbered("tail", i), Ip4(172, 16, i / 250, 1 + i % 250),
              static_cast<uint16_t>(30000 + i), server(rng.Below(500)), 5353),
          start)
        .Datagram(C, rng.Text(40))
        .Datagram(S, rng.Text(60));
  }
}

// ---------------------------------------------------------------------------
// large_packets.pcap: 3000 concurrent TCP sessions of 100 packets each, all
// open at once (300k packets, far more than the sensor's mbuf pool).

void LargePackets(Capture& c, int sessions, int exchanges, uint64_t seed, double span_s) {
  Rng rng(seed);
  c.base_us = 1'700'200'000 * kSec;
  c.sensor_args = TimeoutArgs(c.timeouts);
  c.sensor_args.push_back("--sensor-id");
  c.sensor_args.push_back("e2e-" + c.name);
  constexpr auto C = Dir::kC2S;
  constexpr auto S = Dir::kS2C;
  // Each session spreads its packets over most of the span, so all are live
  // together; packets of different sessions interleave in the capture.
  const uint64_t span_us = static_cast<uint64_t>(span_s * kSec);
  for (int i = 0; i < sessions; ++i) {
    const double start = rng.Below(2'000'000) / 1e6;
    const uint64_t step = (span_us - 2 * kSec) / (exchanges * 2 + 6);
    Conversation& s =
        c.Add(Tcp(Numbered("l", i), Ip4(10, 30 + i / 62500, i / 250 % 250, 1 + i % 250),
                  static_cast<uint16_t>(10000 + rng.Below(50000)), Ip4(192, 168, 20, 1 + i % 200),
                  8000 + i % 7, rng),
              start);
    s.Step(step + rng.Below(step / 10 + 1)).Handshake();
    for (int e = 0; e < exchanges; ++e) {
      s.Data(C, rng.Text(16 + rng.Below(32))).Data(S, rng.Text(16 + rng.Below(48)));
    }
    s.Close(rng.Below(2) ? C : S);
  }
  // Tail: the clock passes every linger before the capture ends.
  c.Add(Udp("tail", "10.99.0.1", 7000, "192.168.20.250", 7000), span_s * 1.2 + 15)
      .Datagram(C, "tick")
      .Datagram(S, "tock");
}

// ---------------------------------------------------------------------------
// sample.pcap: the small realistic capture the README's main job runs on.

void Sample(Capture& c) {
  Rng rng(0x5a3713);
  c.base_us = 1'709'294'400 * kSec;  // 2024-03-01 12:00:00 UTC
  c.sensor_args = {};                // the sensor's defaults, as scripts/run-sample.sh runs it
  constexpr auto C = Dir::kC2S;
  constexpr auto S = Dir::kS2C;
  const std::string resolver = "192.168.10.1";
  const std::vector<std::string> clients = {"192.168.10.23", "192.168.10.42", "192.168.10.57"};
  struct Site {
    const char* host;
    const char* ip;
  };
  const Site sites[] = {{"example.com", "93.184.216.34"},
                        {"www.debian.org", "130.89.148.77"},
                        {"neverssl.com", "34.223.124.45"},
                        {"info.cern.ch", "188.184.100.182"},
                        {"www.ietf.org", "104.16.44.99"}};
  double t = 1.0;
  uint16_t port = 51000;
  for (int i = 0; i < 10; ++i) {
    const Site& site = sites[i % 5];
    const std::string& cl = clients[i % 3];
    if (i < 5) {
      const uint16_t id = static_cast<uint16_t>(0x4000 + i);
      c.Add(Udp("dns_" + std::string(site.host), cl, static_cast<uint16_t>(40000 + i * 7), resolver,
                53),
            t)
          .Step(8000)
          .Datagram(C, DnsQuery(id, site.host))
          .Datagram(S, DnsAnswer(id, site.host, V4(site.ip)));
      t += 0.05;
    }
    static const char* kPaths[] = {"/", "/index.html", "/favicon.ico", "/about/", "/news.html"};
    c.Add(Tcp("http_" + std::to_string(i), cl, port++, site.ip, 80, rng), t)
        .Step(2000 + rng.Below(20000))
        .HttpExchange(HttpGet(site.host, kPaths[i % 5]), HttpResponse(150 + rng.Below(250), rng),
                      i % 3 == 0 ? S : C);
    t += 2.3;
  }
  // TLS-like sessions (opaque bytes after a ClientHello-ish prefix).
  for (int i = 0; i < 2; ++i) {
    c.Add(Tcp("tls_" + std::to_string(i), clients[i], port++, "151.101.1.69", 443, rng),
          3.3 + i * 9)
        .Step(15000)
        .HttpExchange(std::string("\x16\x03\x01\x00\xc8", 5) + rng.Bytes(200),
                      std::string("\x16\x03\x03\x01\x00", 5) + rng.Bytes(400), C);
  }
  // Unanswered SYN (retransmitted), rejected SYN, reset session.
  c.Add(Tcp("unanswered_syn", clients[1], port++, "203.0.113.9", 3389, rng), 0.5)
      .Syn()
      .Wait(kSec)
      .Syn()
      .Wait(2 * kSec)
      .Syn();
  c.Add(Tcp("rejected_syn", clients[2], port++, "192.168.10.5", 8080, rng), 6.1).Syn().RstRefuse();
  c.Add(Tcp("reset_session", clients[0], port++, "198.51.100.20", 80, rng), 14.2)
      .Step(30000)
      .Handshake()
      .Data(C, HttpGet("198.51.100.20", "/large.iso"))
      .Data(S, HttpResponse(300, rng))
      .Rst(C);
  // ICMP echo: one ends by timeout in the capture, one is open at its end.
  {
    Conversation& p = c.Add(Icmp("ping_gateway", clients[0], resolver, 0x0f01), 2.0);
    for (int i = 0; i < 4; ++i) {
      const std::string data = rng.Bytes(56);
      p.Echo(C, data).Echo(S, data).Wait(kSec);
    }
    Conversation& q = c.Add(Icmp("ping_dns_google", clients[1], "8.8.8.8", 0x0f02), 42.0);
    for (int i = 0; i < 3; ++i) {
      const std::string data = rng.Bytes(56);
      q.Step(14000).Echo(C, data).Echo(S, data).Wait(kSec);
    }
  }
  // IPv6 and VLAN-tagged sessions.
  c.Add(Tcp("ipv6_http", "2001:db8:10::23", port++, "2606:2800:220:1:248:1893:25c8:1946", 80, rng),
        20.5)
      .Step(12000)
      .HttpExchange(HttpGet("example.com", "/"), HttpResponse(200, rng));
  c.Add(Udp("dns_ipv6", "2001:db8:10::23", 40100, "2001:db8:10::1", 53), 20.4)
      .Datagram(C, DnsQuery(0x6001, "example.com"))
      .Datagram(S, DnsAnswer(0x6001, "example.com", 0x5db8d822));
  ConversationSpec vlan = Tcp("vlan_10_http", "192.168.20.7", port++, "192.168.10.80", 80, rng);
  vlan.vlans = {10};
  c.Add(vlan, 24.0).Step(900).HttpExchange(HttpGet("intranet", "/status"), HttpResponse(120, rng));
  // FTP control with a passive data session (transient server).
  {
    const std::string ftp = "192.168.10.21";
    Conversation& ctl = c.Add(Tcp("ftp_control", clients[2], port++, ftp, 21, rng), 27.0);
    ctl.Step(15000).Handshake();
    ctl.Data(S, "220 (vsFTPd 3.0.3)\r\n").Data(C, "USER anonymous\r\n");
    ctl.Data(S, "331 Please specify the password.\r\n").Data(C, "PASS guest@\r\n");
    ctl.Data(S, "230 Login successful.\r\n").Data(C, "PASV\r\n");
    ctl.Data(S, "227 Entering Passive Mode (192,168,10,21,156,71).\r\n");
    ctl.Data(C, "RETR notes.txt\r\n");
    const uint64_t at = ctl.now_us();
    ctl.Wait(200000).Data(S, "150 Opening BINARY mode data connection.\r\n");
    c.Add(Tcp("ftp_pasv_data", clients[2], port++, ftp, 40007, rng), (at - c.base_us) / 1e6 + 0.05)
        .ExpectTransient()
        .Step(3000)
        .Handshake()
        .Data(S, rng.Text(900))
        .Ack(C)
        .Close(S);
    ctl.Wait(200000).Data(S, "226 Transfer complete.\r\n");
    ctl.Data(C, "QUIT\r\n").Data(S, "221 Goodbye.\r\n").Close(S);
  }
  // Last packets: a session still open when the capture ends.
  c.Add(Tcp("ssh_open", clients[0], port++, "192.168.10.22", 22, rng), 44.0)
      .Step(40000)
      .Handshake()
      .Data(S, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
      .Data(C, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
      .Data(C, rng.Bytes(180))
      .Data(S, rng.Bytes(240))
      .Ack(C)
      .Wait(5 * kSec)
      .Data(C, rng.Bytes(36))
      .Ack(S);
}

// ---------------------------------------------------------------------------
// live.pcap: sessions that never end, replayed endlessly (infinite_rx=1) by the
// signal test: every one is open when SIGTERM arrives and must be flushed with
// end reason shutdown.

void Live(Capture& c) {
  Rng rng(0x11fe);
  c.base_us = 1'700'300'000 * kSec;
  constexpr auto C = Dir::kC2S;
  constexpr auto S = Dir::kS2C;
  for (int i = 0; i < 40; ++i) {
    c.Add(Tcp(Numbered("open", i), Ip4(10, 40, 0, 1 + i), static_cast<uint16_t>(45000 + i),
              Ip4(192, 168, 40, 1 + i % 8), 80, rng),
          i * 0.01)
        .Handshake()
        .Data(C, rng.Text(60))
        .Data(S, rng.Text(200));
  }
  for (int i = 0; i < 10; ++i) {
    c.Add(Udp(Numbered("udp", i), Ip4(10, 40, 1, 1 + i), static_cast<uint16_t>(46000 + i),
              "192.168.40.53", 53),
          0.5 + i * 0.01)
        .Datagram(C, rng.Text(30))
        .Datagram(S, rng.Text(80));
  }
}

// ---------------------------------------------------------------------------
// Issue 6 classes. Each capture ends with a quiet UDP tail well after its
// last TCP close, so every close's linger has passed before the end.

constexpr auto kC = Dir::kC2S;
constexpr auto kS = Dir::kS2C;

void Tail(Capture& c, double at_s, const std::string& cip = "10.9.9.1") {
  c.Add(Udp("tail", cip, 7000, "10.9.9.2", 7000), at_s).Datagram(kC, "tick").Datagram(kS, "tock");
}

std::vector<std::string> ArgsWithId(const Capture& c) {
  std::vector<std::string> a = TimeoutArgs(c.timeouts);
  a.push_back("--sensor-id");
  a.push_back("e2e-" + c.name);
  return a;
}

// Merged-capture timestamps. The clock must ignore a single frame far ahead
// (45 s, 1 h) unless the next frame confirms the jump, and never run
// backwards: every session is reported exactly once, with its counters.
void ClockGlitch(Capture& c) {
  Rng rng(0xc10c);
  c.base_us = 1'700'400'000 * kSec;
  c.sensor_args = ArgsWithId(c);
  for (int i = 0; i < 60; ++i) {
    Conversation& s =
        c.Add(Tcp(Numbered("http", i), Ip4(10, 5, 0, 1 + i), static_cast<uint16_t>(41000 + i),
                  Ip4(192, 168, 5, 1 + i % 4), 80, rng),
              1.0 + i * 1.6);
    s.Step(50000);
    if (i == 10 || i == 30) {
      // One frame of this session written 45 s (i == 10) or an hour ahead.
      s.Handshake().Data(kC, HttpGet("glitch", "/"));
      s.Skew(i == 10 ? 45 * kSec : 3600 * kSec).Ack(kS);
      s.Data(kS, HttpResponse(400, rng)).Ack(kC).Close(kC);
      s.Unchecked("last_time_us");  // the outlier's time as written, or its neighbours'
    } else {
      s.HttpExchange(HttpGet(Numbered("h", i), "/"), HttpResponse(200 + 10 * i, rng),
                     i % 2 ? kC : kS);
    }
  }
  // Frames of this session from 4 s on are written 3 s behind their
  // neighbours (an unsynchronised tap merged in): time runs backwards.
  {
    Conversation& s =
        c.Add(Tcp("backwards", "10.5.1.1", 42000, "192.168.5.9", 80, rng), 40.0).Step(kSec);
    s.Handshake().Data(kC, HttpGet("back", "/")).Ack(kS);
    for (int i = 0; i < 3; ++i) {
      s.Skew(-3 * static_cast<int64_t>(kSec)).Data(kS, rng.Text(300));
    }
    s.Ack(kC).Close(kS);
  }
  // A long established session spanning both outliers: an hour's jump of the
  // clock would expire it (idle timeout 300 s) and split it in two.
  {
    Conversation& s =
        c.Add(Tcp("long_lived", "10.5.2.1", 43000, "192.168.5.10", 22, rng), 0.5).Step(kSec);
    s.Handshake();
    for (int i = 0; i < 11; ++i) {
      s.Wait(9 * kSec).Data(i % 2 ? kS : kC, rng.Bytes(64));
    }
    s.Ack(kC).Close(kC);
  }
  Tail(c, 140);
}

ConversationSpec Other(const std::string& name, uint8_t protocol, const std::string& cip,
                       const std::string& sip) {
  ConversationSpec s;
  s.name = name;
  s.protocol = protocol;
  s.client_ip = cip;
  s.server_ip = sip;
  s.client_port = 0;
  s.server_port = 0;
  s.ip_version = cip.find(':') != std::string::npos ? 6 : 4;
  return s;
}

// Fields of other-protocol flows the record model cannot know yet.
void OtherUnchecked(Conversation& s) {
  for (const char* f : {"client_payload_bytes", "server_payload_bytes", "conn_state",
                        "server_confidence", "client_first_data_len", "server_first_data_len",
                        "client_fingerprint", "server_fingerprint", "first_data_sender"}) {
    s.Unchecked(f);
  }
}

std::vector<uint8_t> ArpFrame(uint8_t host) {
  std::vector<uint8_t> arp(60, 0);
  const uint8_t head[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0,
                          host, 0x08, 0x06, 0,    1,    0x08, 0,    6, 4, 0, 1};
  std::copy(std::begin(head), std::end(head), arp.begin());
  return arp;
}

std::vector<uint8_t> LldpFrame() {
  std::vector<uint8_t> f = {0x01, 0x80, 0xc2, 0, 0, 0x0e, 0x02, 0, 0, 0, 0, 0x42, 0x88, 0xcc};
  // Chassis id (MAC), port id (name), TTL 120, end.
  const uint8_t tlvs[] = {0x02, 0x07, 0x04, 0x02, 0,   0,    0,    0, 0x42, 0x04, 0x05,
                          0x05, 'e',  't',  'h',  '0', 0x06, 0x02, 0, 120,  0,    0};
  f.insert(f.end(), std::begin(tlvs), std::end(tlvs));
  while (f.size() < 60) f.push_back(0);
  return f;
}

// Every IP protocol is traffic: flows by (protocol, address pair), with
// packets and times; ARP and LLDP frames are non-IP, not bad.
void EveryProtocol(Capture& c) {
  Rng rng(0xa11);
  c.base_us = 1'700'500'000 * kSec;
  c.sensor_args = ArgsWithId(c);
  // GRE carrying an IPv4 TCP segment: one GRE flow, no TCP session.
  {
    FrameSpec inner;
    inner.src = "172.16.0.1";
    inner.dst = "172.16.0.2";
    inner.flags = 0x02;
    inner.sport = 33000;
    std::vector<uint8_t> f = BuildFrame(inner);
    const size_t ip_len = (static_cast<size_t>(f[16]) << 8) | f[17];
    std::string gre("\x00\x00\x08\x00", 4);
    gre.append(f.begin() + 14, f.begin() + 14 + static_cast<long>(ip_len));
    Conversation& s = c.Add(Other("gre", 47, "10.2.0.1", "10.2.0.2"), 1.0);
    for (int i = 0; i < 4; ++i) s.Datagram(kC, gre).Datagram(kS, gre);
    OtherUnchecked(s);
  }
  {
    Conversation& s = c.Add(Other("esp", 50, "10.2.0.3", "10.2.0.4"), 2.0);
    for (uint32_t i = 1; i <= 3; ++i) {
      std::string esp("\x00\x00\x10\x01\x00\x00\x00", 7);
      esp += static_cast<char>(i);
      s.Datagram(kC, esp + rng.Bytes(64)).Datagram(kS, esp + rng.Bytes(80));
    }
    OtherUnchecked(s);
  }
  {
    // AH (next header 59 = none), then opaque bytes.
    std::string ah("\x3b\x04\x00\x00\x00\x00\x20\x01\x00\x00\x00\x01", 12);
    ah += rng.Bytes(12);
    Conversation& s = c.Add(Other("ah", 51, "10.2.0.5", "10.2.0.6"), 3.0);
    s.Datagram(kC, ah).Datagram(kS, ah).Datagram(kC, ah).Datagram(kS, ah);
    OtherUnchecked(s);
  }
  {
    // SCTP INIT / INIT-ACK (ports in its common header; flows ignore them).
    std::string init("\x13\x88\x96\x0c\x00\x00\x00\x00\x00\x00\x00\x00", 12);
    init += std::string("\x01\x00\x00\x14", 4) + rng.Bytes(16);
    std::string ack("\x96\x0c\x13\x88\x12\x34\x56\x78\x00\x00\x00\x00", 12);
    ack += std::string("\x02\x00\x00\x14", 4) + rng.Bytes(16);
    Conversation& s = c.Add(Other("sctp", 132, "10.2.0.7", "10.2.0.8"), 4.0);
    s.Datagram(kC, init).Datagram(kS, ack);
    OtherUnchecked(s);
  }
  {
    Conversation& s = c.Add(Other("igmp", 2, "10.2.0.9", "224.0.0.22"), 5.0).Step(kSec);
    for (int i = 0; i < 3; ++i) {
      s.Datagram(
          kC, std::string("\x22\x00\xf9\x02\x00\x00\x00\x01\x04\x00\x00\x00\xef\x01\x01\x01", 16));
    }
    OtherUnchecked(s);
  }
  {
    Conversation& s = c.Add(Other("ospf", 89, "10.2.0.10", "224.0.0.5"), 6.0).Step(kSec);
    for (int i = 0; i < 3; ++i) {
      s.Datagram(
          kC, std::string("\x02\x01\x00\x2c\x0a\x02\x00\x0a\x00\x00\x00\x00", 12) + rng.Bytes(32));
    }
    OtherUnchecked(s);
  }
  {
    Conversation& s = c.Add(Other("pim", 103, "10.2.0.11", "224.0.0.13"), 7.0).Step(kSec);
    s.Datagram(kC, std::string("\x20\x00\x00\x00\x00\x01\x00\x02\x00\x69", 10))
        .Datagram(kC, std::string("\x20\x00\x00\x00\x00\x01\x00\x02\x00\x69", 10));
    OtherUnchecked(s);
  }
  {
    Conversation& s = c.Add(Other("ospfv3", 89, "fe80::1", "ff02::5"), 8.0).Step(kSec);
    s.Datagram(kC,
               std::string("\x03\x01\x00\x24\x0a\x02\x00\x0a\x00\x00\x00\x00", 12) + rng.Bytes(24))
        .Datagram(kC, std::string("\x03\x01\x00\x24\x0a\x02\x00\x0a\x00\x00\x00\x00", 12) +
                          rng.Bytes(24));
    OtherUnchecked(s);
  }
  c.Add(Tcp("tcp_beside", "10.2.1.1", 44000, "10.2.1.2", 80, rng), 9.0)
      .HttpExchange(HttpGet("x", "/"), HttpResponse(300, rng));
  c.Add(Udp("dns_beside", "10.2.1.1", 44001, "10.2.1.3", 53), 10.0)
      .Datagram(kC, DnsQuery(7, "a.example"))
      .Datagram(kS, DnsAnswer(7, "a.example", 0x0a020104));
  for (int i = 0; i < 3; ++i) c.NonIp("arp", 11.0 + i, ArpFrame(static_cast<uint8_t>(1 + i)));
  for (int i = 0; i < 2; ++i) c.NonIp("lldp", 12.5 + i, LldpFrame());
  Tail(c, 30);
}

// Records carry the capture's time as written: 0 s is 0, and seconds past
// 2^31 are not negative.
void Timestamps(Capture& c, uint64_t base_s, uint64_t seed) {
  Rng rng(seed);
  c.base_us = base_s * kSec;
  c.sensor_args = ArgsWithId(c);
  c.Add(Tcp("http_at_start", "10.6.0.1", 45000, "10.6.0.2", 80, rng), 0.0)
      .HttpExchange(HttpGet("t", "/"), HttpResponse(250, rng));
  c.Add(Udp("dns", "10.6.0.1", 45001, "10.6.0.3", 53), 1.0)
      .Datagram(kC, DnsQuery(9, "t.example"))
      .Datagram(kS, DnsAnswer(9, "t.example", 0x0a060004));
  c.Add(Icmp("ping", "10.6.0.1", "10.6.0.4", 0x77), 2.0).Echo(kC, "abcd").Echo(kS, "abcd");
  Tail(c, 20);
}

// A segment far outside any plausible window adds no sequence-derived bytes
// (its payload is still payload seen).
void SeqOutlier(Capture& c) {
  Rng rng(0x5e90);
  c.base_us = 1'700'600'000 * kSec;
  c.sensor_args = ArgsWithId(c);
  c.Add(Tcp("client_outlier", "10.7.0.1", 46000, "10.7.0.2", 80, rng), 1.0)
      .Handshake()
      .Data(kC, rng.Text(20))
      .OutOfWindow(kC, 1'000'000'000, "X")
      .Ack(kS)
      .Data(kS, rng.Text(50))
      .Ack(kC)
      .Close(kC);
  c.Add(Tcp("server_outlier", "10.7.0.3", 46001, "10.7.0.2", 80, rng), 2.0)
      .Handshake()
      .Data(kC, rng.Text(30))
      .Ack(kS)
      .Data(kS, rng.Text(60))
      .OutOfWindow(kS, 1'000'000'000, "Y")
      .Ack(kC)
      .Close(kS);
  Tail(c, 20);
}

// Port reuse after a half-close: a SYN with a new ISN after the client's FIN
// (the server never sent its own) is a new connection.
void ReuseHalfClose(Capture& c) {
  Rng rng(0x4e05e);
  c.base_us = 1'700'700'000 * kSec;
  c.sensor_args = ArgsWithId(c);
  ConversationSpec first = Tcp("half_closed_first", "10.8.0.1", 47000, "10.8.0.2", 80, rng);
  c.Add(first, 1.0)
      .Handshake()
      .Data(kC, rng.Text(100))
      .Ack(kS)
      .Data(kS, rng.Text(200))
      .Ack(kC)
      .Fin(kC)
      .Ack(kS)
      .ExpectEndReason("END_REASON_REPLACED");
  ConversationSpec second = first;
  second.name = "half_closed_second";
  second.client_isn = first.client_isn + 700'000'000u;
  second.server_isn = rng.Isn();
  c.Add(second, 2.0).HttpExchange(HttpGet("r", "/2"), HttpResponse(300, rng));
  Tail(c, 20);
}

// The VLAN ids are part of the session key (--vlan-key both, the default):
// one 5-tuple on VLAN 10, VLAN 20, Q-in-Q 100/10 and 100/20 and untagged is
// five sessions, each keeping both directions together.
void VlanKeyCapture(Capture& c) {
  Rng rng(0x71a);
  c.base_us = 1'700'800'000 * kSec;
  c.sensor_args = ArgsWithId(c);
  const std::vector<std::pair<std::vector<uint16_t>, bool>> links = {
      {{10}, false}, {{20}, false}, {{100, 10}, true}, {{100, 20}, true}, {{}, false}};
  for (size_t i = 0; i < links.size(); ++i) {
    ConversationSpec t =
        Tcp("tcp_link" + std::to_string(i), "10.3.0.1", 40000, "10.3.0.2", 80, rng);
    t.vlans = links[i].first;
    t.qinq = links[i].second;
    c.Add(t, 1.0 + 0.001 * static_cast<double>(i))
        .Step(10000)
        .HttpExchange(HttpGet("v", "/"), HttpResponse(200 + 10 * i, rng));
    ConversationSpec u = Udp("udp_link" + std::to_string(i), "10.3.0.1", 40001, "10.3.0.3", 53);
    u.vlans = links[i].first;
    u.qinq = links[i].second;
    c.Add(u, 2.0 + 0.001 * static_cast<double>(i))
        .Datagram(kC, DnsQuery(static_cast<uint16_t>(i), "v.example"))
        .Datagram(kS, DnsAnswer(static_cast<uint16_t>(i), "v.example", 0x0a030003));
  }
  Tail(c, 20);
}

// Overlapping and duplicate fragments are counted once: each datagram has
// 100 bytes of UDP payload (108 bytes of IP payload).
void FragmentsOverlap(Capture& c) {
  Rng rng(0xf4a9);
  c.base_us = 1'700'900'000 * kSec;
  c.sensor_args = ArgsWithId(c);
  const std::vector<std::pair<std::string, std::vector<std::pair<uint32_t, uint32_t>>>> cases = {
      {"frag_plain", {{0, 56}, {56, 52}}},
      {"frag_duplicate_last", {{0, 56}, {56, 52}, {56, 52}}},
      {"frag_duplicate_first", {{0, 56}, {0, 56}, {56, 52}}},
      {"frag_overlap", {{0, 56}, {40, 68}}},
      {"frag_overlap_three", {{0, 56}, {32, 40}, {48, 60}}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    // Ports as basic.pcap's fragmented datagram (no service-port heuristics);
    // a distinct IP id per datagram so no fragment matches another's.
    ConversationSpec u =
        Udp(cases[i].first, "10.10.0.1", static_cast<uint16_t>(5001 + i), "10.10.0.2", 6000);
    u.first_ip_id = static_cast<uint16_t>(0x1000 + 0x100 * i);
    Conversation& s = c.Add(u, 1.0 + static_cast<double>(i))
                          .FragmentPieces(kC, rng.Text(100), cases[i].second)
                          .Datagram(kS, rng.Text(10));
    // How a duplicate fragment counts as a packet and a fragment is open.
    s.Unchecked("client_packets").Unchecked("fragments").Unchecked("client_first_data_len");
  }
  Tail(c, 20);
}

// Thousands of half-open scan sessions time out in one tick: every record
// must arrive (expiry in batches sized to the free ring space).
void ScanBurst(Capture& c) {
  Rng rng(0x5ca7);
  c.base_us = 1'701'000'000 * kSec;
  c.sensor_args = ArgsWithId(c);
  for (int i = 0; i < 12000; ++i) {
    ConversationSpec s =
        Tcp(Numbered("syn", i), "10.11.0.1", static_cast<uint16_t>(50000 + i % 8),
            Ip4(192, 168, 50, 1 + i / 4000), static_cast<uint16_t>(1 + i % 4000), rng);
    s.syn_options = i % 2 == 0;
    c.Add(s, 1.0 + static_cast<double>(i) * 4e-6).Syn();
  }
  // Two packets a minute later: the jump is confirmed, every SYN expires at once.
  Tail(c, 61);
}

// No VLAN, MPLS, fragments or non-IP: the same records on every link type.
void LinkPlain(Capture& c) {
  Rng rng(0x11a4);
  c.base_us = 1'701'100'000 * kSec;
  c.sensor_args = ArgsWithId(c);
  for (int i = 0; i < 4; ++i) {
    c.Add(Tcp(Numbered("v4_http", i), Ip4(10, 12, 0, 1 + i), static_cast<uint16_t>(49000 + i),
              "10.12.1.80", 80, rng),
          1.0 + i)
        .HttpExchange(HttpGet("p", "/"), HttpResponse(300 + 500 * i, rng), i % 2 ? kC : kS);
  }
  c.Add(Tcp("v6_http", "2001:db8:12::1", 49100, "2001:db8:12::80", 443, rng), 5.5)
      .HttpExchange(rng.Bytes(300), rng.Bytes(2000));
  c.Add(Tcp("v4_rst", "10.12.0.9", 49200, "10.12.1.80", 8080, rng), 6.0).Syn().RstRefuse();
  c.Add(Udp("v4_dns", "10.12.0.1", 49300, "10.12.1.53", 53), 7.0)
      .Datagram(kC, DnsQuery(3, "p.example"))
      .Datagram(kS, DnsAnswer(3, "p.example", 0x0a0c0150));
  c.Add(Udp("v6_dns", "2001:db8:12::1", 49301, "2001:db8:12::53", 53), 7.5)
      .Datagram(kC, DnsQuery(4, "p.example"))
      .Datagram(kS, DnsAnswer(4, "p.example", 0x0a0c0150));
  c.Add(Icmp("v4_ping", "10.12.0.1", "10.12.1.1", 0x99), 8.0).Echo(kC, "ping").Echo(kS, "ping");
  c.Add(Icmp("v6_ping", "2001:db8:12::1", "2001:db8:12::1:1", 0x9a), 8.5)
      .Echo(kC, "ping6")
      .Echo(kS, "ping6");
  Tail(c, 20);
}

// ---------------------------------------------------------------------------
// Issue 7, scan table stories (Heberlein §6, Table 5; Jung et al. TRW), all
// in scan_stories.pcap, each with its own client (tests/e2e scan_stories):
//   10.20.0.66  blind scanner: SYNs to 3000 addresses on port 23 that never
//               answer; 5 accept and receive data
//   10.20.0.25  mail relay: 2000 retries of one dead server on port 25, and
//               deliveries to 3 live mail servers
//   10.20.0.77  P2P-like: 240 peers on port 6881, 85 % accept with data, the
//               rest never answer
//   10.20.0.88  busy client: 500 HTTPS sessions with data to 3 servers
//   10.20.1.x   12 web clients with 2..13 dead web servers each, and some
//               pages: they outrank the relay when unique servers count
void ScanStories(Capture& c) {
  Rng rng(0x5ca75);
  c.base_us = 1'702'000'000 * kSec;
  c.sensor_args = ArgsWithId(c);
  double t = 1.0;
  auto data_session = [&](const std::string& name, const std::string& cip, uint16_t cport,
                          const std::string& sip, uint16_t sport) {
    c.Add(Tcp(name, cip, cport, sip, sport, rng), t)
        .Handshake()
        .Data(kC, rng.Text(40 + rng.Below(200)))
        .Data(kS, rng.Text(100 + rng.Below(900)))
        .Close(kC);
  };
  // Live web servers 10.50.0.1..4 (port 80) and HTTPS servers 10.51.0.1..3.
  for (int i = 0; i < 3000; ++i) {
    t += 0.002;
    const uint32_t host = static_cast<uint32_t>(i);
    const std::string dst = Ip4(10, 30, 1 + host / 250, 1 + host % 250);
    const auto port = static_cast<uint16_t>(20000 + i);
    if (i % 600 == 300) {
      data_session(Numbered("scan_hit", i), "10.20.0.66", port, dst, 23);
    } else {
      c.Add(Tcp(Numbered("scan_syn", i), "10.20.0.66", port, dst, 23, rng), t).Syn();
    }
    if (i < 2000) {
      c.Add(Tcp(Numbered("relay_retry", i), "10.20.0.25", static_cast<uint16_t>(30000 + i),
                "10.40.0.9", 25, rng),
            t + 0.001)
          .Syn();
    }
    if (i % 100 == 0) {
      data_session(Numbered("relay_ok", i), "10.20.0.25", static_cast<uint16_t>(29000 + i),
                   Ip4(10, 40, 1, 1 + (i / 100) % 3), 25);
    }
    if (i % 12 == 5 && i / 12 < 240) {
      const int peer = i / 12;
      const std::string pip = Ip4(10, 60, 1 + peer / 200, 1 + peer % 200);
      const auto pport = static_cast<uint16_t>(40000 + peer);
      if (rng.Below(100) < 85) {
        data_session(Numbered("p2p_ok", peer), "10.20.0.77", pport, pip, 6881);
      } else {
        c.Add(Tcp(Numbered("p2p_dead", peer), "10.20.0.77", pport, pip, 6881, rng), t).Syn();
      }
    }
    if (i % 6 == 1 && i / 6 < 500) {
      const int n = i / 6;
      data_session(Numbered("busy", n), "10.20.0.88", static_cast<uint16_t>(45000 + n),
                   Ip4(10, 51, 0, 1 + n % 3), 443);
    }
    if (i % 40 == 7 && i / 40 < 72) {
      // Web client k gets 2 + k dead servers and one page per dead one.
      const int n = i / 40;
      for (int k = 0; k < 12; ++k) {
        if (n >= 2 + k) continue;
        const std::string cip = Ip4(10, 20, 1, 1 + k);
        const auto cport = static_cast<uint16_t>(50000 + n * 16 + k);
        c.Add(Tcp(Numbered("web_dead", n * 16 + k), cip, cport, Ip4(10, 70, k, 1 + n), 80, rng), t)
            .Syn();
        data_session(Numbered("web_ok", n * 16 + k), cip, static_cast<uint16_t>(cport + 8000),
                     Ip4(10, 50, 0, 1 + (n + k) % 4), 80);
      }
    }
  }
  // Every SYN-only attempt expires well before the end.
  Tail(c, t + 60);
}

// Client-port distributions (issue 7, `flowtrail report ports`). Both
// captures fit in one 3600 s window (base times are multiples of 3600 s).

// A scanner keeping one source port (nmap-style, 40950) sends SYNs to 300
// servers on port 445 (a tenth reject, the rest are silent) among ordinary
// SMB clients on Windows ephemeral ports (120 client ports, 1 flow each),
// plus web traffic on port 80: 40950 is flagged on 445 by Goldfarb's rule
// (n = 121, z about 10.9), the mad rule and the fan-out rule; nothing on 80.
void PortsFixedSportScan(Capture& c) {
  Rng rng(0x9057);
  c.base_us = uint64_t{1'702'000'800} * kSec;
  c.sensor_args = ArgsWithId(c);
  std::set<uint16_t> used;
  for (int i = 0; i < 120; ++i) {
    uint16_t port = 0;
    do {
      port = static_cast<uint16_t>(rng.Range(49152, 65535));
    } while (!used.insert(port).second);
    c.Add(Tcp(Numbered("smb", i), Ip4(10, 60, 1, 1 + i / 3), port, "10.60.0.10", 445, rng),
          10.0 + i * 10.0)
        .Handshake()
        .Data(kC, rng.Bytes(120))
        .Data(kS, rng.Bytes(300))
        .Close(kC);
  }
  for (int i = 0; i < 60; ++i) {
    c.Add(Tcp(Numbered("web", i), Ip4(10, 60, 2, 1 + i % 20), static_cast<uint16_t>(32768 + 97 * i),
              "10.60.0.80", 80, rng),
          15.0 + i * 17.0)
        .HttpExchange(HttpGet("intranet", "/"), HttpResponse(800, rng));
  }
  for (int i = 0; i < 300; ++i) {
    Conversation& s = c.Add(Tcp(Numbered("scan", i), "10.66.0.5", 40950,
                                Ip4(10, 61, 1 + i / 200, 1 + i % 200), 445, rng),
                            100.0 + i * 0.5);
    s.Syn();
    if (i % 10 == 0) s.RstRefuse();
  }
  Tail(c, 1300);
}

// Goldfarb's small-sample blind spot: server port 993 has 6 client ports,
// 5 with one session and one (a client reconnecting from a fixed port 40001
// to one server) with 200. n = 6 > C = 5 is analysed, but no z-score can
// exceed 5/sqrt(6) = 2.04 < 3: mean + 3 sigma never alerts; the mad rule
// (median 1, MAD floored at 1) flags 40001; fan-out does not (one server).
void PortsSmallSample(Capture& c) {
  Rng rng(0x5a11);
  c.base_us = uint64_t{1'702'004'400} * kSec;
  c.sensor_args = ArgsWithId(c);
  for (int i = 0; i < 5; ++i) {
    c.Add(Tcp(Numbered("imap", i), Ip4(10, 70, 1, 1 + i), static_cast<uint16_t>(50001 + i),
              "10.70.0.20", 993, rng),
          20.0 + i * 100.0)
        .Handshake()
        .Data(kC, rng.Bytes(200))
        .Data(kS, rng.Bytes(1200))
        .Close(kC);
  }
  for (int i = 0; i < 200; ++i) {
    c.Add(Tcp(Numbered("retry", i), "10.70.2.9", 40001, "10.70.0.20", 993, rng), 10.0 + i * 5.0)
        .Handshake()
        .Data(kC, rng.Bytes(200))
        .Data(kS, rng.Bytes(40))
        .Close(kS);
  }
  Tail(c, 1100);
}

// ---------------------------------------------------------------------------
// Behaviour clusters (issue 7, `flowtrail report clusters`; Heberlein §7.2),
// clusters_polymorph.pcap:
//   10.80.0.7  an MS-SQL "exploit" on port 1433 to 400 addresses: 40 accept
//              and get a payload that embeds the target's dotted quad (so
//              the fingerprints differ a little: accidental polymorphism);
//              30 of them answer with the same 111-byte banner and the client
//              closes, 10 say nothing and reset. 40 more accept an 8-byte
//              probe (always the same) and answer 26 bytes. The rest are
//              silent (3 in 4) or reject.
//   10.80.0.9  the control: one identical request on port 80 to 200
//              addresses; 24 accept, 16 answer a 162-byte page, 8 a 409-byte
//              one. One exact fingerprint.
std::string ClustersExploit(const std::string& target) {
  // The dotted quad sits in the middle, so the first two bytes and the
  // length class (64-127 bytes) stay those of the template.
  return "EXEC master..xp_cmdshell 'tftp -i " + target +
         " GET sqlwrm.exe c:\\winnt\\sqlwrm.exe';--";
}

void ClustersPolymorph(Capture& c) {
  Rng rng(0xc1a5);
  c.base_us = 1'702'100'000 * kSec;
  c.sensor_args = ArgsWithId(c);
  // Fixed answers (the same bytes every time), text so that their simhashes
  // differ.
  const std::string banner = "MSSQL 8.00.194 ready; " + rng.Text(89);
  const std::string answer = std::string("\x04\x01\x00\x1a", 4) + rng.Text(22);
  const std::string page404 = "HTTP/1.0 404 Not Found\r\n\r\n" + rng.Text(136);
  const std::string page200 = "HTTP/1.0 200 OK\r\n\r\n" + rng.Text(390);
  double t = 1.0;
  for (int i = 0; i < 400; ++i) {
    t += 0.01;
    const std::string dst = Ip4(10, 90, 1 + i / 200, 1 + (i * 7) % 200);
    Conversation& s = c.Add(
        Tcp(Numbered("sql", i), "10.80.0.7", static_cast<uint16_t>(20000 + i), dst, 1433, rng), t);
    if (i % 10 == 7) {
      // The scanner's other probe: fixed bytes, a fixed 26-byte answer.
      s.Handshake().Data(kC, std::string("\x12\x01\x00\x2f\x00\x00\x01\x00", 8));
      s.Data(kS, answer).Close(kC);
    } else if (i % 10 == 3) {
      s.Handshake().Data(kC, ClustersExploit(dst));
      if (i % 40 != 13) {
        s.Data(kS, banner).Close(kC);
      } else {
        s.Rst(kS);
      }
    } else if (i % 4 == 0) {
      s.Syn().RstRefuse();
    } else {
      s.Syn();
    }
  }
  const std::string request =
      "GET /scripts/..%255c../winnt/system32/cmd.exe?/c+dir HTTP/1.0\r\n\r\n";
  for (int i = 0; i < 200; ++i) {
    t += 0.01;
    const std::string dst = Ip4(10, 91, 1, 1 + i);
    Conversation& s = c.Add(
        Tcp(Numbered("web", i), "10.80.0.9", static_cast<uint16_t>(30000 + i), dst, 80, rng), t);
    if (i % 25 < 3) {
      s.Handshake().Data(kC, request).Data(kS, i % 25 < 2 ? page404 : page200);
      s.Close(kS);
    } else {
      s.Syn();
    }
  }
  Tail(c, t + 60);
}

int Main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
    std::fprintf(stderr,
                 "usage: generate_captures OUT_DIR [--only NAME[,NAME...]] [--packets N]\n"
                 "  NAME: basic many_sessions large_packets sample live offline_big\n"
                 "        clock_glitch every_protocol time_zero time_high seq_outlier\n"
                 "        reuse_half_close vlan_key fragments_overlap scan_burst link_plain\n"
                 "        ports_fixed_sport_scan ports_small_sample\n");
    return 2;
  }
  const std::string dir = argv[1];
  std::set<std::string> only = {"basic",
                                "many_sessions",
                                "large_packets",
                                "sample",
                                "live",
                                "clock_glitch",
                                "every_protocol",
                                "time_zero",
                                "time_high",
                                "seq_outlier",
                                "reuse_half_close",
                                "vlan_key",
                                "fragments_overlap",
                                "scan_burst",
                                "link_plain",
                                "ports_fixed_sport_scan",
                                "ports_small_sample"};
  uint64_t big_packets = 1'500'000;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--only" && i + 1 < argc) {
      only.clear();
      std::string list = argv[++i];
      size_t at = 0;
      while (at <= list.size()) {
        size_t comma = list.find(',', at);
        if (comma == std::string::npos) {
          comma = list.size();
        }
        only.insert(list.substr(at, comma - at));
        at = comma + 1;
      }
    } else if (a == "--packets" && i + 1 < argc) {
      big_packets = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "generate_captures: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  using Builder = void (*)(Capture&);
  const std::vector<std::pair<std::string, Builder>> all = {
      {"basic", Basic},
      {"many_sessions", ManySessions},
      {"large_packets", [](Capture& c) { LargePackets(c, 3000, 47, 0x1a4e, 60); }},
      {"sample", Sample},
      {"live", Live},
      {"clock_glitch", ClockGlitch},
      {"every_protocol", EveryProtocol},
      {"time_zero", [](Capture& c) { Timestamps(c, 0, 0x7e40); }},
      {"time_high", [](Capture& c) { Timestamps(c, 4'000'000'000ULL, 0x7e41); }},
      {"seq_outlier", SeqOutlier},
      {"reuse_half_close", ReuseHalfClose},
      {"vlan_key", VlanKeyCapture},
      {"fragments_overlap", FragmentsOverlap},
      {"scan_burst", ScanBurst},
      {"link_plain", LinkPlain},
      {"scan_stories", ScanStories},
      {"ports_fixed_sport_scan", PortsFixedSportScan},
      {"ports_small_sample", PortsSmallSample},
      {"clusters_polymorph", ClustersPolymorph},
  };
  for (const std::string& name : only) {
    auto c = std::make_unique<Capture>();
    c->name = name;
    if (name == "offline_big") {
      // ~106 packets per session.
      const int sessions = static_cast<int>(big_packets / 106 + 1);
      LargePackets(*c, sessions, 50, 0xb16, 120);
    } else {
      bool found = false;
      for (const auto& [n, build] : all) {
        if (n == name) {
          build(*c);
          found = true;
        }
      }
      if (!found) {
        std::fprintf(stderr, "generate_captures: unknown capture %s\n", name.c_str());
        return 2;
      }
    }
    if (!WriteCapture(*c, dir)) {
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace flowtrail::testing

int main(int argc, char** argv) { return flowtrail::testing::Main(argc, argv); }
