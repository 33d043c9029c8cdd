// Reads a whole capture file with libpcap for tests (no DPDK).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace flowtrail::testing {

struct CapturedFrame {
  uint64_t ts_us = 0;
  uint32_t wire_len = 0;
  std::vector<uint8_t> bytes;  // caplen bytes
};

// Returns false and sets *error if the file cannot be opened or read. Frames
// read before an error are kept in *frames.
bool ReadPcap(const std::string& path, std::vector<CapturedFrame>* frames, std::string* error);

// ../shared/captures relative to the source tree, or "" when absent.
std::string SharedCapturesDir();

}  // namespace flowtrail::testing
