// Every stream of one weftd: opened (and recovered) at start from the config file and from the streams added at
// run time (<data-dir>/streams.state), found by name or by subject, added and removed, retained on a timer.
//
// No subject belongs to two streams: a stream whose subjects overlap another's is refused, so resolving a
// subject is unambiguous. A stream that fails to open is kept as "unavailable" with the reason (its subjects
// are refused with kStreamFailed, `weft stream ls` shows why) and the others are served.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node_dead_letters.hpp"
#include "stream.hpp"

namespace weft::detail::weftd {

struct StreamManagerOptions {
  std::string data_dir;
  // How often retention runs over every stream.
  std::chrono::milliseconds retention_interval{60'000};
  std::chrono::milliseconds consumer_flush_interval{100};
};

class StreamManager {
 public:
  StreamManager(log::FileSystem& fs, const Clock& clock, const Logger& logger, ConsumerHost& host,
                StreamManagerOptions options);
  ~StreamManager();
  StreamManager(const StreamManager&) = delete;
  StreamManager& operator=(const StreamManager&) = delete;

  // Opens every stream: those of the config file, then those added before (streams.state); reports each one's
  // recovery in the log. Fails only for a bad definition or an unreadable streams.state, not for a stream
  // that cannot be opened (kept as unavailable).
  Status open(const std::vector<sidecar::StreamConfig>& configured);

  [[nodiscard]] Stream* find(std::string_view name) const;
  // The stream that takes `subject`; nullptr if none. `unavailable` is set when the stream exists but
  // could not be opened (with why).
  [[nodiscard]] Stream* resolve(std::string_view subject, const Status** unavailable = nullptr) const;
  [[nodiscard]] std::vector<Stream*> streams() const;
  // Nodes' dead letters (kind DEAD_LETTER); nullptr when they could not be opened (`node_dead_letters_failure`
  // says why).
  [[nodiscard]] NodeDeadLetters* node_dead_letters() const noexcept { return node_dead_letters_.get(); }
  [[nodiscard]] const Status& node_dead_letters_failure() const noexcept { return node_dead_letters_failure_; }
  // Streams that failed to open, with the reason.
  [[nodiscard]] std::vector<std::pair<sidecar::StreamConfig, Status>> unavailable() const;

  // Adds and opens a stream, stored in streams.state. kInvalidArgument for a bad or overlapping definition;
  // an existing stream with the same definition is returned as it is.
  Result<Stream*> add(sidecar::StreamConfig config);
  // Removes a stream added at run time and deletes its files. Streams of the config file are removed there.
  Status remove(std::string_view name);

  std::size_t do_work(Clock::TimePoint now);
  [[nodiscard]] std::optional<Clock::TimePoint> next_deadline(Clock::TimePoint now) const;
  // Runs retention over every stream now.
  std::size_t apply_retention();

  // Stops every stream (consumer state written, logs fsynced). Idempotent.
  Status stop();

 private:
  struct Entry {
    sidecar::StreamConfig config;
    StreamOrigin origin = StreamOrigin::kConfig;
    std::unique_ptr<Stream> stream;  // null when it could not be opened
    Status failure;
  };

  Status check_overlap(const sidecar::StreamConfig& config) const;
  Status save_added() const;
  void open_entry(Entry& entry);

  log::FileSystem& fs_;
  const Clock& clock_;
  const Logger& logger_;
  StreamManagerOptions options_;
  StreamEnvironment env_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::unique_ptr<NodeDeadLetters> node_dead_letters_;
  Status node_dead_letters_failure_;
  bool node_dead_letter_failure_reported_ = false;
  Clock::TimePoint next_retention_{};
  bool stopped_ = false;
};

}  // namespace weft::detail::weftd
