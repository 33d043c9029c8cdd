#include "session/session_table.h"

#include <sys/mman.h>

#include <cstring>
#include <new>

#include "absl/strings/str_cat.h"

namespace flowtrail::session {

void* AllocateHuge(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  const bool huge = bytes >= kHuge;
  const size_t align = huge ? kHuge : 64;
  const size_t rounded = (bytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded);
  if (p == nullptr) return nullptr;
#ifdef MADV_HUGEPAGE
  if (huge) madvise(p, rounded, MADV_HUGEPAGE);  // advisory: failure is harmless
#endif
  std::memset(p, 0, rounded);
  return p;
}

namespace {
uint64_t IndexSlots(uint64_t capacity) {
  uint64_t n = 2;
  while (n < capacity * 2) n <<= 1;
  return n;
}
}  // namespace

uint64_t SessionTable::BytesFor(uint64_t capacity) {
  return capacity * sizeof(Session) + IndexSlots(capacity) * sizeof(Slot) +
         capacity * sizeof(uint32_t);
}

absl::Status SessionTable::Init(uint32_t capacity) {
  if (capacity == 0 || capacity > kMaxCapacity) {
    return absl::InvalidArgumentError(
        absl::StrCat("session table capacity must be in [1, ", kMaxCapacity, "], got ", capacity));
  }
  const uint64_t nslots = IndexSlots(capacity);
  entries_.reset(static_cast<Session*>(AllocateHuge(sizeof(Session) * capacity)));
  slots_.reset(static_cast<Slot*>(AllocateHuge(sizeof(Slot) * nslots)));
  free_.reset(new (std::nothrow) uint32_t[capacity]);
  if (!entries_ || !slots_ || !free_) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot allocate a session table of ",
                                                     capacity, " sessions; lower the table size"));
  }
  for (uint32_t i = 0; i < capacity; ++i) new (&entries_[i]) Session();
  for (uint64_t i = 0; i < nslots; ++i) slots_[i] = Slot{0, kNone};
  // Pop order 0, 1, 2...: new sessions fill the array from the front.
  for (uint32_t i = 0; i < capacity; ++i) free_[i] = capacity - 1 - i;
  free_top_ = capacity;
  capacity_ = capacity;
  size_ = 0;
  mask_ = static_cast<uint32_t>(nslots - 1);
  return absl::OkStatus();
}

uint32_t SessionTable::Insert(const SessionKey& key, uint32_t hash) {
  const uint32_t idx = free_[--free_top_];
  Session& s = entries_[idx];
  s = Session();
  s.key = key;
  s.hash = hash;
  s.live = true;
  uint32_t pos = hash & mask_;
  while (slots_[pos].entry != kNone) pos = (pos + 1) & mask_;
  slots_[pos] = Slot{hash, idx};
  ++size_;
  return idx;
}

void SessionTable::Erase(uint32_t idx) {
  Session& s = entries_[idx];
  uint32_t i = s.hash & mask_;
  while (slots_[i].entry != idx) i = (i + 1) & mask_;
  // Backward shift: pull later members of the probe run into the hole unless
  // their home position lies cyclically in (hole, j].
  for (uint32_t j = (i + 1) & mask_; slots_[j].entry != kNone; j = (j + 1) & mask_) {
    const uint32_t home = slots_[j].hash & mask_;
    const bool stays = (i < j) ? (home > i && home <= j) : (home > i || home <= j);
    if (!stays) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i] = Slot{0, kNone};
  s.live = false;
  free_[free_top_++] = idx;
  --size_;
}

}  // namespace flowtrail::session
