#include "bench/server_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "bench/peer_spec.hpp"
#include "bench/process.hpp"

namespace weft::cli::bench {

namespace {

namespace fs = std::filesystem;

constexpr std::chrono::seconds kReadyTimeout{15};

bool executable(const fs::path& path) {
  return ::access(path.c_str(), X_OK) == 0 && fs::is_regular_file(path);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string tail_of(const std::string& text) {
  constexpr std::size_t kTail = 600;
  return text.size() > kTail ? "..." + text.substr(text.size() - kTail) : text;
}

// Waits up to `grace` for the child to exit; its raw wait status, or nothing when it is still running.
std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds grace) {
  const auto deadline = BenchClock::now() + grace;
  int status = 0;
  while (true) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0 && errno != EINTR) return status;  // not our child any more: treat as gone
    if (BenchClock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

Result<std::string> find_weftd(const std::string& explicit_path) {
  if (!explicit_path.empty()) {
    if (executable(explicit_path)) return explicit_path;
    return Status::not_found("--weftd " + explicit_path + " is not an executable file");
  }
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  std::vector<fs::path> candidates;
  if (!error) {
    candidates.push_back(self.parent_path() / "weftd");
    candidates.push_back(self.parent_path().parent_path() / "daemon" / "weftd");  // the build tree
  }
  if (const char* path = std::getenv("PATH")) {
    std::string dirs(path);
    std::size_t from = 0;
    while (from <= dirs.size()) {
      std::size_t colon = dirs.find(':', from);
      if (colon == std::string::npos) colon = dirs.size();
      if (colon > from) candidates.push_back(fs::path(dirs.substr(from, colon - from)) / "weftd");
      from = colon + 1;
    }
  }
  for (const auto& candidate : candidates) {
    if (executable(candidate)) return candidate.string();
  }
  return Status::not_found("no weftd beside this weft binary, in ../daemon/ or on $PATH; give --weftd PATH");
}

Result<ServerProcess> ServerProcess::in_new_directory(std::string name, const std::string& parent) {
  std::string base = parent;
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  std::string pattern = base + "/weft-bench-" + name + ".XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    return Status::io_error("creating a directory under " + base + ": " + std::strerror(errno));
  }
  return ServerProcess(std::move(name), pattern);
}

Status ServerProcess::launch(std::vector<std::string> words) {
  const fs::path log = fs::path(directory_) / "server.log";
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) return Status::io_error("opening " + log.string() + ": " + std::strerror(errno));
  const pid_t bench = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return Status::io_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // The child: the server goes when the bench goes, and writes its lines to the log.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != bench) ::_exit(1);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
  return Status::ok();
}

Status ServerProcess::wait_ready(const std::function<std::optional<std::string>()>& ready) {
  const fs::path log = fs::path(directory_) / "server.log";
  const auto deadline = BenchClock::now() + kReadyTimeout;
  while (true) {
    if (auto endpoint = ready()) {
      endpoint_ = std::move(*endpoint);
      return Status::ok();
    }
    if (auto status = wait_exit(pid_, std::chrono::milliseconds(0))) {
      pid_ = -1;
      return Status::internal(name_ + " exited before it was ready (status " + std::to_string(*status) +
                              "): " + tail_of(read_file(log)));
    }
    if (BenchClock::now() >= deadline) {
      return Status::timeout(name_ + " was not ready within " + std::to_string(kReadyTimeout.count()) +
                             " s: " + tail_of(read_file(log)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Result<ServerProcess> ServerProcess::start_weftd(const std::string& binary, const std::string& parent, Fsync fsync) {
  auto server = in_new_directory("weftd", parent);
  if (!server) return server.status();
  const fs::path dir(server->directory());
  const fs::path config = dir / "weftd.conf";
  {
    std::ofstream out(config);
    out << "[stream." << kPersistStream << "]\n"
        << "subjects = bench.>\n"
        << "fsync = " << name_of(fsync) << "\n";
    if (!out) return Status::io_error("writing " + config.string());
  }
  const std::string endpoint = "ipc://" + (dir / "weftd.sock").string();
  Status launched = server->launch({binary, "--config", config.string(), "--data-dir", (dir / "data").string(),
                                    "--endpoint", endpoint, "--log-level", "warning"});
  if (!launched) return launched;
  const fs::path log = dir / "server.log";
  Status ready = server->wait_ready([&]() -> std::optional<std::string> {
    if (read_file(log).find("weftd: ready") == std::string::npos) return std::nullopt;
    return endpoint;
  });
  if (!ready) return ready;
  return std::move(*server);
}

Result<ServerProcess> ServerProcess::start_nats(const std::string& parent) {
  auto server = in_new_directory("nats", parent);
  if (!server) return server.status();
  const fs::path dir(server->directory());
  Status launched = server->launch({"nats-server", "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", dir.string(),
                                    "-js", "-sd", (dir / "store").string()});
  if (!launched) return launched;
  const pid_t pid = server->pid_;
  Status ready = server->wait_ready([&]() -> std::optional<std::string> {
    // {"nats":["nats://127.0.0.1:4222"],...}
    const std::string ports = read_file(dir / ("nats-server_" + std::to_string(pid) + ".ports"));
    const std::string key = "\"nats\":[\"";
    const auto at = ports.find(key);
    if (at == std::string::npos) return std::nullopt;
    const auto end = ports.find('"', at + key.size());
    if (end == std::string::npos) return std::nullopt;
    return ports.substr(at + key.size(), end - at - key.size());
  });
  if (!ready) return ready;
  return std::move(*server);
}

ServerProcess::ServerProcess(ServerProcess&& other) noexcept
    : name_(std::move(other.name_)),
      pid_(other.pid_),
      directory_(std::move(other.directory_)),
      endpoint_(std::move(other.endpoint_)),
      stopped_(std::move(other.stopped_)) {
  other.pid_ = -1;
  other.directory_.clear();
}

ServerProcess::~ServerProcess() {
  (void)stop();
  if (!directory_.empty()) {
    std::error_code ignored;
    fs::remove_all(directory_, ignored);
  }
}

Status ServerProcess::stop() {
  if (pid_ < 0) return stopped_;
  ::kill(pid_, SIGTERM);  // by pid: this server and nothing else
  auto status = wait_exit(pid_, kExitGrace);
  if (!status) {
    ::kill(pid_, SIGKILL);
    int ignored = 0;
    while (::waitpid(pid_, &ignored, 0) < 0 && errno == EINTR) {
    }
    stopped_ = Status::timeout(name_ + " did not stop within " + std::to_string(kExitGrace.count()) + " ms; killed");
  } else if ((WIFEXITED(*status) && WEXITSTATUS(*status) == 0) || name_ != "weftd") {
    stopped_ = Status::ok();  // nats-server's exit status after SIGTERM is not weft's to judge
  } else {
    stopped_ = Status::internal(name_ + " stopped with status " + std::to_string(*status) + ": " +
                                tail_of(read_file(fs::path(directory_) / "server.log")));
  }
  pid_ = -1;
  return stopped_;
}

}  // namespace weft::cli::bench
