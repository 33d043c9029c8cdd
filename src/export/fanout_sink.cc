#include "export/fanout_sink.h"

namespace flowtrail::exporter {

FanoutSink::FanoutSink(std::unique_ptr<SegmentSink> primary,
                       std::vector<std::unique_ptr<CollectorLink>> links)
    : primary_(std::move(primary)), links_(std::move(links)) {}

FanoutSink::~FanoutSink() = default;

absl::Status FanoutSink::Begin(const v1::StreamHeader& run_header) {
  for (auto& l : links_) {
    if (absl::Status s = l->Begin(run_header); !s.ok()) return s;
  }
  return primary_ ? primary_->Begin(run_header) : absl::OkStatus();
}

absl::Status FanoutSink::Write(std::span<const uint8_t> frames, const BlockInfo& info) {
  for (auto& l : links_) (void)l->Write(frames, info);  // never fails
  return primary_ ? primary_->Write(frames, info) : absl::OkStatus();
}

absl::Status FanoutSink::WriteBlock(std::unique_ptr<uint8_t[]>* block, size_t size,
                                    const BlockInfo& info) {
  for (auto& l : links_) (void)l->Write(std::span<const uint8_t>(block->get(), size), info);
  return primary_ ? primary_->WriteBlock(block, size, info) : absl::OkStatus();
}

size_t FanoutSink::failed_write_prefix() const {
  return primary_ ? primary_->failed_write_prefix() : 0;
}

absl::Status FanoutSink::Flush() { return primary_ ? primary_->Flush() : absl::OkStatus(); }

absl::Status FanoutSink::Sync() { return primary_ ? primary_->Sync() : absl::OkStatus(); }

absl::Status FanoutSink::End(const StreamEnd& end) {
  for (auto& l : links_) l->StartEnd(end);
  absl::Status s = primary_ ? primary_->End(end) : absl::OkStatus();
  for (auto& l : links_) (void)l->WaitEnd();
  return s;
}

absl::Status FanoutSink::Abort() {
  for (auto& l : links_) (void)l->Abort();
  return primary_ ? primary_->Abort() : absl::OkStatus();
}

SegmentSink::InFlight FanoutSink::in_flight() const {
  return primary_ ? primary_->in_flight() : InFlight{};
}

uint64_t FanoutSink::framing_bytes() const { return primary_ ? primary_->framing_bytes() : 0; }

}  // namespace flowtrail::exporter
