#include "export/collector_link.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "export/spsc_ring.h"
#include "export/stream_format.h"
#include "export/tls_context.h"
#include "flowtrail/v1/session.pb.h"

namespace flowtrail::exporter {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kMaxAckBytes = 4096;
// A run's spill directory (<spill-dir>/<host>_<port>/<run_id>/): its blocks,
// its header and, when it ended cleanly, its end (records dropped, end time).
constexpr char kBlockSuffix[] = ".blk";
constexpr char kHeaderFile[] = "header.pb";
constexpr char kEndFile[] = "end.bin";
constexpr char kLockFile[] = "lock";
constexpr int kPollSliceMs = 5;  // the thread drains the ring at least this often

inline void Put(std::atomic<uint64_t>& c, uint64_t v) { c.store(v, std::memory_order_relaxed); }
inline uint64_t Load(const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); }
inline void Add(std::atomic<uint64_t>& c, uint64_t n) { Put(c, Load(c) + n); }

// A copy of one Write(): the exporter's block, owned by the link from then on.
struct Block {
  BlockInfo info;
  std::vector<uint8_t> bytes;
};

// Whether a block of `size` bytes may join `held` bytes under a bound of
// `half` (the ring's or the in-memory window's half of --collector-queue).
// A block larger than the half (a snapshot frame can be several MiB) goes in
// while at most the half is held, so the half is exceeded by at most that one
// frame: demanding an empty half dropped every snapshot behind a block not
// yet taken or not yet acknowledged.
bool FitsHalf(uint64_t held, uint64_t size, uint64_t half) {
  return size > half ? held <= half : held + size <= half;
}

bool IsLoopback(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return in6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

struct AddrInfoDeleter {
  void operator()(addrinfo* a) const { freeaddrinfo(a); }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoDeleter>;

absl::StatusOr<AddrInfoPtr> Resolve(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
    return absl::UnavailableError(absl::StrCat("cannot resolve ", host, ": ", gai_strerror(rc)));
  }
  return AddrInfoPtr(res);
}

// A connection's byte transport: plain TCP or TLS over it, non-blocking.
class Transport {
 public:
  Transport(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  ~Transport() {
    if (ssl_ != nullptr) {
      (void)SSL_shutdown(ssl_);  // close_notify, best effort (non-blocking)
      SSL_free(ssl_);
    }
    close(fd_);
  }
  int fd() const { return fd_; }
  // > 0 bytes moved, 0 would block, < 0 the connection failed or ended.
  ssize_t Send(const uint8_t* p, size_t n) {
    if (ssl_ == nullptr) {
      const ssize_t r = send(fd_, p, n, MSG_NOSIGNAL);
      if (r >= 0) return r;
      return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    }
    ERR_clear_error();
    const int r = SSL_write(ssl_, p, static_cast<int>(std::min<size_t>(n, 1 << 30)));
    if (r > 0) return r;
    return Retry(r) ? 0 : -1;
  }
  ssize_t Recv(uint8_t* p, size_t n) {
    if (ssl_ == nullptr) {
      const ssize_t r = recv(fd_, p, n, 0);
      if (r > 0) return r;
      if (r == 0) return -1;
      return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    }
    ERR_clear_error();
    const int r = SSL_read(ssl_, p, static_cast<int>(n));
    if (r > 0) return r;
    return Retry(r) ? 0 : -1;
  }
  // After a failure: a TLS error (an alert: with TLS 1.3 the collector
  // checks the sensor's certificate after the client's handshake is done).
  const std::string& tls_error() const { return tls_error_; }
  // Bytes TLS has decrypted but not handed out (poll() cannot see them).
  bool Pending() const { return ssl_ != nullptr && SSL_pending(ssl_) > 0; }

 private:
  bool Retry(int r) {
    const int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_SSL && tls_error_.empty()) tls_error_ = OpenSslErrors();
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
  }
  int fd_;
  SSL* ssl_;
  std::string tls_error_;
};

bool ReadVarint(const uint8_t* p, size_t n, uint64_t* v, size_t* used) {
  uint64_t out = 0;
  for (size_t i = 0; i < n && i < 10; ++i) {
    out |= uint64_t{p[i] & 0x7fu} << (7 * i);
    if ((p[i] & 0x80) == 0) {
      *v = out;
      *used = i + 1;
      return true;
    }
  }
  *used = n >= 10 ? 11 : 0;  // 11: malformed (too long); 0: need more bytes
  return false;
}

}  // namespace

class CollectorLink::Impl {
 public:
  explicit Impl(CollectorLinkOptions o)
      : opt_(std::move(o)), counters_(std::make_shared<CollectorLinkCounters>()) {
    ring_limit_ = std::max<uint64_t>(opt_.queue_bytes / 2, 1);
    window_limit_ = std::max<uint64_t>(opt_.queue_bytes - ring_limit_, 1);
    name_ = opt_.host.find(':') != std::string::npos ? absl::StrCat("[", opt_.host, "]:", opt_.port)
                                                     : absl::StrCat(opt_.host, ":", opt_.port);
    std::random_device rd;
    rng_.seed(rd());
  }
  ~Impl() {
    Stop(/*drain=*/false);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }

