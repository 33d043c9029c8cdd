#include "collect/collector.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "collect/frame_decoder.h"
#include "export/stream_format.h"
#include "export/tls_context.h"
#include "export/wire_varint.h"

namespace flowtrail::collect {
namespace {

uint64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1'000'000;
}

bool IsLoopback(const std::string& host) {
  in_addr a4;
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6;
  if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
  return host == "localhost";
}

std::string PeerName(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
    return absl::StrCat(host, ":", port);
  }
  const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
  inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
  port = ntohs(a->sin6_port);
  return absl::StrCat("[", host, "]:", port);
}

std::string SanitizeDirName(std::string_view id) {
  std::string s;
  for (char ch : id.substr(0, 64)) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-';
    s += ok ? ch : '-';
  }
  if (s.empty() || s == "." || s == "..") s = "sensor";
  return s;
}

// The names a peer certificate gives its holder: the subject's CN and the
// DNS subjectAltNames (what a sensor's stream header may call itself).
std::vector<std::string> CertificateNames(X509* cert) {
  std::vector<std::string> names;
  auto add = [&](const ASN1_STRING* s) {
    if (s == nullptr) {
      return;
    }
    names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<size_t>(ASN1_STRING_length(s)));
  };
  const X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = -1; (i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) >= 0;) {
    add(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
  }
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
    if (g->type == GEN_DNS) {
      add(g->d.dNSName);
    }
  }
  GENERAL_NAMES_free(sans);
  return names;
}

using FsyncFn = std::function<int(int)>;

absl::Status Fsync(const FsyncFn& fsync, int fd, const std::string& what) {
  while ((fsync ? fsync(fd) : ::fsync(fd)) != 0) {
    if (errno != EINTR) return absl::ErrnoToStatus(errno, absl::StrCat("fsync ", what));
  }
  return absl::OkStatus();
}

// An error of the start's scan: what to do about it.
absl::Status ScanError(const absl::Status& s, const std::string& dir) {
  return absl::Status(s.code(),
                      absl::StrCat(s.message(),
                                   " (the collector must hold every frame it counts durably before "
                                   "it acknowledges any: fix the disk, or move the file out of ",
                                   dir, ", then start again)"));
}

// What one segment file read back at start holds.
struct ScannedFile {
  bool has_run = false;  // a whole header was read
  std::string sensor_id, run_id;
  uint64_t lo = 0, hi = 0;  // its data frames [lo, hi)
};

// True when every byte of fd from `from` to its end is zero: the blocks a
// crash left allocated but unwritten. Acknowledged data was fsync'd, so it
// never reads back as zeros.
absl::StatusOr<bool> ZerosFrom(int fd, uint64_t from, const std::string& path) {
  std::vector<uint8_t> buf(exporter::kBlockBytes);
  for (off_t at = static_cast<off_t>(from);;) {
    const ssize_t n = ::pread(fd, buf.data(), buf.size(), at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", path));
    if (n == 0) return true;
    if (std::any_of(buf.begin(), buf.begin() + n, [](uint8_t b) { return b != 0; })) return false;
    at += n;
  }
}

// The final name of a .part file ("[.]NAME.ftr.part" -> "NAME.ftr", or
// "NAME-N.ftr" when that is taken, as the sink names a second segment),
// renamed without ever replacing a file.
absl::Status FinishPart(const std::string& dir, const std::string& name, std::FILE* log) {
  std::string base = name.substr(0, name.size() - 5);  // without ".part"
  if (base.starts_with('.')) base.erase(0, 1);
  const std::string stem = base.substr(0, base.size() - 4);  // without ".ftr"
  const std::string from = absl::StrCat(dir, "/", name);
  for (int n = 0; n < 1000; ++n) {
    const std::string to =
        n == 0 ? absl::StrCat(dir, "/", base) : absl::StrCat(dir, "/", stem, "-", n, ".ftr");
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
      if (log != nullptr) {
        std::fprintf(log, "flowtrail collect: %s: finished as %s (no trailer)\n", from.c_str(),
                     to.c_str());
      }
      return absl::OkStatus();
    }
    if (errno != EEXIST) {
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot rename ", from, " to ", to));
    }
  }
  return absl::AlreadyExistsError(absl::StrCat("no free final name for ", from));
}

