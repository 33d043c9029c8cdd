// First-contact events (tracker.h, contact_event.h): one per TCP session whose
// client SYN was seen, decided by the server's SYN-ACK or RST, the attempt
// timeout, or the session's end; record time only.
#include <algorithm>
#include <span>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "packet_helpers.h"
#include "record/contact_event.h"
#include "session/tracker.h"

namespace flowtrail::session {
namespace {

using testing::Harness;
using testing::Ip;
using testing::kA;
using testing::kF;
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

TEST(ContactEvents, SynAckGivesSuccessAtTheSynAckTimeBeforeAnyRecord) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  EXPECT_TRUE(h.contacts.empty());
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 500, 101), kT0 + 1500);
  ASSERT_EQ(h.contacts.size(), 1u);
  EXPECT_TRUE(h.records.empty());
  const ContactEvent& e = h.contacts[0];
  EXPECT_EQ(e.outcome, ContactOutcome::kSuccess);
  EXPECT_EQ(e.client_ip, Ip(kC));
  EXPECT_EQ(e.server_ip, Ip(kSrv));
  EXPECT_EQ(e.client_port, 40000);
  EXPECT_EQ(e.server_port, 80);
  EXPECT_EQ(e.ip_version, 4);
  EXPECT_EQ(e.first_time_us, kT0);
  EXPECT_EQ(e.decided_us, kT0 + 1500);
  h.Flush();
  ASSERT_EQ(h.records.size(), 1u);
  EXPECT_EQ(h.records[0].session_id, e.session_id);
  EXPECT_EQ(h.contacts.size(), 1u);  // exactly once
  EXPECT_EQ(h.tracker->counters().contacts_success, 1u);
}

TEST(ContactEvents, AnnouncedFtpDataConnectionsAreNoFirstContacts) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 50003, kSrv, 21, kS, 1), kT0);
  h.Send(m.Tcp(kSrv, 21, kC, 50003, kSA, 500, 2), kT0 + 1);
  ASSERT_EQ(h.contacts.size(), 1u);  // the control connection's
  h.Send(m.Tcp(kC, 50003, kSrv, 21, kPA, 2, 501, "PORT 10,0,0,1,131,46\r\n"), kT0 + 2);
  // The server connects back to the announced 10.0.0.1:33582 and nobody answers.
  h.Send(m.Tcp(kSrv, 20, kC, 33582, kS, 1000), kT0 + 3);
  h.Advance(kT0 + 10 * kSec);
  h.Flush();
  EXPECT_EQ(h.contacts.size(), 1u);
  ASSERT_EQ(h.records.size(), 2u);
  EXPECT_TRUE(h.records[0].transient_server || h.records[1].transient_server);
}

TEST(ContactEvents, ServerRstGivesReject) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 81, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 81, kC, 40000, kRA, 0, 101), kT0 + 300);
  ASSERT_EQ(h.contacts.size(), 1u);
  EXPECT_EQ(h.contacts[0].outcome, ContactOutcome::kReject);
  EXPECT_EQ(h.contacts[0].decided_us, kT0 + 300);
  h.Flush();
  EXPECT_EQ(h.contacts.size(), 1u);
}

TEST(ContactEvents, NoAnswerIsSilentAtTheAttemptTimeoutNotAtTheIdleTimeout) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 82, kS, 100), kT0);
  h.Advance(kT0 + 3 * kSec - 1);
  EXPECT_TRUE(h.contacts.empty());
  h.Advance(kT0 + 3 * kSec);
  ASSERT_EQ(h.contacts.size(), 1u);
  EXPECT_EQ(h.contacts[0].outcome, ContactOutcome::kSilent);
  EXPECT_EQ(h.contacts[0].decided_us, kT0 + 3 * kSec);
  EXPECT_TRUE(h.records.empty());  // the record waits for the 30 s SYN timeout
  // A late SYN-ACK changes nothing: decided once.
  h.Send(m.Tcp(kSrv, 82, kC, 40000, kSA, 500, 101), kT0 + 4 * kSec);
  h.Flush();
  EXPECT_EQ(h.contacts.size(), 1u);
}

TEST(ContactEvents, AnswerAtTheDeadlineIsSilentWithoutAnAdvanceInBetween) {
  // Determinism: the packet path checks deadlines itself, so the result does
  // not depend on how often Advance() runs.
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 83, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 83, kC, 40000, kSA, 500, 101), kT0 + 3 * kSec);
  ASSERT_EQ(h.contacts.size(), 1u);
  EXPECT_EQ(h.contacts[0].outcome, ContactOutcome::kSilent);
}

