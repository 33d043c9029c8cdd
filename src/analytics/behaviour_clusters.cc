#include "analytics/behaviour_clusters.h"

#include <algorithm>
#include <array>
#include <numeric>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "analytics/scan_table.h"
#include "record/session_record.h"

namespace flowtrail::analytics {

namespace {

using A = ClusterAttribute;

// One session reduced to what the report looks at.
struct Vec {
  uint64_t client_bytes = 0;
  uint64_t server_bytes = 0;
  uint64_t client_simhash = 0;
  uint64_t server_simhash = 0;
  uint32_t client_fingerprint = 0;
  uint32_t server_fingerprint = 0;
  uint8_t first_data_sender = 0;
  uint8_t shutdown_initiator = 0;
  uint8_t shutdown_kind = 0;

  auto Tie() const {
    return std::tie(client_bytes, server_bytes, client_fingerprint, server_fingerprint,
                    client_simhash, server_simhash, first_data_sender, shutdown_initiator,
                    shutdown_kind);
  }
  friend bool operator==(const Vec& a, const Vec& b) { return a.Tie() == b.Tie(); }
  template <typename H>
  friend H AbslHashValue(H h, const Vec& v) {
    return H::combine(std::move(h), v.client_bytes, v.server_bytes, v.client_simhash,
                      v.server_simhash, v.client_fingerprint, v.server_fingerprint,
                      v.first_data_sender, v.shutdown_initiator, v.shutdown_kind);
  }
};

Vec VecOf(const record::SessionRecord& r) {
  Vec v;
  v.client_bytes = r.client_bytes;
  v.server_bytes = r.server_bytes;
  v.client_simhash = r.client_simhash;
  v.server_simhash = r.server_simhash;
  v.client_fingerprint = r.client_fingerprint;
  v.server_fingerprint = r.server_fingerprint;
  v.first_data_sender = static_cast<uint8_t>(r.first_data_sender);
  v.shutdown_initiator = static_cast<uint8_t>(r.shutdown_initiator);
  v.shutdown_kind = static_cast<uint8_t>(r.shutdown_kind);
  return v;
}

// The raw value of a base (non-group) attribute.
uint64_t Raw(const Vec& v, A a) {
  switch (a) {
    case A::kClientBytes:
      return v.client_bytes;
    case A::kServerBytes:
      return v.server_bytes;
    case A::kClientFingerprint:
      return v.client_fingerprint;
    case A::kServerFingerprint:
      return v.server_fingerprint;
    case A::kClientSimhash:
      return v.client_simhash;
    case A::kServerSimhash:
      return v.server_simhash;
    case A::kFirstDataSender:
      return v.first_data_sender;
    case A::kShutdownInitiator:
      return v.shutdown_initiator;
    case A::kShutdownKind:
      return v.shutdown_kind;
    default:
      return 0;
  }
}

// The exact attribute a group attribute groups.
A Base(A a) {
  switch (a) {
    case A::kClientFingerprintGroup:
      return A::kClientFingerprint;
    case A::kServerFingerprintGroup:
      return A::kServerFingerprint;
    case A::kClientSimhashGroup:
      return A::kClientSimhash;
    case A::kServerSimhashGroup:
      return A::kServerSimhash;
    default:
      return a;
  }
}

// Attributes of one family describe the same thing (one side's first data):
// rules between them are tautologies.
int Family(A a) {
  switch (a) {
    case A::kClientBytes:
      return 0;
    case A::kServerBytes:
      return 1;
    case A::kClientFingerprint:
    case A::kClientFingerprintGroup:
    case A::kClientSimhash:
    case A::kClientSimhashGroup:
      return 2;
    case A::kServerFingerprint:
    case A::kServerFingerprintGroup:
    case A::kServerSimhash:
    case A::kServerSimhashGroup:
      return 3;
    case A::kFirstDataSender:
      return 4;
    case A::kShutdownInitiator:
      return 5;
    case A::kShutdownKind:
      return 6;
  }
  return 7;
}

// 1: describes the client's data, 2: the server's, 0: neither.
int SideOf(A a) {
  const int f = Family(a);
  return f == 0 || f == 2 ? 1 : f == 1 || f == 3 ? 2 : 0;
}

bool IsSimhash(A a) { return a == A::kClientSimhash || a == A::kServerSimhash; }

std::string RawText(A a, uint64_t v) {
  switch (a) {
    case A::kClientFingerprint:
    case A::kServerFingerprint:
      return v == 0 ? "none" : std::to_string(v);
    case A::kClientSimhash:
    case A::kServerSimhash:
      return v == 0 ? "none" : absl::StrFormat("0x%016x", v);
    case A::kFirstDataSender:
    case A::kShutdownInitiator:
      return v == 1 ? "client" : v == 2 ? "server" : "none";
    case A::kShutdownKind:
      return v == 1 ? "fin" : v == 2 ? "rst" : "none";
    default:
      return std::to_string(v);
  }
}

constexpr uint64_t kNoGroup = UINT64_MAX;

constexpr A kBaseAttributes[] = {
    A::kClientBytes,     A::kServerBytes,       A::kClientFingerprint,
    A::kClientSimhash,   A::kServerFingerprint, A::kServerSimhash,
    A::kFirstDataSender, A::kShutdownInitiator, A::kShutdownKind,
};
constexpr A kGroupedAttributes[] = {A::kClientFingerprint, A::kClientSimhash, A::kServerFingerprint,
                                    A::kServerSimhash};
constexpr A kRuleAttributes[] = {
    A::kClientBytes,
    A::kServerBytes,
    A::kClientFingerprint,
    A::kClientFingerprintGroup,
    A::kClientSimhashGroup,
    A::kServerFingerprint,
    A::kServerFingerprintGroup,
    A::kServerSimhashGroup,
    A::kFirstDataSender,
    A::kShutdownInitiator,
    A::kShutdownKind,
};

A GroupOf(A base) {
  switch (base) {
    case A::kClientFingerprint:
      return A::kClientFingerprintGroup;
    case A::kServerFingerprint:
      return A::kServerFingerprintGroup;
    case A::kClientSimhash:
      return A::kClientSimhashGroup;
    case A::kServerSimhash:
      return A::kServerSimhashGroup;
    default:
      return base;
  }
}

std::string Percent(uint64_t part, uint64_t whole) {
  if (part == whole) {
    return "100";
  }
  // Never round a partial share up to 100.
  const double p = 100.0 * static_cast<double>(part) / static_cast<double>(whole);
  return absl::StrFormat("%.1f", std::min(p, 99.9));
}

}  // namespace

const char* ClusterAttributeName(ClusterAttribute a) {
  switch (a) {
    case A::kClientBytes:
      return "client_bytes";
    case A::kServerBytes:
      return "server_bytes";
    case A::kClientFingerprint:
      return "client_fingerprint";
    case A::kClientFingerprintGroup:
      return "client_fingerprint_group";
    case A::kClientSimhash:
      return "client_simhash";
    case A::kClientSimhashGroup:
      return "client_simhash_group";
    case A::kServerFingerprint:
      return "server_fingerprint";
    case A::kServerFingerprintGroup:
      return "server_fingerprint_group";
    case A::kServerSimhash:
      return "server_simhash";
    case A::kServerSimhashGroup:
      return "server_simhash_group";
    case A::kFirstDataSender:
      return "first_data_sender";
    case A::kShutdownInitiator:
      return "shutdown_initiator";
    case A::kShutdownKind:
      return "shutdown_kind";
  }
  return "?";
}

const char* ClusterAttributePhrase(ClusterAttribute a) {
  switch (a) {
    case A::kClientBytes:
      return "client bytes";
    case A::kServerBytes:
      return "server bytes";
    case A::kClientFingerprint:
      return "client fingerprint";
    case A::kClientFingerprintGroup:
      return "client fingerprint group";
    case A::kClientSimhash:
      return "client simhash";
    case A::kClientSimhashGroup:
      return "client simhash group";
    case A::kServerFingerprint:
      return "server fingerprint";
    case A::kServerFingerprintGroup:
      return "server fingerprint group";
    case A::kServerSimhash:
      return "server simhash";
    case A::kServerSimhashGroup:
      return "server simhash group";
    case A::kFirstDataSender:
      return "first data sender";
    case A::kShutdownInitiator:
      return "shutdown initiator";
    case A::kShutdownKind:
      return "shutdown kind";
  }
  return "?";
}

bool IsGroupAttribute(ClusterAttribute a) { return Base(a) != a; }

std::string ClusterRule::Sentence() const {
  return absl::StrFormat("when %s is %s, %s is %s in %s%% of sessions (%d of %d)",
                         ClusterAttributePhrase(if_attribute), if_value,
                         ClusterAttributePhrase(then_attribute), then_value,
                         Percent(support, antecedent), support, antecedent);
}

const ClusterDistribution* ClusterReport::Distribution(ClusterAttribute a) const {
  for (const ClusterDistribution& d : distributions) {
    if (d.attribute == a) {
      return &d;
    }
  }
  return nullptr;
}

std::vector<uint32_t> LinkScalar(std::span<const uint64_t> sorted_values, uint64_t distance) {
  std::vector<uint32_t> group(sorted_values.size());
  uint32_t g = 0;
  for (size_t i = 1; i < sorted_values.size(); ++i) {
    if (sorted_values[i] - sorted_values[i - 1] > distance) {
      ++g;
    }
    group[i] = g;
  }
  return group;
}

std::vector<uint32_t> LinkSimhash(std::span<const uint64_t> values, int distance) {
  std::vector<uint32_t> parent(values.size());
  std::iota(parent.begin(), parent.end(), 0U);
  auto find = [&](uint32_t x) {
    while (parent[x] != x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  for (size_t i = 0; i < values.size(); ++i) {
    for (size_t j = i + 1; j < values.size(); ++j) {
      if (record::SimHashDistance(values[i], values[j]) <= distance) {
        const uint32_t a = find(static_cast<uint32_t>(i));
        const uint32_t b = find(static_cast<uint32_t>(j));
        // The smaller index is the root, so roots are each group's first member.
        parent[std::max(a, b)] = std::min(a, b);
      }
    }
  }
  std::vector<uint32_t> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    out[i] = find(static_cast<uint32_t>(i));
  }
  return out;
}

// ---------------------------------------------------------------------------

struct BehaviourProfile::Impl {
  absl::flat_hash_map<Vec, uint64_t> vectors;
  uint64_t sessions = 0;
  uint64_t overflow = 0;

  void AddVec(const Vec& v, uint64_t n, size_t max_vectors) {
    auto it = vectors.find(v);
    if (it == vectors.end()) {
      if (vectors.size() >= max_vectors) {
        overflow += n;
        return;
      }
      it = vectors.emplace(v, 0).first;
    }
    it->second += n;
    sessions += n;
  }
};

BehaviourProfile::BehaviourProfile() : impl_(std::make_unique<Impl>()) {}
BehaviourProfile::~BehaviourProfile() = default;
BehaviourProfile::BehaviourProfile(BehaviourProfile&&) noexcept = default;
BehaviourProfile& BehaviourProfile::operator=(BehaviourProfile&&) noexcept = default;

void BehaviourProfile::Add(const record::SessionRecord& r, size_t max_vectors) {
  impl_->AddVec(VecOf(r), 1, max_vectors);
}

void BehaviourProfile::Merge(const BehaviourProfile& other, size_t max_vectors) {
  // In vector order, so which vectors overflow does not depend on hash order.
  std::vector<std::pair<Vec, uint64_t>> v(other.impl_->vectors.begin(), other.impl_->vectors.end());
  std::sort(v.begin(), v.end(),
            [](const auto& a, const auto& b) { return a.first.Tie() < b.first.Tie(); });
  for (const auto& [vec, n] : v) {
    impl_->AddVec(vec, n, max_vectors);
  }
  impl_->overflow += other.impl_->overflow;
}

uint64_t BehaviourProfile::sessions() const { return impl_->sessions; }
uint64_t BehaviourProfile::overflow() const { return impl_->overflow; }

namespace {

// The groups of one fingerprint or simhash attribute.
struct Grouping {
  std::vector<FingerprintGroup> groups;              // in report order
  absl::flat_hash_map<uint64_t, uint64_t> group_of;  // value -> index in groups
};

Grouping GroupValues(A a, const ClusterDistribution& d, const ClusterOptions& o) {
  Grouping g;
  std::vector<const ClusterValue*> values;  // non-zero, in value order
  for (const ClusterValue& v : d.values) {
    if (v.value != 0) {
      values.push_back(&v);
    }
  }
  std::vector<uint32_t> gid(values.size());
  if (!IsSimhash(a)) {
    std::vector<uint64_t> raw(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      raw[i] = values[i]->value;
    }
    gid = LinkScalar(raw, o.fingerprint_distance);
  } else {
    // Link the most frequent values (pairwise cost); the rest stay singletons.
    std::vector<uint32_t> order(values.size());
    std::iota(order.begin(), order.end(), 0U);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) {
      return values[x]->sessions > values[y]->sessions;
    });
    const size_t linked = std::min(order.size(), kMaxSimhashValues);
    std::vector<uint64_t> raw(linked);
    for (size_t i = 0; i < linked; ++i) {
      raw[i] = values[order[i]]->value;
    }
    const std::vector<uint32_t> root = LinkSimhash(raw, o.simhash_distance);
    for (size_t i = 0; i < order.size(); ++i) {
      gid[order[i]] = i < linked ? order[root[i]] : order[i];
    }
  }
  // Collect groups keyed by gid, members in value order.
  absl::flat_hash_map<uint32_t, size_t> index;
  for (size_t i = 0; i < values.size(); ++i) {
    auto [it, fresh] = index.try_emplace(gid[i], g.groups.size());
    if (fresh) {
      FingerprintGroup fg;
      fg.attribute = a;
      fg.lo = values[i]->value;
      g.groups.push_back(std::move(fg));
    }
    FingerprintGroup& fg = g.groups[it->second];
    fg.hi = values[i]->value;
    fg.sessions += values[i]->sessions;
    fg.members.push_back(*values[i]);
  }
  for (FingerprintGroup& fg : g.groups) {
    uint64_t best = 0;
    for (const ClusterValue& m : fg.members) {
      if (m.sessions > best) {
        best = m.sessions;
        fg.mode = m.value;
      }
    }
    if (IsSimhash(a)) {
      fg.label = RawText(a, fg.mode);
      if (fg.members.size() > 1) {
        fg.label.insert(0, 1, '~');
      }
    } else {
      fg.label = fg.lo == fg.hi ? std::to_string(fg.lo) : absl::StrFormat("%d-%d", fg.lo, fg.hi);
    }
  }
  std::stable_sort(g.groups.begin(), g.groups.end(),
                   [](const FingerprintGroup& x, const FingerprintGroup& y) {
                     return x.sessions != y.sessions ? x.sessions > y.sessions : x.lo < y.lo;
                   });
  for (size_t i = 0; i < g.groups.size(); ++i) {
    for (const ClusterValue& m : g.groups[i].members) {
      g.group_of[m.value] = i;
    }
  }
  return g;
}

}  // namespace

