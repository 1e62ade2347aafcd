// weftd: the per-host sidecar that makes streams persistent. `weftd --help` explains it; docs/sidecar.md
// specifies what it speaks, docs/log-format.md what it writes.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "log/posix_file_system.hpp"
#include "process_lock.hpp"
#include "sidecar/sidecar_endpoint.hpp"
#include "util/log.hpp"
#include "weftd.hpp"
#include "zmq_server_transport.hpp"

namespace {

using weft::detail::weftd::Weftd;
using Clock = weft::detail::Clock;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// The longest the loop sleeps: it looks at the stop flag at least this often.
constexpr std::chrono::milliseconds kMaxSleep{500};

std::atomic<int> g_signal{0};
int g_wake_write = -1;

extern "C" void on_signal(int number) {
  const int saved = errno;
  g_signal.store(number);
  const char byte = 1;
  [[maybe_unused]] ssize_t n = ::write(g_wake_write, &byte, 1);
  errno = saved;
}

// The ipc socket file weftd bound, to remove at a clean exit: only if it is still the file weftd made (the same
// inode), and only while weftd still holds the socket's lock, so that another weftd's socket is never removed.
class SocketFile {
 public:
  SocketFile() = default;
  explicit SocketFile(std::string path) : path_(std::move(path)) {
    struct stat st = {};
    if (::stat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      device_ = st.st_dev;
      inode_ = st.st_ino;
      known_ = true;
    }
  }
  // Removes it if it is still ours; says what happened when it was not removed.
  void remove(const weft::detail::Logger& logger) const {
    if (!known_) return;
    struct stat st = {};
    if (::stat(path_.c_str(), &st) != 0) return;  // gone already
    if (st.st_dev != device_ || st.st_ino != inode_) {
      logger.warn("the socket " + path_ + " was replaced by another process: left in place");
      return;
    }
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
      logger.warn("cannot remove the socket " + path_ + ": " + std::strerror(errno));
    }
  }

 private:
  std::string path_;
  dev_t device_ = 0;
  ino_t inode_ = 0;
  bool known_ = false;
};

std::string_view level_name(weft::LogLevel level) {
  switch (level) {
    case weft::LogLevel::kDebug: return "debug";
    case weft::LogLevel::kInfo: return "info";
    case weft::LogLevel::kWarning: return "warning";
    case weft::LogLevel::kError: return "ERROR";
  }
  return "log";
}

