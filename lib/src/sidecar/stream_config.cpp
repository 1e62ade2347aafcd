#include "sidecar/stream_config.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <limits>

#include "log/log_format.hpp"
#include "sidecar/sidecar_protocol.hpp"
#include "weft/subject.hpp"

namespace weft::detail::sidecar {

namespace {

// The number at the front of `text` and the rest (spaces between them skipped).
struct NumberAndUnit {
  std::uint64_t number = 0;
  std::string unit;
};

Result<NumberAndUnit> split_number(std::string_view text, std::string_view what) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  NumberAndUnit out;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out.number);
  if (ec != std::errc() || end == text.data()) {
    return Status::invalid_argument("'" + std::string(text) + "' is not " + std::string(what));
  }
  std::string_view rest(end, static_cast<std::size_t>(text.data() + text.size() - end));
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
  for (char c : rest) out.unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Result<std::uint64_t> multiply(std::uint64_t number, std::uint64_t by, std::string_view text) {
  if (by != 0 && number > std::numeric_limits<std::uint64_t>::max() / by) {
    return Status::invalid_argument("'" + std::string(text) + "' is too large");
  }
  return number * by;
}

}  // namespace

Result<std::uint64_t> parse_duration_ms(std::string_view text) {
  constexpr std::string_view kWhat = "a duration (500ms, 30s, 15m, 12h, 7d)";
  auto split = split_number(text, kWhat);
  if (!split) return split.status();
  const std::string& u = split->unit;
  std::uint64_t by = 0;
  if (u == "ms") {
    by = 1;
  } else if (u.empty() || u == "s" || u == "sec") {
    by = 1000;
  } else if (u == "m" || u == "min") {
    by = 60'000;
  } else if (u == "h") {
    by = 3'600'000;
  } else if (u == "d") {
    by = 86'400'000;
  } else if (u == "w") {
    by = 7 * 86'400'000ULL;
  } else {
    return Status::invalid_argument("'" + std::string(text) + "' is not " + std::string(kWhat));
  }
  return multiply(split->number, by, text);
}

Result<std::uint64_t> parse_bytes(std::string_view text) {
  constexpr std::string_view kWhat = "a size (1048576, 512K, 64M, 10G)";
  auto split = split_number(text, kWhat);
  if (!split) return split.status();
  std::string u = split->unit;
  if (u.size() >= 2 && u.substr(u.size() - 2) == "ib") u.resize(u.size() - 2);
  if (!u.empty() && u.back() == 'b') u.pop_back();
  std::uint64_t by = 0;
  if (u.empty()) {
    by = 1;
  } else if (u == "k") {
    by = 1ULL << 10;
  } else if (u == "m") {
    by = 1ULL << 20;
  } else if (u == "g") {
    by = 1ULL << 30;
  } else if (u == "t") {
    by = 1ULL << 40;
  } else {
    return Status::invalid_argument("'" + std::string(text) + "' is not " + std::string(kWhat));
  }
  return multiply(split->number, by, text);
}

Result<log::FsyncPolicy> parse_fsync(std::string_view text) {
  if (text == kFsyncAlways) return log::FsyncPolicy::kEveryWrite;
  if (text == kFsyncInterval) return log::FsyncPolicy::kInterval;
  if (text == kFsyncOs) return log::FsyncPolicy::kOs;
  return Status::invalid_argument("fsync policy '" + std::string(text) + "' is not always, interval or os");
}

Status set_stream_field(StreamConfig& config, std::string_view key, std::string_view value) {
  auto fail = [&](const Status& s) { return s.with_context(std::string(key)); };
  if (key == "subjects" || key == "subject") {
    if (Status s = validate_pattern(value); !s) return fail(s);
    config.subjects.emplace_back(value);
    return Status::ok();
  }
  if (key == "fsync") {
    if (auto p = parse_fsync(value); !p) return fail(p.status());
    config.fsync = std::string(value);
    return Status::ok();
  }
  if (key == "compact") {
    if (value == "true" || value == "yes" || value == "1") {
      config.compact = true;
    } else if (value == "false" || value == "no" || value == "0") {
      config.compact = false;
    } else {
      return fail(Status::invalid_argument("expected true or false, not '" + std::string(value) + "'"));
    }
    return Status::ok();
  }
  std::uint64_t* duration = key == "retention-age"               ? &config.retention_age_ms
                            : key == "fsync-interval"            ? &config.fsync_interval_ms
                            : key == "dead-letter-retention-age" ? &config.dead_letter_retention_age_ms
                            : key == "tombstone-retention"       ? &config.tombstone_retention_ms
                                                                 : nullptr;
  if (duration != nullptr) {
    auto parsed = parse_duration_ms(value);
    if (!parsed) return fail(parsed.status());
    *duration = *parsed;
    return Status::ok();
  }
  std::uint64_t* size = key == "retention-bytes"     ? &config.retention_bytes
                        : key == "segment-bytes"     ? &config.segment_bytes
                        : key == "max-message-bytes" ? &config.max_message_bytes
                                                     : nullptr;
  if (size != nullptr) {
    auto parsed = parse_bytes(value);
    if (!parsed) return fail(parsed.status());
    *size = *parsed;
    return Status::ok();
  }
  return Status::invalid_argument("unknown stream setting '" + std::string(key) + "'");
}

