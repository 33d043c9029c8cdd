// Per-lcore counters: one cache-aligned block per lcore, written only by the
// lcore that owns it (relaxed stores, no read-modify-write across cores) and
// read by the main lcore for the status line, the summary and --stats-json.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "packet/parser.h"

namespace flowtrail::dataplane {

using Counter = std::atomic<uint64_t>;

inline void Set(Counter& c, uint64_t v) { c.store(v, std::memory_order_relaxed); }
inline uint64_t Get(const Counter& c) { return c.load(std::memory_order_relaxed); }
// Increment by the single writer: a load and a store, no locked instruction.
inline void Bump(Counter& c, uint64_t n = 1) { Set(c, Get(c) + n); }

struct alignas(64) WorkerCounters {
  Counter packets{0};  // frames taken by this worker
  // Frames by parse result (index = packet::ParseResult; kOk unused): the
  // class of each (malformed = bad, non-IP, later fragment, snapped headers)
  // is parser.h's.
  std::array<Counter, packet::kParseResultCount> by_result{};
  Counter snapped{0};  // frames the capture cut (caplen < wire length), parsed or not
  Counter sessions_created{0};
  Counter sessions_ended{0};
  Counter sessions_evicted{0};
  Counter sessions_active{0};
  Counter interim_records{0};
  Counter fragments{0};
  Counter later_fragments_unattributed{0};  // first fragment unknown: only counted
  Counter fragment_overlap_bytes{0};        // duplicate/overlapping fragment bytes not counted
  Counter implausible_sequence{0};          // TCP segments/ACKs beyond any plausible window
  Counter ftp_announcements_ignored{0};     // forged-looking FTP announcements not taken
  Counter tracker_records_dropped{0};       // tracker output queue full
  Counter records_out{0};                   // records handed to the exporter ring
  Counter contacts{0};                      // first-contact events the tracker decided
  Counter contacts_dropped{0};  // lost: tracker queue full (ring backed up) or FIFO full
  Counter contacts_out{0};      // handed to the analytics lcore's contact ring
  Counter max_time_us{0};       // latest capture time read (direct readers)
  Counter clock_us{0};          // the tracker's clock
};

struct alignas(64) DispatcherCounters {
  Counter packets{0};       // frames read and handed to workers
  Counter unparsed{0};      // frames the parser refused, sent to worker 0 to be counted
  Counter ring_drops{0};    // worker ring full in live mode (mbuf freed)
  Counter backpressure{0};  // polls spent waiting for a full worker ring (capture mode)
  Counter pool_waits{0};    // polls skipped because the mbuf pool was low (capture mode)
  Counter max_time_us{0};   // latest capture time read
};

struct alignas(64) ExporterCounters {
  Counter records_written{0};
  Counter bytes_written{0};
  Counter write_errors{0};
  Counter snapshots_written{0};
  Counter snapshots_too_large{0};  // over kMaxSnapshotFrameBytes, not written
};

struct alignas(64) AnalyticsCounters {
  Counter records{0};
  Counter contacts{0};  // first-contact events consumed
  Counter live_scanners{0};
  Counter snapshots{0};          // snapshot frames handed to the exporter
  Counter snapshots_dropped{0};  // interval snapshots skipped: the exporter's ring was full
  Counter snapshot_errors{0};    // tables that could not be saved
};

}  // namespace flowtrail::dataplane
