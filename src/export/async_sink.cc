#include "export/async_sink.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <thread>

#include "export/spsc_ring.h"
#include "export/stream_format.h"

namespace flowtrail::exporter {

class AsyncSegmentSink::Impl {
 public:
  Impl(std::unique_ptr<SegmentSink> inner, size_t blocks) : inner_(std::move(inner)) {
    blocks = std::clamp<size_t>(blocks, 2, kMaxBlocks);
    for (size_t i = 0; i < blocks; ++i) (void)free_.Push(new uint8_t[kBlockBytes]);
  }

  ~Impl() {
    if (thread_.joinable()) (void)Finish({.op = Op::kAbort});
    uint8_t* b;
    while (free_.Pop(&b)) delete[] b;
  }

  absl::Status Begin(const v1::StreamHeader& run_header) {
    // On the caller's thread, before the I/O thread exists.
    if (absl::Status s = inner_->Begin(run_header); !s.ok()) return s;
    framing_.store(inner_->framing_bytes(), std::memory_order_relaxed);
    thread_ = std::thread([this] { Run(); });
    return absl::OkStatus();
  }

  absl::Status Write(std::span<const uint8_t> frames, const BlockInfo& info) {
    if (absl::Status s = Usable(); !s.ok()) return s;
    // Not the writer's block (a snapshot frame): one copy, the I/O thread
    // frees it.
    auto* copy = new uint8_t[std::max<size_t>(frames.size(), 1)];
    std::memcpy(copy, frames.data(), frames.size());
    Push({.op = Op::kWrite, .data = copy, .size = frames.size(), .info = info, .pooled = false});
    Accept(info, frames.size());
    return absl::OkStatus();
  }

  absl::Status WriteBlock(std::unique_ptr<uint8_t[]>* block, size_t size, const BlockInfo& info) {
    if (absl::Status s = Usable(); !s.ok()) return s;
    uint8_t* fresh;
    if (!free_.Pop(&fresh)) {
      // Every block waits for the disk: the exporter waits for one, the
      // workers' rings take the slack (and count their drops when full).
      full_waits_.fetch_add(1, std::memory_order_relaxed);
      // A block is ~60 us of disk: sleep rather than burn the core.
      while (!free_.Pop(&fresh)) {
        if (failed_.load(std::memory_order_acquire)) return error_;
        std::this_thread::sleep_for(std::chrono::microseconds(10));
      }
    }
    uint8_t* full = block->release();
    block->reset(fresh);
    Push({.op = Op::kWrite, .data = full, .size = size, .info = info, .pooled = true});
    Accept(info, size);
    return absl::OkStatus();
  }

  absl::Status Flush() {
    if (absl::Status s = Usable(); !s.ok()) return s;
    Push({.op = Op::kFlush});
    return absl::OkStatus();
  }

  absl::Status Sync() {
    if (absl::Status s = Usable(); !s.ok()) return s;
    const uint64_t target = Push({.op = Op::kSync});
    WaitFor(target);
    return result_;
  }

  absl::Status End(const StreamEnd& end) {
    if (!thread_.joinable()) return absl::FailedPreconditionError("AsyncSegmentSink not running");
    if (const uint64_t waits = full_waits(); waits > 0) {
      fprintf(stderr,
              "flowtrail: output: the exporter waited %" PRIu64
              " times for a free block (the disk was slower than the stream)\n",
              waits);
    }
    return Finish({.op = Op::kEnd, .end = end});
  }

  absl::Status Abort() {
    if (thread_.joinable()) return Finish({.op = Op::kAbort});
    // Never begun (Begin failed): the inner sink is still this thread's.
    return finished_ ? absl::OkStatus() : inner_->Abort();
  }

  uint64_t framing_bytes() const { return framing_.load(std::memory_order_relaxed); }

  InFlight in_flight() const {
    return {.records = accepted_records_ - done_records_.load(std::memory_order_acquire),
            .bytes = accepted_bytes_ - done_bytes_.load(std::memory_order_acquire)};
  }

