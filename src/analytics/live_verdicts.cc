#include "analytics/live_verdicts.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <queue>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "common/hash_mix.h"

namespace flowtrail::analytics {
namespace {

struct ClientKey {
  IpAddress address;
  uint8_t ip_version = 0;
  friend bool operator==(const ClientKey&, const ClientKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const ClientKey& k) {
    return H::combine(std::move(h), k.address.bytes, k.ip_version);
  }
};

struct ServerKey {
  IpAddress address;
  uint16_t port = 0;
  uint8_t ip_version = 0;
  friend bool operator==(const ServerKey&, const ServerKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const ServerKey& k) {
    return H::combine(std::move(h), k.address.bytes, k.port, k.ip_version);
  }
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

// Keys in a slot array (sampled for eviction) indexed by a hash map; at most
// `limit` keys, a new one beyond evicts the coldest of kSample sampled slots
// (exact below kSample keys).
template <typename Key, typename Entry>
class BoundedTable {
 public:
  static constexpr uint32_t kSample = 8;
  explicit BoundedTable(uint64_t limit) : limit_(std::max<uint64_t>(limit, 1)) {}

  Entry* Find(const Key& k) {
    auto it = index_.find(k);
    return it == index_.end() ? nullptr : &slots_[it->second];
  }
  const Entry* Find(const Key& k) const {
    auto it = index_.find(k);
    return it == index_.end() ? nullptr : &slots_[it->second];
  }
  // The entry for k, fresh (value-initialised, key set) if it was absent.
  Entry& FindOrInsert(const Key& k) {
    auto [it, inserted] = index_.try_emplace(k, 0u);
    if (!inserted) return slots_[it->second];
    uint32_t slot;
    if (slots_.size() < limit_) {
      slot = static_cast<uint32_t>(slots_.size());
      slots_.emplace_back();
    } else {
      slot = Coldest();
      index_.erase(slots_[slot].key);
      ++evictions_;
      it = index_.find(k);  // erase may have moved it
    }
    it->second = slot;
    slots_[slot] = Entry{};
    slots_[slot].key = k;
    return slots_[slot];
  }
  size_t size() const { return slots_.size(); }
  uint64_t limit() const { return limit_; }
  uint64_t evictions() const { return evictions_; }
  const std::vector<Entry>& slots() const { return slots_; }
  size_t MemoryBytes() const {
    return slots_.capacity() * sizeof(Entry) +
           index_.capacity() * (sizeof(std::pair<const Key, uint32_t>) + 1);
  }

 private:
  uint32_t Coldest() {
    const uint32_t n = static_cast<uint32_t>(slots_.size());
    uint32_t best = 0;
    if (n <= kSample) {
      for (uint32_t i = 1; i < n; ++i) {
        if (slots_[i].last_us() < slots_[best].last_us()) best = i;
      }
      return best;
    }
    best = Next() % n;
    for (uint32_t i = 1; i < kSample; ++i) {
      const uint32_t j = Next() % n;
      if (slots_[j].last_us() < slots_[best].last_us()) best = j;
    }
    return best;
  }
  uint32_t Next() {
    rng_ = SplitMix64Mix(rng_ + 0x9e3779b97f4a7c15ULL);
    return static_cast<uint32_t>(rng_ >> 32);
  }

  uint64_t limit_;
  std::vector<Entry> slots_;
  absl::flat_hash_map<Key, uint32_t> index_;
  uint64_t evictions_ = 0;
  uint64_t rng_ = 1;
};

// Map overhead per key at absl's maximum load (7/8), for the budget split.
template <typename Key, typename Entry>
constexpr size_t PerKeyBytes() {
  return sizeof(Entry) + (sizeof(std::pair<const Key, uint32_t>) + 1) * 8 / 7;
}

uint32_t ContactHash(const record::ContactEvent& e) {
  uint64_t a, b;
  std::memcpy(&a, e.server_ip.bytes.data(), 8);
  std::memcpy(&b, e.server_ip.bytes.data() + 8, 8);
  const uint64_t h = Fmix64(a ^ Fmix64(b ^ (uint64_t{e.server_port} << 8 | e.ip_version)));
  const uint32_t v = static_cast<uint32_t>(h >> 32);
  return v == 0 ? 1 : v;  // 0 marks an empty slot
}

// Heap order: earliest first_time on top (ties by session id, so the walk is
// the same whatever the arrival order).
bool LaterFirst(const record::ContactEvent& a, const record::ContactEvent& b) {
  return std::tie(a.first_time_us, a.worker_id, a.session_id) >
         std::tie(b.first_time_us, b.worker_id, b.session_id);
}

}  // namespace

struct LiveVerdicts::Impl {
  Impl(uint64_t max_clients, uint64_t max_servers) : clients(max_clients), servers(max_servers) {}
  void Walk(const record::ContactEvent& e, const LiveVerdictOptions& options);
  void PopWalk(const LiveVerdictOptions& options) {
    std::pop_heap(held.begin(), held.end(), LaterFirst);
    const record::ContactEvent e = held.back();
    held.pop_back();
    Walk(e, options);
  }

  BoundedTable<ClientKey, ClientEntry> clients;
  BoundedTable<ServerKey, ServerEntry> servers;
  std::vector<record::ContactEvent> held;  // min-heap by first_time_us
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
  uint64_t max_clients = options_.max_clients;
  uint64_t max_servers = options_.max_servers;
  if (options_.memory_bytes != 0) {
    // Clients hold the walk and the recent contacts: three quarters.
    max_clients = std::min(max_clients, options_.memory_bytes / 4 * 3 / ClientBytes());
    max_servers = std::min(max_servers, options_.memory_bytes / 4 / ServerBytes());
  }
  max_clients = std::max<uint64_t>(max_clients, 16);
  max_servers = std::max<uint64_t>(max_servers, 16);
  impl_ = std::make_unique<Impl>(max_clients, max_servers);
  options_.reorder_capacity = std::max<size_t>(options_.reorder_capacity, 1);
  impl_->held.reserve(options_.reorder_capacity);
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
  if (m.held.size() == options_.reorder_capacity) {
    ++m.stats.walked_early;
    m.PopWalk(options_);
  }
  m.held.push_back(e);
  std::push_heap(m.held.begin(), m.held.end(), LaterFirst);
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
  while (!m.held.empty() && m.held.front().first_time_us + reorder_us <= m.watermark) {
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
  st.memory_bytes = impl_->clients.MemoryBytes() + impl_->servers.MemoryBytes() +
                    impl_->held.capacity() * sizeof(record::ContactEvent);
  st.memory_budget = options_.memory_bytes;
  st.max_clients = impl_->clients.limit();
  st.max_servers = impl_->servers.limit();
  return st;
}

}  // namespace flowtrail::analytics
