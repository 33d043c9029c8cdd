// The index hash of the analytics tables (scan_table.cc, live_verdicts.cc),
// whose keys are addresses off the wire. Keyed with secrets drawn from the
// OS once per process, in every multiply: with a constant in one factor, a
// sender could zero that factor (IPv6 low words equal to the constant gave
// every client one hash, whatever the seed) and turn a table into one probe
// run, a lookup costing its whole length. Results never depend on the
// secrets (slots are in insertion order, eviction samples slot numbers).
#pragma once

#include <cstdint>

namespace flowtrail::analytics {

// One 64x64->128 multiply folded (wyhash's mum).
inline uint64_t MulFold(uint64_t a, uint64_t b) {
  const unsigned __int128 m = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(m) ^ static_cast<uint64_t>(m >> 64);
}

// This process's secrets (std::random_device, on Linux getrandom()).
struct IndexSecrets {
  uint64_t s0, s1, s2;
};
const IndexSecrets& ProcessIndexSecrets();

// Two keyed multiplies over a key's words: the address's (shared by a row's
// and its client's hashes, the scan table computes it once per record),
// then the rest of the key.
struct IndexHash {
  IndexSecrets k = ProcessIndexSecrets();
  uint64_t Words(uint64_t w0, uint64_t w1, uint64_t extra) const {
    return Finish(Address(w0, w1), extra);
  }
  uint64_t Address(uint64_t w0, uint64_t w1) const { return MulFold(w0 ^ k.s0, w1 ^ k.s1); }
  uint64_t Finish(uint64_t address, uint64_t extra) const {
    return MulFold(address ^ extra ^ k.s1, k.s2);
  }
  // A key that is one word already (a server's HashServer value).
  uint64_t Word(uint64_t w) const { return MulFold(w ^ k.s0, k.s2); }
};

}  // namespace flowtrail::analytics
