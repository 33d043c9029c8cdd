// How the main lcore stops the pipeline, in order, without locks:
//  1. stop_input: readers (dispatcher, workers polling ports) stop reading
//     and, once everything they read has been handed on, set their idle flag.
//  2. flush (release, after flush_time_us/flush_reason are written): every
//     worker empties its input ring, expires idle sessions up to flush_time_us,
//     then ends every live session with flush_reason and pushes the records.
//  3. workers_done counts finished workers; the exporter closes the stream
//     (trailer) once all are done and its rings are empty; analytics likewise.
#pragma once

#include <atomic>
#include <cstdint>

#include "record/session_record.h"

namespace flowtrail::dataplane {

struct alignas(64) Control {
  std::atomic<bool> stop_input{false};
  std::atomic<bool> flush{false};
  uint64_t flush_time_us = 0;  // capture mode: last capture time; live: 0 = worker's clock
  record::EndReason flush_reason = record::EndReason::kShutdown;
  std::atomic<uint32_t> workers_done{0};
  std::atomic<bool> exporter_done{false};
  std::atomic<bool> analytics_done{false};
  std::atomic<bool> dispatcher_idle{false};
};

}  // namespace flowtrail::dataplane
