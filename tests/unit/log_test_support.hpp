// Helpers shared by the log's tests (tests/unit/log_*_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "log/log.hpp"
#include "weft_testing/fake_clock.hpp"
#include "weft_testing/fake_file_system.hpp"

namespace weft::detail::log::testing {

inline std::vector<std::byte> bytes(std::string_view text) {
  std::vector<std::byte> out(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) out[i] = static_cast<std::byte>(text[i]);
  return out;
}

inline std::string text(std::span<const std::byte> data) {
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

// A value that names its record and has a length that varies with it, so that record boundaries move around.
inline std::string value_for(std::uint64_t n) {
  std::string v = "record-" + std::to_string(n) + "-";
  v.append(n % 53, static_cast<char>('a' + n % 26));
  return v;
}

inline constexpr std::string_view kDir = "/streams/orders";
inline constexpr std::int64_t kBaseTime = 1'700'000'000'000'000'000;

inline std::string segment_path(std::uint64_t base) {
  return join_path(kDir, file_name(base, FileKind::kSegment));
}

// A Log over a FakeFileSystem with a FakeClock, and the bookkeeping most tests want.
class LogFixture : public ::testing::Test {
 protected:
  LogOptions options() const {
    LogOptions o;
    o.segment_bytes = 4096;
    o.index_interval_bytes = 256;
    o.fsync_policy = FsyncPolicy::kEveryWrite;
    o.retention_age = std::chrono::nanoseconds(0);
    return o;
  }

  std::unique_ptr<Log> open(const LogOptions& o) {
    auto log = Log::open(fs_, clock_, std::string(kDir), o);
    EXPECT_TRUE(log.is_ok()) << log.status().to_string();
    return log.is_ok() ? std::move(*log) : nullptr;
  }
  std::unique_ptr<Log> open() { return open(options()); }

  // Appends record n (value_for(n)) alone, at kBaseTime + n seconds unless told otherwise.
  AppendResult append_one(Log& log, std::uint64_t n, std::optional<std::int64_t> ts = std::nullopt) {
    const auto value = bytes(value_for(n));
    const RecordInput record{value, std::nullopt};
    auto r = log.append(std::span(&record, 1), ts.value_or(kBaseTime + static_cast<std::int64_t>(n) * 1'000'000'000),
                        [this](const Status& s, const AppendResult& a) {
                          if (s.is_ok()) {
                            for (auto o = a.first_offset; o <= a.last_offset; ++o) acked_.push_back(o);
                          } else {
                            failed_.push_back(a.first_offset);
                            last_failure_ = s;
                          }
                        });
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? *r : AppendResult{};
  }

  // Every readable record from `from`, as values; fails the test on an error.
  std::vector<std::pair<std::uint64_t, std::string>> read_all(const Log& log, std::uint64_t from = 0,
                                                              std::size_t max_bytes = 1000) {
    std::vector<std::pair<std::uint64_t, std::string>> out;
    for (std::uint64_t at = from;;) {
      auto batch = log.read(at, max_bytes);
      EXPECT_TRUE(batch.is_ok()) << batch.status().to_string();
      if (!batch.is_ok() || (batch->empty() && batch->next_offset() <= at)) break;  // past removed records
      for (const LogRecord& r : batch->records()) out.emplace_back(r.offset, text(r.value));
      at = batch->next_offset();
    }
    return out;
  }

  weft::testing::FakeFileSystem fs_;
  weft::testing::FakeClock clock_;
  std::vector<std::uint64_t> acked_;
  std::vector<std::uint64_t> failed_;
  Status last_failure_;
};

}  // namespace weft::detail::log::testing
