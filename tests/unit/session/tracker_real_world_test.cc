// Tracker behaviour on what real captures do (issue 6): clock glitches and
// exactly-once emission, expiry in batches, capture times as written, other IP
// protocols, implausible sequence numbers, port reuse after a half-close,
// VLANs in the key, overlapping fragments.
#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "packet_helpers.h"
#include "session/capture_clock.h"
#include "session/tracker.h"

namespace flowtrail::session {
namespace {

using testing::Harness;
using testing::Ip;
using testing::kA;
using testing::kF;
using testing::kFA;
using testing::kPA;
using testing::kS;
using testing::kSA;
using testing::PacketMaker;
using testing::SmallConfig;

constexpr char kC[] = "10.0.0.1";
constexpr char kSrv[] = "192.0.2.10";
constexpr uint64_t kSec = 1'000'000;
constexpr uint64_t kT0 = 1'700'000'000 * kSec;

// Drives a tracker the way a capture-mode worker does: a CaptureClock over
// the input, Advance(clock) before each burst, ProcessBurst, Drain, and at
// the end Advance(clock) until nothing is pending, then FlushSome.
struct WorkerLike {
  explicit WorkerLike(const TrackerConfig& c = SmallConfig(), size_t burst = 8,
                      size_t advance_budget = SIZE_MAX)
      : h(c), burst(burst), budget(advance_budget) {}

  void Run(const std::vector<packet::ParsedPacket>& pkts, const std::vector<uint64_t>& capture) {
    for (size_t base = 0; base < pkts.size(); base += burst) {
      const size_t n = std::min(burst, pkts.size() - base);
      std::vector<PacketTime> times(n);
      for (size_t i = 0; i < n; ++i) {
        const size_t k = base + i;
        times[i] =
            PacketTime{capture[k], clock.Observe(capture[k], k + 1 < capture.size()
                                                                 ? std::optional(capture[k + 1])
                                                                 : std::nullopt)};
      }
      AdvanceAll(times[0].clock_us);
      h.tracker->ProcessBurst(std::span(pkts).subspan(base, n), times, 0);
      given += n;
      h.Collect();
      AdvanceAll(clock.now());
    }
    AdvanceAll(clock.now());
    while (!h.tracker->FlushSome(EndReason::kEndOfInput, clock.now())) h.Collect();
    h.Collect();
  }
  void AdvanceAll(uint64_t t) {
    while (!h.tracker->Advance(t, budget)) h.Collect();
    h.Collect();
  }
  // Every session id in exactly one final record; packets conserved.
  void ExpectExactlyOnce() {
    std::map<uint64_t, int> finals;
    uint64_t packets = 0;
    for (const SessionRecord& r : h.records) {
      if (r.continuing) continue;
      ++finals[r.session_id];
      packets += r.client_packets + r.server_packets;
    }
    for (const auto& [id, n] : finals) EXPECT_EQ(n, 1) << "session " << id;
    EXPECT_EQ(packets, given);
    EXPECT_EQ(h.tracker->counters().records_dropped, 0u);
  }

