// weftd's store of the dead letters nodes hand over (daemon/node_dead_letters.*), over the in-memory FileSystem.
#include <gtest/gtest.h>

#include <memory>

#include "node_dead_letters.hpp"
#include "weft_testing/fake_clock.hpp"
#include "weft_testing/fake_file_system.hpp"

namespace weft::testing {
namespace {

namespace wd = detail::weftd;

detail::DeadLetter letter(const std::string& error) {
  detail::DeadLetter l;
  l.subject = "orders.new";
  l.consumer = "billing";
  l.deliveries = 5;
  l.last_error = error;
  l.time_ns = 1;
  l.envelope = std::make_shared<const detail::ByteBuffer>(detail::ByteBuffer(16, std::byte{0x42}));
  return l;
}

class NodeDeadLetters : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = wd::NodeDeadLetters::open(fs, clock, "/data");
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    store = std::move(*opened);
  }
  FakeFileSystem fs;
  FakeClock clock;
  std::unique_ptr<wd::NodeDeadLetters> store;
};

TEST_F(NodeDeadLetters, APurgeWhoseReopenFailsLeavesAnErrorNotADanglingLog) {
  wd::NodeDeadLetters& letters = *store;
  ASSERT_TRUE(letters.put(letter("first"), 1, nullptr).is_ok());
  letters.do_work(clock.now());

  // Every open from now on fails, so the log cannot come back after the purge removed it.
  fs.fail(FakeFileSystem::Op::kOpen, 1, EIO, /*sticky=*/true);
  auto purged = letters.purge();
  ASSERT_FALSE(purged.is_ok());
  EXPECT_NE(purged.status().message().find("reopened"), std::string::npos) << purged.status().to_string();

  // Still usable as an object: a clear error for the next dead letter, work and retention do not crash.
  auto refused = letters.put(letter("second"), 2, nullptr);
  EXPECT_FALSE(refused.is_ok());
  letters.do_work(clock.now());
  (void)letters.apply_retention(3);
  (void)letters.health();
  (void)letters.log().end_offset();
  (void)letters.stop();
}

TEST_F(NodeDeadLetters, APurgeEmptiesTheStoreAndItTakesNewLetters) {
  wd::NodeDeadLetters& letters = *store;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(letters.put(letter("e" + std::to_string(i)), i, nullptr).is_ok());
  letters.do_work(clock.now());
  auto purged = letters.purge();
  ASSERT_TRUE(purged.is_ok()) << purged.status().to_string();
  EXPECT_EQ(*purged, 3u);
  EXPECT_EQ(letters.log().end_offset() - letters.log().first_offset(), 0u);
  EXPECT_TRUE(letters.put(letter("after"), 4, nullptr).is_ok());
}

}  // namespace
}  // namespace weft::testing
