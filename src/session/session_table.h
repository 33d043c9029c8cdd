// Fixed-capacity session table: a hot entry array (key inside each entry), a
// parallel cold array under the same u32 index (session_state.h), and an
// open-addressing index of {hash, entry index + 1} slots with linear probing
// and backward-shift deletion (no tombstones, so no rehash pauses).
// Everything is mapped in Init() but nothing is written there: the OS hands
// out zeroed pages on first touch, and zero bytes are a valid empty table
// (empty slots, entries not live; fresh entries come from a high-water mark,
// erased ones from a free list threaded through their cold parts' session
// ids). Insert() never allocates and fails only when every entry is in use,
// in which case the owner evicts one first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "session/prefault.h"
#include "session/session_key.h"
#include "session/session_state.h"

namespace flowtrail::session {

// A read prefetch of p's line that the compiler keeps: with
// __builtin_prefetch alone, GCC 12 dropped whole calls of the Prefetch*()
// helpers below (their only effect; perf showed the lookups missing).
inline void PrefetchLine(const void* p) {
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
}

// Unmaps memory from AllocateHuge().
struct UnmapDeleter {
  size_t bytes = 0;
  void operator()(void* p) const;
};

// How AllocateHuge() got its pages.
enum class PageKind : uint8_t { kHugeTlb, kTransparentHuge, kNormal };

// `bytes` of zeroed, untouched anonymous memory (pages appear on first
// touch): hugetlb pages when the system has them free, else pages advised as
// transparent huge pages when large (fewer TLB misses with millions of
// entries), else normal pages. nullptr if memory is short; *mapped gets the
// length to unmap. Control path only.
void* AllocateHuge(size_t bytes, size_t* mapped, PageKind* kind = nullptr);

template <typename T>
using MappedArray = std::unique_ptr<T[], UnmapDeleter>;

// A zeroed array of n T (T valid when zero-filled); empty on failure.
template <typename T>
MappedArray<T> MapZeroed(uint64_t n, PageKind* kind = nullptr) {
  static_assert(std::is_trivially_destructible_v<T>);
  size_t mapped = 0;
  T* p = static_cast<T*>(AllocateHuge(sizeof(T) * n, &mapped, kind));
  return MappedArray<T>(p, UnmapDeleter{mapped});
}

class SessionTable {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  // u32 indices, and an index of twice the capacity rounded up to a power of two.
  static constexpr uint32_t kMaxCapacity = uint32_t{1} << 30;

  absl::Status Init(uint32_t capacity);
  // What Init(capacity) maps, in bytes (hot and cold entries, index; the
  // free list costs nothing more).
  static uint64_t BytesFor(uint64_t capacity);

  uint32_t capacity() const { return capacity_; }
  uint32_t size() const { return size_; }
  bool full() const { return size_ == capacity_; }
  PageKind page_kind() const { return page_kind_; }

  Session& at(uint32_t idx) { return entries_[idx]; }
  const Session& at(uint32_t idx) const { return entries_[idx]; }
  SessionCold& cold(uint32_t idx) { return cold_[idx]; }
  const SessionCold& cold(uint32_t idx) const { return cold_[idx]; }
  // The cold part of an entry of this table.
  SessionCold& cold(const Session& s) { return cold_[&s - entries_.get()]; }
  const SessionCold& cold(const Session& s) const { return cold_[&s - entries_.get()]; }
  uint32_t index_of(const Session& s) const { return static_cast<uint32_t>(&s - entries_.get()); }
  // The mapped arrays (prefault.h): the index first (touched at random), then
  // the hot and cold entries (handed out from the low end).
  void AppendRegions(std::vector<MemoryRegion>* out) const {
    out->push_back({slots_.get(), sizeof(Slot) * (uint64_t{mask_} + 1)});
    out->push_back({entries_.get(), sizeof(Session) * uint64_t{capacity_}});
    out->push_back({cold_.get(), sizeof(SessionCold) * uint64_t{capacity_}});
  }

