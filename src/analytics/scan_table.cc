#include "analytics/scan_table.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "analytics/huge_pages.h"
#include "analytics/index_hash.h"
#include "analytics/slot_index.h"
#include "flowtrail/v1/session.pb.h"

namespace flowtrail::analytics {

using record::SessionRecord;

namespace {

constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpRst = 0x04;

int Idx(Outcome o) { return static_cast<int>(o); }

// ---------------------------------------------------------------------------
// A table with a key limit and a memory share. Values sit in a dense vector
// indexed by a SlotIndex (slot_index.h), load at most 3/4: Consume's
// pipeline prefetches exactly the home line, and the index takes 11-21
// bytes a key where absl::flat_hash_map<Key, slot> took 29-57 (its entry
// holds the key, 24 bytes here). Hash is the key's (seeded) hasher. Align: of a
// slot (key and value), so that the bytes the update path touches (the
// slot's first ones) span as few lines as they can; Value::LastTime() is
// the eviction order.
template <class Key, class Value, class Hash, size_t Align = alignof(std::pair<Key, Value>)>
class BoundedTable {
 public:
  struct alignas(Align) Slot {
    Key first;
    Value second;
  };

  BoundedTable(uint64_t max_keys, uint64_t budget_bytes) {
    max_keys_ = std::max<uint64_t>(1, max_keys);
    budget_ = budget_bytes;
    if (budget_ != 0) {
      // The budget decides the key limit up front and the storage is reserved
      // at once, so the table's growth never overshoots it. The keys get at
      // most 3/4 of it; sketches (charged as they appear) the rest, or they
      // evict keys. The hash map rounds its capacity up: measure, shrink.
      const uint64_t fixed_budget = budget_ / 4 * 3;
      max_keys_ = std::max<uint64_t>(1, std::min<uint64_t>(max_keys_, fixed_budget / KeyBytes()));
      for (int tries = 0; tries < 8; ++tries) {
        slots_ = HugeVector<Slot>();
        slots_.reserve(max_keys_);
        Rebuild(IndexCapacity(max_keys_));
        const uint64_t fixed = MemoryBytes();
        if (fixed <= fixed_budget || max_keys_ == 1) {
          break;
        }
        max_keys_ =
            std::max<uint64_t>(1, static_cast<uint64_t>(static_cast<double>(max_keys_) * 0.97 *
                                                        static_cast<double>(fixed_budget) /
                                                        static_cast<double>(fixed)));
      }
    }
  }

  static size_t KeyBytes() {
    // An index entry per key at its 3/4 maximum load.
    return sizeof(Slot) + sizeof(SlotIndex::Entry) * 4 / 3 + 1;
  }

  Value* Find(const Key& k) {
    const uint32_t slot = FindSlot(k);
    return slot == kNoSlot ? nullptr : &slots_[slot].second;
  }
  const Value* Find(const Key& k) const {
    const uint32_t slot = FindSlot(k);
    return slot == kNoSlot ? nullptr : &slots_[slot].second;
  }
  // The key's slot, kNoSlot if absent.
  uint32_t FindSlot(const Key& k) const { return SlotFor(k, hash_(k)); }

  // The key's value, inserted (evicting cold keys first) if new.
  Value& FindOrInsert(const Key& k) { return FindOrInsert(k, hash_(k), kNoSlot); }
  // The same with the key's hash known and a slot that may hold it (found
  // earlier by SlotOf; checked here, since an eviction may have moved it).
  Value& FindOrInsert(const Key& k, uint64_t h, uint32_t hint) {
    return slots_[FindOrInsertSlot(k, h, hint)].second;
  }
  // The same, as the slot (valid until the next insert or eviction).
  uint32_t FindOrInsertSlot(const Key& k, uint64_t h, uint32_t hint) {
    if (hint < slots_.size() && slots_[hint].first == k) {
      return hint;
    }
    if (const uint32_t found = SlotFor(k, h); found != kNoSlot) {
      return found;
    }
    while (MayEvict()) {
      EvictColdest();
    }
    if ((slots_.size() + 1) * 4 > index_.size() * 3) {
      Rebuild(IndexCapacity(slots_.size() + 1));  // unbudgeted growth only
    }
    const uint32_t slot = static_cast<uint32_t>(slots_.size());
    index_.Place(h, slot);
    slots_.push_back(Slot{k, Value{}});
    return slot;
  }
  // Whether `slot` (a hint kept from FindOrInsertSlot) still holds k.
  bool Holds(uint32_t slot, const Key& k) const {
    return slot < slots_.size() && slots_[slot].first == k;
  }
  Value& At(uint32_t slot) { return slots_[slot].second; }

  // Whether a new key would evict now (also true whenever Trim() would).
  bool MayEvict() const {
    return !slots_.empty() &&
           (slots_.size() >= max_keys_ || (budget_ != 0 && MemoryBytes() + KeyBytes() > budget_));
  }
  // Evicts while over the budget (a set of a hot key became a sketch).
  // Call only when no reference into the table is held.
  void Trim() {
    while (budget_ != 0 && slots_.size() > 1 && MemoryBytes() > budget_) {
      EvictColdest();
    }
  }

  // For batches, stage by stage: the key's index hash; its home index line;
  // once that is cached, the key's slot (kNoSlot if absent); the first
  // `bytes` of that slot (the part the update path touches); its value.
  uint64_t HashOf(const Key& k) const { return hash_(k); }
  void PrefetchHome(uint64_t h) const { index_.PrefetchHome(h); }
  // By the hash's tag alone: comparing the key here would read the slot,
  // the miss this stage is to hide. A tag collision (1 in 2^32 per entry
  // probed) only makes the hint wrong, and FindOrInsert checks the key.
  uint32_t SlotOf(uint64_t h) const { return index_.SlotOf(h); }
  void PrefetchSlot(uint32_t slot, size_t bytes) const {
    if (slot >= slots_.size()) {
      return;
    }
    const uintptr_t p = reinterpret_cast<uintptr_t>(&slots_[slot]);
    const uintptr_t end = p + std::min(bytes, sizeof(Slot));
    for (uintptr_t a = p & ~uintptr_t{63}; a < end; a += 64) {
      __builtin_prefetch(reinterpret_cast<const void*>(a));
    }
  }
  // The value of a slot from SlotOf if it still holds k, else null.
  const Value* AtSlot(uint32_t slot, const Key& k) const {
    return slot < slots_.size() && slots_[slot].first == k ? &slots_[slot].second : nullptr;
  }
  static constexpr uint32_t kNoSlot = SlotIndex::kEmpty;

  // Callers report a value's heap growth (a set promoted to a sketch).
  void AddHeap(int64_t delta) {
    heap_bytes_ = static_cast<uint64_t>(static_cast<int64_t>(heap_bytes_) + delta);
  }

  uint64_t MemoryBytes() const {
    return slots_.capacity() * sizeof(Slot) + index_.MemoryBytes() + heap_bytes_;
  }
  uint64_t evictions() const { return evictions_; }
  size_t size() const { return slots_.size(); }
  const HugeVector<Slot>& slots() const { return slots_; }
  void AddEvictions(uint64_t n) { evictions_ += n; }
  uint64_t max_keys() const { return max_keys_; }

 private:
  uint64_t NextRandom() {
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    return rng_;
  }

  void EvictColdest() {
    size_t victim = 0;
    if (slots_.size() <= 16) {
      for (size_t i = 1; i < slots_.size(); ++i) {
        if (Colder(i, victim)) {
          victim = i;
        }
      }
    } else {
      victim = NextRandom() % slots_.size();
      for (int s = 1; s < 8; ++s) {
        const size_t i = NextRandom() % slots_.size();
        if (Colder(i, victim)) {
          victim = i;
        }
      }
    }
    heap_bytes_ -= slots_[victim].second.HeapBytes();
    index_.Erase(EntryOf(slots_[victim].first), HashOfSlot());
    if (victim + 1 != slots_.size()) {
      slots_[victim] = std::move(slots_.back());
      index_.Repoint(EntryOf(slots_[victim].first), static_cast<uint32_t>(victim));
    }
    slots_.pop_back();
    ++evictions_;
  }
  bool Colder(size_t a, size_t b) const {
    return slots_[a].second.LastTime() < slots_[b].second.LastTime();
  }

  static size_t IndexCapacity(uint64_t keys) {
    return std::bit_ceil(std::max<uint64_t>(16, (keys * 4 + 2) / 3));
  }
  // The slot holding k (hash h), kNoSlot if none.
  uint32_t SlotFor(const Key& k, uint64_t h) const {
    const size_t e = index_.Lookup(h, [&](uint32_t slot) { return slots_[slot].first == k; });
    return e == SlotIndex::kNotFound ? kNoSlot : index_.SlotAt(e);
  }
  // The index entry of a key the table holds.
  size_t EntryOf(const Key& k) const {
    return index_.Lookup(hash_(k), [&](uint32_t slot) { return slots_[slot].first == k; });
  }
  auto HashOfSlot() const {
    return [this](uint32_t slot) { return hash_(slots_[slot].first); };
  }
  void Rebuild(size_t capacity) { index_.Rebuild(capacity, slots_.size(), HashOfSlot()); }

