// What a net_pcap vdev reads, from its device arguments (the part after the
// name in --vdev=net_pcap0,rx_pcap=a.pcap,...), and which of those vdevs
// flowtrail serves itself (file_input.h). DPDK-free so it is unit-tested.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace flowtrail::dataplane {

struct PcapDevargs {
  std::vector<std::string> rx_files;  // rx_pcap=FILE, one RX queue each
  bool infinite_rx = false;           // infinite_rx=1: replay from memory forever
  bool live_interface = false;        // iface= / rx_iface= / rx_iface_in=
  bool only_rx_files = true;          // every key is rx_pcap= with a file name
};

PcapDevargs ParsePcapDevargs(std::string_view args);

// A net_pcap vdev that only reads capture files: flowtrail reads those files
// itself (file_input.h) instead of leaving them to net_pcap.
struct FileVdev {
  std::string name;                // e.g. net_pcap0
  std::vector<std::string> files;  // its rx_pcap= files, one RX queue each
};

// Removes from `eal_args` (argv before "--", program name first) every
// `--vdev=net_pcapN,rx_pcap=F[,rx_pcap=G...]` (or `--vdev net_pcapN,...`)
// whose only keys are rx_pcap, and returns them in order. Other vdevs
// (infinite_rx, iface, tx_pcap, other drivers) stay for the EAL.
std::vector<FileVdev> TakeFileVdevs(std::vector<std::string>* eal_args);

// Refuses, naming the file and the link type, a capture flowtrail cannot
// read: not pcap/pcapng, unreadable, or declaring an unsupported link type.
absl::Status CheckCaptureFile(const std::string& path);

// Frames in a capture file and the longest one, read with libpcap as
// net_pcap will read them (it sizes replay pools and their mbufs).
struct PcapShape {
  uint64_t packets = 0;
  uint32_t max_caplen = 0;
};
absl::StatusOr<PcapShape> ReadPcapShape(const std::string& path);

}  // namespace flowtrail::dataplane