  void Prefetch(uint32_t hash) const { PrefetchLine(&slots_[hash & mask_]); }
  // The second stage, after Prefetch() (long enough before, or this stalls
  // on the slot line): pulls in the hot entry of the first slot of the probe
  // run whose hash matches (the session, almost always: also when a
  // collision displaced it from its home slot), or the next line of slots
  // when the run goes on past the home line without a match (a new
  // session's run ends at an empty slot: nothing more is pulled in for it).
  void PrefetchProbe(uint32_t hash) const {
    if (const Slot* s = WalkHomeLine(hash)) {
      const char* e = reinterpret_cast<const char*>(&entries_[s->ref - 1]);
      static_assert(sizeof(Session) == 2 * 64);
      PrefetchLine(e);
      PrefetchLine(e + 64);
    }
  }

  // Every line of entry `idx`, hot and cold (an eviction victim picked ahead:
  // its record reads them all).
  void PrefetchAll(uint32_t idx) const {
    const char* e = reinterpret_cast<const char*>(&entries_[idx]);
    PrefetchLine(e);
    PrefetchLine(e + 64);
    const char* c = reinterpret_cast<const char*>(&cold_[idx]);
    static_assert(sizeof(SessionCold) > 64 && sizeof(SessionCold) <= 128);
    PrefetchLine(c);  // 112 bytes may span three lines
    PrefetchLine(c + 64);
    PrefetchLine(c + sizeof(SessionCold) - 1);
  }

  // The home slot line of live entry `idx` (an Erase() ahead: a walk over
  // the entries in index order finds their slots at random).
  void PrefetchSlotOf(uint32_t idx) const {
    PrefetchLine(&slots_[HashSessionKey(entries_[idx].key) & mask_]);
  }

  // The lines `live` and the session id are in (a stale-entry check).
  void PrefetchIdentity(uint32_t idx) const {
    PrefetchLine(&entries_[idx]);
    PrefetchLine(&cold_[idx]);
  }

  uint32_t Find(const SessionKey& key, uint32_t hash) const {
    for (uint32_t pos = hash & mask_;; pos = (pos + 1) & mask_) {
      const Slot& s = slots_[pos];
      if (s.ref == 0) return kNone;
      if (s.hash == hash && entries_[s.ref - 1].key == key) return s.ref - 1;
    }
  }

  // Requires !full() and that `key` is absent (`hash` = HashSessionKey(key)).
  // The entry is reset to a fresh Session (and SessionCold) carrying key,
  // marked live.
  uint32_t Insert(const SessionKey& key, uint32_t hash);
  void Erase(uint32_t idx);

 private:
  // Zero = empty, so fresh zeroed pages are an empty index.
  struct Slot {
    uint32_t hash;
    uint32_t ref;  // entry index + 1; 0 = empty
  };
  // The index is mapped page-aligned: slot lines start at multiples of this.
  static constexpr uint32_t kSlotsPerLine = 8;
  static_assert(sizeof(Slot) * kSlotsPerLine == 64);

  // Walks the probe run from hash's home slot within its line: returns the
  // first slot whose hash matches, else nullptr once an empty slot ends the
  // run or the run leaves the line, whose next line it then prefetches.
  const Slot* WalkHomeLine(uint32_t hash) const {
    for (uint32_t pos = hash & mask_;;) {
      const Slot& s = slots_[pos];
      if (s.ref == 0) return nullptr;
      if (s.hash == hash) return &s;
      pos = (pos + 1) & mask_;
      if (pos % kSlotsPerLine == 0) {
        PrefetchLine(&slots_[pos]);
        return nullptr;
      }
    }
  }

  static_assert(std::is_trivially_destructible_v<Session>);
  static_assert(std::is_trivially_destructible_v<SessionCold>);
  MappedArray<Session> entries_;
  MappedArray<SessionCold> cold_;
  MappedArray<Slot> slots_;
  // Erased entries, most recent first, linked through the low 32 bits of
  // SessionCold::session_id (Erase() finds the slot again by hashing the key).
  uint32_t free_head_ = kNone;
  uint32_t fresh_ = 0;  // entries [fresh_, capacity) were never used
  uint32_t capacity_ = 0;
  uint32_t size_ = 0;
  uint32_t mask_ = 0;
  PageKind page_kind_ = PageKind::kNormal;
};

}  // namespace flowtrail::session
