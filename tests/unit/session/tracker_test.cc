// Tracker behaviour on hand-built packets: roles, accounting, the paper's
// Table 2, session boundaries, timeouts, eviction, flags and counters.
#include "session/tracker.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "packet_helpers.h"
#include "session/fingerprint.h"

namespace flowtrail::session {
namespace {

using testing::Harness;
using testing::Ip;
using testing::kA;
using testing::kF;
using testing::kFA;
using testing::kPA;
using testing::kR;
using testing::kRA;
using testing::kS;
using testing::kSA;
using testing::PacketMaker;
using testing::SmallConfig;

constexpr char kC[] = "10.0.0.1";
constexpr char kSrv[] = "192.0.2.10";
constexpr uint64_t kSec = 1'000'000;
constexpr uint64_t kT0 = 1'700'000'000 * kSec;

// --- Client/server decision and confidence (SPEC §2 field 2) -------------

TEST(TrackerRoles, SynSenderIsClientWithHighConfidence) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 500, 101), kT0 + 1);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_ip, Ip(kC));
  EXPECT_EQ(r.client_port, 40000);
  EXPECT_EQ(r.server_ip, Ip(kSrv));
  EXPECT_EQ(r.server_port, 80);
  EXPECT_EQ(r.confidence, Confidence::kHigh);
}

TEST(TrackerRoles, OnlySynAckSeenMakesItsReceiverTheClientWithMediumConfidence) {
  PacketMaker m;
  Harness h;
  // Both ports ephemeral: only the SYN-ACK can decide.
  h.Send(m.Tcp("10.9.9.9", 50001, kC, 40000, kSA, 500, 101), kT0);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_ip, Ip(kC));
  EXPECT_EQ(r.client_port, 40000);
  EXPECT_EQ(r.server_port, 50001);
  EXPECT_EQ(r.confidence, Confidence::kMedium);
}

TEST(TrackerRoles, ServicePortOnOneSideDecidesWithMediumConfidence) {
  PacketMaker m;
  Harness h;
  // Midstream data from the server first: the well-known port wins over order.
  h.Send(m.Tcp(kSrv, 443, kC, 40000, kPA, 900, 100, "hello"), kT0);
  h.Send(m.Tcp(kC, 40000, kSrv, 443, kA, 100, 905), kT0 + 1);
  h.Send(m.Udp(kC, 53000, "198.51.100.1", 5432), kT0 + 2);  // listed service port
  h.Flush();
  ASSERT_EQ(h.records.size(), 2u);
  for (const SessionRecord& r : h.records) {
    EXPECT_EQ(r.client_ip, Ip(kC));
    EXPECT_EQ(r.confidence, Confidence::kMedium);
  }
}

TEST(TrackerRoles, WithoutHandshakeOrServicePortFirstSenderIsClientWithLowConfidence) {
  PacketMaker m;
  Harness h;
  h.Send(m.Udp("10.1.1.1", 40000, "10.2.2.2", 50000), kT0);
  h.Send(m.Udp("10.2.2.2", 50000, "10.1.1.1", 40000), kT0 + 1);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_ip, Ip("10.1.1.1"));
  EXPECT_EQ(r.client_port, 40000);
  EXPECT_EQ(r.confidence, Confidence::kLow);
}

TEST(TrackerRoles, LateSynFixesGuessedRolesAndSwapsEveryPerSideField) {
  PacketMaker m;
  Harness h;
  // The true server (10.2.2.2:50000) is seen first, with data; ports give no
  // hint, so it is guessed to be the client (LOW)...
  h.Send(m.Tcp("10.2.2.2", 50000, "10.1.1.1", 40000, kPA, 7001, 3001, "banner"), kT0);
  h.Send(m.Tcp("10.2.2.2", 50000, "10.1.1.1", 40000, kSA, 7000, 3001), kT0 + 1);
  // ...until the real client's SYN arrives (reordered capture).
  h.Send(m.Tcp("10.1.1.1", 40000, "10.2.2.2", 50000, kS, 3000), kT0 + 2);
  h.Send(m.Tcp("10.1.1.1", 40000, "10.2.2.2", 50000, kPA, 3001, 7007, "hi"), kT0 + 3);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_ip, Ip("10.1.1.1"));
  EXPECT_EQ(r.client_port, 40000);
  EXPECT_EQ(r.confidence, Confidence::kHigh);
  EXPECT_EQ(r.client_packets, 2u);
  EXPECT_EQ(r.server_packets, 2u);
  EXPECT_EQ(r.client_payload_bytes, 2u);
  EXPECT_EQ(r.server_payload_bytes, 6u);
  EXPECT_EQ(r.client_first_flags, kS);
  EXPECT_EQ(r.server_first_flags, kPA);
  EXPECT_EQ(r.client_first_seq, 3000u);  // the ISN
  EXPECT_EQ(r.server_first_seq, 7000u);  // the ISN, though data came first
  EXPECT_EQ(r.client_bytes, 2u);
  EXPECT_EQ(r.server_bytes, 6u);
  EXPECT_EQ(r.first_data_sender, Side::kServer);
}

TEST(TrackerRoles, SynAckFixesRolesGuessedFromServicePort) {
  PacketMaker m;
  Harness h;
  // Port 80 on the *client* side (odd, but it happens): the heuristic guesses
  // wrong, the SYN-ACK corrects it.
  h.Send(m.Tcp("10.1.1.1", 80, "10.2.2.2", 40000, kA, 10, 20), kT0);
  h.Send(m.Tcp("10.2.2.2", 40000, "10.1.1.1", 80, kSA, 19, 10), kT0 + 1);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_ip, Ip("10.1.1.1"));
  EXPECT_EQ(r.client_port, 80);
  EXPECT_EQ(r.confidence, Confidence::kMedium);
}

TEST(TrackerRoles, HighConfidenceRolesNeverFlip) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  // Simultaneous open / crafted SYN from the other side: roles stay.
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kS, 900), kT0 + 1);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kSA, 100, 901), kT0 + 2);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_ip, Ip(kC));
  EXPECT_EQ(r.confidence, Confidence::kHigh);
}

// --- The paper's Table 2: sequence deltas vs application bytes ------------

class Table2 : public ::testing::TestWithParam<uint32_t> {};

// Client sends 22 bytes, server 114, server closes first: deltas 23 and 116.
TEST_P(Table2, ServerClosesFirstGivesDeltas23And116AndBytes22And114) {
  const uint32_t c = GetParam(), s = c ^ 0x5a5a5a5a;
  PacketMaker m;
  Harness h;
  uint64_t t = kT0;
  h.Send(m.Tcp(kC, 4305, kSrv, 80, kS, c), t++);
  h.Send(m.Tcp(kSrv, 80, kC, 4305, kSA, s, c + 1), t++);
  h.Send(m.Tcp(kC, 4305, kSrv, 80, kA, c + 1, s + 1), t++);
  h.Send(m.TcpLen(kC, 4305, kSrv, 80, kPA, c + 1, s + 1, 22), t++);
  h.Send(m.Tcp(kSrv, 80, kC, 4305, kA, s + 1, c + 23), t++);
  h.Send(m.TcpLen(kSrv, 80, kC, 4305, kPA, s + 1, c + 23, 114), t++);
  h.Send(m.Tcp(kSrv, 80, kC, 4305, kFA, s + 115, c + 23), t++);
  h.Send(m.Tcp(kC, 4305, kSrv, 80, kA, c + 23, s + 116), t++);
  h.Send(m.Tcp(kC, 4305, kSrv, 80, kFA, c + 23, s + 116), t++);
  h.Send(m.Tcp(kSrv, 80, kC, 4305, kA, s + 116, c + 24), t++);
  h.Advance(t + 10 * kSec);  // past the linger
  ASSERT_EQ(h.records.size(), 1u);
  const SessionRecord& r = h.records[0];
  EXPECT_EQ(r.client_payload_bytes, 22u);
  EXPECT_EQ(r.server_payload_bytes, 114u);
  EXPECT_EQ(static_cast<uint32_t>(r.client_last_seq - r.client_first_seq), 23u);
  EXPECT_EQ(static_cast<uint32_t>(r.server_last_seq - r.server_first_seq), 116u);
  EXPECT_EQ(r.client_bytes, 22u);
  EXPECT_EQ(r.server_bytes, 114u);
  EXPECT_EQ(r.shutdown_initiator, Side::kServer);
  EXPECT_EQ(r.shutdown_kind, ShutdownKind::kFin);
  EXPECT_EQ(r.first_data_sender, Side::kClient);
  EXPECT_EQ(r.conn_state, ConnState::kSF);
  EXPECT_EQ(r.end_reason, EndReason::kClosed);
  EXPECT_EQ(r.client_flags, kS | kA | testing::kP | kF);
  EXPECT_EQ(r.client_first_flags, kS);
  EXPECT_EQ(r.server_first_flags, kSA);
}

