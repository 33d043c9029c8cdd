#include "analytics/live_verdicts.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <queue>
#include <tuple>

#include "analytics/index_hash.h"
#include "analytics/slot_index.h"
#include "common/hash_mix.h"

namespace flowtrail::analytics {
namespace {

struct ClientKey {
  IpAddress address;
  uint8_t ip_version = 0;
  friend bool operator==(const ClientKey&, const ClientKey&) = default;
};

struct ServerKey {
  IpAddress address;
  uint16_t port = 0;
  uint8_t ip_version = 0;
  friend bool operator==(const ServerKey&, const ServerKey&) = default;
};

struct ClientEntry {
  ClientKey key;
  LiveClient c;
  uint32_t recent[kRecentContacts] = {};  // (server, port) hashes, 0 = empty
  uint32_t recent_pos = 0;
  uint64_t last_us() const { return c.last_us; }
};

struct ServerEntry {
  ServerKey key;
  uint64_t last_accept_us = 0;
  uint64_t last_us() const { return last_accept_us; }
};

// The tables' index hash (index_hash.h, the scan table's): the addresses
// come off the wire.
const IndexHash kIndexHash;
uint64_t HashOf(const IpAddress& a, uint64_t more) {
  uint64_t w0, w1;
  std::memcpy(&w0, a.bytes.data(), 8);
  std::memcpy(&w1, a.bytes.data() + 8, 8);
  return kIndexHash.Words(w0, w1, more);
}
uint64_t HashOf(const ClientKey& k) { return HashOf(k.address, k.ip_version); }
uint64_t HashOf(const ServerKey& k) {
  return HashOf(k.address, uint64_t{k.port} << 8 | k.ip_version);
}

// Keys in a slot array (sampled for eviction) under a SlotIndex
// (slot_index.h), at most half full: a lookup reads one index line and then
// the entry, where a hash map's control bytes, its slot and then the entry
// were three (each a miss once the tables outgrow the caches, and the walk
// does four lookups an event). At most `limit` keys; a new one beyond evicts
// the coldest of kSample sampled slots (exact below kSample keys) and takes
// its slot.
template <typename Key, typename Entry>
class BoundedTable {
 public:
  static constexpr uint32_t kSample = 8;
  // At most `limit` keys (at least 16). With `budget_bytes`, fewer if they do
  // not fit it: the storage is then reserved at once, so growth never
  // overshoots (vector doubling and the power-of-two index could take up to
  // twice KeyBytes() a key), and measured.
  BoundedTable(uint64_t limit, uint64_t budget_bytes) : limit_(std::max<uint64_t>(limit, 16)) {
    if (budget_bytes == 0) {
      return;
    }
    limit_ = std::max<uint64_t>(16, std::min<uint64_t>(limit_, budget_bytes / KeyBytes()));
    for (;;) {
      slots_ = std::vector<Entry>();
      slots_.reserve(limit_);
      index_.Rebuild(std::bit_ceil(std::max<uint64_t>(16, 2 * limit_)), 0, HashOfSlot());
      if (MemoryBytes() <= budget_bytes || limit_ == 16) {
        break;
      }
      // A power of two just above twice the limit: the largest limit whose
      // index is half the size, or else a few percent fewer keys.
      const uint64_t half = index_.size() / 4;
      limit_ = std::max<uint64_t>(16, half < limit_ ? half : limit_ - limit_ / 32 - 1);
    }
  }

