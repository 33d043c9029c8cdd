// Writes the record stream of proto/flowtrail/v1/session.proto: a header
// frame, then record frames with consecutive sequence numbers, then a trailer,
// each as a varint-length-delimited `Frame`. Runs on the exporter lcore:
// records are encoded with one reused message into a flat buffer and handed
// to the sink a block at a time, never one write() per record.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "session/session_record.h"

namespace flowtrail::exporter {

struct StreamInfo {
  std::string sensor_id;
  uint64_t start_time_us = 0;
  std::vector<std::string> inputs;
};

// Where encoded bytes go. One implementation per destination (file today;
// rotating files and TCP collectors slot in beside it). Called once per block.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual absl::Status Write(std::span<const uint8_t> bytes) = 0;
  virtual absl::Status Flush() = 0;
  virtual absl::Status Close() = 0;
};

// A sink writing to a file ("-" = stdout).
absl::StatusOr<std::unique_ptr<ByteSink>> OpenFileSink(const std::string& path);

class StreamWriter {
 public:
  // Writes the header frame.
  static absl::StatusOr<std::unique_ptr<StreamWriter>> Create(std::unique_ptr<ByteSink> sink,
                                                               const StreamInfo& info);
  ~StreamWriter();

  // Encodes records; hands the buffer to the sink whenever it passes 64 KiB.
  absl::Status Append(std::span<const session::SessionRecord> records);
  // Hands buffered bytes to the sink and flushes it (call periodically).
  absl::Status Flush();
  // Writes the trailer, flushes and closes the sink.
  absl::Status Close(uint64_t records_dropped, uint64_t end_time_us);

  uint64_t records_written() const { return records_written_; }
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  class Encoder;
  StreamWriter(std::unique_ptr<ByteSink> sink, std::unique_ptr<Encoder> encoder);
  std::unique_ptr<ByteSink> sink_;
  std::unique_ptr<Encoder> encoder_;
  uint64_t records_written_ = 0;
  uint64_t bytes_written_ = 0;
};

}  // namespace flowtrail::exporter
