// The data-frame sequence numbers a collector holds for one run, as disjoint
// half-open intervals: what is stored, what is missing (gaps from 1, where
// every run starts, to the highest held) and how many frames arrived twice.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace flowtrail::collect {

class SequenceSet {
 public:
  // Adds [first, end); returns how many of them were held already.
  uint64_t Add(uint64_t first, uint64_t end);
  // Removes [first, end); returns how many of them were held.
  uint64_t Remove(uint64_t first, uint64_t end);
  bool Contains(uint64_t seq) const;
  // The first sequence >= seq that is not held.
  uint64_t NextMissing(uint64_t seq) const;
  uint64_t size() const { return size_; }
  // One past the highest sequence held (0 when empty).
  uint64_t end() const { return ranges_.empty() ? 0 : ranges_.rbegin()->second; }
  // Missing [first, end) ranges between 1 and end().
  std::vector<std::pair<uint64_t, uint64_t>> Gaps() const;
  // "1-100,120-130" (inclusive ranges).
  std::string ToString() const;
  const std::map<uint64_t, uint64_t>& ranges() const { return ranges_; }

 private:
  std::map<uint64_t, uint64_t> ranges_;  // first -> end, disjoint, not adjacent
  uint64_t size_ = 0;
};

}  // namespace flowtrail::collect