int run(weft::detail::weftd::WeftdOptions options) {
  weft::LogLevel threshold = options.log_level;
  weft::detail::Logger logger(
      [threshold](weft::LogLevel level, std::string_view line) {
        if (level < threshold) return;
        std::fprintf(stderr, "weftd: %.*s: %.*s\n", static_cast<int>(level_name(level).size()),
                     level_name(level).data(), static_cast<int>(line.size()), line.data());
        std::fflush(stderr);
      },
      "");
  auto fail = [&](const std::string& what) {
    logger.error(what);
    return kExitFailure;
  };

  weft::detail::log::PosixFileSystem fs;
  if (weft::Status s = fs.make_dir(options.data_dir); !s) return fail("data directory: " + s.to_string());
  // Absolute from here on: DELIVER_FILE names segment files to clients that run in other directories.
  if (std::error_code ec; !options.data_dir.empty() && options.data_dir.front() != '/') {
    auto absolute = std::filesystem::absolute(options.data_dir, ec);
    if (ec) return fail("data directory " + options.data_dir + ": " + ec.message());
    options.data_dir = absolute.lexically_normal().string();
    while (options.data_dir.size() > 1 && options.data_dir.back() == '/') options.data_dir.pop_back();
  }
  auto data_lock = weft::detail::weftd::ProcessLock::acquire(options.data_dir + "/LOCK",
                                                            "the data directory " + options.data_dir);
  if (!data_lock) return fail(data_lock.status().message());

  std::vector<std::string> endpoints;
  endpoints.push_back(options.endpoint.empty() ? weft::detail::sidecar::default_sidecar_endpoint() : options.endpoint);
  endpoints.insert(endpoints.end(), options.tcp.begin(), options.tcp.end());
  // ZeroMQ replaces a stale ipc socket file; this lock keeps it from replacing a live weftd's.
  std::optional<weft::detail::weftd::ProcessLock> socket_lock;
  if (const std::string path = weft::detail::sidecar::ipc_path(endpoints.front()); !path.empty()) {
    if (weft::Status s = weft::detail::sidecar::prepare_ipc_directory(endpoints.front()); !s) return fail(s.to_string());
    auto lock = weft::detail::weftd::ProcessLock::acquire(path + ".lock", "the socket " + path);
    if (!lock) return fail(lock.status().message());
    socket_lock.emplace(std::move(*lock));
  }

  int wake[2];
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) return fail(std::string("pipe: ") + std::strerror(errno));
  g_wake_write = wake[1];
  struct sigaction action = {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  const Clock& clock = weft::detail::SystemClock::instance();
  // Bound before the streams are opened: a client that connects during recovery waits for its answer.
  auto transport = weft::detail::weftd::ZmqServerTransport::bind(endpoints);
  if (!transport) return fail(transport.status().to_string());
  // The socket lock is held: the file just bound is this weftd's.
  SocketFile socket_file;
  if (socket_lock) socket_file = SocketFile(weft::detail::sidecar::ipc_path(endpoints.front()));
  auto opened = Weftd::open(options, fs, clock, **transport, logger, (*transport)->endpoints());
  if (!opened) return fail("cannot start: " + opened.status().to_string());
  Weftd& weftd = **opened;
  for (const std::string& endpoint : (*transport)->endpoints()) {
    std::fprintf(stderr, "weftd: listening on %s\n", endpoint.c_str());
  }
  // Scripts and service managers wait for this line.
  std::fprintf(stderr, "weftd: ready (pid %d, data %s)\n", static_cast<int>(::getpid()), options.data_dir.c_str());
  std::fflush(stderr);

  while (g_signal.load() == 0) {
    const auto now = clock.now();
    if (weftd.do_work(now) > 0) continue;
    const auto due = weftd.next_deadline(now).value_or(now + kMaxSleep);
    // Nothing was done although something is due (a client's queue is full): sleep a little all the same.
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(due - clock.now());
    wait = std::clamp(wait, std::chrono::milliseconds(1), kMaxSleep);
    (void)(*transport)->wait(wait, wake[0]);
  }

  logger.log(weft::LogLevel::kInfo, std::string("stopping (") + ::strsignal(g_signal.load()) +
                                        "): refusing new work, syncing every stream");
  (*transport)->unbind_all();
  weftd.close();
  // What was read before the signal is answered: one more round, then the stop fsyncs and answers the rest.
  (void)weftd.do_work(clock.now());
  const weft::Status stopped = weftd.stop();
  (*transport)->linger(std::chrono::milliseconds(500));
  const auto& c = weftd.server().counters();
  logger.log(weft::LogLevel::kInfo, "stopped: " + std::to_string(c.messages_appended) + " messages appended, " +
                                        std::to_string(c.deliveries) + " delivered, " + std::to_string(c.malformed()) +
                                        " malformed requests");
  opened->reset();
  transport->reset();
  socket_file.remove(logger);  // still under the socket's lock, released when run() returns
  if (!stopped) {
    logger.error("a stream did not stop cleanly: " + stopped.to_string());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = weft::detail::weftd::parse_weftd_options(argc, argv, std::cout);
  if (!parsed) {
    std::fprintf(stderr, "weftd: %s (see `weftd --help`)\n", parsed.status().message().c_str());
    return kExitUsage;
  }
  if (parsed->exit_code) return *parsed->exit_code;
  return run(parsed->options);
}