// Reads back one segment file of `dir`: the sequences it holds. A .part
// file (the open segment of a collector that crashed) loses an unfinished
// last frame (never acknowledged: the sensor sends it again) and gets its
// final name. The file and its cut are fsync'd here, its directory by the
// caller, before its frames count as held.
absl::StatusOr<ScannedFile> ScanFile(const std::string& dir, const std::string& name,
                                     const FsyncFn& fsync, std::FILE* log) {
  const std::string path = absl::StrCat(dir, "/", name);
  const bool part = name.ends_with(".ftr.part");
  const int fd = ::open(path.c_str(), (part ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return ScannedFile{};
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", path));
  }
  FrameDecoder decoder;
  ScannedFile out;
  auto on_frame = [&](const DecodedFrame& f) -> absl::Status {
    if (f.body == v1::Frame::kHeader) {
      out.has_run = true;
      out.sensor_id = f.frame->header().sensor_id();
      out.run_id = f.frame->header().run_id();
      out.lo = out.hi = decoder.first_sequence();
    } else if (f.body != v1::Frame::kTrailer) {
      out.hi = f.sequence + 1;
    }
    return absl::OkStatus();
  };
  auto fail = [&](const absl::Status& s) {
    ::close(fd);
    return s;
  };
  std::vector<uint8_t> buf(exporter::kBlockBytes);
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    // A read error is not the end of the file: cutting there would delete
    // the acknowledged frames after it.
    if (n < 0) {
      return fail(absl::ErrnoToStatus(
          errno, absl::StrCat("cannot read ", path, " (nothing was cut or counted)")));
    }
    if (n == 0) break;
    if (!decoder.Feed({buf.data(), static_cast<size_t>(n)}, on_frame).ok()) break;
  }
  // A collector killed while writing leaves its open segment ending inside
  // a frame, or in zeros (blocks allocated, never written). That tail was
  // never acknowledged; cut it off, so the file stops after a whole frame,
  // as readers (`flowtrail cat --allow-unfinished`) expect of an unfinished
  // segment. Anything else that does not decode is kept as it is.
  bool cut = false, finish = part;
  if (part && decoder.status().ok()) {
    cut = decoder.buffered() > 0;
  } else if (part) {
    absl::StatusOr<bool> zeros = ZerosFrom(fd, decoder.offset(), path);
    if (!zeros.ok()) return fail(zeros.status());
    cut = *zeros;
    finish = cut;
  }
  if (!decoder.status().ok() && !cut && log != nullptr) {
    std::fprintf(log, "flowtrail collect: %s: kept the frames before: %s%s\n", path.c_str(),
                 std::string(decoder.status().message()).c_str(),
                 part ? " (left under its .part name: it is not a valid segment)" : "");
  }
  if (cut) {
    struct stat st;
    const uint64_t size = ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
    if (::ftruncate(fd, static_cast<off_t>(decoder.offset())) != 0) {
      return fail(absl::ErrnoToStatus(
          errno, absl::StrCat("cannot cut the unfinished last frame off ", path)));
    }
    if (log != nullptr) {
      std::fprintf(log,
                   "flowtrail collect: %s: cut off the %ju bytes of an unfinished last frame\n",
                   path.c_str(), static_cast<uintmax_t>(size - decoder.offset()));
    }
  }
  if (absl::Status s = Fsync(fsync, fd, path); !s.ok()) return fail(s);
  ::close(fd);
  if (finish && !out.has_run) {
    // Not even a whole header: nothing in it was ever acknowledged.
    if (::unlink(path.c_str()) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot remove ", path));
    }
    if (log != nullptr) {
      std::fprintf(log, "flowtrail collect: %s: removed (no whole header)\n", path.c_str());
    }
    return out;
  }
  if (finish) {
    if (absl::Status s = FinishPart(dir, name, log); !s.ok()) return s;
  }
  return out;
}

}  // namespace

std::string BadFrameReason(std::string_view m) {
  auto has = [&](std::string_view s) { return m.find(s) != std::string_view::npos; };
  if (has("exceeds the limit")) return "frame_too_long";
  if (has(" messages, the most a frame of ")) return "too_many_messages";
  if (has("varint")) return "bad_length_varint";
  if (has("truncated")) return "truncated";
  if (has("not a valid flowtrail.v1.Frame")) return "bad_protobuf";
  if (has("not a stream header") || has("stream header has sequence") ||
      has("second stream header") || has("empty stream") || has("schema version")) {
    return "bad_header";
  }
  if (has("frame sequence")) return "bad_sequence";
  if (has("record (sequence")) return "bad_record";
  if (has("trailer")) return "bad_trailer";
  if (has("has no body")) return "no_body";
  return "other";
}

struct Collector::Connection {
  uint64_t id = 0;
  int fd = -1;
  SSL* ssl = nullptr;
  bool handshaking = false;
  std::string peer;
  std::vector<std::string> cert_names;  // CertificateNames of a TLS peer
  FrameDecoder decoder;
  RunState* run = nullptr;
  std::unique_ptr<exporter::SegmentSink> sink;
  // Contiguous data frames not yet handed to the sink.
  std::string block;
  exporter::BlockInfo block_info;
  uint64_t covered = 0;  // every data frame up to here is stored or a duplicate
  uint64_t acked = 0;
  bool unsynced = false;
  uint64_t unsynced_since_ms = 0;
  uint64_t last_byte_ms = 0;
  uint64_t incomplete_since_ms = 0;  // a frame (or the handshake) started here
  uint64_t frames = 0, duplicates = 0;
  // Data frames stored (written, or in `block`) since the last fsync: in
  // the run's `pending` until the fsync moves them to its `held`.
  SequenceSet unsynced_seqs;
  std::string out;  // ack bytes not yet sent
  bool want_write = false;
  bool eof = false;
  bool ended = false;       // sink ended or aborted
  exporter::StreamEnd end;  // from the sensor's trailer
  // Records since the last sync, for the consumer.
  std::vector<uint64_t> batch_seq;
  std::vector<v1::SessionRecord> batch;
};

Collector::Collector(CollectorOptions options)
    : options_(std::move(options)), read_buf_(256 * 1024) {}

