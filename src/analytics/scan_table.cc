#include "analytics/scan_table.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"

namespace flowtrail::analytics {

using session::SessionRecord;

namespace {

constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpRst = 0x04;

int Idx(Outcome o) { return static_cast<int>(o); }

// ---------------------------------------------------------------------------
// A table with a key limit and a memory share. Values sit in a dense vector
// (so a random slot can be sampled in O(1)) indexed by a flat_hash_map; the
// table itself is keyed with absl::Hash, which is seeded per process.
template <class Key, class Value>
class BoundedTable {
 public:
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
        slots_ = std::vector<std::pair<Key, Value>>();
        index_ = absl::flat_hash_map<Key, uint32_t>();
        slots_.reserve(max_keys_);
        index_.reserve(max_keys_);
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
    // A flat_hash_map slot per key at its 7/8 maximum load, plus a control byte.
    return sizeof(std::pair<Key, Value>) + (sizeof(Key) + sizeof(uint32_t) + 1) * 8 / 7 + 1;
  }

  Value* Find(const Key& k) {
    auto it = index_.find(k);
    return it == index_.end() ? nullptr : &slots_[it->second].second;
  }
  const Value* Find(const Key& k) const {
    auto it = index_.find(k);
    return it == index_.end() ? nullptr : &slots_[it->second].second;
  }

  // The key's value, inserted (evicting cold keys first) if new.
  Value& FindOrInsert(const Key& k) {
    auto it = index_.find(k);
    if (it != index_.end()) {
      return slots_[it->second].second;
    }
    while (!slots_.empty() &&
           (slots_.size() >= max_keys_ || (budget_ != 0 && MemoryBytes() + KeyBytes() > budget_))) {
      EvictColdest();
    }
    index_.emplace(k, static_cast<uint32_t>(slots_.size()));
    slots_.emplace_back(k, Value{});
    return slots_.back().second;
  }

  // Evicts while over the budget (a set of a hot key became a sketch).
  // Call only when no reference into the table is held.
  void Trim() {
    while (budget_ != 0 && slots_.size() > 1 && MemoryBytes() > budget_) {
      EvictColdest();
    }
  }

  // For batches: the index's slot group of a later record (hashing twice
  // costs ~30 % in cache, and halves the time once the tables outgrow it;
  // prefetching the value too needed a second lookup and was a net loss).
  void PrefetchIndex(const Key& k) const { index_.prefetch(k); }

  // Callers report a value's heap growth (a set promoted to a sketch).
  void AddHeap(int64_t delta) {
    heap_bytes_ = static_cast<uint64_t>(static_cast<int64_t>(heap_bytes_) + delta);
  }

  uint64_t MemoryBytes() const {
    return slots_.capacity() * sizeof(std::pair<Key, Value>) +
           index_.capacity() * (sizeof(Key) + sizeof(uint32_t) + 1) + heap_bytes_;
  }
  uint64_t evictions() const { return evictions_; }
  size_t size() const { return slots_.size(); }
  const std::vector<std::pair<Key, Value>>& slots() const { return slots_; }
  void AddEvictions(uint64_t n) { evictions_ += n; }

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
    index_.erase(slots_[victim].first);
    if (victim + 1 != slots_.size()) {
      slots_[victim] = std::move(slots_.back());
      index_[slots_[victim].first] = static_cast<uint32_t>(victim);
    }
    slots_.pop_back();
    ++evictions_;
  }
  bool Colder(size_t a, size_t b) const {
    return slots_[a].second.last_time_us < slots_[b].second.last_time_us;
  }

