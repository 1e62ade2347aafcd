// What each fsync policy promises, checked with simulated power losses and crashes, and what happens when
// the disk fails: an fsync failure stops acknowledgements for good; a write failure is undone.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>

#include "log_test_support.hpp"

namespace weft::detail::log {
namespace {

using namespace std::chrono_literals;
using testing::bytes;
using testing::kBaseTime;
using testing::kDir;
using testing::LogFixture;
using testing::segment_path;
using testing::text;
using testing::value_for;
using weft::testing::FakeClock;
using weft::testing::FakeFileSystem;

// One randomised run: appends (batches of 1-4), do_work and clock steps in random order against a fresh fake
// disk, then a power loss at a random point. Records what was acknowledged, and when each record was
// appended.
struct PowerLossRun {
  FakeFileSystem fs;
  FakeClock clock;
  std::vector<std::uint64_t> acked;
  std::map<std::uint64_t, Clock::TimePoint> appended_at;
  std::uint64_t end_before_loss = 0;
  std::uint64_t written_before_loss = 0;
  std::uint64_t records_in_sealed_segments = 0;
  Clock::TimePoint loss_time{};

  // With `step_often`, do_work() runs after every step, as weftd's loop does whenever the deadline passes.
  void run(const LogOptions& o, std::uint32_t seed, bool step_often = false) {
    std::mt19937 rng(seed);
    auto log = Log::open(fs, clock, std::string(kDir), o);
    ASSERT_TRUE(log.is_ok()) << log.status().to_string();
    std::uint64_t next = 0;
    const int steps = 50 + static_cast<int>(rng() % 250);
    for (int step = 0; step < steps; ++step) {
      switch (rng() % 4) {
        case 0:
        case 1: {
          const std::size_t n = 1 + rng() % 4;
          std::vector<std::vector<std::byte>> values;
          std::vector<RecordInput> batch;
          for (std::size_t i = 0; i < n; ++i) values.push_back(bytes(value_for(next + i)));
          for (const auto& v : values) batch.push_back({v, std::nullopt});
          auto r = (*log)->append(batch, kBaseTime, [this](const Status& s, const AppendResult& a) {
            if (!s.is_ok()) return;
            for (auto off = a.first_offset; off <= a.last_offset; ++off) acked.push_back(off);
          });
          ASSERT_TRUE(r.is_ok()) << r.status().to_string();
          for (std::size_t i = 0; i < n; ++i) appended_at[next + i] = clock.now();
          next += n;
          break;
        }
        case 2:
          (*log)->do_work(clock.now());
          break;
        case 3:
          clock.advance(std::chrono::microseconds(rng() % 3000));
          break;
      }
      if (step_often) (*log)->do_work(clock.now());
    }
    end_before_loss = (*log)->end_offset();
    written_before_loss = (*log)->next_offset();
    // The active segment's base: every offset below it lives in a sealed segment.
    for (const auto& name : fs.names(std::string(kDir))) {
      auto parsed = parse_file_name(name);
      if (parsed && parsed->kind == FileKind::kSegment) {
        records_in_sealed_segments = std::max(records_in_sealed_segments, parsed->base_offset);
      }
    }
    loss_time = clock.now();
    fs.power_loss();  // the machine dies with the log still open; its stop() then fails harmlessly
  }

