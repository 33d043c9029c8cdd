#include "collect/clickhouse_feed.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace flowtrail::collect {

absl::StatusOr<std::unique_ptr<ClickHouseFeed>> ClickHouseFeed::Create(
    ClickHouseFeedOptions options) {
  absl::StatusOr<std::unique_ptr<clickhouse::ClickHouseLoader>> loader =
      clickhouse::ClickHouseLoader::Create(options.loader);
  if (!loader.ok()) return loader.status();
  return std::unique_ptr<ClickHouseFeed>(
      new ClickHouseFeed(std::move(options), *std::move(loader)));
}

ClickHouseFeed::ClickHouseFeed(ClickHouseFeedOptions options,
                               std::unique_ptr<clickhouse::ClickHouseLoader> loader)
    : options_(std::move(options)), loader_(std::move(loader)) {
  thread_ = std::thread([this] { Run(); });
}

ClickHouseFeed::~ClickHouseFeed() { Finish(); }

void ClickHouseFeed::Finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

ClickHouseFeedStats ClickHouseFeed::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void ClickHouseFeed::Enqueue(const DurableBatch& batch, size_t begin, size_t end) {
  const size_t n = end - begin;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stats_.records_queued + n > options_.max_queued_records) {
      stats_.records_dropped += n;
      std::fprintf(options_.log,
                   "flowtrail collect: clickhouse: queue full, records %.*s/%.*s %llu..%llu not "
                   "loaded (they are in the files: load them with flowtrail clickhouse-load)\n",
                   static_cast<int>(batch.sensor_id.size()), batch.sensor_id.data(),
                   static_cast<int>(batch.run_id.size()), batch.run_id.data(),
                   static_cast<unsigned long long>(batch.sequences[begin]),
                   static_cast<unsigned long long>(batch.sequences[end - 1]));
      return;
    }
    stats_.records_queued += n;
  }
  Batch b;
  b.sensor_id = std::string(batch.sensor_id);
  b.run_id = std::string(batch.run_id);
  b.first_sequence = batch.sequences[begin];
  b.records.assign(batch.records.begin() + static_cast<ptrdiff_t>(begin),
                   batch.records.begin() + static_cast<ptrdiff_t>(end));
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(b));
  }
  wake_.notify_one();
}

absl::Status ClickHouseFeed::OnDurable(const DurableBatch& batch) {
  if (batch.sequences.size() != batch.records.size()) {
    return absl::InternalError("durable batch with more sequence numbers than records");
  }
  // The loader takes consecutive sequence numbers: cut where skipped
  // duplicates (or snapshot frames) left holes.
  size_t begin = 0;
  for (size_t i = 1; i <= batch.records.size(); ++i) {
    if (i == batch.records.size() || batch.sequences[i] != batch.sequences[i - 1] + 1) {
      if (i > begin) Enqueue(batch, begin, i);
      begin = i;
    }
  }
  return absl::OkStatus();
}

void ClickHouseFeed::Run() {
  for (;;) {
    Batch b;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      b = std::move(queue_.front());
      queue_.pop_front();
      // Consecutive batches of one run go in one Load (fewer, larger parts).
      while (!queue_.empty() && b.records.size() < options_.loader.batch_rows &&
             queue_.front().sensor_id == b.sensor_id && queue_.front().run_id == b.run_id &&
             queue_.front().first_sequence == b.first_sequence + b.records.size()) {
        for (v1::SessionRecord& r : queue_.front().records) b.records.push_back(std::move(r));
        queue_.pop_front();
      }
    }
    const absl::Status s = loader_->Load(b.sensor_id, b.run_id, b.first_sequence, b.records);
    std::lock_guard<std::mutex> lock(mu_);
    stats_.records_queued -= b.records.size();
    if (s.ok()) {
      stats_.records_loaded += b.records.size();
    } else {
      stats_.records_failed += b.records.size();
      std::fprintf(options_.log,
                   "flowtrail collect: clickhouse: records %s/%s %llu..%llu not loaded: %s "
                   "(they are in the files: load them with flowtrail clickhouse-load)\n",
                   b.sensor_id.c_str(), b.run_id.c_str(),
                   static_cast<unsigned long long>(b.first_sequence),
                   static_cast<unsigned long long>(b.first_sequence + b.records.size() - 1),
                   std::string(s.message()).c_str());
    }
  }
}

}  // namespace flowtrail::collect
