#include "session/ftp_announce.h"

#include <arpa/inet.h>

#include <cstring>

namespace flowtrail::session {
namespace {

bool IsDigit(uint8_t c) { return c >= '0' && c <= '9'; }
uint8_t Upper(uint8_t c) { return (c >= 'a' && c <= 'z') ? c - 32 : c; }

bool StartsWithCi(const uint8_t* p, const uint8_t* end, const char* word) {
  for (; *word; ++word, ++p) {
    if (p >= end || Upper(*p) != static_cast<uint8_t>(*word)) return false;
  }
  return true;
}

// Parses a decimal number <= max at *p; advances *p.
bool ParseNumber(const uint8_t** p, const uint8_t* end, uint32_t max, uint32_t* out) {
  const uint8_t* q = *p;
  uint32_t v = 0;
  int digits = 0;
  while (q < end && IsDigit(*q) && digits < 6) {
    v = v * 10 + (*q - '0');
    ++q;
    ++digits;
  }
  if (digits == 0 || digits == 6 || v > max) return false;
  *p = q;
  *out = v;
  return true;
}

// h1,h2,h3,h4,p1,p2 (spaces tolerated after commas).
bool ParseSixNumbers(const uint8_t* p, const uint8_t* end, FtpEndpoint* out) {
  uint32_t v[6];
  for (int i = 0; i < 6; ++i) {
    while (p < end && *p == ' ') ++p;
    if (!ParseNumber(&p, end, 255, &v[i])) return false;
    if (i < 5) {
      if (p >= end || *p != ',') return false;
      ++p;
    }
  }
  *out = FtpEndpoint();
  out->ip_version = 4;
  for (int i = 0; i < 4; ++i) out->addr.bytes[i] = static_cast<uint8_t>(v[i]);
  out->port = static_cast<uint16_t>(v[4] << 8 | v[5]);
  return out->port != 0;
}

// EPRT argument: <d><af><d><addr><d><port><d>.
bool ParseEprt(const uint8_t* p, const uint8_t* end, FtpEndpoint* out) {
  while (p < end && *p == ' ') ++p;
  if (p >= end || *p < 33 || *p > 126) return false;
  const uint8_t d = *p++;
  uint32_t af, port;
  if (!ParseNumber(&p, end, 2, &af) || af == 0) return false;
  if (p >= end || *p++ != d) return false;
  char text[INET6_ADDRSTRLEN];
  size_t len = 0;
  while (p < end && *p != d) {
    if (len + 1 >= sizeof(text)) return false;
    text[len++] = static_cast<char>(*p++);
  }
  text[len] = '\0';
  if (p >= end || *p++ != d) return false;
  if (!ParseNumber(&p, end, 65535, &port) || port == 0) return false;
  if (p >= end || *p != d) return false;
  *out = FtpEndpoint();
  out->ip_version = af == 1 ? 4 : 6;
  if (inet_pton(af == 1 ? AF_INET : AF_INET6, text, out->addr.bytes.data()) != 1) return false;
  out->port = static_cast<uint16_t>(port);
  return true;
}

// 229 text: ... (<d><d><d><port><d>)
bool ParseEpsvReply(const uint8_t* p, const uint8_t* end, FtpEndpoint* out) {
  while (p < end && *p != '(' && *p != '\n') ++p;
  if (p >= end || *p != '(') return false;
  ++p;
  if (end - p < 4) return false;
  const uint8_t d = p[0];
  if (d < 33 || d > 126 || IsDigit(d) || p[1] != d || p[2] != d) return false;
  p += 3;
  uint32_t port;
  if (!ParseNumber(&p, end, 65535, &port) || port == 0) return false;
  if (p >= end || *p != d) return false;
  out->port = static_cast<uint16_t>(port);
  return true;
}

template <typename LineFn>
bool ForEachLine(const uint8_t* p, uint32_t n, LineFn&& fn) {
  const uint8_t* end = p + n;
  while (p < end) {
    const uint8_t* eol = static_cast<const uint8_t*>(std::memchr(p, '\n', end - p));
    const uint8_t* line_end = eol ? eol : end;
    if (fn(p, line_end)) return true;
    p = line_end + 1;
  }
  return false;
}

}  // namespace

bool ParseFtpClientAnnounce(const uint8_t* p, uint32_t n, FtpEndpoint* out) {
  if (p == nullptr) return false;
  return ForEachLine(p, n, [out](const uint8_t* b, const uint8_t* e) {
    if (StartsWithCi(b, e, "PORT ")) return ParseSixNumbers(b + 5, e, out);
    if (StartsWithCi(b, e, "EPRT ")) return ParseEprt(b + 5, e, out);
    return false;
  });
}

bool ParseFtpServerAnnounce(const uint8_t* p, uint32_t n, const IpAddress& server,
                            uint8_t ip_version, FtpEndpoint* out) {
  if (p == nullptr) return false;
  return ForEachLine(p, n, [&](const uint8_t* b, const uint8_t* e) {
    if (StartsWithCi(b, e, "227")) {
      // RFC 1123 4.1.2.6: the numbers may appear anywhere after the code.
      const uint8_t* q = b + 3;
      while (q < e && !IsDigit(*q)) ++q;
      return ParseSixNumbers(q, e, out);
    }
    if (StartsWithCi(b, e, "229")) {
      *out = FtpEndpoint();
      out->addr = server;
      out->ip_version = ip_version;
      return ParseEpsvReply(b + 3, e, out);
    }
    return false;
  });
}

void FtpAnnouncements::Add(const FtpEndpoint& e, uint64_t now_us) {
  entries_[next_] = Entry{e, now_us + ttl_us_, true};
  next_ = (next_ + 1) % kSize;
  ++added_;
}

bool FtpAnnouncements::Match(const IpAddress& addr, uint8_t ip_version, uint16_t port,
                             uint64_t now_us) const {
  if (added_ == 0) return false;
  for (const Entry& e : entries_) {
    if (e.used && e.ep.port == port && e.ep.ip_version == ip_version && e.ep.addr == addr &&
        now_us <= e.expires_us) {
      return true;
    }
  }
  return false;
}

}  // namespace flowtrail::session