  absl::Status Init() {
    const bool tls = !opt_.ca_file.empty() || !opt_.cert_file.empty() || !opt_.key_file.empty();
    if (tls && (opt_.ca_file.empty() || opt_.cert_file.empty() || opt_.key_file.empty())) {
      return absl::InvalidArgumentError(
          "--collector-ca, --collector-cert and --collector-key go together (mutual TLS)");
    }
    if (!tls && !opt_.insecure) {
      absl::StatusOr<AddrInfoPtr> ai = Resolve(opt_.host, opt_.port);
      if (!ai.ok()) return ai.status();
      for (const addrinfo* a = ai->get(); a != nullptr; a = a->ai_next) {
        if (!IsLoopback(a->ai_addr)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "--collector ", name_,
              ": plaintext to a collector that is not on loopback; give --collector-ca, "
              "--collector-cert and --collector-key (mutual TLS) or --insecure"));
        }
      }
    }
    if (tls) {
      absl::StatusOr<SSL_CTX*> ctx =
          MakeMutualTlsContext(TlsRole::kClient, {.ca = opt_.ca_file,
                                                  .cert = opt_.cert_file,
                                                  .key = opt_.key_file,
                                                  .ca_flag = "--collector-ca",
                                                  .cert_flag = "--collector-cert",
                                                  .key_flag = "--collector-key"});
      if (!ctx.ok()) return ctx.status();
      ctx_ = *ctx;
    }
    if (!opt_.spill_dir.empty()) {
      std::string safe = name_;
      for (char& c : safe) {
        if (c == ':' || c == '/' || c == '[' || c == ']') c = '_';
      }
      link_dir_ = (std::filesystem::path(opt_.spill_dir) / safe).string();
      std::error_code ec;
      std::filesystem::create_directories(link_dir_, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            absl::StrCat("--spill-dir ", link_dir_, ": ", ec.message()));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Begin(const v1::StreamHeader& header) {
    if (thread_.joinable()) return absl::FailedPreconditionError("collector link begun twice");
    cur_.framer.emplace(header);
    cur_.run_id = header.run_id();
    if (!link_dir_.empty()) {
      cur_.dir = (std::filesystem::path(link_dir_) / cur_.run_id).string();
      std::error_code ec;
      std::filesystem::create_directories(cur_.dir, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            absl::StrCat("--spill-dir ", cur_.dir, ": ", ec.message()));
      }
      // The run's header (a later run replays what this one leaves) and its
      // lock (held while the run lives, so no other process replays it).
      cur_.lock = LockFd(LockRunDir(cur_.dir));
      if (cur_.lock.fd < 0 ||
          !WriteFile(cur_.dir + "/" + kHeaderFile, header.SerializeAsString())) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--spill-dir ", cur_.dir, ": cannot lock it or write its header: ", strerror(errno)));
      }
    }
    thread_ = std::thread([this] { Run(); });
    return absl::OkStatus();
  }

  // The exporter lcore: copy and push, or count the drop.
  void Write(std::span<const uint8_t> frames, const BlockInfo& info) {
    const uint64_t size = frames.size();
    const uint64_t in_ring = ring_bytes_.load(std::memory_order_relaxed);
    if (!FitsHalf(in_ring, size, ring_limit_) || !thread_.joinable() ||
        end_requested_.load(std::memory_order_relaxed)) {
      Drop(info);
      return;
    }
    // A block the thread is done with, its buffer kept (no allocation), or
    // a new one while the thread has none to give back.
    Block* b = nullptr;
    if (!spare_.Pop(&b)) b = new Block;
    b->info = info;
    b->bytes.assign(frames.begin(), frames.end());
    ring_bytes_.fetch_add(size, std::memory_order_relaxed);
    if (!ring_.Push(b)) {
      ring_bytes_.fetch_sub(size, std::memory_order_relaxed);
      delete b;
      Drop(info);
      return;
    }
    // Both sides move queued_bytes (read-modify-write, once per block), so
    // it is exact whenever it is read.
    counters_->queued_bytes.fetch_add(size, std::memory_order_relaxed);
  }

  void StartEnd(const StreamEnd& end) {
    if (end_requested_.load()) return;
    {
      std::lock_guard<std::mutex> l(end_mu_);
      end_ = end;
      end_given_ = true;
    }
    end_deadline_ = Clock::now() + milliseconds(opt_.drain_timeout_ms);
    end_requested_.store(true, std::memory_order_release);
  }

  void WaitEnd() { Stop(/*drain=*/true); }

  void Stop(bool drain) {
    if (!drain) {
      if (!end_requested_.load()) end_deadline_ = Clock::now();
      abort_.store(true, std::memory_order_release);
    }
    end_requested_.store(true, std::memory_order_release);
    if (thread_.joinable()) thread_.join();
    // Blocks left in the ring (the thread stopped first) are lost.
    for (Block* b; ring_.Pop(&b);) {
      Add(counters_->records_undelivered, b->info.records);
      Queued(-static_cast<int64_t>(b->bytes.size()));
      delete b;
    }
    for (Block* b; spare_.Pop(&b);) delete b;
  }

  const CollectorLinkOptions& options() const { return opt_; }
  const std::string& name() const { return name_; }
  std::shared_ptr<CollectorLinkCounters> counters() const { return counters_; }

 private:
  // One unacknowledged block, in memory or in the spill.
  struct Entry {
    BlockInfo info;
    uint64_t size = 0;
    std::unique_ptr<Block> mem;  // null: spilled to SpillPath(run, info.first_sequence)
  };

  // One run's unacknowledged blocks: this run's (fed by the ring), or an
  // earlier run's that a stop left in the spill directory (every block on
  // disk), replayed before this run's as segments of that run.
  // The descriptor that holds a run directory's flock (move-only).
  struct LockFd {
    int fd = -1;
    LockFd() = default;
    explicit LockFd(int f) : fd(f) {}
    LockFd(LockFd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
    LockFd& operator=(LockFd&& o) noexcept {
      std::swap(fd, o.fd);
      return *this;
    }
    ~LockFd() {
      if (fd >= 0) close(fd);
    }
  };
  struct RunQueue {
    std::string run_id;
    std::string dir;  // its spill directory ("" = no spill)
    LockFd lock;
    std::optional<SegmentFramer> framer;
    std::deque<Entry> fifo;
    size_t send_idx = 0;  // the next block to send on the connection
    bool earlier = false;
    // An earlier run that ended cleanly: its last segment gets the trailer
    // (records_dropped is the run's whole figure, the link's drops included).
    std::optional<StreamEnd> end;
  };

  void Drop(const BlockInfo& info) {
    // Write() and the thread both drop; fetch_add keeps both exact.
    counters_->records_dropped.fetch_add(info.records, std::memory_order_relaxed);
    counters_->frames_dropped.fetch_add(info.frames, std::memory_order_relaxed);
  }

  void Log(const std::string& what) {
    fprintf(stderr, "flowtrail: collector %s: %s\n", name_.c_str(), what.c_str());
  }

  static std::string SpillPath(const RunQueue& q, uint64_t seq) {
    char name[32];
    snprintf(name, sizeof(name), "%020" PRIu64 "%s", seq, kBlockSuffix);
    return (std::filesystem::path(q.dir) / name).string();
  }

  // This run's block.
  bool WriteSpill(const Block& b) {
    const std::string path = SpillPath(cur_, b.info.first_sequence);
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    const uint64_t head[3] = {b.info.first_sequence, b.info.frames, b.info.records};
    bool ok = write(fd, head, sizeof(head)) == static_cast<ssize_t>(sizeof(head));
    size_t off = 0;
    while (ok && off < b.bytes.size()) {
      const ssize_t w = write(fd, b.bytes.data() + off, b.bytes.size() - off);
      if (w <= 0) {
        ok = false;
        break;
      }
      off += static_cast<size_t>(w);
    }
    ok = (close(fd) == 0) && ok;
    if (!ok) unlink(path.c_str());
    return ok;
  }

  static bool ReadSpill(const RunQueue& q, const Entry& e, std::vector<uint8_t>* out) {
    const int fd = open(SpillPath(q, e.info.first_sequence).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    uint64_t head[3] = {};
    bool ok = read(fd, head, sizeof(head)) == static_cast<ssize_t>(sizeof(head)) &&
              head[0] == e.info.first_sequence && head[1] == e.info.frames;
    out->resize(e.size);
    size_t off = 0;
    while (ok && off < e.size) {
      const ssize_t r = read(fd, out->data() + off, e.size - off);
      if (r <= 0) {
        ok = false;
        break;
      }
      off += static_cast<size_t>(r);
    }
    close(fd);
    return ok;
  }

  void UpdateQueued() { Put(counters_->spilled_bytes, spill_bytes_); }
  void Queued(int64_t delta) {
    counters_->queued_bytes.fetch_add(static_cast<uint64_t>(delta), std::memory_order_relaxed);
  }

  // Moves blocks from the ring into the FIFO: in memory while the window has
  // room, else into the spill while the budget has room, else dropped.
  // Hands a block the thread is done with back to Write() for reuse; a
  // snapshot's large buffer, or one more than the spare ring holds, is freed.
  void Recycle(std::unique_ptr<Block> b) {
    if (b->bytes.capacity() <= kBlockBytes && spare_.Push(b.get())) (void)b.release();
  }

  void DrainRing() {
    for (Block* raw; ring_.Pop(&raw);) {
      std::unique_ptr<Block> b(raw);
      const uint64_t size = b->bytes.size();
      ring_bytes_.fetch_sub(size, std::memory_order_relaxed);
      Add(counters_->blocks_taken, 1);
      Entry e{b->info, size, nullptr};
      if (FitsHalf(mem_bytes_, size, window_limit_)) {
        mem_bytes_ += size;  // stays in queued_bytes
        e.mem = std::move(b);
        cur_.fifo.push_back(std::move(e));
        continue;
      }
      Queued(-static_cast<int64_t>(size));
      const bool spilled = Spill(*b);
      if (!spilled) Drop(b->info);
      Recycle(std::move(b));
      if (spilled) cur_.fifo.push_back(std::move(e));
    }
    UpdateQueued();
  }

  // Writes this run's block to its spill directory if the budget has room:
  // false when it does not, or when the write failed (counted).
  bool Spill(const Block& b) {
    const uint64_t size = b.bytes.size();
    if (cur_.dir.empty() || spill_bytes_ + size > opt_.spill_budget) return false;
    if (!WriteSpill(b)) {
      if (Load(counters_->spill_errors) == 0) Log("cannot write to the spill directory");
      Add(counters_->spill_errors, 1);
      return false;
    }
    spill_bytes_ += size;
    Add(counters_->spilled_total, size);
    return true;
  }

  // Trims every block of run `q` the collector has made durable.
  void Trim(RunQueue& q, uint64_t durable) {
    while (!q.fifo.empty()) {
      Entry& e = q.fifo.front();
      if (e.info.first_sequence + e.info.frames - 1 > durable) break;
      if (e.mem) {
        mem_bytes_ -= e.size;
        Queued(-static_cast<int64_t>(e.size));
        Recycle(std::move(e.mem));
      } else {
        unlink(SpillPath(q, e.info.first_sequence).c_str());
        spill_bytes_ -= e.size;
      }
      Add(q.earlier ? counters_->replayed_records : counters_->records_acked, e.info.records);
      q.fifo.pop_front();
      if (q.send_idx > 0) --q.send_idx;
    }
    UpdateQueued();
  }

  // The run the connection carries: the oldest earlier run left, then this one.
  RunQueue& Active() { return earlier_.empty() ? cur_ : earlier_.front(); }

  bool Deadline() const {
    return end_requested_.load(std::memory_order_acquire) && Clock::now() >= end_deadline_;
  }

  // Sleeps until `until`, draining the ring meanwhile.
  void Sleep(Clock::time_point until) {
    while (Clock::now() < until && !abort_.load(std::memory_order_acquire)) {
      DrainRing();
      if (end_requested_.load() && cur_.fifo.empty() && earlier_.empty()) return;  // nothing left
      std::this_thread::sleep_for(milliseconds(kPollSliceMs));
    }
  }

  // poll() on the connection in short slices, draining the ring between.
  // True when an event arrived before `until`.
  bool Wait(int fd, short events, Clock::time_point until) {
    for (;;) {
      DrainRing();
      pollfd p{fd, events, 0};
      const int r = poll(&p, 1, kPollSliceMs);
      if (r > 0) return true;
      if (Clock::now() >= until || abort_.load() || Deadline()) return false;
    }
  }

  void ScheduleRetry() {
    const uint64_t shift = std::min<uint64_t>(failures_, 20);
    const uint64_t base =
        std::min<uint64_t>(uint64_t{opt_.backoff_min_ms} << shift, opt_.backoff_max_ms);
    std::uniform_real_distribution<double> jitter(0.75, 1.25);
    ++failures_;
    next_attempt_ = Clock::now() + milliseconds(static_cast<int64_t>(base * jitter(rng_)));
  }

  std::unique_ptr<Transport> Connect() {
    absl::StatusOr<AddrInfoPtr> ai = Resolve(opt_.host, opt_.port);
    if (!ai.ok()) {
      LogOnce(ai.status().ToString());
      Add(counters_->connect_failures, 1);
      return nullptr;
    }
    const Clock::time_point until = Clock::now() + milliseconds(opt_.connect_timeout_ms);
    int fd = -1;
    std::string err = "no address";
    for (const addrinfo* a = ai->get(); a != nullptr && fd < 0; a = a->ai_next) {
      fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) continue;
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
        err = strerror(errno);
        close(fd);
        fd = -1;
        continue;
      }
      int soerr = 0;
      socklen_t len = sizeof(soerr);
      if (!Wait(fd, POLLOUT, until) || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 ||
          soerr != 0) {
        err = soerr != 0 ? strerror(soerr) : "connect timed out";
        close(fd);
        fd = -1;
      }
    }
    if (fd < 0) {
      LogOnce(absl::StrCat("cannot connect: ", err));
      Add(counters_->connect_failures, 1);
      return nullptr;
    }
    SSL* ssl = nullptr;
    if (ctx_ != nullptr) {
      ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, fd);
      in6_addr a6;
      in_addr a4;
      if (inet_pton(AF_INET, opt_.host.c_str(), &a4) == 1 ||
          inet_pton(AF_INET6, opt_.host.c_str(), &a6) == 1) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), opt_.host.c_str());
      } else {
        SSL_set_tlsext_host_name(ssl, opt_.host.c_str());
        SSL_set1_host(ssl, opt_.host.c_str());
      }
      for (;;) {
        ERR_clear_error();
        const int r = SSL_connect(ssl);
        if (r == 1) break;
        const int e = SSL_get_error(ssl, r);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (ev == 0 || !Wait(fd, ev, until)) {
          std::string why = ev == 0 ? OpenSslErrors() : "handshake timed out";
          const long v = SSL_get_verify_result(ssl);
          if (v != X509_V_OK) why += absl::StrCat(" (", X509_verify_cert_error_string(v), ")");
          if (X509* peer = SSL_get1_peer_certificate(ssl)) {
            char subject[256];
            X509_NAME_oneline(X509_get_subject_name(peer), subject, sizeof(subject));
            why += absl::StrCat("; peer certificate ", subject);
            X509_free(peer);
          }
          Log(absl::StrCat("TLS handshake failed, peer refused: ", why));
          Add(counters_->tls_failures, 1);
          SSL_free(ssl);
          close(fd);
          return nullptr;
        }
      }
    }
    logged_failure_ = false;
    return std::make_unique<Transport>(fd, ssl);
  }

  void LogOnce(const std::string& what) {
    // A collector that is down is logged once, not every retry.
    if (!logged_failure_) Log(what);
    logged_failure_ = true;
  }

  // The connection's segment.
  struct Segment {
    std::unique_ptr<Transport> t;
    uint64_t first = 0;  // first data frame
    uint64_t next = 0;   // next data frame to send
    uint64_t acked = 0;  // durable_sequence so far (first - 1 = none)
    std::string head;    // header or trailer bytes to send first
    size_t head_off = 0;
    const uint8_t* out = nullptr;  // the block being sent
    size_t out_len = 0;
    size_t out_off = 0;
    BlockInfo out_info;
    bool trailer_sent = false;
    uint64_t records = 0;     // record frames of the segment sent
    std::vector<uint8_t> in;  // ack bytes received
  };

  // kGap: the segment ended cleanly before a gap (reconnect at once).
  enum class Step { kIdle, kBusy, kClosed, kGap };

  // Parses the acks received; false = a bad ack or refusal (close).
  bool ReadAcks(Segment& s) {
    RunQueue& q = Active();
    for (;;) {
      uint64_t len = 0;
      size_t used = 0;
      if (s.in.empty()) return true;
      if (!ReadVarint(s.in.data(), s.in.size(), &len, &used)) {
        if (used > 10 || s.in.size() > kMaxAckBytes + 10) return BadAck("malformed length");
        return true;
      }
      if (len > kMaxAckBytes) return BadAck(absl::StrCat("ack of ", len, " bytes"));
      if (s.in.size() < used + len) return true;
      v1::CollectorAck ack;
      if (!ack.ParseFromArray(s.in.data() + used, static_cast<int>(len))) {
        return BadAck("not a CollectorAck");
      }
      s.in.erase(s.in.begin(), s.in.begin() + static_cast<ptrdiff_t>(used + len));
      if (!ack.error().empty()) {
        Log(absl::StrCat("refused: ", ack.error()));
        Add(counters_->refusals, 1);
        refused_ = true;
        return false;
      }
      if (ack.run_id() != q.run_id) return BadAck(absl::StrCat("run_id ", ack.run_id()));
      const uint64_t d = ack.durable_sequence();
      if (s.first == 0) {
        if (d == 0) continue;  // nothing sent yet, nothing durable
        return BadAck(absl::StrCat("durable_sequence ", d, " before any frame"));
      }
      const uint64_t sent = s.next - 1;  // last data frame fully handed to the transport
      if (d < s.acked || d > sent) {
        return BadAck(absl::StrCat("durable_sequence ", d, " outside ", s.acked, "..", sent));
      }
      s.acked = d;
      if (d >= s.first) {
        if (!q.earlier) {
          Put(counters_->acked_sequence, std::max(Load(counters_->acked_sequence), d));
        }
        Trim(q, d);
      }
    }
  }

  bool BadAck(const std::string& why) {
    Log(absl::StrCat("bad ack (", why, "), closing the connection"));
    Add(counters_->bad_acks, 1);
    return false;
  }

  bool Ending() const { return end_requested_.load(std::memory_order_acquire); }

  // Sends and receives what the connection takes now.
  Step Pump(Segment& s) {
    RunQueue& q = Active();
    bool busy = false;
    // Receive.
    uint8_t buf[4096];
    for (;;) {
      const ssize_t r = s.t->Recv(buf, sizeof(buf));
      if (r < 0) {
        if (!s.t->tls_error().empty()) {
          Log(absl::StrCat("TLS failed, peer refused: ", s.t->tls_error()));
          Add(counters_->tls_failures, 1);
        } else {
          LogOnce("connection closed by the collector");
        }
        return Step::kClosed;
      }
      if (r == 0) break;
      s.in.insert(s.in.end(), buf, buf + r);
      busy = true;
      if (!ReadAcks(s)) return Step::kClosed;
    }
    // Send.
    for (int blocks = 0; blocks < 64; ++blocks) {
      if (s.head_off < s.head.size()) {
        const ssize_t w = s.t->Send(reinterpret_cast<const uint8_t*>(s.head.data()) + s.head_off,
                                    s.head.size() - s.head_off);
        if (w < 0) return Step::kClosed;
        if (w == 0) return busy ? Step::kBusy : Step::kIdle;
        s.head_off += static_cast<size_t>(w);
        busy = true;
        continue;
      }
      if (s.out != nullptr) {
        const ssize_t w = s.t->Send(s.out + s.out_off, s.out_len - s.out_off);
        if (w < 0) return Step::kClosed;
        if (w == 0) return busy ? Step::kBusy : Step::kIdle;
        s.out_off += static_cast<size_t>(w);
        busy = true;
        if (s.out_off == s.out_len) {
          s.out = nullptr;
          s.next = s.out_info.first_sequence + s.out_info.frames;
          Add(counters_->bytes_sent, s.out_len);
          Add(counters_->frames_sent, s.out_info.frames);
          Add(counters_->records_sent, s.out_info.records);
          s.records += s.out_info.records;
        }
        continue;
      }
      if (q.send_idx < q.fifo.size()) {
        Entry& e = q.fifo[q.send_idx];
        if (s.first == 0) {
          // The segment opens with the first block to send (a connection
          // made while nothing is queued sends nothing yet).
          s.first = s.next = e.info.first_sequence;
          s.acked = s.first - 1;
          s.head = q.framer->Open(s.first);
          s.head_off = 0;
          continue;
        }
        if (e.info.first_sequence != s.next) {
          // A gap (dropped blocks): this segment ends once all it carried is
          // durable; the next connection opens a segment after the gap.
          if (s.acked + 1 >= s.next) return Step::kGap;
          return busy ? Step::kBusy : Step::kIdle;
        }
        if (e.mem) {
          s.out = e.mem->bytes.data();
        } else {
          if (!ReadSpill(q, e, &disk_buf_)) {
            // Lost on disk: drop it (a gap) rather than stall the link.
            Add(counters_->spill_errors, 1);
            Drop(e.info);
            spill_bytes_ -= e.size;
            unlink(SpillPath(q, e.info.first_sequence).c_str());
            q.fifo.erase(q.fifo.begin() + static_cast<ptrdiff_t>(q.send_idx));
            UpdateQueued();
            continue;
          }
          s.out = disk_buf_.data();
        }
        s.out_len = e.size;
        s.out_off = 0;
        s.out_info = e.info;
        ++q.send_idx;
        continue;
      }
      if (!s.trailer_sent && s.first != 0 &&
          (q.earlier ? q.end.has_value() : Ending() && ring_empty())) {
        const StreamEnd end = q.earlier ? *q.end : RunEnd();
        s.head = SegmentTrailer(q, s, end);
        s.head_off = 0;
        s.trailer_sent = true;
        continue;
      }
      break;
    }
    return busy ? Step::kBusy : Step::kIdle;
  }

  bool ring_empty() const { return ring_bytes_.load(std::memory_order_relaxed) == 0; }

  // This run's end as its trailer gives it: the sensor's drops and the link's.
  StreamEnd RunEnd() {
    std::lock_guard<std::mutex> l(end_mu_);
    StreamEnd end = end_;
    end.records_dropped += Load(counters_->records_dropped);
    return end;
  }

  static std::string SegmentTrailer(const RunQueue& q, const Segment& s, const StreamEnd& end) {
    // Re-open a framer at the segment's first frame so the trailer carries
    // its own frame and record counts.
    SegmentFramer f(q.framer->run_header());
    (void)f.Open(s.first);
    f.Count(BlockInfo{s.first, s.next - s.first, s.records});
    return f.Close(end.records_dropped, end.end_time_us);
  }

  bool AllDelivered() const { return cur_.fifo.empty() && ring_empty(); }

  void Run() {
    if (!link_dir_.empty()) LoadEarlierRuns();
    std::optional<Segment> seg;
    bool ever_connected = false;
    for (;;) {
      DrainRing();
      if (abort_.load(std::memory_order_acquire) || Deadline()) break;
      if (!seg) {
        if (Ending() && AllDelivered() && earlier_.empty()) break;
        if (Clock::now() < next_attempt_) {
          Sleep(next_attempt_);
          continue;
        }
        std::unique_ptr<Transport> t = Connect();
        if (!t) {
          ScheduleRetry();
          continue;
        }
        failures_ = 0;
        Add(counters_->connects, 1);
        if (ever_connected) Add(counters_->reconnects, 1);
        ever_connected = true;
        seg.emplace();
        seg->t = std::move(t);
        Active().send_idx = 0;  // resend from the first unacknowledged block
        refused_ = false;
        Put(counters_->connected, 1);
        continue;
      }
      const Step step = Pump(*seg);
      RunQueue& q = Active();
      const bool trailer_done = seg->trailer_sent && seg->head_off == seg->head.size();
      if (step != Step::kClosed && step != Step::kGap) {
        if (!q.earlier && Ending() && AllDelivered() && (seg->first == 0 || trailer_done)) {
          break;  // clean end: everything durable, the trailer written
        }
        if (q.earlier && q.fifo.empty() && (!q.end || seg->first == 0 || trailer_done)) {
          Log(absl::StrCat("replayed run ", q.run_id, " from ", q.dir));
          RemoveRunDir(q);
          earlier_.pop_front();
          seg.reset();  // the next run opens its own segment
          Put(counters_->connected, 0);
          continue;
        }
      }
      if (step == Step::kClosed || step == Step::kGap) {
        seg.reset();
        Put(counters_->connected, 0);
        if (step == Step::kClosed && q.earlier && refused_) {
          // A collector that refuses an earlier run (say, a sensor id its
          // certificate no longer names) must not hold this run back.
          Log(absl::StrCat("run ", q.run_id, " not replayed: its spill stays in ", q.dir));
          earlier_.pop_front();
        }
        if (step == Step::kClosed) ScheduleRetry();  // a gap: straight on
        continue;
      }
      if (step == Step::kIdle) {
        const bool want_out = seg->out != nullptr || seg->head_off < seg->head.size();
        if (!seg->t->Pending()) {
          pollfd p{seg->t->fd(), static_cast<short>(POLLIN | (want_out ? POLLOUT : 0)), 0};
          (void)poll(&p, 1, kPollSliceMs);
        }
      }
    }
    seg.reset();
    Put(counters_->connected, 0);
    DrainRing();
    LeaveForLaterRun();
  }

  // At the end: what this run could not deliver stays in its spill
  // directory for a later run to replay, its blocks still in memory too
  // (within the budget), with the run's end if it ended cleanly.
  void LeaveForLaterRun() {
    uint64_t left = 0, kept = 0;
    for (Entry& e : cur_.fifo) {
      left += e.info.records;
      if (e.mem) {
        mem_bytes_ -= e.size;
        Queued(-static_cast<int64_t>(e.size));
        if (Spill(*e.mem)) e.mem.reset();
      }
      if (!e.mem) kept += e.info.records;
    }
    Add(counters_->records_undelivered, left);
    UpdateQueued();
    if (left > 0) {
      Log(absl::StrCat(left, " records not acknowledged at the end",
                       cur_.dir.empty() ? ""
                                        : absl::StrCat("; ", kept, " of them stay in ", cur_.dir,
                                                       " for the next run to deliver")));
    }
    bool end_given;
    {
      std::lock_guard<std::mutex> l(end_mu_);
      end_given = end_given_;
    }
    if (kept > 0 && end_given) {
      const StreamEnd end = RunEnd();
      const uint64_t words[2] = {end.records_dropped, end.end_time_us};
      (void)WriteFile(cur_.dir + "/" + kEndFile,
                      std::string(reinterpret_cast<const char*>(words), sizeof(words)));
    }
    if (!cur_.dir.empty() && kept == 0) RemoveRunDir(cur_);
    cur_.fifo.clear();
  }

  // The earlier runs' spill directories under this link's, oldest first;
  // those another live process holds (its lock) are left alone.
  void LoadEarlierRuns() {
    namespace fs = std::filesystem;
    std::vector<std::pair<fs::file_time_type, fs::path>> dirs;
    std::error_code ec;
    for (const fs::directory_entry& d : fs::directory_iterator(link_dir_, ec)) {
      if (!d.is_directory(ec) || d.path().filename() == cur_.run_id) continue;
      dirs.emplace_back(fs::last_write_time(d.path() / kHeaderFile, ec), d.path());
    }
    std::sort(dirs.begin(), dirs.end());
    for (const auto& [time, dir] : dirs) {
      RunQueue q;
      q.dir = dir.string();
      q.earlier = true;
      q.lock = LockFd(LockRunDir(q.dir));
      if (q.lock.fd < 0) continue;  // a live run's
      v1::StreamHeader header;
      std::string bytes;
      if (!ReadFile(q.dir + "/" + kHeaderFile, &bytes) || !header.ParseFromString(bytes)) {
        Log(absl::StrCat("not replaying ", q.dir, ": no readable ", kHeaderFile));
        continue;
      }
      q.run_id = header.run_id();
      q.framer.emplace(std::move(header));
      if (ReadFile(q.dir + "/" + kEndFile, &bytes) && bytes.size() == 2 * sizeof(uint64_t)) {
        uint64_t words[2];
        std::memcpy(words, bytes.data(), sizeof(words));
        q.end = StreamEnd{.next_sequence = 0, .records_dropped = words[0], .end_time_us = words[1]};
      }
      uint64_t records = 0;
      size_t seen = 0;
      for (const fs::directory_entry& f : fs::directory_iterator(dir, ec)) {
        // A large spill takes a while to list: this run's blocks keep
        // moving out of the ring meanwhile.
        if (++seen % 64 == 0) DrainRing();
        const std::string name = f.path().filename().string();
        uint64_t seq = 0;
        if (!name.ends_with(kBlockSuffix) ||
            !absl::SimpleAtoi(name.substr(0, name.size() - strlen(kBlockSuffix)), &seq)) {
          continue;
        }
        Entry e;
        if (!ReadBlockHead(f.path().string(), seq, &e)) {
          Add(counters_->spill_errors, 1);
          continue;
        }
        records += e.info.records;
        spill_bytes_ += e.size;
        q.fifo.push_back(std::move(e));
      }
      if (q.fifo.empty()) {
        RemoveRunDir(q);
        continue;
      }
      std::sort(q.fifo.begin(), q.fifo.end(), [](const Entry& a, const Entry& b) {
        return a.info.first_sequence < b.info.first_sequence;
      });
      Log(absl::StrCat("replaying run ", q.run_id, " (", records, " records in ", q.fifo.size(),
                       " blocks) from ", q.dir));
      earlier_.push_back(std::move(q));
    }
    UpdateQueued();
  }

  // A spilled block's head: its info and size (what ReadSpill checks).
  static bool ReadBlockHead(const std::string& path, uint64_t seq, Entry* e) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    uint64_t head[3] = {};
    struct stat st {};
    const bool ok = read(fd, head, sizeof(head)) == static_cast<ssize_t>(sizeof(head)) &&
                    fstat(fd, &st) == 0 && head[0] == seq &&
                    static_cast<uint64_t>(st.st_size) >= sizeof(head);
    close(fd);
    if (!ok) return false;
    e->info = BlockInfo{.first_sequence = head[0], .frames = head[1], .records = head[2]};
    e->size = static_cast<uint64_t>(st.st_size) - sizeof(head);
    return true;
  }

  // Everything of a delivered (or empty) run's spill directory.
  static void RemoveRunDir(const RunQueue& q) {
    std::error_code ec;
    for (const char* f : {kHeaderFile, kEndFile, kLockFile}) {
      std::filesystem::remove(std::filesystem::path(q.dir) / f, ec);
    }
    std::filesystem::remove(q.dir, ec);  // only if empty
  }

  // An exclusive lock on the run directory's lock file (held by the open
  // descriptor), or -1 when another process holds it.
  static int LockRunDir(const std::string& dir) {
    const int fd = open((dir + "/" + kLockFile).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }

  static bool WriteFile(const std::string& path, const std::string& bytes) {
    const std::string tmp = path + ".tmp";
    const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    const bool ok = write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
    if (close(fd) != 0 || !ok || rename(tmp.c_str(), path.c_str()) != 0) {
      unlink(tmp.c_str());
      return false;
    }
    return true;
  }

  static bool ReadFile(const std::string& path, std::string* out) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    out->clear();
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) out->append(buf, static_cast<size_t>(n));
    close(fd);
    return n == 0;
  }

  CollectorLinkOptions opt_;
  std::shared_ptr<CollectorLinkCounters> counters_;
  std::string name_;
  SSL_CTX* ctx_ = nullptr;
  std::string link_dir_;
  std::thread thread_;
  SpscRing<Block*, 4096> ring_;  // exporter → thread
  SpscRing<Block*, 64> spare_;   // thread → exporter: emptied blocks for reuse
  std::atomic<uint64_t> ring_bytes_{0};
  uint64_t ring_limit_ = 0;
  uint64_t window_limit_ = 0;
  std::atomic<bool> end_requested_{false};
  std::atomic<bool> abort_{false};
  std::mutex end_mu_;  // end_ only: written once before end_requested_
  StreamEnd end_;
  bool end_given_ = false;  // StartEnd() set end_ (not an abort)
  Clock::time_point end_deadline_{};
  // The thread's own state (cur_ is set up by Begin() before it starts).
  RunQueue cur_;
  std::deque<RunQueue> earlier_;  // replayed first, oldest first
  bool refused_ = false;          // the connection's collector sent an error
  uint64_t mem_bytes_ = 0;
  uint64_t spill_bytes_ = 0;
  std::vector<uint8_t> disk_buf_;
  uint64_t failures_ = 0;
  Clock::time_point next_attempt_{};
  bool logged_failure_ = false;
  std::mt19937_64 rng_;
};

