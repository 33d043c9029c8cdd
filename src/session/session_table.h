// Fixed-capacity session table: an entry array (key inside each entry) plus
// an open-addressing index of {hash, entry index} slots with linear probing
// and backward-shift deletion (no tombstones, so no rehash pauses). Entries
// are addressed by u32 indices. Everything is allocated in Init(); Insert()
// never allocates and fails only when every entry is in use, in which case
// the owner evicts one first.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <type_traits>

#include "absl/status/status.h"
#include "session/session_key.h"
#include "session/session_state.h"

namespace flowtrail::session {

// Frees arrays from AllocateHuge().
struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// `bytes` of zeroed memory, 2 MiB aligned and advised as transparent huge
// pages when large (fewer TLB misses with millions of entries); nullptr if
// memory is short. Control path only.
void* AllocateHuge(size_t bytes);

class SessionTable {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  // u32 indices, and an index of twice the capacity rounded up to a power of two.
  static constexpr uint32_t kMaxCapacity = uint32_t{1} << 30;

  absl::Status Init(uint32_t capacity);
  // What Init(capacity) allocates, in bytes (entries, index, free list).
  static uint64_t BytesFor(uint64_t capacity);

  uint32_t capacity() const { return capacity_; }
  uint32_t size() const { return size_; }
  bool full() const { return free_top_ == 0; }

  Session& at(uint32_t idx) { return entries_[idx]; }
  const Session& at(uint32_t idx) const { return entries_[idx]; }

  void Prefetch(uint32_t hash) const { __builtin_prefetch(&slots_[hash & mask_]); }
  // After Prefetch(): pulls in the entry the home slot points at (the match,
  // most of the time, at load <= 0.5).
  void PrefetchEntry(uint32_t hash) const {
    const Slot& s = slots_[hash & mask_];
    if (s.entry == kNone) return;
    const char* e = reinterpret_cast<const char*>(&entries_[s.entry]);
    for (size_t off = 0; off < sizeof(Session); off += 64) __builtin_prefetch(e + off);
  }

  uint32_t Find(const SessionKey& key, uint32_t hash) const {
    for (uint32_t pos = hash & mask_;; pos = (pos + 1) & mask_) {
      const Slot& s = slots_[pos];
      if (s.entry == kNone) return kNone;
      if (s.hash == hash && entries_[s.entry].key == key) return s.entry;
    }
  }

  // Requires !full() and that `key` is absent. The entry is reset to a fresh
  // Session carrying key and hash, marked live.
  uint32_t Insert(const SessionKey& key, uint32_t hash);
  void Erase(uint32_t idx);

 private:
  struct Slot {
    uint32_t hash;
    uint32_t entry;  // kNone = empty
  };

  static_assert(std::is_trivially_destructible_v<Session>);
  std::unique_ptr<Session[], FreeDeleter> entries_;
  std::unique_ptr<Slot[], FreeDeleter> slots_;
  std::unique_ptr<uint32_t[]> free_;  // stack of free entry indices
  uint32_t free_top_ = 0;
  uint32_t capacity_ = 0;
  uint32_t size_ = 0;
  uint32_t mask_ = 0;
};

}  // namespace flowtrail::session
