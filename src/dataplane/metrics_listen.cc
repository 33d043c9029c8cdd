#include "dataplane/metrics_listen.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace flowtrail::dataplane {

absl::StatusOr<ListenAddress> ParseListenAddress(std::string_view v) {
  ListenAddress out;
  std::string_view port = v;
  const size_t colon = v.rfind(':');
  if (colon != std::string_view::npos) {
    std::string_view host = v.substr(0, colon);
    port = v.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--metrics ", std::string(v), ": an IPv6 address goes in brackets, e.g. [::1]:9100"));
    }
    if (host.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--metrics ", std::string(v), ": expected ADDR:PORT or PORT"));
    }
    out.host = std::string(host);
  } else {
    out.host = "127.0.0.1";  // loopback unless an address is given
  }
  uint32_t n = 0;
  if (!absl::SimpleAtoi(std::string(port), &n) || n == 0 || n > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics ", std::string(v), ": the port must be a number from 1 to 65535"));
  }
  out.port = static_cast<uint16_t>(n);
  return out;
}

}  // namespace flowtrail::dataplane
