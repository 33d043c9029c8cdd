// The one place that turns stream records (flowtrail::v1::SessionRecord) into
// text. Three formats:
//
// classic — the record line of Heberlein's "Analysis of Session Flow
//   Information" §3: its 25 fields in order, separated by two spaces:
//     session_id  server_confidence(0|1|2)  client_ip  client_port  server_ip
//     server_port  transient(0|1)  inbound(0|1)  full_analysis(0|1)
//     client_first_flags  server_first_flags  client_flags  server_flags
//     client_payload_bytes  server_payload_bytes  client_packets
//     server_packets  client_first_seq  server_first_seq  client_last_seq
//     server_last_seq  first_time  last_time  client_fingerprint
//     server_fingerprint
//   TCP flags are six characters UAPRSF with '_' for unset (SYN-ACK is
//   `_A__S_`; ECE and CWR are not shown); a time is `seconds microseconds`
//   with one space inside and the microseconds zero-padded to 6 digits;
//   addresses are dotted quads or RFC 5952 IPv6. Fingerprints are printed as
//   unsigned 32-bit decimals (the paper's sensor printed signed values; ours
//   are uint32 in the schema).
//
// json — one object per line with every field of the schema, zero values
//   included, in field-number order, keyed by the proto field names.
//   Integers (64-bit too) are JSON numbers, bools true/false, addresses text,
//   enums the proto value names as strings ("conn_state":"SF",
//   "end_reason":"END_REASON_CLOSED", "server_confidence":"CONFIDENCE_HIGH",
//   "first_data_sender":"SIDE_CLIENT", "shutdown_kind":"SHUTDOWN_FIN"), an
//   enum value this build does not know as its number in a string ("17").
//   TCP flags are the numbers of the schema.
//
// csv — a header row of the proto field names (same order), then one row
//   per record with the values rendered as in json, without quotes except
//   where RFC 4180 needs them (sensor_id with a comma, quote or newline).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "flowtrail/v1/session.pb.h"

namespace flowtrail::tools {

enum class Format { kClassic, kJson, kCsv };

// "classic", "json" or "csv".
absl::StatusOr<Format> ParseFormat(std::string_view name);

// Each appends one line, '\n' included.
void AppendClassic(const v1::SessionRecord& record, std::string* out);
void AppendJson(const v1::SessionRecord& record, std::string* out);
void AppendCsvHeader(std::string* out);
void AppendCsv(const v1::SessionRecord& record, std::string* out);
void AppendRecord(Format format, const v1::SessionRecord& record, std::string* out);

// Pieces, for tools that print single fields.
// TCP flags as UAPRSF with '_' for unset.
std::string TcpFlags(uint32_t flags);
// 4 bytes: dotted quad; 16: RFC 5952; otherwise (never in a validated
// record) "0x" and the bytes in hex, or "" when empty.
std::string IpText(std::string_view bytes);
// The proto value names, or the number as text when unknown.
std::string ServerConfidenceName(int value);
std::string SideName(int value);
std::string ShutdownKindName(int value);
std::string EndReasonName(int value);
std::string ConnStateName(int value);

}  // namespace flowtrail::tools
