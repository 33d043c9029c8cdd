#include "dataplane/pcap_devargs.h"

#include <pcap/pcap.h>

#include "absl/strings/str_cat.h"

namespace flowtrail::dataplane {

PcapDevargs ParsePcapDevargs(std::string_view args) {
  PcapDevargs d;
  while (!args.empty()) {
    const size_t comma = args.find(',');
    std::string_view kv = args.substr(0, comma);
    args = comma == std::string_view::npos ? std::string_view() : args.substr(comma + 1);
    const size_t eq = kv.find('=');
    const std::string_view key = kv.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1);
    if (key == "rx_pcap") {
      d.rx_files.emplace_back(value);
    } else if (key == "infinite_rx") {
      d.infinite_rx = value == "1";
    } else if (key == "iface" || key == "rx_iface" || key == "rx_iface_in") {
      d.live_interface = true;
    }
  }
  return d;
}

absl::StatusOr<uint64_t> CountPcapPackets(const std::string& path) {
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  if (p == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", err));
  }
  uint64_t n = 0;
  pcap_pkthdr* hdr = nullptr;
  const u_char* data = nullptr;
  // net_pcap reads with pcap_next(), which stops at the first error too.
  while (pcap_next_ex(p, &hdr, &data) == 1) {
    ++n;
  }
  pcap_close(p);
  return n;
}

}  // namespace flowtrail::dataplane