Status StreamConfig::validate() const {
  if (Status s = validate_name("a stream name", name); !s) return s;
  if (name == kNodeDeadLetters) {
    return Status::invalid_argument("the stream name '" + name + "' is reserved for nodes' dead letters");
  }
  const std::string context = "stream '" + name + "'";
  if (subjects.empty()) return Status::invalid_argument(context + " takes no subjects (give at least one)");
  for (std::size_t i = 0; i < subjects.size(); ++i) {
    if (Status s = validate_pattern(subjects[i]); !s) return s.with_context(context);
    for (std::size_t j = 0; j < i; ++j) {
      if (weft::patterns_overlap(subjects[i], subjects[j])) {
        return Status::invalid_argument(context + ": subjects '" + subjects[j] + "' and '" + subjects[i] +
                                        "' overlap (give one)");
      }
    }
  }
  if (Status s = parse_fsync(fsync).status(); !s) return s.with_context(context);
  constexpr std::uint64_t kYearMs = 366ULL * 86'400'000;
  if (retention_age_ms > 100 * kYearMs || dead_letter_retention_age_ms > 100 * kYearMs ||
      tombstone_retention_ms > 100 * kYearMs) {
    return Status::invalid_argument(context + ": a retention age is at most 100 years");
  }
  if (fsync_interval_ms > 60'000) return Status::invalid_argument(context + ": fsync-interval is at most 60 s");
  if (max_message_bytes < 64 || max_message_bytes + log::kRecordHeaderSize > 64ULL << 20) {
    return Status::invalid_argument(context + ": max-message-bytes must lie in [64, 64 MiB - 32]");
  }
  log::LogOptions options = log_options();
  if (Status s = options.validate(); !s) return s.with_context(context);
  return Status::ok();
}

log::LogOptions StreamConfig::log_options() const {
  log::LogOptions options;
  options.segment_bytes = segment_bytes;
  options.fsync_policy = parse_fsync(fsync).is_ok() ? *parse_fsync(fsync) : log::FsyncPolicy::kEveryWrite;
  options.fsync_interval = std::chrono::milliseconds(fsync_interval_ms);
  options.max_record_bytes = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(max_message_bytes + log::kRecordHeaderSize, std::numeric_limits<std::uint32_t>::max()));
  options.retention_bytes = retention_bytes;
  options.retention_age = std::chrono::milliseconds(retention_age_ms);
  options.tombstone_retention = std::chrono::milliseconds(tombstone_retention_ms);
  options.create_if_missing = true;
  return options;
}

log::LogOptions StreamConfig::dead_letter_log_options() const {
  log::LogOptions options;
  options.segment_bytes = std::min<std::uint64_t>(segment_bytes, 16ULL << 20);
  options.fsync_policy = log::FsyncPolicy::kEveryWrite;  // a dead letter settles its message: durable first
  // A dead letter holds the envelope plus its story (subject, consumer, error).
  options.max_record_bytes = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(max_message_bytes + log::kRecordHeaderSize + 4096 + kMaxStringBytes, 64ULL << 20));
  options.retention_age = std::chrono::milliseconds(dead_letter_retention_age_ms);
  options.create_if_missing = true;
  return options;
}

std::string format_duration_ms(std::uint64_t ms) {
  if (ms == 0) return "0";
  struct Unit {
    std::uint64_t ms;
    const char* name;
  };
  constexpr Unit kUnits[] = {{86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const Unit& u : kUnits) {
    if (ms % u.ms == 0) return std::to_string(ms / u.ms) + u.name;
  }
  return std::to_string(ms) + "ms";
}

std::string format_bytes_binary(std::uint64_t bytes) {
  if (bytes == 0) return "0";
  constexpr const char* kUnits[] = {"T", "G", "M", "K"};
  for (int i = 0; i < 4; ++i) {
    const std::uint64_t unit = 1ULL << (10 * (4 - i));
    if (bytes % unit == 0) return std::to_string(bytes / unit) + kUnits[i];
  }
  return std::to_string(bytes);
}

}  // namespace weft::detail::sidecar