  // Reopens and checks the recovered log is a clean prefix of what was written; returns its length.
  std::uint64_t recover_and_check(const LogOptions& o) {
    auto log = Log::open(fs, clock, std::string(kDir), o);
    EXPECT_TRUE(log.is_ok()) << log.status().to_string();
    if (!log.is_ok()) return 0;
    const std::uint64_t end = (*log)->end_offset();
    std::uint64_t expect = 0;
    for (std::uint64_t at = 0;;) {
      auto batch = (*log)->read(at, 1 << 20);
      EXPECT_TRUE(batch.is_ok()) << batch.status().to_string();
      if (!batch.is_ok() || batch->empty()) break;
      for (const auto& r : batch->records()) {
        EXPECT_EQ(r.offset, expect++);
        EXPECT_EQ(text(r.value), value_for(r.offset));
      }
      at = batch->next_offset();
    }
    EXPECT_EQ(expect, end);
    EXPECT_TRUE((*log)->recovery_report().damage.empty());
    EXPECT_TRUE((*log)->verify().status.is_ok()) << (*log)->verify().status.to_string();
    return end;
  }
};

LogOptions small_segments(FsyncPolicy policy) {
  LogOptions o;
  o.segment_bytes = 1024;  // rolls often, so directory syncs and sealing are exercised
  o.index_interval_bytes = 128;
  o.fsync_policy = policy;
  o.fsync_interval = 5ms;
  o.retention_age = std::chrono::nanoseconds(0);
  return o;
}

TEST(LogPowerLoss, EveryWriteNeverLosesAnAcknowledgedRecord) {
  const LogOptions o = small_segments(FsyncPolicy::kEveryWrite);
  for (std::uint32_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    PowerLossRun run;
    run.run(o, seed);
    const std::uint64_t recovered = run.recover_and_check(o);
    for (std::uint64_t off : run.acked) ASSERT_LT(off, recovered) << "acknowledged record " << off << " was lost";
    EXPECT_GE(recovered, run.end_before_loss);
    EXPECT_GE(recovered, run.records_in_sealed_segments);
    EXPECT_LE(recovered, run.written_before_loss);
  }
}

TEST(LogPowerLoss, GroupCommitLosesOnlyRecordsInTheUnsyncedWindow) {
  const LogOptions o = small_segments(FsyncPolicy::kInterval);
  std::uint64_t lost_somewhere = 0;
  for (std::uint32_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    PowerLossRun run;
    run.run(o, seed, true);
    const std::uint64_t recovered = run.recover_and_check(o);
    // Records are acknowledged once written; anything lost was appended within one interval (plus one clock
    // step, the most do_work can lag its deadline here) of the power loss.
    for (std::uint64_t off = recovered; off < run.written_before_loss; ++off) {
      ASSERT_GT(run.appended_at.at(off) + o.fsync_interval + 3ms, run.loss_time)
          << "record " << off << " was outside the group-commit window and still lost";
    }
    lost_somewhere += run.written_before_loss - recovered;
  }
  EXPECT_GT(lost_somewhere, 0u) << "the runs never exercised the window";
}

TEST(LogPowerLoss, OsPolicyRecoversAConsistentPrefixAndKeepsSealedSegments) {
  const LogOptions o = small_segments(FsyncPolicy::kOs);
  for (std::uint32_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    PowerLossRun run;
    run.run(o, seed);
    const std::uint64_t recovered = run.recover_and_check(o);
    EXPECT_GE(recovered, run.records_in_sealed_segments) << "a power loss took records of a sealed segment";
  }
}

TEST(LogPowerLoss, AProcessCrashLosesNothingThatWasWritten) {
  for (FsyncPolicy policy : {FsyncPolicy::kEveryWrite, FsyncPolicy::kInterval, FsyncPolicy::kOs}) {
    const LogOptions o = small_segments(policy);
    FakeFileSystem fs;
    FakeClock clock;
    std::uint64_t written = 0;
    {
      auto log = Log::open(fs, clock, std::string(kDir), o);
      ASSERT_TRUE(log.is_ok());
      for (std::uint64_t n = 0; n < 100; ++n) {
        const auto v = bytes(value_for(n));
        const RecordInput r{v, std::nullopt};
        ASSERT_TRUE((*log)->append(std::span(&r, 1), kBaseTime).is_ok());
      }
      written = (*log)->next_offset();
      fs.crash();
    }
    auto log = Log::open(fs, clock, std::string(kDir), o);
    ASSERT_TRUE(log.is_ok());
    EXPECT_EQ((*log)->next_offset(), written);
    EXPECT_EQ((*log)->end_offset(), written);  // recovered data is fsynced on open, so it is acknowledged
  }
}

// A crash leaves written records in the page cache only. The reopened log calls them acknowledged, so it must
// make them durable first: a power loss right after the reopen must not take them.
TEST(LogPowerLoss, RecordsRecoveredAfterACrashAreDurableBeforeTheyAreAcknowledged) {
  LogOptions o = small_segments(FsyncPolicy::kInterval);
  o.fsync_interval = 1h;
  o.segment_bytes = 1 << 20;
  FakeFileSystem fs;
  FakeClock clock;
  {
    auto log = Log::open(fs, clock, std::string(kDir), o);
    ASSERT_TRUE(log.is_ok());
    for (std::uint64_t n = 0; n < 50; ++n) {
      const auto v = bytes(value_for(n));
      const RecordInput r{v, std::nullopt};
      ASSERT_TRUE((*log)->append(std::span(&r, 1), kBaseTime).is_ok());
    }
    fs.crash();
  }
  {
    auto log = Log::open(fs, clock, std::string(kDir), o);
    ASSERT_TRUE(log.is_ok());
    ASSERT_EQ((*log)->end_offset(), 50u);
    fs.power_loss();
  }
  auto log = Log::open(fs, clock, std::string(kDir), o);
  ASSERT_TRUE(log.is_ok());
  EXPECT_EQ((*log)->end_offset(), 50u);
}

// ---- Fsync failures ---------------------------------------------------------------------------------------------

class LogFsyncFailure : public LogFixture, public ::testing::WithParamInterface<int> {};

TEST_P(LogFsyncFailure, StopsAcknowledgementsReportsLoudlyAndNeverRetries) {
  auto log = open();
  for (std::uint64_t n = 0; n < 5; ++n) append_one(*log, n);
  log->do_work(clock_.now());
  ASSERT_EQ(acked_.size(), 5u);

  fs_.fail(FakeFileSystem::Op::kSync, 1, GetParam());
  for (std::uint64_t n = 5; n < 10; ++n) append_one(*log, n);
  EXPECT_EQ(log->do_work(clock_.now()), 5);  // five appends told they failed
  EXPECT_EQ(acked_.size(), 5u);
  EXPECT_EQ(failed_.size(), 5u);
  EXPECT_EQ(last_failure_.code(), ErrorCode::kIoError);
  EXPECT_NE(last_failure_.message().find("fdatasync"), std::string::npos) << last_failure_.to_string();
  const Status health = log->health();
  EXPECT_EQ(health.code(), ErrorCode::kIoError);
  EXPECT_NE(health.message().find(std::strerror(GetParam())), std::string::npos) << health.to_string();

  // From now on: no acknowledgement, no fsync attempt, the same failure everywhere.
  const auto syncs = fs_.syncs() + fs_.failed_syncs();
  const auto v = bytes("after");
  const RecordInput r{v, std::nullopt};
  EXPECT_EQ(log->append(std::span(&r, 1), kBaseTime).status().code(), ErrorCode::kIoError);
  EXPECT_EQ(log->do_work(clock_.now() + 1h), 0);
  EXPECT_FALSE(log->next_deadline());
  EXPECT_FALSE(log->sync().is_ok());
  EXPECT_FALSE(log->stop().is_ok());
  EXPECT_EQ(fs_.syncs() + fs_.failed_syncs(), syncs) << "an fsync was retried after a failure";
  EXPECT_EQ(acked_.size(), 5u);
  EXPECT_EQ(log->end_offset(), 5u);  // never claims the records of the failed fsync
  EXPECT_EQ(log->stats().fsync_failures, 1u);
  // Reads still serve what was acknowledged before, and nothing else.
  EXPECT_EQ(read_all(*log).size(), 5u);
}

class LogDiskFailure : public LogFixture {};

INSTANTIATE_TEST_SUITE_P(EioAndEnospc, LogFsyncFailure, ::testing::Values(EIO, ENOSPC),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return p.param == EIO ? std::string("EIO") : "ENOSPC";
                         });

TEST_F(LogDiskFailure, AfterAFailedFsyncOnlyTheAcknowledgedPrefixSurvivesAPowerLoss) {
  // After a failed fsync the kernel may drop the pages; the acknowledged prefix must survive regardless, and
  // what the failed fsync covered comes back (if at all) as a torn tail, never as acknowledged data.
  auto log = open();
  for (std::uint64_t n = 0; n < 5; ++n) append_one(*log, n);
  log->do_work(clock_.now());
  fs_.fail(FakeFileSystem::Op::kSync, 1);
  for (std::uint64_t n = 5; n < 10; ++n) append_one(*log, n);
  log->do_work(clock_.now());
  fs_.power_loss();
  log.reset();
  auto reopened = open();
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->next_offset(), 5u);
  EXPECT_EQ(read_all(*reopened).size(), 5u);
}