// Client sends 22 bytes, server 161, client closes first: deltas 23 and 162.
// The paper's client delta of 23 means the client's last captured packet was
// its FIN: the server answers with FIN-ACK and the client's final ACK is not
// in the capture (had it been, the client's delta would be 24).
TEST_P(Table2, ClientClosesFirstGivesDeltas23And162AndBytes22And161) {
  const uint32_t c = GetParam(), s = c + 0x80000000u;
  PacketMaker m;
  Harness h;
  uint64_t t = kT0;
  h.Send(m.Tcp(kC, 4305, kSrv, 80, kS, c), t++);
  h.Send(m.Tcp(kSrv, 80, kC, 4305, kSA, s, c + 1), t++);
  h.Send(m.Tcp(kC, 4305, kSrv, 80, kA, c + 1, s + 1), t++);
  h.Send(m.TcpLen(kC, 4305, kSrv, 80, kPA, c + 1, s + 1, 22), t++);
  h.Send(m.Tcp(kSrv, 80, kC, 4305, kA, s + 1, c + 23), t++);
  h.Send(m.TcpLen(kSrv, 80, kC, 4305, kPA, s + 1, c + 23, 161), t++);
  h.Send(m.Tcp(kC, 4305, kSrv, 80, kA, c + 23, s + 162), t++);
  h.Send(m.Tcp(kC, 4305, kSrv, 80, kFA, c + 23, s + 162), t++);
  h.Send(m.Tcp(kSrv, 80, kC, 4305, kFA, s + 162, c + 24), t++);
  h.Advance(t + 10 * kSec);
  ASSERT_EQ(h.records.size(), 1u);
  const SessionRecord& r = h.records[0];
  EXPECT_EQ(r.client_payload_bytes, 22u);
  EXPECT_EQ(r.server_payload_bytes, 161u);
  EXPECT_EQ(static_cast<uint32_t>(r.client_last_seq - r.client_first_seq), 23u);
  EXPECT_EQ(static_cast<uint32_t>(r.server_last_seq - r.server_first_seq), 162u);
  EXPECT_EQ(r.client_bytes, 22u);
  EXPECT_EQ(r.server_bytes, 161u);
  EXPECT_EQ(r.shutdown_initiator, Side::kClient);
  EXPECT_EQ(r.conn_state, ConnState::kSF);
  EXPECT_EQ(r.end_reason, EndReason::kClosed);
}

// Ordinary ISNs, and ISNs whose data wraps past 2^32.
INSTANTIATE_TEST_SUITE_P(Isns, Table2, ::testing::Values(667076575u, 0xFFFFFFF0u, 0xFFFFFFFFu, 0u));

// --- Application bytes from sequence numbers -----------------------------

TEST(TrackerBytes, RetransmissionsCountInPayloadBytesButNotInApplicationBytes) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 500, 101), kT0 + 1);
  for (int i = 0; i < 3; ++i) h.Send(m.TcpLen(kC, 40000, kSrv, 80, kPA, 101, 501, 50), kT0 + 2);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_payload_bytes, 150u);
  EXPECT_EQ(r.client_bytes, 50u);
}

TEST(TrackerBytes, ReorderedSegmentsDoNotShrinkTheCount) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.TcpLen(kC, 40000, kSrv, 80, kPA, 201, 0, 100), kT0 + 1);  // second segment first
  h.Send(m.TcpLen(kC, 40000, kSrv, 80, kPA, 101, 0, 100), kT0 + 2);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_bytes, 200u);
  EXPECT_EQ(r.client_last_seq, 101u);  // of the last packet, as the paper defines it
}

TEST(TrackerBytes, MissingSegmentsAcknowledgedByThePeerStillCount) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 500, 101), kT0 + 1);
  h.Send(m.TcpLen(kC, 40000, kSrv, 80, kPA, 101, 501, 100), kT0 + 2);
  // The client's next 300 bytes were not captured; the server ACKs them.
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kA, 501, 501), kT0 + 3);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_bytes, 400u);
  EXPECT_EQ(r.client_payload_bytes, 100u);
}

TEST(TrackerBytes, SessionsBeyondFourGibibytesAreCountedIn64Bits) {
  PacketMaker m;
  Harness h;
  const uint32_t isn = 0xF0000000u;
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, isn), kT0);
  packet::ParsedPacket p = m.Tcp(kC, 40000, kSrv, 80, kA, 0, 0);
  p.payload = nullptr;
  p.captured_payload_len = 0;
  p.payload_len = 65536;
  const uint64_t segments = (uint64_t{5} << 30) / 65536;  // 5 GiB
  uint32_t seq = isn + 1;
  for (uint64_t i = 0; i < segments; ++i, seq += 65536) {
    p.seq = seq;
    h.tracker->Process(p, kT0 + 1 + i, 0);
  }
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_bytes, uint64_t{5} << 30);
  EXPECT_EQ(r.client_payload_bytes, uint64_t{5} << 30);
}

// Payload bytes keep their low 32 bits in the hot entry and carry into a
// cold high word: exact at the boundary, for a packet ending on 2^32 - 1, a
// 65535-byte packet crossing it, one landing on 2^32 exactly, and one packet
// crossing from far below.
TEST(TrackerBytes, PayloadCountsCarryExactlyPastTwoToTheThirtyTwo) {
  PacketMaker m;
  Harness h;
  const auto send = [&](uint16_t port, uint32_t len, uint64_t t) {
    packet::ParsedPacket p = m.Udp(kC, port, kSrv, 53);
    p.payload = nullptr;
    p.captured_payload_len = 0;
    p.payload_len = len;
    h.tracker->Process(p, kT0 + t, 0);
  };
  constexpr uint64_t k32 = uint64_t{1} << 32;
  // 65536 x 65535 = 2^32 - 65536, then 65535 more: 2^32 - 1.
  for (uint32_t i = 0; i <= 65536; ++i) send(40001, 65535, i);
  send(40001, 65535, 70000);  // crosses: 2^32 + 65534
  for (uint32_t i = 0; i < 65536; ++i) send(40002, 65535, i);
  send(40002, 65536, 70000);  // lands on 2^32: the low word reads 0
  send(40002, 1, 70001);
  send(40003, 100, 0);
  send(40003, 0xFFFFFFFFu, 1);  // 2^32 + 99 in one packet
  send(40003, 0, 2);
  h.Flush();
  ASSERT_EQ(h.records.size(), 3u);
  std::map<uint16_t, SessionRecord> by_port;
  for (const SessionRecord& r : h.records) by_port[r.client_port] = r;
  EXPECT_EQ(by_port[40001].client_payload_bytes, k32 + 65534);
  EXPECT_EQ(by_port[40001].client_packets, 65538u);
  EXPECT_EQ(by_port[40002].client_payload_bytes, k32 + 1);
  EXPECT_EQ(by_port[40002].client_packets, 65538u);
  EXPECT_EQ(by_port[40003].client_payload_bytes, k32 + 99);
  EXPECT_EQ(by_port[40003].client_packets, 3u);
  for (const auto& [port, r] : by_port) {
    EXPECT_EQ(r.server_payload_bytes, 0u) << port;
    EXPECT_EQ(r.client_first_data_len, port == 40003 ? 100 : 65535) << port;
  }
}

TEST(TrackerBytes, RetransmittedSynAckWithNewIsnBeforeDataReanchorsTheServer) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 500, 101), kT0 + 1);
  // Zeek #3313: a load balancer answers again with another ISN.
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 3'000'000'000u, 101), kT0 + 2);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kA, 101, 3'000'000'001u), kT0 + 3);
  h.Send(m.TcpLen(kSrv, 80, kC, 40000, kPA, 3'000'000'001u, 101, 40), kT0 + 4);
  const SessionRecord r = h.Only();
  EXPECT_TRUE(r.server_isn_changed);
  EXPECT_EQ(r.server_first_seq, 3'000'000'000u);
  EXPECT_EQ(r.server_bytes, 40u);
  EXPECT_EQ(r.client_bytes, 0u);
}

TEST(TrackerBytes, SameIsnSynAckRetransmissionChangesNothing) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 500, 101), kT0 + 1);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 500, 101), kT0 + 2);
  const SessionRecord r = h.Only();
  EXPECT_FALSE(r.server_isn_changed);
  EXPECT_EQ(r.server_packets, 2u);
  EXPECT_EQ(r.server_bytes, 0u);
}

