// One persistent stream in weftd: its log (<data-dir>/streams/<name>/), its dead-letter stream
// (<data-dir>/dead-letters/<name>/), its consumers and their stored state (<data-dir>/consumers/<name>.state).
// Stepped by the stream manager with do_work(now); everything runs on weftd's one loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "consumer.hpp"
#include "log/file_system.hpp"
#include "log/log.hpp"
#include "sidecar/sidecar_admin.hpp"
#include "sidecar/stream_config.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

namespace weft::detail::weftd {

// What every stream of one weftd shares.
struct StreamEnvironment {
  log::FileSystem& fs;
  const Clock& clock;
  const Logger& logger;
  ConsumerHost& host;
  std::string data_dir;
  // How long acknowledgements may wait before a durable consumer's floor is written to disk. After a crash,
  // at most this much of acknowledgements is forgotten (those messages are delivered again).
  std::chrono::milliseconds consumer_flush_interval{100};
};

// Where a stream keeps its files.
struct StreamPaths {
  std::string log_dir;
  std::string dead_letter_dir;
  std::string consumer_state;
  static StreamPaths of(const std::string& data_dir, const std::string& name);
};

// Deletes the files of a log directory (the directory itself stays: the FileSystem seam has no rmdir).
Status remove_tree(log::FileSystem& fs, const std::string& dir);

enum class StreamOrigin { kConfig, kAdded };

// The answer to a CONSUME.
struct Attached {
  Consumer* consumer = nullptr;
  std::uint64_t start_offset = 0;
  bool resumed = false;
};

class Stream {
 public:
  static Result<std::unique_ptr<Stream>> open(StreamEnvironment& env, sidecar::StreamConfig config,
                                              StreamOrigin origin);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  [[nodiscard]] const sidecar::StreamConfig& config() const noexcept { return config_; }
  [[nodiscard]] const std::string& name() const noexcept { return config_.name; }
  [[nodiscard]] StreamOrigin origin() const noexcept { return origin_; }
  [[nodiscard]] bool takes(std::string_view subject) const;

  // Appends envelopes (already checked) stamped with `timestamp_ns`; `done` runs once they are acknowledged
  // under the stream's fsync policy, or failed.
  Result<log::AppendResult> append(std::span<const log::RecordInput> records, std::int64_t timestamp_ns,
                                   log::DurableCallback done);
  // ok, or why the stream acknowledges nothing more.
  [[nodiscard]] Status health() const;

  // Consumers.
  Result<Attached> attach(const sidecar::ConsumeFields& fields, const MemberRef& member, Clock::TimePoint now);
  void detach(std::uint64_t member_id, Clock::TimePoint now);
  [[nodiscard]] Consumer* consumer_of(std::uint64_t member_id) const;
  [[nodiscard]] std::size_t consumer_count() const noexcept { return named_.size() + ephemeral_.size(); }

  std::size_t do_work(Clock::TimePoint now);
  [[nodiscard]] std::optional<Clock::TimePoint> next_deadline(Clock::TimePoint now) const;

  // Retention on both logs; what it deleted, in segments.
  Result<std::size_t> apply_retention(std::int64_t now_ns);

  [[nodiscard]] sidecar::StreamInfo info() const;
  [[nodiscard]] const log::Log& log() const noexcept { return *log_; }
  [[nodiscard]] const log::Log& dead_letters() const noexcept { return *dead_letters_; }
  // Empties the dead-letter stream; returns how many dead letters it held.
  Result<std::uint64_t> purge_dead_letters();

  // Writes the durable consumers' state now (also done by do_work when it changed).
  Status save_consumers();
  // Ends every member, writes the consumers' state and stops both logs (fsyncing what they hold). Idempotent.
  Status stop(const std::string& why);
  // stop(), then deletes every file of the stream.
  Status destroy();

 private:
  Stream(StreamEnvironment& env, sidecar::StreamConfig config, StreamOrigin origin, StreamPaths paths,
         std::unique_ptr<log::Log> log, std::unique_ptr<log::Log> dead_letters);

  Status load_consumers();
  Status dead_letter(const DeadLetterRequest& request, std::function<void(const Status&)> done);
  DeadLetterFn dead_letter_fn();
  Result<std::uint64_t> start_offset(const sidecar::ConsumeFields& fields) const;
  void check_health();

  StreamEnvironment& env_;
  sidecar::StreamConfig config_;
  StreamOrigin origin_;
  StreamPaths paths_;
  std::unique_ptr<log::Log> log_;
  std::unique_ptr<log::Log> dead_letters_;
  std::map<std::string, std::unique_ptr<Consumer>> named_;
  std::map<std::uint64_t, std::unique_ptr<Consumer>> ephemeral_;  // by member id
  std::map<std::uint64_t, Consumer*> members_;                    // member id -> its consumer
  Clock::TimePoint next_flush_{};
  bool consumers_dirty_ = false;
  // Compaction (config.compact) runs from apply_retention() once a segment was sealed since the last run (its
  // records may supersede older ones), or an hour after it (tombstones age out).
  std::optional<std::uint64_t> compacted_at_rolls_;
  std::int64_t compacted_at_ns_ = 0;
  bool failure_reported_ = false;
  bool dead_letter_failure_reported_ = false;
  bool stopped_ = false;
};

}  // namespace weft::detail::weftd
