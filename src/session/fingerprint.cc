#include "session/fingerprint.h"

#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cstring>

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
    // The byte sum 16 at a time (SSE2's psadbw: baseline on x86-64).
    uint32_t sum = 0, i = 2;
    __m128i acc = _mm_setzero_si128();
    for (; i + 16 <= n; i += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      acc = _mm_add_epi64(acc, _mm_sad_epu8(v, _mm_setzero_si128()));
    }
    sum = static_cast<uint32_t>(_mm_cvtsi128_si32(acc) + _mm_extract_epi16(acc, 4));
    for (; i < n; ++i) sum += p[i];
    mean16 = sum * 16 / (n - 2);
  }
  const uint32_t fp = (b0 << 24) | (b1 << 16) | (len_class << 12) | mean16;
  return fp == 0 ? 1 : fp;
}

namespace fingerprint_internal {
namespace {

constexpr uint32_t kM1 = 0x9e3779b1u;
constexpr uint32_t kM2 = 0x85ebca6bu;
constexpr uint32_t kM3 = 0xc2b2ae35u;
constexpr uint32_t kHeavyShingles = 16;  // shingles 0..15 vote twice
// Bit planes of a count of weighted votes: at most 253 + 16 < 2^9.
constexpr int kCountBits = 9;

// The shingle hash of the header's definition, in 32-bit lanes so that
// SIMD computes it lane for lane.
inline uint64_t ShingleHash(uint32_t v) {
  uint32_t x = v * kM1;
  x ^= x >> 15;
  uint32_t lo = x * kM2;
  lo ^= lo >> 13;
  uint32_t hi = x * kM3;
  hi ^= hi >> 16;
  return (uint64_t{hi} << 32) | lo;
}

inline uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Fewer than 4 bytes: one feature of the bytes and their count.
inline uint64_t ShortSimHash(const uint8_t* p, uint32_t n) {
  uint32_t v = n << 24;
  for (uint32_t i = 0; i < n; ++i) v |= uint32_t{p[i]} << (8 * i);
  const uint64_t h = ShingleHash(v);
  return h == 0 ? 1 : h;
}

inline uint32_t TotalWeight(uint32_t shingles) {
  return shingles + std::min(shingles, kHeavyShingles);
}

// Bit b of the result is set when count_b (bit-sliced, kCountBits planes)
// exceeds half the total weight, i.e. when 2 * count_b > weight.
inline uint64_t Majority(const uint64_t* count, uint32_t weight) {
  const uint32_t threshold = weight / 2;
  uint64_t greater = 0, equal = ~uint64_t{0};
  for (int k = kCountBits - 1; k >= 0; --k) {
    // Branch-free: the threshold differs per payload length.
    const uint64_t t = -static_cast<uint64_t>((threshold >> k) & 1);
    greater |= equal & count[k] & ~t;
    equal &= ~(count[k] ^ t);
  }
  return greater == 0 ? 1 : greater;
}

// Carry-save adder: (h, l) = the two-bit sum of a + b + c per bit.
inline void Csa(uint64_t& h, uint64_t& l, uint64_t a, uint64_t b, uint64_t c) {
  const uint64_t u = a ^ b;
  h = (a & b) | (u & c);
  l = u ^ c;
}

// Per bit position, the count of the hashes with the bit set, as bit planes
// (Harley-Seal: ones, twos and fours run, eights ripple up).
struct ScalarCounter {
  uint64_t plane[kCountBits] = {};  // weights 1, 2, 4, ..., 256

  void Add8(const uint64_t* w) {
    uint64_t twos_a, twos_b, fours_a, fours_b, eights;
    Csa(twos_a, plane[0], plane[0], w[0], w[1]);
    Csa(twos_b, plane[0], plane[0], w[2], w[3]);
    Csa(fours_a, plane[1], plane[1], twos_a, twos_b);
    Csa(twos_a, plane[0], plane[0], w[4], w[5]);
    Csa(twos_b, plane[0], plane[0], w[6], w[7]);
    Csa(fours_b, plane[1], plane[1], twos_a, twos_b);
    Csa(eights, plane[2], plane[2], fours_a, fours_b);
    Ripple(3, eights);
  }
  void Add1(uint64_t w) { Ripple(0, w); }
  void Ripple(int from, uint64_t carry) {
    for (int k = from; k < kCountBits; ++k) {
      const uint64_t t = plane[k] & carry;
      plane[k] ^= carry;
      carry = t;
    }
  }
};

}  // namespace

uint64_t SimHash64Portable(const uint8_t* p, uint32_t captured) {
  if (p == nullptr || captured == 0) return 0;
  const uint32_t n = std::min(captured, kFingerprintMaxBytes);
  if (n < 4) return ShortSimHash(p, n);
  const uint32_t shingles = n - 3;
  ScalarCounter counter;
  uint32_t i = 0;
  for (; i + 8 <= shingles; i += 8) {
    uint64_t w[8];
    for (uint32_t k = 0; k < 8; ++k) w[k] = ShingleHash(Load32(p + i + k));
    counter.Add8(w);
    if (i < kHeavyShingles) counter.Add8(w);
  }
  for (; i < shingles; ++i) {
    const uint64_t h = ShingleHash(Load32(p + i));
    counter.Add1(h);
    if (i < kHeavyShingles) counter.Add1(h);
  }
  return Majority(counter.plane, TotalWeight(shingles));
}

namespace {

#define FT_AVX2 __attribute__((target("avx2"), always_inline)) inline

FT_AVX2 void Csa(__m256i& h, __m256i& l, __m256i a, __m256i b, __m256i c) {
  const __m256i u = _mm256_xor_si256(a, b);
  h = _mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(u, c));
  l = _mm256_xor_si256(u, c);
}

// Per 64-bit lane, per bit position: a count of the hashes with the bit
// set, as bit planes (Harley-Seal, see CountBlock). A lane sees at most
// 64 + 4 hashes (eight blocks and the heavy ones): planes 1..64 suffice.
struct Avx2Counter {
  // Named planes, weights 1, 2, 4, ..., 64 (an array would live on the
  // stack instead of in registers).
  __m256i ones, twos, fours, eights, sixteens, thirtytwos, sixtyfours;

