#include "session/conn_state.h"

#include "packet/parsed_packet.h"

namespace flowtrail::session {

using S = TcpEndpointState;

ConnState ComputeConnState(const ConnStateInput& in) {
  if (in.protocol == packet::kProtoTcp) {
    const S os = in.orig, rs = in.resp;
    const bool o_inactive = os == S::kInactive || os == S::kPartial;
    const bool r_inactive = rs == S::kInactive || rs == S::kPartial;
    if (rs == S::kReset) {
      if (os == S::kSynSent || os == S::kSynAckSent ||
          (os == S::kReset && in.orig_bytes == 0 && in.resp_bytes == 0)) {
        return ConnState::kREJ;
      }
      return o_inactive ? ConnState::kRSTRH : ConnState::kRSTR;
    }
    if (os == S::kReset) {
      if (!r_inactive) return ConnState::kRSTO;
      return in.orig_syn_then_rst ? ConnState::kRSTOS0 : ConnState::kOTH;
    }
    if (rs == S::kClosed && os == S::kClosed) return ConnState::kSF;
    if (os == S::kClosed) return r_inactive ? ConnState::kSH : ConnState::kS2;
    if (rs == S::kClosed) return o_inactive ? ConnState::kSHR : ConnState::kS3;
    if (os == S::kSynSent && rs == S::kInactive) return ConnState::kS0;
    if (os == S::kEstablished && rs == S::kEstablished) return ConnState::kS1;
    return ConnState::kOTH;
  }
  if (in.protocol == packet::kProtoUdp) {
    if (in.orig_packets > 0) return in.resp_packets > 0 ? ConnState::kSF : ConnState::kS0;
    return in.resp_packets > 0 ? ConnState::kSHR : ConnState::kOTH;
  }
  return ConnState::kOTH;  // ICMP and others, as Zeek logs them
}

}  // namespace flowtrail::session
