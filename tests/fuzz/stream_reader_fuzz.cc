// libFuzzer target: arbitrary bytes into StreamReader, and every record it
// accepts through the three text formats and DecodeRecord. Each input is
// tried three ways so the fuzzer reaches record parsing without first having
// to discover a valid header: as a whole stream; after a valid header frame;
// and as the body of one record frame after a valid header.
#include <cstddef>
#include <cstdint>
#include <string>

#include "export/record_encoder.h"
#include "export/stream_reader.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/stubs/logging.h"
#include "tools/record_format.h"

namespace {

using namespace flowtrail;

std::string HeaderFrame() {
  v1::Frame f;
  f.mutable_header()->set_schema_version(v1::SCHEMA_VERSION_1);
  f.mutable_header()->set_sensor_id("fuzz");
  const std::string body = f.SerializeAsString();
  return std::string(1, static_cast<char>(body.size())) + body;
}

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void ReadAndFormat(std::span<const uint8_t> bytes, exporter::ReaderOptions options) {
  auto reader = exporter::StreamReader::FromBytes(bytes, options);
  std::string out;
  uint64_t records = 0;
  for (;;) {
    absl::StatusOr<const v1::SessionRecord*> r = reader->Next();
    if (!r.ok()) {
      // Errors name a byte offset inside the input.
      Check(reader->error_offset() <= bytes.size());
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
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string header = [] {
    google::protobuf::SetLogHandler(nullptr);  // invalid UTF-8 would log per input
    return HeaderFrame();
  }();
  const std::span<const uint8_t> input(data, size);
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
  return 0;
}