// --- Session boundaries ----------------------------------------------------

TEST(TrackerBoundaries, NewSynOnClosedFiveTupleStartsANewSession) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 500, 101), kT0 + 1);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kFA, 101, 501), kT0 + 2);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kFA, 501, 102), kT0 + 3);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 90000), kT0 + 4);  // new ISN, within the linger
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0].end_reason, EndReason::kReplaced);
  EXPECT_EQ(h.records[0].conn_state, ConnState::kSF);
  h.Flush();
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[1].client_first_seq, 90000u);
  EXPECT_EQ(h.records[1].client_packets, 1u);
  EXPECT_EQ(h.records[1].conn_state, ConnState::kS0);
  EXPECT_NE(h.records[0].session_id, h.records[1].session_id);
  EXPECT_EQ(h.tracker->counters().sessions_created, 2u);
}

TEST(TrackerBoundaries, NewSynAfterResetStartsANewSession) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kRA, 0, 101), kT0 + 1);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 7777), kT0 + 2);
  h.Flush();
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[0].conn_state, ConnState::kREJ);
  EXPECT_EQ(h.records[1].conn_state, ConnState::kS0);
}

TEST(TrackerBoundaries, RetransmittedSynWithSameIsnAfterCloseStaysInTheSession) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kRA, 0, 101), kT0 + 1);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0 + 2);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_packets, 2u);
}

TEST(TrackerBoundaries, SynWithNewIsnOnOpenSessionDoesNotSplitIt) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 200), kT0 + 1);  // no FIN/RST yet
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_packets, 2u);
  EXPECT_EQ(r.client_first_seq, 200u);  // re-anchored: nothing was sent on the old ISN
}

// --- Ends and timeouts -----------------------------------------------------

TrackerConfig TimeoutConfig() {
  TrackerConfig c = SmallConfig();
  c.tcp_syn_timeout_us = 10 * kSec;
  c.tcp_established_timeout_us = 100 * kSec;
  c.tcp_closing_timeout_us = 20 * kSec;
  c.tcp_linger_us = 2 * kSec;
  c.udp_timeout_us = 30 * kSec;
  c.icmp_timeout_us = 5 * kSec;
  c.active_timeout_us = 0;
  return c;
}

// Advance to just before and well after `deadline`; the record must appear
// only after it (the wheel fires within one 65 ms tick).
void ExpectEndsAt(Harness& h, uint64_t deadline, EndReason reason) {
  h.Advance(deadline - 200'000);
  EXPECT_TRUE(h.records.empty()) << "ended before its deadline";
  h.Advance(deadline + 200'000);
  ASSERT_EQ(h.records.size(), 1u) << "not ended after its deadline";
  EXPECT_EQ(h.records[0].end_reason, reason);
}

TEST(TrackerTimeouts, FinBothWaysEndsClosedAfterTheLinger) {
  PacketMaker m;
  Harness h(TimeoutConfig());
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 500, 101), kT0 + kSec);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kFA, 101, 501), kT0 + 2 * kSec);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kFA, 501, 102), kT0 + 3 * kSec);
  ExpectEndsAt(h, kT0 + 5 * kSec, EndReason::kClosed);
}

TEST(TrackerTimeouts, ResetEndsAfterTheLingerAndLatePacketsStillCount) {
  PacketMaker m;
  Harness h(TimeoutConfig());
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 500, 101), kT0 + kSec / 10);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kR, 101), kT0 + kSec);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kA, 501, 101), kT0 + kSec + kSec / 2);  // late
  ExpectEndsAt(h, kT0 + kSec + kSec / 2 + 2 * kSec, EndReason::kReset);
  EXPECT_EQ(h.records[0].server_packets, 2u);
  EXPECT_EQ(h.records[0].shutdown_kind, ShutdownKind::kRst);
  EXPECT_EQ(h.records[0].shutdown_initiator, Side::kClient);
  EXPECT_EQ(h.records[0].conn_state, ConnState::kRSTO);
}

TEST(TrackerTimeouts, LoneSynEndsAfterTheSynTimeout) {
  PacketMaker m;
  Harness h(TimeoutConfig());
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  ExpectEndsAt(h, kT0 + 10 * kSec, EndReason::kIdleTimeout);
  EXPECT_EQ(h.records[0].conn_state, ConnState::kS0);
}

TEST(TrackerTimeouts, EstablishedSessionUsesTheEstablishedTimeout) {
  PacketMaker m;
  Harness h(TimeoutConfig());
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 500, 101), kT0 + 1);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kA, 101, 501), kT0 + 2);
  ExpectEndsAt(h, kT0 + 2 + 100 * kSec, EndReason::kIdleTimeout);
  EXPECT_EQ(h.records[0].conn_state, ConnState::kS1);
}

// With a SYN timeout longer than the established one, the ACK completing the
// handshake shrinks the deadline through a state change alone (no FIN or
// RST): the session must end at the established timeout, not the SYN one.
TEST(TrackerTimeouts, HandshakeAckShrinksALongerSynTimeout) {
  PacketMaker m;
  TrackerConfig c = TimeoutConfig();
  c.tcp_syn_timeout_us = 300 * kSec;
  c.tcp_established_timeout_us = 40 * kSec;
  Harness h(c);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 500, 101), kT0 + 1);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kA, 101, 501), kT0 + 2);
  ExpectEndsAt(h, kT0 + 2 + 40 * kSec, EndReason::kIdleTimeout);
  EXPECT_EQ(h.records[0].conn_state, ConnState::kS1);
}

TEST(TrackerTimeouts, ActivityPostponesTheIdleTimeout) {
  PacketMaker m;
  Harness h(TimeoutConfig());
  for (int i = 0; i < 10; ++i) {
    h.Send(m.Udp(kC, 40000, kSrv, 53), kT0 + i * 20 * kSec);
    h.Advance(kT0 + i * 20 * kSec + 1);
  }
  EXPECT_TRUE(h.records.empty());
  ExpectEndsAt(h, kT0 + 9 * 20 * kSec + 30 * kSec, EndReason::kIdleTimeout);
  EXPECT_EQ(h.records[0].client_packets, 10u);
}

TEST(TrackerTimeouts, OneFinUsesTheClosingTimeout) {
  PacketMaker m;
  Harness h(TimeoutConfig());
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 500, 101), kT0 + 1);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kA, 101, 501), kT0 + 2);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kFA, 101, 501), kT0 + 3);
  ExpectEndsAt(h, kT0 + 3 + 20 * kSec, EndReason::kIdleTimeout);
  EXPECT_EQ(h.records[0].conn_state, ConnState::kS2);
}

TEST(TrackerTimeouts, UdpAndIcmpHaveTheirOwnTimeouts) {
  PacketMaker m;
  Harness h(TimeoutConfig());
  h.Send(m.Icmp(kC, kSrv, 8, 0, 7), kT0);
  h.Send(m.Udp(kC, 40000, kSrv, 53), kT0);
  h.Advance(kT0 + 5 * kSec + 200'000);
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0].protocol, packet::kProtoIcmp);
  h.Advance(kT0 + 30 * kSec - 200'000);
  EXPECT_EQ(h.records.size(), 1u);
  h.Advance(kT0 + 30 * kSec + 200'000);
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[1].protocol, packet::kProtoUdp);
}

TEST(TrackerTimeouts, PacketAfterTheTimeoutStartsANewSessionEvenWithoutAdvance) {
  PacketMaker m;
  Harness h(TimeoutConfig());
  h.Send(m.Udp(kC, 40000, kSrv, 53), kT0);
  h.Send(m.Udp(kC, 40000, kSrv, 53), kT0 + 30 * kSec - 1);  // just in time
  h.Send(m.Udp(kC, 40000, kSrv, 53), kT0 + 60 * kSec);      // 1 us late
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0].end_reason, EndReason::kIdleTimeout);
  EXPECT_EQ(h.records[0].client_packets, 2u);
  h.Flush();
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[1].client_packets, 1u);
}

TEST(TrackerTimeouts, SynAfterTheLingerEndsTheOldSessionClosedNotReplaced) {
  PacketMaker m;
  Harness h(TimeoutConfig());
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 500, 101), kT0 + 1);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kFA, 101, 501), kT0 + 2);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kFA, 501, 102), kT0 + 3);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 90000), kT0 + 3 + 2 * kSec);  // linger over
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0].end_reason, EndReason::kClosed);
}

TEST(TrackerTimeouts, LongTimeJumpExpiresEverythingOnce) {
  PacketMaker m;
  Harness h(TimeoutConfig());
  for (uint16_t i = 0; i < 100; ++i) h.Send(m.Udp(kC, 1024 + i, kSrv, 53), kT0 + i * kSec);
  h.Advance(kT0 + 365 * 24 * 3600 * kSec);
  EXPECT_EQ(h.records.size(), 100u);
  EXPECT_EQ(h.tracker->counters().sessions_active, 0u);
}

