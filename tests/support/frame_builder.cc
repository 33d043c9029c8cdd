#include "frame_builder.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace flowtrail::testing {
namespace {

void Put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x));
}
void Put32(std::vector<uint8_t>& v, uint32_t x) {
  Put16(v, static_cast<uint16_t>(x >> 16));
  Put16(v, static_cast<uint16_t>(x));
}
void Set16(std::vector<uint8_t>& v, size_t at, uint16_t x) {
  v[at] = static_cast<uint8_t>(x >> 8);
  v[at + 1] = static_cast<uint8_t>(x);
}

std::vector<uint8_t> Addr(const std::string& text, uint8_t version) {
  std::vector<uint8_t> out(version == 6 ? 16 : 4);
  if (inet_pton(version == 6 ? AF_INET6 : AF_INET, text.c_str(), out.data()) != 1) {
    throw std::invalid_argument("bad address " + text);
  }
  return out;
}

uint32_t SumBytes(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += (p[i] << 8) | p[i + 1];
  if (n & 1) sum += p[n - 1] << 8;
  return sum;
}
uint16_t Fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

void PadTo4(std::vector<uint8_t>& v) {
  while (v.size() % 4) v.push_back(0);
}

}  // namespace

std::vector<uint8_t> BuildFrame(const FrameSpec& s) {
  const std::vector<uint8_t> src = Addr(s.src, s.ip_version);
  const std::vector<uint8_t> dst = Addr(s.dst, s.ip_version);

  // L4 header + payload.
  std::vector<uint8_t> l4;
  if (s.protocol == 6) {
    std::vector<uint8_t> opts = s.tcp_options;
    PadTo4(opts);
    Put16(l4, s.sport);
    Put16(l4, s.dport);
    Put32(l4, s.seq);
    Put32(l4, s.ack);
    l4.push_back(static_cast<uint8_t>(((20 + opts.size()) / 4) << 4));
    l4.push_back(s.flags);
    Put16(l4, s.window);
    Put16(l4, 0);  // checksum
    Put16(l4, 0);  // urgent
    l4.insert(l4.end(), opts.begin(), opts.end());
  } else if (s.protocol == 17) {
    Put16(l4, s.sport);
    Put16(l4, s.dport);
    Put16(l4, static_cast<uint16_t>(8 + s.payload.size()));
    Put16(l4, 0);
  } else if (s.protocol == 1 || s.protocol == 58) {
    l4.push_back(s.icmp_type);
    l4.push_back(s.icmp_code);
    Put16(l4, 0);
    Put16(l4, s.icmp_id);
    Put16(l4, s.icmp_seq);
  }
  const size_t l4_header = l4.size();
  l4.insert(l4.end(), s.payload.begin(), s.payload.end());

  // L4 checksum (pseudo-header for TCP/UDP/ICMPv6).
  if (s.protocol == 6 || s.protocol == 17 || s.protocol == 58 || s.protocol == 1) {
    uint32_t sum = 0;
    if (s.protocol != 1) {
      sum = SumBytes(src.data(), src.size(), sum);
      sum = SumBytes(dst.data(), dst.size(), sum);
      sum += s.protocol;
      sum += static_cast<uint32_t>(l4.size());
    }
    sum = SumBytes(l4.data(), l4.size(), sum);
    const size_t at = s.protocol == 6 ? 16 : (s.protocol == 17 ? 6 : 2);
    uint16_t c = Fold(sum);
    if (s.protocol == 17 && c == 0) c = 0xffff;
    Set16(l4, at, c);
  }
  (void)l4_header;

  // IP header.
  std::vector<uint8_t> ip;
  if (s.ip_version == 4) {
    std::vector<uint8_t> opts = s.ipv4_options;
    PadTo4(opts);
    const size_t hlen = 20 + opts.size();
    ip.push_back(static_cast<uint8_t>(0x40 | (hlen / 4)));
    ip.push_back(0);
    Put16(ip, static_cast<uint16_t>(hlen + l4.size()));
    Put16(ip, s.ip_id);
    Put16(ip,
          static_cast<uint16_t>((s.more_fragments ? 0x2000 : 0) | (s.fragment_offset & 0x1fff)));
    ip.push_back(s.ttl);
    ip.push_back(s.protocol);
    Put16(ip, 0);
    ip.insert(ip.end(), src.begin(), src.end());
    ip.insert(ip.end(), dst.begin(), dst.end());
    ip.insert(ip.end(), opts.begin(), opts.end());
    Set16(ip, 10, Fold(SumBytes(ip.data(), ip.size())));
  } else {
    std::vector<uint8_t> ext;
    uint8_t first_next = s.protocol;
    for (size_t i = s.ipv6_extensions.size(); i-- > 0;) {
      const Ipv6Extension& e = s.ipv6_extensions[i];
      std::vector<uint8_t> h;
      h.push_back(first_next);
      std::vector<uint8_t> body = e.body;
      if (e.type == 44) {
        body.resize(6, 0);  // fragment header is fixed 8 bytes
        h.push_back(0);
      } else if (e.type == 51) {
        while ((body.size() + 2) % 4) body.push_back(0);
        h.push_back(static_cast<uint8_t>((body.size() + 2) / 4 - 2));
      } else {
        while ((body.size() + 2) % 8) body.push_back(0);
        h.push_back(static_cast<uint8_t>((body.size() + 2) / 8 - 1));
      }
      h.insert(h.end(), body.begin(), body.end());
      h.insert(h.end(), ext.begin(), ext.end());
      ext = std::move(h);
      first_next = e.type;
    }
    Put32(ip, 0x60000000);
    Put16(ip, static_cast<uint16_t>(ext.size() + l4.size()));
    ip.push_back(first_next);
    ip.push_back(s.ttl);
    ip.insert(ip.end(), src.begin(), src.end());
    ip.insert(ip.end(), dst.begin(), dst.end());
    ip.insert(ip.end(), ext.begin(), ext.end());
  }

  std::vector<uint8_t> f = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1};
  for (size_t i = 0; i < s.vlans.size(); ++i) {
    Put16(f, (i == 0 && s.qinq) ? 0x88a8 : 0x8100);
    Put16(f, s.vlans[i] & 0x0fff);
  }
  if (!s.mpls_labels.empty()) {
    Put16(f, 0x8847);
    for (size_t i = 0; i < s.mpls_labels.size(); ++i) {
      const bool bottom = i + 1 == s.mpls_labels.size();
      Put32(f, (s.mpls_labels[i] << 12) | (bottom ? 0x100 : 0) | 64);
    }
  } else {
    Put16(f, s.ip_version == 6 ? 0x86dd : 0x0800);
  }
  f.insert(f.end(), ip.begin(), ip.end());
  f.insert(f.end(), l4.begin(), l4.end());
  while (f.size() < 60) f.push_back(0);  // Ethernet minimum (trailer, as on a wire)
  return f;
}

