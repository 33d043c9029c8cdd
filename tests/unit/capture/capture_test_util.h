// Reading a whole capture into copies, for assertions.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "capture/capture_file.h"
#include "capture_builder.h"

namespace flowtrail::capture::test {

struct Frame {
  Bytes data;
  uint32_t wire_len = 0;
  uint64_t ts_us = 0;
  uint16_t link_type = 0;
  uint32_t interface_id = 0;
  uint64_t end_offset = 0;  // offset() after it
};

struct ReadResult {
  std::vector<Frame> frames;
  ReadStatus status = ReadStatus::kFrame;
  uint64_t offset = 0;
  std::string error;
};

inline ReadResult ReadAll(CaptureFile& f) {
  ReadResult r;
  CaptureFrame cf;
  while ((r.status = f.Next(&cf)) == ReadStatus::kFrame) {
    Frame fr;
    fr.data.assign(cf.data, cf.data + cf.caplen);
    fr.wire_len = cf.wire_len;
    fr.ts_us = cf.ts_us;
    fr.link_type = cf.link_type;
    fr.interface_id = cf.interface_id;
    fr.end_offset = f.offset();
    r.frames.push_back(std::move(fr));
  }
  r.offset = f.offset();
  r.error = f.error();
  return r;
}

// Opens `bytes` from memory; fails the test (and returns null) when Open fails.
inline std::unique_ptr<CaptureFile> OpenOrFail(const Bytes& bytes) {
  auto f = CaptureFile::OpenMemory(bytes, "test");
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? std::move(*f) : nullptr;
}

inline ReadResult ReadBytes(const Bytes& bytes) {
  auto f = OpenOrFail(bytes);
  if (f == nullptr) return {};
  return ReadAll(*f);
}

}  // namespace flowtrail::capture::test