TEST(TrackerTimeouts, ActiveTimeoutEmitsCumulativeInterimRecordsAndTheSessionGoesOn) {
  PacketMaker m;
  TrackerConfig c = TimeoutConfig();
  c.active_timeout_us = 60 * kSec;
  Harness h(c);
  for (int i = 0; i <= 130; i += 10) {
    h.Advance(kT0 + i * kSec);
    h.Send(m.Udp(kC, 40000, kSrv, 53, "abcd"), kT0 + i * kSec);
  }
  // Interim records for 0..60 s (seen at 70 s) and 0..120 s (seen at 130 s):
  // the periods stay 60 s apart however late Advance() comes.
  ASSERT_EQ(h.records.size(), 2u);
  for (const SessionRecord& r : h.records) {
    EXPECT_TRUE(r.continuing);
    EXPECT_EQ(r.end_reason, EndReason::kActiveTimeout);
  }
  EXPECT_EQ(h.records[0].session_id, h.records[1].session_id);
  EXPECT_EQ(h.records[0].client_packets, 7u);   // 0..60 s
  EXPECT_EQ(h.records[1].client_packets, 13u);  // cumulative: 0..120 s
  EXPECT_EQ(h.records[1].first_time_us, kT0);
  h.Flush();
  ASSERT_EQ(h.records.size(), 3u);
  EXPECT_FALSE(h.records[2].continuing);
  EXPECT_EQ(h.records[2].client_packets, 14u);
  EXPECT_EQ(h.tracker->counters().interim_records, 2u);
  EXPECT_EQ(h.tracker->counters().sessions_ended, 1u);
}

TEST(TrackerTimeouts, AdvanceDefersWhenTheOutputQueueIsFull) {
  PacketMaker m;
  TrackerConfig c = TimeoutConfig();
  c.output_capacity = 3;
  auto t = Tracker::Create(c);
  ASSERT_TRUE(t.ok());
  Tracker& tr = **t;
  for (uint16_t i = 0; i < 10; ++i) tr.Process(m.Udp(kC, 1024 + i, kSrv, 53), kT0, 0);
  tr.Advance(kT0 + 100 * kSec);
  EXPECT_EQ(tr.PendingOutput(), 3u);
  EXPECT_EQ(tr.counters().records_dropped, 0u);
  EXPECT_EQ(tr.counters().sessions_active, 7u);
  SessionRecord buf[3];
  size_t total = 0;
  for (int round = 0; round < 10 && tr.counters().sessions_active > 0; ++round) {
    total += tr.Drain(buf);
    tr.Advance(kT0 + 100 * kSec);
  }
  total += tr.Drain(buf);
  EXPECT_EQ(total, 10u);
  EXPECT_EQ(tr.counters().records_dropped, 0u);
}

// The output queue reuses its first slots once drained empty (tracker.cc
// PopOldest()): records still leave in order across partial drains, a wrap of
// the ring, and the restart at slot 0; the same through PeekOutput() and
// DropOutput(), whose stretch ends at the ring's end.
TEST(TrackerTable, OutputQueueKeepsOrderAcrossPartialDrainsWrapAndRestart) {
  for (const bool peek : {false, true}) {
    SCOPED_TRACE(peek ? "PeekOutput/DropOutput" : "Drain");
    PacketMaker m;
    TrackerConfig c = SmallConfig();
    c.capacity = 4;  // one window: every new session evicts the oldest
    c.output_capacity = 3;
    auto t = Tracker::Create(c);
    ASSERT_TRUE(t.ok());
    Tracker& tr = **t;
    uint64_t now = kT0;
    uint16_t next = 1000;
    const auto send_new = [&](int count) {
      for (int i = 0; i < count; ++i) tr.Process(m.Udp(kC, next++, kSrv, 53), ++now, 0);
    };
    const auto drain = [&](size_t most) {
      std::vector<uint16_t> ports;
      if (peek) {
        while (ports.size() < most && tr.PendingOutput() > 0) {
          const std::span<const SessionRecord> in = tr.PeekOutput();
          const size_t n = std::min(in.size(), most - ports.size());
          for (size_t i = 0; i < n; ++i) ports.push_back(in[i].client_port);
          tr.DropOutput(n);
        }
        return ports;
      }
      SessionRecord buf[3];
      const size_t n = tr.Drain(std::span(buf, most));
      for (size_t i = 0; i < n; ++i) ports.push_back(buf[i].client_port);
      return ports;
    };
    send_new(4 + 2);  // evicts 1000, 1001
    EXPECT_EQ(drain(1), std::vector<uint16_t>({1000}));
    send_new(2);  // 1002 and 1003: the second wraps to slot 0
    EXPECT_EQ(tr.PendingOutput(), 3u);
    EXPECT_EQ(tr.PeekOutput().size(), 2u);  // up to the ring's end
    EXPECT_EQ(drain(2), std::vector<uint16_t>({1001, 1002}));
    send_new(1);  // 1004 behind 1003
    EXPECT_EQ(drain(3), std::vector<uint16_t>({1003, 1004}));
    EXPECT_TRUE(tr.PeekOutput().empty());
    send_new(3);  // empty before: from slot 0 again
    EXPECT_EQ(tr.PeekOutput().size(), 3u);
    EXPECT_EQ(drain(3), std::vector<uint16_t>({1005, 1006, 1007}));
    send_new(4);  // a full queue drops the fourth
    EXPECT_EQ(drain(3), std::vector<uint16_t>({1008, 1009, 1010}));
    EXPECT_EQ(tr.counters().records_dropped, 1u);
  }
}

// --- Table pressure, ids, counters ----------------------------------------

// Eviction ends the session nearest its idle deadline (tracker.cc
// EvictEarliest()), found through the timer wheel: 1000's wheel entry still
// holds its first deadline, the earliest, but 1000 was refreshed since.
TEST(TrackerTable, FullTableEvictsTheSessionNearestItsIdleDeadline) {
  PacketMaker m;
  TrackerConfig c = SmallConfig();
  c.capacity = 4;
  Harness h(c);
  for (uint16_t i = 0; i < 4; ++i) h.Send(m.Udp(kC, 1000 + i, kSrv, 53), kT0 + i * kSec);
  h.Send(m.Udp(kC, 1000, kSrv, 53), kT0 + 10 * kSec);  // 1000 is fresh again; 1001 is stalest
  h.Send(m.Udp(kC, 2000, kSrv, 53), kT0 + 11 * kSec);
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0].end_reason, EndReason::kEvicted);
  EXPECT_EQ(h.records[0].client_port, 1001);
  EXPECT_EQ(h.tracker->counters().sessions_evicted, 1u);
  EXPECT_EQ(h.tracker->counters().sessions_active, 4u);
  h.Flush();
  EXPECT_EQ(h.records.size(), 5u);
}

// The deadline counts the state's timeout: a lone SYN (30 s) leaves before a
// UDP session (60 s) that has been idle longer, so a SYN flood evicts its own
// SYNs before the sessions it meets.
TEST(TrackerTable, ALoneSynIsEvictedBeforeASessionIdleLonger) {
  PacketMaker m;
  TrackerConfig c = SmallConfig();
  c.capacity = 2;
  Harness h(c);
  h.Send(m.Udp(kC, 1000, kSrv, 53), kT0);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0 + 5 * kSec);
  h.Send(m.Udp(kC, 1001, kSrv, 53), kT0 + 6 * kSec);
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0].client_port, 40000);
  EXPECT_EQ(h.records[0].end_reason, EndReason::kEvicted);
}