  Hash hash_;
  HugeVector<Slot> slots_;
  SlotIndex index_;
  uint64_t max_keys_ = 1;
  uint64_t budget_ = 0;
  uint64_t heap_bytes_ = 0;
  uint64_t evictions_ = 0;
  uint64_t rng_ = 0x9e3779b97f4a7c15ULL;
};

// Addresses compared as two words: the defaulted == calls memcmp, which
// showed as a sixth of the update path.
inline bool SameAddress(const IpAddress& a, const IpAddress& b) {
  uint64_t x[2], y[2];
  std::memcpy(x, a.bytes.data(), 16);
  std::memcpy(y, b.bytes.data(), 16);
  return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

inline uint64_t AddressPart(const IndexHash& h, const IpAddress& a) {
  uint64_t w[2];
  std::memcpy(w, a.bytes.data(), 16);
  return h.Address(w[0], w[1]);
}

struct RowKey {
  IpAddress client;
  uint16_t port = 0;
  uint8_t ip_version = 0;
  friend bool operator==(const RowKey& a, const RowKey& b) {
    return a.port == b.port && a.ip_version == b.ip_version && SameAddress(a.client, b.client);
  }
  struct Hash : IndexHash {
    size_t operator()(const RowKey& k) const {
      return Of(AddressPart(*this, k.client), k.port, k.ip_version);
    }
    uint64_t Of(uint64_t address, uint16_t port, uint8_t ip_version) const {
      return Finish(address, uint64_t{port} << 8 | ip_version);
    }
  };
};

struct ClientKey {
  IpAddress client;
  uint8_t ip_version = 0;
  friend bool operator==(const ClientKey& a, const ClientKey& b) {
    return a.ip_version == b.ip_version && SameAddress(a.client, b.client);
  }
  struct Hash : IndexHash {
    size_t operator()(const ClientKey& k) const {
      return Of(AddressPart(*this, k.client), k.ip_version);
    }
    uint64_t Of(uint64_t address, uint8_t ip_version) const {
      return Finish(address, uint64_t{0x10000} | ip_version);
    }
  };
};

// Server keys are HashServer values already, but keyed with the snapshot
// key (public by default) and with the low bits masked off (absl takes its
// in-group tag from the low 7 bits): one seeded multiply.
struct ServerKeyHash : IndexHash {
  size_t operator()(uint64_t k) const { return Word(k); }
};

// The row's servers: one exact list of up to kRowInline distinct servers (a
// masked hash of address and port, the same key as the active-server table),
// each with the outcomes it had in the low bits and, when it failed, its
// earliest and latest failure time and failure count (what the order-free
// blind judgement of Rows() needs; one list instead of a ServerSet per
// outcome: exact up to 16 servers, the disjoint count exact while small).
// Beyond, one HyperLogLog per outcome, allocated when the outcome first
// occurs, and only the row's failure time range is kept.
enum ServerFlag : uint64_t {
  kFlagReject = 1,
  kFlagSilent = 2,
  kFlagSuccess = 4,
  kFlagData = 8,
};
constexpr int kFlagCount = 4;
constexpr uint64_t kFlagMask = 31;
constexpr uint64_t kFailFlags = kFlagReject | kFlagSilent;
constexpr int kRowInline = 16;

struct RowSketches {
  std::array<std::unique_ptr<Hll>, kFlagCount> sets;  // by flag bit
};

// The failures of one server of an exact row: earliest, latest, count.
struct FailEntry {
  uint64_t min = UINT64_MAX;
  uint64_t max = 0;
  uint32_t n = 0;
};
constexpr uint32_t kFailGrowth = 2;  // the smallest out-of-line failure list

// Sessions by Outcome index kReject..kData (no slot for kNone: 8 bytes a
// row, which pay for ClientState::latest).
struct RowSessions {
  std::array<uint64_t, 4> v{};
  uint64_t& operator[](int o) { return v[static_cast<size_t>(o - 1)]; }
  uint64_t operator[](int o) const { return v[static_cast<size_t>(o - 1)]; }
};

// Hot fields first, then the server list, then what only failures touch: a
// repeat session touches the header (the sketch pointer and fail_cap too,
// for the memory charge) and the list's first entries, which the batch
// pipeline prefetches (with the key: 128 bytes, the first two lines of the
// 64-byte aligned slot of 256 bytes).
struct RowState {
  uint16_t n = 0;         // servers in the exact list (at most kRowInline)
  uint16_t fail_cap = 0;  // entries of `failures`: read by HeapBytes, so hot
  // The slot of the row's client in the client table as last seen (a hint,
  // checked by key: evictions move clients), so that the batch reaches the
  // client through the row's line instead of the client index's.
  uint32_t client_slot = UINT32_MAX;
  std::unique_ptr<RowSketches> sketch;
  // While no client was evicted: a contact (time << 2 | kind) of a server of
  // the exact list no earlier than this changes nothing in the client's
  // first contacts, so a repeat session does not read the client (see
  // ScanTable::Add). The latest contact that added a server to the list:
  // that contact left the server among the client's first contacts no later
  // than it, or the client full with all its contacts earlier; later
  // contacts (of any row) only make contact times earlier. Loaded rows:
  // Impl::SettleLoadedRows.
  uint64_t settled_from = 0;
  uint64_t first_time_us = UINT64_MAX;
  uint64_t last_time_us = 0;
  RowSessions sessions;
  std::array<uint64_t, kRowInline> servers{};  // id (hash & ~kFlagMask) | flags
  // Failures only (cold for a success).
  // Exact regime, from the row's first failure: an entry per server up to the
  // last one that failed (fail_cap of them, grown by doubling), out of line
  // so that rows of successes only stay small (the update path's cache
  // footprint), and sized to need: a scanned row of one or two servers costs
  // 48 bytes, not the 320 of a list of kRowInline.
  std::unique_ptr<FailEntry[]> failures;
  uint64_t fail_min_us = UINT64_MAX;  // over all the row's failures
  uint64_t fail_max_us = 0;

  uint64_t LastTime() const { return last_time_us; }
  uint32_t Fails(uint32_t i) const { return i < fail_cap ? failures[i].n : 0; }
  uint64_t FailMin(uint32_t i) const { return i < fail_cap ? failures[i].min : UINT64_MAX; }
  uint64_t FailMax(uint32_t i) const { return i < fail_cap ? failures[i].max : 0; }

  size_t HeapBytes() const {
    if (!sketch) {
      return size_t{fail_cap} * sizeof(FailEntry);
    }
    size_t b = sizeof(RowSketches);
    for (const auto& h : sketch->sets) {
      b += h ? sizeof(Hll) : 0;
    }
    return b;
  }

  void InsertSketch(uint64_t id, uint64_t flags) {
    for (int i = 0; i < kFlagCount; ++i) {
      if ((flags & (uint64_t{1} << i)) == 0) {
        continue;
      }
      if (!sketch->sets[i]) {
        sketch->sets[i] = std::make_unique<Hll>();
      }
      sketch->sets[i]->Insert(id);
    }
  }
  void Promote() {
    sketch = std::make_unique<RowSketches>();
    for (uint32_t i = 0; i < n; ++i) {
      InsertSketch(servers[i] & ~kFlagMask, servers[i] & kFlagMask);
    }
    n = 0;
    failures.reset();
    fail_cap = 0;
  }
  // The flags server `id` has in the exact list: 0 if absent, kUnknownFlags
  // in the sketch regime.
  static constexpr uint64_t kUnknownFlags = kFlagMask + 1;
  uint64_t FlagsOf(uint64_t id) const {
    if (sketch) {
      return kUnknownFlags;
    }
    const uint32_t i = IndexOf(id);
    return i < n ? servers[i] & kFlagMask : 0;
  }
  // The index of server `id` in the exact list, n if absent.
  uint32_t IndexOf(uint64_t id) const {
    uint32_t i = 0;
    while (i < n && (servers[i] & ~kFlagMask) != id) {
      ++i;
    }
    return i;
  }
  // `fails` failures between fmin and fmax (none when fails is 0). Returns
  // FlagsOf(hash) as it was before.
  uint64_t Insert(uint64_t hash, uint64_t flags, uint64_t fmin, uint64_t fmax, uint32_t nfail) {
    const uint64_t id = hash & ~kFlagMask;
    if (nfail != 0) {
      fail_min_us = std::min(fail_min_us, fmin);
      fail_max_us = std::max(fail_max_us, fmax);
    }
    if (!sketch) {
      for (uint32_t i = 0; i < n; ++i) {
        if ((servers[i] & ~kFlagMask) == id) {
          const uint64_t before = servers[i] & kFlagMask;
          servers[i] |= flags;
          AddFailures(i, fmin, fmax, nfail);
          return before;
        }
      }
      if (n < kRowInline) {
        servers[n] = id | flags;  // failures of slots >= n are at their defaults
        AddFailures(n++, fmin, fmax, nfail);
        return 0;
      }
      Promote();
    }
    InsertSketch(id, flags);
    return kUnknownFlags;
  }
  void AddFailures(uint32_t i, uint64_t fmin, uint64_t fmax, uint32_t nfail) {
    if (nfail == 0) {
      return;
    }
    if (i >= fail_cap) {
      // Entries past the old end are at their defaults (no failure yet).
      const uint16_t cap = static_cast<uint16_t>(
          std::min<uint32_t>(kRowInline, std::max<uint32_t>(kFailGrowth, std::bit_ceil(i + 1))));
      auto grown = std::make_unique<FailEntry[]>(cap);
      std::copy(failures.get(), failures.get() + fail_cap, grown.get());
      failures = std::move(grown);
      fail_cap = cap;
    }
    FailEntry& f = failures[i];
    f.min = std::min(f.min, fmin);
    f.max = std::max(f.max, fmax);
    f.n = static_cast<uint32_t>(std::min<uint64_t>(UINT32_MAX, uint64_t{f.n} + nfail));
  }
  void Merge(const RowState& o) {
    // Both bounds hold for the merged client (its contacts are the earliest
    // of both), so the later one holds for both lists.
    settled_from = std::max(settled_from, o.settled_from);
    fail_min_us = std::min(fail_min_us, o.fail_min_us);
    fail_max_us = std::max(fail_max_us, o.fail_max_us);
    if (!o.sketch) {
      for (uint32_t i = 0; i < o.n; ++i) {
        Insert(o.servers[i], o.servers[i] & kFlagMask, o.FailMin(i), o.FailMax(i), o.Fails(i));
      }
      return;
    }
    if (!sketch) {
      Promote();
    }
    for (int i = 0; i < kFlagCount; ++i) {
      if (!o.sketch->sets[i]) {
        continue;
      }
      if (!sketch->sets[i]) {
        sketch->sets[i] = std::make_unique<Hll>();
      }
      sketch->sets[i]->Merge(*o.sketch->sets[i]);
    }
  }
  uint64_t Count(uint64_t flag) const {
    if (sketch) {
      const int i = std::countr_zero(flag);
      return sketch->sets[i] ? static_cast<uint64_t>(std::llround(sketch->sets[i]->Estimate())) : 0;
    }
    uint64_t c = 0;
    for (uint32_t i = 0; i < n; ++i) {
      c += (servers[i] & flag) ? 1 : 0;
    }
    return c;
  }
  // The union of the failure sketches (sketch regime only).
  Hll Failed() const {
    Hll f;
    for (uint64_t flag : {kFlagReject, kFlagSilent}) {
      const auto& h = sketch->sets[std::countr_zero(flag)];
      if (h) {
        f.Merge(*h);
      }
    }
    return f;
  }
  // Servers that failed and never accepted.
  uint64_t Disjoint() const {
    if (!sketch) {
      uint64_t c = 0;
      for (uint32_t i = 0; i < n; ++i) {
        const uint64_t f = servers[i];
        c += (f & kFailFlags) && !(f & kFlagSuccess) ? 1 : 0;
      }
      return c;
    }
    // |failed u accepted| - |accepted| on the sketches.
    Hll all = Failed();
    const auto& s = sketch->sets[std::countr_zero(uint64_t{kFlagSuccess})];
    if (s) {
      all.Merge(*s);
    }
    const uint64_t u = static_cast<uint64_t>(std::llround(all.Estimate()));
    const uint64_t a = Count(kFlagSuccess);
    return u > a ? u - a : 0;
  }
};

// A first contact packed in 16 bytes: time << 2 | kind, so that ordering by
// the packed word orders by time, then success before failure. Whether a
// failure was blind is judged at Verdicts() time (order-free).
enum ContactKind : uint8_t { kContactSuccess = 0, kContactFailure = 1 };
struct FirstContact {
  uint64_t target = 0;
  uint64_t time_kind = 0;
};

struct ClientState {
  uint32_t n = 0;
  uint64_t last_time_us = 0;
  uint64_t latest = 0;                                // contacts[n - 1].time_kind (0 while empty)
  std::array<FirstContact, kTrwContacts> contacts{};  // last: its tail is cold

  size_t HeapBytes() const { return 0; }
  uint64_t LastTime() const { return last_time_us; }

  // Keeps the kTrwContacts earliest first contacts, sorted.
  void Add(uint64_t target, uint64_t time_kind) {
    if (n == kTrwContacts && time_kind >= latest) {
      return;  // full, and no later than every kept contact: changes nothing
    }
    AddContact(target, time_kind);
    latest = n == 0 ? 0 : contacts[n - 1].time_kind;
  }
  void AddContact(uint64_t target, uint64_t time_kind) {
    if (n == kTrwContacts && time_kind >= contacts[n - 1].time_kind) {
      return;  // full, and no later than every kept contact: changes nothing
    }
    for (uint32_t i = 0; i < n; ++i) {
      if (contacts[i].target == target) {
        if (time_kind >= contacts[i].time_kind) {
          return;
        }
        contacts[i].time_kind = time_kind;
        Sift(i);
        return;
      }
    }
    if (n < kTrwContacts) {
      contacts[n] = {target, time_kind};
      Sift(n++);
      return;
    }
    if (time_kind >= contacts[n - 1].time_kind) {
      return;
    }
    contacts[n - 1] = {target, time_kind};
    Sift(n - 1);
  }
  // Moves entry i down to its place (its key only ever decreases).
  void Sift(uint32_t i) {
    while (i > 0 && contacts[i].time_kind < contacts[i - 1].time_kind) {
      std::swap(contacts[i], contacts[i - 1]);
      --i;
    }
  }
};

// What a repeat success updates first (with the key: 32 bytes, one line of
// the 32-byte aligned slot).
struct ServerState {
  uint64_t accepts = 0;
  uint64_t first_accept_us = UINT64_MAX;
  uint64_t last_accept_us = 0;
  IpAddress address;
  uint16_t port = 0;
  uint8_t ip_version = 0;
  ServerSet clients;

  size_t HeapBytes() const { return clients.HeapBytes(); }
  uint64_t LastTime() const { return last_accept_us; }  // the eviction order
};

// Rows: 248 -> 256 bytes, clients: 304 -> 320 (their 48 hot bytes in one
// line), servers: 136 -> 160; a line or more a record fewer out of cache.
using RowTable = BoundedTable<RowKey, RowState, RowKey::Hash, 64>;
using ClientTable = BoundedTable<ClientKey, ClientState, ClientKey::Hash, 64>;
using ServerTable = BoundedTable<uint64_t, ServerState, ServerKeyHash, 32>;
static_assert(sizeof(RowTable::Slot) == 256 && sizeof(ClientTable::Slot) == 320 &&
              sizeof(ServerTable::Slot) == 160);
// The row's header (through last_time_us) fills the slot's first line.
static_assert(offsetof(RowTable::Slot, second) + offsetof(RowState, sessions) == 64);

template <class Table, class Value>
void ChargeHeap(Table& t, const Value& v, size_t before) {
  const size_t after = v.HeapBytes();
  if (after != before) {
    t.AddHeap(static_cast<int64_t>(after) - static_cast<int64_t>(before));
  }
}

}  // namespace

Outcome ClassifyRecord(const SessionRecord& r) {
  if (r.protocol != 6 || r.continuing || (r.client_flags & kTcpSyn) == 0 || r.transient_server) {
    return Outcome::kNone;
  }
  if ((r.server_flags & kTcpSyn) != 0) {
    return r.client_bytes > 0 ? Outcome::kData : Outcome::kSuccess;
  }
  if ((r.server_flags & kTcpRst) != 0 || r.conn_state == record::ConnState::kREJ) {
    return Outcome::kReject;
  }
  return Outcome::kSilent;
}

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kReject:
      return "reject";
    case Outcome::kSilent:
      return "silent";
    case Outcome::kSuccess:
      return "success";
    case Outcome::kData:
      return "data";
    case Outcome::kNone:
      break;
  }
  return "none";
}

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kScanner:
      return "scanner";
    case Verdict::kBenign:
      return "benign";
    case Verdict::kPending:
      break;
  }
  return "pending";
}

