// `flowtrail collect --clickhouse URL`: what the collector has made durable
// goes on into ClickHouse (deploy/clickhouse/). The collector's event loop
// never waits for ClickHouse: OnDurable copies each batch into a bounded
// queue and a thread of its own loads it with the idempotent
// clickhouse::ClickHouseLoader. The files stay the record of truth: a range
// that could not be loaded (ClickHouse away past the loader's retries, or the
// queue full) is logged and counted, and `flowtrail clickhouse-load` over the
// files loads it later without duplicating what is already stored.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "clickhouse/loader.h"
#include "collect/collector.h"

namespace flowtrail::collect {

struct ClickHouseFeedOptions {
  clickhouse::LoaderOptions loader;
  size_t max_queued_records = 1'000'000;  // beyond: the batch is not loaded (counted, logged)
  std::FILE* log = stderr;
};

struct ClickHouseFeedStats {
  uint64_t records_loaded = 0;   // stored by the loader (or found already stored)
  uint64_t records_failed = 0;   // the loader gave up on them
  uint64_t records_dropped = 0;  // the queue was full
  uint64_t records_queued = 0;   // waiting now
};

class ClickHouseFeed final : public DurableConsumer {
 public:
  static absl::StatusOr<std::unique_ptr<ClickHouseFeed>> Create(ClickHouseFeedOptions options);
  ~ClickHouseFeed() override;

  // On the collector's thread: copies the batch (split where duplicates left
  // holes in its sequence numbers) into the queue.
  absl::Status OnDurable(const DurableBatch& batch) override;
  // Loads everything queued, then stops the thread (after the collector has
  // stopped: no OnDurable after this).
  void Finish();
  ClickHouseFeedStats stats() const;

 private:
  struct Batch {
    std::string sensor_id;
    std::string run_id;
    uint64_t first_sequence = 0;
    std::vector<v1::SessionRecord> records;
  };
  ClickHouseFeed(ClickHouseFeedOptions options, std::unique_ptr<clickhouse::ClickHouseLoader> l);
  void Run();
  void Enqueue(const DurableBatch& batch, size_t begin, size_t end);

  ClickHouseFeedOptions options_;
  std::unique_ptr<clickhouse::ClickHouseLoader> loader_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Batch> queue_;
  ClickHouseFeedStats stats_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace flowtrail::collect