Collector::~Collector() {
  for (auto& [id, c] : conns_) Destroy(*c);
  conns_.clear();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
  if (ssl_ctx_ != nullptr) SSL_CTX_free(static_cast<SSL_CTX*>(ssl_ctx_));
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

absl::StatusOr<std::unique_ptr<Collector>> Collector::Create(CollectorOptions options) {
  std::unique_ptr<Collector> c(new Collector(std::move(options)));
  if (absl::Status s = c->Init(); !s.ok()) return s;
  return c;
}

void Collector::Log(const std::string& line) const {
  if (options_.log == nullptr) return;
  std::fprintf(options_.log, "flowtrail collect: %s\n", line.c_str());
  std::fflush(options_.log);
}

absl::Status Collector::Init() {
  const CollectorOptions& o = options_;
  if (o.dir.empty()) return absl::InvalidArgumentError("--dir is required");
  if (!o.sink_factory) return absl::InvalidArgumentError("no storage (sink factory)");
  struct stat st;
  if (::stat(o.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("--dir ", o.dir, " is not a directory"));
  }
  const int tls_files = !o.tls_ca.empty() + !o.tls_cert.empty() + !o.tls_key.empty();
  if (tls_files != 0 && tls_files != 3) {
    return absl::InvalidArgumentError(
        "TLS needs all of --tls-ca, --tls-cert and --tls-key (mutual certificates)");
  }
  if (tls_files == 0 && !o.insecure && !IsLoopback(o.listen_host)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "refusing to accept plaintext on ", o.listen_host,
        ", which is not a loopback address: give --tls-ca, --tls-cert and --tls-key, or "
        "--insecure to accept unauthenticated sensors"));
  }
  if (tls_files == 3) {
    absl::StatusOr<SSL_CTX*> ctx = exporter::MakeMutualTlsContext(
        exporter::TlsRole::kServer, {.ca = o.tls_ca, .cert = o.tls_cert, .key = o.tls_key});
    if (!ctx.ok()) return ctx.status();
    ssl_ctx_ = *ctx;
  }

  // Many idle peers must not run the process out of descriptors first.
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  // Before the scan: it cuts and renames files another collector may be
  // writing.
  if (absl::Status s = LockDir(); !s.ok()) return s;
  if (absl::Status s = Rebuild(); !s.ok()) return s;

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(o.listen_port);
  if (int rc = getaddrinfo(o.listen_host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen ", o.listen_host, ": ", gai_strerror(rc)));
  }
  listen_fd_ = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) {
    freeaddrinfo(res);
    return absl::ErrnoToStatus(errno, "socket");
  }
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listen_fd_, res->ai_addr, res->ai_addrlen) != 0) {
    const int e = errno;
    freeaddrinfo(res);
    return absl::ErrnoToStatus(e, absl::StrCat("cannot listen on ", o.listen_host, ":", port));
  }
  freeaddrinfo(res);
  if (::listen(listen_fd_, 4096) != 0) return absl::ErrnoToStatus(errno, "listen");
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  port_ = ss.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                                  : ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);

  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  stop_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || stop_fd_ < 0) return absl::ErrnoToStatus(errno, "epoll/eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;  // the listener
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.data.u64 = UINT64_MAX;  // stop
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, stop_fd_, &ev);
  Log(absl::StrCat("listening on ", o.listen_host, ":", port_,
                   ssl_ctx_ ? " (TLS, mutual)" : " (plaintext)", ", storing under ", o.dir));
  return absl::OkStatus();
}