namespace {

struct TrwSteps {
  explicit TrwSteps(const TrwOptions& p)
      : fail(std::log((1 - p.theta1) / (1 - p.theta0))),
        success(std::log(p.theta1 / p.theta0)),
        upper(std::log(p.beta / p.alpha)),
        lower(std::log((1 - p.beta) / (1 - p.alpha))) {}
  double fail, success, upper, lower;
};

bool RowBefore(const ScanRow& a, const ScanRow& b, bool by_sessions) {
  if (a.Count(by_sessions) != b.Count(by_sessions)) {
    return a.Count(by_sessions) > b.Count(by_sessions);
  }
  return std::tie(a.ip_version, a.client, a.port) < std::tie(b.ip_version, b.client, b.port);
}

bool ServerBefore(const ServerRow& a, const ServerRow& b) {
  if (a.accepts != b.accepts) {
    return a.accepts > b.accepts;
  }
  return std::tie(a.ip_version, a.address, a.port) < std::tie(b.ip_version, b.address, b.port);
}

// Keeps the n best of a stream in `heap` (a max-heap on `worse`, so its
// front is the worst kept): TopRows and TopServers.
template <class T, class Worse>
void KeepTop(std::vector<T>& heap, size_t n, T candidate, Worse worse) {
  if (heap.size() == n && !worse(candidate, heap.front())) {
    return;
  }
  heap.push_back(std::move(candidate));
  std::push_heap(heap.begin(), heap.end(), worse);
  if (heap.size() > n) {
    std::pop_heap(heap.begin(), heap.end(), worse);
    heap.pop_back();
  }
}

}  // namespace