// Refreshed sessions met on the way are moved to their own deadlines, where
// they still end on time (the wheel's invariant holds after the move).
TEST(TrackerTable, EvictionMovesRefreshedSessionsToTheirDeadlines) {
  PacketMaker m;
  TrackerConfig c = SmallConfig();
  c.capacity = 40;
  Harness h(c);
  for (uint16_t i = 0; i < 40; ++i) h.Send(m.Udp(kC, 1000 + i, kSrv, 53), kT0 + i * kSec);
  for (uint16_t i = 0; i < 10; ++i) {
    h.Send(m.Udp(kC, 1000 + i, kSrv, 53), kT0 + 50 * kSec + i);
  }
  h.Send(m.Udp(kC, 2000, kSrv, 53), kT0 + 51 * kSec);
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0].client_port, 1010);
  EXPECT_EQ(h.records[0].end_reason, EndReason::kEvicted);
  // 1011..1039 idle since kT0 + 11..39 s: gone by kT0 + 100 s; 1000..1009
  // (refreshed at kT0 + 50 s) stay until kT0 + 110 s, then end.
  h.Advance(kT0 + 100 * kSec);
  EXPECT_EQ(h.records.size(), 30u);
  EXPECT_EQ(h.tracker->counters().sessions_active, 11u);
  h.Advance(kT0 + 110 * kSec - kSec / 2);
  EXPECT_EQ(h.records.size(), 30u);
  h.Advance(kT0 + 110 * kSec + kSec / 2);
  ASSERT_EQ(h.records.size(), 40u);
  for (size_t i = 30; i < 40; ++i) {
    EXPECT_EQ(h.records[i].end_reason, EndReason::kIdleTimeout);
    EXPECT_LT(h.records[i].client_port, 1010);
  }
  EXPECT_EQ(h.tracker->counters().sessions_active, 1u);  // 2000
}

// An eviction looks at a bounded number of wheel entries (kEvictionLook, 32):
// past it, the earliest deadline among those seen goes; the moved entries
// are out of the way of the next eviction, which finds the session due.
TEST(TrackerTable, EvictionLooksAtBoundedEntriesAndTheNextOneGoesOn) {
  PacketMaker m;
  TrackerConfig c = SmallConfig();
  c.capacity = 40;
  Harness h(c);
  for (uint16_t i = 0; i < 40; ++i) h.Send(m.Udp(kC, 1000 + i, kSrv, 53), kT0 + i * kSec);
  for (uint16_t i = 0; i < 35; ++i) {
    h.Send(m.Udp(kC, 1000 + i, kSrv, 53), kT0 + 50 * kSec + i);
  }
  h.Send(m.Udp(kC, 2000, kSrv, 53), kT0 + 51 * kSec);
  h.Send(m.Udp(kC, 2001, kSrv, 53), kT0 + 51 * kSec);
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[0].client_port, 1000);  // the earliest of the 32 looked at
  EXPECT_EQ(h.records[1].client_port, 1035);
  EXPECT_EQ(h.tracker->counters().sessions_evicted, 2u);
}

// A session past its idle deadline that the wheel has not fired yet (no
// Advance() since) ends as timed out when eviction meets it, not evicted.
TEST(TrackerTable, EvictionMeetingATimedOutSessionEndsItAsTimedOut) {
  PacketMaker m;
  TrackerConfig c = SmallConfig();
  c.capacity = 2;
  Harness h(c);
  h.Send(m.Udp(kC, 1000, kSrv, 53), kT0);
  h.Send(m.Udp(kC, 1001, kSrv, 53), kT0 + 30 * kSec);
  h.Send(m.Udp(kC, 1002, kSrv, 53), kT0 + 70 * kSec);
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0].client_port, 1000);
  EXPECT_EQ(h.records[0].end_reason, EndReason::kIdleTimeout);
  EXPECT_EQ(h.tracker->counters().sessions_evicted, 0u);
  EXPECT_EQ(h.tracker->counters().sessions_active, 2u);
}

// Eviction prefetches the sessions scheduled next to its victim, the likely
// next victims (tracker.cc): sessions refreshed before their turn must not
// be taken for it. All 64 are in one wheel tick, oldest first.
TEST(TrackerTable, EvictionTakesTheEarliestAtEvictionTimeWhateverItPrefetched) {
  PacketMaker m;
  TrackerConfig c = SmallConfig();
  c.capacity = 64;
  Harness h(c);
  constexpr uint64_t kTick = uint64_t{1} << 16;  // tracker.cc kTickUs
  const uint64_t t0 = (kT0 / kTick + 1) * kTick;
  for (uint16_t i = 0; i < 64; ++i) h.Send(m.Udp(kC, 1000 + i, kSrv, 53), t0 + i);
  h.Send(m.Udp(kC, 2000, kSrv, 53), t0 + 100);  // ends 1000, prefetches 1001, 1002...
  h.Send(m.Udp(kC, 1001, kSrv, 53), t0 + kSec);
  h.Send(m.Udp(kC, 1002, kSrv, 53), t0 + kSec);
  h.Send(m.Udp(kC, 2001, kSrv, 53), t0 + kSec);
  h.Send(m.Udp(kC, 2002, kSrv, 53), t0 + kSec);
  ASSERT_EQ(h.records.size(), 3u);
  EXPECT_EQ(h.records[0].client_port, 1000);
  EXPECT_EQ(h.records[1].client_port, 1003);
  EXPECT_EQ(h.records[2].client_port, 1004);
  for (const SessionRecord& r : h.records) EXPECT_EQ(r.end_reason, EndReason::kEvicted);
  EXPECT_EQ(h.tracker->counters().sessions_active, 64u);
}

TEST(TrackerTable, FloodOfNewSessionsKeepsTheTableBoundedAndCounted) {
  PacketMaker m;
  TrackerConfig c = SmallConfig();
  c.capacity = 64;
  c.output_capacity = 16;
  auto t = Tracker::Create(c);
  ASSERT_TRUE(t.ok());
  for (uint32_t i = 0; i < 1000; ++i) {
    (*t)->Process(m.Udp(kC, static_cast<uint16_t>(1024 + i), kSrv, 53), kT0 + i, 0);
  }
  const TrackerCounters& k = (*t)->counters();
  EXPECT_EQ(k.sessions_active, 64u);
  EXPECT_EQ(k.sessions_evicted, 1000u - 64u);
  EXPECT_EQ(k.sessions_ended, 1000u - 64u);
  EXPECT_EQ(k.records_dropped, 1000u - 64u - 16u);  // nobody drained
  EXPECT_EQ((*t)->PendingOutput(), 16u);
}

TEST(TrackerTable, SessionIdsCarryTheWorkerAndIncrease) {
  PacketMaker m;
  TrackerConfig c = SmallConfig();
  c.worker_id = 3;
  Harness h(c);
  for (uint16_t i = 0; i < 3; ++i) h.Send(m.Udp(kC, 1000 + i, kSrv, 53), kT0 + i);
  h.Flush();
  ASSERT_EQ(h.records.size(), 3u);
  std::vector<uint64_t> ids;
  for (const SessionRecord& r : h.records) {
    EXPECT_EQ(r.session_id >> 56, 3u);
    EXPECT_EQ(r.worker_id, 3);
    ids.push_back(r.session_id & ((uint64_t{1} << 56) - 1));
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<uint64_t>{1, 2, 3}));
}

TEST(TrackerTable, CountersFollowTheSessions) {
  PacketMaker m;
  Harness h;
  h.Send(m.Udp(kC, 1000, kSrv, 53), kT0);
  h.Send(m.Udp(kSrv, 53, kC, 1000), kT0 + 1);
  h.Send(m.Udp(kC, 1001, kSrv, 53), kT0 + 2);
  const TrackerCounters& k = h.tracker->counters();
  EXPECT_EQ(k.packets, 3u);
  EXPECT_EQ(k.sessions_created, 2u);
  EXPECT_EQ(k.sessions_active, 2u);
  EXPECT_EQ(k.sessions_ended, 0u);
  h.Flush(EndReason::kShutdown);
  EXPECT_EQ(k.sessions_active, 0u);
  EXPECT_EQ(k.sessions_ended, 2u);
  for (const SessionRecord& r : h.records) EXPECT_EQ(r.end_reason, EndReason::kShutdown);
}

TEST(TrackerTable, CreateRefusesBadConfigurationWithAClearMessage) {
  TrackerConfig c = SmallConfig();
  c.capacity = 0;
  auto t = Tracker::Create(c);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(std::string(t.status().message()).find("table size"), std::string::npos);
  c = SmallConfig();
  c.worker_id = 256;
  EXPECT_FALSE(Tracker::Create(c).ok());
  c = SmallConfig();
  c.output_capacity = 0;
  EXPECT_FALSE(Tracker::Create(c).ok());
  c = SmallConfig();
  c.udp_timeout_us = 0;
  t = Tracker::Create(c);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(std::string(t.status().message()).find("UDP timeout"), std::string::npos);
  c = SmallConfig();
  c.active_timeout_us = 0;  // disabled is fine
  EXPECT_TRUE(Tracker::Create(c).ok());
}

// --- Connection states (Zeek's vocabulary) --------------------------------

struct Step {
  bool from_client;
  uint8_t flags;
  uint32_t seq;
  uint32_t ack;
  uint32_t len;
};

