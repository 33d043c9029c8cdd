#include "common/ip_address.h"

#include <arpa/inet.h>

namespace flowtrail {

std::string FormatIp(const IpAddress& a, uint8_t ip_version) {
  char buf[INET6_ADDRSTRLEN];
  const int family = ip_version == 6 ? AF_INET6 : AF_INET;
  if (inet_ntop(family, a.bytes.data(), buf, sizeof(buf)) == nullptr) return "?";
  return buf;
}

}  // namespace flowtrail
