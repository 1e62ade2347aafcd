// The node's dead-letter queue: dead letters kept in a segment log (docs/log-format.md) under the node's data
// directory, `<data_dir>/dlq/`. Each record's value is one dead letter (reliable/dead_letter_codec.hpp). The
// node appends; `weft dlq` lists, shows, replays and purges, when the node is stopped
// (a lock file keeps the two apart).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "log/file_system.hpp"
#include "log/log.hpp"
#include "reliable/dead_letter.hpp"
#include "reliable/dead_letter_codec.hpp"

namespace weft::detail {

// A dead letter as stored, with its offset in the queue.
struct StoredDeadLetter {
  std::uint64_t offset = 0;
  DeadLetter letter;
};

class DeadLetterStore final : public DeadLetterSink {
 public:
  // Opens (creating if missing) the queue in `dir` (the node's `<data_dir>/dlq`) and takes its lock: an error
  // names the process holding it. `fs` and `clock` must outlive the store.
  static Result<std::unique_ptr<DeadLetterStore>> open(log::FileSystem& fs, const Clock& clock, const std::string& dir);
  ~DeadLetterStore() override;

  Status put(const DeadLetter& letter) override;
  // Group commit and fsync timing: call from the owner's loop.
  void do_work(Clock::TimePoint now) override;
  [[nodiscard]] std::optional<Clock::TimePoint> next_deadline() const { return log_->next_deadline(); }

  // Every dead letter from `from` on (at most `max`).
  Result<std::vector<StoredDeadLetter>> list(std::uint64_t from = 0, std::size_t max = SIZE_MAX) const;
  [[nodiscard]] std::uint64_t count() const;

  // Removes every dead letter (the whole queue is rewritten empty).
  Status purge();

  Status stop() { return log_->stop(); }

 private:
  DeadLetterStore(log::FileSystem& fs, const Clock& clock, std::string dir, std::unique_ptr<log::Log> log, int lock_fd);

  log::FileSystem& fs_;
  const Clock& clock_;
  std::string dir_;
  std::unique_ptr<log::Log> log_;
  int lock_fd_ = -1;
};

}  // namespace weft::detail