ConnState StateOf(const std::vector<Step>& steps) {
  PacketMaker m;
  Harness h;
  uint64_t t = kT0;
  for (const Step& s : steps) {
    h.Send(s.from_client ? m.TcpLen(kC, 40000, kSrv, 80, s.flags, s.seq, s.ack, s.len)
                         : m.TcpLen(kSrv, 80, kC, 40000, s.flags, s.seq, s.ack, s.len),
           t++);
  }
  return h.Only().conn_state;
}

TEST(TrackerConnState, EveryZeekStateFromItsPacketSequence) {
  const Step syn{true, kS, 100, 0, 0}, synack{false, kSA, 500, 101, 0};
  const Step ack{true, kA, 101, 501, 0}, data{true, kPA, 101, 501, 10};
  const Step cfin{true, kFA, 111, 501, 0}, sfin{false, kFA, 501, 112, 0};
  const Step crst{true, kR, 111, 0, 0}, srst{false, kRA, 501, 111, 0};
  EXPECT_EQ(StateOf({syn}), ConnState::kS0);
  EXPECT_EQ(StateOf({syn, {false, kRA, 0, 101, 0}}), ConnState::kREJ);
  EXPECT_EQ(StateOf({syn, synack, ack, data}), ConnState::kS1);
  EXPECT_EQ(StateOf({syn, synack, ack, data, cfin, sfin}), ConnState::kSF);
  EXPECT_EQ(StateOf({syn, synack, ack, data, cfin}), ConnState::kS2);
  EXPECT_EQ(StateOf({syn, synack, ack, data, sfin}), ConnState::kS3);
  EXPECT_EQ(StateOf({syn, synack, ack, data, crst}), ConnState::kRSTO);
  EXPECT_EQ(StateOf({syn, synack, ack, data, srst}), ConnState::kRSTR);
  EXPECT_EQ(StateOf({syn, {true, kR, 101, 0, 0}}), ConnState::kRSTOS0);
  EXPECT_EQ(StateOf({synack, {false, kR, 501, 0, 0}}), ConnState::kRSTRH);
  EXPECT_EQ(StateOf({syn, {true, kF, 101, 0, 0}}), ConnState::kSH);
  EXPECT_EQ(StateOf({synack, {false, kFA, 501, 101, 0}}), ConnState::kSHR);
  EXPECT_EQ(StateOf({ack, {false, kA, 501, 101, 0}}), ConnState::kOTH);
  // A SYN-scan hit: SYN, SYN-ACK, the client's kernel resets.
  EXPECT_EQ(StateOf({syn, synack, {true, kR, 101, 0, 0}}), ConnState::kRSTO);
}

TEST(TrackerConnState, UdpStatesFollowWhoSpoke) {
  PacketMaker m;
  Harness h;
  h.Send(m.Udp(kC, 41000, kSrv, 53), kT0);  // both
  h.Send(m.Udp(kSrv, 53, kC, 41000), kT0 + 1);
  h.Send(m.Udp(kC, 41001, kSrv, 53), kT0 + 2);  // client only
  h.Send(m.Udp(kSrv, 53, kC, 41002), kT0 + 3);  // server only (port says so)
  h.Flush();
  ASSERT_EQ(h.records.size(), 3u);
  std::map<uint16_t, ConnState> by_port;
  for (const SessionRecord& r : h.records) by_port[r.client_port] = r.conn_state;
  EXPECT_EQ(by_port[41000], ConnState::kSF);
  EXPECT_EQ(by_port[41001], ConnState::kS0);
  EXPECT_EQ(by_port[41002], ConnState::kSHR);
}

// --- ICMP ------------------------------------------------------------------

TEST(TrackerIcmp, EchoRequestAndReplyOfOneIdentifierAreOneSession) {
  PacketMaker m;
  Harness h;
  h.Send(m.Icmp(kC, kSrv, 8, 0, 77), kT0);
  h.Send(m.Icmp(kSrv, kC, 0, 0, 77), kT0 + 1);
  h.Send(m.Icmp(kC, kSrv, 8, 0, 78), kT0 + 2);  // another identifier
  h.Flush();
  ASSERT_EQ(h.records.size(), 2u);
  const SessionRecord& r = h.records[0].icmp_id == 77 ? h.records[0] : h.records[1];
  EXPECT_EQ(r.client_ip, Ip(kC));
  EXPECT_EQ(r.client_port, 8);  // type of the client's first message
  EXPECT_EQ(r.server_port, 0);  // its code
  EXPECT_EQ(r.client_packets, 1u);
  EXPECT_EQ(r.server_packets, 1u);
  EXPECT_EQ(r.confidence, Confidence::kHigh);
  EXPECT_EQ(r.conn_state, ConnState::kOTH);
}

TEST(TrackerIcmp, ReplySeenFirstStillMakesTheRequesterTheClient) {
  PacketMaker m;
  Harness h;
  h.Send(m.Icmp("2001:db8::2", "2001:db8::1", 129, 0, 5), kT0);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_ip, Ip("2001:db8::1"));
  EXPECT_EQ(r.confidence, Confidence::kMedium);
  EXPECT_EQ(r.client_port, 128);
  EXPECT_EQ(r.ip_version, 6);
  EXPECT_EQ(r.protocol, packet::kProtoIcmpV6);
}

// --- Transient servers (FTP) ----------------------------------------------

// An FTP control session both ends took part in (kC:50003 -> kSrv:21): the
// handshake and the server's greeting. Sequence numbers: the client's next
// is 1, the server's 1011 (after the greeting).
void ControlSession(Harness& h, PacketMaker& m, uint64_t t) {
  h.Send(m.Tcp(kC, 50003, kSrv, 21, kS, 0), t);
  h.Send(m.Tcp(kSrv, 21, kC, 50003, kSA, 999, 1), t + 1);
  h.Send(m.Tcp(kC, 50003, kSrv, 21, kA, 1, 1000), t + 2);
  h.Send(m.Tcp(kSrv, 21, kC, 50003, kPA, 1000, 1, "220 ready\r\n"), t + 3);
}

TEST(TrackerTransient, ActiveModePortAnnouncesAServerOnTheClientSide) {
  PacketMaker m;
  Harness h;
  ControlSession(h, m, kT0);
  h.Send(m.Tcp(kC, 50003, kSrv, 21, kPA, 1, 1011, "PORT 10,0,0,1,131,46\r\n"), kT0 + 10);
  // The FTP server connects back to 10.0.0.1:33582 (131*256+46).
  h.Send(m.Tcp(kSrv, 20, kC, 33582, kS, 1000), kT0 + 11);
  h.Send(m.Tcp(kC, 33582, kSrv, 20, kSA, 2000, 1001), kT0 + 12);
  h.Flush();
  ASSERT_EQ(h.records.size(), 2u);
  for (const SessionRecord& r : h.records) {
    if (r.server_port == 21) {
      EXPECT_FALSE(r.transient_server);
    } else {
      EXPECT_TRUE(r.transient_server);
      EXPECT_EQ(r.server_ip, Ip(kC));
      EXPECT_EQ(r.server_port, 33582);
    }
  }
  EXPECT_EQ(h.tracker->counters().ftp_announcements_ignored, 0u);
}

TEST(TrackerTransient, PassiveModeRepliesAnnounceAServerOnTheServerSide) {
  PacketMaker m;
  Harness h;
  ControlSession(h, m, kT0);
  h.Send(m.Tcp(kSrv, 21, kC, 50003, kPA, 1011, 1,
               "227 Entering Passive Mode (192,0,2,10,221,90).\r\n"),
         kT0 + 10);
  h.Send(
      m.Tcp(kSrv, 21, kC, 50003, kPA, 1070, 1, "229 Entering Extended Passive Mode (|||6446|)\r\n"),
      kT0 + 11);
  h.Send(m.Tcp(kC, 37604, kSrv, 56666, kS, 1), kT0 + 12);  // 221*256+90
  h.Send(m.Tcp(kC, 37605, kSrv, 6446, kS, 1), kT0 + 13);
  h.Send(m.Tcp(kC, 37606, kSrv, 6447, kS, 1), kT0 + 14);  // not announced
  h.Flush();
  ASSERT_EQ(h.records.size(), 4u);
  for (const SessionRecord& r : h.records) {
    const bool announced = r.server_port == 56666 || r.server_port == 6446;
    EXPECT_EQ(r.transient_server, announced) << r.server_port;
  }
}