struct ScanTable::Impl {
  explicit Impl(const ScanOptions& o)
      : rows(o.max_rows, SixTenths(o.memory_bytes)),
        clients(o.max_clients, o.memory_bytes / 4),
        servers(o.max_servers, o.memory_bytes - SixTenths(o.memory_bytes) - o.memory_bytes / 4) {}
  // In 128 bits: any budget the command line takes, up to 2^64 - 1.
  static uint64_t SixTenths(uint64_t b) {
    return static_cast<uint64_t>(static_cast<unsigned __int128>(b) * 6 / 10);
  }

  RowTable rows;
  ClientTable clients;
  ServerTable servers;
  ScanStats stats;
  // A client's last record time (its eviction order) is the latest of its
  // rows' (every record of a client is a record of one of its rows). Until a
  // row or client could be evicted, a repeat session updates only its row,
  // and a client's own last_time_us is a lower bound; FoldClientTimes makes
  // them exact, once, before the first eviction (Add) or a Merge.
  bool client_times_folded = false;

  // The slot of the client of row k (k's hint when it still holds it).
  uint32_t ClientSlotOf(const RowKey& k, const RowState& r) const {
    const ClientKey ck{k.client, k.ip_version};
    if (clients.Holds(r.client_slot, ck)) {
      return r.client_slot;
    }
    return clients.FindSlot(ck);
  }
  // Every client's last record time, by slot.
  std::vector<uint64_t> ClientTimes() const {
    std::vector<uint64_t> t(clients.size());
    for (size_t i = 0; i < t.size(); ++i) {
      t[i] = clients.slots()[i].second.last_time_us;
    }
    if (!client_times_folded) {
      for (const auto& [k, r] : rows.slots()) {
        if (const uint32_t c = ClientSlotOf(k, r); c != ClientTable::kNoSlot) {
          t[c] = std::max(t[c], r.last_time_us);
        }
      }
    }
    return t;
  }
  // settled_from of rows loaded from a snapshot (not saved: derived from the
  // client): the latest of its servers' first contacts, or the client's
  // latest one for servers a full client does not keep; UINT64_MAX (never
  // settled) when a server is missing from a client that is not full (its
  // client was evicted in the table saved) or the client is missing.
  void SettleLoadedRows() {
    for (uint32_t i = 0; i < rows.size(); ++i) {
      const RowKey& k = rows.slots()[i].first;
      RowState& r = rows.At(i);
      const ClientState* c = clients.Find(ClientKey{k.client, k.ip_version});
      r.settled_from = c == nullptr ? UINT64_MAX : 0;
      for (uint32_t s = 0; s < r.n && c != nullptr; ++s) {
        const uint64_t id = r.servers[s] & ~kFlagMask;
        const auto* end = c->contacts.begin() + c->n;
        const auto* f = std::find_if(c->contacts.begin(), end,
                                     [id](const FirstContact& fc) { return fc.target == id; });
        const uint64_t bound = f != end               ? f->time_kind
                               : c->n == kTrwContacts ? c->latest
                                                      : UINT64_MAX;
        r.settled_from = std::max(r.settled_from, bound);
      }
    }
  }
  void FoldClientTimes() {
    if (client_times_folded) {
      return;
    }
    const std::vector<uint64_t> t = ClientTimes();
    for (size_t i = 0; i < t.size(); ++i) {
      clients.At(static_cast<uint32_t>(i)).last_time_us = t[i];
    }
    client_times_folded = true;
  }

  // The active window of a server: [first acceptance - horizon, last
  // acceptance + horizon]; empty (lo > hi) for a server that never accepted.
  struct Window {
    uint64_t lo = 1;
    uint64_t hi = 0;
    bool Contains(uint64_t t) const { return lo <= t && t <= hi; }
    bool Overlaps(uint64_t a, uint64_t b) const { return lo <= b && a <= hi && lo <= hi; }
  };
  static Window WindowOf(const ServerState& s, uint64_t horizon) {
    if (s.accepts == 0) {
      return {};
    }
    return {s.first_accept_us > horizon ? s.first_accept_us - horizon : 0,
            s.last_accept_us > UINT64_MAX - horizon ? UINT64_MAX : s.last_accept_us + horizon};
  }
  Window WindowOf(uint64_t target, uint64_t horizon) const {
    const ServerState* s = servers.Find(target);
    return s == nullptr ? Window{} : WindowOf(*s, horizon);
  }

  // The servers that accepted, by (port, ip version): the active side of the
  // sketch rows' inclusion-exclusion. Built once per Rows() when needed.
  using PortIndex = absl::flat_hash_map<uint32_t, std::vector<const ServerTable::Slot*>>;
  PortIndex IndexServers() const {
    PortIndex index;
    for (const auto& slot : servers.slots()) {
      if (slot.second.accepts != 0) {
        index[uint32_t{slot.second.port} << 8 | slot.second.ip_version].push_back(&slot);
      }
    }
    return index;
  }

  ScanRow MakeRow(const RowKey& k, const RowState& s, const PortIndex* index,
                  uint64_t horizon) const;
  ClientVerdict VerdictOf(const ScanOptions& o, const ClientKey& k, const ClientState& c,
                          const TrwSteps& st) const;
  static ServerRow MakeServer(const ServerState& s) {
    ServerRow row;
    row.address = s.address;
    row.ip_version = s.ip_version;
    row.port = s.port;
    row.accepts = s.accepts;
    row.clients = s.clients.Count();
    row.estimated = !s.clients.exact();
    row.first_accept_us = s.first_accept_us;
    row.last_accept_us = s.last_accept_us;
    return row;
  }

  // Blind sessions and servers of a row, judged now against the final
  // active-server table (so the result is order-free, see the header).
  void Blind(const RowState& s, const RowKey& k, const PortIndex* index, uint64_t horizon,
             ScanRow* row) const {
    if (!s.sketch) {
      for (uint32_t i = 0; i < s.n; ++i) {
        const uint32_t fails = s.Fails(i);
        if (fails == 0) {
          continue;
        }
        const uint64_t fmin = s.FailMin(i);
        const uint64_t fmax = s.FailMax(i);
        const Window w = WindowOf(s.servers[i] & ~kFlagMask, horizon);
        const bool first_blind = !w.Contains(fmin);
        const bool last_blind = !w.Contains(fmax);
        if (first_blind && last_blind) {
          // Both ends on one side of the (interval) window: every failure
          // is outside it. A window strictly between them: the failures in
          // between are unknown, count the two ends (a lower bound).
          const bool straddle = fmin < w.lo && fmax > w.hi && w.lo <= w.hi;
          row->blind_sessions += straddle ? std::min<uint32_t>(2, fails) : fails;
          ++row->blind_servers;
        } else if (first_blind || last_blind) {
          ++row->blind_sessions;  // at least the end outside; exact for <= 2 failures
          ++row->blind_servers;
        }
      }
      return;
    }
    // Sketch regime: blind servers = |failed \ active|, where active = the
    // port's servers whose window overlaps the row's failure time range;
    // |F \ A| = |F u A| - |A| on HyperLogLogs.
    row->estimated = true;
    const uint64_t failed_sessions = s.sessions[static_cast<int>(Outcome::kReject)] +
                                     s.sessions[static_cast<int>(Outcome::kSilent)];
    if (failed_sessions == 0) {
      return;
    }
    Hll failed = s.Failed();
    const uint64_t f = static_cast<uint64_t>(std::llround(failed.Estimate()));
    Hll active;
    bool any = false;
    if (index != nullptr) {
      auto it = index->find(uint32_t{k.port} << 8 | k.ip_version);
      if (it != index->end()) {
        for (const auto* slot : it->second) {
          if (WindowOf(slot->second, horizon).Overlaps(s.fail_min_us, s.fail_max_us)) {
            active.Insert(slot->first);
            any = true;
          }
        }
      }
    }
    uint64_t blind = f;
    if (any) {
      const uint64_t a = static_cast<uint64_t>(std::llround(active.Estimate()));
      failed.Merge(active);
      const uint64_t u = static_cast<uint64_t>(std::llround(failed.Estimate()));
      blind = std::min(f, u > a ? u - a : 0);
    }
    row->blind_servers = blind;
    row->blind_sessions = f == 0 ? 0
                                 : static_cast<uint64_t>(std::llround(
                                       static_cast<double>(failed_sessions) *
                                       static_cast<double>(blind) / static_cast<double>(f)));
    row->blind_sessions = std::min(row->blind_sessions, failed_sessions);
  }
};

ScanTable::ScanTable(ScanOptions options)
    : options_(options), impl_(std::make_unique<Impl>(options_)) {}
ScanTable::~ScanTable() = default;
ScanTable::ScanTable(ScanTable&&) noexcept = default;
ScanTable& ScanTable::operator=(ScanTable&&) noexcept = default;

size_t ScanTable::RowBytes() { return RowTable::KeyBytes(); }
size_t ScanTable::ClientBytes() { return ClientTable::KeyBytes(); }
size_t ScanTable::ServerBytes() { return ServerTable::KeyBytes(); }