  Harness h;
  CaptureClock clock;
  size_t burst;
  size_t budget;
  uint64_t given = 0;
};

// One short connection: handshake, data both ways, FIN both ways.
void AddConnection(PacketMaker& m, uint16_t cport, uint64_t t, std::vector<packet::ParsedPacket>* p,
                   std::vector<uint64_t>* ts) {
  const uint32_t c = 1000u * cport, s = 5000u * cport;
  p->push_back(m.Tcp(kC, cport, kSrv, 80, kS, c));
  p->push_back(m.Tcp(kSrv, 80, kC, cport, kSA, s, c + 1));
  p->push_back(m.Tcp(kC, cport, kSrv, 80, kPA, c + 1, s + 1, "GET /"));
  p->push_back(m.Tcp(kSrv, 80, kC, cport, kPA, s + 1, c + 6, "200 OK"));
  p->push_back(m.Tcp(kC, cport, kSrv, 80, kFA, c + 6, s + 7));
  p->push_back(m.Tcp(kSrv, 80, kC, cport, kFA, s + 7, c + 7));
  p->push_back(m.Tcp(kC, cport, kSrv, 80, kA, c + 7, s + 8));
  for (int i = 0; i < 7; ++i) ts->push_back(t + i * 1000);
}

// --- Capture clock and exactly-once -----------------------------------

// The observed failure: a merged capture holds each connection twice, the
// copy 1 s later (within the 2 s linger, so one session by the same-ISN
// rule), and one frame is stamped 45 s ahead. Driven by capture time, the
// outlier expired every closed session and the copies came back as second
// sessions at end of input. With the clock, one record per connection.
TEST(TrackerClock, OneFrameFarAheadDoesNotMakeSessionsAppearTwice) {
  PacketMaker m;
  std::vector<packet::ParsedPacket> pkts;
  std::vector<uint64_t> ts;
  for (uint16_t i = 0; i < 40; ++i) {
    const uint64_t t = kT0 + i * 3 * kSec;
    AddConnection(m, static_cast<uint16_t>(40000 + i), t, &pkts, &ts);
    if (i == 20) {
      pkts.push_back(m.Udp("10.9.9.9", 5000, "10.9.9.8", 53));
      ts.push_back(t + 45 * kSec);
    }
    AddConnection(m, static_cast<uint16_t>(40000 + i), t + kSec, &pkts, &ts);  // the copy
  }
  WorkerLike w;
  w.Run(pkts, ts);
  w.ExpectExactlyOnce();
  EXPECT_EQ(w.h.records.size(), 41u);  // 40 connections + the outlier's flow
  EXPECT_EQ(w.clock.counters().outliers, 1u);
  for (const SessionRecord& r : w.h.records) {
    if (r.protocol == packet::kProtoTcp) {
      EXPECT_EQ(r.client_packets + r.server_packets, 14u);
    }
  }
}

TEST(TrackerClock, OnePacketAnHourAheadDoesNotSplitLiveSessions) {
  PacketMaker m;
  std::vector<packet::ParsedPacket> pkts;
  std::vector<uint64_t> ts;
  for (int i = 0; i < 200; ++i) {
    const uint16_t port = static_cast<uint16_t>(50000 + i % 20);
    pkts.push_back(m.Udp(kC, port, kSrv, 53, "q"));
    ts.push_back(kT0 + i * 100'000);
    if (i == 100) {
      pkts.push_back(m.Udp(kC, 50000, kSrv, 53, "q"));
      ts.push_back(kT0 + 3600 * kSec);
    }
  }
  WorkerLike w;
  w.Run(pkts, ts);
  w.ExpectExactlyOnce();
  EXPECT_EQ(w.h.records.size(), 20u);
  // The outlier's own capture time is still what its session reports.
  const auto it = std::find_if(w.h.records.begin(), w.h.records.end(),
                               [](const SessionRecord& r) { return r.client_port == 50000; });
  ASSERT_NE(it, w.h.records.end());
  EXPECT_EQ(it->last_time_us, kT0 + 3600 * kSec);
}

TEST(TrackerClock, IdleExpiryFollowsTheClockNotTheCaptureTime) {
  PacketMaker m;
  TrackerConfig c = SmallConfig();
  c.udp_timeout_us = 10 * kSec;
  Harness h(c);
  // Capture time runs backwards by a minute, the clock forwards by 20 s: the
  // second packet is after the timeout, a new session.
  h.tracker->Process(m.Udp(kC, 5000, kSrv, 53), PacketTime{kT0 + 60 * kSec, kT0}, 0);
  h.tracker->Process(m.Udp(kC, 5000, kSrv, 53), PacketTime{kT0, kT0 + 20 * kSec}, 0);
  // Capture time jumps ahead, the clock barely moves: the same session.
  h.tracker->Process(m.Udp(kC, 5000, kSrv, 53), PacketTime{kT0 + 3600 * kSec, kT0 + 21 * kSec}, 0);
  h.Flush();
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[0].end_reason, EndReason::kIdleTimeout);
  EXPECT_EQ(h.records[0].first_time_us, kT0 + 60 * kSec);
  EXPECT_EQ(h.records[1].client_packets, 2u);
  EXPECT_EQ(h.records[1].first_time_us, kT0);
  EXPECT_EQ(h.records[1].last_time_us, kT0 + 3600 * kSec);
}

// A session due by the flush clock but not yet fired (the wheel is up to a
// tick late) ends with its own reason, not as end of input.
TEST(TrackerClock, FlushGivesDueSessionsTheirExpiryReason) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kFA, 1, 1), kT0);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kFA, 1, 2), kT0 + 1);
  h.Send(m.Udp(kC, 5000, kSrv, 53), kT0 + 2);
  h.Flush(EndReason::kEndOfInput, kT0 + 3 * kSec);  // past the 2 s linger
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[0].end_reason, EndReason::kClosed);
  EXPECT_EQ(h.records[1].end_reason, EndReason::kEndOfInput);
}