  FT_AVX2 void Zero() {
    ones = twos = fours = eights = sixteens = thirtytwos = sixtyfours = _mm256_setzero_si256();
  }
  FT_AVX2 void Add4(const __m256i* w) {
    __m256i twos_a, twos_b, carry;
    Csa(twos_a, ones, ones, w[0], w[1]);
    Csa(twos_b, ones, ones, w[2], w[3]);
    Csa(carry, twos, twos, twos_a, twos_b);
    Ripple(fours, carry);
    Ripple(eights, carry);
    Ripple(sixteens, carry);
    Ripple(thirtytwos, carry);
    sixtyfours = _mm256_xor_si256(sixtyfours, carry);
  }
  FT_AVX2 static void Ripple(__m256i& plane, __m256i& carry) {
    const __m256i t = _mm256_and_si256(plane, carry);
    plane = _mm256_xor_si256(plane, carry);
    carry = t;
  }
};

// The hashes of shingles 4k + j (k = 0..7) starting at src, lanes outside
// [skip, limit) zeroed, as two words of four 64-bit hashes (lo | hi << 32).
// Reads src[j..j+31].
template <bool kMasked>
FT_AVX2 void HashLanes(const uint8_t* src, int j, uint32_t skip, uint32_t limit, __m256i& w0,
                       __m256i& w1) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + j));
  __m256i x = _mm256_mullo_epi32(v, _mm256_set1_epi32(static_cast<int>(kM1)));
  x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 15));
  __m256i lo = _mm256_mullo_epi32(x, _mm256_set1_epi32(static_cast<int>(kM2)));
  lo = _mm256_xor_si256(lo, _mm256_srli_epi32(lo, 13));
  __m256i hi = _mm256_mullo_epi32(x, _mm256_set1_epi32(static_cast<int>(kM3)));
  hi = _mm256_xor_si256(hi, _mm256_srli_epi32(hi, 16));
  if constexpr (kMasked) {
    const __m256i index =
        _mm256_add_epi32(_mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28), _mm256_set1_epi32(j));
    const __m256i valid =
        _mm256_and_si256(_mm256_cmpgt_epi32(index, _mm256_set1_epi32(static_cast<int>(skip) - 1)),
                         _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(limit)), index));
    lo = _mm256_and_si256(lo, valid);
    hi = _mm256_and_si256(hi, valid);
  }
  w0 = _mm256_unpacklo_epi32(lo, hi);
  w1 = _mm256_unpackhi_epi32(lo, hi);
}

// Counts the 32 shingles starting at src[0..31] (reads src[0..34]): each
// pair of words goes into the carry-save tree as soon as it is hashed, so
// few words are live at once. kHeavy: the first block, whose lanes 0..3
// (shingles 0..15, the low 128 bits of each word) count twice; which lane
// counts a hash does not matter (the lanes are summed), so the low halves
// of two words make one word.
template <bool kMasked, bool kHeavy>
FT_AVX2 void CountBlock(const uint8_t* src, uint32_t skip, uint32_t limit, Avx2Counter& c) {
  __m256i a, b, twos_a, twos_b, fours_a, fours_b, carry;
  __m256i heavy[4];
  HashLanes<kMasked>(src, 0, skip, limit, a, b);
  if constexpr (kHeavy) heavy[0] = _mm256_permute2x128_si256(a, b, 0x20);
  Csa(twos_a, c.ones, c.ones, a, b);
  HashLanes<kMasked>(src, 1, skip, limit, a, b);
  if constexpr (kHeavy) heavy[1] = _mm256_permute2x128_si256(a, b, 0x20);
  Csa(twos_b, c.ones, c.ones, a, b);
  Csa(fours_a, c.twos, c.twos, twos_a, twos_b);
  HashLanes<kMasked>(src, 2, skip, limit, a, b);
  if constexpr (kHeavy) heavy[2] = _mm256_permute2x128_si256(a, b, 0x20);
  Csa(twos_a, c.ones, c.ones, a, b);
  HashLanes<kMasked>(src, 3, skip, limit, a, b);
  if constexpr (kHeavy) heavy[3] = _mm256_permute2x128_si256(a, b, 0x20);
  Csa(twos_b, c.ones, c.ones, a, b);
  Csa(fours_b, c.twos, c.twos, twos_a, twos_b);
  Csa(carry, c.fours, c.fours, fours_a, fours_b);
  Avx2Counter::Ripple(c.eights, carry);
  Avx2Counter::Ripple(c.sixteens, carry);
  Avx2Counter::Ripple(c.thirtytwos, carry);
  c.sixtyfours = _mm256_xor_si256(c.sixtyfours, carry);
  if constexpr (kHeavy) c.Add4(heavy);
}

