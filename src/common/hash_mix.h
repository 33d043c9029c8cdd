// 64-bit integer finalisers: fixed, so hashes are the same in every process
// (fingerprints in records, sketches merged across sensors), unlike
// absl::Hash. Seed them (xor a key in) where an attacker must not steer them.
#pragma once

#include <cstdint>

namespace flowtrail {

// murmur3's fmix64.
constexpr uint64_t Fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

// splitmix64's finaliser.
constexpr uint64_t SplitMix64Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace flowtrail
