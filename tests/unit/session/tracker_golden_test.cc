// Golden runs of parser + tracker over the real captures in
// ../shared/captures (skipped when the folder is absent). Expected values were
// derived by hand from `tcpdump -nn -S -r <capture>` as noted at each test.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "packet/parser.h"
#include "packet_helpers.h"
#include "pcap_reader.h"
#include "session/tracker.h"

namespace flowtrail::session {
namespace {

using testing::Ip;

struct CaptureRun {
  std::vector<SessionRecord> records;
  TrackerCounters counters;
  packet::ParseCounters parse;
  size_t frames = 0;
};

// Feeds a capture through ParseFrame and the tracker as a worker would:
// Advance() after every packet, Drain() often, flush at the end of input.
bool RunCapture(const std::string& name, CaptureRun* run,
                TrackerConfig config = testing::SmallConfig()) {
  const std::string dir = flowtrail::testing::SharedCapturesDir();
  if (dir.empty()) return false;
  std::vector<flowtrail::testing::CapturedFrame> frames;
  std::string error;
  EXPECT_TRUE(flowtrail::testing::ReadPcap(dir + "/" + name, &frames, &error)) << error;
  auto tracker = Tracker::Create(config);
  EXPECT_TRUE(tracker.ok());
  Tracker& t = **tracker;
  SessionRecord buf[32];
  auto drain = [&] {
    while (size_t n = t.Drain(buf)) run->records.insert(run->records.end(), buf, buf + n);
  };
  uint64_t last = 0;
  for (const auto& f : frames) {
    packet::ParsedPacket p;
    const packet::ParseResult r =
        packet::ParseFrame(packet::LinkType::kEthernet, f.bytes.data(),
                           static_cast<uint32_t>(f.bytes.size()), f.wire_len, &p);
    run->parse.Count(r);
    if (r == packet::ParseResult::kOk) t.Process(p, f.ts_us, 0);
    t.Advance(f.ts_us);
    drain();
    last = std::max(last, f.ts_us);
  }
  while (!t.FlushSome(EndReason::kEndOfInput, last)) drain();
  drain();
  run->counters = t.counters();
  run->frames = frames.size();
  return true;
}

#define RUN_OR_SKIP(name, run)                                           \
  if (!RunCapture(name, &run)) GTEST_SKIP() << "shared captures absent"; \
  ASSERT_FALSE(run.records.empty())

std::vector<SessionRecord> Tcp(const CaptureRun& run) {
  std::vector<SessionRecord> out;
  for (const SessionRecord& r : run.records) {
    if (r.protocol == packet::kProtoTcp) out.push_back(r);
  }
  return out;
}

// tcpdump: one control session (port 21); 227 replies announce
// 199.233.217.249:56666 and :56667 (passive), PORT commands announce
// 141.142.220.235:33582 and :37835 (active; the server connects from ports
// 61920/61918, not 20). Exactly those four data sessions are transient.
TEST(TrackerGolden, FtpIpv4FlagsExactlyTheDataSessionsTransient) {
  CaptureRun run;
  RUN_OR_SKIP("ftp__zeek_ipv4.pcap", run);
  const auto tcp = Tcp(run);
  ASSERT_EQ(tcp.size(), 5u);
  std::map<uint16_t, bool> transient_by_server_port;
  for (const SessionRecord& r : tcp) transient_by_server_port[r.server_port] = r.transient_server;
  EXPECT_EQ(transient_by_server_port,
            (std::map<uint16_t, bool>{
                {21, false}, {56666, true}, {56667, true}, {33582, true}, {37835, true}}));
  for (const SessionRecord& r : tcp) {
    if (r.server_port == 33582 || r.server_port == 37835) {
      EXPECT_EQ(r.server_ip, Ip("141.142.220.235"));  // the FTP client listens
    }
  }
}

// tcpdump: 229 replies announce ports 57086, 57087, 57088 on the server
// (passive); EPRT |2|...| announces 49189 and 49190 on the client (active).
TEST(TrackerGolden, FtpIpv6FlagsExactlyTheDataSessionsTransient) {
  CaptureRun run;
  RUN_OR_SKIP("ftp__zeek_ipv6.pcap", run);
  const auto tcp = Tcp(run);
  ASSERT_EQ(tcp.size(), 6u);
  std::map<uint16_t, bool> transient_by_server_port;
  for (const SessionRecord& r : tcp) transient_by_server_port[r.server_port] = r.transient_server;
  EXPECT_EQ(
      transient_by_server_port,
      (std::map<uint16_t, bool>{
          {21, false}, {57086, true}, {57087, true}, {57088, true}, {49189, true}, {49190, true}}));
}

// The SYN-ACK is captured before the SYN: the SYN sender is still the client.
TEST(TrackerGolden, ReorderedHandshakeKeepsTheSynSenderAsClient) {
  CaptureRun run;
  RUN_OR_SKIP("retrans__zeek_handshake-reorder.pcap", run);
  ASSERT_EQ(run.records.size(), 1u);
  const SessionRecord& r = run.records[0];
  EXPECT_EQ(r.client_ip, Ip("141.142.228.5"));
  EXPECT_EQ(r.client_port, 59856);
  EXPECT_EQ(r.server_port, 80);
  EXPECT_EQ(r.confidence, Confidence::kHigh);
  EXPECT_EQ(r.conn_state, ConnState::kSF);
  EXPECT_EQ(r.client_bytes, 136u);
  EXPECT_EQ(r.server_bytes, 5007u);
}

// tcpdump -S: client SYN seq 3401075273; its last segment is FIN+data
// 3401108407:3401108482 and the server ACKs 3401108483, so
// 3401108483 - 3401075273 - SYN - FIN = 33208 bytes, though only 27194
// payload bytes (with retransmissions, and 5 frames refused as truncated)
// are in the capture. The server sent only SYN-ACK and FIN (seq 4070133268):
// 0 bytes. The server's FIN comes first. Zeek reports the same sizes.
// The client retransmits its last 1535 bytes 3.24 s after both FINs: with
// Zeek's 5 s close delay as the linger that is still the one session tshark
// and Zeek count.
TEST(TrackerGolden, ReassemblyCaptureGivesSequenceDerivedBytes) {
  CaptureRun run;
  TrackerConfig config = testing::SmallConfig();
  config.tcp_linger_us = 5'000'000;
  if (!RunCapture("retrans__zeek_reassembly.pcap", &run, config)) GTEST_SKIP();
  ASSERT_EQ(run.records.size(), 1u);
  const SessionRecord& r = run.records[0];
  EXPECT_EQ(r.client_port, 2564);
  EXPECT_EQ(r.server_port, 80);
  EXPECT_EQ(r.client_first_seq, 3401075273u);
  EXPECT_EQ(r.server_first_seq, 4070133267u);
  EXPECT_EQ(r.client_bytes, 33208u);
  EXPECT_EQ(r.server_bytes, 0u);
  EXPECT_LT(r.client_payload_bytes, 33208u + 20000u);
  EXPECT_EQ(r.conn_state, ConnState::kSF);
  EXPECT_EQ(r.shutdown_initiator, Side::kServer);
  EXPECT_EQ(r.shutdown_kind, ShutdownKind::kFin);
}

// tcpdump -S: client SYN 4199889894, FIN at 4199893063 -> 4199893064 - ISN
// - SYN - FIN = 3168; server SYN-ACK 3876002109, FIN at 3876010909 -> 8799.
// The last packet (the final ACK) is the last of the capture, inside the
// linger, so the session ends with the input.
// With the default 2 s linger the late retransmission starts a second
// (midstream, OTH) session; the first keeps every byte the sequence numbers
// account for.
TEST(TrackerGolden, ReassemblyRetransmissionAfterTheLingerIsASecondSession) {
  CaptureRun run;
  RUN_OR_SKIP("retrans__zeek_reassembly.pcap", run);
  ASSERT_EQ(run.records.size(), 2u);
  EXPECT_EQ(run.records[0].client_bytes, 33208u);
  EXPECT_EQ(run.records[0].end_reason, EndReason::kClosed);
  EXPECT_EQ(run.records[0].conn_state, ConnState::kSF);
  EXPECT_EQ(run.records[1].client_payload_bytes, 1535u);
  EXPECT_NE(run.records[1].confidence, Confidence::kHigh);
}

TEST(TrackerGolden, SshSingleConnectionIsOneSfSession) {
  CaptureRun run;
  RUN_OR_SKIP("mixed__zeek_ssh_single-conn.pcap", run);
  ASSERT_EQ(run.records.size(), 1u);
  const SessionRecord& r = run.records[0];
  EXPECT_EQ(r.server_port, 22);
  EXPECT_EQ(r.client_port, 49244);
  EXPECT_EQ(r.conn_state, ConnState::kSF);
  EXPECT_EQ(r.confidence, Confidence::kHigh);
  EXPECT_EQ(r.client_packets + r.server_packets, 94u);
  EXPECT_EQ(r.end_reason, EndReason::kEndOfInput);
  EXPECT_EQ(r.client_bytes, 3168u);
  EXPECT_EQ(r.server_bytes, 8799u);
  EXPECT_EQ(r.shutdown_initiator, Side::kClient);
  EXPECT_NE(r.client_fingerprint, 0u);  // "SSH-2.0-..." banners both ways
  EXPECT_NE(r.server_fingerprint, 0u);
}

// tcpdump: 17 TCP attempts by 192.168.1.71. Answered by RST: to .1:80, .50:80,
// .65:80 (twice), .65:443 (twice) = 6 REJ. Unanswered: .63:80 (twice),
// .68:80 (twice), .63:443 (twice), .68:443 (twice) = 8 S0. SYN-ACK then the
// scanner's ACK and RST: .69:80, .61:80 (twice) = 3 RSTO.
TEST(TrackerGolden, NmapScanCountsRejectedAndSilentAttempts) {
  CaptureRun run;
  RUN_OR_SKIP("scan__zeek_nmap-vsn.pcap", run);
  std::map<ConnState, int> states;
  const auto tcp = Tcp(run);
  for (const SessionRecord& r : tcp) {
    ++states[r.conn_state];
    EXPECT_EQ(r.client_ip, Ip("192.168.1.71"));
    EXPECT_EQ(r.confidence, Confidence::kHigh);
  }
  EXPECT_EQ(tcp.size(), 17u);
  EXPECT_EQ(states[ConnState::kREJ], 6);
  EXPECT_EQ(states[ConnState::kS0], 8);
  EXPECT_EQ(states[ConnState::kRSTO], 3);
}

TEST(TrackerGolden, VlanTagIsRecorded) {
  CaptureRun run;
  RUN_OR_SKIP("v6vlan__zeek_http-vlan-0.pcap", run);
  ASSERT_EQ(run.records.size(), 1u);
  EXPECT_EQ(run.records[0].vlan_count, 1);
  EXPECT_EQ(run.records[0].vlan_outer, 0);
  EXPECT_EQ(run.records[0].conn_state, ConnState::kSF);
}

TEST(TrackerGolden, QinQTagsAreRecorded) {
  CaptureRun run;
  RUN_OR_SKIP("v6vlan__zeek_http-qinq-0.pcap", run);
  ASSERT_EQ(run.records.size(), 1u);
  EXPECT_EQ(run.records[0].vlan_count, 2);
}

TEST(TrackerGolden, EveryBadCaptureIsProcessedWithoutCrashAndCounted) {
  const std::string dir = flowtrail::testing::SharedCapturesDir();
  if (dir.empty()) GTEST_SKIP() << "shared captures absent";
  for (const char* name :
       {"bad__suricata_ipv4-truncated.pcap", "bad__suricata_tcp-session-decode-malformed-ipv4.pcap",
        "bad__tcpdump_ipv6_invalid_length.pcap", "bad__tcpdump_tcp_header_heapoverflow.pcap",
        "bad__zeek_ip-bogus-header-len.pcap", "bad__zeek_ip4-trunc.pcap",
        "bad__zeek_ip6-trunc.pcap", "bad__zeek_ipv4-truncated-broken-header.pcap",
        "bad__zeek_tcp_truncated-header.pcap", "bad__zeek_trunc-hdr.pcap"}) {
    CaptureRun run;
    ASSERT_TRUE(RunCapture(name, &run));
    EXPECT_GT(run.frames, 0u) << name;
    // Every frame is either tracked or counted under a reason. Since issue 6
    // Bad() is malformed frames only: snapped headers, non-IP frames and later
    // fragments are counted apart.
    EXPECT_EQ(run.counters.packets + run.parse.Bad() + run.parse.Snapped() + run.parse.NonIp() +
                  run.parse.LaterFragments(),
              run.frames)
        << name;
    EXPECT_EQ(run.counters.sessions_active, 0u) << name;
    EXPECT_EQ(run.counters.sessions_created, run.counters.sessions_ended) << name;
    for (const SessionRecord& r : run.records) {
      EXPECT_GT(r.client_packets + r.server_packets, 0u) << name;
      EXPECT_LE(r.first_time_us, r.last_time_us) << name;
    }
  }
}

// Whole-capture invariants on every shared capture that parses.
TEST(TrackerGolden, InvariantsHoldOnEveryCapture) {
  const std::string dir = flowtrail::testing::SharedCapturesDir();
  if (dir.empty()) GTEST_SKIP() << "shared captures absent";
  for (const char* name : {"ftp__zeek_ipv4.pcap", "ftp__zeek_ipv6.pcap", "mixed__zeek_smtp.pcap",
                           "mixed__zeek_ssh_single-conn.pcap", "mixed__zeek_wikipedia.pcap",
                           "retrans__zeek_handshake-reorder.pcap", "retrans__zeek_reassembly.pcap",
                           "scan__zeek_nmap-vsn.pcap", "v6vlan__arkime_v6.pcap",
                           "v6vlan__zeek_http-qinq-0.pcap", "v6vlan__zeek_http-vlan-0.pcap"}) {
    CaptureRun run;
    ASSERT_TRUE(RunCapture(name, &run));
    uint64_t packets = 0;
    for (const SessionRecord& r : run.records) {
      packets += r.client_packets + r.server_packets;
      EXPECT_LE(r.first_time_us, r.last_time_us) << name;
      EXPECT_GT(r.client_packets + r.server_packets, 0u) << name;
    }
    EXPECT_EQ(packets, run.counters.packets) << name;
    EXPECT_EQ(run.counters.sessions_created, run.records.size()) << name;
  }
}

}  // namespace
}  // namespace flowtrail::session