// n in 4..34 bytes, by overlapping fixed-size copies (a variable memcpy or
// a rep stos/movs costs more than the block's hashing).
FT_AVX2 void CopySmall(uint8_t* dst, const uint8_t* src, uint32_t n) {
  if (n >= 16) {
    const uint32_t mid = std::min<uint32_t>(16, n - 16);
    std::memcpy(dst, src, 16);
    std::memcpy(dst + mid, src + mid, 16);
    std::memcpy(dst + n - 16, src + n - 16, 16);
  } else if (n >= 8) {
    std::memcpy(dst, src, 8);
    std::memcpy(dst + n - 8, src + n - 8, 8);
  } else {
    std::memcpy(dst, src, 4);
    std::memcpy(dst + n - 4, src + n - 4, 4);
  }
}

}  // namespace

#undef FT_AVX2

__attribute__((target("avx2"))) uint64_t SimHash64Avx2(const uint8_t* p, uint32_t captured) {
  if (p == nullptr || captured == 0) return 0;
  const uint32_t n = std::min(captured, kFingerprintMaxBytes);
  if (n < 4) return ShortSimHash(p, n);
  const uint32_t shingles = n - 3;
  Avx2Counter counter;
  counter.Zero();
  if (n < 35) {
    // One block over a zero-padded copy, so no read passes the payload.
    alignas(32) uint8_t padded[64];
    _mm256_store_si256(reinterpret_cast<__m256i*>(padded), _mm256_setzero_si256());
    _mm256_store_si256(reinterpret_cast<__m256i*>(padded + 32), _mm256_setzero_si256());
    CopySmall(padded, p, n);
    CountBlock<true, true>(padded, 0, shingles, counter);
  } else {
    CountBlock<false, true>(p, 0, 32, counter);
    uint32_t i = 32;
    for (; i + 32 <= shingles; i += 32) CountBlock<false, false>(p + i, 0, 32, counter);
    if (i < shingles) {
      // The last 32 shingles, without those already counted: reads end at
      // the payload's last byte.
      const uint32_t base = shingles - 32;
      CountBlock<true, false>(p + base, i - base, 32, counter);
    }
  }
  // The four lanes' counts summed, bit-sliced: the 128-bit halves, then
  // the 64-bit halves (no store and reload; the carry chains overlap).
  const __m256i planes[7] = {counter.ones,      counter.twos,     counter.fours,
                             counter.eights,    counter.sixteens, counter.thirtytwos,
                             counter.sixtyfours};
  __m128i halves[8], carry = _mm_setzero_si128();
  for (int k = 0; k < 7; ++k) {
    const __m128i x = _mm256_castsi256_si128(planes[k]);
    const __m128i y = _mm256_extracti128_si256(planes[k], 1);
    const __m128i u = _mm_xor_si128(x, y);
    halves[k] = _mm_xor_si128(u, carry);
    carry = _mm_or_si128(_mm_and_si128(x, y), _mm_and_si128(u, carry));
  }
  halves[7] = carry;
  uint64_t total[kCountBits];
  carry = _mm_setzero_si128();
  for (int k = 0; k < 8; ++k) {
    const __m128i x = halves[k];
    const __m128i y = _mm_unpackhi_epi64(x, x);
    const __m128i u = _mm_xor_si128(x, y);
    total[k] = static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_xor_si128(u, carry)));
    carry = _mm_or_si128(_mm_and_si128(x, y), _mm_and_si128(u, carry));
  }
  total[8] = static_cast<uint64_t>(_mm_cvtsi128_si64(carry));
  return Majority(total, TotalWeight(shingles));
}

bool HaveAvx2() {
  static const bool have = __builtin_cpu_supports("avx2");
  return have;
}

}  // namespace fingerprint_internal

uint64_t SimHash64(const uint8_t* p, uint32_t captured) {
  return fingerprint_internal::HaveAvx2() ? fingerprint_internal::SimHash64Avx2(p, captured)
                                          : fingerprint_internal::SimHash64Portable(p, captured);
}

}  // namespace flowtrail::session
