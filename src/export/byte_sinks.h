// ByteSinks that stay in memory: for tests, benchmarks and tools that build a
// stream before sending it somewhere. OpenFileSink (stream_writer.h) is the
// production one.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "export/stream_writer.h"

namespace flowtrail::exporter {

// Appends every block to a string the caller owns (and keeps alive).
class MemorySink final : public ByteSink {
 public:
  explicit MemorySink(std::string* out) : out_(out) {}
  absl::Status Write(std::span<const uint8_t> bytes) override {
    if (closed_) return absl::FailedPreconditionError("write to a closed MemorySink");
    out_->append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return absl::OkStatus();
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  absl::Status Close() override {
    closed_ = true;
    return absl::OkStatus();
  }

 private:
  std::string* out_;
  bool closed_ = false;
};

// Discards the bytes, counting them (benchmarks).
class NullSink final : public ByteSink {
 public:
  absl::Status Write(std::span<const uint8_t> bytes) override {
    bytes_ += bytes.size();
    ++writes_;
    return absl::OkStatus();
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  absl::Status Close() override { return absl::OkStatus(); }
  uint64_t bytes() const { return bytes_; }
  uint64_t writes() const { return writes_; }

 private:
  uint64_t bytes_ = 0;
  uint64_t writes_ = 0;
};

}  // namespace flowtrail::exporter
