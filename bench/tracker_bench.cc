// Tracker cost per packet with a table of 1 M live sessions: an update of an
// existing session, and the creation of a new one (with free room, and with
// a full table where every new session evicts the stalest). Timestamps advance
// 1 us per packet and Advance() runs once per 32-packet burst, as a worker
// does; records are drained as they appear. Then the same at 20 k, 1 M and
// 10 M live sessions (lookup + update in random order, insert), a SYN flood
// into a full table, the wheel firing 1 M sessions (ending or rescheduling
// them), and Tracker::Create() (start-up) at 1 M and 10 M. The 10 M cases
// need about 4 GB.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <random>
#include <span>
#include <vector>

#include "packet/parsed_packet.h"
#include "session/session_table.h"
#include "session/tracker.h"

namespace flowtrail::session {
namespace {

constexpr uint32_t kLive = 1 << 20;
constexpr uint64_t kT0 = 1'700'000'000'000'000;

packet::ParsedPacket TcpPacket(uint32_t n) {
  packet::ParsedPacket p;
  p.ip_version = 4;
  p.protocol = packet::kProtoTcp;
  p.src = IpAddress::FromV4(0x0a000000u | (n >> 4));
  p.dst = IpAddress::FromV4(0xc0000201u + (n & 15));
  p.src_port = static_cast<uint16_t>(1024 + (n % 50000));
  p.dst_port = 443;
  p.tcp_flags = packet::kTcpAck | packet::kTcpPsh;
  p.seq = n * 7919u;
  p.ack = n * 104729u;
  p.payload_len = 100;
  p.frame_len = 154;
  return p;
}

struct Bench {
  std::unique_ptr<Tracker> tracker;
  std::vector<SessionRecord> sink = std::vector<SessionRecord>(256);
  uint64_t now = kT0;