ClusterReport BehaviourProfile::Analyse(const ClusterKey& key, const ClusterOptions& o) const {
  ClusterReport rep;
  rep.key = key;
  rep.sessions = impl_->sessions;
  rep.overflow = impl_->overflow;
  rep.vectors = impl_->vectors.size();
  std::vector<std::pair<Vec, uint64_t>> vecs(impl_->vectors.begin(), impl_->vectors.end());
  std::sort(vecs.begin(), vecs.end(),
            [](const auto& a, const auto& b) { return a.first.Tie() < b.first.Tie(); });

  // Distributions of the base attributes.
  for (A a : kBaseAttributes) {
    absl::flat_hash_map<uint64_t, uint64_t> counts;
    for (const auto& [v, n] : vecs) {
      counts[Raw(v, a)] += n;
    }
    ClusterDistribution d{a, {}};
    d.values.reserve(counts.size());
    for (const auto& [value, n] : counts) {
      d.values.push_back({value, RawText(a, value), n, ""});
    }
    std::sort(d.values.begin(), d.values.end(),
              [](const ClusterValue& x, const ClusterValue& y) { return x.value < y.value; });
    rep.distributions.push_back(std::move(d));
  }

  // Groups; each value's group label goes into its distribution row.
  Grouping grouping[kClusterAttributes];
  for (A a : kGroupedAttributes) {
    ClusterDistribution* d = nullptr;
    for (ClusterDistribution& x : rep.distributions) {
      if (x.attribute == a) {
        d = &x;
      }
    }
    Grouping& g = grouping[static_cast<int>(GroupOf(a))];
    g = GroupValues(a, *d, o);
    for (ClusterValue& v : d->values) {
      auto it = g.group_of.find(v.value);
      v.group = it == g.group_of.end() ? "none" : g.groups[it->second].label;
    }
    for (const FingerprintGroup& fg : g.groups) {
      rep.groups.push_back(fg);
    }
  }

  // Every rule attribute's value per vector (groups as indices).
  auto value_of = [&](const Vec& v, A a) -> uint64_t {
    if (!IsGroupAttribute(a)) {
      return Raw(v, a);
    }
    const Grouping& g = grouping[static_cast<int>(a)];
    auto it = g.group_of.find(Raw(v, Base(a)));
    return it == g.group_of.end() ? kNoGroup : it->second;
  };
  auto text_of = [&](A a, uint64_t value) -> std::string {
    if (!IsGroupAttribute(a)) {
      return RawText(a, value);
    }
    return value == kNoGroup ? "none" : grouping[static_cast<int>(a)].groups[value].label;
  };
  // A group value says more than the exact value only with several members;
  // "none" is the exact attribute's 0.
  auto redundant = [&](A a, uint64_t value) {
    return IsGroupAttribute(a) &&
           (value == kNoGroup || grouping[static_cast<int>(a)].groups[value].members.size() < 2);
  };
  // Rules are mined over the sessions that carried data: failed attempts
  // would only add "nothing implies nothing" rules.
  std::erase_if(vecs, [](const auto& v) {
    return v.first.first_data_sender == 0 && v.first.client_bytes == 0 && v.first.server_bytes == 0;
  });
  for (const auto& v : vecs) {
    rep.rule_sessions += v.second;
  }
  constexpr size_t kRuleAttrs = std::size(kRuleAttributes);
  std::vector<std::array<uint64_t, kRuleAttrs>> vals(vecs.size());
  for (size_t i = 0; i < vecs.size(); ++i) {
    for (size_t k = 0; k < kRuleAttrs; ++k) {
      vals[i][k] = value_of(vecs[i].first, kRuleAttributes[k]);
    }
  }
  // "Server bytes 0" and "server fingerprint none" say the same thing.
  auto tautology = [&](A a, uint64_t av, A b, uint64_t bv) {
    const int sa = SideOf(a);
    const bool a_none = IsGroupAttribute(a) ? av == kNoGroup : av == 0;
    const bool b_none = IsGroupAttribute(b) ? bv == kNoGroup : bv == 0;
    return sa != 0 && sa == SideOf(b) && a_none && b_none;
  };
  std::vector<absl::flat_hash_map<uint64_t, uint64_t>> marginal(kRuleAttrs);
  for (size_t i = 0; i < vecs.size(); ++i) {
    for (size_t k = 0; k < kRuleAttrs; ++k) {
      marginal[k][vals[i][k]] += vecs[i].second;
    }
  }
  const double total = static_cast<double>(rep.rule_sessions);
  auto joint_of = [&](size_t ia, size_t ib) {
    absl::flat_hash_map<std::pair<uint64_t, uint64_t>, uint64_t> joint;
    for (size_t i = 0; i < vecs.size(); ++i) {
      joint[{vals[i][ia], vals[i][ib]}] += vecs[i].second;
    }
    return joint;
  };
  // Items (A = a) that hold in exactly the same sessions are one fact
  // ("client bytes 8" and "server bytes 26" when the probe always gets that
  // answer): each class is represented by its member of the earliest rule
  // attribute, and only representatives are antecedents; the other members
  // appear once, as consequents of their representative.
  std::vector<absl::flat_hash_map<uint64_t, std::pair<size_t, uint64_t>>> canon(kRuleAttrs);
  for (size_t ia = 0; ia < kRuleAttrs; ++ia) {
    for (size_t ib = 0; ib < ia; ++ib) {
      for (const auto& [ab, n] : joint_of(ia, ib)) {
        if (n != marginal[ia][ab.first] || n != marginal[ib][ab.second] ||
            redundant(kRuleAttributes[ib], ab.second)) {
          continue;
        }
        auto [it, fresh] = canon[ia].try_emplace(ab.first, ib, ab.second);
        if (!fresh && ib < it->second.first) {
          it->second = {ib, ab.second};
        }
      }
    }
  }
  auto representative = [&](size_t k, uint64_t v) {
    auto it = canon[k].find(v);
    return it == canon[k].end() ? std::pair<size_t, uint64_t>{k, v} : it->second;
  };
  for (size_t ia = 0; ia < kRuleAttrs; ++ia) {
    for (size_t ib = 0; ib < kRuleAttrs; ++ib) {
      const A a = kRuleAttributes[ia];
      const A b = kRuleAttributes[ib];
      if (Family(a) == Family(b)) {
        continue;
      }
      // Per value of A: its most frequent B (ties: the smaller value).
      absl::flat_hash_map<uint64_t, std::pair<uint64_t, uint64_t>> best;  // a -> (b, n)
      for (const auto& [ab, n] : joint_of(ia, ib)) {
        auto [it, fresh] = best.try_emplace(ab.first, ab.second, n);
        if (!fresh &&
            (n > it->second.second || (n == it->second.second && ab.second < it->second.first))) {
          it->second = {ab.second, n};
        }
      }
      for (const auto& [av, bn] : best) {
        const uint64_t na = marginal[ia][av];
        if (na < o.min_support || redundant(a, av) || redundant(b, bn.first) ||
            tautology(a, av, b, bn.first)) {
          continue;
        }
        const auto rep_a = representative(ia, av);
        const auto rep_b = representative(ib, bn.first);
        if (rep_a != std::pair<size_t, uint64_t>{ia, av} ||
            (rep_b != std::pair<size_t, uint64_t>{ib, bn.first} && rep_b != rep_a)) {
          continue;
        }
        const double conf = static_cast<double>(bn.second) / static_cast<double>(na);
        const double pa = static_cast<double>(na) / total;
        const double pb = static_cast<double>(marginal[ib][bn.first]) / total;
        const double lift = conf / pb;
        if (conf + 1e-12 < o.min_confidence || !(lift > 1 + 1e-9)) {
          continue;
        }
        ClusterRule r{a, text_of(a, av), b, text_of(b, bn.first), na, bn.second, conf, lift};
        r.leverage = static_cast<double>(bn.second) / total - pa * pb;
        rep.rules.push_back(std::move(r));
      }
    }
  }
  std::sort(rep.rules.begin(), rep.rules.end(), [](const ClusterRule& x, const ClusterRule& y) {
    return std::forward_as_tuple(-x.confidence, -x.leverage, -static_cast<int64_t>(x.support),
                                 x.if_attribute, x.if_value, x.then_attribute) <
           std::forward_as_tuple(-y.confidence, -y.leverage, -static_cast<int64_t>(y.support),
                                 y.if_attribute, y.if_value, y.then_attribute);
  });
  if (rep.rules.size() > o.max_rules) {
    rep.rules.resize(o.max_rules);
  }
  return rep;
}