namespace {

// Masked like the rows' ids, so the rows look servers up by their id.
uint64_t TargetOf(const SessionRecord& r, uint64_t key) {
  return HashServer(r.server_ip, r.ip_version, r.server_port, key) & ~kFlagMask;
}
// A client in a server's set of clients.
uint64_t ClientHashOf(const SessionRecord& r, uint64_t key) {
  return HashServer(r.client_ip, r.ip_version, 0, key);
}

uint64_t ContactOf(uint64_t time_us, bool success) {
  return time_us << 2 | (success ? kContactSuccess : kContactFailure);
}

// Whether a contact (time << 2 | kind) of a server that had `flags` in the
// row changes nothing in the client's first contacts (RowState::settled_from;
// the flags are those from before the record, 0 for a server new to it).
bool Settled(const RowState& row, uint64_t flags, uint64_t time_kind, uint64_t client_evictions) {
  return flags != 0 && flags != RowState::kUnknownFlags && client_evictions == 0 &&
         time_kind >= row.settled_from;
}

}  // namespace

void ScanTable::Consume(const SessionRecord& r) {
  Impl& m = *impl_;
  const Outcome o = ClassifyRecord(r);
  if (o == Outcome::kNone) {
    ++m.stats.records;
    ++(r.protocol == 6 && r.continuing ? m.stats.skipped_interim : m.stats.skipped_other);
    return;
  }
  Add(r, o, TargetOf(r, options_.hash_key));
}

void ScanTable::Add(const SessionRecord& r, Outcome o, uint64_t target, const Hints* hints) {
  Impl& m = *impl_;
  ++m.stats.records;
  ++m.stats.counted;
  const uint64_t t = r.first_time_us;
  m.stats.max_time_us = std::max(m.stats.max_time_us, t);
  const bool success = o == Outcome::kSuccess || o == Outcome::kData;
  if (!m.client_times_folded && (m.rows.MayEvict() || m.clients.MayEvict())) {
    m.FoldClientTimes();  // before any row or client goes
  }
  const RowKey rk{r.client_ip, r.server_port, r.ip_version};
  RowState& row =
      hints ? m.rows.FindOrInsert(rk, hints->row_hash, hints->row_slot) : m.rows.FindOrInsert(rk);
  const size_t row_before = row.HeapBytes();
  ++row.sessions[Idx(o)];
  uint64_t flags = uint64_t{1} << (Idx(o) - 1);
  if (o == Outcome::kData) {
    ++row.sessions[Idx(Outcome::kSuccess)];
    flags |= kFlagSuccess;
  }
  const uint64_t flags_before = row.Insert(target, flags, t, t, success ? 0 : 1);
  row.first_time_us = std::min(row.first_time_us, t);
  row.last_time_us = std::max(row.last_time_us, r.last_time_us);
  ChargeHeap(m.rows, row, row_before);

  if (success) {
    ServerState& s = hints ? m.servers.FindOrInsert(target, hints->server_hash, hints->server_slot)
                           : m.servers.FindOrInsert(target);
    if (s.accepts == 0) {
      s.address = r.server_ip;
      s.port = r.server_port;
      s.ip_version = r.ip_version;
    }
    ++s.accepts;
    s.first_accept_us = std::min(s.first_accept_us, t);
    s.last_accept_us = std::max(s.last_accept_us, t);
    // A client this row already saw accepted by this server is in its set
    // (inserting it again changes nothing) unless a server was ever evicted
    // (this one may have been, and come back with an empty set): skipping
    // the insert saves a popular server's random sketch register per repeat
    // session, the update path's largest miss.
    if ((flags_before & kFlagSuccess) == 0 || flags_before == RowState::kUnknownFlags ||
        m.servers.evictions() != 0) {
      const size_t before = s.HeapBytes();  // its line is cold for a repeat
      s.clients.Insert(ClientHashOf(r, options_.hash_key));
      ChargeHeap(m.servers, s, before);
    }
  }

  // A contact of a server this row already has no earlier than the row's
  // settled_from changes nothing (unless a client was ever evicted), and
  // while client times are folded lazily such a session does not touch its
  // client at all: the client's line is the update path's largest miss.
  const uint64_t time_kind = ContactOf(t, success);
  const bool settled = Settled(row, flags_before, time_kind, m.clients.evictions());
  if (!settled || m.client_times_folded) {
    // The client through the row's hint; by the index when the row is new or
    // the client moved (evicted, or another evicted in its place).
    const ClientKey ck{r.client_ip, r.ip_version};
    if (!m.clients.Holds(row.client_slot, ck)) {
      row.client_slot =
          hints ? m.clients.FindOrInsertSlot(ck, hints->client_hash, hints->client_slot)
                : m.clients.FindOrInsertSlot(ck, m.clients.HashOf(ck), ClientTable::kNoSlot);
    }
    ClientState& c = m.clients.At(row.client_slot);
    if (!settled) {
      c.Add(target, time_kind);
      if (flags_before == 0) {
        row.settled_from = std::max(row.settled_from, time_kind);
      }
    }
    c.last_time_us = std::max(c.last_time_us, r.last_time_us);
  }
  if (!m.client_times_folded && m.rows.MayEvict()) {
    m.FoldClientTimes();  // Trim may evict (a sketch grew the row table)
  }
  m.rows.Trim();
  m.servers.Trim();
}

void ScanTable::Consume(std::span<const SessionRecord> records) {
  // A pipeline over the batch: record i + kIndexAhead is classified, its
  // hashes computed, and the home index lines of its row and server
  // prefetched; at i + kValueAhead the (now cached) indexes give the slots,
  // whose hot bytes are prefetched; at i + kRowAhead the (now cached) row
  // gives its client's slot (a hint kept in the row: no client index line),
  // whose hot line is prefetched unless the record is settled (Add does not
  // touch the client), and tells whether a success is a repeat;
  // if not, its server's client set and the register its client goes to
  // when that set is a sketch are prefetched (popular servers: a random
  // 2 KiB access); at i it is added, with the hashes and slots found (each
  // computed once). Out of cache, the misses of ~8 records overlap: the work
  // is bound by the lines a record touches (about 6 for a repeat success:
  // 2 index, 2 row, 1 server, and the record's own; 1 client more once
  // client times are folded).
  constexpr size_t kIndexAhead = 16;
  constexpr size_t kValueAhead = 10;
  constexpr size_t kRowAhead = 5;
  constexpr size_t kRing = 32;  // > kIndexAhead, a power of two
  static_assert(kRing > kIndexAhead && (kRing & (kRing - 1)) == 0);
  // First contacts prefetched for a record that reads the list: the line
  // with the header holds one, and two lines more 8 (most clients' all).
  constexpr size_t kClientListAhead = 8;
  Impl& m = *impl_;
  const uint64_t key = options_.hash_key;
  std::array<Outcome, kRing> outcome;
  std::array<uint64_t, kRing> target;
  std::array<Hints, kRing> hints;
  const RowKey::Hash row_hasher;
  const ClientKey::Hash client_hasher;
  auto stage_index = [&](size_t j) {
    const SessionRecord& a = records[j];
    const Outcome o = ClassifyRecord(a);
    outcome[j % kRing] = o;
    if (o == Outcome::kNone) {
      return;
    }
    Hints& h = hints[j % kRing];
    const uint64_t tg = TargetOf(a, key);
    target[j % kRing] = tg;
    // Both tables' hashes from one multiply over the client's address (the
    // same values as HashOf: both hashers have the process secrets).
    const uint64_t address = AddressPart(row_hasher, a.client_ip);
    h.row_hash = row_hasher.Of(address, a.server_port, a.ip_version);
    h.client_hash = client_hasher.Of(address, a.ip_version);
    m.rows.PrefetchHome(h.row_hash);
    h.server_slot = ServerTable::kNoSlot;
    if (o >= Outcome::kSuccess) {
      h.server_hash = m.servers.HashOf(tg);
      m.servers.PrefetchHome(h.server_hash);
    }
  };
  auto stage_value = [&](size_t j) {
    const Outcome o = outcome[j % kRing];
    if (o == Outcome::kNone) {
      return;
    }
    Hints& h = hints[j % kRing];
    // The row's key, header and first four servers; for a failure also its
    // tail (failure range and list, read by stage_row).
    h.row_slot = m.rows.SlotOf(h.row_hash);
    m.rows.PrefetchSlot(h.row_slot, o >= Outcome::kSuccess ? offsetof(RowTable::Slot, second) +
                                                                 offsetof(RowState, servers) + 32
                                                           : sizeof(RowTable::Slot));
    if (o >= Outcome::kSuccess) {
      // The key and counters only: a repeat success (the common case) does
      // not touch the client set; stage_row prefetches it otherwise.
      h.server_slot = m.servers.SlotOf(h.server_hash);
      m.servers.PrefetchSlot(h.server_slot,
                             offsetof(ServerTable::Slot, second) + offsetof(ServerState, address));
    }
  };
  auto stage_row = [&](size_t j) {
    const Outcome o = outcome[j % kRing];
    if (o == Outcome::kNone) {
      return;
    }
    Hints& h = hints[j % kRing];
    const SessionRecord& a = records[j];
    const RowState* row =
        m.rows.AtSlot(h.row_slot, RowKey{a.client_ip, a.server_port, a.ip_version});
    // The flags the record's server has in the row (what Add's Insert
    // returns; 0 for a new row).
    const uint64_t flags = row == nullptr ? 0 : row->FlagsOf(target[j % kRing]);
    // A settled record reads the client's key and header at most (Add); any
    // other reads its first contacts too (looking for the server), except a
    // full client's later contacts: the first kClientListAhead.
    h.client_slot = ClientTable::kNoSlot;
    const bool settled =
        row != nullptr && Settled(*row, flags, ContactOf(a.first_time_us, o >= Outcome::kSuccess),
                                  m.clients.evictions());
    if (!settled || m.client_times_folded) {
      if (row != nullptr && row->client_slot < m.clients.size()) {
        m.clients.PrefetchSlot(row->client_slot,
                               offsetof(ClientTable::Slot, second) +
                                   offsetof(ClientState, contacts) +
                                   (settled ? 0 : kClientListAhead * sizeof(FirstContact)));
      } else {
        m.clients.PrefetchHome(h.client_hash);  // Add looks it up
      }
    }
    if (o < Outcome::kSuccess) {
      // A failure also updates its server's failure entry (out of line), or
      // the sketch's header.
      if (row != nullptr) {
        if (row->sketch) {
          __builtin_prefetch(row->sketch.get());
        } else if (const uint32_t f = row->IndexOf(target[j % kRing]); f < row->fail_cap) {
          __builtin_prefetch(&row->failures[f]);
        }
      }
      return;
    }
    if (row != nullptr && m.servers.evictions() == 0 && (flags & kFlagSuccess) != 0 &&
        flags != RowState::kUnknownFlags) {
      return;  // Add will not insert (a repeat)
    }
    if (const ServerState* s = m.servers.AtSlot(h.server_slot, target[j % kRing])) {
      m.servers.PrefetchSlot(h.server_slot, sizeof(ServerTable::Slot));
      s->clients.Prefetch(ClientHashOf(a, key));
    }
  };
  const size_t n = records.size();
  for (size_t j = 0; j < std::min(n, kIndexAhead); ++j) {
    stage_index(j);
  }
  for (size_t j = 0; j < std::min(n, kValueAhead); ++j) {
    stage_value(j);
  }
  for (size_t j = 0; j < std::min(n, kRowAhead); ++j) {
    stage_row(j);
  }
  for (size_t i = 0; i < n; ++i) {
    if (i + kIndexAhead < n) {
      stage_index(i + kIndexAhead);
    }
    if (i + kValueAhead < n) {
      stage_value(i + kValueAhead);
    }
    if (i + kRowAhead < n) {
      stage_row(i + kRowAhead);
    }
    const Outcome o = outcome[i % kRing];
    if (o == Outcome::kNone) {
      const SessionRecord& r = records[i];
      ++m.stats.records;
      ++(r.protocol == 6 && r.continuing ? m.stats.skipped_interim : m.stats.skipped_other);
      continue;
    }
    Add(records[i], o, target[i % kRing], &hints[i % kRing]);
  }
}

