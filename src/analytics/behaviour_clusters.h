// Behaviour clusters (Heberlein §7, SPEC §5): for selected (client, server
// port) keys, what the sessions look like and which of their attributes go
// together. DPDK-free: `flowtrail report clusters` runs it offline and the
// analytics lcore can run it live on the keys the scan table ranks highest.
//
// Records: TCP final records that the scan table counts (ClassifyRecord !=
// kNone: a client SYN, not `continuing`), so each session counts once and the
// sessions are those behind the `report scans` row of the key.
//
// Per key, a session is reduced to its behaviour vector (client_bytes,
// server_bytes, client/server fingerprint and simhash, first_data_sender,
// shutdown_initiator, shutdown_kind) and the key keeps one counter per
// distinct vector (at most `max_vectors`; sessions of further new vectors are
// counted as `overflow`, not profiled). Everything else is derived from that
// multiset at Analyse(): the result does not depend on record order, and
// Merge() (adding counters) equals one pass over all records.
//
// Distributions: value -> sessions for every attribute, in value order (the
// x-axis of the paper's Figures 1, 2, 4 and 5).
//
// Fingerprint groups (single linkage, so a group is the transitive closure
// of "close"):
//   scalar fingerprints (fingerprint.h: prefix-dominated, numerically close
//   for similar payloads): two values are close when |a - b| <= D
//   (`fingerprint_distance`, default 256: an IPv4 address embedded in a
//   100-byte payload moves the value by at most 164). In one dimension single
//   linkage is "sort, split where the gap exceeds D". Label: "lo-hi" (or the
//   value when the group has one member), as the paper's "in the range of
//   62693 - 65647".
//   SimHash values: close when the Hamming distance is <= H
//   (`simhash_distance`, default 6 of 64 bits; near-duplicates are <= 3-6,
//   unrelated payloads ~32), union-find over all pairs of the
//   `kMaxSimhashValues` most frequent distinct values (rarer ones stay
//   singletons). Label: the group's most frequent member in hex, with a "~"
//   when the group has more than one member.
//   0 ("no data") is never grouped: its group is "none".
//
// Correlations (the paper's "when the sequence delta was 111, the
// fingerprint value was 8253 100% of the time"), mined over the sessions that
// carried data (failed attempts only say "no data implies no data"): rules
// A=a -> B=b over
// attribute pairs from different families (the fingerprint, its group and
// the simhash group of one side are one family: they describe the same
// bytes). For each value a with at least `min_support` sessions, b is the
// most frequent value of B among them; the rule is kept when
//   confidence = n(a, b) / n(a) >= min_confidence, and
//   lift = confidence / P(B = b) > 1 (B = b is not just what every session
//   has: a constant attribute predicts nothing),
// a group value with a single member is left to the exact attribute, and
// "no data" of one side does not predict "no data" of the same side (server
// bytes 0 and server fingerprint none are one fact).
// Items that hold in exactly the same sessions (the probe's "client bytes 8"
// and its answer's "server bytes 26") are one fact: the member of the
// earliest attribute (ClusterAttribute order) represents the class, only
// representatives are antecedents, and the other members appear once, as
// its consequents. Rules are ranked by confidence, then leverage
// (P(a, b) - P(a) P(b), Piatetsky-Shapiro: the share of sessions the rule
// explains beyond chance; it favours rules that are both common and telling
// over lift, which favours rare ones), then support; the first `max_rules`
// are reported.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "record/session_record.h"