// The property: whatever the timestamps do (backwards, lone outliers, real
// jumps, gaps longer than every timeout), each session leaves exactly one
// final record and every packet is in one.
TEST(TrackerClock, EverySessionIsEmittedExactlyOnceWhateverTheTimestamps) {
  const char* hosts[] = {"10.0.0.1", "10.0.0.2", "192.0.2.10"};
  const uint8_t flags[] = {kS, kSA, kA, kPA, kFA, testing::kRA};
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    std::mt19937_64 rng(seed);
    PacketMaker m;
    std::vector<packet::ParsedPacket> pkts;
    std::vector<uint64_t> ts;
    uint64_t t = kT0;
    for (int i = 0; i < 1500; ++i) {
      const int kind = static_cast<int>(rng() % 100);
      uint64_t x;
      if (kind < 80) {
        t += rng() % 500'000;
        x = t;
      } else if (kind < 88) {
        x = t - std::min<uint64_t>(t, rng() % (120 * kSec));  // backwards
      } else if (kind < 93) {
        x = t + 11 * kSec + rng() % (7200 * kSec);  // lone outlier ahead
      } else if (kind < 97) {
        t += 11 * kSec + rng() % (400 * kSec);  // a real gap
        x = t;
      } else {
        x = rng() % 2 ? 0 : t;  // zero timestamps
      }
      const char* a = hosts[rng() % 3];
      const char* b = hosts[rng() % 3];
      const uint16_t pa = static_cast<uint16_t>(1000 + rng() % 3);
      const uint16_t pb = static_cast<uint16_t>(1000 + rng() % 3);
      switch (rng() % 6) {
        case 0:
          pkts.push_back(m.Udp(a, pa, b, pb, "u"));
          break;
        case 1: {
          packet::ParsedPacket g = m.Udp(a, 0, b, 0, "gre");
          g.protocol = 47;
          pkts.push_back(g);
          break;
        }
        default:
          pkts.push_back(m.Tcp(a, pa, b, pb, flags[rng() % 6], static_cast<uint32_t>(rng() % 4000),
                               static_cast<uint32_t>(rng() % 4000), rng() % 2 ? "data" : ""));
      }
      ts.push_back(x);
    }
    TrackerConfig c = SmallConfig();
    c.capacity = 8 + seed % 16;  // eviction too
    c.output_capacity = 4096;
    c.tcp_linger_us = 500'000;
    c.tcp_syn_timeout_us = 5 * kSec;
    c.udp_timeout_us = 8 * kSec;
    c.other_timeout_us = 9 * kSec;
    c.active_timeout_us = seed % 2 ? 20 * kSec : 0;
    WorkerLike w(c, 1 + seed % 32, 1 + seed % 5);
    w.Run(pkts, ts);
    SCOPED_TRACE(seed);
    w.ExpectExactlyOnce();
    const TrackerCounters& k = w.h.tracker->counters();
    EXPECT_EQ(k.sessions_created, k.sessions_ended);
  }
}

// --- Expiry in batches --------------------------------------------------

