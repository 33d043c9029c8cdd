#include "analytics/index_hash.h"

#include <random>

namespace flowtrail::analytics {

const IndexSecrets& ProcessIndexSecrets() {
  static const IndexSecrets secrets = [] {
    std::random_device rd;
    auto draw = [&rd] { return (uint64_t{rd()} << 32) | rd(); };
    IndexSecrets s;
    s.s0 = draw();
    s.s1 = draw();
    // A multiplier: odd, with its top bit set, so it spreads every bit.
    s.s2 = draw() | (uint64_t{1} << 63) | 1;
    return s;
  }();
  return secrets;
}

}  // namespace flowtrail::analytics
