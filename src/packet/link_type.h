// Link-layer types of capture files (the LINKTYPE_* numbers of pcap and
// pcapng headers, https://www.tcpdump.org/linktypes.html). NIC ports are
// always Ethernet; a capture file says its own, and the parser starts there.
#pragma once

#include <cstdint>
#include <string_view>

namespace flowtrail::packet {

enum class LinkType : uint16_t {
  kNull = 0,            // BSD loopback: 4-byte address family, host byte order
  kEthernet = 1,        // Ethernet II (VLAN, Q-in-Q, MPLS inside)
  kRawOpenBsd = 12,     // DLT_RAW as some systems write it: bare IPv4/IPv6
  kRawBsd = 14,         // DLT_RAW on OpenBSD
  kRaw = 101,           // LINKTYPE_RAW: bare IPv4/IPv6
  kLoop = 108,          // OpenBSD loopback: 4-byte address family, network order
  kLinuxSll = 113,      // Linux cooked capture v1 (tcpdump -i any)
  kIpv4 = 228,          // bare IPv4
  kIpv6 = 229,          // bare IPv6
  kLinuxSll2 = 276,     // Linux cooked capture v2
};

// True for the link types ParseFrame() reads.
inline bool IsSupportedLinkType(uint16_t v) {
  switch (static_cast<LinkType>(v)) {
    case LinkType::kNull:
    case LinkType::kEthernet:
    case LinkType::kRawOpenBsd:
    case LinkType::kRawBsd:
    case LinkType::kRaw:
    case LinkType::kLoop:
    case LinkType::kLinuxSll:
    case LinkType::kIpv4:
    case LinkType::kIpv6:
    case LinkType::kLinuxSll2:
      return true;
  }
  return false;
}

// libpcap's name of a link type ("EN10MB", "LINUX_SLL2"...), or "" when unknown.
inline std::string_view LinkTypeName(uint16_t v) {
  switch (v) {
    case 0:
      return "NULL";
    case 1:
      return "EN10MB";
    case 6:
      return "IEEE802";
    case 9:
      return "PPP";
    case 12:
    case 14:
    case 101:
      return "RAW";
    case 50:
      return "PPP_HDLC";
    case 104:
      return "C_HDLC";
    case 105:
      return "IEEE802_11";
    case 108:
      return "LOOP";
    case 113:
      return "LINUX_SLL";
    case 127:
      return "IEEE802_11_RADIOTAP";
    case 192:
      return "PPI";
    case 228:
      return "IPV4";
    case 229:
      return "IPV6";
    case 276:
      return "LINUX_SLL2";
    default:
      return "";
  }
}

}  // namespace flowtrail::packet
