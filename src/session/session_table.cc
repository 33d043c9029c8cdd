#include "session/session_table.h"

#include <sys/mman.h>

#include <emmintrin.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "absl/strings/str_cat.h"

namespace flowtrail::session {

void UnmapDeleter::operator()(void* p) const {
  if (p != nullptr) munmap(p, bytes);
}

void* AllocateHuge(size_t bytes, size_t* mapped, PageKind* kind) {
  constexpr size_t kHuge = size_t{2} << 20;
  if (bytes == 0) bytes = 1;
  const size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
  constexpr int kFlags = MAP_PRIVATE | MAP_ANONYMOUS;
#ifdef MAP_HUGETLB
  // Reserved at mmap time: fails at once (and we fall back) when the pool
  // has too few free pages.
  if (bytes >= kHuge) {
    void* p = mmap(nullptr, rounded, PROT_READ | PROT_WRITE, kFlags | MAP_HUGETLB, -1, 0);
    if (p != MAP_FAILED) {
      *mapped = rounded;
      if (kind != nullptr) *kind = PageKind::kHugeTlb;
      return p;
    }
  }
#endif
  if (bytes < kHuge) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, kFlags, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    *mapped = bytes;
    if (kind != nullptr) *kind = PageKind::kNormal;
    return p;
  }
  // 2 MiB aligned, so every stretch can be a transparent huge page: map one
  // huge page more and trim both ends.
  void* raw = mmap(nullptr, rounded + kHuge, PROT_READ | PROT_WRITE, kFlags, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHuge - 1) & ~uintptr_t{kHuge - 1};
  if (aligned > start) munmap(raw, aligned - start);
  const size_t tail = kHuge - (aligned - start);
  if (tail > 0) munmap(reinterpret_cast<void*>(aligned + rounded), tail);
  void* p = reinterpret_cast<void*>(aligned);
  *mapped = rounded;
  if (kind != nullptr) *kind = PageKind::kNormal;
#ifdef MADV_HUGEPAGE
  // Advisory: failure (THP off) is harmless.
  if (madvise(p, rounded, MADV_HUGEPAGE) == 0 && kind != nullptr) {
    *kind = PageKind::kTransparentHuge;
  }
#endif
  return p;
}

namespace {
// A fresh entry is not all zero bytes (side markers, window scales): it is
// copied from a prototype in 16-byte stores, where `s = Session()` became a
// rep stos whose start-up cost more than the whole copy (perf, SYN flood).
template <typename T>
void CopyFresh(T* dst, const T& proto) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % 16 == 0);
  const char* from = reinterpret_cast<const char*>(&proto);
  char* to = reinterpret_cast<char*>(dst);
#pragma GCC unroll 16
  for (size_t i = 0; i < sizeof(T); i += 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(to + i),
                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + i)));
  }
}
const Session kFreshSession{};
const SessionCold kFreshCold{};

uint64_t IndexSlots(uint64_t capacity) {
  uint64_t n = 2;
  while (n < capacity * 2) n <<= 1;
  return n;
}
}  // namespace

uint64_t SessionTable::BytesFor(uint64_t capacity) {
  return capacity * (sizeof(Session) + sizeof(SessionCold)) + IndexSlots(capacity) * sizeof(Slot);
}

absl::Status SessionTable::Init(uint32_t capacity) {
  if (capacity == 0 || capacity > kMaxCapacity) {
    return absl::InvalidArgumentError(
        absl::StrCat("session table capacity must be in [1, ", kMaxCapacity, "], got ", capacity));
  }
  const uint64_t nslots = IndexSlots(capacity);
  entries_ = MapZeroed<Session>(capacity, &page_kind_);
  cold_ = MapZeroed<SessionCold>(capacity);
  slots_ = MapZeroed<Slot>(nslots);
  if (!entries_ || !cold_ || !slots_) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot allocate a session table of ",
                                                     capacity, " sessions; lower the table size"));
  }
  // Zeroed memory: no entry live, every slot empty.
  free_head_ = kNone;
  fresh_ = 0;
  capacity_ = capacity;
  size_ = 0;
  mask_ = static_cast<uint32_t>(nslots - 1);
  return absl::OkStatus();
}

uint32_t SessionTable::Insert(const SessionKey& key, uint32_t hash) {
  // The most recently erased entry first, then fresh ones in order 0, 1, 2...
  uint32_t idx = fresh_;
  if (free_head_ != kNone) {
    idx = free_head_;
    free_head_ = static_cast<uint32_t>(cold_[idx].session_id);
  } else {
    ++fresh_;
  }
  Session& s = entries_[idx];
  CopyFresh(&s, kFreshSession);
  s.key = key;
  s.live = true;
  SessionCold& c = cold_[idx];
  CopyFresh(&c, kFreshCold);
  uint32_t pos = hash & mask_;
  while (slots_[pos].ref != 0) pos = (pos + 1) & mask_;
  slots_[pos] = Slot{hash, idx + 1};
  ++size_;
  return idx;
}

void SessionTable::Erase(uint32_t idx) {
  const uint32_t ref = idx + 1;
  uint32_t i = HashSessionKey(entries_[idx].key) & mask_;
  while (slots_[i].ref != ref) i = (i + 1) & mask_;
  // Backward shift: pull later members of the probe run into the hole unless
  // their home position lies cyclically in (hole, j].
  for (uint32_t j = (i + 1) & mask_; slots_[j].ref != 0; j = (j + 1) & mask_) {
    const uint32_t home = slots_[j].hash & mask_;
    const bool stays = (i < j) ? (home > i && home <= j) : (home > i || home <= j);
    if (!stays) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i] = Slot{0, 0};
  entries_[idx].live = false;
  cold_[idx].session_id = free_head_;
  free_head_ = idx;
  --size_;
}

}  // namespace flowtrail::session