  Entry* Find(const Key& k) {
    const uint32_t slot = SlotFor(k, HashOf(k));
    return slot == SlotIndex::kEmpty ? nullptr : &slots_[slot];
  }
  const Entry* Find(const Key& k) const {
    const uint32_t slot = SlotFor(k, HashOf(k));
    return slot == SlotIndex::kEmpty ? nullptr : &slots_[slot];
  }
  // The entry for k, fresh (value-initialised, key set) if it was absent.
  Entry& FindOrInsert(const Key& k) {
    const uint64_t h = HashOf(k);
    if (const uint32_t found = SlotFor(k, h); found != SlotIndex::kEmpty) {
      return slots_[found];
    }
    uint32_t slot;
    if (slots_.size() < limit_) {
      if ((slots_.size() + 1) * 2 > index_.size()) {
        index_.Rebuild(index_.size() * 2, slots_.size(), HashOfSlot());
      }
      slot = static_cast<uint32_t>(slots_.size());
      if (slots_.size() == slots_.capacity()) {  // doubling, never past the limit
        slots_.reserve(std::min<uint64_t>(limit_, std::max<uint64_t>(16, 2 * slots_.size())));
      }
      slots_.emplace_back();
    } else {
      slot = Coldest();
      const Key& old = slots_[slot].key;
      index_.Erase(index_.Lookup(HashOf(old), Holds(old)), HashOfSlot());
      ++evictions_;
    }
    index_.Place(h, slot);
    slots_[slot] = Entry{};
    slots_[slot].key = k;
    return slots_[slot];
  }
  size_t size() const { return slots_.size(); }
  uint64_t limit() const { return limit_; }
  uint64_t evictions() const { return evictions_; }
  const std::vector<Entry>& slots() const { return slots_; }
  size_t MemoryBytes() const { return slots_.capacity() * sizeof(Entry) + index_.MemoryBytes(); }
  // Per key at the index's largest load (half full), for the budget split.
  static constexpr size_t KeyBytes() { return sizeof(Entry) + 2 * sizeof(SlotIndex::Entry); }

 private:
  auto Holds(const Key& k) const {
    return [this, &k](uint32_t slot) { return slots_[slot].key == k; };
  }
  auto HashOfSlot() const {
    return [this](uint32_t slot) { return HashOf(slots_[slot].key); };
  }
  uint32_t SlotFor(const Key& k, uint64_t h) const {
    const size_t e = index_.Lookup(h, Holds(k));
    return e == SlotIndex::kNotFound ? SlotIndex::kEmpty : index_.SlotAt(e);
  }
  uint32_t Coldest() {
    const uint32_t n = static_cast<uint32_t>(slots_.size());
    uint32_t best = 0;
    if (n <= kSample) {
      for (uint32_t i = 1; i < n; ++i) {
        if (slots_[i].last_us() < slots_[best].last_us()) {
          best = i;
        }
      }
      return best;
    }
    best = Next() % n;
    for (uint32_t i = 1; i < kSample; ++i) {
      const uint32_t j = Next() % n;
      if (slots_[j].last_us() < slots_[best].last_us()) {
        best = j;
      }
    }
    return best;
  }
  uint32_t Next() {
    rng_ = SplitMix64Mix(rng_ + 0x9e3779b97f4a7c15ULL);
    return static_cast<uint32_t>(rng_ >> 32);
  }

  uint64_t limit_;
  std::vector<Entry> slots_;
  SlotIndex index_;
  uint64_t evictions_ = 0;
  uint64_t rng_ = 1;
};

template <typename Key, typename Entry>
constexpr size_t PerKeyBytes() {
  return BoundedTable<Key, Entry>::KeyBytes();
}

// Keyed as the index (a scanner picks its targets: with a fixed hash it could
// pick ones whose contacts look like repeats and walk no step).
uint32_t ContactHash(const record::ContactEvent& e) {
  const uint64_t h = HashOf(e.server_ip, uint64_t{e.server_port} << 8 | e.ip_version);
  const uint32_t v = static_cast<uint32_t>(h >> 32);
  return v == 0 ? 1 : v;  // 0 marks an empty slot
}

// The reorder buffer: held events, earliest (first_time_us, worker_id,
// session_id) first, so the walk is the same whatever the arrival order. The
// events stay in a fixed slab; a 4-ary min-heap orders 16-byte entries
// (first_time_us, worker_id, slot), so that a sift moves 16 bytes and reads
// the 4 children in one cache line per level (8 levels at 65536) instead of
// moving 72-byte events over 16. Ties on (first_time_us, worker_id) are rare
// and compare the slab's session ids. No allocation after construction.
class ReorderHeap {
 public:
  static constexpr size_t kArity = 4;
  explicit ReorderHeap(size_t capacity) : capacity_(capacity) {
    slab_.reserve(capacity);
    free_.reserve(capacity);
    // Entry i's children kArity*i+1.. start a cache line: entry 1 is aligned
    // (the storage is 16-byte aligned, so a shift of at most 3 entries).
    storage_.resize(capacity + 3);
    const auto line = reinterpret_cast<uintptr_t>(storage_.data() + 1);
    heap_ = storage_.data() + (64 - line % 64) % 64 / sizeof(Entry);
  }
  ReorderHeap(const ReorderHeap&) = delete;  // heap_ points into storage_
  ReorderHeap& operator=(const ReorderHeap&) = delete;
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ == capacity_; }
  uint64_t top_time() const { return heap_[0].time; }
  // The earliest event, valid until the next Pop() or ReplaceTop().
  const record::ContactEvent& top() const { return slab_[heap_[0].slot]; }
  size_t MemoryBytes() const {
    return slab_.capacity() * sizeof(record::ContactEvent) + free_.capacity() * sizeof(uint32_t) +
           storage_.capacity() * sizeof(Entry);
  }
  // What the constructor reserves for `capacity` events.
  static uint64_t BytesFor(size_t capacity) {
    return uint64_t{capacity} * (sizeof(record::ContactEvent) + sizeof(uint32_t)) +
           (uint64_t{capacity} + 3) * sizeof(Entry);
  }