  std::vector<std::pair<Key, Value>> slots_;
  absl::flat_hash_map<Key, uint32_t> index_;
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

struct RowKey {
  IpAddress client;
  uint16_t port = 0;
  uint8_t ip_version = 0;
  friend bool operator==(const RowKey& a, const RowKey& b) {
    return a.port == b.port && a.ip_version == b.ip_version && SameAddress(a.client, b.client);
  }
  template <typename H>
  friend H AbslHashValue(H h, const RowKey& k) {
    return H::combine(std::move(h), k.client.bytes, k.port, k.ip_version);
  }
};

struct ClientKey {
  IpAddress client;
  uint8_t ip_version = 0;
  friend bool operator==(const ClientKey& a, const ClientKey& b) {
    return a.ip_version == b.ip_version && SameAddress(a.client, b.client);
  }
  template <typename H>
  friend H AbslHashValue(H h, const ClientKey& k) {
    return H::combine(std::move(h), k.client.bytes, k.ip_version);
  }
};

// The row's servers: one exact list of up to kRowInline distinct server
// addresses, each with the outcomes it had, in the low bits of its hash (one
// list instead of a ServerSet per outcome: half the memory per key, exact up
// to 16 servers, and the disjoint count exact while small). Beyond, one
// HyperLogLog per outcome, allocated when the outcome first occurs.
enum ServerFlag : uint64_t {
  kFlagReject = 1,
  kFlagSilent = 2,
  kFlagSuccess = 4,
  kFlagData = 8,
  kFlagBlind = 16,
};
constexpr int kFlagCount = 5;
constexpr uint64_t kFlagMask = 31;
constexpr int kRowInline = 16;

struct RowSketches {
  std::array<std::unique_ptr<Hll>, kFlagCount> sets;  // by flag bit
  std::unique_ptr<Hll> Copy(int i) const {
    return sets[i] ? std::make_unique<Hll>(*sets[i]) : nullptr;
  }
};

struct RowState {
  uint64_t sessions[5] = {};
  uint64_t blind_sessions = 0;
  uint64_t first_time_us = UINT64_MAX;
  uint64_t last_time_us = 0;
  std::array<uint64_t, kRowInline> servers{};  // id (hash & ~kFlagMask) | flags
  uint32_t n = 0;
  std::unique_ptr<RowSketches> sketch;

