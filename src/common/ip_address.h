// An IPv4 or IPv6 address as 16 bytes in network order. IPv4 addresses use the
// first 4 bytes and leave the rest zero; the IP version travels beside it.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

namespace flowtrail {

struct IpAddress {
  std::array<uint8_t, 16> bytes{};

  static IpAddress FromV4(const uint8_t* p) {
    IpAddress a;
    std::memcpy(a.bytes.data(), p, 4);
    return a;
  }
  static IpAddress FromV4(uint32_t host_order) {
    IpAddress a;
    a.bytes[0] = static_cast<uint8_t>(host_order >> 24);
    a.bytes[1] = static_cast<uint8_t>(host_order >> 16);
    a.bytes[2] = static_cast<uint8_t>(host_order >> 8);
    a.bytes[3] = static_cast<uint8_t>(host_order);
    return a;
  }
  static IpAddress FromV6(const uint8_t* p) {
    IpAddress a;
    std::memcpy(a.bytes.data(), p, 16);
    return a;
  }

  // Two words: the defaulted (std::array) comparison is a memcmp call in
  // GCC 12, once per probe of every address-keyed hash table (analytics).
  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    uint64_t x[2], y[2];
    std::memcpy(x, a.bytes.data(), sizeof(x));
    std::memcpy(y, b.bytes.data(), sizeof(y));
    return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
  }
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
};

// Text form: dotted quad for version 4, RFC 5952 for version 6.
std::string FormatIp(const IpAddress& a, uint8_t ip_version);

}  // namespace flowtrail
