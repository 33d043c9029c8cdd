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
  Impl(std::unique_ptr<SegmentSink> inner, size_t blocks)
      : inner_(std::move(inner)), wake_depth_(std::max<size_t>(1, Clamp(blocks) / 4)) {
    for (size_t i = 0; i < Clamp(blocks); ++i) (void)free_.Push(new uint8_t[kBlockBytes]);
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
      // The thread is awake: the whole set is queued, more than wake_depth_.
      bool got = false;
      Await([&] { return (got = free_.Pop(&fresh)) || failed_.load(std::memory_order_acquire); });
      if (!got) return error_;
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
  static constexpr size_t kMaxBlocks = 64;
  static constexpr size_t kCommands = 128;
  // A block is written in tens of microseconds: a waiting exporter spins
  // that long before it sleeps (and leaves the core to the I/O thread, if
  // they share one).
  static constexpr std::chrono::microseconds kSpin{20};

  static size_t Clamp(size_t blocks) { return std::clamp<size_t>(blocks, 2, kMaxBlocks); }

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
    ++pushed_;
    // A futex wake is a syscall: a sleeping thread is woken once
    // wake_depth_ writes wait for it (it then writes them in one go, and
    // any that come while it works, without further wakes), or for any
    // other command. Fewer writes wait for the next one, at most the
    // exporter's flush period. The seq_cst fences pair with the thread's:
    // either it sees the command or this sees it asleep.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (asleep_.load(std::memory_order_relaxed) &&
        (c.op != Op::kWrite ||
         pushed_ - completed_.load(std::memory_order_acquire) >= wake_depth_)) {
      Wake();
    }
    return pushed_;
  }

  void Wake() {
    asleep_.store(false, std::memory_order_relaxed);  // one wake per sleep
    wake_.fetch_add(1, std::memory_order_seq_cst);
    wake_.notify_one();
  }

  // Waits on the exporter's side until `done()` (which reads what the
  // thread publishes): spins kSpin, then sleeps until the thread completes
  // a command (it wakes only a waiter that said so: no syscall otherwise).
  template <typename Done>
  void Await(Done done) {
    const auto spin_until = std::chrono::steady_clock::now() + kSpin;
    // done() may take what it waits for (a free block): true ends the wait.
    while (!done()) {
      if (std::chrono::steady_clock::now() < spin_until) {
        CpuRelax();
        continue;
      }
      const uint32_t seen = progress_.load(std::memory_order_seq_cst);
      waiting_.store(true, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      const bool now_done = done();
      if (!now_done) progress_.wait(seen, std::memory_order_seq_cst);
      waiting_.store(false, std::memory_order_relaxed);
      if (now_done) return;
    }
  }

  static void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

  void WaitFor(uint64_t target) {
    Await([&] { return completed_.load(std::memory_order_acquire) >= target; });
  }

  absl::Status Finish(const Cmd& c) {
    WaitFor(Push(c));
    thread_.join();
    finished_ = true;
    return result_;
  }

  void Run() {
    for (;;) {
      Cmd c;
      if (!cmds_.Pop(&c)) {
        // Nothing queued: sleep until the exporter wakes this thread (Push).
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
      const bool last = Do(c);
      framing_.store(inner_->framing_bytes(), std::memory_order_relaxed);
      completed_.fetch_add(1, std::memory_order_release);
      // Pairs with Await's fence: either the waiter sees this command done
      // (its block back, the error) or this sees it waiting.
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if (waiting_.load(std::memory_order_relaxed)) {
        progress_.fetch_add(1, std::memory_order_seq_cst);
        progress_.notify_one();
      }
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
          (void)free_.Push(c.data);  // the set fits: kMaxBlocks + 1 < 2 * kMaxBlocks slots
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
  const size_t wake_depth_;                  // queued writes that wake the thread
  std::atomic<uint32_t> wake_{0};            // bumped to wake a sleeping thread
  std::atomic<bool> asleep_{false};          // the thread waits on wake_
  std::atomic<uint32_t> progress_{0};        // bumped to wake a waiting exporter
  std::atomic<bool> waiting_{false};         // the exporter waits on progress_
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
