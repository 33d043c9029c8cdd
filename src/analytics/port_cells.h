// The port distribution's cells: an open-addressing table from a 64-bit
// cell key to a PortCell, each key beside its cell in one 32-byte slot, two
// to a cache line. Why not absl::flat_hash_map<uint64_t, PortCell>: its
// slots sit 16 to a probe group (8 lines), so the line of a match is known
// only after the control bytes and the key are read; here the home slot's
// line is known from the hash and holds the key and its cell, so a batch
// prefetches that one line (and the next when the home slot ends its line)
// and the update finds both in it (PortDistribution::Consume). Keys and
// cells in two parallel arrays cost two random lines a record instead.
// Linear probing, load at most 7/8 (absl's), so the memory per cell stays
// absl's (32 bytes a slot). Erasure only by rebuilding
// (eviction is a batch, see PortDistribution::Evict). Iteration yields
// (key, cell) pairs by value, in slot order (the order of a seeded hash:
// nothing may depend on it).
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <utility>
#include <vector>

#include "absl/hash/hash.h"
#include "analytics/huge_pages.h"

namespace flowtrail::analytics {

// One (window, server port, client port) cell.
struct PortCell {
  uint32_t flows = 0;
  uint64_t client_bits = 0;  // bit h(client_ip) % 64
  uint64_t server_bits = 0;
};

class PortCellTable {
 public:
  using value_type = std::pair<uint64_t, PortCell>;
  static constexpr uint32_t kNoSlot = UINT32_MAX;

  class const_iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = PortCellTable::value_type;
    using difference_type = std::ptrdiff_t;
    using pointer = const value_type*;
    using reference = value_type;
    struct Arrow {
      value_type v;
      const value_type* operator->() const { return &v; }
    };

    const_iterator() = default;
    value_type operator*() const { return {t_->slots_[i_].key, t_->slots_[i_].cell}; }
    Arrow operator->() const { return {**this}; }
    const_iterator& operator++() {
      ++i_;
      Skip();
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++*this;
      return old;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      return a.i_ == b.i_;
    }

   private:
    friend class PortCellTable;
    const_iterator(const PortCellTable* t, size_t i) : t_(t), i_(i) { Skip(); }
    void Skip() {
      while (i_ < t_->slots_.size() && !t_->Occupied(i_)) {
        ++i_;
      }
    }
    const PortCellTable* t_ = nullptr;
    size_t i_ = 0;
  };

  PortCellTable() { Rebuild(kMinCapacity); }

  size_t size() const { return size_; }
  // Slots (the probed ones; one more holds the key equal to kEmpty).
  size_t capacity() const { return mask_ + 1; }
  static constexpr size_t SlotBytes() { return sizeof(Slot); }
  size_t MemoryBytes() const { return slots_.capacity() * sizeof(Slot); }

  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, slots_.size()); }
  const_iterator find(uint64_t key) const {
    const uint32_t s = SlotOf(key, Hash(key));
    return s == kNoSlot ? end() : const_iterator(this, s);
  }

  uint64_t Hash(uint64_t key) const {
    const unsigned __int128 m = static_cast<unsigned __int128>(key ^ seed_) * 0x9fb21c651e98df25ULL;
    return static_cast<uint64_t>(m) ^ static_cast<uint64_t>(m >> 64);
  }
  // The home slot's line, and the next one when the home slot ends its line
  // (a probe run of two or more slots continues there).
  void PrefetchHome(uint64_t h) const {
    const size_t i = h & mask_;
    __builtin_prefetch(&slots_[i]);
    if ((i & 1) != 0) {
      __builtin_prefetch(&slots_[(i + 1) & mask_]);
    }
  }
  // The key's slot, kNoSlot if absent.
  uint32_t SlotOf(uint64_t key, uint64_t h) const {
    if (key == kEmpty) {
      return has_extra_ ? static_cast<uint32_t>(mask_ + 1) : kNoSlot;
    }
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) {
        return static_cast<uint32_t>(i);
      }
      if (slots_[i].key == kEmpty) {
        return kNoSlot;
      }
    }
  }

  // The key's cell, inserted (zeroed) if new; `slot` a hint from SlotOf
  // (checked: an insert in between may have rebuilt the table).
  PortCell& FindOrInsert(uint64_t key, uint64_t h, uint32_t slot, bool* inserted) {
    *inserted = false;
    if (slot < slots_.size() && slots_[slot].key == key && Occupied(slot)) {
      return slots_[slot].cell;
    }
    if (key == kEmpty) {
      *inserted = !has_extra_;
      size_ += has_extra_ ? 0 : 1;
      has_extra_ = true;
      return slots_[mask_ + 1].cell;
    }
    size_t i = h & mask_;
    for (;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) {
        return slots_[i].cell;
      }
      if (slots_[i].key == kEmpty) {
        break;
      }
    }
    if ((Probed() + 1) * 8 > capacity() * 7) {
      Rebuild(capacity() * 2);
      for (i = Hash(key) & mask_; slots_[i].key != kEmpty; i = (i + 1) & mask_) {
      }
    }
    slots_[i] = Slot{key, PortCell{}};
    ++size_;
    *inserted = true;
    return slots_[i].cell;
  }
  PortCell& FindOrInsert(uint64_t key, bool* inserted) {
    return FindOrInsert(key, Hash(key), kNoSlot, inserted);
  }

  // Room for n cells without growing.
  void Reserve(size_t n) {
    size_t c = capacity();
    while (n * 8 > c * 7) {
      c *= 2;
    }
    if (c != capacity()) {
      Rebuild(c);
    }
  }
  // Keeps the cells for which keep(key, cell) holds (same capacity).
  template <class Keep>
  void Filter(Keep keep) {
    std::vector<value_type> kept;
    kept.reserve(size_);
    for (const_iterator it = begin(); it != end(); ++it) {
      const value_type v = *it;
      if (keep(v.first, v.second)) {
        kept.push_back(v);
      }
    }
    Rebuild(capacity(), std::move(kept));
  }

 private:
  static constexpr uint64_t kEmpty = UINT64_MAX;
  static constexpr size_t kMinCapacity = 16;

  // Two to a line: the array is 32-byte aligned, so a slot never straddles.
  struct alignas(32) Slot {
    uint64_t key = kEmpty;
    PortCell cell;
  };
  static_assert(sizeof(Slot) == 32);

  // Slot mask_ + 1 holds the one key equal to kEmpty (a cell of the
  // saturated window, server and client port 65535), outside the probing.
  bool Occupied(size_t i) const { return i <= mask_ ? slots_[i].key != kEmpty : has_extra_; }
  size_t Probed() const { return size_ - (has_extra_ ? 1 : 0); }

  void Rebuild(size_t capacity, std::vector<value_type> from) {
    slots_.assign(capacity + 1, Slot{});
    slots_.shrink_to_fit();
    mask_ = capacity - 1;
    size_ = 0;
    has_extra_ = false;
    for (const value_type& v : from) {
      bool inserted = false;
      FindOrInsert(v.first, &inserted) = v.second;
    }
  }
  void Rebuild(size_t capacity) {
    std::vector<value_type> all(begin(), end());
    Rebuild(capacity, std::move(all));
  }

  // The per-process seed (absl::Hash's follows ASLR), so no one can aim
  // records at one probe run.
  uint64_t seed_ = absl::Hash<uint64_t>{}(0x452821e638d01377ULL) | 1;
  // On huge pages: the table is read at random, one line a record, and past
  // a few MiB of 4 KiB pages that line's TLB miss held the prefetch up.
  HugeVector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
  bool has_extra_ = false;
};

}  // namespace flowtrail::analytics
