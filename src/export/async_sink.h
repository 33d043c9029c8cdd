// A SegmentSink that moves another sink's I/O (the --output file, rotating
// files with their fsyncs, renames and zstd hand-off) onto its own thread, so
// the exporter lcore only encodes: the disk never blocks its polling loop.
//
// The writer's 64 KiB blocks change hands without a copy (WriteBlock): the
// filled block goes onto a single-producer/single-consumer command ring and a
// free one of a fixed set comes back (no allocation per block). The thread
// sleeps while nothing is queued; the exporter wakes it (one futex syscall)
// when a quarter of the set waits, or for any other command, so a flowing
// stream costs a wake per several blocks and the set keeps the exporter
// clear of scheduling delays of the thread (32 blocks: ~1.5 ms at 7 M
// records/s); fewer blocks wait for the next Flush (the exporter's, every
// 100 ms) and count in in_flight() until then. When every block of the set is still waiting for the
// disk, WriteBlock waits for one (spinning briefly, then sleeping until the thread frees one) and
// counts the wait (full_waits()): the exporter falls behind, the workers never stall (a full record
// ring drops and counts, as before). Other writes (a snapshot frame, up to 64 MiB) are copied, once
// each.
//
// Errors of the inner sink are final, as for any sink: the first one is
// returned by the next call on the writer's side and everything after it is
// refused. in_flight() says exactly which records and bytes were accepted
// but never reached the destination (whole frames before a short write do
// count), so the writer's records_written() stays exact.
//
// Flush() is queued (the inner sink's Flush runs on the thread, rotation by
// age included); Sync(), End() and Abort() wait until the thread has done
// everything queued before them, so at End() every block is written and
// the inner sink's End (trailer, fsync, rename) has returned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "export/segment.h"

namespace flowtrail::exporter {

class AsyncSegmentSink final : public SegmentSink {
 public:
  // `blocks`: how many kBlockBytes blocks may wait for the disk (2 to 64).
  explicit AsyncSegmentSink(std::unique_ptr<SegmentSink> inner, size_t blocks = 32);
  ~AsyncSegmentSink() override;

  absl::Status Begin(const v1::StreamHeader& run_header) override;
  absl::Status Write(std::span<const uint8_t> frames, const BlockInfo& info) override;
  absl::Status WriteBlock(std::unique_ptr<uint8_t[]>* block, size_t size,
                          const BlockInfo& info) override;
  absl::Status Flush() override;
  absl::Status Sync() override;
  absl::Status End(const StreamEnd& end) override;
  absl::Status Abort() override;
  uint64_t framing_bytes() const override;
  InFlight in_flight() const override;

  // Times WriteBlock found every block of the set in flight and waited.
  uint64_t full_waits() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace flowtrail::exporter
