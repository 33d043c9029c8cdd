// The one mapping between the plain record the workers produce
// (record::SessionRecord) and the protobuf record of the stream
// (flowtrail::v1::SessionRecord).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "flowtrail/v1/session.pb.h"
#include "record/session_record.h"

namespace flowtrail::exporter {

// Assigns every field of `out` from `in` except sensor_id (set once per
// stream by the writer), so a reused message needs no Clear(). IP addresses
// are 16 bytes when ip_version is 6, otherwise 4.
void EncodeRecord(const record::SessionRecord& in, v1::SessionRecord* out);

// The exporter's fast path: writes the wire form of the v1::SessionRecord
// that EncodeRecord would fill, byte for byte what protobuf serialises
// (fields in number order, zero values omitted), without building a message.
// `sensor_field` is the sensor_id field already encoded (tag, length, bytes;
// empty for an empty id, see EncodeSensorIdField), copied at its place between
// fields 38 and 40. `out` needs kMaxRecordWireBytes + sensor_field.size()
// bytes; returns the end of what was written.
uint8_t* EncodeRecordWire(const record::SessionRecord& in, std::span<const uint8_t> sensor_field,
                          uint8_t* out);

// Upper bound of EncodeRecordWire's output without the sensor_id field.
inline constexpr size_t kMaxRecordWireBytes = 320;

// The sensor_id field as EncodeRecordWire takes it: nothing for an empty id
// (proto3 omits it), else its tag, length and bytes.
std::string EncodeSensorIdField(std::string_view sensor_id);

// Largest 802.1Q / 802.1ad VLAN id: the VID is 12 bits.
inline constexpr uint32_t kMaxVlanId = 4095;

// Checks what every reader relies on, the ranges of session.proto's fields:
// ip_version is 4 or 6 and both addresses have its length (4 or 16 bytes);
// every enum holds one of its schema values; every integer fits the field of
// the plain record (session_record.h) it came from (ports, icmp_id,
// input_port, worker_id and first-data lengths 16 bits, protocol, TCP flags
// and vlan_count 8 bits), VLAN ids are at most kMaxVlanId and sensor_id at
// most kMaxSensorIdBytes. The error names the first bad field and its value
// ("client_port = 4294967295 is out of range (max 65535)").
absl::Status ValidateRecord(const v1::SessionRecord& record);

// The reverse of EncodeRecord, for tools and offline analytics: fails as
// ValidateRecord does. sensor_id is dropped.
absl::StatusOr<record::SessionRecord> DecodeRecord(const v1::SessionRecord& in);

}  // namespace flowtrail::exporter
