// The collector's storage until the exporter's RotatingFileSink (helper
// "segments") is merged: a SegmentSink writing each segment as a file
// SENSOR_RUNID_FIRSTSEQ.ftr in a directory (.NAME.part while open, renamed
// when closed), cut by size and/or age and wherever a Write does not follow
// the previous one (a segment's sequences are consecutive).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "export/segment.h"

namespace flowtrail::collect {

struct SegmentFileOptions {
  std::string dir;
  uint64_t rotate_bytes = 0;    // 0: no limit
  uint64_t rotate_seconds = 0;  // 0: no limit
};

std::unique_ptr<exporter::SegmentSink> NewSegmentFileSink(SegmentFileOptions options);

}  // namespace flowtrail::collect
