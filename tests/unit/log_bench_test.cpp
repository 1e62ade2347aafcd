// Not a test: a throughput micro-check of the log on this machine's disk, one line per fsync policy, so the
// numbers behind the defaults are known. Disabled; run it with
//   log_bench_test --gtest_also_run_disabled_tests [--gtest_filter=LogBench.*]
// It writes under $WEFT_LOG_BENCH_DIR (default: the system temp directory) and removes what it wrote.
//
// The model is weftd's: one thread appends records as they arrive (at most kWindow unacknowledged, like a
// producer with a bounded outbox), another runs do_work() (the group commit) as soon as it has something to do.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "log/log.hpp"
#include "log/posix_file_system.hpp"
#include "util/clock.hpp"

namespace weft::detail::log {
namespace {

using namespace std::chrono_literals;
constexpr std::uint64_t kWindow = 4096;

std::filesystem::path bench_root() {
  const char* env = std::getenv("WEFT_LOG_BENCH_DIR");
  return std::filesystem::path(env != nullptr ? env : std::filesystem::temp_directory_path().string()) /
         ("weft-log-bench-" + std::to_string(::getpid()));
}

struct Outcome {
  double records_per_s;
  double mb_per_s;
  std::uint64_t fsyncs;
};

// serial: one append in flight at a time. inline_sync: the appending thread also runs do_work() (no syncer).
Outcome run(const char* name, FsyncPolicy policy, std::size_t record_bytes, std::uint64_t count, bool serial,
            bool inline_sync = false) {
  PosixFileSystem fs;
  const SystemClock& clock = SystemClock::instance();
  const auto dir = bench_root() / name;
  std::filesystem::remove_all(dir);
  LogOptions o;
  o.fsync_policy = policy;
  o.fsync_interval = 5ms;
  auto opened = Log::open(fs, clock, dir.string(), o);
  EXPECT_TRUE(opened.is_ok()) << opened.status().to_string();
  if (!opened.is_ok()) return {};
  Log& log = **opened;
  const std::vector<std::byte> value(record_bytes, std::byte{0x61});
  const RecordInput record{value, std::nullopt};
  std::atomic<std::uint64_t> acked{0};
  std::atomic<bool> done{false};
  auto on_durable = [&](const Status& s, const AppendResult& r) {
    if (s.is_ok()) acked.fetch_add(r.last_offset - r.first_offset + 1);
  };

  const auto start = std::chrono::steady_clock::now();
  std::thread syncer([&] {
    while (!done && !inline_sync) {
      if (log.do_work(clock.now()) > 0) continue;
      if (auto deadline = log.next_deadline(); deadline && *deadline > clock.now()) {
        std::this_thread::sleep_for(std::min<Clock::Duration>(*deadline - clock.now(), 1ms));
      } else {
        std::this_thread::yield();
      }
    }
  });
  for (std::uint64_t n = 0; n < count; ++n) {
    const std::uint64_t window = serial ? 1 : kWindow;
    while (n - acked.load() >= window) std::this_thread::yield();
    auto r = log.append(std::span(&record, 1), clock.wall_ns(), on_durable);
    if (!r.is_ok()) {
      ADD_FAILURE() << r.status().to_string();
      done = true;
      syncer.join();
      return {};
    }
    if (inline_sync) log.do_work(clock.now());
  }
  while (acked.load() < count) std::this_thread::yield();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  done = true;
  syncer.join();
  const Outcome out{static_cast<double>(count) / seconds,
                    static_cast<double>(count * (record_bytes + kRecordHeaderSize)) / seconds / 1e6,
                    log.stats().fsyncs};
  std::printf("%-44s %7zu B  %10.0f appends/s  %8.1f MB/s  %7llu fsyncs (%.1f records each)\n", name, record_bytes,
              out.records_per_s, out.mb_per_s, static_cast<unsigned long long>(out.fsyncs),
              static_cast<double>(count) / static_cast<double>(std::max<std::uint64_t>(out.fsyncs, 1)));
  std::fflush(stdout);
  (void)log.stop();
  opened->reset();
  std::filesystem::remove_all(dir);
  return out;
}

TEST(LogBench, DISABLED_AppendThroughputPerFsyncPolicy) {
  std::printf("log directory: %s\n", bench_root().string().c_str());
  for (std::size_t size : {256, 4096}) {
    run("every-write, append + do_work on one thread", FsyncPolicy::kEveryWrite, size, 3000, true, true);
    run("every-write, one append in flight", FsyncPolicy::kEveryWrite, size, 3000, true);
    run("every-write (group commit), 4096 in flight", FsyncPolicy::kEveryWrite, size, 200'000, false);
    run("interval 5 ms (group commit), 4096 in flight", FsyncPolicy::kInterval, size, 200'000, false);
    run("os (no fsync), 4096 in flight", FsyncPolicy::kOs, size, 200'000, false);
  }
  std::filesystem::remove_all(bench_root());
}

}  // namespace
}  // namespace weft::detail::log