  uint64_t full_waits() const { return full_waits_.load(std::memory_order_relaxed); }

 private:
  enum class Op : uint8_t { kWrite, kFlush, kSync, kEnd, kAbort };
  struct Cmd {
    Op op = Op::kFlush;
    uint8_t* data = nullptr;  // kWrite: the frames
    size_t size = 0;
    BlockInfo info;
    StreamEnd end;
    bool pooled = false;  // data goes back to free_ (else delete[])
  };
  // The set of blocks plus the writer's own, and a few more commands.
  static constexpr size_t kMaxBlocks = 32;
  static constexpr size_t kCommands = 128;
  static constexpr std::chrono::microseconds kPoll{50};
  static constexpr std::chrono::milliseconds kIdle{20};

  absl::Status Usable() const {
    if (!thread_.joinable()) return absl::FailedPreconditionError("AsyncSegmentSink not running");
    if (failed_.load(std::memory_order_acquire)) return error_;
    return absl::OkStatus();
  }

  void Accept(const BlockInfo& info, size_t size) {
    accepted_records_ += info.records;
    accepted_bytes_ += size;
  }

  // Queues a command; returns how many the thread must have completed for
  // this one to be done.
  uint64_t Push(const Cmd& c) {
    while (!cmds_.Push(c)) std::this_thread::yield();  // 128 commands ahead: rare
    // A futex wake is a syscall: only for a thread that went to sleep after
    // a long idle spell, not per block while the stream flows. The seq_cst
    // fences pair with the thread's: either it sees the command or this
    // sees it asleep.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (asleep_.load(std::memory_order_relaxed)) {
      wake_.fetch_add(1, std::memory_order_seq_cst);
      wake_.notify_one();
    }
    return ++pushed_;
  }