  explicit Bench(uint32_t capacity, uint32_t live = kLive,
                 uint64_t attempt_timeout_us = TrackerConfig().attempt_timeout_us) {
    TrackerConfig c;
    c.capacity = capacity;
    c.attempt_timeout_us = attempt_timeout_us;
    tracker = std::move(*Tracker::Create(c));
    for (uint32_t i = 0; i < live; ++i) Step(TcpPacket(i), i);
  }
  void Step(const packet::ParsedPacket& p, uint64_t i) {
    tracker->Process(p, ++now, 0);
    if ((i & 31) == 31) {
      tracker->Advance(now);
      while (tracker->Drain(sink)) {
      }
      while (tracker->DrainContacts(contacts)) {
      }
    }
  }
  // One worker burst: ProcessBurst() at 1 us per packet, then Advance() and
  // the drains.
  void Burst(std::span<const packet::ParsedPacket> pkts) {
    times.resize(pkts.size());
    for (auto& t : times) t = PacketTime{++now, now};
    tracker->ProcessBurst(pkts, times, 0);
    tracker->Advance(now);
    while (tracker->Drain(sink)) {
    }
    while (tracker->DrainContacts(contacts)) {
    }
  }
  std::vector<ContactEvent> contacts = std::vector<ContactEvent>(256);
  std::vector<PacketTime> times;
};

// items/s and its inverse for `items` processed.
void SetPerItem(benchmark::State& state, uint64_t items, const char* name) {
  state.SetItemsProcessed(static_cast<int64_t>(items));
  state.counters[name] = benchmark::Counter(
      static_cast<double>(items), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Arg: live sessions (1 M is the figure that matters; 1 K shows the cost
// without cache misses).
void BM_TrackerUpdateExistingSession(benchmark::State& state) {
  const auto live = static_cast<uint32_t>(state.range(0));
  Bench b(2 * live, live);
  std::mt19937 rng(1);
  std::vector<packet::ParsedPacket> pkts;
  for (int i = 0; i < (1 << 16); ++i) pkts.push_back(TcpPacket(rng() % live));
  uint64_t i = 0;
  for (auto _ : state) {
    b.Step(pkts[i & 0xffff], i);
    ++i;
  }
  state.counters["sessions_active"] = b.tracker->counters().sessions_active;
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TrackerUpdateExistingSession)->Arg(kLive)->Arg(1024)->Unit(benchmark::kNanosecond);

// The same with the worker's burst shape: 32 packets per ProcessBurst(), so
// the table misses of a burst overlap.
void BM_TrackerUpdateExistingSessionBurst32(benchmark::State& state) {
  const auto live = static_cast<uint32_t>(state.range(0));
  Bench b(2 * live, live);
  std::mt19937 rng(1);
  std::vector<packet::ParsedPacket> pkts;
  for (int i = 0; i < (1 << 16); ++i) pkts.push_back(TcpPacket(rng() % live));
  uint64_t i = 0;
  for (auto _ : state) {
    b.Burst(std::span(pkts).subspan((i * 32) & 0xffff, 32));
    ++i;
  }
  SetPerItem(state, state.iterations() * 32, "ns_per_packet");
}
BENCHMARK(BM_TrackerUpdateExistingSessionBurst32)
    ->Arg(kLive)
    ->Arg(1024)
    ->Unit(benchmark::kNanosecond);

void BM_TrackerNewSession(benchmark::State& state) {
  Bench b(2 * kLive);  // room for every new session of the fixed iteration count
  uint32_t n = kLive;
  uint64_t i = 0;
  for (auto _ : state) b.Step(TcpPacket(n++), i++);
  state.counters["sessions_active"] = b.tracker->counters().sessions_active;
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TrackerNewSession)->Iterations(kLive)->Unit(benchmark::kNanosecond);

void BM_TrackerNewSessionEvictingFromFullTable(benchmark::State& state) {
  Bench b(kLive);  // full: every new session evicts the stalest
  uint32_t n = kLive;
  uint64_t i = 0;
  for (auto _ : state) b.Step(TcpPacket(n++), i++);
  state.counters["evicted"] = b.tracker->counters().sessions_evicted;
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TrackerNewSessionEvictingFromFullTable)
    ->Iterations(kLive)
    ->Unit(benchmark::kNanosecond);

}  // namespace
}  // namespace flowtrail::session

// A scan: 3 of 4 packets are a new session's SYN, the 4th the SYN-ACK of the
// SYN before it; the other SYNs are silent, decided by the attempt timeout.
// Arg: attempt timeout in us of the bench clock (1 us per packet, so 3000
// keeps ~2000 attempts waiting and decides silence within the run); 0 =
// first-contact events off. What the events cost on the path they touch most.
namespace flowtrail::session {
namespace {
void BM_TrackerScanSynWithContactEvents(benchmark::State& state) {
  const uint64_t attempt_us = static_cast<uint64_t>(state.range(0));
  Bench b(2 * kLive, 0, attempt_us);
  uint32_t n = 0;
  uint64_t i = 0;
  for (auto _ : state) {
    packet::ParsedPacket p = TcpPacket(n);
    p.tcp_flags = packet::kTcpSyn;
    p.payload_len = 0;
    if ((i & 3) == 1) {
      // The SYN-ACK of the SYN sent one step before.
      p = TcpPacket(n - 1);
      std::swap(p.src, p.dst);
      std::swap(p.src_port, p.dst_port);
      p.tcp_flags = packet::kTcpSyn | packet::kTcpAck;
      p.payload_len = 0;
    } else {
      ++n;
    }
    b.Step(p, i++);
  }
  state.counters["contacts"] = static_cast<double>(b.tracker->counters().contacts_success +
                                                   b.tracker->counters().contacts_silent);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TrackerScanSynWithContactEvents)
    ->Arg(0)
    ->Arg(3000)
    ->Iterations(kLive)
    ->Unit(benchmark::kNanosecond);
}  // namespace
}  // namespace flowtrail::session

// Lookup + update of existing sessions in random order, in the worker's
// burst shape, by live sessions (the table holds exactly those: capacity =
// live). What MLP buys: 1 M and 10 M should cost about what 20 k does.
namespace flowtrail::session {
namespace {
void BM_TrackerLookupUpdateRandomBurst32(benchmark::State& state) {
  const auto live = static_cast<uint32_t>(state.range(0));
  Bench b(live, live);
  std::mt19937 rng(7);
  std::vector<packet::ParsedPacket> pkts;
  for (int i = 0; i < (1 << 18); ++i) pkts.push_back(TcpPacket(rng() % live));
  uint64_t i = 0;
  for (auto _ : state) {
    b.Burst(std::span(pkts).subspan((i * 32) & 0x3ffff, 32));
    ++i;
  }
  SetPerItem(state, state.iterations() * 32, "ns_per_packet");
  state.counters["created"] = static_cast<double>(b.tracker->counters().sessions_created);
  state.counters["table_bytes_per_session"] =
      static_cast<double>(SessionTable::BytesFor(live)) / live;
}
BENCHMARK(BM_TrackerLookupUpdateRandomBurst32)
    ->Arg(20'000)
    ->Arg(1'000'000)
    ->Arg(10'000'000)
    ->Unit(benchmark::kNanosecond);

// Insert: new sessions (one ACK each) into a table already holding `live`,
// with room for all of them, in bursts of 32.
void BM_TrackerInsertBurst32(benchmark::State& state) {
  const auto live = static_cast<uint32_t>(state.range(0));
  constexpr uint32_t kNew = 1 << 20;
  Bench b(live + kNew, live);
  std::vector<packet::ParsedPacket> pkts(32);
  uint32_t n = live;
  for (auto _ : state) {
    for (auto& p : pkts) p = TcpPacket(n++);
    b.Burst(pkts);
  }
  SetPerItem(state, state.iterations() * 32, "ns_per_packet");
}
BENCHMARK(BM_TrackerInsertBurst32)
    ->Arg(1'000'000)
    ->Arg(10'000'000)
    ->Iterations((1 << 20) / 32)
    ->Unit(benchmark::kNanosecond);

// A SYN flood of distinct new sessions into a full table of 1 M (each SYN
// evicts the stalest session and starts a first-contact attempt), in bursts
// of 32: items/s is new sessions/s per worker.
void BM_TrackerSynFloodFullTableBurst32(benchmark::State& state) {
  constexpr uint32_t kCap = 1'000'000;
  Bench b(kCap, kCap);
  std::vector<packet::ParsedPacket> pkts(32);
  uint32_t n = kCap;
  for (auto _ : state) {
    for (auto& p : pkts) {
      p = TcpPacket(n++);
      p.tcp_flags = packet::kTcpSyn;
      p.payload_len = 0;
      p.frame_len = 60;
    }
    b.Burst(pkts);
  }
  state.counters["evicted"] = static_cast<double>(b.tracker->counters().sessions_evicted);
  SetPerItem(state, state.iterations() * 32, "ns_per_session");
}
BENCHMARK(BM_TrackerSynFloodFullTableBurst32)
    ->Iterations((1 << 21) / 32)
    ->Unit(benchmark::kNanosecond);

// New mid-stream sessions (no SYN: the idle timeout of the sessions they
// evict) into a full table whose every session saw a second packet, in
// random order, after it was scheduled: each eviction's walk moves refreshed
// entries to their deadlines (reading their cold lines) before it finds the
// victim, as on a busy link.
void BM_TrackerEvictRefreshedTableBurst32(benchmark::State& state) {
  constexpr uint32_t kCap = 1'000'000;
  Bench b(kCap, kCap);
  {
    std::vector<uint32_t> order(kCap);
    for (uint32_t i = 0; i < kCap; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937(5));
    std::vector<packet::ParsedPacket> refresh(32);
    for (uint32_t i = 0; i + 32 <= kCap; i += 32) {
      for (uint32_t k = 0; k < 32; ++k) refresh[k] = TcpPacket(order[i + k]);
      b.Burst(refresh);
    }
  }
  std::vector<packet::ParsedPacket> pkts(32);
  uint32_t n = kCap;
  for (auto _ : state) {
    for (auto& p : pkts) p = TcpPacket(n++);
    b.Burst(pkts);
  }
  state.counters["evicted"] = static_cast<double>(b.tracker->counters().sessions_evicted);
  SetPerItem(state, state.iterations() * 32, "ns_per_session");
}
BENCHMARK(BM_TrackerEvictRefreshedTableBurst32)
    ->Iterations((1 << 19) / 32)
    ->Unit(benchmark::kNanosecond);

// The wheel's firing path at `live` sessions (capacity = live): established
// TCP sessions created at times spread over kFireSpreadUs, in an order random
// against their index, so the ticks fire entries scattered in memory. The
// timed part advances the clock one wheel tick per iteration across the
// window where every session fires once: kEnd, each fire ends its session
// (records drained into a buffer, as a worker does); kReschedule, every
// session saw a later packet after it was scheduled, so each fire reads its
// cold part and schedules it again. items/s = entries fired.
enum class FireMode { kEnd, kReschedule };
constexpr uint64_t kBenchTickUs = uint64_t{1} << 16;  // tracker.cc kTickUs
constexpr uint64_t kFireSpreadUs = 32'000'000;
// The window's ticks and one either side (partial ticks).
constexpr int64_t kFireTicks = static_cast<int64_t>(kFireSpreadUs / kBenchTickUs + 2);

void TrackerAdvanceFires(benchmark::State& state, FireMode mode) {
  const auto live = static_cast<uint32_t>(state.range(0));
  Bench b(live, 0);
  const uint64_t idle_us = TrackerConfig().tcp_established_timeout_us;
  // Session i (entry index i: a fresh table hands them out in order) at
  // time kT0 + perm[i] * spread / live; the earliest goes first, since it
  // starts the wheel's clock.
  std::vector<uint32_t> perm(live);
  for (uint32_t i = 0; i < live; ++i) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), std::mt19937(11));
  std::swap(perm[0], *std::min_element(perm.begin(), perm.end()));
  auto created = [&](uint32_t i) { return kT0 + perm[i] * kFireSpreadUs / live; };
  // Refreshed (kReschedule) two spreads later: the fire at the first deadline
  // finds the session idle for less than its timeout, and its new deadline
  // lies beyond the timed window.
  const uint64_t refresh_us = mode == FireMode::kReschedule ? 2 * kFireSpreadUs : 0;
  std::vector<packet::ParsedPacket> pkts(32);
  std::vector<PacketTime> times(32);
  for (int pass = 0; pass < (mode == FireMode::kReschedule ? 2 : 1); ++pass) {
    for (uint32_t base = 0; base < live; base += 32) {
      const uint32_t n = std::min<uint32_t>(32, live - base);
      for (uint32_t k = 0; k < n; ++k) {
        pkts[k] = TcpPacket(base + k);
        const uint64_t t = created(base + k) + (pass == 0 ? 0 : refresh_us);
        times[k] = PacketTime{t, t};
      }
      b.tracker->ProcessBurst(std::span(pkts).first(n), std::span(times).first(n), 0);
    }
  }
  // Up to the first deadline (nothing due yet), untimed.
  b.now = kT0 + idle_us;
  b.tracker->Advance(b.now);
  const uint64_t ended_before = b.tracker->counters().sessions_ended;
  for (auto _ : state) {
    b.now += kBenchTickUs;
    while (true) {
      const bool done = b.tracker->Advance(b.now);
      while (b.tracker->Drain(b.sink)) {
      }
      if (done) break;
    }
  }
  const uint64_t ended = b.tracker->counters().sessions_ended - ended_before;
  state.counters["ended"] = static_cast<double>(ended);
  state.counters["sessions_active"] = b.tracker->counters().sessions_active;
  // Every session fires once in the window: ended, or (kReschedule) moved on.
  SetPerItem(state, mode == FireMode::kEnd ? ended : live, "ns_per_fire");
}
void BM_TrackerAdvanceFiresEnd(benchmark::State& state) {
  TrackerAdvanceFires(state, FireMode::kEnd);
}
void BM_TrackerAdvanceFiresReschedule(benchmark::State& state) {
  TrackerAdvanceFires(state, FireMode::kReschedule);
}
BENCHMARK(BM_TrackerAdvanceFiresEnd)
    ->Arg(1'000'000)
    ->Iterations(kFireTicks)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TrackerAdvanceFiresReschedule)
    ->Arg(1'000'000)
    ->Iterations(kFireTicks)
    ->Unit(benchmark::kMicrosecond);

// Start-up: Tracker::Create() (table, wheel, queues) and its destruction, by
// capacity: what a worker spends before its first packet.
void BM_TrackerCreate(benchmark::State& state) {
  TrackerConfig c;
  c.capacity = static_cast<uint32_t>(state.range(0));
  for (auto _ : state) {
    auto t = Tracker::Create(c);
    benchmark::DoNotOptimize(t);
  }
  // Memory per session (issue 8: <= 192 B): the table (hot + cold entries,
  // index) and everything Create() maps (wheel, queues, contact FIFO).
  const double n = static_cast<double>(c.capacity);
  state.counters["table_bytes_per_session"] =
      static_cast<double>(SessionTable::BytesFor(c.capacity)) / n;
  state.counters["tracker_bytes_per_session"] = static_cast<double>(Tracker::MemoryBytes(c)) / n;
}
BENCHMARK(BM_TrackerCreate)
    ->Arg(1 << 20)
    ->Arg(1'000'000)
    ->Arg(10'000'000)
    ->Unit(benchmark::kMillisecond);

// End of input: FlushSome() until every live session ended, records drained
// as the worker drains them; items = sessions flushed. A capture that ends
// with its table full pays this once, after the last packet.
void BM_TrackerFlushAll(benchmark::State& state) {
  const auto live = static_cast<uint32_t>(state.range(0));
  uint64_t flushed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto b = std::make_unique<Bench>(live, live);
    state.ResumeTiming();
    while (!b->tracker->FlushSome(EndReason::kEndOfInput, b->now)) {
      while (b->tracker->Drain(b->sink)) {
      }
      while (b->tracker->DrainContacts(b->contacts)) {
      }
    }
    while (b->tracker->Drain(b->sink)) {
    }
    flushed += live;
    state.PauseTiming();
    b.reset();
    state.ResumeTiming();
  }
  SetPerItem(state, flushed, "ns_per_session");
}
BENCHMARK(BM_TrackerFlushAll)->Arg(1'000'000)->Iterations(3)->Unit(benchmark::kMillisecond);
}  // namespace
}  // namespace flowtrail::session

BENCHMARK_MAIN();