absl::Status Collector::LockDir() {
  const std::string path = options_.dir + "/.flowtrail-collect.lock";
  lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot create ", path));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return absl::ErrnoToStatus(errno, absl::StrCat("cannot lock ", path));
    char pid[32] = {};
    const ssize_t n = ::pread(lock_fd_, pid, sizeof pid - 1, 0);
    const std::string holder = n > 0 ? std::string(pid, static_cast<size_t>(n)) : "";
    return absl::FailedPreconditionError(absl::StrCat(
        "another flowtrail collect", holder.empty() ? "" : absl::StrCat(" (pid ", holder, ")"),
        " is storing into ", options_.dir, " (it holds the lock on ", path,
        "): stop it first, or give this one a --dir of its own"));
  }
  // For the message above, in the next one started by mistake.
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0) {
    Log(absl::StrCat("cannot write the pid into ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status Collector::Rebuild() {
  DIR* top = ::opendir(options_.dir.c_str());
  if (top == nullptr) return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", options_.dir));
  std::vector<std::string> subs;
  while (dirent* d = ::readdir(top)) {
    if (d->d_name[0] != '.') subs.push_back(options_.dir + "/" + d->d_name);
  }
  ::closedir(top);
  std::sort(subs.begin(), subs.end());
  for (const std::string& sub : subs) {
    DIR* sd = ::opendir(sub.c_str());
    if (sd == nullptr) {
      if (errno == ENOTDIR || errno == ENOENT) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", sub));
    }
    std::vector<std::string> names;
    while (dirent* f = ::readdir(sd)) {
      const std::string name = f->d_name;
      // Closed segments and the open ones a crash left (.part).
      if (name.ends_with(".ftr") || name.ends_with(".ftr.part")) names.push_back(name);
    }
    ::closedir(sd);
    if (names.empty()) continue;
    std::sort(names.begin(), names.end());
    std::vector<ScannedFile> found;
    for (const std::string& name : names) {
      absl::StatusOr<ScannedFile> f = ScanFile(sub, name, options_.scan_fsync, options_.log);
      if (!f.ok()) return ScanError(f.status(), sub);
      if (f->has_run) found.push_back(*std::move(f));
    }
    // The entries (renames, removals) are durable too before any frame of
    // the directory counts as held.
    const int dfd = ::open(sub.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", sub));
    absl::Status synced = Fsync(options_.scan_fsync, dfd, sub);
    ::close(dfd);
    if (!synced.ok()) return ScanError(synced, sub);
    for (const ScannedFile& f : found) {
      RunState& run = runs_[{f.sensor_id, f.run_id}];
      run.sensor_id = f.sensor_id;
      run.run_id = f.run_id;
      run.held.Add(f.lo, f.hi);
    }
  }
  for (const auto& [key, run] : runs_) {
    Log(absl::StrCat("holds sensor ", key.first, " run ", key.second, ": sequences ",
                     run.held.ToString()));
  }
  return absl::OkStatus();
}

void Collector::RequestStop() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof one);
}

void Collector::Accept() {
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int fd =
        accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno == EMFILE || errno == ENFILE) {
        ++stats_.connections_refused["out_of_descriptors"];
        Log("accept: out of file descriptors");
      }
      return;
    }
    const std::string peer = PeerName(ss);
    if (conns_.size() >= options_.max_connections) {
      ++stats_.connections_refused["max_connections"];
      Log(absl::StrCat("refused ", peer, ": --max-connections ", options_.max_connections,
                       " reached"));
      ::close(fd);
      continue;
    }
    auto c = std::make_unique<Connection>();
    c->id = next_conn_id_++;
    c->fd = fd;
    c->peer = peer;
    c->last_byte_ms = c->incomplete_since_ms = NowMs();
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (ssl_ctx_ != nullptr) {
      c->ssl = SSL_new(static_cast<SSL_CTX*>(ssl_ctx_));
      SSL_set_fd(c->ssl, fd);
      SSL_set_accept_state(c->ssl);
      c->handshaking = true;
    } else {
      ++stats_.connections_accepted;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = c->id;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    conns_.emplace(c->id, std::move(c));
  }
}

bool Collector::Handshake(Connection& c) {
  ERR_clear_error();
  const int rc = SSL_accept(c.ssl);
  if (rc == 1) {
    c.handshaking = false;
    c.incomplete_since_ms = NowMs();
    ++stats_.connections_accepted;
    std::string subject = "?";
    if (X509* cert = SSL_get1_peer_certificate(c.ssl)) {
      char buf[256];
      X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
      subject = buf;
      c.cert_names = CertificateNames(cert);
      X509_free(cert);
    }
    Log(absl::StrCat("conn ", c.id, " ", c.peer, ": TLS ", SSL_get_version(c.ssl), ", certificate ",
                     subject));
    return true;
  }
  const int err = SSL_get_error(c.ssl, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return true;
  const unsigned long e = ERR_peek_error();
  const int reason = ERR_GET_REASON(e);
  const long verify = SSL_get_verify_result(c.ssl);
  std::string why;
  if (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_HTTP_REQUEST ||
      reason == SSL_R_HTTPS_PROXY_REQUEST || reason == SSL_R_UNSUPPORTED_PROTOCOL ||
      reason == SSL_R_PACKET_LENGTH_TOO_LONG || reason == SSL_R_RECORD_LENGTH_MISMATCH) {
    why = "plaintext_on_tls";
  } else if (verify != X509_V_OK || reason == SSL_R_CERTIFICATE_VERIFY_FAILED ||
             reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
    why = "bad_certificate";
  } else if (e == 0) {
    why = "closed_in_handshake";
  } else {
    why = "tls_handshake";
  }
  std::string detail = e != 0 ? exporter::OpenSslErrors() : "peer closed the connection";
  if (verify != X509_V_OK) {
    absl::StrAppend(&detail, " (certificate: ", X509_verify_cert_error_string(verify), ")");
  }
  ++stats_.connections_refused[why];
  Log(absl::StrCat("refused conn ", c.id, " ", c.peer, ": ", why, ": ", detail));
  Destroy(c);
  return false;
}

bool Collector::ReadSome(Connection& c, size_t budget) {
  size_t total = 0;
  while (total < budget) {
    ssize_t n;
    if (c.ssl != nullptr) {
      ERR_clear_error();
      n = SSL_read(c.ssl, read_buf_.data(), static_cast<int>(read_buf_.size()));
      if (n <= 0) {
        const int err = SSL_get_error(c.ssl, static_cast<int>(n));
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
        if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
          c.eof = true;
          break;
        }
        Close(c, absl::StrCat("TLS error: ", exporter::OpenSslErrors()), false);
        return false;
      }
    } else {
      n = ::recv(c.fd, read_buf_.data(), read_buf_.size(), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        Close(c, absl::StrCat("receive: ", std::strerror(errno)), false);
        return false;
      }
      if (n == 0) {
        c.eof = true;
        break;
      }
    }
    total += static_cast<size_t>(n);
    stats_.bytes += static_cast<uint64_t>(n);
    const uint64_t now = NowMs();
    c.last_byte_ms = now;
    const size_t held = c.decoder.held_bytes();
    const bool was_complete = c.decoder.buffered() == 0;
    absl::Status s = c.decoder.Feed({read_buf_.data(), static_cast<size_t>(n)},
                                    [&](const DecodedFrame& f) { return OnFrame(c, f); });
    buffered_bytes_ = buffered_bytes_ - held + c.decoder.held_bytes();
    if (!s.ok()) {
      // A bad frame, a sensor id its certificate does not name, or the
      // storage failing (refused too: the sensor keeps the frames and tries
      // again later).
      if (absl::IsPermissionDenied(s)) {
        ++stats_.connections_refused["sensor_id"];
        Close(c, std::string(s.message()), false, /*refuse=*/true);
      } else if (c.decoder.status().ok()) {
        Close(c, absl::StrCat("storage: ", s.message()), false, /*refuse=*/true);
      } else {
        Close(c, std::string(s.message()), true);
      }
      return false;
    }
    if (c.decoder.buffered() == 0 || was_complete) c.incomplete_since_ms = now;
    if (buffered_bytes_ > options_.max_buffered_bytes) {
      ++stats_.connections_over_budget;
      Close(c,
            absl::StrCat("over the memory budget: incomplete frames of ", buffered_bytes_,
                         " bytes across connections, this one's ", c.decoder.held_bytes(),
                         " (--max-buffered-bytes ", options_.max_buffered_bytes, ")"),
            false, /*refuse=*/true);
      return false;
    }
  }
  if (absl::Status s = FlushBlock(c); !s.ok()) {
    Close(c, std::string(s.message()), false);
    return false;
  }
  // The segment's end is acknowledged at once.
  if (c.decoder.has_trailer() && c.unsynced) {
    if (absl::Status s = SyncAndAck(c); !s.ok()) {
      Close(c, absl::StrCat("storage: ", s.message()), false);
      return false;
    }
  }
  if (c.eof) {
    if (absl::Status s = c.decoder.Finish(); !s.ok()) {
      Close(c, std::string(s.message()), true);
    } else {
      Close(c, c.decoder.has_trailer() ? "segment complete (trailer)" : "peer closed", false);
    }
    return false;
  }
  return true;
}