TEST_F(LogDiskFailure, AnFsyncFailureWhileSealingASegmentFailsTheLog) {
  LogOptions o = options();
  o.segment_bytes = 512;
  auto log = open(o);
  append_one(*log, 0);
  log->do_work(clock_.now());
  fs_.fail(FakeFileSystem::Op::kSync, 1, EIO, true);
  Status failure;
  for (std::uint64_t n = 1; n < 100 && failure.is_ok(); ++n) {
    const auto v = bytes(value_for(n));
    const RecordInput r{v, std::nullopt};
    auto res = log->append(std::span(&r, 1), kBaseTime);
    if (!res.is_ok()) failure = res.status();
  }
  EXPECT_EQ(failure.code(), ErrorCode::kIoError);
  EXPECT_NE(failure.message().find("sealing"), std::string::npos) << failure.to_string();
  EXPECT_FALSE(log->health().is_ok());
  EXPECT_EQ(log->segment_count(), 1u);  // no successor was created
}

TEST_F(LogDiskFailure, ADirectorySyncFailureWhileRollingFailsTheLog) {
  LogOptions o = options();
  o.segment_bytes = 512;
  auto log = open(o);
  append_one(*log, 0);
  fs_.fail(FakeFileSystem::Op::kSyncDir, 1);
  Status failure;
  for (std::uint64_t n = 1; n < 100 && failure.is_ok(); ++n) {
    const auto v = bytes(value_for(n));
    const RecordInput r{v, std::nullopt};
    auto res = log->append(std::span(&r, 1), kBaseTime);
    if (!res.is_ok()) failure = res.status();
  }
  EXPECT_EQ(failure.code(), ErrorCode::kIoError);
  EXPECT_FALSE(log->health().is_ok());
  EXPECT_GT(log->do_work(clock_.now()), 0);  // the waiting appends learn they failed
  EXPECT_TRUE(acked_.empty());
  EXPECT_FALSE(failed_.empty());
}

