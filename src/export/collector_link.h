// A link to one collector (`--collector HOST:PORT`): the SegmentSink the
// exporter writes to, and the control thread that carries its blocks to the
// collector (proto/flowtrail/v1/session.proto, CollectorAck).
//
// Write() runs on the exporter lcore and never blocks or does I/O: it copies
// the block into a bounded lock-free single-producer/single-consumer ring
// and returns; a full ring drops the block, counted by its records. The
// link's own std::thread does everything else:
//   - connect with capped, jittered exponential backoff; TLS 1.2+ with mutual
//     certificates (OpenSSL), plaintext only to a loopback peer or when
//     allowed (--insecure);
//   - per connection one segment: SegmentFramer::Open(first unacknowledged
//     sequence), the data frames from there, a trailer at a clean End();
//   - read and validate CollectorAck messages (<= 4 KiB, run_id, durable
//     sequence within what was sent and never decreasing; a bad one closes the
//     connection and is counted), trim acknowledged blocks;
//   - hold unacknowledged blocks in memory (half of --collector-queue; the
//     ring is the other half; a block larger than a half, a big snapshot,
//     enters the ring, and then the memory, while each is at most half
//     full, so each half exceeds its bound by at most that one frame)
//     and spill the overflow to a directory, up to
//     the spill budget, replayed in order; beyond it blocks are dropped and
//     their records counted. A dropped block is a gap: the segment on the
//     connection ends (after its frames are acknowledged) and a new
//     connection opens a segment after the gap, so every segment is
//     consecutive as the collector checks.
// End() hands the trailer's counts to the thread and waits (at most the
// drain timeout) until everything queued and spilled is acknowledged. What is
// left is counted as undelivered and stays in the run's spill directory
// (<spill-dir>/<host>_<port>/<run_id>/: one file per block, the blocks still
// in memory written there too within the budget, the run's header, and its
// end if it ended cleanly). A later run's link to the same collector replays
// every such earlier run first, each as segments of that run (its own run id
// and sequences, the trailer if it ended cleanly), deletes what is
// acknowledged, then carries its own; a run directory is locked (flock) by
// the process whose run it is or which replays it, so two sensors sharing a
// spill directory never replay each other's live runs. An earlier run the
// collector refuses is left on disk and does not hold the current run back.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "export/segment.h"

namespace flowtrail::exporter {

struct CollectorLinkOptions {
  std::string host;
  uint16_t port = 0;
  // TLS with mutual certificates when all three are set (PEM files; the CA
  // verifies the collector, whose certificate must name `host`).
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // Plaintext to a peer that is not loopback (--insecure).
  bool insecure = false;
  uint64_t queue_bytes = uint64_t{64} << 20;  // in memory: ring + unacknowledged blocks
  std::string spill_dir;                      // "" = no spill (overflow is dropped)
  uint64_t spill_budget = 0;                  // bytes of blocks on disk
  uint32_t drain_timeout_ms = 10'000;         // End(): the longest wait for acks
  uint32_t backoff_min_ms = 100;              // reconnect delay, doubled per failure...
  uint32_t backoff_max_ms = 5'000;            // ...up to this, each with +-25% jitter
  uint32_t connect_timeout_ms = 5'000;        // TCP connect + TLS handshake
};

// Written by the link's thread (and Write() for the drops), read anywhere
// with relaxed loads.
struct CollectorLinkCounters {
  using C = std::atomic<uint64_t>;
  C connected{0};         // 1 while a segment is open on a connection
  C connects{0};          // connections established (handshake done)
  C reconnects{0};        // connections after the first
  C connect_failures{0};  // TCP connect failures and timeouts
  C tls_failures{0};      // handshakes that failed (peer refused or not verified)
  C bad_acks{0};          // acks that closed the connection (malformed, wrong run, range)
  C refusals{0};          // acks with `error` set
  C bytes_sent{0};        // data frame bytes (framing excluded), resends included
  C frames_sent{0};
  C records_sent{0};
  C acked_sequence{0};       // highest data frame sequence acknowledged
  C records_acked{0};        // records of the blocks trimmed by acks
  C queued_bytes{0};         // in memory: ring + unacknowledged blocks
  C spilled_bytes{0};        // on disk now
  C spilled_total{0};        // bytes ever written to the spill
  C records_dropped{0};      // records of blocks that fit neither in memory nor the spill
  C frames_dropped{0};       // their frames (records and snapshots)
  C records_undelivered{0};  // left unacknowledged when End() gave up
  C replayed_records{0};     // records of earlier runs' spill acknowledged
  C spill_errors{0};         // spill writes or reads that failed (the block is dropped)
  C blocks_taken{0};         // blocks the thread has taken from the ring
};

class CollectorLink final : public SegmentSink {
 public:
  // Checks the options (plaintext to a non-loopback peer without insecure,
  // unreadable certificates, a spill directory that cannot be made) and
  // resolves nothing else yet: the thread starts at Begin().
  static absl::StatusOr<std::unique_ptr<CollectorLink>> Create(CollectorLinkOptions options);
  ~CollectorLink() override;

  absl::Status Begin(const v1::StreamHeader& run_header) override;
  // Never fails and never blocks: queued, or dropped and counted.
  absl::Status Write(std::span<const uint8_t> frames, const BlockInfo& info) override;
  absl::Status Flush() override { return absl::OkStatus(); }
  // Starts the final drain without waiting (FanoutSink ends its links in
  // parallel); End() = StartEnd() + WaitEnd().
  void StartEnd(const StreamEnd& end);
  // Waits for the drain (at most the drain timeout) and stops the thread.
  // Always OK: a link never fails the stream, its losses are counted.
  absl::Status WaitEnd();
  absl::Status End(const StreamEnd& end) override;
  absl::Status Abort() override;

  const CollectorLinkCounters& counters() const;
  std::shared_ptr<const CollectorLinkCounters> shared_counters() const;
  const CollectorLinkOptions& options() const;
  // "host:port", for logs and the status line.
  std::string name() const;

  class Impl;

 private:
  explicit CollectorLink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Parses "HOST:PORT" ("[v6]:PORT" for IPv6 literals).
absl::Status ParseHostPort(const std::string& spec, std::string* host, uint16_t* port);

}  // namespace flowtrail::exporter