TEST(TrackerBatches, ThousandsOfHalfOpenSessionsExpireInBatchesExactlyOnce) {
  PacketMaker m;
  TrackerConfig c = SmallConfig();
  c.capacity = 8192;
  c.output_capacity = 8192;
  Harness h(c);
  constexpr int kScan = 5000;
  for (int i = 0; i < kScan; ++i) {
    h.tracker->Process(m.Tcp(kC, static_cast<uint16_t>(10000 + i), kSrv, 22, kS, i), kT0 + i, 0);
  }
  const uint64_t later = kT0 + 31 * kSec;  // past every SYN timeout, one tick
  std::map<uint64_t, int> seen;
  int calls = 0;
  bool done = false;
  while (!done) {
    done = h.tracker->Advance(later, 64);
    SessionRecord buf[128];
    const size_t n = h.tracker->Drain(buf);
    EXPECT_LE(n, 64u);
    if (!done) {
      EXPECT_EQ(n, 64u);
    }
    for (size_t i = 0; i < n; ++i) ++seen[buf[i].session_id];
    ASSERT_LT(++calls, 1000);
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kScan));
  for (const auto& [id, n] : seen) EXPECT_EQ(n, 1);
  EXPECT_EQ(h.tracker->counters().sessions_active, 0u);
  EXPECT_EQ(h.tracker->counters().records_dropped, 0u);
  EXPECT_TRUE(h.tracker->Advance(later, 64));  // nothing left
  EXPECT_GE(calls, kScan / 64);
}

TEST(TrackerBatches, ZeroBudgetExpiresNothingAndReportsPending) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 22, kS, 1), kT0);
  EXPECT_FALSE(h.tracker->Advance(kT0 + 60 * kSec, 0));
  EXPECT_EQ(h.tracker->PendingOutput(), 0u);
  EXPECT_TRUE(h.tracker->Advance(kT0 + 60 * kSec, 1));
  EXPECT_EQ(h.tracker->PendingOutput(), 1u);
}

// --- Capture times as written -------------------------------------------

TEST(TrackerTimes, ZeroAndPastTwoToThe31SecondsAreCarriedAsWritten) {
  PacketMaker m;
  Harness h;
  h.Send(m.Udp(kC, 5000, kSrv, 53), 0);
  h.Send(m.Udp(kSrv, 53, kC, 5000), 7);
  const uint64_t late = (uint64_t{1} << 31) * kSec + 5;              // 2038 and after
  const uint64_t last = ((uint64_t{1} << 32) - 1) * kSec + 999'999;  // pcap's last instant
  h.Send(m.Udp(kC, 6000, kSrv, 53), late);
  h.Send(m.Udp(kC, 7000, kSrv, 53), last);
  h.Flush();
  ASSERT_EQ(h.records.size(), 3u);
  EXPECT_EQ(h.records[0].first_time_us, 0u);
  EXPECT_EQ(h.records[0].last_time_us, 7u);
  EXPECT_EQ(h.records[1].first_time_us, late);
  EXPECT_EQ(h.records[2].first_time_us, last);
  EXPECT_EQ(h.records[2].last_time_us, last);
}

// --- Other IP protocols -------------------------------------------------

packet::ParsedPacket Other(PacketMaker& m, const char* src, const char* dst, uint8_t proto,
                           std::string_view payload) {
  packet::ParsedPacket p = m.Udp(src, 0, dst, 0, payload);
  p.protocol = proto;
  return p;
}

