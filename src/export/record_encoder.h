// The one mapping between the plain record the workers produce
// (session::SessionRecord) and the protobuf record of the stream
// (flowtrail::v1::SessionRecord).
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "flowtrail/v1/session.pb.h"
#include "session/session_record.h"

namespace flowtrail::exporter {

// Assigns every field of `out` from `in` except sensor_id (set once per
// stream by the writer), so a reused message needs no Clear(). IP addresses
// are 16 bytes when ip_version is 6, otherwise 4.
void EncodeRecord(const session::SessionRecord& in, v1::SessionRecord* out);

// The reverse, for tools and offline analytics. Fails, naming the field, on
// values the plain record cannot hold (a port above 65535, an unknown enum
// value, an address that is neither 4 nor 16 bytes ...). sensor_id is dropped.
absl::StatusOr<session::SessionRecord> DecodeRecord(const v1::SessionRecord& in);

// Checks what a reader must be able to rely on: ip_version is 4 or 6 and both
// addresses have its length (4 or 16 bytes).
absl::Status ValidateRecord(const v1::SessionRecord& record);

}  // namespace flowtrail::exporter