  void Push(const record::ContactEvent& e) {
    uint32_t slot;
    if (free_.empty()) {
      slot = static_cast<uint32_t>(slab_.size());
      slab_.push_back(e);
    } else {
      slot = free_.back();
      free_.pop_back();
      slab_[slot] = e;
    }
    const Entry x{e.first_time_us, slot, e.worker_id, 0};
    size_t i = size_++;
    while (i > 0) {
      const size_t parent = (i - 1) / kArity;
      if (!Less(x, heap_[parent])) {
        break;
      }
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = x;
  }

  void Pop() {
    free_.push_back(heap_[0].slot);
    --size_;
    SiftDown(heap_[size_]);
  }
  // Pop() then Push(e) in one sift (a full heap's early walk): e takes the
  // top's slot and entry.
  void ReplaceTop(const record::ContactEvent& e) {
    const uint32_t slot = heap_[0].slot;
    slab_[slot] = e;
    SiftDown(Entry{e.first_time_us, slot, e.worker_id, 0});
  }

 private:
  struct Entry {
    uint64_t time;  // first_time_us
    uint32_t slot;
    uint16_t worker;
    uint16_t pad;
  };
  static_assert(sizeof(Entry) == 16);
  bool Less(const Entry& a, const Entry& b) const {
    if (a.time != b.time) {
      return a.time < b.time;
    }
    if (a.worker != b.worker) {
      return a.worker < b.worker;
    }
    return slab_[a.slot].session_id < slab_[b.slot].session_id;
  }

  // Places x from the top down (the top's entry is gone).
  void SiftDown(const Entry& x) {
    const size_t n = size_;
    size_t i = 0;
    for (;;) {
      const size_t first = kArity * i + 1;
      if (first >= n) {
        break;
      }
      // The next level's line is one of these, known before this one is read:
      // fetching them together overlaps the two levels' misses.
      if (kArity * (first + kArity - 1) + 1 < n) {
        for (size_t c = 0; c < kArity; ++c) {
          __builtin_prefetch(&heap_[kArity * (first + c) + 1]);
        }
      }
      size_t best = first;
      for (size_t c = first + 1; c < std::min(first + kArity, n); ++c) {
        if (Less(heap_[c], heap_[best])) {
          best = c;
        }
      }
      if (!Less(heap_[best], x)) {
        break;
      }
      heap_[i] = heap_[best];
      i = best;
    }
    heap_[i] = x;
  }

  size_t capacity_;
  size_t size_ = 0;
  std::vector<record::ContactEvent> slab_;
  std::vector<uint32_t> free_;  // slab slots to reuse
  std::vector<Entry> storage_;
  Entry* heap_ = nullptr;  // into storage_, the children aligned
};

}  // namespace

struct LiveVerdicts::Impl {
  Impl(uint64_t max_clients, uint64_t max_servers, uint64_t client_bytes, uint64_t server_bytes,
       size_t reorder_capacity)
      : clients(max_clients, client_bytes),
        servers(max_servers, server_bytes),
        held(reorder_capacity) {}
  void Walk(const record::ContactEvent& e, const LiveVerdictOptions& options);
  void PopWalk(const LiveVerdictOptions& options) {
    Walk(held.top(), options);
    held.Pop();
  }