void ScanTable::Merge(const ScanTable& other) {
  Impl& m = *impl_;
  const Impl& o = *other.impl_;
  m.FoldClientTimes();  // merging may evict
  const std::vector<uint64_t> other_times = o.ClientTimes();
  for (const auto& [k, s] : o.servers.slots()) {
    ServerState& d = m.servers.FindOrInsert(k);
    const size_t before = d.HeapBytes();
    if (d.accepts == 0) {
      d.address = s.address;
      d.port = s.port;
      d.ip_version = s.ip_version;
    }
    d.accepts += s.accepts;
    d.first_accept_us = std::min(d.first_accept_us, s.first_accept_us);
    d.last_accept_us = std::max(d.last_accept_us, s.last_accept_us);
    d.clients.Merge(s.clients);
    ChargeHeap(m.servers, d, before);
  }
  for (const auto& [k, s] : o.rows.slots()) {
    RowState& d = m.rows.FindOrInsert(k);
    const size_t before = d.HeapBytes();
    for (int i = 1; i < 5; ++i) {
      d.sessions[i] += s.sessions[i];
    }
    d.Merge(s);
    d.first_time_us = std::min(d.first_time_us, s.first_time_us);
    d.last_time_us = std::max(d.last_time_us, s.last_time_us);
    ChargeHeap(m.rows, d, before);
  }
  for (size_t i = 0; i < o.clients.size(); ++i) {
    const auto& [k, s] = o.clients.slots()[i];
    ClientState& d = m.clients.FindOrInsert(k);
    for (uint32_t j = 0; j < s.n; ++j) {
      d.Add(s.contacts[j].target, s.contacts[j].time_kind);
    }
    d.last_time_us = std::max(d.last_time_us, other_times[i]);
  }
  ScanStats& st = m.stats;
  st.records += o.stats.records;
  st.counted += o.stats.counted;
  st.skipped_interim += o.stats.skipped_interim;
  st.skipped_other += o.stats.skipped_other;
  st.max_time_us = std::max(st.max_time_us, o.stats.max_time_us);
  m.rows.Trim();
  m.servers.Trim();
  m.rows.AddEvictions(o.rows.evictions());
  m.clients.AddEvictions(o.clients.evictions());
  m.servers.AddEvictions(o.servers.evictions());
}

// The TRW over one client's first contacts (Verdicts() and TopRows()).
ClientVerdict ScanTable::Impl::VerdictOf(const ScanOptions& o, const ClientKey& k,
                                         const ClientState& c, const TrwSteps& st) const {
  ClientVerdict v;
  v.client = k.client;
  v.ip_version = k.ip_version;
  v.first_contacts = c.n;
  double llr = 0;
  for (uint32_t i = 0; i < c.n; ++i) {
    const FirstContact& fc = c.contacts[i];
    const auto kind = static_cast<ContactKind>(fc.time_kind & 3);
    if (kind == kContactSuccess) {
      llr += st.success;
    } else if (o.trw.active_failure_counts ||
               !WindowOf(fc.target, o.horizon_us).Contains(fc.time_kind >> 2)) {
      llr += st.fail;
    }
    if (llr >= st.upper || llr <= st.lower) {
      v.verdict = llr >= st.upper ? Verdict::kScanner : Verdict::kBenign;
      v.decided_after = i + 1;
      break;
    }
  }
  v.log_ratio = llr;
  return v;
}

std::vector<ClientVerdict> ScanTable::Verdicts() const {
  const TrwSteps st(options_.trw);
  std::vector<ClientVerdict> out;
  out.reserve(impl_->clients.size());
  for (const auto& [k, c] : impl_->clients.slots()) {
    out.push_back(impl_->VerdictOf(options_, k, c, st));
  }
  return out;
}

ScanRow ScanTable::Impl::MakeRow(const RowKey& k, const RowState& s, const PortIndex* index,
                                 uint64_t horizon) const {
  ScanRow row;
  row.client = k.client;
  row.ip_version = k.ip_version;
  row.port = k.port;
  for (int i = 1; i < 5; ++i) {
    row.sessions[i] = s.sessions[i];
    row.servers[i] = s.Count(uint64_t{1} << (i - 1));
  }
  row.estimated = s.sketch != nullptr;
  row.disjoint = s.Disjoint();
  Blind(s, k, index, horizon, &row);  // after `estimated`
  row.first_time_us = s.first_time_us;
  row.last_time_us = s.last_time_us;
  return row;
}

static void SetVerdict(const ClientVerdict& v, ScanRow* row) {
  row->verdict = v.verdict;
  row->decided_after = v.decided_after;
  row->first_contacts = v.first_contacts;
}

std::vector<ScanRow> ScanTable::Rows() const {
  absl::flat_hash_map<ClientKey, ClientVerdict, ClientKey::Hash> verdicts;
  for (const ClientVerdict& v : Verdicts()) {
    verdicts[ClientKey{v.client, v.ip_version}] = v;
  }
  std::unique_ptr<Impl::PortIndex> index;
  for (const auto& slot : impl_->rows.slots()) {
    if (slot.second.sketch) {
      index = std::make_unique<Impl::PortIndex>(impl_->IndexServers());
      break;
    }
  }
  std::vector<ScanRow> out;
  out.reserve(impl_->rows.size());
  for (const auto& [k, s] : impl_->rows.slots()) {
    ScanRow row = impl_->MakeRow(k, s, index.get(), options_.horizon_us);
    auto it = verdicts.find(ClientKey{k.client, k.ip_version});
    if (it != verdicts.end()) {
      SetVerdict(it->second, &row);
    }
    out.push_back(row);
  }
  return out;
}