// One forged segment (review): a scanner announces its target on a control
// session nobody answered, then probes it; or a real control session names
// a third host. No such announcement is taken: the probe is a first contact
// and no session to the target is transient.
TEST(TrackerTransient, AnnouncementsOfOtherHostsOrOneSidedSessionsAreIgnored) {
  PacketMaker m;
  Harness h;
  constexpr char kScanner[] = "6.6.6.6";
  constexpr char kTarget[] = "10.0.0.5";
  h.Send(m.Tcp(kScanner, 40000, "198.51.100.1", 21, kPA, 1, 1, "PORT 10,0,0,5,1,187\r\n"), kT0);
  ControlSession(h, m, kT0 + 10);
  // The real client (kC) names the target, not itself; so does the server.
  h.Send(m.Tcp(kC, 50003, kSrv, 21, kPA, 1, 1011, "EPRT |1|10.0.0.5|443|\r\n"), kT0 + 20);
  h.Send(
      m.Tcp(kSrv, 21, kC, 50003, kPA, 1011, 1, "227 Entering Passive Mode (10,0,0,5,1,187).\r\n"),
      kT0 + 21);
  h.Send(m.Tcp(kScanner, 40001, kTarget, 443, kS, 1), kT0 + 30);
  h.Send(m.Tcp(kTarget, 443, kScanner, 40001, kRA, 0, 2), kT0 + 31);
  h.Flush();
  EXPECT_EQ(h.tracker->counters().ftp_announcements_ignored, 3u);
  EXPECT_EQ(h.tracker->counters().contacts_reject, 1u);  // the probe walks
  for (const SessionRecord& r : h.records) EXPECT_FALSE(r.transient_server) << r.server_port;
}

TEST(TrackerTransient, AnnouncementsExpire) {
  PacketMaker m;
  Harness h;
  ControlSession(h, m, kT0);
  h.Send(m.Tcp(kC, 50003, kSrv, 21, kPA, 1, 1011, "EPRT |1|10.0.0.1|6000|\r\n"), kT0 + 10);
  h.Send(m.Tcp(kSrv, 20, kC, 6000, kS, 1), kT0 + 3600 * kSec);
  h.Flush();
  EXPECT_EQ(h.tracker->counters().ftp_announcements_ignored, 0u);  // taken, then expired
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_FALSE(h.records[0].transient_server);
  EXPECT_FALSE(h.records[1].transient_server);
}

// --- Inbound and full analysis --------------------------------------------

TrackerConfig ProtectedConfig(FullAnalysisPolicy policy) {
  TrackerConfig c = SmallConfig();
  auto nets = Networks::Parse("192.0.2.0/24,2001:db8:1::/48");
  EXPECT_TRUE(nets.ok());
  c.protected_networks = *nets;
  c.full_analysis = policy;
  return c;
}

TEST(TrackerInbound, ClientOutsideServerInsideIsInbound) {
  PacketMaker m;
  Harness h(ProtectedConfig(FullAnalysisPolicy::kAll));
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 1), kT0);                         // in
  h.Send(m.Tcp(kSrv, 40000, kC, 80, kS, 1), kT0);                         // out
  h.Send(m.Tcp("192.0.2.5", 40000, kSrv, 80, kS, 1), kT0);                // internal
  h.Send(m.Tcp("2001:db9::1", 40000, "2001:db8:1::5", 443, kS, 1), kT0);  // in, v6
  h.Flush();
  ASSERT_EQ(h.records.size(), 4u);
  int inbound = 0;
  for (const SessionRecord& r : h.records) {
    const bool expect = (r.client_ip == Ip(kC)) || r.ip_version == 6;
    EXPECT_EQ(r.inbound, expect);
    inbound += r.inbound;
  }
  EXPECT_EQ(inbound, 2);
}

TEST(TrackerInbound, FullAnalysisPolicyDecidesWhichSessionsGetFingerprints) {
  for (FullAnalysisPolicy policy :
       {FullAnalysisPolicy::kAll, FullAnalysisPolicy::kInboundOnly, FullAnalysisPolicy::kNone}) {
    PacketMaker m;
    Harness h(ProtectedConfig(policy));
    h.Send(m.Tcp(kC, 40000, kSrv, 80, kPA, 1, 1, "GET / HTTP/1.0\r\n\r\n"), kT0);  // inbound
    h.Send(m.Tcp(kSrv, 40000, kC, 80, kPA, 1, 1, "GET / HTTP/1.0\r\n\r\n"), kT0);  // outbound
    h.Flush();
    ASSERT_EQ(h.records.size(), 2u);
    for (const SessionRecord& r : h.records) {
      const bool expect = policy == FullAnalysisPolicy::kAll ||
                          (policy == FullAnalysisPolicy::kInboundOnly && r.inbound);
      EXPECT_EQ(r.full_analysis, expect);
      EXPECT_EQ(r.client_fingerprint != 0, expect);
      EXPECT_EQ(r.client_simhash != 0, expect);
      EXPECT_EQ(r.client_first_data_len, 18);
      EXPECT_EQ(r.server_fingerprint, 0u);  // the server sent nothing
    }
  }
}

// --- Fingerprints, fragments, link-layer fields -----------------------------

TEST(TrackerFingerprint, FirstDataInSequenceOrderIsFingerprinted) {
  PacketMaker m;
  Harness h;
  const std::string first = "USER anonymous\r\n", second = "PASS secret\r\n";
  h.Send(m.Tcp(kC, 40000, kSrv, 21, kS, 100), kT0);
  h.Send(m.Tcp(kC, 40000, kSrv, 21, kPA, 101 + first.size(), 1, second), kT0 + 1);  // reordered
  h.Send(m.Tcp(kC, 40000, kSrv, 21, kPA, 101, 1, first), kT0 + 2);
  const SessionRecord r = h.Only();
  const auto* p = reinterpret_cast<const uint8_t*>(first.data());
  EXPECT_EQ(r.client_fingerprint, ScalarFingerprint(p, first.size(), first.size()));
  EXPECT_EQ(r.client_simhash, SimHash64(p, first.size()));
  EXPECT_EQ(r.client_first_data_len, first.size());
}

// The fingerprinted segment's offset above the lowest start is kept in the
// hot part: a reordered earlier segment still takes the fingerprint when that
// offset is small, and when a late SYN moved the lowest start below it.
TEST(TrackerFingerprint, FirstDataInSequenceOrderAlsoAfterALateSyn) {
  const std::string first = "HELO", second = "MAIL FROM";
  const auto* p = reinterpret_cast<const uint8_t*>(first.data());
  for (const bool late_syn : {false, true}) {
    PacketMaker m;
    Harness h;
    if (!late_syn) h.Send(m.Tcp(kC, 40000, kSrv, 25, kS, 100), kT0);
    h.Send(m.Tcp(kC, 40000, kSrv, 25, kPA, 101 + first.size(), 1, second), kT0 + 1);
    h.Send(m.Tcp(kC, 40000, kSrv, 25, kPA, 101 + first.size(), 1, second), kT0 + 2);  // resent
    if (late_syn) h.Send(m.Tcp(kC, 40000, kSrv, 25, kS, 100), kT0 + 3);
    h.Send(m.Tcp(kC, 40000, kSrv, 25, kPA, 101, 1, first), kT0 + 4);
    const SessionRecord r = h.Only();
    EXPECT_EQ(r.client_fingerprint, ScalarFingerprint(p, first.size(), first.size())) << late_syn;
    EXPECT_EQ(r.client_first_data_len, first.size()) << late_syn;
    EXPECT_EQ(r.client_bytes, first.size() + second.size()) << late_syn;
  }
}

// The first data segment lay beyond the plausible window (not counted): a
// later in-order segment before it still takes the fingerprint, though it
// starts at the highest end seen.
TEST(TrackerFingerprint, AnUncountedFirstDataSegmentYieldsToOneBeforeIt) {
  PacketMaker m;
  Harness h;
  const std::string far = "far ahead", first = "USER anonymous\r\n";
  h.Send(m.Tcp(kC, 40000, kSrv, 21, kS, 100), kT0);
  h.Send(m.Tcp(kC, 40000, kSrv, 21, kPA, 101 + (20u << 20), 1, far), kT0 + 1);  // > 16 MiB
  h.Send(m.Tcp(kC, 40000, kSrv, 21, kPA, 101, 1, first), kT0 + 2);
  const SessionRecord r = h.Only();
  const auto* p = reinterpret_cast<const uint8_t*>(first.data());
  EXPECT_EQ(r.client_fingerprint, ScalarFingerprint(p, first.size(), first.size()));
  EXPECT_EQ(r.client_first_data_len, first.size());
  EXPECT_EQ(r.client_bytes, first.size());
}

TEST(TrackerFingerprint, SnapLengthLimitsTheBytesUsedNotTheLength) {
  PacketMaker m;
  Harness h;
  packet::ParsedPacket p = m.Udp(kC, 40000, kSrv, 53, "abcdefgh");
  p.payload_len = 1400;  // the rest was cut by the snap length
  h.Send(p, kT0);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_first_data_len, 1400);
  EXPECT_EQ(r.client_payload_bytes, 1400u);
  EXPECT_EQ(r.client_fingerprint, ScalarFingerprint(p.payload, 8, 1400));
}

