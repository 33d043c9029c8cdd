// A SegmentSink that writes a run as segment files in a directory, one
// complete segment (header, data frames, trailer) per file, cut by size
// and/or age. Used by the sensor (--output-dir) and by `flowtrail collect`
// (one sink per sensor connection): it knows nothing of either.
//
// File naming (docs/record-stream.md):
//
//   SENSOR_RUNID_FIRSTSEQ_UTCTIME.ftr        a closed segment
//   SENSOR_RUNID_FIRSTSEQ_UTCTIME-N.ftr      the same name already existed
//   .SENSOR_RUNID_FIRSTSEQ_UTCTIME.ftr.part  the segment being written
//   ...ftr.zst                               a closed segment, zstd-compressed
//
// SENSOR is the sensor id with every byte outside [A-Za-z0-9.-] replaced by
// '-' (at most 64 bytes; "sensor" if empty), RUNID the run id sanitized the
// same way, FIRSTSEQ the first data sequence of the segment as 20 zero-padded
// decimal digits (so names sort by sequence), UTCTIME the wall-clock time
// the segment was opened, YYYYMMDDTHHMMSSZ. A file gets its final name
// (rename, then an fsync of the directory) only once its trailer is written
// and fsync'd: a crash leaves at most the open segment as a .part file, a
// valid segment without trailer (possibly ending in a partial frame).
//
// Rotation happens only between Write() calls (every Write is whole frames):
// before a Write that would take the file past rotate_bytes (a segment holds
// at least one Write, so a block larger than the limit gets a file of its
// own), and at a Write or Flush once the segment is rotate_seconds old (wall
// clock: records carry no time the sink could use). A segment opens lazily
// at the first Write after Begin or a rotation, so a run's files are never
// empty; a Write whose first_sequence does not follow the open segment's
// last frame (a collector receiving a resent or skipped range) starts a new
// segment, since a segment's sequences are consecutive.
//
// Compression (Compression::kZstd): a closed file is compressed by a
// background thread into NAME.ftr.zst (written as .NAME.ftr.zst.part,
// fsync'd, renamed, then the plain file is removed). End() and Abort() wait
// for the files already queued, so when they return every closed segment of
// the sink is compressed. A process killed before that leaves plain .ftr
// files, complete and valid.
//
// Not thread-safe: one thread calls the SegmentSink methods (the compression
// thread only touches closed files).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "export/segment.h"

namespace flowtrail::exporter {

enum class Compression { kNone, kZstd };

// "none" or "zstd".
absl::StatusOr<Compression> ParseCompression(std::string_view name);

struct RotatingFileOptions {
  std::string dir;              // must exist and be writable
  uint64_t rotate_bytes = 0;    // 0: no size limit
  uint64_t rotate_seconds = 0;  // 0: no age limit
  Compression compression = Compression::kNone;
  int zstd_level = 3;
  // fsync each file before its rename and the directory after it. Off only
  // in tests and benchmarks that do not care about crashes.
  bool fsync_on_close = true;
  // Wall clock in microseconds since the epoch (tests inject one).
  std::function<uint64_t()> now_us;
};

// The file-name piece for a sensor or run id: bytes outside [A-Za-z0-9.-]
// become '-', at most 64 bytes, "sensor" for an empty id.
std::string SanitizeFileNamePart(std::string_view id);

// The final name (no directory) of a segment file.
std::string SegmentFileName(std::string_view sensor_id, std::string_view run_id,
                            uint64_t first_sequence, uint64_t open_time_us);

class RotatingFileSink final : public SegmentSink {
 public:
  static absl::StatusOr<std::unique_ptr<RotatingFileSink>> Create(RotatingFileOptions options);
  ~RotatingFileSink() override;

  absl::Status Begin(const v1::StreamHeader& run_header) override;
  absl::Status Write(std::span<const uint8_t> frames, const BlockInfo& info) override;
  size_t failed_write_prefix() const override { return failed_prefix_; }
  absl::Status Flush() override;
  // Flush, fsync the open file, and fsync the directory once per file (so
  // the .part entry itself survives a crash).
  absl::Status Sync() override;
  absl::Status End(const StreamEnd& end) override;
  // Closes the open segment without a trailer. It still gets its final name
  // (a .part name would hide it from `flowtrail cat DIR/*`); readers see a
  // segment that did not end cleanly. It is not compressed. After a failed
  // write it is first cut back to its last whole frame (removed if not even
  // its header got through; left as .part, with the error, if the cut fails).
  absl::Status Abort() override;
  uint64_t framing_bytes() const override { return framing_bytes_; }

  // The records_dropped a rotation's trailer reports (the run's total so
  // far; End() gives the final one). 0 unless the owner says.
  void set_records_dropped(uint64_t n) { records_dropped_ = n; }

  // Final plain paths of the files closed so far, in closing order (with
  // compression, PATH.zst replaces PATH once WaitForCompression() returns).
  std::vector<std::string> closed_files() const;
  // Path of the open segment's .part file, empty if none is open.
  const std::string& open_file() const { return part_path_; }
  // Blocks until the compression thread has handled every queued file;
  // returns its first error.
  absl::Status WaitForCompression();

 private:
  class Compressor;
  explicit RotatingFileSink(RotatingFileOptions options);
  uint64_t Now() const;
  absl::Status OpenSegment(uint64_t first_sequence);
  // Writes the trailer (when `trailer`), fsyncs, closes and renames.
  absl::Status CloseSegment(bool trailer, uint64_t end_time_us);
  absl::Status WriteAll(const uint8_t* p, size_t n);
  bool Due(size_t next_write) const;

  RotatingFileOptions options_;
  std::unique_ptr<SegmentFramer> framer_;
  std::unique_ptr<Compressor> compressor_;
  int fd_ = -1;
  int dir_fd_ = -1;
  std::string part_path_;   // the open segment's temporary path
  std::string final_path_;  // its name once closed
  uint64_t file_bytes_ = 0;
  uint64_t whole_bytes_ = 0;  // where the open file's last whole frame ends
  uint64_t opened_us_ = 0;
  bool dir_synced_ = false;  // the open .part's entry was fsync'd
  bool ended_ = false;
  bool failed_ = false;
  uint64_t records_dropped_ = 0;
  uint64_t framing_bytes_ = 0;
  size_t failed_prefix_ = 0;
  std::vector<std::string> closed_;  // plain final paths
};

// The sensor's record output: one file (`file`, "-" = stdout) as a single
// segment, or rotating segment files in `dir` (exactly one of the two set),
// behind an AsyncSegmentSink: its I/O runs on a thread of its own.
struct RunOutputOptions {
  std::string file;
  std::string dir;
  uint64_t rotate_bytes = 0;
  uint64_t rotate_seconds = 0;
  bool compress_zstd = false;
};
absl::StatusOr<std::unique_ptr<SegmentSink>> OpenRunOutput(const RunOutputOptions& options);

}  // namespace flowtrail::exporter
