#include "dataplane/port.h"

#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_ethdev.h>

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"

namespace flowtrail::dataplane {
namespace {

constexpr uint16_t kNicRxDescriptors = 4096;
constexpr uint32_t kJumboMtu = 9000;  // deep rings absorb bursts on multi-gigabit links

// Symmetric Toeplitz key: a 16-bit period makes hash(src,dst) == hash(dst,src)
// (Woo & Park 2012; verified in notes/dpdk_design.md §3.1).
constexpr std::array<uint8_t, 52> MakeSymmetricKey() {
  std::array<uint8_t, 52> k{};
  for (size_t i = 0; i < k.size(); ++i) {
    k[i] = (i % 2 == 0) ? 0x6d : 0x5a;
  }
  return k;
}
std::array<uint8_t, 52> g_rss_key = MakeSymmetricKey();

std::string DevArgs(const rte_eth_dev_info& info) {
  if (info.device == nullptr) {
    return "";
  }
  const rte_devargs* da = rte_dev_devargs(info.device);
  if (da == nullptr || da->args == nullptr) {
    return "";
  }
  return da->args;
}

}  // namespace

const char* PortModeName(PortMode m) {
  switch (m) {
    case PortMode::kDirect:
      return "direct";
    case PortMode::kRss:
      return "rss";
    case PortMode::kDispatch:
      return "dispatch";
  }
  return "?";
}

absl::StatusOr<std::vector<Port>> DiscoverPorts(uint32_t workers,
                                                const std::vector<uint16_t>& file_ports) {
  std::vector<Port> ports;
  uint16_t id;
  RTE_ETH_FOREACH_DEV(id) {
    rte_eth_dev_info info{};
    if (int rc = rte_eth_dev_info_get(id, &info); rc != 0) {
      return absl::InternalError(absl::StrCat("port ", id, ": rte_eth_dev_info_get: ", rc));
    }
    Port p;
    p.id = id;
    char name[RTE_ETH_NAME_MAX_LEN] = {};
    rte_eth_dev_get_name_by_port(id, name);
    p.name = name;
    p.driver = info.driver_name != nullptr ? info.driver_name : "";
    p.is_pcap = p.driver == "net_pcap";
    if (p.is_pcap) {
      p.pcap = ParsePcapDevargs(DevArgs(info));
    }
    p.is_file = std::find(file_ports.begin(), file_ports.end(), id) != file_ports.end();
    if (info.max_rx_queues == 0) {
      return absl::FailedPreconditionError(absl::StrCat("port ", p.name, " has no RX queue"));
    }
    // A pcap vdev has one queue per rx_pcap stream, all of which must be read;
    // any other port without usable RSS is read through queue 0.
    const uint16_t whole_port_queues = p.is_pcap || p.is_file ? info.max_rx_queues : 1;
    if (workers > 1 && info.max_rx_queues >= workers && info.flow_type_rss_offloads != 0) {
      p.mode = PortMode::kRss;
      p.nb_rxq = static_cast<uint16_t>(workers);
    } else {
      p.mode = workers == 1 ? PortMode::kDirect : PortMode::kDispatch;
      p.nb_rxq = whole_port_queues;
    }
    ports.push_back(std::move(p));
  }
  if (ports.empty()) {
    return absl::FailedPreconditionError(
        "no ports: give a capture with --vdev=net_pcap0,rx_pcap=FILE or bind a NIC to "
        "vfio-pci (see deploy/README.md)");
  }
  return ports;
}

absl::Status StartPort(Port& p, rte_mempool* pool, uint32_t workers) {
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(p.id, &info); rc != 0) {
    return absl::InternalError(absl::StrCat("port ", p.name, ": rte_eth_dev_info_get: ", rc));
  }
  rte_eth_conf conf{};
  if (p.mode == PortMode::kRss) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = g_rss_key.data();
    // net_null reports 0; NICs report 40 or 52.
    conf.rx_adv_conf.rss_conf.rss_key_len =
        info.hash_key_size == 0 ? 40 : std::min<uint8_t>(info.hash_key_size, 52);
    // Addresses only, like the software dispatcher (flow_hash.h): FTP data
    // connections, later fragments and ICMP errors meet their session's worker.
    const uint64_t wanted = RTE_ETH_RSS_IP;
    p.rss_hf = wanted & info.flow_type_rss_offloads;
    conf.rx_adv_conf.rss_conf.rss_hf = p.rss_hf;
  }
  if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER) {
    // A monitor must see jumbo frames too: accept up to 9000-byte MTU as mbuf
    // chains (the parser reads the headers in the first segment).
    conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
    uint32_t mtu = std::min<uint32_t>(kJumboMtu, info.max_mtu);
    const uint32_t overhead = RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN + 2 * 4;  // + two VLAN tags
    if (info.max_rx_pktlen > overhead) {
      mtu = std::min(mtu, info.max_rx_pktlen - overhead);
    }
    if (mtu > RTE_ETHER_MTU) {
      conf.rxmode.mtu = mtu;
    }
  }
  const uint16_t nb_txq = info.max_tx_queues > 0 ? 1 : 0;
  if (int rc = rte_eth_dev_configure(p.id, p.nb_rxq, nb_txq, &conf); rc != 0) {
    return absl::InternalError(absl::StrFormat("port %s: configure %u RX queues (%s): %s", p.name,
                                               p.nb_rxq, PortModeName(p.mode), rte_strerror(-rc)));
  }
  uint16_t nb_rxd = kNicRxDescriptors;
  uint16_t nb_txd = 512;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(p.id, &nb_rxd, &nb_txd); rc != 0) {
    return absl::InternalError(absl::StrCat("port ", p.name, ": descriptor counts: ", rc));
  }
  p.nb_rxd = nb_rxd;
  const int socket = rte_eth_dev_socket_id(p.id);
  const unsigned sock = socket < 0 ? SOCKET_ID_ANY : static_cast<unsigned>(socket);
  for (uint16_t q = 0; q < p.nb_rxq; ++q) {
    rte_eth_rxconf rxconf = info.default_rxconf;
    rxconf.offloads = conf.rxmode.offloads;
    if (int rc = rte_eth_rx_queue_setup(p.id, q, nb_rxd, sock, &rxconf, pool); rc != 0) {
      return absl::InternalError(absl::StrFormat(
          "port %s: RX queue %u setup: %s%s", p.name, q, rte_strerror(-rc),
          p.pcap.infinite_rx ? " (infinite_rx needs the whole file in mbufs: raise --mbufs and -m)"
                             : ""));
    }
  }
  if (nb_txq > 0) {
    if (int rc = rte_eth_tx_queue_setup(p.id, 0, nb_txd, sock, nullptr); rc != 0) {
      return absl::InternalError(
          absl::StrCat("port ", p.name, ": TX queue setup: ", rte_strerror(-rc)));
    }
  }
  if (int rc = rte_eth_dev_start(p.id); rc != 0) {
    return absl::InternalError(absl::StrCat("port ", p.name, ": start: ", rte_strerror(-rc)));
  }
  rte_eth_promiscuous_enable(p.id);  // a monitor sees everything; -ENOTSUP is fine (vdevs)

  if (p.mode == PortMode::kRss && info.reta_size > 0) {
    // Round-robin RETA over the worker queues.
    std::vector<rte_eth_rss_reta_entry64> reta((info.reta_size + RTE_ETH_RETA_GROUP_SIZE - 1) /
                                               RTE_ETH_RETA_GROUP_SIZE);
    for (uint16_t i = 0; i < info.reta_size; ++i) {
      auto& e = reta[i / RTE_ETH_RETA_GROUP_SIZE];
      e.mask |= 1ull << (i % RTE_ETH_RETA_GROUP_SIZE);
      e.reta[i % RTE_ETH_RETA_GROUP_SIZE] = static_cast<uint16_t>(i % workers);
    }
    int rc = rte_eth_dev_rss_reta_update(p.id, reta.data(), info.reta_size);
    p.reta_programmed = rc == 0;
    if (rc != 0) {
      Log(LogLevel::kWarning,
          "flowtrail: port %s: RETA update failed (%s); using the driver's default", p.name.c_str(),
          rte_strerror(-rc));
    }
  }
  return absl::OkStatus();
}

void StopPort(const Port& p) {
  rte_eth_dev_stop(p.id);
  rte_eth_dev_close(p.id);
}

}  // namespace flowtrail::dataplane