absl::StatusOr<std::unique_ptr<CollectorLink>> CollectorLink::Create(CollectorLinkOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  if (absl::Status s = impl->Init(); !s.ok()) return s;
  return std::unique_ptr<CollectorLink>(new CollectorLink(std::move(impl)));
}

CollectorLink::CollectorLink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CollectorLink::~CollectorLink() = default;

absl::Status CollectorLink::Begin(const v1::StreamHeader& run_header) {
  return impl_->Begin(run_header);
}

absl::Status CollectorLink::Write(std::span<const uint8_t> frames, const BlockInfo& info) {
  impl_->Write(frames, info);
  return absl::OkStatus();
}

void CollectorLink::StartEnd(const StreamEnd& end) { impl_->StartEnd(end); }

absl::Status CollectorLink::WaitEnd() {
  impl_->WaitEnd();
  return absl::OkStatus();
}

absl::Status CollectorLink::End(const StreamEnd& end) {
  StartEnd(end);
  return WaitEnd();
}

absl::Status CollectorLink::Abort() {
  impl_->Stop(/*drain=*/false);
  return absl::OkStatus();
}

const CollectorLinkCounters& CollectorLink::counters() const { return *impl_->counters(); }
std::shared_ptr<const CollectorLinkCounters> CollectorLink::shared_counters() const {
  return impl_->counters();
}
const CollectorLinkOptions& CollectorLink::options() const { return impl_->options(); }
std::string CollectorLink::name() const { return impl_->name(); }

absl::Status ParseHostPort(const std::string& spec, std::string* host, uint16_t* port) {
  std::string h;
  std::string p;
  if (!spec.empty() && spec[0] == '[') {
    const size_t close = spec.find(']');
    if (close == std::string::npos || close + 1 >= spec.size() || spec[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrCat("'", spec, "' is not [V6ADDR]:PORT"));
    }
    h = spec.substr(1, close - 1);
    p = spec.substr(close + 2);
  } else {
    const size_t colon = spec.rfind(':');
    if (colon == std::string::npos || colon == 0 || spec.find(':') != colon) {
      return absl::InvalidArgumentError(absl::StrCat("'", spec, "' is not HOST:PORT"));
    }
    h = spec.substr(0, colon);
    p = spec.substr(colon + 1);
  }
  uint32_t v = 0;
  if (h.empty() || !absl::SimpleAtoi(p, &v) || v == 0 || v > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("'", spec, "' is not HOST:PORT (port 1-65535)"));
  }
  *host = h;
  *port = static_cast<uint16_t>(v);
  return absl::OkStatus();
}

}  // namespace flowtrail::exporter
