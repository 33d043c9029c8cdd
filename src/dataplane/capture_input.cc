#include "dataplane/capture_input.h"

#include <rte_ethdev.h>

namespace flowtrail::dataplane {

CaptureInput::CaptureInput(const std::vector<Port>& ports) {
  for (const Port& p : ports) {
    port_ids_.push_back(p.id);
    expected_ += p.capture_packets;
  }
}

uint64_t CaptureInput::Consumed() const {
  uint64_t n = 0;
  for (uint16_t id : port_ids_) {
    rte_eth_stats st{};
    if (rte_eth_stats_get(id, &st) == 0) {
      n += st.ipackets + st.ierrors;
    }
  }
  return n;
}

}  // namespace flowtrail::dataplane
