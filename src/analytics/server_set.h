// Mergeable sets of servers for the scan table (SPEC §5): exact while small,
// a HyperLogLog beyond. Debian 12 packages no C++ HLL, so this is our own
// (Flajolet et al. 2007 registers, Ertl 2017's improved estimator, which needs
// no empirical bias tables and is unbiased from 0 to well past 10^9).
// DPDK-free, no allocation except when a set is promoted to a sketch.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "common/ip_address.h"

namespace flowtrail::analytics {

// A keyed 64-bit hash of an address (and optionally a port): the key is the
// secret that keeps an attacker from choosing addresses that collide in the
// sets or fill one HLL register. Not cryptographic; good avalanche (two
// rounds of a 64-bit finaliser per word).
uint64_t HashServer(const IpAddress& address, uint8_t ip_version, uint16_t port, uint64_t key);

// The default key. Snapshots merged across processes must use the same key.
inline constexpr uint64_t kDefaultHashKey = 0x6a09e667f3bcc909ULL;

// A HyperLogLog over 64-bit hashes with 2^kP one-byte registers.
class Hll {
 public:
  static constexpr int kP = 11;  // 2 KiB, relative standard error 1.04/sqrt(2048) = 2.3 %
  static constexpr size_t kRegisters = size_t{1} << kP;
  static double RelativeStandardError();

  void Insert(uint64_t hash);
  void Prefetch(uint64_t hash) const { __builtin_prefetch(&registers_[hash >> (64 - kP)]); }
  void Merge(const Hll& other);
  double Estimate() const;
  bool operator==(const Hll& other) const { return registers_ == other.registers_; }
  std::span<const uint8_t> registers() const { return registers_; }
  // From saved registers (a snapshot): false unless there are kRegisters,
  // each at most the largest rank (64 - kP + 1).
  bool SetRegisters(std::span<const uint8_t> registers);

 private:
  std::array<uint8_t, kRegisters> registers_{};
};

// Exact up to kInline distinct hashes, then a Hll (the exact items are moved
// into it). Merge of two sets is the set of the union: exact if the union
// still fits, else a sketch holding both.
class ServerSet {
 public:
  static constexpr int kInline = 8;

  ServerSet() = default;
  ServerSet(const ServerSet& other) { *this = other; }
  ServerSet& operator=(const ServerSet& other);
  ServerSet(ServerSet&&) noexcept = default;
  ServerSet& operator=(ServerSet&&) noexcept = default;

  void Insert(uint64_t hash);
  void Merge(const ServerSet& other);
  bool exact() const { return hll_ == nullptr; }
  // Prefetches what Insert(hash) will touch in a sketch (one register line;
  // nothing while exact: the items are inline).
  void Prefetch(uint64_t hash) const {
    if (hll_ != nullptr) {
      hll_->Prefetch(hash);
    }
  }
  bool Contains(uint64_t hash) const;  // meaningful only while exact()
  std::span<const uint64_t> items() const { return {items_.data(), exact() ? size_ : 0}; }
  // Exact size while exact, else the sketch's estimate rounded.
  uint64_t Count() const;
  // Heap memory beyond sizeof(ServerSet) (the sketch).
  size_t HeapBytes() const { return hll_ ? sizeof(Hll) : 0; }
  const Hll* sketch() const { return hll_.get(); }
  // A set holding a sketch (a snapshot's).
  static ServerSet FromSketch(const Hll& sketch);
  // Union of several sets' estimates (for inclusion-exclusion).
  static uint64_t UnionCount(std::span<const ServerSet* const> sets);

 private:
  void Promote();

  std::array<uint64_t, kInline> items_{};
  uint32_t size_ = 0;
  std::unique_ptr<Hll> hll_;
};

}  // namespace flowtrail::analytics
