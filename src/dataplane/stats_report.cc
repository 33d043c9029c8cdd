#include "dataplane/stats_report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "packet/link_type.h"

namespace flowtrail::dataplane {
namespace {

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string LinkTypesText(const std::vector<uint16_t>& types) {
  std::string out;
  for (uint16_t t : types) {
    const std::string_view name = packet::LinkTypeName(t);
    absl::StrAppend(&out, out.empty() ? "" : ",",
                    name.empty() ? absl::StrCat(t) : std::string(name));
  }
  return out.empty() ? "none" : out;
}

uint64_t Sum(const Snapshot& s, uint64_t WorkerSnapshot::*field) {
  uint64_t n = 0;
  for (const WorkerSnapshot& w : s.workers) {
    n += w.*field;
  }
  return n;
}

}  // namespace

uint64_t WorkerSnapshot::OfClass(packet::ParseClass c) const {
  uint64_t n = 0;
  for (size_t r = 1; r < packet::kParseResultCount; ++r) {
    if (packet::ParseResultClass(static_cast<packet::ParseResult>(r)) == c) {
      n += by_result[r];
    }
  }
  return n;
}

uint64_t Snapshot::OfClass(packet::ParseClass c) const {
  uint64_t n = 0;
  for (const WorkerSnapshot& w : workers) {
    n += w.OfClass(c);
  }
  return n;
}

// Records never wait out a full worker ring (they stay in the tracker's
// queue, whose overflow is tracker_records_dropped); only the dispatcher
// drops packets, in live mode.
uint64_t Snapshot::RingDrops() const { return dispatcher ? dispatcher->ring_drops : 0; }

uint64_t Snapshot::PortRx() const {
  uint64_t n = 0;
  for (const PortSnapshot& p : ports) {
    n += p.rx;
  }
  return n;
}

std::string_view InputEndName(capture::ReadStatus end) {
  switch (end) {
    case capture::ReadStatus::kFrame:
      return "reading";
    case capture::ReadStatus::kEnd:
      return "end_of_file";
    case capture::ReadStatus::kTruncated:
      return "truncated";
    case capture::ReadStatus::kCorrupt:
      return "corrupt";
  }
  return "unknown";
}

std::string StatusLine(const Snapshot& now, const Snapshot& before) {
  const double dt = now.elapsed_s - before.elapsed_s;
  const uint64_t rx = now.PortRx();
  const double pps = dt > 0 ? static_cast<double>(rx - before.PortRx()) / dt : 0;
  uint64_t imissed = 0, nombuf = 0;
  for (const PortSnapshot& p : now.ports) {
    imissed += p.imissed;
    nombuf += p.nombuf;
  }
  std::string line = absl::StrFormat(
      "flowtrail: %.1fs rx=%d (%.0f pps) imissed=%d nombuf=%d bad=%d sessions active=%d "
      "created=%d ended=%d evicted=%d records=%d ring_drops=%d",
      now.elapsed_s, rx, pps, imissed, nombuf, now.OfClass(packet::ParseClass::kMalformed),
      Sum(now, &WorkerSnapshot::sessions_active), Sum(now, &WorkerSnapshot::sessions_created),
      Sum(now, &WorkerSnapshot::sessions_ended), Sum(now, &WorkerSnapshot::sessions_evicted),
      now.records_written, now.RingDrops());
  for (const CollectorSnapshot& c : now.collectors) {
    absl::StrAppendFormat(&line, " collector %s %s lag=%d queued=%d spilled=%d dropped=%d", c.name,
                          c.connected ? "up" : "down", c.lag_records, c.queued_bytes,
                          c.spilled_bytes, c.records_dropped);
  }
  return line;
}

namespace {

std::string CollectorText(const CollectorSnapshot& c) {
  return absl::StrFormat(
      "  collector %s: %s, connects=%d reconnects=%d connect_failures=%d tls_failures=%d "
      "bad_acks=%d refusals=%d; sent %d records (%d frames, %d bytes), acked %d (sequence %d), "
      "lag %d; queued %d bytes, spilled %d bytes (%d in all), spill errors %d; records dropped "
      "%d (%d frames), undelivered %d\n",
      c.name, c.connected ? "connected" : "not connected", c.connects, c.reconnects,
      c.connect_failures, c.tls_failures, c.bad_acks, c.refusals, c.records_sent, c.frames_sent,
      c.bytes_sent, c.records_acked, c.acked_sequence, c.lag_records, c.queued_bytes,
      c.spilled_bytes, c.spilled_total, c.spill_errors, c.records_dropped, c.frames_dropped,
      c.records_undelivered);
}

std::string CollectorJson(const CollectorSnapshot& c) {
  return absl::StrCat(
      "{\"collector\":", JsonString(c.name), ",\"connected\":", c.connected ? "true" : "false",
      ",\"connects\":", c.connects, ",\"reconnects\":", c.reconnects,
      ",\"connect_failures\":", c.connect_failures, ",\"tls_failures\":", c.tls_failures,
      ",\"bad_acks\":", c.bad_acks, ",\"refusals\":", c.refusals, ",\"bytes_sent\":", c.bytes_sent,
      ",\"frames_sent\":", c.frames_sent, ",\"records_sent\":", c.records_sent,
      ",\"acked_sequence\":", c.acked_sequence, ",\"records_acked\":", c.records_acked,
      ",\"lag_records\":", c.lag_records, ",\"queued_bytes\":", c.queued_bytes,
      ",\"spilled_bytes\":", c.spilled_bytes, ",\"spilled_total_bytes\":", c.spilled_total,
      ",\"spill_errors\":", c.spill_errors, ",\"records_dropped\":", c.records_dropped,
      ",\"frames_dropped\":", c.frames_dropped, ",\"records_undelivered\":", c.records_undelivered,
      "}");
}

}  // namespace

std::string SummaryText(const Snapshot& s) {
  std::string out =
      absl::StrFormat("flowtrail-sensor summary (%s, %s mode, %.3f s)\n  lcores: %s\n", s.end,
                      s.capture ? "capture" : "live", s.elapsed_s, s.lcore_plan);
  for (const PortSnapshot& p : s.ports) {
    absl::StrAppendFormat(&out,
                          "  port %d %s (%s, %s, %d queues): rx=%d imissed=%d nombuf=%d "
                          "ierrors=%d\n",
                          p.id, p.name, p.driver, p.mode, p.queue_rx.size(), p.rx, p.imissed,
                          p.nombuf, p.ierrors);
  }
  for (const InputSnapshot& in : s.inputs) {
    absl::StrAppendFormat(&out, "  input %s (%s, link type %s): %d frames, %s", in.path, in.format,
                          LinkTypesText(in.link_types), in.frames, InputEndName(in.end));
    if (in.end == capture::ReadStatus::kTruncated || in.end == capture::ReadStatus::kCorrupt) {
      absl::StrAppendFormat(&out, " at byte %d: %s", in.end_offset, in.error);
    }
    absl::StrAppendFormat(&out, "; clock outliers=%d backwards=%d jumps=%d\n", in.clock_outliers,
                          in.clock_backwards, in.clock_jumps);
  }
  if (s.dispatcher) {
    absl::StrAppendFormat(&out,
                          "  dispatcher (lcore %d%s): packets=%d unparsed=%d ring_drops=%d "
                          "backpressure_polls=%d pool_waits=%d\n",
                          s.dispatcher->lcore, s.dispatcher->on_main ? ", on main" : "",
                          s.dispatcher->packets, s.dispatcher->unparsed, s.dispatcher->ring_drops,
                          s.dispatcher->backpressure, s.dispatcher->pool_waits);
  }
  for (size_t i = 0; i < s.workers.size(); ++i) {
    const WorkerSnapshot& w = s.workers[i];
    absl::StrAppendFormat(
        &out,
        "  worker %d (lcore %d): packets=%d bad=%d non_ip=%d later_fragments=%d "
        "snapped=%d sessions created=%d ended=%d evicted=%d active=%d "
        "interim=%d records_out=%d tracker_drops=%d\n",
        i, w.lcore, w.packets, w.bad_packets(), w.OfClass(packet::ParseClass::kNonIp),
        w.OfClass(packet::ParseClass::kLaterFragment), w.snapped, w.sessions_created,
        w.sessions_ended, w.sessions_evicted, w.sessions_active, w.interim_records, w.records_out,
        w.tracker_records_dropped);
    for (size_t r = 1; r < packet::kParseResultCount; ++r) {
      if (w.by_result[r] == 0) {
        continue;
      }
      const auto result = static_cast<packet::ParseResult>(r);
      absl::StrAppendFormat(&out, "    %s %s: %d\n",
                            packet::ParseClassName(packet::ParseResultClass(result)),
                            packet::ParseResultName(result), w.by_result[r]);
    }
  }
  absl::StrAppendFormat(&out,
                        "  records written: %d (%d bytes) to %s; write errors: %d; ring drops: "
                        "%d\n  analytics: %s\n",
                        s.records_written, s.bytes_written, s.output.empty() ? "no file" : s.output,
                        s.write_errors, s.RingDrops(), s.analytics_json);
  for (const CollectorSnapshot& c : s.collectors) out += CollectorText(c);
  return out;
}

std::string StatsJson(const Snapshot& s) {
  std::string j = absl::StrCat(
      "{\"sensor_id\":", JsonString(s.sensor_id), ",\"capture\":", s.capture ? "true" : "false",
      ",\"end\":", JsonString(s.end), ",\"elapsed_s\":", absl::StrFormat("%.6f", s.elapsed_s),
      ",\"first_packet_s\":", absl::StrFormat("%.6f", s.first_packet_s),
      ",\"lcores\":", JsonString(s.lcore_plan),
      ",\"capture_packets_expected\":", s.capture_packets_expected, ",\"inputs\":[");
  for (size_t i = 0; i < s.inputs.size(); ++i) {
    const InputSnapshot& in = s.inputs[i];
    std::string types;
    for (uint16_t t : in.link_types) {
      absl::StrAppend(&types, types.empty() ? "" : ",", t);
    }
    absl::StrAppend(
        &j, i ? "," : "", "{\"path\":", JsonString(in.path), ",\"format\":", JsonString(in.format),
        ",\"link_types\":[", types, "],\"frames\":", in.frames, ",\"bytes\":", in.bytes,
        ",\"end\":", JsonString(InputEndName(in.end)), ",\"end_offset\":", in.end_offset,
        ",\"error\":", JsonString(in.error), ",\"clock_outliers\":", in.clock_outliers,
        ",\"clock_backwards\":", in.clock_backwards, ",\"clock_jumps\":", in.clock_jumps, "}");
  }
  absl::StrAppend(&j, "],\"ports\":[");
  for (size_t i = 0; i < s.ports.size(); ++i) {
    const PortSnapshot& p = s.ports[i];
    absl::StrAppend(&j, i ? "," : "", "{\"port\":", p.id, ",\"name\":", JsonString(p.name),
                    ",\"driver\":", JsonString(p.driver), ",\"mode\":", JsonString(p.mode),
                    ",\"rx\":", p.rx, ",\"imissed\":", p.imissed, ",\"nombuf\":", p.nombuf,
                    ",\"ierrors\":", p.ierrors, ",\"queues\":[");
    for (size_t q = 0; q < p.queue_rx.size(); ++q) {
      absl::StrAppend(&j, q ? "," : "", "{\"queue\":", q, ",\"rx\":", p.queue_rx[q], "}");
    }
    absl::StrAppend(&j, "]}");
  }
  absl::StrAppend(&j, "],\"workers\":[");
  for (size_t i = 0; i < s.workers.size(); ++i) {
    const WorkerSnapshot& w = s.workers[i];
    absl::StrAppend(&j, i ? "," : "", "{\"worker\":", i, ",\"lcore\":", w.lcore,
                    ",\"packets\":", w.packets);
    // Per class: the total, and an object by result ("bad_packets" holds the
    // malformed ones: bad means malformed and nothing else).
    for (size_t c = 1; c < packet::kParseClassCount; ++c) {
      const auto cls = static_cast<packet::ParseClass>(c);
      const std::string key = cls == packet::ParseClass::kMalformed
                                  ? "bad_packets"
                                  : std::string(packet::ParseClassName(cls));
      absl::StrAppend(&j, ",\"", key, "_total\":", w.OfClass(cls), ",\"", key, "\":{");
      bool first = true;
      for (size_t r = 1; r < packet::kParseResultCount; ++r) {
        const auto result = static_cast<packet::ParseResult>(r);
        if (packet::ParseResultClass(result) != cls) {
          continue;
        }
        absl::StrAppend(&j, first ? "" : ",", JsonString(packet::ParseResultName(result)), ":",
                        w.by_result[r]);
        first = false;
      }
      absl::StrAppend(&j, "}");
    }
    absl::StrAppend(
        &j, ",\"snapped_frames\":", w.snapped, ",\"sessions_created\":", w.sessions_created,
        ",\"sessions_ended\":", w.sessions_ended, ",\"sessions_evicted\":", w.sessions_evicted,
        ",\"sessions_active\":", w.sessions_active, ",\"interim_records\":", w.interim_records,
        ",\"fragments\":", w.fragments,
        ",\"later_fragments_unattributed\":", w.later_fragments_unattributed,
        ",\"fragment_overlap_bytes\":", w.fragment_overlap_bytes,
        ",\"implausible_sequence\":", w.implausible_sequence, ",\"records_out\":", w.records_out,
        ",\"tracker_records_dropped\":", w.tracker_records_dropped, ",\"contacts\":", w.contacts,
        ",\"contacts_dropped\":", w.contacts_dropped, ",\"contacts_out\":", w.contacts_out, "}");
  }
  absl::StrAppend(&j, "]");
  if (s.dispatcher) {
    const DispatcherSnapshot& d = *s.dispatcher;
    absl::StrAppend(
        &j, ",\"dispatcher\":{\"lcore\":", d.lcore, ",\"on_main\":", d.on_main ? "true" : "false",
        ",\"packets\":", d.packets, ",\"unparsed\":", d.unparsed, ",\"ring_drops\":", d.ring_drops,
        ",\"backpressure_polls\":", d.backpressure, ",\"pool_waits\":", d.pool_waits, "}");
  }
  absl::StrAppend(&j, ",\"ring_drops\":", s.RingDrops(), ",\"records_written\":", s.records_written,
                  ",\"bytes_written\":", s.bytes_written, ",\"write_errors\":", s.write_errors,
                  ",\"analytics_records\":", s.analytics_records,
                  ",\"snapshots_written\":", s.snapshots_written,
                  ",\"snapshots_dropped\":", s.snapshots_dropped, ",\"collectors\":[");
  for (size_t i = 0; i < s.collectors.size(); ++i) {
    absl::StrAppend(&j, i ? "," : "", CollectorJson(s.collectors[i]));
  }
  absl::StrAppend(&j, "],\"analytics\":", s.analytics_json, "}\n");
  return j;
}

}  // namespace flowtrail::dataplane