// A roll whose new segment file cannot be written must not leave the file behind: the next open would take
// it for the active segment while this log went on appending to the old one.
TEST_F(LogDiskFailure, AFailedRollLeavesNoHalfMadeSegmentBehind) {
  LogOptions o = options();
  o.segment_bytes = 512;
  // Where the first roll happens, from a dry run on another disk.
  std::uint64_t roll_at = 0;
  {
    FakeFileSystem dry_fs;
    auto dry = Log::open(dry_fs, clock_, std::string(kDir), o);
    ASSERT_TRUE(dry.is_ok());
    while ((*dry)->segment_count() == 1) roll_at = append_one(**dry, roll_at).last_offset + 1;
    roll_at -= 1;  // the record that rolled went into the new segment
  }
  auto log = open(o);
  FakeFileSystem::Fault header_write;
  header_write.op = FakeFileSystem::Op::kAppend;
  header_write.error = ENOSPC;
  header_write.partial_bytes = 7;
  header_write.path_contains = file_name(roll_at, FileKind::kSegment);
  fs_.inject(header_write);
  for (std::uint64_t n = 0; n < roll_at; ++n) append_one(*log, n);
  const auto v = bytes(value_for(roll_at));
  const RecordInput r{v, std::nullopt};
  auto res = log->append(std::span(&r, 1), kBaseTime);
  ASSERT_EQ(res.status().code(), ErrorCode::kIoError) << res.status().to_string();
  EXPECT_TRUE(log->health().is_ok());
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_FALSE(fs_.exists(segment_path(roll_at)));
  append_one(*log, roll_at);  // carries on, in a new segment this time
  EXPECT_EQ(log->segment_count(), 2u);
  ASSERT_TRUE(log->stop().is_ok());
  log.reset();
  auto reopened = open(o);
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->next_offset(), roll_at + 1);
  EXPECT_TRUE(reopened->verify().status.is_ok()) << reopened->verify().status.to_string();
}

// ---- Write failures ---------------------------------------------------------------------------------------------

TEST_F(LogDiskFailure, AFailedWriteIsUndoneAndTheLogCarriesOn) {
  auto log = open();
  append_one(*log, 0);
  log->do_work(clock_.now());
  const auto before = fs_.contents(segment_path(0));
  fs_.fail_append(1, ENOSPC, 11);
  const auto v = bytes(value_for(1));
  const RecordInput r{v, std::nullopt};
  auto res = log->append(std::span(&r, 1), kBaseTime);
  EXPECT_EQ(res.status().code(), ErrorCode::kIoError);
  EXPECT_TRUE(log->health().is_ok());
  EXPECT_EQ(fs_.contents(segment_path(0)), before);  // the partial write was cut off
  EXPECT_EQ(log->next_offset(), 1u);
  EXPECT_EQ(append_one(*log, 1).first_offset, 1u);  // the offset was not used up
  log->do_work(clock_.now());
  EXPECT_EQ(read_all(*log).size(), 2u);
  EXPECT_TRUE(log->verify().status.is_ok());
  EXPECT_EQ(log->stats().write_failures, 1u);
}

TEST_F(LogDiskFailure, AFailedWriteThatCannotBeUndoneFailsTheLog) {
  auto log = open();
  append_one(*log, 0);
  fs_.fail_append(1, EIO, 5);
  fs_.fail(FakeFileSystem::Op::kTruncate, 1);
  const auto v = bytes("x");
  const RecordInput r{v, std::nullopt};
  EXPECT_FALSE(log->append(std::span(&r, 1), kBaseTime).is_ok());
  EXPECT_FALSE(log->health().is_ok());
  EXPECT_EQ(log->do_work(clock_.now()), 1);  // record 0's waiter learns it failed
  EXPECT_EQ(failed_.size(), 1u);
}

}  // namespace
}  // namespace weft::detail::log