  BoundedTable<ClientKey, ClientEntry> clients;
  BoundedTable<ServerKey, ServerEntry> servers;
  ReorderHeap held;
  // Per worker (ContactEvent::worker_id): the latest decided_us it sent, or
  // its clock (Advance); events are released against the smallest.
  std::vector<uint64_t> worker_marks;
  uint64_t watermark = 0;  // min of worker_marks
  void Raise(uint16_t worker, uint64_t t) {
    if (worker >= worker_marks.size()) worker_marks.resize(worker + 1, 0);
    if (t <= worker_marks[worker]) return;
    const bool was_min = worker_marks[worker] == watermark;
    worker_marks[worker] = t;
    if (was_min) watermark = *std::min_element(worker_marks.begin(), worker_marks.end());
  }
  LiveVerdictStats stats;
  double step_fail = 0, step_success = 0, upper = 0, lower = 0;
};

size_t LiveVerdicts::ClientBytes() { return PerKeyBytes<ClientKey, ClientEntry>(); }
size_t LiveVerdicts::ServerBytes() { return PerKeyBytes<ServerKey, ServerEntry>(); }

LiveVerdicts::LiveVerdicts(LiveVerdictOptions options) : options_(options) {
  options_.reorder_capacity = std::max<size_t>(options_.reorder_capacity, 1);
  // The budget holds the reorder heap (reserved up front) and the tables;
  // clients (the walk and the recent contacts) get three quarters of what
  // the heap leaves. A budget below the heap leaves the tables their least.
  const uint64_t budget = options_.memory_bytes;
  const uint64_t heap = ReorderHeap::BytesFor(options_.reorder_capacity);
  const uint64_t tables = budget == 0 ? 0 : budget > heap ? budget - heap : 1;
  const uint64_t client_bytes = tables == 0 ? 0 : std::max<uint64_t>(1, tables / 4 * 3);
  const uint64_t server_bytes = tables == 0 ? 0 : std::max<uint64_t>(1, tables - tables / 4 * 3);
  impl_ = std::make_unique<Impl>(options_.max_clients, options_.max_servers, client_bytes,
                                 server_bytes, options_.reorder_capacity);
  impl_->worker_marks.assign(std::max<uint32_t>(options_.workers, 1), 0);
  SetTrw(options_.trw);
}

void LiveVerdicts::SetTrw(const TrwOptions& p) {
  options_.trw = p;
  impl_->step_fail = std::log((1 - p.theta1) / (1 - p.theta0));
  impl_->step_success = std::log(p.theta1 / p.theta0);
  impl_->upper = std::log(p.beta / p.alpha);
  impl_->lower = std::log((1 - p.beta) / (1 - p.alpha));
}

LiveVerdicts::~LiveVerdicts() = default;
LiveVerdicts::LiveVerdicts(LiveVerdicts&&) noexcept = default;
LiveVerdicts& LiveVerdicts::operator=(LiveVerdicts&&) noexcept = default;

void LiveVerdicts::Consume(std::span<const record::ContactEvent> events) {
  for (const record::ContactEvent& e : events) Consume(e);
}

void LiveVerdicts::Consume(const record::ContactEvent& e) {
  Impl& m = *impl_;
  ++m.stats.events;
  if (m.held.full()) {
    ++m.stats.walked_early;
    m.Walk(m.held.top(), options_);
    m.held.ReplaceTop(e);
  } else {
    m.held.Push(e);
  }
  m.Raise(e.worker_id, e.decided_us);
  Release(options_.reorder_us);
}

void LiveVerdicts::Advance(uint64_t now_us) {
  for (uint16_t w = 0; w < impl_->worker_marks.size(); ++w) impl_->Raise(w, now_us);
  Release(options_.reorder_us);
}

void LiveVerdicts::Advance(uint16_t worker, uint64_t now_us) {
  impl_->Raise(worker, now_us);
  Release(options_.reorder_us);
}

void LiveVerdicts::Flush() {
  while (!impl_->held.empty()) impl_->PopWalk(options_);
}

void LiveVerdicts::Release(uint64_t reorder_us) {
  Impl& m = *impl_;
  while (!m.held.empty() && m.held.top_time() + reorder_us <= m.watermark) {
    m.PopWalk(options_);
  }
}

void LiveVerdicts::Impl::Walk(const record::ContactEvent& e, const LiveVerdictOptions& options) {
  Impl& m = *this;
  LiveVerdictStats& st = m.stats;
  const bool success = e.outcome == record::ContactOutcome::kSuccess;
  const ServerKey sk{e.server_ip, e.server_port, e.ip_version};
  bool active = false;
  if (success) {
    ++st.success;
    ServerEntry& s = m.servers.FindOrInsert(sk);
    s.last_accept_us = std::max(s.last_accept_us, e.decided_us);
  } else {
    e.outcome == record::ContactOutcome::kReject ? ++st.reject : ++st.silent;
    const ServerEntry* s = m.servers.Find(sk);
    // Accepted within the horizon before this failure (record time).
    active = s != nullptr && s->last_accept_us <= e.decided_us + options.horizon_us &&
             e.first_time_us <= s->last_accept_us + options.horizon_us;
  }

  ClientEntry& ce = m.clients.FindOrInsert(ClientKey{e.client_ip, e.ip_version});
  LiveClient& c = ce.c;
  if (c.first_us == 0 && c.last_us == 0) {
    c.client = e.client_ip;
    c.ip_version = e.ip_version;
    c.first_us = e.first_time_us;
  }
  c.first_us = std::min(c.first_us, e.first_time_us);
  c.last_us = std::max(c.last_us, e.decided_us);
  if (success) {
    ++c.successes;
  } else if (e.outcome == record::ContactOutcome::kReject) {
    ++c.rejects;
  } else {
    ++c.silents;
  }
  const uint32_t h = ContactHash(e);
  for (uint32_t r : ce.recent) {
    if (r == h) {
      ++st.repeats;
      return;
    }
  }
  ce.recent[ce.recent_pos] = h;
  ce.recent_pos = (ce.recent_pos + 1) % kRecentContacts;
  ++c.steps;
  if (success) {
    c.log_ratio += m.step_success;
  } else if (!active || options.trw.active_failure_counts) {
    c.log_ratio += m.step_fail;
    ++c.blind_failures;
  }
  if (c.verdict == Verdict::kPending && (c.log_ratio >= m.upper || c.log_ratio <= m.lower)) {
    c.verdict = c.log_ratio >= m.upper ? Verdict::kScanner : Verdict::kBenign;
    c.decided_after = c.steps;
    c.decided_us = std::max(e.decided_us, m.watermark);
  }
}

const LiveClient* LiveVerdicts::Find(const IpAddress& client, uint8_t ip_version) const {
  const ClientEntry* e = impl_->clients.Find(ClientKey{client, ip_version});
  return e == nullptr ? nullptr : &e->c;
}

namespace {
// Ordering of Top(): more failures first, then scanners, then address.
bool Before(const LiveClient& a, const LiveClient& b) {
  if (a.Failures() != b.Failures()) return a.Failures() > b.Failures();
  if (a.verdict != b.verdict) return a.verdict == Verdict::kScanner;
  return std::tie(a.ip_version, a.client) < std::tie(b.ip_version, b.client);
}
}  // namespace

std::vector<LiveClient> LiveVerdicts::Top(size_t n) const {
  std::vector<LiveClient> out;
  if (n == 0) return out;
  // A heap of the best n so far, worst on top: O(clients log n).
  auto worse = [](const LiveClient* a, const LiveClient* b) { return Before(*a, *b); };
  std::priority_queue<const LiveClient*, std::vector<const LiveClient*>, decltype(worse)> heap(
      worse);
  for (const ClientEntry& e : impl_->clients.slots()) {
    if (heap.size() < n) {
      heap.push(&e.c);
    } else if (Before(e.c, *heap.top())) {
      heap.pop();
      heap.push(&e.c);
    }
  }
  out.reserve(heap.size());
  while (!heap.empty()) {
    out.push_back(*heap.top());
    heap.pop();
  }
  std::reverse(out.begin(), out.end());
  return out;
}

LiveVerdictStats LiveVerdicts::Stats() const {
  LiveVerdictStats st = impl_->stats;
  st.held = impl_->held.size();
  st.clients = impl_->clients.size();
  st.servers = impl_->servers.size();
  st.client_evictions = impl_->clients.evictions();
  st.server_evictions = impl_->servers.evictions();
  for (const ClientEntry& e : impl_->clients.slots()) {
    switch (e.c.verdict) {
      case Verdict::kScanner:
        ++st.scanners;
        break;
      case Verdict::kBenign:
        ++st.benign;
        break;
      case Verdict::kPending:
        ++st.pending;
        break;
    }
  }
  st.memory_bytes =
      impl_->clients.MemoryBytes() + impl_->servers.MemoryBytes() + impl_->held.MemoryBytes();
  st.memory_budget = options_.memory_bytes;
  st.max_clients = impl_->clients.limit();
  st.max_servers = impl_->servers.limit();
  return st;
}

}  // namespace flowtrail::analytics
