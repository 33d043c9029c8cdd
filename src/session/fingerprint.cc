#include "session/fingerprint.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "common/hash_mix.h"

namespace flowtrail::session {

uint32_t ScalarFingerprint(const uint8_t* p, uint32_t captured, uint32_t payload_len) {
  if (p == nullptr || captured == 0) return 0;
  const uint32_t b0 = p[0];
  const uint32_t b1 = captured > 1 ? p[1] : 0;
  const uint32_t len_class =
      std::min<uint32_t>(15, std::bit_width(std::max(payload_len, captured)));
  const uint32_t n = std::min(captured, kFingerprintMaxBytes);
  uint32_t mean16 = 0;
  if (n > 2) {
    uint32_t sum = 0;
    for (uint32_t i = 2; i < n; ++i) sum += p[i];
    mean16 = sum * 16 / (n - 2);
  }
  const uint32_t fp = (b0 << 24) | (b1 << 16) | (len_class << 12) | mean16;
  return fp == 0 ? 1 : fp;
}

uint64_t SimHash64(const uint8_t* p, uint32_t captured) {
  if (p == nullptr || captured == 0) return 0;
  const uint32_t n = std::min(captured, kFingerprintMaxBytes);
  int32_t votes[64] = {};
  auto vote = [&votes](uint64_t h, int32_t w) {
    for (int bit = 0; bit < 64; ++bit) votes[bit] += ((h >> bit) & 1) ? w : -w;
  };
  if (n < 4) {
    uint32_t v = n << 24;
    for (uint32_t i = 0; i < n; ++i) v |= uint32_t{p[i]} << (8 * i);
    vote(Fmix64(v ^ 0x5bd1e995u), 1);
  } else {
    for (uint32_t i = 0; i + 4 <= n; ++i) {
      uint32_t v;
      std::memcpy(&v, p + i, 4);
      vote(Fmix64(uint64_t{v} * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL), i < 16 ? 2 : 1);
    }
  }
  uint64_t out = 0;
  for (int bit = 0; bit < 64; ++bit) {
    if (votes[bit] > 0) out |= uint64_t{1} << bit;
  }
  return out == 0 ? 1 : out;
}

}  // namespace flowtrail::session