TEST(TrackerOtherProtocols, GreIsOneFlowPerAddressPairWithBothSidesCounted) {
  PacketMaker m;
  Harness h;
  h.Send(Other(m, kC, kSrv, 47, "0123456789"), kT0);
  h.Send(Other(m, kSrv, kC, 47, "abc"), kT0 + 10);
  h.Send(Other(m, kC, kSrv, 47, "xy"), kT0 + 20);
  h.Send(Other(m, kC, kSrv, 50, "esp"), kT0 + 30);        // ESP: another flow
  h.Send(Other(m, kC, "192.0.2.99", 47, "z"), kT0 + 40);  // another pair
  h.Flush();
  ASSERT_EQ(h.records.size(), 3u);
  const SessionRecord& r = h.records[0];
  EXPECT_EQ(r.protocol, 47);
  EXPECT_EQ(r.client_ip, Ip(kC));  // first sender
  EXPECT_EQ(r.server_ip, Ip(kSrv));
  EXPECT_EQ(r.confidence, Confidence::kLow);
  EXPECT_EQ(r.client_packets, 2u);
  EXPECT_EQ(r.server_packets, 1u);
  EXPECT_EQ(r.client_payload_bytes, 12u);
  EXPECT_EQ(r.server_payload_bytes, 3u);
  EXPECT_EQ(r.first_time_us, kT0);
  EXPECT_EQ(r.last_time_us, kT0 + 20);
  EXPECT_EQ(r.conn_state, ConnState::kOTH);
  EXPECT_EQ(r.client_port, 0);
  EXPECT_EQ(r.server_port, 0);
  EXPECT_EQ(r.client_bytes, 0u);  // no TCP accounting
  EXPECT_EQ(r.client_first_seq, 0u);
  EXPECT_EQ(r.client_flags, 0);
  EXPECT_EQ(h.records[1].protocol, 50);
}

TEST(TrackerOtherProtocols, UseTheirOwnIdleTimeout) {
  PacketMaker m;
  TrackerConfig c = SmallConfig();
  c.udp_timeout_us = 10 * kSec;
  c.other_timeout_us = 100 * kSec;
  Harness h(c);
  h.Send(Other(m, kC, kSrv, 132, "sctp"), kT0);
  h.Advance(kT0 + 50 * kSec);
  h.Send(Other(m, kSrv, kC, 132, "sctp"), kT0 + 50 * kSec);
  h.Advance(kT0 + 151 * kSec);
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0].end_reason, EndReason::kIdleTimeout);
  EXPECT_EQ(h.records[0].client_packets + h.records[0].server_packets, 2u);
}

TEST(TrackerOtherProtocols, TcpFlagsOnAnOtherProtocolPacketChangeNothing) {
  PacketMaker m;
  Harness h;
  packet::ParsedPacket p = Other(m, kC, kSrv, 89, "ospf");  // OSPF
  p.tcp_flags = kS | kF;                                    // stale bits must not reach TCP logic
  p.seq = 1000;
  h.Send(p, kT0);
  p.seq = 5;
  h.Send(p, kT0 + 1);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_packets, 2u);
  EXPECT_EQ(r.client_flags, 0);
  EXPECT_EQ(r.client_first_flags, 0);
  EXPECT_EQ(r.shutdown_kind, ShutdownKind::kNone);
  EXPECT_EQ(r.end_reason, EndReason::kEndOfInput);
  EXPECT_EQ(r.confidence, Confidence::kLow);
}

TEST(TrackerOtherProtocols, CreateRefusesAZeroOtherTimeout) {
  TrackerConfig c = SmallConfig();
  c.other_timeout_us = 0;
  const auto t = Tracker::Create(c);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("other-protocol timeout"), std::string::npos);
}

// --- Sequence sanity ------------------------------------------------------

// Handshake with window scaling, 21 payload bytes, and one stray byte a
// billion sequence numbers ahead.
TEST(TrackerSequence, SegmentFarBeyondTheWindowDoesNotInflateBytes) {
  PacketMaker m;
  Harness h;
  packet::ParsedPacket syn = m.Tcp(kC, 40000, kSrv, 80, kS, 100);
  syn.window = 64240;
  syn.tcp_window_scale = 7;
  packet::ParsedPacket synack = m.Tcp(kSrv, 80, kC, 40000, kSA, 900, 101);
  synack.window = 65160;
  synack.tcp_window_scale = 7;
  h.Send(syn, kT0);
  h.Send(synack, kT0 + 1);
  packet::ParsedPacket ack = m.Tcp(kC, 40000, kSrv, 80, kA, 101, 901);
  ack.window = 502;
  h.Send(ack, kT0 + 2);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kPA, 101, 901, "GET / HTTP/1.0\r\n\r\nabc"), kT0 + 3);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kPA, 101 + 1'000'000'000u, 901, "x"), kT0 + 4);
  // And an ACK from the server acknowledging a billion bytes never sent.
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kA, 901, 122 + 1'000'000'000u), kT0 + 5);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_payload_bytes, 22u);
  EXPECT_EQ(r.client_bytes, 21u);
  EXPECT_EQ(h.tracker->counters().implausible_sequence, 2u);
}

