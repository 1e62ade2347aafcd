#include "bench/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <thread>

extern char** environ;

namespace weft::cli::bench {

namespace {

Status os_error(std::string_view what) {
  return Status::io_error(std::string(what) + ": " + std::strerror(errno));
}

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

int poll_timeout_ms(BenchClock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - BenchClock::now()).count();
  if (left < 0) return 0;
  return left > INT_MAX ? INT_MAX : static_cast<int>(left);
}

}  // namespace

Result<PeerProcess> PeerProcess::spawn(const std::vector<std::string>& args) {
  // Close-on-exec, so that a peer inherits only its own two ends (dup2 clears the flag on those): a second
  // peer holding the first one's input open would keep it from ever seeing its release.
  int to_peer[2];
  int from_peer[2];
  if (::pipe2(to_peer, O_CLOEXEC) != 0) return os_error("pipe2");
  if (::pipe2(from_peer, O_CLOEXEC) != 0) {
    Status failure = os_error("pipe2");
    ::close(to_peer[0]);
    ::close(to_peer[1]);
    return failure;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_peer[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, from_peer[1], STDOUT_FILENO);

  std::vector<std::string> words{"weft", "bench-peer"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);

  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(to_peer[0]);
  ::close(from_peer[1]);
  if (rc != 0) {
    ::close(to_peer[1]);
    ::close(from_peer[0]);
    return Status::io_error(std::string("posix_spawn: ") + std::strerror(rc));
  }
  return PeerProcess(pid, to_peer[1], from_peer[0]);
}

PeerProcess::PeerProcess(PeerProcess&& other) noexcept
    : pid_(other.pid_),
      to_peer_(other.to_peer_),
      from_peer_(other.from_peer_),
      buffer_(std::move(other.buffer_)),
      exit_status_(std::move(other.exit_status_)) {
  other.pid_ = -1;
  other.to_peer_ = -1;
  other.from_peer_ = -1;
}

PeerProcess& PeerProcess::operator=(PeerProcess&& other) noexcept {
  if (this != &other) {
    (void)finish(kExitGrace);
    pid_ = other.pid_;
    to_peer_ = other.to_peer_;
    from_peer_ = other.from_peer_;
    buffer_ = std::move(other.buffer_);
    exit_status_ = std::move(other.exit_status_);
    other.pid_ = -1;
    other.to_peer_ = -1;
    other.from_peer_ = -1;
  }
  return *this;
}

PeerProcess::~PeerProcess() {
  (void)finish(kExitGrace);
}

Result<std::string> PeerProcess::read_line(BenchClock::time_point deadline) {
  while (true) {
    auto newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return line;
    }
    if (from_peer_ < 0) return Status::closed("the peer has exited");
    if (BenchClock::now() >= deadline) return Status::timeout("the peer said nothing in time");
    pollfd item{from_peer_, POLLIN, 0};
    int ready = ::poll(&item, 1, poll_timeout_ms(deadline));
    if (ready < 0 && errno != EINTR) return os_error("poll");
    if (ready <= 0) continue;
    char chunk[4096];
    ssize_t n = ::read(from_peer_, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return os_error("reading from the peer");
    }
    if (n == 0) {
      close_fd(from_peer_);
      if (!buffer_.empty()) buffer_ += '\n';  // a last line without its newline
      continue;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

void PeerProcess::release() noexcept {
  close_fd(to_peer_);
}

Status PeerProcess::finish(std::chrono::milliseconds grace) {
  release();
  if (pid_ < 0) return exit_status_;
  auto deadline = BenchClock::now() + grace;
  int status = 0;
  bool killed = false;
  while (true) {
    pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) break;
    if (done < 0 && errno != EINTR) {
      exit_status_ = os_error("waitpid");
      close_all();
      return exit_status_;
    }
    if (BenchClock::now() >= deadline) {
      ::kill(pid_, SIGKILL);  // by pid: this peer and nothing else
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      killed = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const std::string who = "peer " + std::to_string(pid_);
  if (killed) {
    exit_status_ = Status::timeout(who + " did not exit within " + std::to_string(grace.count()) + " ms; killed");
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    exit_status_ = Status::ok();
  } else if (WIFEXITED(status)) {
    exit_status_ = Status::internal(who + " exited with status " + std::to_string(WEXITSTATUS(status)));
  } else {
    exit_status_ = Status::internal(who + " died of signal " + std::to_string(WTERMSIG(status)));
  }
  close_all();
  return exit_status_;
}

void PeerProcess::close_all() noexcept {
  pid_ = -1;
  close_fd(to_peer_);
  close_fd(from_peer_);
}

Status ParentLink::attach(pid_t parent, int cpu, std::string_view name) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return os_error("prctl(PR_SET_PDEATHSIG)");
  // Started as /proc/self/exe, the peer would show as "exe" in ps, top and perf.
  std::string short_name(name.substr(0, 15));
  (void)::prctl(PR_SET_NAME, short_name.c_str());
  // The bench may have died between spawning this peer and the line above; then nobody would kill it.
  if (::getppid() != parent) return Status::closed("the bench is gone");
  if (cpu < 0) return Status::ok();
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (::sched_setaffinity(0, sizeof set, &set) != 0) return os_error("pinning to CPU " + std::to_string(cpu));
  return Status::ok();
}

void ParentLink::say(std::string_view line) {
  std::string out(line);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  out += '\n';
  const char* data = out.data();
  std::size_t left = out.size();
  while (left > 0) {
    ssize_t n = ::write(STDOUT_FILENO, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // the bench is gone; the death signal follows
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
}

void ParentLink::wait_for_release() {
  char byte;
  while (true) {
    ssize_t n = ::read(STDIN_FILENO, &byte, 1);
    if (n > 0 || (n < 0 && errno == EINTR)) continue;
    return;  // end of file: released
  }
}

bool ParentLink::released() {
  pollfd item{STDIN_FILENO, POLLIN, 0};
  if (::poll(&item, 1, 0) <= 0) return false;
  char byte;
  ssize_t n = ::read(STDIN_FILENO, &byte, 1);
  return n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN);
}

}  // namespace weft::cli::bench
