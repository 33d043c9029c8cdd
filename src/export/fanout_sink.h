// A SegmentSink that hands every block to a primary sink and to collector
// links (--output combined with --collector). The primary (the file output)
// behaves as it does alone: its errors are final for the stream. The links
// never fail the stream: they queue, spill or drop and count (collector_link.h).
#pragma once

#include <memory>
#include <vector>

#include "export/collector_link.h"
#include "export/segment.h"

namespace flowtrail::exporter {

class FanoutSink final : public SegmentSink {
 public:
  // `primary` may be null (collectors only).
  FanoutSink(std::unique_ptr<SegmentSink> primary,
             std::vector<std::unique_ptr<CollectorLink>> links);
  ~FanoutSink() override;

  absl::Status Begin(const v1::StreamHeader& run_header) override;
  // The links first (a copy each, never blocking), then the primary.
  absl::Status Write(std::span<const uint8_t> frames, const BlockInfo& info) override;
  // The same; the primary may keep the block (AsyncSegmentSink).
  absl::Status WriteBlock(std::unique_ptr<uint8_t[]>* block, size_t size,
                          const BlockInfo& info) override;
  size_t failed_write_prefix() const override;
  absl::Status Flush() override;
  absl::Status Sync() override;
  // Ends the primary, then drains the links in parallel (each at most its
  // drain timeout).
  absl::Status End(const StreamEnd& end) override;
  absl::Status Abort() override;
  uint64_t framing_bytes() const override;
  InFlight in_flight() const override;

  const std::vector<std::unique_ptr<CollectorLink>>& links() const { return links_; }

 private:
  std::unique_ptr<SegmentSink> primary_;
  std::vector<std::unique_ptr<CollectorLink>> links_;
};

}  // namespace flowtrail::exporter
