// End-of-input detection for capture files. net_pcap is silent at the end of
// a file (its rx burst just returns 0 forever), so the sensor pre-counts each
// rx_pcap file with libpcap at start and declares the end once the ports'
// counters show that many frames consumed (delivered + errors). Capture mode
// reads only while the mbuf pool can take a burst, so none is lost to
// rx_nombuf on the way.
#pragma once

#include <cstdint>
#include <vector>

#include "dataplane/port.h"

namespace flowtrail::dataplane {

class CaptureInput {
 public:
  explicit CaptureInput(const std::vector<Port>& ports);

  uint64_t expected() const { return expected_; }
  // Frames the ports have taken from their files so far.
  uint64_t Consumed() const;

 private:
  std::vector<uint16_t> port_ids_;
  uint64_t expected_ = 0;
};

}  // namespace flowtrail::dataplane