  size_t HeapBytes() const {
    if (!sketch) {
      return 0;
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
  }
  void Insert(uint64_t hash, uint64_t flags) {
    const uint64_t id = hash & ~kFlagMask;
    if (!sketch) {
      for (uint32_t i = 0; i < n; ++i) {
        if ((servers[i] & ~kFlagMask) == id) {
          servers[i] |= flags;
          return;
        }
      }
      if (n < kRowInline) {
        servers[n++] = id | flags;
        return;
      }
      Promote();
    }
    InsertSketch(id, flags);
  }
  void Merge(const RowState& o) {
    if (!o.sketch) {
      for (uint32_t i = 0; i < o.n; ++i) {
        Insert(o.servers[i], o.servers[i] & kFlagMask);
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
  // Servers that failed and never accepted.
  uint64_t Disjoint() const {
    if (!sketch) {
      uint64_t c = 0;
      for (uint32_t i = 0; i < n; ++i) {
        const uint64_t f = servers[i];
        c += (f & (kFlagReject | kFlagSilent)) && !(f & kFlagSuccess) ? 1 : 0;
      }
      return c;
    }
    // |failed u accepted| - |accepted| on the sketches.
    Hll all;
    for (uint64_t flag : {kFlagReject, kFlagSilent, kFlagSuccess}) {
      const auto& h = sketch->sets[std::countr_zero(flag)];
      if (h) {
        all.Merge(*h);
      }
    }
    const uint64_t u = static_cast<uint64_t>(std::llround(all.Estimate()));
    const uint64_t a = Count(kFlagSuccess);
    return u > a ? u - a : 0;
  }
};

// A first contact packed in 16 bytes: time << 2 | kind, so that ordering by
// the packed word orders by time, then success before failure.
enum ContactKind : uint8_t {
  kContactSuccess = 0,
  kContactBlindFailure = 1,
  kContactActiveFailure = 2
};
struct FirstContact {
  uint64_t target = 0;
  uint64_t time_kind = 0;
};

struct ClientState {
  std::array<FirstContact, kTrwContacts> contacts{};
  uint32_t n = 0;
  uint64_t last_time_us = 0;

  size_t HeapBytes() const { return 0; }

  // Keeps the kTrwContacts earliest first contacts, sorted.
  void Add(uint64_t target, uint64_t time_kind) {
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

struct ServerState {
  IpAddress address;
  uint16_t port = 0;
  uint8_t ip_version = 0;
  uint64_t accepts = 0;
  uint64_t first_accept_us = UINT64_MAX;
  uint64_t last_accept_us = 0;
  uint64_t last_time_us = 0;  // = last_accept_us; the eviction order
  ServerSet clients;

  size_t HeapBytes() const { return clients.HeapBytes(); }
};

template <class Table, class Value>
void ChargeHeap(Table& t, const Value& v, size_t before) {
  const size_t after = v.HeapBytes();
  if (after != before) {
    t.AddHeap(static_cast<int64_t>(after) - static_cast<int64_t>(before));
  }
}

}  // namespace

Outcome ClassifyRecord(const SessionRecord& r) {
  if (r.protocol != 6 || r.continuing || (r.client_flags & kTcpSyn) == 0) {
    return Outcome::kNone;
  }
  if ((r.server_flags & kTcpSyn) != 0) {
    return r.client_bytes > 0 ? Outcome::kData : Outcome::kSuccess;
  }
  if ((r.server_flags & kTcpRst) != 0 || r.conn_state == session::ConnState::kREJ) {
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

struct ScanTable::Impl {
  explicit Impl(const ScanOptions& o)
      : rows(o.max_rows, o.memory_bytes * 6 / 10),
        clients(o.max_clients, o.memory_bytes / 4),
        servers(o.max_servers, o.memory_bytes - o.memory_bytes * 6 / 10 - o.memory_bytes / 4) {}

  BoundedTable<RowKey, RowState> rows;
  BoundedTable<ClientKey, ClientState> clients;
  BoundedTable<uint64_t, ServerState> servers;
  ScanStats stats;

  bool Active(uint64_t target, uint64_t t, uint64_t horizon) const {
    const ServerState* s = servers.Find(target);
    if (s == nullptr || s->accepts == 0) {
      return false;
    }
    return s->last_accept_us + horizon >= t && s->first_accept_us <= t + horizon;
  }
};

ScanTable::ScanTable(ScanOptions options)
    : options_(options), impl_(std::make_unique<Impl>(options_)) {}
ScanTable::~ScanTable() = default;
ScanTable::ScanTable(ScanTable&&) noexcept = default;
ScanTable& ScanTable::operator=(ScanTable&&) noexcept = default;

size_t ScanTable::RowBytes() { return BoundedTable<RowKey, RowState>::KeyBytes(); }
size_t ScanTable::ClientBytes() { return BoundedTable<ClientKey, ClientState>::KeyBytes(); }
size_t ScanTable::ServerBytes() { return BoundedTable<uint64_t, ServerState>::KeyBytes(); }

void ScanTable::Consume(const SessionRecord& r) {
  Impl& m = *impl_;
  ++m.stats.records;
  const Outcome o = ClassifyRecord(r);
  if (o == Outcome::kNone) {
    ++(r.protocol == 6 && r.continuing ? m.stats.skipped_interim : m.stats.skipped_other);
    return;
  }
  ++m.stats.counted;
  const uint64_t t = r.first_time_us;
  m.stats.max_time_us = std::max(m.stats.max_time_us, t);
  const uint64_t key = options_.hash_key;
  const uint64_t target = HashServer(r.server_ip, r.ip_version, r.server_port, key);
  const uint64_t address = HashServer(r.server_ip, r.ip_version, 0, key);
  const bool success = o == Outcome::kSuccess || o == Outcome::kData;
  bool blind = false;
  if (success) {
    ServerState& s = m.servers.FindOrInsert(target);
    const size_t before = s.HeapBytes();
    if (s.accepts == 0) {
      s.address = r.server_ip;
      s.port = r.server_port;
      s.ip_version = r.ip_version;
    }
    ++s.accepts;
    s.first_accept_us = std::min(s.first_accept_us, t);
    s.last_accept_us = std::max(s.last_accept_us, t);
    s.last_time_us = s.last_accept_us;
    s.clients.Insert(HashServer(r.client_ip, r.ip_version, 0, key));
    ChargeHeap(m.servers, s, before);
  } else {
    blind = !m.Active(target, t, options_.horizon_us);
  }

  RowState& row = m.rows.FindOrInsert(RowKey{r.client_ip, r.server_port, r.ip_version});
  const size_t before = row.HeapBytes();
  ++row.sessions[Idx(o)];
  uint64_t flags = uint64_t{1} << (Idx(o) - 1);
  if (o == Outcome::kData) {
    ++row.sessions[Idx(Outcome::kSuccess)];
    flags |= kFlagSuccess;
  }
  if (!success && blind) {
    ++row.blind_sessions;
    flags |= kFlagBlind;
  }
  row.Insert(address, flags);
  row.first_time_us = std::min(row.first_time_us, t);
  row.last_time_us = std::max(row.last_time_us, r.last_time_us);
  ChargeHeap(m.rows, row, before);

  ClientState& c = m.clients.FindOrInsert(ClientKey{r.client_ip, r.ip_version});
  const uint8_t kind = success ? kContactSuccess
                       : blind ? kContactBlindFailure
                               : kContactActiveFailure;
  c.Add(target, (t << 2) | kind);
  c.last_time_us = std::max(c.last_time_us, r.last_time_us);
  m.rows.Trim();
  m.servers.Trim();
}

void ScanTable::Consume(std::span<const SessionRecord> records) {
  constexpr size_t kIndexAhead = 8;
  Impl& m = *impl_;
  auto row_key = [](const SessionRecord& r) {
    return RowKey{r.client_ip, r.server_port, r.ip_version};
  };
  auto client_key = [](const SessionRecord& r) { return ClientKey{r.client_ip, r.ip_version}; };
  for (size_t i = 0; i < records.size(); ++i) {
    if (i + kIndexAhead < records.size()) {
      const SessionRecord& a = records[i + kIndexAhead];
      m.rows.PrefetchIndex(row_key(a));
      m.clients.PrefetchIndex(client_key(a));
    }
    Consume(records[i]);
  }
}

void ScanTable::Merge(const ScanTable& other) {
  Impl& m = *impl_;
  const Impl& o = *other.impl_;
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
    d.last_time_us = d.last_accept_us;
    d.clients.Merge(s.clients);
    ChargeHeap(m.servers, d, before);
  }
  for (const auto& [k, s] : o.rows.slots()) {
    RowState& d = m.rows.FindOrInsert(k);
    const size_t before = d.HeapBytes();
    for (int i = 0; i < 5; ++i) {
      d.sessions[i] += s.sessions[i];
    }
    d.Merge(s);
    d.blind_sessions += s.blind_sessions;
    d.first_time_us = std::min(d.first_time_us, s.first_time_us);
    d.last_time_us = std::max(d.last_time_us, s.last_time_us);
    ChargeHeap(m.rows, d, before);
  }
  for (const auto& [k, s] : o.clients.slots()) {
    ClientState& d = m.clients.FindOrInsert(k);
    for (uint32_t i = 0; i < s.n; ++i) {
      d.Add(s.contacts[i].target, s.contacts[i].time_kind);
    }
    d.last_time_us = std::max(d.last_time_us, s.last_time_us);
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

std::vector<ClientVerdict> ScanTable::Verdicts() const {
  const TrwOptions& p = options_.trw;
  const double step_fail = std::log((1 - p.theta1) / (1 - p.theta0));
  const double step_success = std::log(p.theta1 / p.theta0);
  const double upper = std::log(p.beta / p.alpha);
  const double lower = std::log((1 - p.beta) / (1 - p.alpha));
  std::vector<ClientVerdict> out;
  out.reserve(impl_->clients.size());
  for (const auto& [k, c] : impl_->clients.slots()) {
    ClientVerdict v;
    v.client = k.client;
    v.ip_version = k.ip_version;
    v.first_contacts = c.n;
    double llr = 0;
    for (uint32_t i = 0; i < c.n; ++i) {
      const auto kind = static_cast<ContactKind>(c.contacts[i].time_kind & 3);
      if (kind == kContactSuccess) {
        llr += step_success;
      } else if (kind == kContactBlindFailure || p.active_failure_counts) {
        llr += step_fail;
      }
      if (llr >= upper || llr <= lower) {
        v.verdict = llr >= upper ? Verdict::kScanner : Verdict::kBenign;
        v.decided_after = i + 1;
        break;
      }
    }
    v.log_ratio = llr;
    out.push_back(v);
  }
  return out;
}

std::vector<ScanRow> ScanTable::Rows() const {
  absl::flat_hash_map<ClientKey, ClientVerdict> verdicts;
  for (const ClientVerdict& v : Verdicts()) {
    verdicts[ClientKey{v.client, v.ip_version}] = v;
  }
  std::vector<ScanRow> out;
  out.reserve(impl_->rows.size());
  for (const auto& [k, s] : impl_->rows.slots()) {
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
    row.blind_sessions = s.blind_sessions;
    row.blind_servers = s.Count(kFlagBlind);
    row.first_time_us = s.first_time_us;
    row.last_time_us = s.last_time_us;
    auto it = verdicts.find(ClientKey{k.client, k.ip_version});
    if (it != verdicts.end()) {
      row.verdict = it->second.verdict;
      row.decided_after = it->second.decided_after;
      row.first_contacts = it->second.first_contacts;
    }
    out.push_back(row);
  }
  return out;
}

std::vector<ServerRow> ScanTable::Servers(bool all) const {
  std::vector<ServerRow> out;
  const uint64_t end = impl_->stats.max_time_us;
  for (const auto& [k, s] : impl_->servers.slots()) {
    if (!all && s.last_accept_us + options_.horizon_us < end) {
      continue;
    }
    ServerRow row;
    row.address = s.address;
    row.ip_version = s.ip_version;
    row.port = s.port;
    row.accepts = s.accepts;
    row.clients = s.clients.Count();
    row.estimated = !s.clients.exact();
    row.first_accept_us = s.first_accept_us;
    row.last_accept_us = s.last_accept_us;
    out.push_back(row);
  }
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
