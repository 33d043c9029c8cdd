#include "collect/sequence_set.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace flowtrail::collect {

uint64_t SequenceSet::Add(uint64_t first, uint64_t end) {
  if (first >= end) return 0;
  uint64_t held = 0;
  // Merge every range that overlaps or touches [first, end).
  auto it = ranges_.upper_bound(first);
  if (it != ranges_.begin() && std::prev(it)->second >= first) --it;
  while (it != ranges_.end() && it->first <= end) {
    const uint64_t lo = std::max(first, it->first);
    const uint64_t hi = std::min(end, it->second);
    if (hi > lo) held += hi - lo;
    first = std::min(first, it->first);
    end = std::max(end, it->second);
    size_ -= it->second - it->first;
    it = ranges_.erase(it);
  }
  ranges_.emplace(first, end);
  size_ += end - first;
  return held;
}

uint64_t SequenceSet::Remove(uint64_t first, uint64_t end) {
  if (first >= end) return 0;
  uint64_t removed = 0;
  auto it = ranges_.upper_bound(first);
  if (it != ranges_.begin() && std::prev(it)->second > first) --it;
  while (it != ranges_.end() && it->first < end) {
    const uint64_t lo = it->first, hi = it->second;
    const uint64_t cut_lo = std::max(first, lo), cut_hi = std::min(end, hi);
    removed += cut_hi - cut_lo;
    size_ -= cut_hi - cut_lo;
    it = ranges_.erase(it);
    // What lies outside [first, end) stays.
    if (lo < cut_lo) ranges_.emplace(lo, cut_lo);
    if (cut_hi < hi) it = ranges_.emplace(cut_hi, hi).first;
  }
  return removed;
}

bool SequenceSet::Contains(uint64_t seq) const {
  auto it = ranges_.upper_bound(seq);
  if (it == ranges_.begin()) return false;
  return std::prev(it)->second > seq;
}

uint64_t SequenceSet::NextMissing(uint64_t seq) const {
  auto it = ranges_.upper_bound(seq);
  if (it == ranges_.begin()) return seq;
  --it;
  return it->second > seq ? it->second : seq;
}

std::vector<std::pair<uint64_t, uint64_t>> SequenceSet::Gaps() const {
  std::vector<std::pair<uint64_t, uint64_t>> gaps;
  uint64_t next = 1;
  for (const auto& [lo, hi] : ranges_) {
    if (lo > next) gaps.emplace_back(next, lo);
    next = std::max(next, hi);
  }
  return gaps;
}

std::string SequenceSet::ToString() const {
  std::string s;
  for (const auto& [lo, hi] : ranges_) {
    if (!s.empty()) s += ',';
    absl::StrAppend(&s, lo, "-", hi - 1);
  }
  return s.empty() ? "none" : s;
}

}  // namespace flowtrail::collect