TEST(ContactEvents, ClientRstBeforeTheTimeoutIsSilentThen) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 84, kS, 100), kT0);
  h.Send(m.Tcp(kC, 40000, kSrv, 84, kR, 101), kT0 + kSec);
  // The RST closes the session; it ends after the linger (2 s).
  h.Advance(kT0 + kSec + 2 * kSec + 100'000);
  ASSERT_EQ(h.records.size(), 1u);
  ASSERT_EQ(h.contacts.size(), 1u);
  EXPECT_EQ(h.contacts[0].outcome, ContactOutcome::kSilent);
}

TEST(ContactEvents, FlushBeforeTheTimeoutEmitsSilentWithTheLastPacketTime) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 85, kS, 100), kT0);
  h.Send(m.Tcp(kC, 40000, kSrv, 85, kS, 100), kT0 + kSec);  // retransmission
  h.Flush(EndReason::kEndOfInput, kT0 + kSec);
  ASSERT_EQ(h.contacts.size(), 1u);
  EXPECT_EQ(h.contacts[0].outcome, ContactOutcome::kSilent);
  EXPECT_EQ(h.contacts[0].decided_us, kT0 + kSec);
}

TEST(ContactEvents, SessionsWithoutClientSynHaveNoEvent) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kSrv, 443, kC, 40000, kA, 900, 100), kT0);  // mid-stream pickup
  h.Send(m.Udp(kC, 53000, kSrv, 53), kT0);
  h.Advance(kT0 + 10 * kSec);
  h.Flush();
  EXPECT_TRUE(h.contacts.empty());
  EXPECT_EQ(h.records.size(), 2u);
}

TEST(ContactEvents, ReusedPortGetsItsOwnEventAndTheStaleDeadlineIsIgnored) {
  PacketMaker m;
  Harness h;
  // First connection: answered and closed; then the port is reused within the
  // attempt timeout: the new session's SYN is a new attempt.
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 500, 101), kT0 + 10);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kR, 101), kT0 + 20);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 9000), kT0 + kSec);
  ASSERT_EQ(h.records.size(), 1u);  // the old one left (replaced)
  ASSERT_EQ(h.contacts.size(), 1u);
  h.Advance(kT0 + 3 * kSec + 5);  // the first attempt's deadline: decided already
  EXPECT_EQ(h.contacts.size(), 1u);
  h.Advance(kT0 + 4 * kSec);
  ASSERT_EQ(h.contacts.size(), 2u);
  EXPECT_EQ(h.contacts[1].outcome, ContactOutcome::kSilent);
  EXPECT_NE(h.contacts[1].session_id, h.contacts[0].session_id);
  EXPECT_EQ(h.contacts[1].first_time_us, kT0 + kSec);
}

TEST(ContactEvents, EvictedPendingSessionIsSilentAndTheSlotsNextSessionKeepsItsOwnDeadline) {
  TrackerConfig c = SmallConfig();
  c.capacity = 1;
  PacketMaker m;
  Harness h(c);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  // One slot: the second SYN evicts the first session (silent at once) and
  // takes over its slot; the FIFO's entry for the first is stale.
  h.Send(m.Tcp(kC, 40001, kSrv, 80, kS, 200), kT0 + kSec);
  ASSERT_EQ(h.contacts.size(), 1u);
  EXPECT_EQ(h.contacts[0].outcome, ContactOutcome::kSilent);
  EXPECT_EQ(h.contacts[0].client_port, 40000);
  EXPECT_EQ(h.tracker->counters().sessions_evicted, 1u);
  EXPECT_EQ(h.tracker->counters().contacts_untracked, 0u);
  // Past the first attempt's deadline, within the second's: success.
  h.Send(m.Tcp(kSrv, 80, kC, 40001, kSA, 700, 201), kT0 + 3 * kSec + 10);
  ASSERT_EQ(h.contacts.size(), 2u);
  EXPECT_EQ(h.contacts[1].outcome, ContactOutcome::kSuccess);
  EXPECT_EQ(h.contacts[1].client_port, 40001);
}