absl::Status Collector::OnFrame(Connection& c, const DecodedFrame& f) {
  if (f.body == v1::Frame::kHeader) {
    const v1::StreamHeader& h = f.frame->header();
    if (ssl_ctx_ != nullptr && !options_.any_sensor_id &&
        std::find(c.cert_names.begin(), c.cert_names.end(), h.sensor_id()) == c.cert_names.end()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "sensor id '", SanitizeDirName(h.sensor_id()),
          "' is not a name of the peer's certificate (CN or DNS subjectAltName: ",
          c.cert_names.empty() ? "none" : absl::StrJoin(c.cert_names, ", "),
          "); enrol the sensor with a certificate that names it, or run with --any-sensor-id"));
    }
    const auto key = std::make_pair(h.sensor_id(), h.run_id());
    RunState& run = runs_[key];
    run.sensor_id = key.first;
    run.run_id = key.second;
    c.run = &run;
    const std::string dir = absl::StrCat(options_.dir, "/", SanitizeDirName(h.sensor_id()));
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot create ", dir));
    }
    v1::StreamHeader run_header = h;
    run_header.clear_first_sequence();
    absl::StatusOr<std::unique_ptr<exporter::SegmentSink>> sink =
        options_.sink_factory(dir, run_header);
    if (!sink.ok()) return sink.status();
    c.sink = *std::move(sink);
    if (absl::Status s = c.sink->Begin(run_header); !s.ok()) return s;
    c.covered = c.acked = c.decoder.first_sequence() - 1;
    Log(absl::StrCat("conn ", c.id, " ", c.peer, ": sensor ", h.sensor_id(), " run ", h.run_id(),
                     " from sequence ", c.decoder.first_sequence()));
    return absl::OkStatus();
  }
  if (f.body == v1::Frame::kTrailer) {
    // The sink writes its own trailer (its counts, which skip duplicates)
    // at Close, with the run's drops and end time from the sensor's.
    c.end = {f.sequence, f.frame->trailer().records_dropped(), f.frame->trailer().end_time_us()};
    return FlushBlock(c);
  }
  // A data frame.
  ++stats_.frames;
  ++c.frames;
  const bool is_record = f.body == v1::Frame::kRecord;
  if (is_record) ++stats_.records;
  if (!c.run->held.Contains(f.sequence) && c.run->pending.Contains(f.sequence)) {
    SyncPendingCopy(c, f.sequence);
  }
  if (c.run->held.Contains(f.sequence)) {
    if (absl::Status s = FlushBlock(c); !s.ok()) return s;
    ++stats_.duplicates;
    ++c.duplicates;
    ++c.run->duplicates;
    auto& d = c.run->duplicate_ranges;
    if (!d.empty() && d.back().second + 1 == f.sequence) {
      d.back().second = f.sequence;
    } else if (d.size() < 1000) {
      d.emplace_back(f.sequence, f.sequence);
    }
    c.covered = f.sequence;
    // Its copy is durable; the ack that covers it goes out at this
    // connection's next sync.
    if (!c.unsynced) c.unsynced_since_ms = NowMs();
    c.unsynced = true;
    return absl::OkStatus();
  }
  if (c.block.empty()) c.block_info = {f.sequence, 0, 0};
  c.block.append(reinterpret_cast<const char*>(f.wire.data()), f.wire.size());
  ++c.block_info.frames;
  c.block_info.records += is_record;
  if (options_.consumer != nullptr && is_record) {
    c.batch_seq.push_back(f.sequence);
    c.batch.push_back(f.frame->record());
  }
  if (c.block.size() >= exporter::kBlockBytes) return FlushBlock(c);
  return absl::OkStatus();
}

