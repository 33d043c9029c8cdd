// A set of IPv4/IPv6 CIDR prefixes (the protected networks): parsed on the
// control path, matched on the fast path with no allocation.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/ip_address.h"

namespace flowtrail::session {

class Networks {
 public:
  // Comma-separated list, e.g. "10.0.0.0/8,192.168.1.0/24,2001:db8::/32".
  static absl::StatusOr<Networks> Parse(std::string_view list);
  absl::Status Add(std::string_view cidr);

  bool Contains(const IpAddress& a, uint8_t ip_version) const;
  bool empty() const { return prefixes_.empty(); }

 private:
  struct Prefix {
    IpAddress addr;  // masked
    uint8_t ip_version;
    uint8_t length;
  };
  std::vector<Prefix> prefixes_;
};

}  // namespace flowtrail::session
