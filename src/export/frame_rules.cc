#include "export/frame_rules.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "export/record_encoder.h"
#include "export/stream_format.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/wire_format_lite.h"

namespace flowtrail::exporter {

bool ParseLengthPrefix(const uint8_t* p, size_t n, uint64_t* len, size_t* prefix) {
  uint64_t v = 0;
  const size_t limit = std::min(n, kMaxVarintBytes);
  for (size_t i = 0; i < limit; ++i) {
    v |= static_cast<uint64_t>(p[i] & 0x7f) << (7 * i);
    if ((p[i] & 0x80) == 0) {
      *len = v;
      *prefix = i + 1;
      return true;
    }
  }
  return false;
}

const char* FrameBodyName(v1::Frame::BodyCase body) {
  switch (body) {
    case v1::Frame::kHeader:
      return "header";
    case v1::Frame::kRecord:
      return "record";
    case v1::Frame::kTrailer:
      return "trailer";
    case v1::Frame::kSnapshot:
      return "snapshot";
    case v1::Frame::BODY_NOT_SET:
      break;
  }
  return "frame without a body";
}

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;

// Frames up to this size are not walked: their parse cannot cost much (a
// few thousand objects at most), and every record frame is this small.
constexpr size_t kWalkFramesOver = 4096;

// Deeper than the parser's recursion limit (100), so the walk refuses no
// nesting the parse accepts; the parse refuses what lies between.
constexpr int kMaxWalkDepth = 128;

// What the walk needs of each field of each message type reachable from
// Frame, by field number, read once from the descriptors (asking them per
// field would make the walk as slow as the parse).
struct FieldPlan {
  enum Kind : uint8_t { kUnknown, kScalar, kString, kMessage };
  Kind kind = kUnknown;
  WireFormatLite::WireType wire = WireFormatLite::WIRETYPE_VARINT;  // as written unpacked
  bool repeated = false;
  bool packable = false;
  bool in_oneof = false;
  uint64_t bit = 0;         // a singular sub-message's bit in the presence mask
  uint64_t oneof_bits = 0;  // the bits of its oneof's members
  int message = -1;         // the sub-message's plan
};
using MessagePlan = std::vector<FieldPlan>;  // by field number

class Schema {
 public:
  static const Schema& Get() {
    static const Schema* schema = new Schema(v1::Frame::descriptor());
    return *schema;
  }
  const MessagePlan& plan(int i) const { return plans_[i]; }

 private:
  explicit Schema(const Descriptor* frame) { Add(frame); }

  int Add(const Descriptor* d) {
    for (size_t i = 0; i < types_.size(); ++i) {
      if (types_[i] == d) return static_cast<int>(i);
    }
    const int id = static_cast<int>(types_.size());
    types_.push_back(d);
    plans_.emplace_back();
    int max_number = 0;
    for (int i = 0; i < d->field_count(); ++i) {
      max_number = std::max(max_number, d->field(i)->number());
    }
    MessagePlan plan(static_cast<size_t>(max_number) + 1);
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      FieldPlan& p = plan[static_cast<size_t>(f->number())];
      p.repeated = f->is_repeated();
      p.packable = f->is_packable();
      p.wire =
          WireFormatLite::WireTypeForFieldType(static_cast<WireFormatLite::FieldType>(f->type()));
      p.bit = f->index() < 64 ? uint64_t{1} << f->index() : 0;  // 0: counted at every repeat
      if (const auto* o = f->containing_oneof(); o != nullptr) {
        p.in_oneof = true;
        for (int j = 0; j < o->field_count(); ++j) {
          if (o->field(j)->index() < 64) p.oneof_bits |= uint64_t{1} << o->field(j)->index();
        }
      }
      switch (f->type()) {
        case FieldDescriptor::TYPE_MESSAGE:
          p.kind = FieldPlan::kMessage;
          p.message = Add(f->message_type());
          break;
        case FieldDescriptor::TYPE_GROUP:  // none in proto3: walked as an unknown field
          p.kind = FieldPlan::kUnknown;
          break;
        case FieldDescriptor::TYPE_STRING:
        case FieldDescriptor::TYPE_BYTES:
          p.kind = FieldPlan::kString;
          break;
        default:
          p.kind = FieldPlan::kScalar;
          break;
      }
    }
    plans_[static_cast<size_t>(id)] = std::move(plan);
    return id;
  }

  std::vector<const Descriptor*> types_;
  std::vector<MessagePlan> plans_;
};

// Counts what a parse would create (FrameShape::messages), up to a limit:
// a body past it is refused, so it need not be walked to its end. Reads the
// bytes itself: CodedInputStream and WireFormatLite::SkipField per field
// made the walk nearly as slow as the parse.
class Walk {
 public:
  explicit Walk(uint64_t limit) : limit_(limit) {}

  bool Frame(std::span<const uint8_t> body, FrameShape* shape) {
    const uint8_t* p = body.data();
    if (!Message(0, &p, body.data() + body.size(), 0, shape)) return false;
    shape->messages = messages_;
    return true;
  }

