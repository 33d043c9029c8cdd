// libFuzzer target: arbitrary bytes into the collector's FrameDecoder, cut
// into chunks at places the input itself chooses, as a peer's stream would
// arrive. The decoder must give the stream reader's verdict (same records,
// same error) whatever the cuts, and hold no more than the bytes it was
// given. Tried as a whole stream and after a valid header frame, so the
// fuzzer reaches the data frames.
#include <cstddef>
#include <cstdint>
#include <string>

#include "collect/frame_decoder.h"
#include "export/stream_reader.h"
#include "google/protobuf/stubs/logging.h"

namespace {

using namespace flowtrail;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

std::string HeaderFrame() {
  v1::Frame f;
  f.mutable_header()->set_schema_version(v1::SCHEMA_VERSION_1);
  f.mutable_header()->set_sensor_id("fuzz");
  const std::string body = f.SerializeAsString();
  return std::string(1, static_cast<char>(body.size())) + body;
}

void DecodeChunked(std::span<const uint8_t> bytes, uint8_t seed) {
  exporter::StreamContents want =
      exporter::ReadStreamBytes(bytes, {.require_trailer = false});
  collect::FrameDecoder d;
  uint64_t records = 0;
  uint64_t next = 0;
  absl::Status st;
  size_t i = 0;
  uint32_t state = seed * 2654435761u + 1;
  while (i < bytes.size() && st.ok()) {
    state = state * 1103515245u + 12345u;
    const size_t n = std::min(bytes.size() - i, static_cast<size_t>(1 + (state >> 16) % 97));
    st = d.Feed(bytes.subspan(i, n), [&](const collect::DecodedFrame& f) {
      // Frames come out whole, in order, within the input.
      Check(f.wire.size() >= 2 && f.wire.size() <= bytes.size());
      if (f.body != v1::Frame::kHeader) {
        Check(next == 0 || f.sequence == next);
        next = f.sequence + 1;
      }
      records += f.body == v1::Frame::kRecord;
      return absl::OkStatus();
    });
    i += n;
    Check(d.buffered() <= i);
  }
  if (st.ok()) st = d.Finish();
  Check(st == want.status);
  Check(records == want.records.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string header = [] {
    google::protobuf::SetLogHandler(nullptr);
    return HeaderFrame();
  }();
  const uint8_t seed = size > 0 ? data[0] : 0;
  DecodeChunked({data, size}, seed);
  std::string framed = header;
  framed.append(reinterpret_cast<const char*>(data), size);
  DecodeChunked({reinterpret_cast<const uint8_t*>(framed.data()), framed.size()}, seed);
  return 0;
}