namespace flowtrail::analytics {

enum class ClusterAttribute : uint8_t {
  kClientBytes = 0,
  kServerBytes,
  kClientFingerprint,
  kClientFingerprintGroup,
  kClientSimhash,
  kClientSimhashGroup,
  kServerFingerprint,
  kServerFingerprintGroup,
  kServerSimhash,
  kServerSimhashGroup,
  kFirstDataSender,
  kShutdownInitiator,
  kShutdownKind,
};
inline constexpr int kClusterAttributes = 13;

// "client_bytes", "client_fingerprint_group", ... (report and file names).
const char* ClusterAttributeName(ClusterAttribute a);
// "client bytes", "client fingerprint group", ... (rule sentences).
const char* ClusterAttributePhrase(ClusterAttribute a);
bool IsGroupAttribute(ClusterAttribute a);

inline constexpr size_t kMaxSimhashValues = 4096;

struct ClusterOptions {
  uint32_t fingerprint_distance = 256;
  int simhash_distance = 6;
  uint64_t min_support = 3;
  double min_confidence = 0.75;
  size_t max_rules = 20;
  size_t max_vectors = 65536;  // distinct behaviour vectors per key
};

struct ClusterKey {
  IpAddress client;
  uint8_t ip_version = 4;
  uint16_t port = 0;
  friend bool operator==(const ClusterKey&, const ClusterKey&) = default;
  friend auto operator<=>(const ClusterKey&, const ClusterKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const ClusterKey& k) {
    return H::combine(std::move(h), k.client.bytes, k.ip_version, k.port);
  }
};

struct ClusterValue {
  uint64_t value = 0;  // the attribute's raw value (a group: its index)
  std::string text;    // as reported: "111", "client", "3711000-3711164", "none"
  uint64_t sessions = 0;
  std::string group;  // fingerprint and simhash values: the label of their group
};

struct ClusterDistribution {
  ClusterAttribute attribute;
  std::vector<ClusterValue> values;  // in value order
};

struct FingerprintGroup {
  ClusterAttribute attribute;  // kClientFingerprint, kClientSimhash, ...
  std::string label;
  uint64_t lo = 0, hi = 0;  // smallest and largest member
  uint64_t mode = 0;        // the member with the most sessions
  uint64_t sessions = 0;
  std::vector<ClusterValue> members;  // in value order
};

struct ClusterRule {
  ClusterAttribute if_attribute;
  std::string if_value;
  ClusterAttribute then_attribute;
  std::string then_value;
  uint64_t antecedent = 0;  // sessions with A = a
  uint64_t support = 0;     // sessions with A = a and B = b
  double confidence = 0;    // support / antecedent
  double lift = 0;          // confidence / P(B = b)
  double leverage = 0;      // P(a, b) - P(a) P(b): the share of sessions explained
  // "when server bytes are 111, the client fingerprint group is 3711000-3711164
  // in 100% of sessions (12 of 12)"
  std::string Sentence() const;
};

struct ClusterReport {
  ClusterKey key;
  uint64_t sessions = 0;       // profiled sessions
  uint64_t overflow = 0;       // sessions not profiled (max_vectors reached)
  uint64_t vectors = 0;        // distinct behaviour vectors
  uint64_t rule_sessions = 0;  // sessions that carried data (the rules' population)
  // Every attribute except the group ones, in ClusterAttribute order.
  std::vector<ClusterDistribution> distributions;
  // Per fingerprint and simhash attribute, by sessions (most first), then lo.
  std::vector<FingerprintGroup> groups;
  std::vector<ClusterRule> rules;

  const ClusterDistribution* Distribution(ClusterAttribute a) const;
};

// The sessions of one key.
class BehaviourProfile {
 public:
  BehaviourProfile();
  ~BehaviourProfile();
  BehaviourProfile(BehaviourProfile&&) noexcept;
  BehaviourProfile& operator=(BehaviourProfile&&) noexcept;

  // `r` must be a counted record of this key (the caller filters).
  void Add(const record::SessionRecord& r, size_t max_vectors);
  void Merge(const BehaviourProfile& other, size_t max_vectors);
  uint64_t sessions() const;
  uint64_t overflow() const;

  ClusterReport Analyse(const ClusterKey& key, const ClusterOptions& options) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The profiles of the selected keys; records of other keys are ignored.
class BehaviourClusters {
 public:
  explicit BehaviourClusters(ClusterOptions options = {});
  ~BehaviourClusters();
  BehaviourClusters(BehaviourClusters&&) noexcept;
  BehaviourClusters& operator=(BehaviourClusters&&) noexcept;

  void Select(const ClusterKey& key);
  void Consume(const record::SessionRecord& r);
  void Consume(std::span<const record::SessionRecord> records);
  void Merge(const BehaviourClusters& other);
  // One report per selected key, in the order they were selected.
  std::vector<ClusterReport> Reports() const;
  const ClusterOptions& options() const { return options_; }

 private:
  struct Impl;
  ClusterOptions options_;
  std::unique_ptr<Impl> impl_;
};

// Single-linkage groups of sorted distinct scalar values (exposed for tests):
// returns, per value, its group index (groups numbered in value order).
std::vector<uint32_t> LinkScalar(std::span<const uint64_t> sorted_values, uint64_t distance);
// Single-linkage groups of 64-bit SimHash values by Hamming distance: per
// value, the index of its group's smallest-index member.
std::vector<uint32_t> LinkSimhash(std::span<const uint64_t> values, int distance);

}  // namespace flowtrail::analytics