TEST(TrackerPacketFields, FirstFragmentsAreCountedAndAttributed) {
  PacketMaker m;
  Harness h;
  packet::ParsedPacket p = m.Udp(kC, 40000, kSrv, 53);
  p.first_fragment = true;
  h.Send(p, kT0);
  h.Send(p, kT0 + 1);
  h.Send(m.Udp(kC, 40000, kSrv, 53), kT0 + 2);
  EXPECT_EQ(h.tracker->counters().fragments, 2u);
  EXPECT_EQ(h.Only().fragments, 2u);
}

TEST(TrackerPacketFields, LaterFragmentsAreAttributedToTheSessionOfTheirFirstFragment) {
  PacketMaker m;
  Harness h;
  packet::ParsedPacket first = m.Udp(kSrv, 53, kC, 40000, std::string(1472, 'a'));
  first.first_fragment = true;
  first.fragment_id = 4242;
  packet::ParsedPacket later;  // what ParseFrame sets with kNonFirstFragment
  later.src = first.src;
  later.dst = first.dst;
  later.ip_version = 4;
  later.protocol = packet::kProtoUdp;
  later.fragment_id = 4242;
  later.fragment_offset = 1480;  // after the first fragment's UDP header + 1472 bytes
  later.more_fragments = true;
  later.payload_len = 1480;
  packet::ParsedPacket last = later;
  last.fragment_offset = 2960;
  last.more_fragments = false;
  h.Send(m.Udp(kC, 40000, kSrv, 53, "query"), kT0);
  h.Send(first, kT0 + 1);
  h.tracker->ProcessFragment(later, kT0 + 2);
  h.tracker->ProcessFragment(last, kT0 + 3);
  packet::ParsedPacket stray = later;
  stray.fragment_id = 4243;  // its first fragment was never seen
  h.tracker->ProcessFragment(stray, kT0 + 4);
  EXPECT_EQ(h.tracker->counters().later_fragments, 3u);
  EXPECT_EQ(h.tracker->counters().later_fragments_unattributed, 1u);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.fragments, 3u);
  EXPECT_EQ(r.server_packets, 3u);
  EXPECT_EQ(r.server_payload_bytes, 1472u + 2 * 1480u);
  EXPECT_EQ(r.last_time_us, kT0 + 3);
}

TEST(TrackerPacketFields, LaterFragmentOfAnEndedSessionIsOnlyCounted) {
  PacketMaker m;
  TrackerConfig c = SmallConfig();
  c.capacity = 1;  // the next session evicts the first and takes its entry
  Harness h(c);
  packet::ParsedPacket first = m.Udp(kC, 40000, kSrv, 53, "x");
  first.first_fragment = true;
  first.fragment_id = 7;
  h.Send(first, kT0);
  packet::ParsedPacket later;
  later.src = first.src;
  later.dst = first.dst;
  later.ip_version = 4;
  later.protocol = packet::kProtoUdp;
  later.fragment_id = 7;
  later.payload_len = 100;
  h.Send(m.Udp("10.7.7.7", 1, "10.8.8.8", 2), kT0 + 1);
  h.tracker->ProcessFragment(later, kT0 + 2);
  EXPECT_EQ(h.tracker->counters().later_fragments_unattributed, 1u);
  h.Flush();
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[1].client_packets, 1u);  // the new session got nothing
}

TEST(TrackerPacketFields, VlanPortProtocolAndVersionComeFromTheFirstPacket) {
  PacketMaker m;
  Harness h;
  packet::ParsedPacket p = m.Tcp("2001:db8::1", 40000, "2001:db8::2", 443, kS, 1);
  p.vlan_count = 2;
  p.vlan_outer = 100;
  p.vlan_inner = 200;
  h.Send(p, kT0, 3);
  // The reply on the same VLANs (the VLAN ids are part of the session key).
  packet::ParsedPacket reply = m.Tcp("2001:db8::2", 443, "2001:db8::1", 40000, kSA, 9, 2);
  reply.vlan_count = 2;
  reply.vlan_outer = 100;
  reply.vlan_inner = 200;
  h.Send(reply, kT0 + 5, 1);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.vlan_count, 2);
  EXPECT_EQ(r.vlan_outer, 100);
  EXPECT_EQ(r.vlan_inner, 200);
  EXPECT_EQ(r.input_port, 3);
  EXPECT_EQ(r.protocol, packet::kProtoTcp);
  EXPECT_EQ(r.ip_version, 6);
  EXPECT_EQ(r.first_time_us, kT0);
  EXPECT_EQ(r.last_time_us, kT0 + 5);
}

TEST(TrackerPacketFields, FirstDataSenderAndShutdownInitiator) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 22, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 22, kC, 40000, kSA, 500, 101), kT0 + 1);
  h.Send(m.Tcp(kC, 40000, kSrv, 22, kA, 101, 501), kT0 + 2);
  h.Send(m.Tcp(kSrv, 22, kC, 40000, kPA, 501, 101, "SSH-2.0-x\r\n"), kT0 + 3);
  h.Send(m.Tcp(kSrv, 22, kC, 40000, kRA, 512, 101), kT0 + 4);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.first_data_sender, Side::kServer);
  EXPECT_EQ(r.shutdown_initiator, Side::kServer);
  EXPECT_EQ(r.shutdown_kind, ShutdownKind::kRst);
  EXPECT_EQ(r.server_flags, kSA | testing::kP | kR);
}

TEST(TrackerPacketFields, NoDataMeansNoneAndZeroFingerprints) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.first_data_sender, Side::kNone);
  EXPECT_EQ(r.shutdown_initiator, Side::kNone);
  EXPECT_EQ(r.client_fingerprint, 0u);
  EXPECT_EQ(r.client_simhash, 0u);
  EXPECT_EQ(r.server_first_flags, 0);
  EXPECT_EQ(r.server_packets, 0u);
}

}  // namespace
}  // namespace flowtrail::session

namespace flowtrail::session {
namespace {

// Burst processing must be indistinguishable from packet-at-a-time, including
// when the burst itself creates, replaces and evicts sessions.
TEST(TrackerBurst, ProcessBurstGivesTheSameRecordsAsProcess) {
  std::mt19937 rng(99);
  testing::PacketMaker m;
  std::vector<packet::ParsedPacket> pkts;
  std::vector<uint64_t> times;
  const char* hosts[] = {"10.0.0.1", "10.0.0.2", "192.0.2.10", "192.0.2.11"};
  const uint8_t flags[] = {kS, kSA, kA, kPA, kFA, kRA};
  uint64_t t = kT0;
  for (int i = 0; i < 3000; ++i) {
    const char* a = hosts[rng() % 4];
    const char* b = hosts[rng() % 4];
    const uint16_t pa = static_cast<uint16_t>(1000 + rng() % 6);
    const uint16_t pb = static_cast<uint16_t>(1000 + rng() % 6);
    if (rng() % 4 == 0) {
      pkts.push_back(m.Udp(a, pa, b, pb, "payload"));
    } else {
      pkts.push_back(m.Tcp(a, pa, b, pb, flags[rng() % 6], rng() % 5000, rng() % 5000,
                           rng() % 2 ? "data" : ""));
    }
    t += rng() % 3'000'000;
    times.push_back(t);
  }
  TrackerConfig c = SmallConfig();
  c.capacity = 16;  // eviction inside bursts
  c.output_capacity = 4096;
  c.tcp_linger_us = 1'000'000;
  Harness one(c), burst(c);
  for (size_t i = 0; i < pkts.size(); ++i) one.tracker->Process(pkts[i], times[i], 2);
  for (size_t i = 0; i < pkts.size(); i += 37) {
    const size_t n = std::min<size_t>(37, pkts.size() - i);
    burst.tracker->ProcessBurst(std::span(pkts).subspan(i, n), std::span(times).subspan(i, n), 2);
  }
  one.Flush();
  burst.Flush();
  ASSERT_EQ(one.records.size(), burst.records.size());
  ASSERT_GT(one.records.size(), 100u);
  for (size_t i = 0; i < one.records.size(); ++i) {
    ASSERT_EQ(std::memcmp(&one.records[i], &burst.records[i], sizeof(SessionRecord)), 0) << i;
  }
  EXPECT_EQ(one.tracker->counters().packets, burst.tracker->counters().packets);
  EXPECT_GT(one.tracker->counters().sessions_evicted, 0u);
}

}  // namespace
}  // namespace flowtrail::session
