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
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "export/segment.h"
#include "flowtrail/v1/session.pb.h"
#include "record/session_record.h"

namespace flowtrail::exporter {

struct StreamInfo {
  std::string sensor_id;
  uint64_t start_time_us = 0;
  std::vector<std::string> inputs;
  // Allow snapshot frames; WriteSnapshot needs it.
  bool snapshots = false;
  // The run's id (StreamHeader.run_id); empty: a fresh NewRunId().
  std::string run_id;
};

// Where encoded bytes of one segment go (a file, stdout, memory): the raw
// destination under SingleSegment() (segment.h). Called once per block, never
// per record; every Write() carries whole frames. Errors are final: the
// writer stops and reports the first one. Sinks that cut a run into segments
// (rotating files, collector links) are SegmentSinks.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual absl::Status Write(std::span<const uint8_t> bytes) = 0;
  // After a failed Write(): how many leading bytes of it reached the
  // destination anyway (a short write before the error), so the writer can
  // count the records that did. 0 when none did or the sink cannot tell.
  virtual size_t failed_write_prefix() const { return 0; }
  virtual absl::Status Flush() = 0;
  virtual absl::Status Close() = 0;
};

// OK if `id` can be a stream's sensor id: at most kMaxSensorIdBytes bytes of
// valid UTF-8 (a proto string, repeated in every record). The error says why.
absl::Status ValidateSensorId(std::string_view id);

// A sink writing to a file ("-" = stdout).
absl::StatusOr<std::unique_ptr<ByteSink>> OpenFileSink(const std::string& path);

class StreamWriter {
 public:
  // Writes one segment onto `sink` (SingleSegment).
  static absl::StatusOr<std::unique_ptr<StreamWriter>> Create(std::unique_ptr<ByteSink> sink,
                                                              const StreamInfo& info);
  // Builds the run's header (schema version 1, revision 3, info, a run id,
  // software version, hostname) and hands it to the sink (Begin). Fails if
  // the sensor id is longer than
  // kMaxSensorIdBytes or not UTF-8 (it is a proto string, repeated in every
  // record). Input names that are not UTF-8 are stored with '?' for bad bytes.
  static absl::StatusOr<std::unique_ptr<StreamWriter>> Create(std::unique_ptr<SegmentSink> sink,
                                                              const StreamInfo& info);
  ~StreamWriter();

  // The run's header (first_sequence unset): sensor id, run id, revision.
  const v1::StreamHeader& header() const { return header_; }

  // Encodes records; hands the buffer to the sink whenever the next frame
  // would not fit in its 64 KiB. After an error (the sink's, returned as is)
  // the writer is stuck and every later call returns that error. A record
  // whose ip_version is neither 4 nor 6 is not written but counted in
  // records_rejected() (and in the trailer's records_dropped).
  absl::Status Append(std::span<const record::SessionRecord> records);
  // Writes one snapshot frame after the records appended so far (the
  // buffered block is handed to the sink first, then the frame in its own
  // write: it may be larger than a block, up to kMaxSnapshotFrameBytes). Needs a
  // writer created with StreamInfo::snapshots. Counted in the trailer's
  // `snapshots`, not in its records. A snapshot over that size, or one that
  // readers would refuse before parsing it (more messages than its bytes
  // allow, SegmentRules::CheckBeforeParse), is not written: ResourceExhausted,
  // and the stream goes on.
  absl::Status WriteSnapshot(const v1::AnalyticsSnapshot& snapshot);
  uint64_t snapshots_written() const;
  // Hands buffered bytes to the sink and flushes it (call periodically).
  absl::Status Flush();
  // Writes the trailer (records_dropped plus records_rejected()), flushes
  // and closes the sink. Destroying a writer
  // without Close() hands buffered records to the sink and closes it, but
  // writes no trailer: readers then see a stream that did not end cleanly.
  absl::Status Close(uint64_t records_dropped, uint64_t end_time_us);

  // Records and bytes that reached the sink's destination: a record still
  // in the writer's block, or in a block the sink's I/O thread has not
  // written yet (SegmentSink::in_flight), is not yet written. After a write
  // error, only the whole record frames that reached the destination before
  // it (failed_write_prefix) count.
  uint64_t records_written() const;
  // True once a sink error has stopped the writer (an over-large snapshot,
  // refused by WriteSnapshot, does not).
  bool failed() const;
  uint64_t bytes_written() const;
  uint64_t records_rejected() const;

 private:
  class Encoder;
  StreamWriter(std::unique_ptr<SegmentSink> sink, std::unique_ptr<Encoder> encoder);
  // Hands the block to the sink, then flushes the sink if asked.
  absl::Status Flush(bool flush_sink);
  std::unique_ptr<SegmentSink> sink_;
  std::unique_ptr<Encoder> encoder_;
  v1::StreamHeader header_;
  uint64_t records_written_ = 0;
  uint64_t bytes_written_ = 0;
};

}  // namespace flowtrail::exporter