std::vector<ScanRow> ScanTable::TopRows(size_t n, bool by_sessions) const {
  if (n == 0) {
    return {};
  }
  // Pass 1: a heap of the n best (count, key) without judging anything; the
  // heap's top is the worst kept.
  struct Candidate {
    ScanRow row;  // only the key and the counts are filled
    size_t slot;
  };
  auto worse = [by_sessions](const Candidate& a, const Candidate& b) {
    return RowBefore(a.row, b.row, by_sessions);
  };
  std::vector<Candidate> heap;
  heap.reserve(std::min(n, impl_->rows.size()) + 1);
  const auto& slots = impl_->rows.slots();
  for (size_t i = 0; i < slots.size(); ++i) {
    const auto& [k, s] = slots[i];
    Candidate c{ScanRow{}, i};
    c.row.client = k.client;
    c.row.ip_version = k.ip_version;
    c.row.port = k.port;
    for (int o : {Idx(Outcome::kReject), Idx(Outcome::kSilent)}) {
      c.row.sessions[o] = s.sessions[o];
      if (!by_sessions) {
        c.row.servers[o] = s.Count(uint64_t{1} << (o - 1));
      }
    }
    KeepTop(heap, n, c, worse);
  }
  // Pass 2: judge the kept rows as Rows() does.
  std::unique_ptr<Impl::PortIndex> index;
  for (const Candidate& c : heap) {
    if (slots[c.slot].second.sketch) {
      index = std::make_unique<Impl::PortIndex>(impl_->IndexServers());
      break;
    }
  }
  const TrwSteps st(options_.trw);
  std::vector<ScanRow> out;
  out.reserve(heap.size());
  for (const Candidate& c : heap) {
    const auto& [k, s] = slots[c.slot];
    ScanRow row = impl_->MakeRow(k, s, index.get(), options_.horizon_us);
    const ClientKey ck{k.client, k.ip_version};
    if (const ClientState* cs = impl_->clients.Find(ck)) {
      SetVerdict(impl_->VerdictOf(options_, ck, *cs, st), &row);
    }
    out.push_back(row);
  }
  std::sort(out.begin(), out.end(), [by_sessions](const ScanRow& a, const ScanRow& b) {
    return RowBefore(a, b, by_sessions);
  });
  return out;
}

std::vector<ServerRow> ScanTable::Servers(bool all) const {
  std::vector<ServerRow> out;
  const uint64_t end = impl_->stats.max_time_us;
  for (const auto& [k, s] : impl_->servers.slots()) {
    if (!all && s.last_accept_us + options_.horizon_us < end) {
      continue;
    }
    out.push_back(impl_->MakeServer(s));
  }
  return out;
}

std::vector<ServerRow> ScanTable::TopServers(size_t n) const {
  if (n == 0) {
    return {};
  }
  struct Candidate {
    ServerRow row;  // key and accepts only
    const ServerState* s;
  };
  auto worse = [](const Candidate& a, const Candidate& b) { return ServerBefore(a.row, b.row); };
  std::vector<Candidate> heap;
  const uint64_t end = impl_->stats.max_time_us;
  for (const auto& [k, s] : impl_->servers.slots()) {
    if (s.last_accept_us + options_.horizon_us < end) {
      continue;
    }
    Candidate c{ServerRow{}, &s};
    c.row.address = s.address;
    c.row.ip_version = s.ip_version;
    c.row.port = s.port;
    c.row.accepts = s.accepts;
    KeepTop(heap, n, c, worse);
  }
  std::vector<ServerRow> out;
  out.reserve(heap.size());
  for (const Candidate& c : heap) {
    out.push_back(impl_->MakeServer(*c.s));
  }
  std::sort(out.begin(), out.end(), ServerBefore);
  return out;
}

ScanStats ScanTable::Stats() const {
  ScanStats s = impl_->stats;
  s.row_evictions = impl_->rows.evictions();
  s.client_evictions = impl_->clients.evictions();
  s.server_evictions = impl_->servers.evictions();
  s.rows = impl_->rows.size();
  s.clients = impl_->clients.size();
  s.servers = impl_->servers.size();
  s.memory_bytes =
      impl_->rows.MemoryBytes() + impl_->clients.MemoryBytes() + impl_->servers.MemoryBytes();
  s.memory_budget = options_.memory_bytes;
  return s;
}

}  // namespace flowtrail::analytics

namespace flowtrail::analytics {
namespace {

std::string AddressBytes(const IpAddress& a) {
  return std::string(reinterpret_cast<const char*>(a.bytes.data()), a.bytes.size());
}

absl::Status ParseAddress(const std::string& bytes, uint32_t version, IpAddress* out) {
  if (bytes.size() != out->bytes.size()) {
    return absl::InvalidArgumentError(absl::StrCat("address of ", bytes.size(), " bytes, not 16"));
  }
  if (version != 4 && version != 6) {
    return absl::InvalidArgumentError(absl::StrCat("ip_version ", version));
  }
  std::memcpy(out->bytes.data(), bytes.data(), bytes.size());
  return absl::OkStatus();
}

std::string HllBytes(const Hll& h) {
  return std::string(reinterpret_cast<const char*>(h.registers().data()), h.registers().size());
}

absl::Status ParseHll(const std::string& bytes, Hll* h) {
  if (!h->SetRegisters(
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()))) {
    return absl::InvalidArgumentError("bad HyperLogLog registers");
  }
  return absl::OkStatus();
}

bool Probability(double p) { return p > 0 && p < 1; }

}  // namespace

absl::Status ScanTable::Mergeable(const ScanOptions& a, const ScanOptions& b) {
  if (a.horizon_us != b.horizon_us || a.hash_key != b.hash_key || a.trw.theta0 != b.trw.theta0 ||
      a.trw.theta1 != b.trw.theta1 || a.trw.alpha != b.trw.alpha || a.trw.beta != b.trw.beta ||
      a.trw.active_failure_counts != b.trw.active_failure_counts) {
    return absl::FailedPreconditionError(
        "scan tables differ in horizon, TRW parameters or hash key: not mergeable");
  }
  return absl::OkStatus();
}

absl::Status ScanTable::Save(v1::ScanTableState* state) const {
  state->Clear();
  v1::ScanOptionsState* o = state->mutable_options();
  o->set_horizon_us(options_.horizon_us);
  o->set_trw_theta0(options_.trw.theta0);
  o->set_trw_theta1(options_.trw.theta1);
  o->set_trw_alpha(options_.trw.alpha);
  o->set_trw_beta(options_.trw.beta);
  o->set_trw_active_failure_counts(options_.trw.active_failure_counts);
  o->set_memory_bytes(options_.memory_bytes);
  o->set_max_rows(options_.max_rows);
  o->set_max_clients(options_.max_clients);
  o->set_max_servers(options_.max_servers);
  o->set_hash_key(options_.hash_key);
  const Impl& m = *impl_;
  for (const auto& [k, r] : m.rows.slots()) {
    v1::ScanRowState* p = state->add_rows();
    p->set_client(AddressBytes(k.client));
    p->set_ip_version(k.ip_version);
    p->set_port(k.port);
    p->set_rejects(r.sessions[Idx(Outcome::kReject)]);
    p->set_silents(r.sessions[Idx(Outcome::kSilent)]);
    p->set_successes(r.sessions[Idx(Outcome::kSuccess)]);
    p->set_data(r.sessions[Idx(Outcome::kData)]);
    p->set_first_time_us(r.first_time_us);
    p->set_last_time_us(r.last_time_us);
    p->set_fail_min_us(r.fail_min_us);
    p->set_fail_max_us(r.fail_max_us);
    if (r.sketch) {
      p->set_sketched(true);
      for (const auto& h : r.sketch->sets) {
        p->add_sketches(h ? HllBytes(*h) : std::string());
      }
    } else {
      for (uint32_t i = 0; i < r.n; ++i) {
        v1::ScanRowServer* sv = p->add_servers();
        sv->set_id_flags(r.servers[i]);
        sv->set_fail_min_us(r.FailMin(i));
        sv->set_fail_max_us(r.FailMax(i));
        sv->set_fails(r.Fails(i));
      }
    }
  }
  const std::vector<uint64_t> client_times = m.ClientTimes();
  for (size_t i = 0; i < m.clients.size(); ++i) {
    const auto& [k, c] = m.clients.slots()[i];
    v1::ScanClientState* p = state->add_clients();
    p->set_client(AddressBytes(k.client));
    p->set_ip_version(k.ip_version);
    p->set_last_time_us(client_times[i]);
    for (uint32_t j = 0; j < c.n; ++j) {
      v1::TrwContact* t = p->add_contacts();
      t->set_target(c.contacts[j].target);
      t->set_time_us(c.contacts[j].time_kind >> 2);
      t->set_failure((c.contacts[j].time_kind & 3) == kContactFailure);
    }
  }
  for (const auto& [k, sv] : m.servers.slots()) {
    v1::ScanServerState* p = state->add_servers();
    p->set_key(k);
    p->set_address(AddressBytes(sv.address));
    p->set_ip_version(sv.ip_version);
    p->set_port(sv.port);
    p->set_accepts(sv.accepts);
    p->set_first_accept_us(sv.first_accept_us);
    p->set_last_accept_us(sv.last_accept_us);
    if (sv.clients.exact()) {
      for (uint64_t h : sv.clients.items()) {
        p->add_clients(h);
      }
    } else {
      p->set_clients_sketch(HllBytes(*sv.clients.sketch()));
    }
  }
  const ScanStats st = Stats();
  v1::ScanStatsState* ps = state->mutable_stats();
  ps->set_records(st.records);
  ps->set_counted(st.counted);
  ps->set_skipped_interim(st.skipped_interim);
  ps->set_skipped_other(st.skipped_other);
  ps->set_row_evictions(st.row_evictions);
  ps->set_client_evictions(st.client_evictions);
  ps->set_server_evictions(st.server_evictions);
  ps->set_max_time_us(st.max_time_us);
  ps->set_memory_bytes(st.memory_bytes);
  return absl::OkStatus();
}

