// Log: appends, reads by offset and time, segment rolls, group commit driven by a fake clock, retention.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "log_test_support.hpp"
#include "weft_testing/wait.hpp"

namespace weft::detail::log {
namespace {

using namespace std::chrono_literals;
using testing::bytes;
using testing::kBaseTime;
using testing::kDir;
using testing::LogFixture;
using testing::text;
using testing::value_for;

class LogTest : public LogFixture {};

TEST_F(LogTest, OpenCreatesAnEmptyLog) {
  auto log = open();
  ASSERT_TRUE(log);
  EXPECT_TRUE(log->recovery_report().created);
  EXPECT_EQ(log->first_offset(), 0u);
  EXPECT_EQ(log->next_offset(), 0u);
  EXPECT_EQ(log->end_offset(), 0u);
  EXPECT_FALSE(log->last_offset());
  EXPECT_EQ(fs_.names(std::string(kDir)), std::vector<std::string>{"00000000000000000000.log"});
  auto batch = log->read(0, 100);
  ASSERT_TRUE(batch.is_ok());
  EXPECT_TRUE(batch->empty());
  EXPECT_TRUE(log->verify().status.is_ok());
}

TEST_F(LogTest, OpenWithoutCreateIfMissingFindsNothing) {
  LogOptions o = options();
  o.create_if_missing = false;
  auto log = Log::open(fs_, clock_, std::string(kDir), o);
  EXPECT_FALSE(log.is_ok());
}

TEST_F(LogTest, InvalidOptionsAreRefused) {
  LogOptions o = options();
  o.segment_bytes = 10;
  EXPECT_EQ(Log::open(fs_, clock_, std::string(kDir), o).status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(LogTest, RoundTripsAcrossSegmentRollsAndReopens) {
  constexpr std::uint64_t kCount = 600;
  {
    auto log = open();
    for (std::uint64_t n = 0; n < kCount; ++n) {
      EXPECT_EQ(append_one(*log, n).first_offset, n);
      if (n % 7 == 0) log->do_work(clock_.now());
    }
    log->do_work(clock_.now());
    EXPECT_GT(log->segment_count(), 10u);
    EXPECT_EQ(log->end_offset(), kCount);
    EXPECT_EQ(*log->last_offset(), kCount - 1);
    for (std::size_t max_bytes : {1, 100, 1000, 1 << 20}) {
      const auto all = read_all(*log, 0, max_bytes);
      ASSERT_EQ(all.size(), kCount) << max_bytes;
      for (std::uint64_t n = 0; n < kCount; ++n) {
        EXPECT_EQ(all[n].first, n);
        EXPECT_EQ(all[n].second, value_for(n));
      }
    }
    EXPECT_TRUE(log->verify().status.is_ok()) << log->verify().status.to_string();
    EXPECT_EQ(log->verify().records, kCount);
  }
  auto log = open();
  EXPECT_TRUE(log->recovery_report().clean()) << ::testing::PrintToString(log->recovery_report().describe());
  EXPECT_EQ(log->next_offset(), kCount);
  const auto all = read_all(*log);
  ASSERT_EQ(all.size(), kCount);
  EXPECT_EQ(all.back().second, value_for(kCount - 1));
  // Appends carry on after the reopen.
  EXPECT_EQ(append_one(*log, kCount).first_offset, kCount);
}

TEST_F(LogTest, EveryOffsetCanBeReadDirectly) {
  auto log = open();
  for (std::uint64_t n = 0; n < 300; ++n) append_one(*log, n);
  log->do_work(clock_.now());
  for (std::uint64_t n = 0; n < 300; ++n) {
    auto batch = log->read(n, 1);
    ASSERT_TRUE(batch.is_ok()) << n;
    ASSERT_EQ(batch->size(), 1u);
    EXPECT_EQ(batch->records()[0].offset, n);
    EXPECT_EQ(text(batch->records()[0].value), value_for(n));
    EXPECT_EQ(batch->records()[0].timestamp, kBaseTime + static_cast<std::int64_t>(n) * 1'000'000'000);
    EXPECT_EQ(batch->next_offset(), n + 1);
  }
}

TEST_F(LogTest, ReadsBeyondTheEndOrBeforeTheStartAreNotFound) {
  auto log = open();
  for (std::uint64_t n = 0; n < 5; ++n) append_one(*log, n);
  log->do_work(clock_.now());
  EXPECT_TRUE(log->read(5, 100)->empty());  // the end: nothing yet
  EXPECT_EQ(log->read(6, 100).status().code(), ErrorCode::kNotFound);
}

TEST_F(LogTest, AReadReturnsAtLeastOneRecordAndRespectsMaxBytes) {
  auto log = open();
  for (std::uint64_t n = 0; n < 20; ++n) append_one(*log, n);
  log->do_work(clock_.now());
  auto one = log->read(0, 0);
  ASSERT_TRUE(one.is_ok());
  EXPECT_EQ(one->size(), 1u);
  auto some = log->read(0, 200);
  ASSERT_TRUE(some.is_ok());
  std::size_t total = 0;
  for (const auto& r : some->records()) total += kRecordHeaderSize + r.value.size();
  EXPECT_LE(total, 200u);
  EXPECT_GT(some->size(), 1u);
}

TEST_F(LogTest, BatchesGetConsecutiveOffsetsOneTimestampAndOneCallback) {
  auto log = open();
  const auto a = bytes("a"), b = bytes("b"), key = bytes("key-b");
  const std::vector<RecordInput> batch = {{a, std::nullopt}, {b, std::span<const std::byte>(key)}};
  int calls = 0;
  auto r = log->append(batch, kBaseTime, [&](const Status& s, const AppendResult& res) {
    EXPECT_TRUE(s.is_ok());
    EXPECT_EQ(res.first_offset, 0u);
    EXPECT_EQ(res.last_offset, 1u);
    ++calls;
  });
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(calls, 0);  // never inside append()
  log->do_work(clock_.now());
  EXPECT_EQ(calls, 1);
  auto read = log->read(0, 1000);
  ASSERT_EQ(read->size(), 2u);
  EXPECT_FALSE(read->records()[0].key);
  EXPECT_EQ(text(*read->records()[1].key), "key-b");
  EXPECT_EQ(read->records()[0].timestamp, read->records()[1].timestamp);
}

TEST_F(LogTest, RejectsEmptyAndOversizedAppends) {
  LogOptions o = options();
  o.max_record_bytes = 100;
  auto log = open(o);
  EXPECT_EQ(log->append({}, kBaseTime).status().code(), ErrorCode::kInvalidArgument);
  const std::vector<std::byte> big(100);
  const RecordInput r{big, std::nullopt};
  EXPECT_EQ(log->append(std::span(&r, 1), kBaseTime).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(log->next_offset(), 0u);
}

TEST_F(LogTest, ABatchLargerThanASegmentGetsASegmentOfItsOwn) {
  auto log = open();
  append_one(*log, 1);
  const std::vector<std::byte> big(3000);
  const std::vector<RecordInput> batch(3, RecordInput{big, std::nullopt});
  ASSERT_TRUE(log->append(batch, kBaseTime).is_ok());
  append_one(*log, 2);
  log->do_work(clock_.now());
  EXPECT_EQ(log->segment_count(), 3u);
  EXPECT_EQ(read_all(*log).size(), 5u);
}

TEST_F(LogTest, TimestampsNeverGoBackwards) {
  auto log = open();
  append_one(*log, 0, kBaseTime + 100);
  append_one(*log, 1, kBaseTime);  // a clock step back
  log->do_work(clock_.now());
  auto batch = log->read(0, 1000);
  ASSERT_EQ(batch->size(), 2u);
  EXPECT_EQ(batch->records()[1].timestamp, kBaseTime + 100);
}

TEST_F(LogTest, FindsTheFirstRecordAtOrAfterATime) {
  {
    auto log = open();
    for (std::uint64_t n = 0; n < 400; ++n) append_one(*log, n, kBaseTime + static_cast<std::int64_t>(n / 2) * 10);
    log->do_work(clock_.now());
  }
  auto log = open();  // sealed segments' time indexes come from their files now
  ASSERT_GT(log->segment_count(), 5u);
  auto find = [&](std::int64_t t) { return *log->find_offset_for_time(t); };
  EXPECT_EQ(find(0), 0u);
  EXPECT_EQ(find(kBaseTime), 0u);
  for (std::uint64_t n = 0; n < 400; n += 2) {
    const auto t = kBaseTime + static_cast<std::int64_t>(n / 2) * 10;
    EXPECT_EQ(find(t), n) << n;      // exactly: the first of the two records with that time
    EXPECT_EQ(find(t - 3), n) << n;  // between: the next record
  }
  EXPECT_EQ(find(kBaseTime + 10'000), 400u);  // after the last: the end
}

TEST_F(LogTest, RollsByAge) {
  LogOptions o = options();
  o.segment_bytes = 1 << 20;
  o.segment_max_age = std::chrono::seconds(10);
  auto log = open(o);
  for (std::uint64_t n = 0; n < 35; ++n) append_one(*log, n);  // one second apart
  EXPECT_EQ(log->segment_count(), 4u);                         // 0-9, 10-19, 20-29, 30-34
  EXPECT_EQ(fs_.names(std::string(kDir)).front(), "00000000000000000000.index");
}

// ---- Group commit, driven by the fake clock -----------------------------------------------------------------

TEST_F(LogTest, EveryWriteAcknowledgesOnlyAfterTheFsyncThatCoversIt) {
  auto log = open();
  const auto syncs_before = fs_.syncs();
  for (std::uint64_t n = 0; n < 10; ++n) append_one(*log, n);
  EXPECT_TRUE(acked_.empty());
  EXPECT_EQ(log->end_offset(), 0u);  // written, not yet acknowledged: invisible to readers
  EXPECT_TRUE(log->read(0, 1000)->empty());
  EXPECT_EQ(log->next_deadline(), clock_.now());
  EXPECT_EQ(log->do_work(clock_.now()), 10);
  EXPECT_EQ(fs_.syncs() - syncs_before, 1u);  // one fsync covered all ten appends
  EXPECT_EQ(acked_.size(), 10u);
  EXPECT_EQ(log->end_offset(), 10u);
  EXPECT_FALSE(log->next_deadline());
  EXPECT_EQ(log->do_work(clock_.now()), 0);
  EXPECT_EQ(fs_.syncs() - syncs_before, 1u);  // nothing waiting, no fsync
}

TEST_F(LogTest, IntervalPolicyAcknowledgesOnWriteAndSyncsOnceTheOldestUnsyncedRecordIsAnIntervalOld) {
  LogOptions o = options();
  o.fsync_policy = FsyncPolicy::kInterval;
  o.fsync_interval = 5ms;
  auto log = open(o);
  const auto syncs_before = fs_.syncs();
  const auto t0 = clock_.now();
  append_one(*log, 0);
  EXPECT_EQ(log->end_offset(), 1u) << "readable once written";
  EXPECT_EQ(*log->next_deadline(), t0) << "its acknowledgement is due at once";
  EXPECT_EQ(log->do_work(clock_.now()), 1);
  EXPECT_EQ(acked_, (std::vector<std::uint64_t>{0}));
  EXPECT_EQ(fs_.syncs(), syncs_before) << "acknowledged before any fsync";
  clock_.advance(3ms);
  append_one(*log, 1);
  EXPECT_EQ(log->do_work(clock_.now()), 1);
  EXPECT_EQ(*log->next_deadline(), t0 + 5ms) << "the fsync is due an interval after the oldest unsynced record";
  clock_.advance(1ms);
  EXPECT_EQ(log->do_work(clock_.now()), 0);  // 4 ms: not yet
  EXPECT_EQ(fs_.syncs(), syncs_before);
  clock_.advance(1ms);
  log->do_work(clock_.now());  // 5 ms: one fsync covers both
  EXPECT_EQ(fs_.syncs() - syncs_before, 1u);
  EXPECT_FALSE(log->next_deadline()) << "nothing unsynced, nothing waiting";
  // The next window starts with the next append.
  clock_.advance(100ms);
  append_one(*log, 2);
  log->do_work(clock_.now());
  EXPECT_EQ(*log->next_deadline(), clock_.now() + 5ms);
  log->do_work(clock_.now() + 4ms);
  EXPECT_EQ(fs_.syncs() - syncs_before, 1u);
  log->do_work(clock_.now() + 5ms);
  EXPECT_EQ(fs_.syncs() - syncs_before, 2u);
}

TEST_F(LogTest, OsPolicyAcknowledgesWithoutFsyncAndReadersSeeRecordsAtOnce) {
  LogOptions o = options();
  o.fsync_policy = FsyncPolicy::kOs;
  o.segment_bytes = 1 << 20;
  auto log = open(o);
  const auto syncs_before = fs_.syncs();
  append_one(*log, 0);
  EXPECT_EQ(log->end_offset(), 1u);
  EXPECT_EQ(log->read(0, 100)->size(), 1u);
  EXPECT_EQ(log->do_work(clock_.now()), 1);
  EXPECT_EQ(acked_.size(), 1u);
  EXPECT_EQ(fs_.syncs(), syncs_before);
  EXPECT_TRUE(log->sync().is_ok());  // an explicit sync still syncs
  EXPECT_EQ(fs_.syncs() - syncs_before, 1u);
}

TEST_F(LogTest, StopSyncsWhatIsPendingAndRefusesNewAppends) {
  LogOptions o = options();
  o.fsync_policy = FsyncPolicy::kInterval;
  o.fsync_interval = 1h;
  auto log = open(o);
  append_one(*log, 0);
  EXPECT_TRUE(log->stop().is_ok());
  EXPECT_EQ(acked_.size(), 1u);
  const auto v = bytes("late");
  const RecordInput r{v, std::nullopt};
  EXPECT_EQ(log->append(std::span(&r, 1), kBaseTime).status().code(), ErrorCode::kClosed);
  EXPECT_TRUE(log->stop().is_ok());  // idempotent
}

TEST_F(LogTest, ACallbackMayAppendAgain) {
  auto log = open();
  const auto v = bytes("x");
  const RecordInput r{v, std::nullopt};
  int appended_from_callback = 0;
  ASSERT_TRUE(log->append(std::span(&r, 1), kBaseTime,
                          [&](const Status&, const AppendResult&) {
                            if (log->append(std::span(&r, 1), kBaseTime).is_ok()) ++appended_from_callback;
                          })
                  .is_ok());
  log->do_work(clock_.now());
  EXPECT_EQ(appended_from_callback, 1);
  EXPECT_EQ(log->next_offset(), 2u);
}

// ---- Retention -----------------------------------------------------------------------------------------------

TEST_F(LogTest, RetentionBySizeDeletesWholeOldSegmentsAndNothingElse) {
  LogOptions o = options();
  o.retention_bytes = 10'000;
  auto log = open(o);
  for (std::uint64_t n = 0; n < 500; ++n) append_one(*log, n);
  log->do_work(clock_.now());
  const std::size_t before = log->segment_count();
  auto report = log->apply_retention(kBaseTime + 1'000'000'000'000);
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  EXPECT_GT(report->segments_deleted, 0u);
  EXPECT_EQ(log->segment_count(), before - report->segments_deleted);
  const std::uint64_t first = log->first_offset();
  EXPECT_EQ(report->first_offset, first);
  EXPECT_GT(first, 0u);
  // What is left is whole: every record from the new first offset to the end, and the files of deleted
  // segments are gone (all three of them).
  const auto rest = read_all(*log, first);
  ASSERT_EQ(rest.size(), 500 - first);
  EXPECT_EQ(rest.front().second, value_for(first));
  std::uint64_t total = 0;
  for (const auto& name : fs_.names(std::string(kDir))) {
    auto parsed = parse_file_name(name);
    ASSERT_TRUE(parsed);
    EXPECT_GE(parsed->base_offset, first) << name;
    if (parsed->kind == FileKind::kSegment) total += fs_.contents(join_path(kDir, name)).size();
  }
  EXPECT_LE(total, 10'000u);
  EXPECT_EQ(log->read(first - 1, 100).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(log->apply_retention(kBaseTime)->segments_deleted, 0u);  // nothing more to do
  EXPECT_TRUE(log->verify().status.is_ok());
  EXPECT_EQ(log->stats().segments_deleted, report->segments_deleted);
}

TEST_F(LogTest, RetentionByAgeUsesEachSegmentsNewestRecord) {
  LogOptions o = options();
  o.retention_age = std::chrono::seconds(100);
  auto log = open(o);
  for (std::uint64_t n = 0; n < 300; ++n) append_one(*log, n);  // one per second
  log->do_work(clock_.now());
  const auto now = kBaseTime + 250'000'000'000;  // keep what is newer than t = 150 s
  ASSERT_TRUE(log->apply_retention(now).is_ok());
  const std::uint64_t first = log->first_offset();
  EXPECT_LE(first, 150u);  // the segment holding record 150 stays
  auto batch = log->read(first, 1 << 20);
  ASSERT_TRUE(batch.is_ok());
  ASSERT_FALSE(batch->empty());
  // The first remaining segment's newest record is young enough; the deleted one's was not.
  EXPECT_GT(first, 50u);
  auto everything_old = log->apply_retention(kBaseTime + 1'000'000'000'000);
  ASSERT_TRUE(everything_old.is_ok());
  EXPECT_EQ(everything_old->first_offset, log->first_offset());
  EXPECT_EQ(log->segment_count(), 1u);  // everything old is gone except the active segment
}

TEST_F(LogTest, RetentionNeverDeletesTheActiveSegment) {
  LogOptions o = options();
  o.retention_bytes = 1;
  o.segment_bytes = 1 << 20;
  auto log = open(o);
  for (std::uint64_t n = 0; n < 50; ++n) append_one(*log, n);
  log->do_work(clock_.now());
  EXPECT_EQ(log->apply_retention(kBaseTime)->segments_deleted, 0u);
  EXPECT_EQ(read_all(*log).size(), 50u);
}

// ---- Readers and the appender at once ------------------------------------------------------------------------

TEST_F(LogTest, ReadersTheAppenderAndGroupCommitRunOnTheirOwnThreads) {
  LogOptions o = options();
  o.fsync_policy = FsyncPolicy::kInterval;
  o.fsync_interval = 0ms;
  auto log = open(o);
  constexpr std::uint64_t kCount = 2000;
  std::atomic<bool> stop{false};
  struct Seen {
    std::vector<std::uint64_t> offsets;  // read after join()
    std::atomic<std::size_t> count{0};
  };
  auto reader = [&](std::size_t max_bytes, Seen& seen) {
    std::uint64_t at = 0;
    while (seen.count < kCount && !stop) {
      auto batch = log->read(at, max_bytes);
      ASSERT_TRUE(batch.is_ok()) << batch.status().to_string();
      for (const auto& r : batch->records()) {
        ASSERT_EQ(text(r.value), value_for(r.offset));
        seen.offsets.push_back(r.offset);
      }
      seen.count = seen.offsets.size();
      at = batch->next_offset();
      if (batch->empty()) std::this_thread::yield();
    }
  };
  Seen fast_seen, slow_seen;
  std::thread t1(reader, 1 << 16, std::ref(fast_seen));
  std::thread t2(reader, 50, std::ref(slow_seen));
  std::atomic<bool> appending{true};
  std::thread syncer([&] {  // group commit on its own thread, as weftd may run it
    while (appending || log->next_deadline()) log->do_work(clock_.now());
  });
  for (std::uint64_t n = 0; n < kCount; ++n) append_one(*log, n);
  appending = false;
  syncer.join();
  const bool all_seen =
      weft::testing::wait_until([&] { return fast_seen.count == kCount && slow_seen.count == kCount; });
  stop = true;
  t1.join();
  t2.join();
  ASSERT_TRUE(all_seen);
  const auto& fast = fast_seen.offsets;
  const auto& slow = slow_seen.offsets;
  for (std::uint64_t n = 0; n < kCount; ++n) {
    ASSERT_EQ(fast[n], n);
    ASSERT_EQ(slow[n], n);
  }
}

}  // namespace
}  // namespace weft::detail::log