absl::Status Collector::FlushBlock(Connection& c) {
  if (c.block.empty()) return absl::OkStatus();
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(c.block.data()),
                                       c.block.size());
  const uint64_t first = c.block_info.first_sequence, end = first + c.block_info.frames;
  // Pending from the write on (a block never outlives the read that filled
  // it, ReadSome): a resend on another connection meanwhile waits for this
  // copy's fsync (or its failure) instead of storing twice.
  c.unsynced_seqs.Add(first, end);
  c.run->pending.Add(first, end);
  absl::Status s = c.sink->Write(bytes, c.block_info);
  if (!s.ok()) return s;  // the caller closes c; Destroy drops its pending frames
  stats_.frames_stored += c.block_info.frames;
  c.covered = end - 1;
  if (!c.unsynced) c.unsynced_since_ms = NowMs();
  c.unsynced = true;
  c.block.clear();
  // A block that held a large snapshot frame is not kept at that size.
  if (c.block.capacity() > 2 * exporter::kMaxFrameBytes) std::string().swap(c.block);
  return absl::OkStatus();
}

absl::Status Collector::SyncAndAck(Connection& c) {
  if (c.sink == nullptr) return absl::OkStatus();
  if (absl::Status s = FlushBlock(c); !s.ok()) return s;
  if (!c.unsynced) return absl::OkStatus();
  if (absl::Status s = c.sink->Sync(); !s.ok()) return s;
  // Durable: only now do these frames count as held, so a resend of them
  // is a duplicate.
  for (const auto& [lo, hi] : c.unsynced_seqs.ranges()) {
    c.run->held.Add(lo, hi);
    c.run->pending.Remove(lo, hi);
  }
  c.unsynced_seqs = SequenceSet();
  ++stats_.syncs;
  c.unsynced = false;
  if (options_.consumer != nullptr && !c.batch.empty()) {
    DurableBatch b{c.run->sensor_id, c.run->run_id, c.batch_seq.front(), c.batch_seq, c.batch};
    if (absl::Status s = options_.consumer->OnDurable(b); !s.ok()) {
      ++stats_.consumer_errors;
      Log(absl::StrCat("conn ", c.id, ": consumer: ", s.message()));
    }
    c.batch.clear();
    c.batch_seq.clear();
  }
  if (c.covered > c.acked) {
    v1::CollectorAck ack;
    ack.set_run_id(c.run->run_id);
    ack.set_durable_sequence(c.covered);
    SendAck(c, ack);
    c.acked = c.covered;
  }
  return absl::OkStatus();
}

void Collector::SyncPendingCopy(Connection& c, uint64_t seq) {
  for (auto& [id, o] : conns_) {
    if (o.get() == &c || o->fd < 0 || o->run != c.run || !o->unsynced_seqs.Contains(seq)) {
      continue;
    }
    if (absl::Status s = SyncAndAck(*o); !s.ok()) {
      Close(*o, absl::StrCat("storage: ", s.message()), false);
    }
  }
}

void Collector::SendAck(Connection& c, const v1::CollectorAck& ack) {
  const std::string body = ack.SerializeAsString();
  uint8_t prefix[exporter::kMaxVarintBytes];
  uint8_t* end = exporter::PutVarint(body.size(), prefix);
  // Acks are cumulative: an unsent one is superseded by the next, so a peer
  // that does not read costs at most one ack (errors are kept).
  if (!c.out.empty() && ack.error().empty() && c.want_write) c.out.clear();
  c.out.append(reinterpret_cast<const char*>(prefix), static_cast<size_t>(end - prefix));
  c.out += body;
  ++stats_.acks;
  TryWrite(c);
}

void Collector::TryWrite(Connection& c) {
  while (!c.out.empty()) {
    ssize_t n;
    if (c.ssl != nullptr) {
      ERR_clear_error();
      n = SSL_write(c.ssl, c.out.data(), static_cast<int>(c.out.size()));
      if (n <= 0) {
        const int err = SSL_get_error(c.ssl, static_cast<int>(n));
        if (err != SSL_ERROR_WANT_WRITE && err != SSL_ERROR_WANT_READ) c.out.clear();
        break;
      }
    } else {
      n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) c.out.clear();
        break;
      }
    }
    c.out.erase(0, static_cast<size_t>(n));
  }
  const bool want = !c.out.empty();
  if (want != c.want_write && c.fd >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (want ? uint32_t{EPOLLOUT} : 0u);
    ev.data.u64 = c.id;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_write = want;
  }
}

