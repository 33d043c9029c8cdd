// FTP data-channel announcements, so the data session can be flagged as going
// to a transient server (field 7 of the paper):
//   client -> server  PORT h1,h2,h3,h4,p1,p2        server listens at h1..h4:p
//                     EPRT |1|a.b.c.d|port|  EPRT |2|v6addr|port|   (RFC 2428)
//   server -> client  227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)
//                     229 Entering Extended Passive Mode (|||port|)  (the
//                     control server's address)
// In active mode the FTP client is the data session's server (the FTP server
// connects to it); in passive mode the FTP server is. Either way the
// announced (address, port) is the data session's server endpoint.
#pragma once

#include <array>
#include <cstdint>

#include "common/ip_address.h"

namespace flowtrail::session {

struct FtpEndpoint {
  IpAddress addr;
  uint8_t ip_version = 0;
  uint16_t port = 0;
};

// Looks for PORT / EPRT at the start of any line of a client->server payload.
bool ParseFtpClientAnnounce(const uint8_t* p, uint32_t n, FtpEndpoint* out);

// Looks for a 227 / 229 reply at the start of any line of a server->client
// payload. `server` is the control session's server address (229 carries no
// address).
bool ParseFtpServerAnnounce(const uint8_t* p, uint32_t n, const IpAddress& server,
                            uint8_t ip_version, FtpEndpoint* out);

// Recently announced endpoints: a small ring that overwrites the oldest, each
// entry valid for `ttl_us` after its announcement.
class FtpAnnouncements {
 public:
  static constexpr uint32_t kSize = 64;
  static constexpr uint64_t kDefaultTtlUs = 300'000'000;

  void Add(const FtpEndpoint& e, uint64_t now_us);
  bool Match(const IpAddress& addr, uint8_t ip_version, uint16_t port, uint64_t now_us) const;
  uint64_t added() const { return added_; }

 private:
  struct Entry {
    FtpEndpoint ep;
    uint64_t expires_us = 0;
    bool used = false;
  };
  std::array<Entry, kSize> entries_{};
  uint32_t next_ = 0;
  uint64_t added_ = 0;
  uint64_t ttl_us_ = kDefaultTtlUs;
};

}  // namespace flowtrail::session
