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
// SimHash (Charikar), 64 bits: each 4-byte shingle of bytes
// 0..min(captured, 256) is hashed (murmur3 fmix64) and votes +w/-w on every
// bit, w = 2 for shingles starting in the first 16 bytes, else 1; a bit is
// set when its vote is positive. Similarity is 64 minus the Hamming distance
// (popcount of XOR); a few bytes changed in a payload of a hundred or more
// bytes flips only a few bits, unrelated payloads differ in about 32.
#pragma once

#include <cstdint>

namespace flowtrail::session {

inline constexpr uint32_t kFingerprintMaxBytes = 256;

// `captured` bytes are available at `p`; `payload_len` is the length the
// sender sent (>= captured with a snap length).
uint32_t ScalarFingerprint(const uint8_t* p, uint32_t captured, uint32_t payload_len);
uint64_t SimHash64(const uint8_t* p, uint32_t captured);

}  // namespace flowtrail::session
