#include "dataplane/pcap_devargs.h"

#include <pcap/pcap.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "capture/capture_file.h"
#include "packet/link_type.h"

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
      d.only_rx_files = d.only_rx_files && !value.empty();
      continue;
    }
    d.only_rx_files = false;
    if (key == "infinite_rx") {
      d.infinite_rx = value == "1";
    } else if (key == "iface" || key == "rx_iface" || key == "rx_iface_in") {
      d.live_interface = true;
    }
  }
  return d;
}

namespace {

// The file vdev `spec` (a --vdev value) describes, if it is one.
bool AsFileVdev(std::string_view spec, FileVdev* out) {
  const size_t comma = spec.find(',');
  if (comma == std::string_view::npos) {
    return false;
  }
  const std::string_view name = spec.substr(0, comma);
  if (name.substr(0, 8) != "net_pcap") {
    return false;
  }
  PcapDevargs d = ParsePcapDevargs(spec.substr(comma + 1));
  if (!d.only_rx_files || d.rx_files.empty()) {
    return false;
  }
  out->name = std::string(name);
  out->files = std::move(d.rx_files);
  return true;
}

}  // namespace

std::vector<FileVdev> TakeFileVdevs(std::vector<std::string>* eal_args) {
  std::vector<FileVdev> taken;
  std::vector<std::string> kept;
  for (size_t i = 0; i < eal_args->size(); ++i) {
    const std::string& a = (*eal_args)[i];
    FileVdev v;
    if (a.rfind("--vdev=", 0) == 0 && AsFileVdev(std::string_view(a).substr(7), &v)) {
      taken.push_back(std::move(v));
      continue;
    }
    if (a == "--vdev" && i + 1 < eal_args->size() && AsFileVdev((*eal_args)[i + 1], &v)) {
      taken.push_back(std::move(v));
      ++i;
      continue;
    }
    kept.push_back(a);
  }
  *eal_args = std::move(kept);
  return taken;
}

absl::Status CheckCaptureFile(const std::string& path) {
  absl::StatusOr<std::vector<uint16_t>> types = capture::ReadLinkTypes(path);
  if (!types.ok()) {
    return types.status();
  }
  for (uint16_t t : *types) {
    if (!packet::IsSupportedLinkType(t)) {
      const std::string_view name = packet::LinkTypeName(t);
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": link type ", t, name.empty() ? "" : absl::StrCat(" (", std::string(name), ")"),
          " is not supported; flowtrail reads EN10MB, LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6, "
          "NULL and LOOP"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<PcapShape> ReadPcapShape(const std::string& path) {
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  if (p == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", err));
  }
  PcapShape shape;
  pcap_pkthdr* hdr = nullptr;
  const u_char* data = nullptr;
  // net_pcap reads with pcap_next(), which stops at the first error too.
  while (pcap_next_ex(p, &hdr, &data) == 1) {
    ++shape.packets;
    shape.max_caplen = std::max<uint32_t>(shape.max_caplen, hdr->caplen);
  }
  pcap_close(p);
  return shape;
}

}  // namespace flowtrail::dataplane