 private:
  bool Count() { return ++messages_ <= limit_; }
  bool Over() const { return messages_ > limit_; }

  // At most 10 bytes, ending before `end`.
  static bool Varint(const uint8_t** p, const uint8_t* end, uint64_t* v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
      const uint8_t b = *(*p)++;
      r |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) {
        *v = r;
        return true;
      }
    }
    return false;
  }

  // A tag as the parser takes it: at most 5 bytes, bits past 32 dropped, a
  // field number above 0.
  static bool Tag(const uint8_t** p, const uint8_t* end, uint32_t* tag) {
    uint32_t r = 0;
    for (int i = 0; i < 5 && *p < end; ++i) {
      const uint8_t b = *(*p)++;
      r |= static_cast<uint32_t>(b & 0x7f) << (7 * i);
      if (b < 0x80) {
        *tag = r;
        return (r >> 3) != 0;
      }
    }
    return false;
  }

  // A field's value other than a group's.
  static bool Skip(WireFormatLite::WireType wire, const uint8_t** p, const uint8_t* end) {
    uint64_t v = 0;
    switch (wire) {
      case WireFormatLite::WIRETYPE_VARINT:
        return Varint(p, end, &v);
      case WireFormatLite::WIRETYPE_FIXED64:
        v = 8;
        break;
      case WireFormatLite::WIRETYPE_FIXED32:
        v = 4;
        break;
      case WireFormatLite::WIRETYPE_LENGTH_DELIMITED:
        if (!Varint(p, end, &v)) return false;
        break;
      default:
        return false;
    }
    if (v > static_cast<uint64_t>(end - *p)) return false;
    *p += v;
    return true;
  }

  // The fields of one message in [*p, end); `frame` (the top level only)
  // gets the sequence and the body. Stops (true) once the count passes the
  // limit.
  bool Message(int type, const uint8_t** p, const uint8_t* end, int depth, FrameShape* frame) {
    const MessagePlan& plan = schema_.plan(type);
    uint64_t present = 0;  // singular sub-messages seen: a repeat merges into them
    while (*p < end) {
      uint32_t tag = 0;
      if (!Tag(p, end, &tag)) return false;
      const auto wire = WireFormatLite::GetTagWireType(tag);
      if (wire == WireFormatLite::WIRETYPE_END_GROUP) return false;  // outside a group
      const size_t number = static_cast<size_t>(WireFormatLite::GetTagFieldNumber(tag));
      const FieldPlan* f = number < plan.size() ? &plan[number] : nullptr;
      // A field of another wire type than its own is an unknown field to
      // the parser (packed and unpacked are both the repeated field).
      if (f == nullptr || f->kind == FieldPlan::kUnknown ||
          (wire != f->wire &&
           !(f->packable && wire == WireFormatLite::WIRETYPE_LENGTH_DELIMITED))) {
        if (!Unknown(tag, p, end, depth)) return false;
        if (Over()) return true;
        continue;
      }
      if (frame != nullptr) {
        if (number == v1::Frame::kSequenceFieldNumber) {
          if (!Varint(p, end, &frame->sequence)) return false;
          continue;
        }
        if (f->in_oneof) frame->body = static_cast<v1::Frame::BodyCase>(number);
      }
      if (f->kind != FieldPlan::kMessage) {
        // Each string is an object; a packed run of scalars is one array.
        if (f->kind == FieldPlan::kString && f->repeated && !Count()) return true;
        if (!Skip(wire, p, end)) return false;
        continue;
      }
      uint64_t size = 0;
      if (!Varint(p, end, &size) || size > static_cast<uint64_t>(end - *p)) return false;
      if ((f->repeated || (present & f->bit) == 0) && !Count()) return true;
      // Another member of a oneof replaces the one set.
      if (!f->repeated) present = (present & ~f->oneof_bits) | f->bit;
      if (depth + 1 > kMaxWalkDepth) return false;
      const uint8_t* sub_end = *p + size;
      if (!Message(f->message, p, sub_end, depth + 1, nullptr)) return false;
      if (Over()) return true;
    }
    return true;
  }

  // An unknown field: the parse keeps each one, and a group's fields.
  bool Unknown(uint32_t tag, const uint8_t** p, const uint8_t* end, int depth) {
    if (!Count()) return true;
    const auto wire = WireFormatLite::GetTagWireType(tag);
    if (wire != WireFormatLite::WIRETYPE_START_GROUP) return Skip(wire, p, end);
    if (depth + 1 > kMaxWalkDepth) return false;
    for (;;) {
      uint32_t t = 0;
      if (!Tag(p, end, &t)) return false;  // the group does not end
      if (WireFormatLite::GetTagWireType(t) == WireFormatLite::WIRETYPE_END_GROUP) {
        return WireFormatLite::GetTagFieldNumber(t) == WireFormatLite::GetTagFieldNumber(tag);
      }
      if (!Unknown(t, p, end, depth + 1)) return false;
      if (Over()) return true;
    }
  }

  const Schema& schema_ = Schema::Get();
  uint64_t limit_;
  uint64_t messages_ = 0;
};

}  // namespace