absl::StatusOr<ScanTable> ScanTable::Load(const v1::ScanTableState& state,
                                          uint64_t max_memory_bytes) {
  const v1::ScanOptionsState& po = state.options();
  ScanOptions o;
  o.horizon_us = po.horizon_us();
  o.trw.theta0 = po.trw_theta0();
  o.trw.theta1 = po.trw_theta1();
  o.trw.alpha = po.trw_alpha();
  o.trw.beta = po.trw_beta();
  o.trw.active_failure_counts = po.trw_active_failure_counts();
  o.memory_bytes = po.memory_bytes();
  o.max_rows = po.max_rows();
  o.max_clients = po.max_clients();
  o.max_servers = po.max_servers();
  o.hash_key = po.hash_key();
  if (!Probability(o.trw.theta0) || !Probability(o.trw.theta1) || !Probability(o.trw.alpha) ||
      !Probability(o.trw.beta) || o.trw.theta0 <= o.trw.theta1 || o.trw.beta <= o.trw.alpha) {
    return absl::InvalidArgumentError("scan snapshot: bad TRW parameters");
  }
  if (o.memory_bytes > max_memory_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("scan snapshot: memory budget ", o.memory_bytes,
                                                   " exceeds the limit ", max_memory_bytes));
  }
  if (o.max_rows == 0 || o.max_clients == 0 || o.max_servers == 0) {
    return absl::InvalidArgumentError("scan snapshot: a key limit is 0");
  }
  if (static_cast<uint64_t>(state.rows_size()) > o.max_rows ||
      static_cast<uint64_t>(state.clients_size()) > o.max_clients ||
      static_cast<uint64_t>(state.servers_size()) > o.max_servers) {
    return absl::InvalidArgumentError("scan snapshot: more keys than its limits");
  }
  ScanTable t(o);
  Impl& m = *t.impl_;
  if (static_cast<uint64_t>(state.rows_size()) > m.rows.max_keys() ||
      static_cast<uint64_t>(state.clients_size()) > m.clients.max_keys() ||
      static_cast<uint64_t>(state.servers_size()) > m.servers.max_keys()) {
    return absl::InvalidArgumentError("scan snapshot: more keys than its memory budget holds");
  }
  auto bad = [](const char* what, int i, const absl::Status& s) {
    return absl::InvalidArgumentError(
        absl::StrCat("scan snapshot: ", what, " ", i, ": ", s.message()));
  };
  // Sketch memory is charged after every key is in: charged as they come, a
  // budget that the writer's table met could make this one evict.
  uint64_t server_heap = 0;
  uint64_t row_heap = 0;
  for (int i = 0; i < state.servers_size(); ++i) {
    const v1::ScanServerState& p = state.servers(i);
    IpAddress a;
    if (absl::Status s = ParseAddress(p.address(), p.ip_version(), &a); !s.ok()) {
      return bad("server", i, s);
    }
    if (p.port() > 65535 || p.accepts() == 0 || p.first_accept_us() > p.last_accept_us() ||
        (p.key() & kFlagMask) != 0 || p.clients_size() > ServerSet::kInline ||
        (p.clients_size() > 0 && !p.clients_sketch().empty()) ||
        (p.clients_size() == 0 && p.clients_sketch().empty())) {
      return bad("server", i, absl::InvalidArgumentError("bad fields"));
    }
    if (m.servers.Find(p.key()) != nullptr) {
      return bad("server", i, absl::InvalidArgumentError("duplicate key"));
    }
    ServerState& d = m.servers.FindOrInsert(p.key());
    d.address = a;
    d.ip_version = static_cast<uint8_t>(p.ip_version());
    d.port = static_cast<uint16_t>(p.port());
    d.accepts = p.accepts();
    d.first_accept_us = p.first_accept_us();
    d.last_accept_us = p.last_accept_us();
    if (!p.clients_sketch().empty()) {
      Hll h;
      if (absl::Status s = ParseHll(p.clients_sketch(), &h); !s.ok()) {
        return bad("server", i, s);
      }
      d.clients = ServerSet::FromSketch(h);
      server_heap += d.HeapBytes();
    } else {
      for (uint64_t h : p.clients()) {
        d.clients.Insert(h);
      }
    }
  }
  for (int i = 0; i < state.rows_size(); ++i) {
    const v1::ScanRowState& p = state.rows(i);
    RowKey k;
    if (absl::Status s = ParseAddress(p.client(), p.ip_version(), &k.client); !s.ok()) {
      return bad("row", i, s);
    }
    k.ip_version = static_cast<uint8_t>(p.ip_version());
    if (p.port() > 65535 || p.first_time_us() > p.last_time_us() || p.servers_size() > kRowInline ||
        (p.sketched() && p.servers_size() != 0) ||
        (p.sketched() && p.sketches_size() != kFlagCount) ||
        (!p.sketched() && p.sketches_size() != 0) || p.successes() < p.data()) {
      return bad("row", i, absl::InvalidArgumentError("bad fields"));
    }
    k.port = static_cast<uint16_t>(p.port());
    if (m.rows.Find(k) != nullptr) {
      return bad("row", i, absl::InvalidArgumentError("duplicate key"));
    }
    RowState& d = m.rows.FindOrInsert(k);
    d.sessions[Idx(Outcome::kReject)] = p.rejects();
    d.sessions[Idx(Outcome::kSilent)] = p.silents();
    d.sessions[Idx(Outcome::kSuccess)] = p.successes();
    d.sessions[Idx(Outcome::kData)] = p.data();
    d.first_time_us = p.first_time_us();
    d.last_time_us = p.last_time_us();
    d.fail_min_us = p.fail_min_us();
    d.fail_max_us = p.fail_max_us();
    if (p.sketched()) {
      d.sketch = std::make_unique<RowSketches>();
      for (int j = 0; j < kFlagCount; ++j) {
        if (p.sketches(j).empty()) {
          continue;
        }
        d.sketch->sets[j] = std::make_unique<Hll>();
        if (absl::Status s = ParseHll(p.sketches(j), d.sketch->sets[j].get()); !s.ok()) {
          return bad("row", i, s);
        }
      }
    } else {
      for (const v1::ScanRowServer& sv : p.servers()) {
        const uint64_t flags = sv.id_flags() & kFlagMask;
        const bool failed = (flags & kFailFlags) != 0;
        if (flags == 0 || flags > 15 || failed != (sv.fails() != 0) ||
            (failed && sv.fail_min_us() > sv.fail_max_us())) {
          return bad("row", i, absl::InvalidArgumentError("bad server entry"));
        }
        const uint32_t before = d.n;
        d.Insert(sv.id_flags(), flags, sv.fail_min_us(), sv.fail_max_us(), sv.fails());
        if (d.n == before) {
          return bad("row", i, absl::InvalidArgumentError("duplicate server"));
        }
      }
    }
    row_heap += d.HeapBytes();
  }
  for (int i = 0; i < state.clients_size(); ++i) {
    const v1::ScanClientState& p = state.clients(i);
    ClientKey k;
    if (absl::Status s = ParseAddress(p.client(), p.ip_version(), &k.client); !s.ok()) {
      return bad("client", i, s);
    }
    k.ip_version = static_cast<uint8_t>(p.ip_version());
    if (p.contacts_size() > kTrwContacts || m.clients.Find(k) != nullptr) {
      return bad("client", i, absl::InvalidArgumentError("bad fields or duplicate"));
    }
    ClientState& d = m.clients.FindOrInsert(k);
    d.last_time_us = p.last_time_us();
    absl::flat_hash_set<uint64_t> targets;
    for (const v1::TrwContact& c : p.contacts()) {
      if (c.time_us() > (UINT64_MAX >> 2) || !targets.insert(c.target()).second) {
        return bad("client", i, absl::InvalidArgumentError("bad or duplicate contact"));
      }
      d.Add(c.target(), c.time_us() << 2 | (c.failure() ? kContactFailure : kContactSuccess));
    }
  }
  m.SettleLoadedRows();
  m.servers.AddHeap(static_cast<int64_t>(server_heap));
  m.rows.AddHeap(static_cast<int64_t>(row_heap));
  // Loading must not evict: a snapshot that does not fit its own budget was
  // not written by a table with that budget.
  if (m.rows.evictions() != 0 || m.clients.evictions() != 0 || m.servers.evictions() != 0) {
    return absl::InvalidArgumentError("scan snapshot: does not fit its own memory budget");
  }
  const v1::ScanStatsState& ps = state.stats();
  m.stats.records = ps.records();
  m.stats.counted = ps.counted();
  m.stats.skipped_interim = ps.skipped_interim();
  m.stats.skipped_other = ps.skipped_other();
  m.stats.max_time_us = ps.max_time_us();
  m.rows.AddEvictions(ps.row_evictions());
  m.clients.AddEvictions(ps.client_evictions());
  m.servers.AddEvictions(ps.server_evictions());
  return t;
}

}  // namespace flowtrail::analytics
