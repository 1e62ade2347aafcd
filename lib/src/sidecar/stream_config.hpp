// A persistent stream's definition: its name, the subjects it takes, its retention and its fsync policy. One
// struct, filled alike by weftd's config file ([stream.NAME] sections), by `weft stream add` flags and by the
// protocol's stream.add (where it travels as a msgpack map of these field names).
#pragma once

#include <msgpack.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "log/log_options.hpp"
#include "weft/status.hpp"

namespace weft::detail::sidecar {

// Fsync policy names, as in config files, flags and the protocol.
inline constexpr std::string_view kFsyncAlways = "always";      // log::FsyncPolicy::kEveryWrite (group commit)
inline constexpr std::string_view kFsyncInterval = "interval";  // log::FsyncPolicy::kInterval
inline constexpr std::string_view kFsyncOs = "os";              // log::FsyncPolicy::kOs

struct StreamConfig {
  std::string name;                   // 1-64 of [A-Za-z0-9_-]; names <data-dir>/streams/<name>/
  std::vector<std::string> subjects;  // patterns; no subject may match patterns of two streams
  // Retention, by whole segments: segments whose newest message is older than this go (0: no age limit) ...
  std::uint64_t retention_age_ms = 7ULL * 24 * 3600 * 1000;
  // ... and the oldest segments go while the stream holds more than this (0: no size limit).
  std::uint64_t retention_bytes = 0;
  std::string fsync{kFsyncAlways};
  std::uint64_t fsync_interval_ms = 5;  // for "interval"
  std::uint64_t segment_bytes = 64ULL << 20;
  std::uint64_t max_message_bytes = 8ULL << 20;  // the largest envelope an append may carry
  std::uint64_t dead_letter_retention_age_ms = 30ULL * 24 * 3600 * 1000;  // the stream's dead-letter stream
  // Per-key compaction: sealed segments keep only the newest message of each key (the envelope's weft-key
  // header); a tombstone (weft-tombstone: true) deletes its key and goes itself after tombstone_retention_ms.
  bool compact = false;
  std::uint64_t tombstone_retention_ms = 24ULL * 3600 * 1000;

  MSGPACK_DEFINE_MAP(name, subjects, retention_age_ms, retention_bytes, fsync, fsync_interval_ms, segment_bytes,
                     max_message_bytes, dead_letter_retention_age_ms, compact, tombstone_retention_ms)

  // kInvalidArgument naming the first bad field.
  [[nodiscard]] Status validate() const;
  // The options of the stream's log, and of its dead-letter stream.
  [[nodiscard]] log::LogOptions log_options() const;
  [[nodiscard]] log::LogOptions dead_letter_log_options() const;

  friend bool operator==(const StreamConfig&, const StreamConfig&) = default;
};

// Parsers shared by the config file and the flags. Each returns kInvalidArgument saying what it expected.
// "500ms", "30s", "15m", "12h", "7d", or a plain number of seconds; "0" is zero.
Result<std::uint64_t> parse_duration_ms(std::string_view text);
// "1048576", "512K", "64M", "10G", "1T" (binary multiples; a trailing "B" or "iB" is accepted).
Result<std::uint64_t> parse_bytes(std::string_view text);
// "always", "interval", "os".
Result<log::FsyncPolicy> parse_fsync(std::string_view text);
// Sets one field of `config` from its config-file / flag name: "subjects" (adds one), "retention-age",
// "retention-bytes", "fsync", "fsync-interval", "segment-bytes", "max-message-bytes",
// "dead-letter-retention-age", "compact" (true/false), "tombstone-retention".
Status set_stream_field(StreamConfig& config, std::string_view key, std::string_view value);

// "7d", "12h", "512 MiB": how the parsers' inputs print.
std::string format_duration_ms(std::uint64_t ms);
std::string format_bytes_binary(std::uint64_t bytes);

}  // namespace weft::detail::sidecar