TEST(TrackerSequence, WithoutTheHandshakeAFarSegmentIsStillRefused) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kPA, 5000, 1, std::string(21, 'd')), kT0);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kPA, 5021 + 1'000'000'000u, 1, "x"), kT0 + 1);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_bytes, 21u);
}

// A scaled window makes a large gap (missed packets) plausible: counted.
TEST(TrackerSequence, GapWithinTheScaledWindowCounts) {
  PacketMaker m;
  Harness h;
  packet::ParsedPacket syn = m.Tcp(kC, 40000, kSrv, 80, kS, 100);
  syn.tcp_window_scale = 2;
  packet::ParsedPacket synack = m.Tcp(kSrv, 80, kC, 40000, kSA, 900, 101);
  synack.tcp_window_scale = 8;
  h.Send(syn, kT0);
  h.Send(synack, kT0 + 1);
  packet::ParsedPacket ack = m.Tcp(kSrv, 80, kC, 40000, kA, 901, 101);
  ack.window = 40000;  // x 2^8 = 10 MB the server can receive
  h.Send(ack, kT0 + 2);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kPA, 101, 901, "a"), kT0 + 3);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kPA, 101 + 5'000'000, 901, "b"), kT0 + 4);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_bytes, 5'000'001u);
  EXPECT_EQ(h.tracker->counters().implausible_sequence, 0u);
}

// Without both SYNs carrying the option, windows are not scaled: the same gap
// beyond the 64 KiB floor is refused.
TEST(TrackerSequence, WindowScaleNeedsBothSyns) {
  PacketMaker m;
  Harness h;
  packet::ParsedPacket syn = m.Tcp(kC, 40000, kSrv, 80, kS, 100);  // no option
  packet::ParsedPacket synack = m.Tcp(kSrv, 80, kC, 40000, kSA, 900, 101);
  synack.tcp_window_scale = 8;
  h.Send(syn, kT0);
  h.Send(synack, kT0 + 1);
  packet::ParsedPacket ack = m.Tcp(kSrv, 80, kC, 40000, kA, 901, 101);
  ack.window = 40000;
  h.Send(ack, kT0 + 2);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kPA, 101, 901, "a"), kT0 + 3);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kPA, 101 + 5'000'000, 901, "b"), kT0 + 4);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kPA, 101 + 60'000, 901, "c"), kT0 + 5);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_bytes, 60'001u);
}

// --- Port reuse after a half-close ---------------------------------------

TEST(TrackerBoundaries, NewSynAfterTheClientsFinStartsANewSession) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 900, 101), kT0 + 1);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kPA, 101, 901, "hello"), kT0 + 2);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kFA, 106, 901), kT0 + 3);  // half-close
  // The port is reused with a new ISN 700 million away.
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 700'000'100u), kT0 + 4);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 300, 700'000'101u), kT0 + 5);
  h.Flush();
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[0].end_reason, EndReason::kReplaced);
  EXPECT_EQ(h.records[0].client_bytes, 5u);
  EXPECT_EQ(h.records[1].client_packets, 1u);
  EXPECT_EQ(h.records[1].client_bytes, 0u);
  EXPECT_EQ(h.records[1].server_packets, 1u);
}

TEST(TrackerBoundaries, NewSynAfterTheServersFinAlsoStartsANewSession) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 900, 101), kT0 + 1);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kFA, 901, 101), kT0 + 2);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 5555), kT0 + 3);
  h.Flush();
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_EQ(h.records[0].end_reason, EndReason::kReplaced);
}

TEST(TrackerBoundaries, RetransmittedSynAfterAHalfCloseStaysInTheSession) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kFA, 101, 1), kT0 + 1);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0 + 2);  // same ISN
  EXPECT_EQ(h.Only().client_packets, 3u);
}

// --- VLANs in the key -----------------------------------------------------