// ---------------------------------------------------------------------------

struct BehaviourClusters::Impl {
  absl::flat_hash_map<ClusterKey, size_t> index;
  std::vector<std::pair<ClusterKey, BehaviourProfile>> profiles;
};

BehaviourClusters::BehaviourClusters(ClusterOptions options)
    : options_(options), impl_(std::make_unique<Impl>()) {}
BehaviourClusters::~BehaviourClusters() = default;
BehaviourClusters::BehaviourClusters(BehaviourClusters&&) noexcept = default;
BehaviourClusters& BehaviourClusters::operator=(BehaviourClusters&&) noexcept = default;

void BehaviourClusters::Select(const ClusterKey& key) {
  if (impl_->index.try_emplace(key, impl_->profiles.size()).second) {
    impl_->profiles.emplace_back(key, BehaviourProfile());
  }
}

void BehaviourClusters::Consume(const record::SessionRecord& r) {
  if (ClassifyRecord(r) == Outcome::kNone) {
    return;
  }
  auto it = impl_->index.find(ClusterKey{r.client_ip, r.ip_version, r.server_port});
  if (it == impl_->index.end()) {
    return;
  }
  impl_->profiles[it->second].second.Add(r, options_.max_vectors);
}

void BehaviourClusters::Consume(std::span<const record::SessionRecord> records) {
  for (const record::SessionRecord& r : records) {
    Consume(r);
  }
}

void BehaviourClusters::Merge(const BehaviourClusters& other) {
  for (const auto& [key, profile] : other.impl_->profiles) {
    Select(key);
    impl_->profiles[impl_->index[key]].second.Merge(profile, options_.max_vectors);
  }
}

std::vector<ClusterReport> BehaviourClusters::Reports() const {
  std::vector<ClusterReport> out;
  out.reserve(impl_->profiles.size());
  for (const auto& [key, profile] : impl_->profiles) {
    out.push_back(profile.Analyse(key, options_));
  }
  return out;
}

}  // namespace flowtrail::analytics
