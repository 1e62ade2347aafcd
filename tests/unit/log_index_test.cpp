// The sparse index, the index files, the retention planner and group-commit bookkeeping: the pure parts.
#include <gtest/gtest.h>

#include "log/group_commit.hpp"
#include "log/index_file.hpp"
#include "log/log_format.hpp"
#include "log/retention.hpp"
#include "log/sparse_index.hpp"

namespace weft::detail::log {
namespace {

// 100 records of 100 bytes from position 24, timestamps 1000 + 10 * offset; one entry per 300 bytes.
SparseIndex sample_index() {
  SparseIndex index(300);
  for (std::uint32_t r = 0; r < 100; ++r) index.on_record(r, 24 + r * 100, 1000 + 10 * r, 100);
  return index;
}

TEST(LogIndex, AddsAnEntryPerIntervalOfBytes) {
  const SparseIndex index = sample_index();
  ASSERT_FALSE(index.entries().empty());
  EXPECT_EQ(index.entries().front().relative_offset, 3u);  // the first record needs no entry
  for (std::size_t i = 1; i < index.entries().size(); ++i) {
    EXPECT_EQ(index.entries()[i].relative_offset - index.entries()[i - 1].relative_offset, 3u);
  }
}

TEST(LogIndex, FloorOffsetGivesTheLastEntryAtOrBefore) {
  const SparseIndex index = sample_index();
  EXPECT_FALSE(index.floor_offset(0));
  EXPECT_FALSE(index.floor_offset(2));
  EXPECT_EQ(index.floor_offset(3)->relative_offset, 3u);
  EXPECT_EQ(index.floor_offset(5)->relative_offset, 3u);
  EXPECT_EQ(index.floor_offset(6)->position, 24u + 600);
  EXPECT_EQ(index.floor_offset(1'000'000)->relative_offset, index.entries().back().relative_offset);
}

TEST(LogIndex, LastBeforeTimeNeverSkipsTheAnswer) {
  const SparseIndex index = sample_index();
  for (std::int64_t t = 900; t < 2100; t += 5) {
    auto e = index.last_before_time(t);
    const std::int64_t first_at_or_after = std::max<std::int64_t>(0, (t - 1000 + 9) / 10);
    if (e) {
      EXPECT_LT(e->timestamp, t);
      EXPECT_LE(e->relative_offset, first_at_or_after) << t;
    }
  }
  EXPECT_FALSE(index.last_before_time(1000));
}

SegmentSummary sample_summary() {
  return {4000, 4100, 24 + 100 * 100, 1000, 1990};
}

TEST(LogIndexFile, RoundTrips) {
  const SparseIndex index = sample_index();
  const auto offsets = encode_offset_index(sample_summary(), index.entries());
  const auto times = encode_time_index(sample_summary(), index.entries());
  EXPECT_EQ(offsets.size(), index.entries().size() * kOffsetIndexEntrySize + kIndexFooterSize);
  EXPECT_EQ(times.size(), index.entries().size() * kTimeIndexEntrySize + kIndexFooterSize);
  auto loaded = decode_index_files(offsets, times, 4000);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  EXPECT_EQ(loaded->summary, sample_summary());
  EXPECT_EQ(loaded->entries, index.entries());
}

TEST(LogIndexFile, EveryFlippedByteAndEveryTruncationIsCaught) {
  const SparseIndex index = sample_index();
  const auto offsets = encode_offset_index(sample_summary(), index.entries());
  const auto times = encode_time_index(sample_summary(), index.entries());
  for (std::size_t i = 0; i < offsets.size(); ++i) {
    auto bad = offsets;
    bad[i] ^= std::byte{0x10};
    EXPECT_EQ(decode_index_files(bad, times, 4000).status().code(), ErrorCode::kCorruption) << i;
    EXPECT_FALSE(decode_index_files(std::span(offsets).first(i), times, 4000).is_ok()) << i;
  }
  for (std::size_t i = 0; i < times.size(); ++i) {
    auto bad = times;
    bad[i] ^= std::byte{0x10};
    EXPECT_FALSE(decode_index_files(offsets, bad, 4000).is_ok()) << i;
  }
}

TEST(LogIndexFile, FilesOfAnotherSegmentOrDisagreeingFilesAreRejected) {
  const SparseIndex index = sample_index();
  const auto offsets = encode_offset_index(sample_summary(), index.entries());
  const auto times = encode_time_index(sample_summary(), index.entries());
  EXPECT_FALSE(decode_index_files(offsets, times, 4001).is_ok());
  SegmentSummary other = sample_summary();
  other.size_bytes += 1;
  EXPECT_FALSE(decode_index_files(offsets, encode_time_index(other, index.entries()), 4000).is_ok());
  EXPECT_FALSE(decode_index_files(times, offsets, 4000).is_ok());  // swapped
}

TEST(LogIndexFile, EntriesOutOfRangeAreRejectedEvenWithAGoodChecksum) {
  std::vector<IndexEntry> entries = sample_index().entries();
  entries[1].position = entries[0].position;  // not increasing
  EXPECT_FALSE(decode_index_files(encode_offset_index(sample_summary(), entries),
                                  encode_time_index(sample_summary(), entries), 4000)
                   .is_ok());
  entries = sample_index().entries();
  entries.back().relative_offset = 100;  // past the last record
  EXPECT_FALSE(decode_index_files(encode_offset_index(sample_summary(), entries),
                                  encode_time_index(sample_summary(), entries), 4000)
                   .is_ok());
}

// ---- Retention ---------------------------------------------------------------------------------------------

std::vector<SegmentSummary> segments_of(std::initializer_list<std::pair<std::uint64_t, std::int64_t>> spec) {
  // (size in bytes, last timestamp) per segment, 10 records each.
  std::vector<SegmentSummary> out;
  std::uint64_t base = 0;
  for (auto [size, ts] : spec) {
    out.push_back({base, base + 10, size, ts - 5, ts});
    base += 10;
  }
  return out;
}

TEST(LogRetentionPlan, BySizeDeletesOldestUntilUnderTheLimit) {
  const auto segs = segments_of({{100, 1}, {100, 2}, {100, 3}, {100, 4}});
  EXPECT_EQ(plan_retention(segs, {.max_bytes = 400}, 10, 40), 0u);
  EXPECT_EQ(plan_retention(segs, {.max_bytes = 399}, 10, 40), 1u);
  EXPECT_EQ(plan_retention(segs, {.max_bytes = 250}, 10, 40), 2u);
  EXPECT_EQ(plan_retention(segs, {.max_bytes = 1}, 10, 40), 3u);  // never the active segment
}

TEST(LogRetentionPlan, ByAgeDeletesSegmentsWhoseNewestRecordIsTooOld) {
  const auto segs = segments_of({{100, 100}, {100, 200}, {100, 300}, {100, 400}});
  const std::chrono::nanoseconds age(150);
  EXPECT_EQ(plan_retention(segs, {.max_age = age}, 340, 40), 1u);  // cutoff 190
  EXPECT_EQ(plan_retention(segs, {.max_age = age}, 351, 40), 2u);  // cutoff 201
  EXPECT_EQ(plan_retention(segs, {.max_age = age}, 10'000, 40), 3u);
  EXPECT_EQ(plan_retention(segs, {}, 10'000, 40), 0u);  // no limits
}

TEST(LogRetentionPlan, StopsAtTheFirstSegmentToKeepAndAtUnacknowledgedRecords) {
  // An old segment behind a young one is kept: deletion stays contiguous from the oldest.
  const auto segs = segments_of({{100, 100}, {100, 900}, {100, 100}, {100, 1000}});
  EXPECT_EQ(plan_retention(segs, {.max_age = std::chrono::nanoseconds(500)}, 1000, 40), 1u);
  EXPECT_EQ(plan_retention(segments_of({{100, 1}, {100, 2}, {100, 3}}), {.max_bytes = 1}, 10, 15), 1u);
}

// ---- Group commit ------------------------------------------------------------------------------------------

TEST(LogGroupCommit, AWaiterIsDueAtOnceAndAnFsyncTakesTheWaitersItCovers) {
  GroupCommit gc;
  const Clock::TimePoint t0{std::chrono::seconds(1)};
  EXPECT_FALSE(gc.deadline());
  gc.add({0, 0}, t0, {});
  gc.add({1, 3}, t0 + std::chrono::milliseconds(3), {});
  EXPECT_EQ(*gc.deadline(), t0);
  EXPECT_TRUE(gc.due(t0));
  std::vector<GroupCommit::Waiter> out;
  gc.take_covered(3, out);  // offsets 0..2 are covered: the second waiter (1..3) is not
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(*gc.deadline(), t0 + std::chrono::milliseconds(3));
  gc.take_covered(4, out);
  EXPECT_EQ(out.size(), 2u);
  EXPECT_TRUE(gc.empty());
}

}  // namespace
}  // namespace weft::detail::log
