// Log::compact: per-key compaction of sealed segments. Removed records keep their offsets (reads pass over
// them), tombstones go after their retention, a compaction cut short leaves the log whole.
#include <map>
#include <string>

#include "log_test_support.hpp"

namespace weft::detail::log::testing {
namespace {

class LogCompactionTest : public LogFixture {
 protected:
  // Appends a record with `key` ("" for none) and value "<key>=<n>" (or a tombstone), at kBaseTime + n s.
  void append_keyed(Log& log, const std::string& key, std::uint64_t n, bool tombstone = false) {
    const std::string v = key + "=" + std::to_string(n);
    const auto value = bytes(v);
    const auto k = bytes(key);
    RecordInput record{value, std::nullopt, tombstone, false};
    if (!key.empty()) record.key = std::span<const std::byte>(k);
    auto r = log.append(std::span(&record, 1), kBaseTime + static_cast<std::int64_t>(n) * 1'000'000'000);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  }

  // key -> value for the newest record of each key in `records` (as read back), and the unkeyed values.
  static std::map<std::string, std::string> newest_by_key(const std::vector<std::pair<std::uint64_t, std::string>>& r) {
    std::map<std::string, std::string> out;
    for (const auto& [offset, value] : r) out[value.substr(0, value.find('='))] = value;
    return out;
  }

  static constexpr std::int64_t kHour = 3'600'000'000'000;
};

TEST_F(LogCompactionTest, KeepsTheNewestRecordOfEachKeyAndEveryUnkeyedOneAtTheirOffsets) {
  auto log = open();
  std::uint64_t n = 0;
  for (int round = 0; round < 100; ++round) {
    for (const char* key : {"a", "b", "c"}) append_keyed(*log, key, n++);
    append_keyed(*log, "", n++);  // no key: never compacted
  }
  log->do_work(clock_.now());
  ASSERT_GT(log->segment_count(), 3u);
  const auto before = read_all(*log);
  ASSERT_EQ(before.size(), n);

  auto report = log->compact(kBaseTime);
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  EXPECT_GT(report->segments_rewritten, 0u);
  EXPECT_GT(report->bytes_reclaimed, 0u);
  const auto after = read_all(*log);
  EXPECT_EQ(after.size() + report->records_removed, before.size());
  std::size_t unkeyed = 0;
  std::map<std::string, int> seen;
  for (std::size_t i = 0; i < after.size(); ++i) {
    if (i > 0) {
      EXPECT_LT(after[i - 1].first, after[i].first) << "offsets stay in order";
    }
    EXPECT_EQ(after[i].second.substr(after[i].second.find('=') + 1), std::to_string(after[i].first))
        << "each record keeps its offset";
    const std::string key = after[i].second.substr(0, after[i].second.find('='));
    if (key.empty()) ++unkeyed;
    ++seen[key];
  }
  EXPECT_EQ(unkeyed, 100u);
  EXPECT_EQ(newest_by_key(after), newest_by_key(before)) << "the newest value of every key is kept";
  // Only the active segment may still hold older values of a key.
  for (const char* key : {"a", "b", "c"}) EXPECT_LT(seen[key], 100) << key;
  EXPECT_TRUE(log->verify().status.is_ok()) << log->verify().status.to_string();
  EXPECT_EQ(log->stats().records_compacted, report->records_removed);
  auto again = log->compact(kBaseTime);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->records_removed, 0u) << "nothing more to remove";

  // Reopened after a crash, the rewritten segments and their indexes are found as they were written.
  log.reset();
  fs_.crash();
  log = open();
  EXPECT_EQ(read_all(*log), after);
  std::string findings;
  for (const std::string& line : log->recovery_report().describe()) findings += line + "; ";
  EXPECT_TRUE(log->recovery_report().clean()) << findings;
  for (std::uint64_t offset = 0; offset < n; offset += 7) {
    auto batch = log->read(offset, 1);  // from anywhere: the indexes point into the rewritten files
    ASSERT_TRUE(batch.is_ok()) << offset << ": " << batch.status().to_string();
  }
  // After a power loss too: the segments were synced before they replaced the old ones (index files, like a
  // sealed segment's, are not, and are rebuilt).
  log.reset();
  fs_.power_loss();
  log = open();
  EXPECT_EQ(read_all(*log), after);
  EXPECT_FALSE(log->recovery_report().truncated.has_value());
  EXPECT_TRUE(log->recovery_report().damage.empty());
}

TEST_F(LogCompactionTest, ATombstoneDeletesItsKeyAndIsRemovedItselfAfterItsRetention) {
  auto log = open();
  append_keyed(*log, "gone", 0);
  append_keyed(*log, "gone", 1);
  append_keyed(*log, "gone", 2, /*tombstone=*/true);
  append_keyed(*log, "kept", 3);
  for (std::uint64_t n = 4; n < 200; ++n) append_keyed(*log, "", n);  // the keyed ones end up sealed
  log->do_work(clock_.now());
  auto young = log->compact(kBaseTime + kHour);  // the tombstone is an hour old: it stays
  ASSERT_TRUE(young.is_ok()) << young.status().to_string();
  auto keyed = read_all(*log, 0);
  keyed.resize(2);
  EXPECT_EQ(keyed[0], (std::pair<std::uint64_t, std::string>{2, "gone=2"})) << "the tombstone is still read";
  EXPECT_EQ(keyed[1], (std::pair<std::uint64_t, std::string>{3, "kept=3"}));
  auto old = log->compact(kBaseTime + 25 * kHour);  // past the default 24 h
  ASSERT_TRUE(old.is_ok());
  EXPECT_EQ(old->records_removed, 1u);
  EXPECT_EQ(read_all(*log, 0).front(), (std::pair<std::uint64_t, std::string>{3, "kept=3"}));
  EXPECT_EQ(log->first_offset(), 0u) << "removing records deletes no offsets";
}

TEST_F(LogCompactionTest, ACompactionCutShortLeavesTheLogWholeAndRecoveryRemovesItsLeftover) {
  auto log = open();
  for (std::uint64_t n = 0; n < 200; ++n) append_keyed(*log, n % 2 == 0 ? "k" : "", n);
  log->do_work(clock_.now());
  const auto before = read_all(*log);
  fs_.fail(weft::testing::FakeFileSystem::Op::kRename, 1);  // the rewritten segment never takes the old one's place
  EXPECT_FALSE(log->compact(kBaseTime).is_ok());
  EXPECT_EQ(read_all(*log), before) << "the running log still reads the old segments";
  log.reset();
  fs_.crash();
  log = open();
  EXPECT_EQ(read_all(*log), before);
  bool leftover_removed = false;
  for (const std::string& line : log->recovery_report().describe()) {
    leftover_removed = leftover_removed || line.find("a compaction cut short") != std::string::npos;
  }
  EXPECT_TRUE(leftover_removed);
  for (const auto& name : fs_.names(std::string(kDir))) EXPECT_FALSE(is_compaction_leftover(name)) << name;
  // Run again, it completes.
  auto report = log->compact(kBaseTime);
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  EXPECT_GT(report->records_removed, 0u);
  EXPECT_TRUE(log->verify().status.is_ok());
}

}  // namespace
}  // namespace weft::detail::log::testing