TEST(ContactEvents, EvictionChurnDecidesEachSessionOnceAndLosesNone) {
  TrackerConfig c = SmallConfig();
  c.capacity = 4;
  PacketMaker m;
  Harness h(c);
  for (uint16_t i = 0; i < 8; ++i) {
    h.Send(m.Tcp(kC, static_cast<uint16_t>(40000 + i), kSrv, 80, kS, 100), kT0 + i);
  }
  EXPECT_EQ(h.contacts.size(), 4u);  // the evicted ones
  h.Advance(kT0 + 10 * kSec);
  EXPECT_EQ(h.tracker->counters().sessions_evicted, 4u);
  EXPECT_EQ(h.tracker->counters().contacts_untracked, 0u);
  ASSERT_EQ(h.contacts.size(), 8u);
  std::vector<uint16_t> ports;
  for (const ContactEvent& e : h.contacts) {
    EXPECT_EQ(e.outcome, ContactOutcome::kSilent);
    ports.push_back(e.client_port);
  }
  std::sort(ports.begin(), ports.end());
  EXPECT_EQ(std::unique(ports.begin(), ports.end()), ports.end());
  h.Flush();
  EXPECT_EQ(h.contacts.size(), 8u);
}

TEST(ContactEvents, FullEventQueueDropsAndCountsButRecordsStillLeave) {
  TrackerConfig c = SmallConfig();
  c.contact_capacity = 2;
  PacketMaker m;
  auto t = Tracker::Create(c);
  ASSERT_TRUE(t.ok());
  for (uint16_t i = 0; i < 5; ++i) {
    (*t)->Process(m.Tcp(kC, static_cast<uint16_t>(40000 + i), kSrv, 80, kS, 100), kT0, 0);
    (*t)->Process(m.Tcp(kSrv, 80, kC, static_cast<uint16_t>(40000 + i), kRA, 0, 101), kT0 + 1, 0);
  }
  EXPECT_EQ((*t)->PendingContacts(), 2u);
  EXPECT_EQ((*t)->counters().contacts_dropped, 3u);
  EXPECT_EQ((*t)->counters().contacts_reject, 5u);
  EXPECT_TRUE((*t)->FlushSome(EndReason::kEndOfInput, kT0 + 2));  // decided: no event to wait for
  EXPECT_EQ((*t)->PendingOutput(), 5u);
}

// The event queue reuses its first slots once drained empty (tracker.cc
// PopOldest()): events still leave in order across a partial drain, a
// wrap of the ring, and the restart at slot 0; the same through
// PeekContacts() and DropContacts(), whose stretch ends at the ring's end.
TEST(ContactEvents, EventQueueKeepsOrderAcrossPartialDrainsWrapAndRestart) {
  for (const bool peek : {false, true}) {
    SCOPED_TRACE(peek ? "PeekContacts/DropContacts" : "DrainContacts");
    TrackerConfig c = SmallConfig();
    c.contact_capacity = 2;
    PacketMaker m;
    auto t = Tracker::Create(c);
    ASSERT_TRUE(t.ok());
    uint16_t next = 40000;
    uint64_t now = kT0;
    const auto reject = [&](int count) {  // one decided attempt each
      for (int i = 0; i < count; ++i, ++next) {
        (*t)->Process(m.Tcp(kC, next, kSrv, 80, kS, 100), ++now, 0);
        (*t)->Process(m.Tcp(kSrv, 80, kC, next, kRA, 0, 101), ++now, 0);
      }
    };
    const auto drain = [&](size_t most) {
      std::vector<uint16_t> ports;
      if (peek) {
        while (ports.size() < most && (*t)->PendingContacts() > 0) {
          const std::span<const ContactEvent> in = (*t)->PeekContacts();
          const size_t n = std::min(in.size(), most - ports.size());
          for (size_t i = 0; i < n; ++i) ports.push_back(in[i].client_port);
          (*t)->DropContacts(n);
        }
        return ports;
      }
      ContactEvent ev[2];
      const size_t n = (*t)->DrainContacts(std::span(ev, most));
      for (size_t i = 0; i < n; ++i) ports.push_back(ev[i].client_port);
      return ports;
    };
    reject(2);
    EXPECT_EQ(drain(1), std::vector<uint16_t>({40000}));
    reject(1);                                   // wraps to slot 0
    EXPECT_EQ((*t)->PeekContacts().size(), 1u);  // up to the ring's end
    EXPECT_EQ(drain(2), std::vector<uint16_t>({40001, 40002}));
    reject(2);  // empty before: from slot 0 again
    EXPECT_EQ(drain(2), std::vector<uint16_t>({40003, 40004}));
    EXPECT_TRUE((*t)->PeekContacts().empty());
    EXPECT_EQ((*t)->counters().contacts_dropped, 0u);
  }
}