std::vector<uint8_t> Encapsulate(uint16_t linktype, const std::vector<uint8_t>& ethernet,
                                 bool null_little_endian, uint32_t af_inet6) {
  if (ethernet.size() < 14) return {};
  const uint16_t type = static_cast<uint16_t>((ethernet[12] << 8) | ethernet[13]);
  const bool ip = type == 0x0800 || type == 0x86dd;
  const bool v6 = type == 0x86dd;
  std::vector<uint8_t> out;
  auto be16 = [&](uint16_t v) {
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
  };
  switch (linktype) {
    case 113:  // packet type 0 (to us), ARPHRD_ETHER, 6-byte address, padded to 8
      be16(0);
      be16(1);
      be16(6);
      out.insert(out.end(), ethernet.begin() + 6, ethernet.begin() + 12);
      be16(0);
      out.insert(out.end(), ethernet.begin() + 12, ethernet.end());
      return out;
    case 276:  // protocol, reserved, ifindex 2, ARPHRD_ETHER, packet type 0, address
      out.insert(out.end(), ethernet.begin() + 12, ethernet.begin() + 14);
      be16(0);
      be16(0);
      be16(2);
      be16(1);
      out.push_back(0);
      out.push_back(6);
      out.insert(out.end(), ethernet.begin() + 6, ethernet.begin() + 12);
      be16(0);
      out.insert(out.end(), ethernet.begin() + 14, ethernet.end());
      return out;
    case 12:
    case 14:
    case 101:
    case 228:
    case 229:
      if (!ip || (linktype == 228 && v6) || (linktype == 229 && !v6)) return {};
      return std::vector<uint8_t>(ethernet.begin() + 14, ethernet.end());
    case 0:
    case 108: {
      if (!ip) return {};
      const uint32_t af = v6 ? af_inet6 : 2;
      const bool le = linktype == 0 && null_little_endian;
      for (int i = 0; i < 4; ++i) {
        out.push_back(static_cast<uint8_t>(af >> (le ? 8 * i : 24 - 8 * i)));
      }
      out.insert(out.end(), ethernet.begin() + 14, ethernet.end());
      return out;
    }
    default:
      return ethernet;
  }
}

PcapWriter::PcapWriter(const std::string& path, uint32_t snaplen) : snaplen_(snaplen) {
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) return;
  const uint32_t hdr[6] = {0xa1b2c3d4, 0x00040002, 0, 0, snaplen, 1};
  std::fwrite(hdr, sizeof(hdr), 1, file_);
}

PcapWriter::~PcapWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void PcapWriter::Write(uint64_t ts_us, const std::vector<uint8_t>& frame, uint32_t caplen,
                       uint32_t wire_len) {
  if (file_ == nullptr) return;
  uint32_t cap = static_cast<uint32_t>(frame.size());
  if (caplen < cap) cap = caplen;
  if (snaplen_ < cap) cap = snaplen_;
  const uint32_t rec[4] = {static_cast<uint32_t>(ts_us / 1000000),
                           static_cast<uint32_t>(ts_us % 1000000), cap,
                           wire_len ? wire_len : static_cast<uint32_t>(frame.size())};
  std::fwrite(rec, sizeof(rec), 1, file_);
  std::fwrite(frame.data(), 1, cap, file_);
  ++packets_;
}

}  // namespace flowtrail::testing
