// The index of the analytics' bounded tables (the scan table's, the live
// verdicts'): their values sit in a dense slot array (so a random slot can
// be sampled for eviction in O(1)), indexed by an open-addressing table of
// 8-byte entries, the key hash's high 32 bits and the slot, with linear
// probing from the hash's home entry and backward-shift deletion (no
// tombstones). The owner keeps the keys in its slots, chooses the load and
// says, through callbacks, whether a slot holds the key looked up and what a
// slot's hash is. Why not absl::flat_hash_map<Key, slot>: its entry holds the
// key, so the line of a match spans more and cannot be prefetched before the
// control bytes are read; here the home line is known from the hash.
#pragma once

#include <cstddef>
#include <cstdint>

#include "analytics/huge_pages.h"

namespace flowtrail::analytics {

class SlotIndex {
 public:
  struct Entry {
    uint32_t tag = 0;  // the hash's high half
    uint32_t slot = kEmpty;
  };
  static constexpr uint32_t kEmpty = UINT32_MAX;
  static constexpr size_t kNotFound = SIZE_MAX;

  static uint32_t Tag(uint64_t h) { return static_cast<uint32_t>(h >> 32); }

  // The entry whose slot `holds(slot)` the key of hash h, or kNotFound.
  template <class Holds>
  size_t Lookup(uint64_t h, const Holds& holds) const {
    const uint32_t tag = Tag(h);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Entry& e = index_[i];
      if (e.slot == kEmpty) {
        return kNotFound;
      }
      if (e.tag == tag && holds(e.slot)) {
        return i;
      }
    }
  }
  // The slot of the first entry with h's tag in h's probe run (kEmpty if
  // none): a hint by the tag alone, the key unchecked.
  uint32_t SlotOf(uint64_t h) const {
    const uint32_t tag = Tag(h);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Entry& e = index_[i];
      if (e.slot == kEmpty || e.tag == tag) {
        return e.slot;
      }
    }
  }
  void PrefetchHome(uint64_t h) const { __builtin_prefetch(&index_[h & mask_]); }

  // Indexes `slot` under h (the key must be absent; the owner keeps the load
  // below 1).
  void Place(uint64_t h, uint32_t slot) {
    size_t i = h & mask_;
    while (index_[i].slot != kEmpty) {
      i = (i + 1) & mask_;
    }
    index_[i] = {Tag(h), slot};
  }
  // Points entry i at another slot (the owner moved the key).
  void Repoint(size_t i, uint32_t slot) { index_[i].slot = slot; }

  // Removes entry i, moving later entries of the probe run back into the
  // hole when their home allows (Knuth's algorithm R); `hash_of(slot)` is
  // the hash of the key a slot holds.
  template <class HashOf>
  void Erase(size_t i, const HashOf& hash_of) {
    size_t hole = i;
    for (size_t j = (i + 1) & mask_; index_[j].slot != kEmpty; j = (j + 1) & mask_) {
      const size_t home = hash_of(index_[j].slot) & mask_;
      // j may move to the hole unless its home lies cyclically in (hole, j].
      const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (!stays) {
        index_[hole] = index_[j];
        hole = j;
      }
    }
    index_[hole] = Entry{};
  }
  // `capacity` entries (a power of two) over slots [0, slots).
  template <class HashOf>
  void Rebuild(size_t capacity, size_t slots, const HashOf& hash_of) {
    index_.assign(capacity, Entry{});
    index_.shrink_to_fit();
    mask_ = capacity - 1;
    for (size_t s = 0; s < slots; ++s) {
      Place(hash_of(static_cast<uint32_t>(s)), static_cast<uint32_t>(s));
    }
  }

  uint32_t SlotAt(size_t i) const { return index_[i].slot; }
  size_t size() const { return index_.size(); }
  size_t MemoryBytes() const { return index_.capacity() * sizeof(Entry); }

 private:
  HugeVector<Entry> index_ = HugeVector<Entry>(16);
  size_t mask_ = 15;
};

}  // namespace flowtrail::analytics