  void WaitFor(uint64_t target) const {
    while (completed_.load(std::memory_order_acquire) < target) {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  absl::Status Finish(const Cmd& c) {
    WaitFor(Push(c));
    thread_.join();
    finished_ = true;
    return result_;
  }

  void Run() {
    using std::chrono::steady_clock;
    steady_clock::time_point idle_since{};
    for (;;) {
      Cmd c;
      if (!cmds_.Pop(&c)) {
        // While the stream flows, poll every kPoll (a block fills in ~70 us
        // at 5 M records/s; the set holds several): the exporter never makes
        // a syscall to wake this thread. After kIdle without a command,
        // sleep until woken.
        const steady_clock::time_point now = steady_clock::now();
        if (idle_since == steady_clock::time_point{}) idle_since = now;
        if (now - idle_since < kIdle) {
          std::this_thread::sleep_for(kPoll);
          continue;
        }
        const uint32_t w = wake_.load(std::memory_order_seq_cst);
        asleep_.store(true, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (!cmds_.Pop(&c)) {
          wake_.wait(w, std::memory_order_seq_cst);
          asleep_.store(false, std::memory_order_relaxed);
          continue;
        }
        asleep_.store(false, std::memory_order_relaxed);
      }
      idle_since = {};
      const bool last = Do(c);
      framing_.store(inner_->framing_bytes(), std::memory_order_relaxed);
      completed_.fetch_add(1, std::memory_order_release);
      if (last) return;
    }
  }

  void Fail(absl::Status s) {
    error_ = std::move(s);
    failed_.store(true, std::memory_order_release);
  }

  // Runs one command on the I/O thread; true for the last (End, Abort).
  bool Do(Cmd& c) {
    const bool failed = failed_.load(std::memory_order_relaxed);
    switch (c.op) {
      case Op::kWrite: {
        if (!failed) {
          const std::span<const uint8_t> frames(c.data, c.size);
          absl::Status s = inner_->Write(frames, c.info);
          uint64_t records = c.info.records;
          size_t bytes = c.size;
          if (!s.ok()) {
            // Whole frames before a short write reached the file.
            bytes = std::min(inner_->failed_write_prefix(), c.size);
            records = WholeFramesBefore(frames, bytes, c.info.records);
          }
          done_records_.fetch_add(records, std::memory_order_release);
          done_bytes_.fetch_add(bytes, std::memory_order_release);
          if (!s.ok()) Fail(std::move(s));
        }
        if (c.pooled) {
          (void)free_.Push(c.data);  // the set fits: kMaxBlocks + 1 < 64 slots
        } else {
          delete[] c.data;
        }
        return false;
      }
      case Op::kFlush:
        if (!failed) {
          if (absl::Status s = inner_->Flush(); !s.ok()) Fail(std::move(s));
        }
        return false;
      case Op::kSync:
        result_ = failed ? error_ : inner_->Sync();
        if (!failed && !result_.ok()) Fail(result_);
        return false;
      case Op::kEnd:
        if (failed) {
          (void)inner_->Abort();
          result_ = error_;
        } else {
          result_ = inner_->End(c.end);
          if (!result_.ok()) Fail(result_);
        }
        return true;
      case Op::kAbort:
        result_ = inner_->Abort();
        return true;
    }
    return false;
  }

  std::unique_ptr<SegmentSink> inner_;
  std::thread thread_;
  SpscRing<Cmd, kCommands> cmds_;            // exporter → I/O thread
  SpscRing<uint8_t*, 2 * kMaxBlocks> free_;  // I/O thread → exporter
  std::atomic<uint32_t> wake_{0};            // bumped to wake a sleeping thread
  std::atomic<bool> asleep_{false};          // the thread waits on wake_
  uint64_t pushed_ = 0;                      // commands queued (exporter side)
  std::atomic<uint64_t> completed_{0};       // commands done (I/O thread)
  // The exporter's accepted data and the thread's written data: in_flight()
  // is the difference.
  uint64_t accepted_records_ = 0;
  uint64_t accepted_bytes_ = 0;
  std::atomic<uint64_t> done_records_{0};
  std::atomic<uint64_t> done_bytes_{0};
  std::atomic<uint64_t> framing_{0};
  std::atomic<uint64_t> full_waits_{0};  // written by the exporter only
  bool finished_ = false;                // End or Abort ran on the thread
  // The first error: written once by the thread before failed_ (release).
  std::atomic<bool> failed_{false};
  absl::Status error_;
  absl::Status result_;  // of the last Sync/End/Abort, read after completed_
};

AsyncSegmentSink::AsyncSegmentSink(std::unique_ptr<SegmentSink> inner, size_t blocks)
    : impl_(std::make_unique<Impl>(std::move(inner), blocks)) {}
AsyncSegmentSink::~AsyncSegmentSink() = default;

absl::Status AsyncSegmentSink::Begin(const v1::StreamHeader& run_header) {
  return impl_->Begin(run_header);
}
absl::Status AsyncSegmentSink::Write(std::span<const uint8_t> frames, const BlockInfo& info) {
  return impl_->Write(frames, info);
}
absl::Status AsyncSegmentSink::WriteBlock(std::unique_ptr<uint8_t[]>* block, size_t size,
                                          const BlockInfo& info) {
  return impl_->WriteBlock(block, size, info);
}
absl::Status AsyncSegmentSink::Flush() { return impl_->Flush(); }
absl::Status AsyncSegmentSink::Sync() { return impl_->Sync(); }
absl::Status AsyncSegmentSink::End(const StreamEnd& end) { return impl_->End(end); }
absl::Status AsyncSegmentSink::Abort() { return impl_->Abort(); }
uint64_t AsyncSegmentSink::framing_bytes() const { return impl_->framing_bytes(); }
SegmentSink::InFlight AsyncSegmentSink::in_flight() const { return impl_->in_flight(); }
uint64_t AsyncSegmentSink::full_waits() const { return impl_->full_waits(); }

}  // namespace flowtrail::exporter