packet::ParsedPacket Tagged(packet::ParsedPacket p, uint16_t outer, uint16_t inner = 0) {
  p.vlan_count = inner ? 2 : 1;
  p.vlan_outer = outer;
  p.vlan_inner = inner;
  return p;
}

TEST(TrackerVlan, SameFiveTupleOnTwoVlansIsTwoSessionsAndDirectionsStayTogether) {
  PacketMaker m;
  Harness h;  // default: VlanKey::kBoth
  h.Send(Tagged(m.Udp(kC, 5000, kSrv, 53), 10), kT0);
  h.Send(Tagged(m.Udp(kSrv, 53, kC, 5000), 10), kT0 + 1);
  h.Send(Tagged(m.Udp(kC, 5000, kSrv, 53), 20), kT0 + 2);
  h.Send(Tagged(m.Udp(kC, 5000, kSrv, 53), 20, 7), kT0 + 3);  // QinQ: inner counts
  h.Send(Tagged(m.Udp(kC, 5000, kSrv, 53), 20, 8), kT0 + 4);
  h.Flush();
  ASSERT_EQ(h.records.size(), 4u);
  EXPECT_EQ(h.records[0].vlan_outer, 10);
  EXPECT_EQ(h.records[0].client_packets, 1u);
  EXPECT_EQ(h.records[0].server_packets, 1u);
  EXPECT_EQ(h.records[1].vlan_outer, 20);
  EXPECT_EQ(h.records[2].vlan_inner, 7);
  EXPECT_EQ(h.records[3].vlan_inner, 8);
}

TEST(TrackerVlan, OuterModeIgnoresTheInnerIdAndNoneModeIgnoresBoth) {
  PacketMaker m;
  TrackerConfig c = SmallConfig();
  c.vlan_key = VlanKey::kOuter;
  Harness outer(c);
  outer.Send(Tagged(m.Udp(kC, 5000, kSrv, 53), 20, 7), kT0);
  outer.Send(Tagged(m.Udp(kC, 5000, kSrv, 53), 20, 8), kT0 + 1);
  outer.Send(Tagged(m.Udp(kC, 5000, kSrv, 53), 30, 8), kT0 + 2);
  outer.Flush();
  EXPECT_EQ(outer.records.size(), 2u);
  c.vlan_key = VlanKey::kNone;
  Harness none(c);
  none.Send(Tagged(m.Udp(kC, 5000, kSrv, 53), 20, 7), kT0);
  none.Send(Tagged(m.Udp(kC, 5000, kSrv, 53), 30, 8), kT0 + 1);
  none.Send(m.Udp(kC, 5000, kSrv, 53), kT0 + 2);
  EXPECT_EQ(none.Only().client_packets, 3u);
}

// --- Fragments: each byte once ---------------------------------------------

// A UDP datagram of 8 + 116 bytes in three fragments: [0, 48) holding the
// header and 40 bytes, [48, 104) and [104, 124).
struct Datagram {
  packet::ParsedPacket first, second, third;
  explicit Datagram(PacketMaker& m, uint16_t vlan = 0) {
    first = m.Udp(kC, 5000, kSrv, 53, std::string(40, 'a'));
    first.first_fragment = true;
    first.more_fragments = true;
    first.fragment_id = 77;
    second = Later(first, 48, 56, true);
    third = Later(first, 104, 20, false);
    if (vlan) {
      first = Tagged(first, vlan);
      second = Tagged(second, vlan);
      third = Tagged(third, vlan);
    }
  }
  static packet::ParsedPacket Later(const packet::ParsedPacket& f, uint16_t off, uint32_t len,
                                    bool mf) {
    packet::ParsedPacket p;
    p.src = f.src;
    p.dst = f.dst;
    p.ip_version = f.ip_version;
    p.protocol = f.protocol;
    p.fragment_id = f.fragment_id;
    p.fragment_offset = off;
    p.more_fragments = mf;
    p.payload_len = len;
    return p;
  }
};

TEST(TrackerFragments, InOrderFragmentsCountEveryPayloadByteOnce) {
  PacketMaker m;
  Harness h;
  Datagram d(m);
  h.Send(d.first, kT0);
  h.tracker->ProcessFragment(d.second, kT0 + 1);
  h.tracker->ProcessFragment(d.third, kT0 + 2);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_payload_bytes, 116u);
  EXPECT_EQ(r.client_packets, 3u);
  EXPECT_EQ(r.fragments, 3u);
}

