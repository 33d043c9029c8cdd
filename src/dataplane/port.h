// Ports: every ethdev the EAL offers. A port with enough RX queues and RSS
// gets one queue per worker with symmetric Toeplitz RSS; any other port is
// read whole (all its queues) either by the single worker or by the
// software dispatcher (dispatch.cc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <rte_mempool.h>

#include "absl/status/statusor.h"
#include "dataplane/pcap_devargs.h"

namespace flowtrail::dataplane {

enum class PortMode : uint8_t {
  kDirect,    // one worker polls every queue of the port
  kRss,       // queue i → worker i, symmetric RSS in the NIC
  kDispatch,  // dispatcher polls every queue, hashes, hands to workers
};

struct Port {
  uint16_t id = 0;
  std::string name;    // device name, e.g. net_pcap0 or 0000:3b:00.0
  std::string driver;  // e.g. net_pcap, net_ice
  PortMode mode = PortMode::kDirect;
  uint16_t nb_rxq = 1;
  uint16_t nb_rxd = 0;
  bool is_pcap = false;            // net_pcap (infinite_rx replay, live interface)
  PcapDevargs pcap;                // when is_pcap
  uint64_t capture_packets = 0;    // packets in its rx_pcap files (pre-counted, infinite_rx)
  bool is_file = false;            // capture files read by flowtrail (file_input.h)
  std::vector<std::string> files;  // when is_file, one RX queue each
  bool reta_programmed = false;
  uint64_t rss_hf = 0;
};

const char* PortModeName(PortMode m);

// Lists the ports and decides each one's mode for `workers` workers.
// `file_ports` are the ring ports file_input.h made (all their queues are read).
absl::StatusOr<std::vector<Port>> DiscoverPorts(uint32_t workers,
                                                const std::vector<uint16_t>& file_ports);

// net_pcap allocates an mbuf *after* reading a packet and loses the packet
// when the pool is empty: capture mode polls such ports only with a margin.
inline bool NeedsPoolMargin(const Port& p) { return p.is_pcap; }

// Configures RX queues (and RSS when kRss), starts the port.
absl::Status StartPort(Port& port, rte_mempool* pool, uint32_t workers);

void StopPort(const Port& port);

}  // namespace flowtrail::dataplane
