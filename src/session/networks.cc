#include "session/networks.h"

#include <arpa/inet.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace flowtrail::session {
namespace {

// Debian's Abseil has its own string_view type: convert at the boundary.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string_view Strip(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void MaskTo(IpAddress* a, uint8_t length) {
  for (int i = 0; i < 16; ++i) {
    const int bits = static_cast<int>(length) - 8 * i;
    if (bits >= 8) continue;
    a->bytes[i] &= bits <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bits));
  }
}

}  // namespace

absl::StatusOr<Networks> Networks::Parse(std::string_view list) {
  Networks n;
  if (Strip(list).empty()) return n;  // no protected networks
  const std::string_view whole = list;
  while (true) {
    const size_t comma = list.find(',');
    const std::string_view item = Strip(list.substr(0, comma));
    if (item.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad network list \"", Absl(whole),
                       "\": empty entry (expected CIDRs separated by commas)"));
    } else if (absl::Status s = n.Add(item); !s.ok()) {
      return s;
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return n;
}

absl::Status Networks::Add(std::string_view cidr) {
  cidr = Strip(cidr);
  const size_t slash = cidr.find('/');
  const std::string addr_text(cidr.substr(0, slash));
  Prefix p;
  if (inet_pton(AF_INET, addr_text.c_str(), p.addr.bytes.data()) == 1) {
    p.ip_version = 4;
  } else if (inet_pton(AF_INET6, addr_text.c_str(), p.addr.bytes.data()) == 1) {
    p.ip_version = 6;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad network \"", Absl(cidr), "\": \"", addr_text,
        "\" is not an IPv4 or IPv6 address (expected e.g. 10.0.0.0/8 or 2001:db8::/32)"));
  }
  const uint32_t max_len = p.ip_version == 4 ? 32 : 128;
  uint32_t len = max_len;
  if (slash != std::string_view::npos) {
    const std::string_view len_text = cidr.substr(slash + 1);
    bool ok = !len_text.empty() && len_text.size() <= 3;
    len = 0;
    for (char ch : len_text) {
      ok = ok && ch >= '0' && ch <= '9';
      len = len * 10 + static_cast<uint32_t>(ch - '0');
    }
    if (!ok || len > max_len) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad network \"", Absl(cidr), "\": prefix length must be 0..", max_len));
    }
  }
  p.length = static_cast<uint8_t>(len);
  MaskTo(&p.addr, p.length);
  prefixes_.push_back(p);
  return absl::OkStatus();
}

bool Networks::Contains(const IpAddress& a, uint8_t ip_version) const {
  for (const Prefix& p : prefixes_) {
    if (p.ip_version != ip_version) continue;
    IpAddress m = a;
    MaskTo(&m, p.length);
    if (m == p.addr) return true;
  }
  return false;
}

}  // namespace flowtrail::session
