// First-data fingerprints (SPEC §4, notes/scan_fp.md §3): computed per side
// over the captured bytes of the first packet that carries payload. 0 always
// means "no data"; a computed value of 0 is replaced by 1.
//
// Scalar fingerprint (record fields 24/25), 32 bits, prefix-dominated so that
// identical payloads give identical values and similar payloads give
// numerically close values:
//
//   bits 31..16  the first two payload bytes (b0 << 8 | b1; b1 = 0 if absent):
//                the protocol's identity ("GE" for GET, 0x1603 for TLS,
//                "SS" for SSH, a scanner template's first bytes);
//   bits 15..12  length class: bit width of the payload length, capped at 15;
//   bits 11..0   16 x the mean value of bytes 2..min(captured, 256): changing
//                k of those m bytes by at most 255 each moves the value by at
//                most 16*255*k/m (an IPv4 address embedded in a 100-byte
//                payload: at most 164 out of 2^32).
//
// So two payloads that differ only after their first two bytes and have a
// similar length differ by less than 2^12; payloads with different first
// bytes or very different lengths are far apart. Like any one-dimensional
// value it cannot preserve every neighbourhood: a change in the first two
// bytes moves it far (by design: that is a different protocol).
//
// SimHash (Charikar), 64 bits, over bytes 0..n-1, n = min(captured, 256):
//   features  the m = n - 3 four-byte shingles (v = little-endian bytes
//             i..i+3, i = 0..m-1); below 4 bytes one feature,
//             v = bytes | n << 24;
//   hash      per feature, in 32-bit arithmetic (mod 2^32):
//               x  = v * 0x9e3779b1;  x ^= x >> 15;
//               lo = x * 0x85ebca6b;  lo ^= lo >> 13;
//               hi = x * 0xc2b2ae35;  hi ^= hi >> 16;
//               h  = hi << 32 | lo;
//   vote      weight w = 2 for shingles 0..15, else 1; W = the sum of the
//             weights; bit b is set when the weight of the features with
//             bit b set in h is more than W / 2 (2 * count > W).
//             (h(0) = 0: a zero shingle votes 0 on every bit, like any
//             fixed value would; an all-zero payload gives 0, stored as 1.)
// Similarity is 64 minus the Hamming distance (popcount of XOR); a few bytes
// changed in a payload of a hundred or more bytes flips only a few bits,
// unrelated payloads differ in about 32.
//
// (Issue 8: this definition replaced fmix64 per shingle and a 64-step vote
// loop, ~1.9 us per payload, by a hash that SIMD computes 8 lanes at a time
// and a bit-sliced vote count; the values differ from streams written
// before it, the properties are the same.) SimHash64 runs an AVX2 path when
// the CPU has it and the portable one otherwise; both give the same value
// for every input (tested).
#pragma once

#include <cstdint>

namespace flowtrail::session {

inline constexpr uint32_t kFingerprintMaxBytes = 256;

// `captured` bytes are available at `p`; `payload_len` is the length the
// sender sent (>= captured with a snap length).
uint32_t ScalarFingerprint(const uint8_t* p, uint32_t captured, uint32_t payload_len);
uint64_t SimHash64(const uint8_t* p, uint32_t captured);

// The two implementations behind SimHash64, for tests and benchmarks.
namespace fingerprint_internal {
uint64_t SimHash64Portable(const uint8_t* p, uint32_t captured);
// Only where HaveAvx2().
uint64_t SimHash64Avx2(const uint8_t* p, uint32_t captured);
bool HaveAvx2();
}  // namespace fingerprint_internal

}  // namespace flowtrail::session
