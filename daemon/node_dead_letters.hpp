// Nodes' dead letters in weftd (kind DEAD_LETTER, docs/sidecar.md section 13): the messages a node's
// at-least-once consumers gave up on, handed over by nodes that have a sidecar instead of being kept in their
// own data directory. One dead-letter stream for all of them, <data-dir>/dead-letters/_node/, in the record
// format of every dead-letter stream (reliable/dead_letter_codec.hpp). The dlq.* admin ops name it "_node"
// (sidecar::kNodeDeadLetters), a name no stream may take.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "log/file_system.hpp"
#include "log/log.hpp"
#include "reliable/dead_letter.hpp"
#include "util/clock.hpp"

namespace weft::detail::weftd {

class NodeDeadLetters {
 public:
  // Opens (creating if missing) <data_dir>/dead-letters/_node. `fs` and `clock` must outlive it.
  static Result<std::unique_ptr<NodeDeadLetters>> open(log::FileSystem& fs, const Clock& clock,
                                                      const std::string& data_dir);
  NodeDeadLetters(const NodeDeadLetters&) = delete;
  NodeDeadLetters& operator=(const NodeDeadLetters&) = delete;

  // Stores one dead letter (its envelope already checked); `done` runs once it is durable (fsynced), or failed.
  Result<log::AppendResult> put(const DeadLetter& letter, std::int64_t now_ns, log::DurableCallback done);

  [[nodiscard]] const log::Log& log() const noexcept { return *log_; }
  [[nodiscard]] Status health() const { return log_->health(); }
  // The largest envelope it takes.
  [[nodiscard]] std::uint64_t max_envelope_bytes() const noexcept { return max_envelope_bytes_; }

  std::size_t do_work(Clock::TimePoint now);
  [[nodiscard]] std::optional<Clock::TimePoint> next_deadline() const { return log_->next_deadline(); }
  Result<std::size_t> apply_retention(std::int64_t now_ns);
  // Empties it; returns how many dead letters it held.
  Result<std::uint64_t> purge();
  Status stop();

 private:
  NodeDeadLetters(log::FileSystem& fs, const Clock& clock, std::string dir, log::LogOptions options,
                  std::uint64_t max_envelope_bytes, std::unique_ptr<log::Log> log);

  log::FileSystem& fs_;
  const Clock& clock_;
  std::string dir_;
  log::LogOptions options_;
  std::uint64_t max_envelope_bytes_;
  std::unique_ptr<log::Log> log_;
};

}  // namespace weft::detail::weftd
