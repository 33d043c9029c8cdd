#include "pcap_reader.h"

#include <pcap/pcap.h>

#include <filesystem>

namespace flowtrail::testing {

bool ReadPcap(const std::string& path, std::vector<CapturedFrame>* frames, std::string* error) {
  char errbuf[PCAP_ERRBUF_SIZE];
  pcap_t* p =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, errbuf);
  if (p == nullptr) {
    *error = errbuf;
    return false;
  }
  pcap_pkthdr* hdr;
  const u_char* data;
  int rc;
  while ((rc = pcap_next_ex(p, &hdr, &data)) == 1) {
    CapturedFrame f;
    f.ts_us = static_cast<uint64_t>(hdr->ts.tv_sec) * 1000000 + hdr->ts.tv_usec;
    f.wire_len = hdr->len;
    f.bytes.assign(data, data + hdr->caplen);
    frames->push_back(std::move(f));
  }
  const bool ok = rc == PCAP_ERROR_BREAK;
  if (!ok) *error = pcap_geterr(p);
  pcap_close(p);
  return ok;
}

std::string SharedCapturesDir() {
  const std::filesystem::path dir =
      std::filesystem::path(FLOWTRAIL_SOURCE_ROOT) / ".." / "shared" / "captures";
  std::error_code ec;
  return std::filesystem::is_directory(dir, ec) ? dir.string() : std::string();
}

}  // namespace flowtrail::testing