TEST(TrackerFragments, DuplicateAndOverlappingFragmentsAreCountedOnce) {
  PacketMaker m;
  Harness h;
  Datagram d(m);
  h.Send(d.first, kT0);
  h.Send(d.first, kT0 + 1);                      // duplicate first fragment
  h.tracker->ProcessFragment(d.third, kT0 + 2);  // out of order
  h.tracker->ProcessFragment(d.second, kT0 + 3);
  h.tracker->ProcessFragment(d.second, kT0 + 4);                                // duplicate
  h.tracker->ProcessFragment(Datagram::Later(d.first, 96, 16, true), kT0 + 5);  // overlap
  // Overlaps the first fragment's last 8 bytes and the second's first 8.
  h.tracker->ProcessFragment(Datagram::Later(d.first, 40, 16, true), kT0 + 6);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_payload_bytes, 116u);
  EXPECT_EQ(r.client_packets, 7u);  // packets still count per frame
  EXPECT_EQ(h.tracker->counters().fragment_overlap_bytes, 40u + 56 + 16 + 16);
}

TEST(TrackerFragments, TcpFirstFragmentWithOptionsDoesNotSwallowTheNextFragment) {
  PacketMaker m;
  Harness h;
  // 32-byte TCP header (timestamps) + 1448 bytes = 1480 bytes of IP payload.
  packet::ParsedPacket first = m.TcpLen(kC, 40000, kSrv, 80, kPA, 1, 1, 1448);
  first.first_fragment = true;
  first.more_fragments = true;
  first.fragment_id = 9;
  h.Send(first, kT0);
  h.tracker->ProcessFragment(Datagram::Later(first, 1480, 100, false), kT0 + 1);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_payload_bytes, 1548u);
}

TEST(TrackerFragments, LaterFragmentBeforeItsFirstIsUnattributed) {
  PacketMaker m;
  Harness h;
  Datagram d(m);
  h.tracker->ProcessFragment(d.second, kT0);
  h.Send(d.first, kT0 + 1);
  h.tracker->ProcessFragment(d.third, kT0 + 2);
  EXPECT_EQ(h.tracker->counters().later_fragments_unattributed, 1u);
  const SessionRecord r = h.Only();
  EXPECT_EQ(r.client_payload_bytes, 60u);
}

TEST(TrackerFragments, ManyDisjointPiecesNeverCountAByteTwice) {
  PacketMaker m;
  Harness h;
  Datagram d(m);
  h.Send(d.first, kT0);
  // Eight disjoint 8-byte pieces with gaps: more ranges than an entry keeps.
  for (uint16_t i = 0; i < 8; ++i) {
    h.tracker->ProcessFragment(Datagram::Later(d.first, 64 + 16 * i, 8, true), kT0 + 1 + i);
  }
  for (uint16_t i = 0; i < 8; ++i) {  // all again, and the gaps
    h.tracker->ProcessFragment(Datagram::Later(d.first, 56 + 16 * i, 16, true), kT0 + 20 + i);
  }
  const SessionRecord r = h.Only();
  // At most the 40 bytes + 8 x 16 bytes of [56, 184), never more.
  EXPECT_LE(r.client_payload_bytes, 40u + 128u);
  EXPECT_GE(r.client_payload_bytes, 40u + 64u);  // the distinct first pieces
}

TEST(TrackerFragments, FragmentOnAnotherVlanIsNotAttributed) {
  PacketMaker m;
  Harness h;
  Datagram d(m, 10);
  h.Send(d.first, kT0);
  h.tracker->ProcessFragment(Tagged(d.second, 20), kT0 + 1);
  h.tracker->ProcessFragment(d.third, kT0 + 2);
  EXPECT_EQ(h.tracker->counters().later_fragments_unattributed, 1u);
  EXPECT_EQ(h.Only().client_payload_bytes, 60u);
}

}  // namespace
}  // namespace flowtrail::session
