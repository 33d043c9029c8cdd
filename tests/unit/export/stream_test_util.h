// Hand-built frames for reader tests: streams the writer would never produce.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "export/record_encoder.h"
#include "flowtrail/v1/session.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "record_gen.h"

namespace flowtrail::exporter::test {

inline std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

inline void AppendVarint(uint64_t v, std::string* out) {
  uint8_t buf[10];
  uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(v, buf);
  out->append(reinterpret_cast<const char*>(buf), static_cast<size_t>(end - buf));
}

inline void AppendFrame(const v1::Frame& frame, std::string* out) {
  const std::string body = frame.SerializeAsString();
  AppendVarint(body.size(), out);
  out->append(body);
}

inline v1::Frame HeaderFrame(uint64_t seq = 0) {
  v1::Frame f;
  f.set_sequence(seq);
  f.mutable_header()->set_schema_version(v1::SCHEMA_VERSION_1);
  f.mutable_header()->set_sensor_id("test");
  return f;
}

inline v1::Frame RecordFrame(uint64_t seq, uint8_t ip_version = 4) {
  v1::Frame f;
  f.set_sequence(seq);
  EncodeRecord(flowtrail::testing::FullRecord(ip_version), f.mutable_record());
  f.mutable_record()->set_session_id(seq);
  return f;
}

inline v1::Frame TrailerFrame(uint64_t seq, uint64_t records) {
  v1::Frame f;
  f.set_sequence(seq);
  f.mutable_trailer()->set_records(records);
  return f;
}

}  // namespace flowtrail::exporter::test
