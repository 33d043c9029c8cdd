// The names of the record's enum values: the proto value names of
// proto/flowtrail/v1/session.proto, in value order (ConfidenceNames()[2] is
// "CONFIDENCE_HIGH"). The one table `flowtrail cat`, the reports, the stats
// JSON and telemetry all print from.
#pragma once

#include <span>
#include <string_view>

#include "record/session_record.h"

namespace flowtrail::record {

inline constexpr std::string_view kConfidenceNames[] = {"CONFIDENCE_LOW", "CONFIDENCE_MEDIUM",
                                                        "CONFIDENCE_HIGH"};
inline constexpr std::string_view kSideNames[] = {"SIDE_NONE", "SIDE_CLIENT", "SIDE_SERVER"};
inline constexpr std::string_view kShutdownKindNames[] = {"SHUTDOWN_NONE", "SHUTDOWN_FIN",
                                                          "SHUTDOWN_RST"};
inline constexpr std::string_view kEndReasonNames[] = {
    "END_REASON_UNSPECIFIED",  "END_REASON_CLOSED",         "END_REASON_RESET",
    "END_REASON_IDLE_TIMEOUT", "END_REASON_ACTIVE_TIMEOUT", "END_REASON_EVICTED",
    "END_REASON_SHUTDOWN",     "END_REASON_END_OF_INPUT",   "END_REASON_REPLACED"};
inline constexpr std::string_view kConnStateNames[] = {"CONN_STATE_UNSPECIFIED",
                                                       "S0",
                                                       "S1",
                                                       "SF",
                                                       "REJ",
                                                       "S2",
                                                       "S3",
                                                       "RSTO",
                                                       "RSTR",
                                                       "RSTOS0",
                                                       "RSTRH",
                                                       "SH",
                                                       "SHR",
                                                       "OTH"};

// names[value], or "" when the value has no name (a newer writer's value).
inline std::string_view NameOf(std::span<const std::string_view> names, int value) {
  return value >= 0 && static_cast<size_t>(value) < names.size() ? names[value]
                                                                 : std::string_view();
}

inline std::string_view ConnStateName(ConnState s) {
  return NameOf(kConnStateNames, static_cast<int>(s));
}
inline std::string_view EndReasonName(EndReason r) {
  return NameOf(kEndReasonNames, static_cast<int>(r));
}

}  // namespace flowtrail::record
