// Byte counts as operators type them: digits with an optional k, M or G
// suffix (powers of 1024), for the sensor's and the reports' memory options.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/numbers.h"

namespace flowtrail {

// False unless `text` is such a count that fits in 64 bits.
inline bool ParseByteSize(std::string_view text, uint64_t* out) {
  uint64_t mul = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'k':
      case 'K':
        mul = uint64_t{1} << 10;
        break;
      case 'm':
      case 'M':
        mul = uint64_t{1} << 20;
        break;
      case 'g':
      case 'G':
        mul = uint64_t{1} << 30;
        break;
      default:
        break;
    }
    if (mul != 1) text.remove_suffix(1);
  }
  uint64_t n = 0;
  if (!absl::SimpleAtoi(std::string(text), &n) || n > UINT64_MAX / mul) {
    return false;
  }
  *out = n * mul;
  return true;
}

}  // namespace flowtrail
