// libFuzzer target: arbitrary bytes into StreamReader, and every record it
// accepts through the three text formats and DecodeRecord. Each input is
// tried three ways so the fuzzer reaches record parsing without first having
// to discover a valid header: as a whole stream; after a valid header frame;
// and as the body of one record frame after a valid header. Segments: after
// the header of a segment that starts at sequence 1000, and as zstd data
// (the input behind zstd's magic number, through the decompressing source
// files are read with). And the input as a frame body through the walk that
// precedes the parse (export/frame_rules.h), against the parse.
#include <cstddef>
#include <cstdint>
#include <string>

#include "export/frame_rules.h"
#include "export/record_encoder.h"
#include "export/stream_format.h"
#include "export/stream_reader.h"
#include "export/zstd_file.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/stubs/logging.h"
#include "tools/record_format.h"

namespace {

using namespace flowtrail;

std::string HeaderFrame(uint64_t first_sequence = 0) {
  v1::Frame f;
  f.mutable_header()->set_schema_version(v1::SCHEMA_VERSION_1);
  f.mutable_header()->set_sensor_id("fuzz");
  if (first_sequence != 0) {
    f.set_sequence(first_sequence - 1);
    f.mutable_header()->set_schema_revision(exporter::kSchemaRevisionSegments);
    f.mutable_header()->set_run_id("0123456789abcdef0123456789abcdef");
    f.mutable_header()->set_first_sequence(first_sequence);
  }
  const std::string body = f.SerializeAsString();
  return std::string(1, static_cast<char>(body.size())) + body;
}

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void ReadAndFormat(std::unique_ptr<exporter::StreamReader> reader, size_t max_offset,
                   const exporter::ReaderOptions& options) {
  std::string out;
  uint64_t records = 0;
  for (;;) {
    absl::StatusOr<const v1::SessionRecord*> r = reader->Next();
    if (!r.ok()) {
      // Errors name a byte offset inside the input.
      Check(reader->error_offset() <= max_offset);
      Check(r.status().message().find("byte ") == 0);
      // ... and stay.
      Check(reader->Next().status() == r.status());
      break;
    }
    if (*r == nullptr) {
      Check(reader->trailer() != nullptr || !options.require_trailer);
      break;
    }
    ++records;
    for (tools::Format f : {tools::Format::kClassic, tools::Format::kJson, tools::Format::kCsv}) {
      out.clear();
      tools::AppendRecord(f, **r, &out);
      // One line per record, whatever the record holds.
      Check(!out.empty() && out.back() == '\n');
      if (f != tools::Format::kCsv) Check(out.find('\n') == out.size() - 1);
    }
    (void)exporter::DecodeRecord(**r);
  }
  Check(records == reader->records_read());
  // A segment's data starts at its header's first_sequence.
  if (records != 0) Check(reader->last_sequence() >= reader->first_sequence());
}

void ReadAndFormat(std::span<const uint8_t> bytes, exporter::ReaderOptions options) {
  ReadAndFormat(exporter::StreamReader::FromBytes(bytes, options), bytes.size(), options);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string header = [] {
    google::protobuf::SetLogHandler(nullptr);  // invalid UTF-8 would log per input
    return HeaderFrame();
  }();
  const std::span<const uint8_t> input(data, size);
  // The walk before the parse never refuses a body the parser accepts, and
  // reads the same sequence and body type.
  {
    exporter::FrameShape shape;
    const bool walked = exporter::WalkFrame(input, UINT64_MAX, &shape);
    v1::Frame f;
    if (f.ParseFromArray(data, static_cast<int>(size))) {
      Check(walked && shape.sequence == f.sequence() && shape.body == f.body_case());
    }
  }
  ReadAndFormat(input, {});
  ReadAndFormat(input, {.max_frame_bytes = 512, .require_trailer = false});

  std::string framed = header;
  framed.append(reinterpret_cast<const char*>(data), size);
  ReadAndFormat({reinterpret_cast<const uint8_t*>(framed.data()), framed.size()}, {});

  // The input as the body of record frame 1: the length, then the bytes.
  framed = header;
  uint8_t len[10];
  const uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(size, len);
  framed.append(reinterpret_cast<const char*>(len), static_cast<size_t>(end - len));
  framed.append(reinterpret_cast<const char*>(data), size);
  ReadAndFormat({reinterpret_cast<const uint8_t*>(framed.data()), framed.size()},
                {.require_trailer = false});

  // A segment that starts in the middle of its run.
  static const std::string segment_header = HeaderFrame(1000);
  framed = segment_header;
  framed.append(reinterpret_cast<const char*>(data), size);
  ReadAndFormat({reinterpret_cast<const uint8_t*>(framed.data()), framed.size()},
                {.require_trailer = false});

  // zstd: the input behind the magic number; offsets are of the
  // decompressed bytes, which are not bounded by the input's size.
  framed.assign("\x28\xb5\x2f\xfd", 4);
  framed.append(reinterpret_cast<const char*>(data), size);
  const exporter::ReaderOptions zopts{.require_trailer = false};
  ReadAndFormat(std::make_unique<exporter::StreamReader>(
                    exporter::MaybeZstdSource(
                        exporter::MemorySource(
                            {reinterpret_cast<const uint8_t*>(framed.data()), framed.size()}),
                        "fuzz"),
                    zopts),
                SIZE_MAX, zopts);
  return 0;
}
