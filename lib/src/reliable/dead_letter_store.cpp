#include "reliable/dead_letter_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "reliable/dead_letter_codec.hpp"

namespace weft::detail {

namespace {

constexpr const char* kLockName = "LOCK";

// Takes an exclusive lock on <dir>/LOCK; the holder's pid is written in it for the message of whoever waits.
Result<int> take_lock(const std::string& dir) {
  std::string path = dir + "/" + kLockName;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::io_error("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char holder[32] = {};
    ssize_t n = ::pread(fd, holder, sizeof holder - 1, 0);
    ::close(fd);
    std::string who = n > 0 ? std::string(holder, static_cast<std::size_t>(n)) : "another process";
    while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
    return Status::unavailable("the dead-letter queue in " + dir + " is in use by process " + who +
                               " (a running node owns it: stop the node first)");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // The lock holds all the same; only the message of a waiter is poorer.
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<DeadLetterStore>> DeadLetterStore::open(log::FileSystem& fs, const Clock& clock,
                                                               const std::string& dir) {
  if (Status made = fs.make_dir(dir); !made) return made.with_context("while creating the dead-letter queue");
  auto lock = take_lock(dir);
  if (!lock) return lock.status();
  log::LogOptions options;
  options.fsync_policy = log::FsyncPolicy::kInterval;  // dead letters are rare; a 5 ms window is plenty
  options.segment_bytes = 16ULL << 20;
  options.retention_age = std::chrono::hours(24 * 30);
  auto opened = log::Log::open(fs, clock, dir, options);
  if (!opened) {
    ::close(*lock);
    return opened.status().with_context("while opening the dead-letter queue in " + dir);
  }
  return std::unique_ptr<DeadLetterStore>(new DeadLetterStore(fs, clock, dir, std::move(*opened), *lock));
}

DeadLetterStore::DeadLetterStore(log::FileSystem& fs, const Clock& clock, std::string dir,
                                 std::unique_ptr<log::Log> log, int lock_fd)
    : fs_(fs), clock_(clock), dir_(std::move(dir)), log_(std::move(log)), lock_fd_(lock_fd) {}

DeadLetterStore::~DeadLetterStore() {
  if (log_) (void)log_->stop();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status DeadLetterStore::put(const DeadLetter& letter) {
  std::vector<std::byte> value = encode_dead_letter(letter);
  log::RecordInput record{value, std::nullopt};
  auto appended = log_->append(std::span<const log::RecordInput>(&record, 1), letter.time_ns, nullptr);
  return appended ? Status::ok() : appended.status();
}

void DeadLetterStore::do_work(Clock::TimePoint now) { (void)log_->do_work(now); }

Result<std::vector<StoredDeadLetter>> DeadLetterStore::list(std::uint64_t from, std::size_t max) const {
  std::vector<StoredDeadLetter> out;
  std::uint64_t offset = std::max(from, log_->first_offset());
  while (offset < log_->end_offset() && out.size() < max) {
    auto batch = log_->read(offset, 1 << 20);
    if (!batch) return batch.status();
    if (batch->empty()) break;
    for (const auto& record : batch->records()) {
      auto letter = decode_dead_letter(record.value);
      if (!letter) return letter.status().with_context("at offset " + std::to_string(record.offset));
      out.push_back({record.offset, std::move(*letter)});
      if (out.size() >= max) break;
    }
    offset = batch->next_offset();
  }
  return out;
}

std::uint64_t DeadLetterStore::count() const { return log_->end_offset() - log_->first_offset(); }

Status DeadLetterStore::purge() {
  if (Status stopped = log_->stop(); !stopped) return stopped;
  log_.reset();
  auto names = fs_.list_dir(dir_);
  if (!names) return names.status();
  for (const auto& name : *names) {
    if (name == kLockName) continue;
    if (Status removed = fs_.remove(log::join_path(dir_, name)); !removed) return removed;
  }
  if (Status synced = fs_.sync_dir(dir_); !synced) return synced;
  log::LogOptions options;
  options.fsync_policy = log::FsyncPolicy::kInterval;
  options.segment_bytes = 16ULL << 20;
  auto reopened = log::Log::open(fs_, clock_, dir_, options);
  if (!reopened) return reopened.status();
  log_ = std::move(*reopened);
  return Status::ok();
}

}  // namespace weft::detail