void Collector::Close(Connection& c, const std::string& reason, bool bad_frame, bool refuse) {
  // What was stored before the end is durable and acknowledged first.
  absl::Status stored = FlushBlock(c);
  if (stored.ok()) stored = SyncAndAck(c);
  if (c.sink != nullptr && !c.ended) {
    c.ended = true;
    // A segment that ended with its trailer ends with one in the file too;
    // otherwise the file stays a valid segment without trailer.
    absl::Status s = c.decoder.has_trailer() && stored.ok() ? c.sink->End(c.end) : c.sink->Abort();
    if (!s.ok() && stored.ok()) stored = s;
  }
  std::string error = bad_frame || refuse ? reason : "";
  if (!stored.ok()) error = absl::StrCat("storage: ", stored.message());
  if (bad_frame) ++stats_.bad_frames[BadFrameReason(reason)];
  if (!error.empty()) {
    v1::CollectorAck ack;
    if (c.run != nullptr) ack.set_run_id(c.run->run_id);
    ack.set_error(error.substr(0, 3000));
    SendAck(c, ack);
  }
  std::string what = absl::StrCat("conn ", c.id, " ", c.peer);
  if (c.run != nullptr) {
    absl::StrAppend(&what, " sensor ", c.run->sensor_id, " run ", c.run->run_id, ": ", c.frames,
                    " frames (", c.duplicates, " duplicates) up to sequence ", c.acked);
  }
  Log(absl::StrCat(what, ": closed: ", bad_frame ? "bad frame: " : "", reason,
                   stored.ok() ? "" : absl::StrCat(" (storage: ", stored.message(), ")")));
  Destroy(c);
}

void Collector::Destroy(Connection& c) {
  if (c.fd < 0) return;
  buffered_bytes_ -= c.decoder.held_bytes();
  // What it stored but never fsync'd is not held: a resend stores it again.
  if (c.run != nullptr) {
    for (const auto& [lo, hi] : c.unsynced_seqs.ranges()) c.run->pending.Remove(lo, hi);
    c.unsynced_seqs = SequenceSet();
  }
  if (c.ssl != nullptr) {
    if (!c.handshaking) SSL_shutdown(c.ssl);
    SSL_free(c.ssl);
    c.ssl = nullptr;
  }
  if (c.sink != nullptr && !c.ended) {
    c.ended = true;
    (void)c.sink->Abort();
  }
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  ::close(c.fd);
  c.fd = -1;
  ++stats_.connections_closed;
}

void Collector::OnReadable(Connection& c) {
  if (c.handshaking) {
    if (!Handshake(c)) return;
    if (c.handshaking) return;
  }
  ReadSome(c, 4 << 20);
}

void Collector::Timers() {
  const uint64_t now = NowMs();
  std::vector<Connection*> due;
  for (auto& [id, c] : conns_) due.push_back(c.get());
  for (Connection* c : due) {
    if (c->fd < 0) continue;
    if (c->unsynced && now - c->unsynced_since_ms >= options_.sync_interval_ms) {
      if (absl::Status s = SyncAndAck(*c); !s.ok()) {
        Close(*c, absl::StrCat("storage: ", s.message()), false);
        continue;
      }
    }
    const uint64_t t = options_.idle_timeout_ms;
    if (now - c->last_byte_ms >= t) {
      ++stats_.connections_timed_out["idle"];
      Close(*c, absl::StrCat("idle: no byte for ", t / 1000.0, " s (--idle-timeout)"), false);
    } else if ((c->handshaking || c->decoder.buffered() > 0) && now - c->incomplete_since_ms >= t) {
      ++stats_.connections_timed_out["slow"];
      Close(*c,
            absl::StrCat("too slow: ", c->handshaking ? "TLS handshake" : "a frame",
                         " incomplete after ", t / 1000.0, " s (--idle-timeout)"),
            false);
    }
  }
  for (auto it = conns_.begin(); it != conns_.end();) {
    it = it->second->fd < 0 ? conns_.erase(it) : std::next(it);
  }
}

absl::Status Collector::Run() {
  std::vector<epoll_event> events(256);
  while (!stopping_) {
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                             static_cast<int>(std::min<uint64_t>(options_.sync_interval_ms, 100)));
    if (n < 0 && errno != EINTR) return absl::ErrnoToStatus(errno, "epoll_wait");
    for (int i = 0; i < n; ++i) {
      const uint64_t id = events[i].data.u64;
      if (id == 0) {
        Accept();
        continue;
      }
      if (id == UINT64_MAX) {
        stopping_ = true;
        continue;
      }
      auto it = conns_.find(id);
      if (it == conns_.end() || it->second->fd < 0) continue;
      Connection& c = *it->second;
      if (events[i].events & EPOLLOUT) TryWrite(c);
      if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) OnReadable(c);
    }
    if (NowMs() - last_timer_ms_ >= 50) {
      last_timer_ms_ = NowMs();
      Timers();
    }
  }
  // SIGTERM: no new peers; what already arrived is decoded, stored, synced
  // and acknowledged; every segment is closed.
  Log("stopping: finishing in-flight frames");
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
  ::close(listen_fd_);
  listen_fd_ = -1;
  for (auto& [id, c] : conns_) {
    if (c->fd < 0) continue;
    if (c->handshaking) {
      Destroy(*c);
      continue;
    }
    if (!ReadSome(*c, 64u << 20)) continue;
    const std::string reason = "collector stopping";
    if (c->decoder.buffered() > 0) {
      Log(absl::StrCat("conn ", c->id, ": dropping an incomplete frame of ", c->decoder.buffered(),
                       " bytes (not acknowledged)"));
    }
    Close(*c, reason, false);
    // The final ack goes out before the socket closes (Destroy); a peer that
    // does not read it resends from its last ack, which is at-least-once.
  }
  conns_.clear();
  Log(Summary());
  return absl::OkStatus();
}

