#include "weft_testing/fake_file_system.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>

namespace weft::testing {

using detail::log::File;
using detail::log::OpenMode;

namespace {

struct Node {
  std::vector<std::byte> data;
  std::vector<std::byte> durable;
  // Bytes [poison_from, poison_to) of `data` were pending when a sync failed: the next "successful" sync
  // persists zeros in their place.
  bool poisoned = false;
  std::size_t poison_from = 0;
  std::size_t poison_to = 0;
};

struct Dir {
  std::map<std::string, std::shared_ptr<Node>> live;
  std::map<std::string, std::shared_ptr<Node>> durable;
};

std::pair<std::string, std::string> split(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

std::string strip(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

}  // namespace

struct FakeFileSystem::State {
  mutable std::mutex mu;
  std::map<std::string, Dir> dirs;
  std::uint64_t generation = 0;
  struct Armed {
    Fault fault;
    std::uint64_t seen = 0;
  };
  std::vector<Armed> faults;
  std::uint64_t syncs = 0;
  std::uint64_t failed_syncs = 0;
  std::uint64_t dir_syncs = 0;

  // The injected failure for this operation, if any. Requires mu.
  const Fault* fault_for(Op op, const std::string& path) {
    for (Armed& a : faults) {
      if (a.fault.op != op || path.find(a.fault.path_contains) == std::string::npos) continue;
      ++a.seen;
      if (a.seen == a.fault.nth || (a.fault.sticky && a.seen > a.fault.nth)) return &a.fault;
    }
    return nullptr;
  }

  static Status error(std::string_view call, const std::string& path, int err) {
    return Status::io_error(std::string("fake ") + std::string(call) + " '" + path + "': " + std::strerror(err) +
                            " (errno " + std::to_string(err) + ")");
  }

  std::shared_ptr<Node> find(const std::string& path) const {
    auto [dir, name] = split(path);
    auto d = dirs.find(dir);
    if (d == dirs.end()) return nullptr;
    auto f = d->second.live.find(name);
    return f == d->second.live.end() ? nullptr : f->second;
  }

  static void sync_node(Node& n) {
    n.durable = n.data;
    if (n.poisoned) {
      const std::size_t to = std::min(n.poison_to, n.durable.size());
      for (std::size_t i = n.poison_from; i < to; ++i) n.durable[i] = std::byte{0};
      n.poisoned = false;
    }
  }
};

namespace {

class FakeFile final : public File {
 public:
  FakeFile(std::shared_ptr<FakeFileSystem::State> state, std::shared_ptr<Node> node, std::string path,
           std::uint64_t generation, bool writable)
      : state_(std::move(state)),
        node_(std::move(node)),
        path_(std::move(path)),
        generation_(generation),
        writable_(writable) {}

  Status append(std::span<const std::byte> data) override {
    std::lock_guard lock(state_->mu);
    if (Status s = usable("write", true); !s) return s;
    if (const auto* f = state_->fault_for(FakeFileSystem::Op::kAppend, path_)) {
      const std::size_t n = std::min(f->partial_bytes, data.size());
      node_->data.insert(node_->data.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
      return FakeFileSystem::State::error("write", path_, f->error);
    }
    node_->data.insert(node_->data.end(), data.begin(), data.end());
    return Status::ok();
  }

  Result<std::size_t> read_at(std::uint64_t position, std::span<std::byte> out) const override {
    std::lock_guard lock(state_->mu);
    if (Status s = usable("pread", false); !s) return s;
    if (position >= node_->data.size()) return std::size_t{0};
    const std::size_t n = std::min<std::size_t>(out.size(), node_->data.size() - position);
    std::memcpy(out.data(), node_->data.data() + position, n);
    return n;
  }

  Result<std::uint64_t> size() const override {
    std::lock_guard lock(state_->mu);
    if (Status s = usable("fstat", false); !s) return s;
    return static_cast<std::uint64_t>(node_->data.size());
  }

  Status sync() override {
    std::lock_guard lock(state_->mu);
    if (Status s = usable("fdatasync", false); !s) return s;
    if (const auto* f = state_->fault_for(FakeFileSystem::Op::kSync, path_)) {
      ++state_->failed_syncs;
      Node& n = *node_;
      const std::size_t from = std::min(n.durable.size(), n.data.size());
      if (!n.poisoned) {
        n.poisoned = true;
        n.poison_from = from;
      }
      n.poison_to = std::max(n.poison_to, n.data.size());
      return FakeFileSystem::State::error("fdatasync", path_, f->error);
    }
    FakeFileSystem::State::sync_node(*node_);
    ++state_->syncs;
    return Status::ok();
  }

  Status truncate(std::uint64_t size) override {
    std::lock_guard lock(state_->mu);
    if (Status s = usable("ftruncate", true); !s) return s;
    if (const auto* f = state_->fault_for(FakeFileSystem::Op::kTruncate, path_)) {
      return FakeFileSystem::State::error("ftruncate", path_, f->error);
    }
    node_->data.resize(static_cast<std::size_t>(size));
    return Status::ok();
  }

  [[nodiscard]] const std::string& path() const noexcept override { return path_; }

 private:
  Status usable(std::string_view call, bool write) const {
    if (generation_ != state_->generation) {
      return Status::io_error("fake " + std::string(call) + " '" + path_ + "': handle died in a simulated crash");
    }
    if (write && !writable_) return FakeFileSystem::State::error(call, path_, EBADF);
    return Status::ok();
  }

  std::shared_ptr<FakeFileSystem::State> state_;
  std::shared_ptr<Node> node_;
  std::string path_;
  std::uint64_t generation_;
  bool writable_;
};

}  // namespace

FakeFileSystem::FakeFileSystem() : state_(std::make_shared<State>()) {
  state_->dirs["/"];
  state_->dirs["."];
}

FakeFileSystem::~FakeFileSystem() = default;

Result<std::unique_ptr<File>> FakeFileSystem::open(const std::string& path, OpenMode mode) {
  std::lock_guard lock(state_->mu);
  if (const auto* f = state_->fault_for(Op::kOpen, path)) return State::error("open", path, f->error);
  auto [dir, name] = split(path);
  auto d = state_->dirs.find(dir);
  if (d == state_->dirs.end()) return Status::not_found("fake open '" + path + "': no such directory");
  auto it = d->second.live.find(name);
  std::shared_ptr<Node> node;
  if (it != d->second.live.end()) {
    node = it->second;
    if (mode == OpenMode::kCreateOrTrunc) node->data.clear();
  } else {
    if (mode != OpenMode::kCreateOrTrunc) return Status::not_found("fake open '" + path + "': no such file");
    node = std::make_shared<Node>();
    d->second.live[name] = node;
  }
  return std::unique_ptr<File>(
      std::make_unique<FakeFile>(state_, node, path, state_->generation, mode != OpenMode::kRead));
}

Status FakeFileSystem::rename(const std::string& from, const std::string& to) {
  std::lock_guard lock(state_->mu);
  if (const auto* f = state_->fault_for(Op::kRename, from)) return State::error("rename", from, f->error);
  auto [from_dir, from_name] = split(from);
  auto [to_dir, to_name] = split(to);
  auto fd = state_->dirs.find(from_dir);
  auto td = state_->dirs.find(to_dir);
  if (fd == state_->dirs.end() || td == state_->dirs.end() || !fd->second.live.contains(from_name)) {
    return Status::not_found("fake rename '" + from + "': no such file");
  }
  auto node = fd->second.live[from_name];
  fd->second.live.erase(from_name);
  td->second.live[to_name] = node;
  return Status::ok();
}

Result<std::vector<std::string>> FakeFileSystem::list_dir(const std::string& dir) {
  std::lock_guard lock(state_->mu);
  auto d = state_->dirs.find(strip(dir));
  if (d == state_->dirs.end()) return Status::not_found("fake opendir '" + dir + "': no such directory");
  std::vector<std::string> names;
  for (const auto& [name, node] : d->second.live) names.push_back(name);
  // Subdirectories are entries too.
  const std::string prefix = strip(dir) + "/";
  for (const auto& [path, unused] : state_->dirs) {
    if (path.size() > prefix.size() && path.starts_with(prefix) && path.find('/', prefix.size()) == std::string::npos) {
      names.push_back(path.substr(prefix.size()));
    }
  }
  return names;
}

Status FakeFileSystem::remove(const std::string& path) {
  std::lock_guard lock(state_->mu);
  if (const auto* f = state_->fault_for(Op::kRemove, path)) return State::error("unlink", path, f->error);
  auto [dir, name] = split(path);
  auto d = state_->dirs.find(dir);
  if (d == state_->dirs.end() || d->second.live.erase(name) == 0) {
    return Status::not_found("fake unlink '" + path + "': no such file");
  }
  return Status::ok();
}

Status FakeFileSystem::make_dir(const std::string& dir) {
  std::lock_guard lock(state_->mu);
  std::string path = strip(dir);
  for (std::size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    state_->dirs[path.substr(0, slash)];
  }
  state_->dirs[path];
  return Status::ok();
}

Status FakeFileSystem::sync_dir(const std::string& dir) {
  std::lock_guard lock(state_->mu);
  if (const auto* f = state_->fault_for(Op::kSyncDir, dir)) return State::error("fsync directory", dir, f->error);
  auto d = state_->dirs.find(strip(dir));
  if (d == state_->dirs.end()) return Status::not_found("fake fsync directory '" + dir + "': no such directory");
  d->second.durable = d->second.live;
  ++state_->dir_syncs;
  return Status::ok();
}

void FakeFileSystem::power_loss() {
  std::lock_guard lock(state_->mu);
  ++state_->generation;
  for (auto& [path, dir] : state_->dirs) {
    dir.live = dir.durable;
    for (auto& [name, node] : dir.live) {
      node->data = node->durable;
      node->poisoned = false;
    }
  }
}

void FakeFileSystem::crash() {
  std::lock_guard lock(state_->mu);
  ++state_->generation;
}

void FakeFileSystem::inject(Fault fault) {
  std::lock_guard lock(state_->mu);
  state_->faults.push_back({std::move(fault), 0});
}

void FakeFileSystem::fail(Op op, std::uint64_t nth, int error, bool sticky) {
  Fault f;
  f.op = op;
  f.nth = nth;
  f.error = error;
  f.sticky = sticky;
  inject(std::move(f));
}

void FakeFileSystem::fail_append(std::uint64_t nth, int error, std::size_t partial_bytes) {
  Fault f;
  f.op = Op::kAppend;
  f.nth = nth;
  f.error = error;
  f.partial_bytes = partial_bytes;
  inject(std::move(f));
}

void FakeFileSystem::clear_faults() {
  std::lock_guard lock(state_->mu);
  state_->faults.clear();
}

std::vector<std::byte> FakeFileSystem::contents(const std::string& path) const {
  std::lock_guard lock(state_->mu);
  auto node = state_->find(path);
  return node ? node->data : std::vector<std::byte>{};
}

std::vector<std::byte> FakeFileSystem::durable_contents(const std::string& path) const {
  std::lock_guard lock(state_->mu);
  auto node = state_->find(path);
  return node ? node->durable : std::vector<std::byte>{};
}

void FakeFileSystem::set_contents(const std::string& path, std::vector<std::byte> bytes) {
  std::lock_guard lock(state_->mu);
  auto [dir, name] = split(path);
  Dir& d = state_->dirs[dir];
  auto& node = d.live[name];
  if (!node) node = std::make_shared<Node>();
  d.durable[name] = node;
  node->data = bytes;
  node->durable = std::move(bytes);
}

void FakeFileSystem::flip_byte(const std::string& path, std::uint64_t position, std::uint8_t mask) {
  std::lock_guard lock(state_->mu);
  auto node = state_->find(path);
  if (!node) return;
  if (position < node->data.size()) node->data[position] ^= std::byte{mask};
  if (position < node->durable.size()) node->durable[position] ^= std::byte{mask};
}

void FakeFileSystem::truncate_file(const std::string& path, std::uint64_t size) {
  std::lock_guard lock(state_->mu);
  auto node = state_->find(path);
  if (!node) return;
  node->data.resize(std::min<std::size_t>(node->data.size(), size));
  node->durable.resize(std::min<std::size_t>(node->durable.size(), size));
}

void FakeFileSystem::remove_file(const std::string& path) {
  std::lock_guard lock(state_->mu);
  auto [dir, name] = split(path);
  auto d = state_->dirs.find(dir);
  if (d == state_->dirs.end()) return;
  d->second.live.erase(name);
  d->second.durable.erase(name);
}

bool FakeFileSystem::exists(const std::string& path) const {
  std::lock_guard lock(state_->mu);
  return state_->find(path) != nullptr;
}

std::vector<std::string> FakeFileSystem::names(const std::string& dir) const {
  std::lock_guard lock(state_->mu);
  std::vector<std::string> out;
  auto d = state_->dirs.find(strip(dir));
  if (d == state_->dirs.end()) return out;
  for (const auto& [name, node] : d->second.live) out.push_back(name);
  return out;
}

std::uint64_t FakeFileSystem::syncs() const {
  std::lock_guard lock(state_->mu);
  return state_->syncs;
}

std::uint64_t FakeFileSystem::failed_syncs() const {
  std::lock_guard lock(state_->mu);
  return state_->failed_syncs;
}

std::uint64_t FakeFileSystem::dir_syncs() const {
  std::lock_guard lock(state_->mu);
  return state_->dir_syncs;
}

}  // namespace weft::testing