TEST(ContactEvents, AdvanceAndFlushWaitForRoomInsteadOfDroppingSilentEvents) {
  TrackerConfig c = SmallConfig();
  c.contact_capacity = 2;
  PacketMaker m;
  auto t = Tracker::Create(c);
  ASSERT_TRUE(t.ok());
  for (uint16_t i = 0; i < 5; ++i) {
    (*t)->Process(m.Tcp(kC, static_cast<uint16_t>(40000 + i), kSrv, 80, kS, 100), kT0 + i, 0);
  }
  for (uint16_t i = 5; i < 8; ++i) {  // still waiting at the flush
    (*t)->Process(m.Tcp(kC, static_cast<uint16_t>(40000 + i), kSrv, 80, kS, 100), kT0 + kSec, 0);
  }
  ContactEvent ev[8];
  size_t got = 0;
  int calls = 0;
  while (!(*t)->Advance(kT0 + 3 * kSec + 10)) {
    got += (*t)->DrainContacts(std::span(ev + got, 8 - got));
    ASSERT_LT(++calls, 10);
  }
  got += (*t)->DrainContacts(std::span(ev + got, 8 - got));
  EXPECT_EQ(got, 5u);
  EXPECT_GT(calls, 0);
  calls = 0;
  while (!(*t)->FlushSome(EndReason::kEndOfInput, kT0 + 3 * kSec + 10)) {
    got += (*t)->DrainContacts(std::span(ev + got, 8 - got));
    SessionRecord r[8];
    while ((*t)->Drain(r)) {
    }
    ASSERT_LT(++calls, 10);
  }
  got += (*t)->DrainContacts(std::span(ev + got, 8 - got));
  EXPECT_EQ(got, 8u);
  EXPECT_EQ((*t)->counters().contacts_dropped, 0u);
  EXPECT_EQ((*t)->counters().contacts_silent, 8u);
}

TEST(ContactEvents, AttemptTimeoutZeroEmitsNothing) {
  TrackerConfig c = SmallConfig();
  c.attempt_timeout_us = 0;
  PacketMaker m;
  Harness h(c);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 500, 101), kT0 + 1);
  h.Advance(kT0 + 10 * kSec);
  h.Flush();
  EXPECT_TRUE(h.contacts.empty());
  EXPECT_EQ(h.tracker->counters().contacts_success, 0u);
  EXPECT_LT(Tracker::MemoryBytes(c), Tracker::MemoryBytes(SmallConfig()));
}

TEST(ContactEvents, ReplayGivesTheSameEventsWhateverTheAdvanceCadence) {
  // A scanner's SYNs, some answered: once with Advance() after every packet,
  // once with none until the end.
  PacketMaker m;
  auto run = [&](bool advance_each) {
    Harness h;
    for (uint16_t i = 0; i < 40; ++i) {
      const uint64_t t = kT0 + uint64_t{i} * 250'000;
      const uint16_t port = static_cast<uint16_t>(1000 + i);
      h.Send(m.Tcp(kC, 50000, kSrv, port, kS, 100 + i), t);
      if (i % 5 == 0) h.Send(m.Tcp(kSrv, port, kC, 50000, kSA, 7, 101 + i), t + 2'000'000);
      if (i % 7 == 0) h.Send(m.Tcp(kSrv, port, kC, 50000, kRA, 0, 101 + i), t + 100);
      if (advance_each) h.Advance(t + 2'000'000);
    }
    h.Flush(EndReason::kEndOfInput, kT0 + 60 * kSec);
    std::vector<std::tuple<uint64_t, int, uint64_t>> out;
    for (const ContactEvent& e : h.contacts) {
      out.emplace_back(e.session_id, static_cast<int>(e.outcome), e.decided_us);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  const auto a = run(true);
  const auto b = run(false);
  EXPECT_EQ(a.size(), 40u);
  EXPECT_EQ(a, b);
}

TEST(ContactEvents, SynAckBeforeSynInTheCaptureIsSuccess) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kSrv, 80, kC, 40000, kSA, 500, 101), kT0);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0 + 5);
  ASSERT_EQ(h.contacts.size(), 1u);
  EXPECT_EQ(h.contacts[0].outcome, ContactOutcome::kSuccess);
  EXPECT_EQ(h.contacts[0].client_ip, Ip(kC));
}

TEST(ContactEvents, FinFromClientWithoutAnswerIsSilentWhenTheSessionEnds) {
  PacketMaker m;
  Harness h;
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kS, 100), kT0);
  h.Send(m.Tcp(kC, 40000, kSrv, 80, kF | kA, 101), kT0 + 10);
  h.Flush(EndReason::kEndOfInput, kT0 + 20);
  ASSERT_EQ(h.contacts.size(), 1u);
  EXPECT_EQ(h.contacts[0].outcome, ContactOutcome::kSilent);
  EXPECT_EQ(h.contacts[0].decided_us, kT0 + 10);
}

}  // namespace
}  // namespace flowtrail::session