bool WalkFrame(std::span<const uint8_t> body, uint64_t max_messages, FrameShape* shape) {
  *shape = FrameShape{};
  if (body.size() > static_cast<size_t>(INT32_MAX)) return false;
  Walk w(max_messages);
  return w.Frame(body, shape);
}

absl::Status SegmentRules::CheckBeforeParse(std::span<const uint8_t> body, size_t max_frame_bytes) {
  const size_t len = body.size();
  if (len <= std::min(kWalkFramesOver, max_frame_bytes)) return absl::OkStatus();
  const uint64_t allowed = len / kMinBytesPerMessage;
  FrameShape shape;
  if (!WalkFrame(body, allowed, &shape)) {
    // What the parse would say.
    return absl::DataLossError(
        absl::StrCat("frame of ", len, " bytes is not a valid flowtrail.v1.Frame"));
  }
  if (shape.messages > allowed) {
    const char* what = shape.body == v1::Frame::BODY_NOT_SET ? "body" : FrameBodyName(shape.body);
    return absl::DataLossError(
        absl::StrCat("frame (sequence ", shape.sequence, "): its ", what, " would hold more than ",
                     allowed, " messages, the most a frame of ", len, " bytes may (one per ",
                     kMinBytesPerMessage, " bytes)"));
  }
  if (len > max_frame_bytes && shape.body != v1::Frame::kSnapshot) {
    return absl::DataLossError(
        absl::StrCat("frame length ", len, " exceeds the limit of ", max_frame_bytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status SegmentRules::Check(const v1::Frame& frame) {
  const uint64_t seq = frame.sequence();
  const v1::Frame::BodyCase body = frame.body_case();
  const bool unknown_body = body == v1::Frame::BODY_NOT_SET &&
                            frame.GetReflection()->GetUnknownFields(frame).field_count() > 0;
  if (body == v1::Frame::BODY_NOT_SET && !unknown_body) {
    return absl::DataLossError(absl::StrCat("frame (sequence ", seq, ") has no body"));
  }
  if (!has_header_) {
    if (unknown_body) {
      return absl::DataLossError(
          "stream starts with a frame of a type this reader does not know, not a stream header");
    }
    if (body != v1::Frame::kHeader) {
      return absl::DataLossError(absl::StrCat("stream starts with a ", FrameBodyName(body),
                                              " frame, not a stream header"));
    }
    // A segment's header (revision 3) names its first data frame; an older
    // stream starts at 1.
    const uint64_t first =
        frame.header().first_sequence() == 0 ? 1 : frame.header().first_sequence();
    if (seq != first - 1) {
      return absl::DataLossError(absl::StrCat("stream header has sequence ", seq, ", expected ",
                                              first - 1, " (its first_sequence is ", first, ")"));
    }
    if (frame.header().schema_version() != v1::SCHEMA_VERSION_1) {
      return absl::DataLossError(absl::StrCat("unsupported schema version ",
                                              frame.header().schema_version(),
                                              " (this reader knows version 1)"));
    }
    has_header_ = true;
    first_sequence_ = first;
    next_sequence_ = first;
    return absl::OkStatus();
  }
  if (seq != next_sequence_) {
    return absl::DataLossError(absl::StrCat("frame sequence ", seq, ", expected ", next_sequence_,
                                            " (frames lost, duplicated or reordered)"));
  }
  // A data frame numbered 2^64 - 1 has no sequence after it: a run's
  // intervals [first, end) would wrap to nothing.
  if (seq == UINT64_MAX && body != v1::Frame::kHeader && body != v1::Frame::kTrailer) {
    return absl::DataLossError(
        absl::StrCat("frame sequence ", seq, " overflows: no sequence number follows it"));
  }
  switch (body) {
    case v1::Frame::kHeader:
      return absl::DataLossError(absl::StrCat("second stream header (sequence ", seq, ")"));
    case v1::Frame::kRecord:
      if (absl::Status s = ValidateRecord(frame.record()); !s.ok()) {
        return absl::DataLossError(absl::StrCat("record (sequence ", seq, "): ", s.message()));
      }
      ++records_;
      break;
    case v1::Frame::kTrailer:
      if (frame.trailer().records() != records_) {
        return absl::DataLossError(absl::StrCat("trailer counts ", frame.trailer().records(),
                                                " records, the stream has ", records_));
      }
      if (frame.trailer().snapshots() != snapshots_) {
        return absl::DataLossError(absl::StrCat("trailer counts ", frame.trailer().snapshots(),
                                                " snapshots, the stream has ", snapshots_));
      }
      has_trailer_ = true;
      break;
    case v1::Frame::kSnapshot:
      ++snapshots_;
      break;
    case v1::Frame::BODY_NOT_SET:
      ++frames_skipped_;
      break;
  }
  ++next_sequence_;
  return absl::OkStatus();
}

}  // namespace flowtrail::exporter