std::string Collector::Summary() const {
  std::string s = absl::StrCat("summary: connections accepted ", stats_.connections_accepted,
                               ", closed ", stats_.connections_closed, ", refused {");
  std::vector<std::string> parts;
  for (const auto& [k, v] : stats_.connections_refused) parts.push_back(absl::StrCat(k, ": ", v));
  absl::StrAppend(&s, absl::StrJoin(parts, ", "), "}, timed out {");
  parts.clear();
  for (const auto& [k, v] : stats_.connections_timed_out) {
    parts.push_back(absl::StrCat(k, ": ", v));
  }
  absl::StrAppend(&s, absl::StrJoin(parts, ", "), "}, over memory budget ",
                  stats_.connections_over_budget, "; frames ", stats_.frames, " (stored ",
                  stats_.frames_stored, ", duplicates ", stats_.duplicates, "), records ",
                  stats_.records, ", bytes ", stats_.bytes, ", syncs ", stats_.syncs, ", acks ",
                  stats_.acks, "; bad frames {");
  parts.clear();
  for (const auto& [k, v] : stats_.bad_frames) parts.push_back(absl::StrCat(k, ": ", v));
  absl::StrAppend(&s, absl::StrJoin(parts, ", "), "}");
  for (const auto& [key, run] : runs_) {
    const auto gaps = run.held.Gaps();
    std::vector<std::string> g, d;
    for (const auto& [lo, hi] : gaps) g.push_back(absl::StrCat(lo, "-", hi - 1));
    for (const auto& [lo, hi] : run.duplicate_ranges) d.push_back(absl::StrCat(lo, "-", hi));
    absl::StrAppend(&s, "\n  sensor ", run.sensor_id, " run ", run.run_id, ": holds ",
                    run.held.size(), " frames (", run.held.ToString(), "), gaps ",
                    g.empty() ? "none" : absl::StrJoin(g, ","), ", duplicates ", run.duplicates,
                    d.empty() ? "" : absl::StrCat(" (", absl::StrJoin(d, ","), ")"));
  }
  return s;
}

std::string Collector::StatsJson() const {
  auto map_json = [](const std::map<std::string, uint64_t>& m) {
    std::vector<std::string> parts;
    for (const auto& [k, v] : m) parts.push_back(absl::StrCat("\"", k, "\": ", v));
    return absl::StrCat("{", absl::StrJoin(parts, ", "), "}");
  };
  uint64_t gaps = 0;
  std::vector<std::string> runs;
  for (const auto& [key, run] : runs_) {
    std::vector<std::string> g, d;
    for (const auto& [lo, hi] : run.held.Gaps()) {
      g.push_back(absl::StrCat("[", lo, ", ", hi - 1, "]"));
      gaps += hi - lo;
    }
    for (const auto& [lo, hi] : run.duplicate_ranges)
      d.push_back(absl::StrCat("[", lo, ", ", hi, "]"));
    std::vector<std::string> h;
    for (const auto& [lo, hi] : run.held.ranges())
      h.push_back(absl::StrCat("[", lo, ", ", hi - 1, "]"));
    // Ids are sanitized for the JSON (only [A-Za-z0-9.-] survive).
    runs.push_back(absl::StrCat("{\"sensor_id\": \"", SanitizeDirName(run.sensor_id),
                                "\", \"run_id\": \"", SanitizeDirName(run.run_id),
                                "\", \"frames\": ", run.held.size(), ", \"held\": [",
                                absl::StrJoin(h, ", "), "], \"gaps\": [", absl::StrJoin(g, ", "),
                                "], \"duplicates\": ", run.duplicates, ", \"duplicate_ranges\": [",
                                absl::StrJoin(d, ", "), "]}"));
  }
  return absl::StrCat(
      "{\"connections_accepted\": ", stats_.connections_accepted,
      ", \"connections_closed\": ", stats_.connections_closed,
      ", \"connections_refused\": ", map_json(stats_.connections_refused),
      ", \"connections_timed_out\": ", map_json(stats_.connections_timed_out),
      ", \"connections_over_budget\": ", stats_.connections_over_budget,
      ", \"frames\": ", stats_.frames, ", \"frames_stored\": ", stats_.frames_stored,
      ", \"records\": ", stats_.records, ", \"duplicates\": ", stats_.duplicates,
      ", \"gap_frames\": ", gaps, ", \"bytes\": ", stats_.bytes,
      ", \"bad_frames\": ", map_json(stats_.bad_frames), ", \"syncs\": ", stats_.syncs,
      ", \"acks\": ", stats_.acks, ", \"consumer_errors\": ", stats_.consumer_errors,
      ", \"runs\": [", absl::StrJoin(runs, ", "), "]}\n");
}

}  // namespace flowtrail::collect
