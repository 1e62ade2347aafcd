#include "util/log.hpp"

#include <cstdio>
#include <string>

namespace weft::detail {

namespace {

std::string_view level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "log";
}

}  // namespace

Logger::Logger(LogSink sink, std::string prefix) : sink_(std::move(sink)), prefix_(std::move(prefix)) {}

void Logger::log(LogLevel level, std::string_view line) const {
  std::string text = prefix_;
  text += line;
  if (sink_) {
    sink_(level, text);
    return;
  }
  if (level < LogLevel::kWarning) return;
  std::fprintf(stderr, "weft %.*s: %s\n", static_cast<int>(level_name(level).size()), level_name(level).data(),
               text.c_str());
}

void RateLimitedLog::warn(std::size_t kind, std::string_view line) {
  std::uint64_t held_back = 0;
  {
    std::lock_guard lock(mutex_);
    Slot& slot = slots_[kind % kKinds];
    auto now = clock_.now();
    if (slot.logged_once && now - slot.last < interval_) {
      ++slot.held_back;
      suppressed_total_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    slot.logged_once = true;
    slot.last = now;
    held_back = slot.held_back;
    slot.held_back = 0;
  }
  if (held_back == 0) {
    logger_.warn(line);
    return;
  }
  std::string text(line);
  text += " (and " + std::to_string(held_back) + " more like it not logged)";
  logger_.warn(text);
}

}  // namespace weft::detail
