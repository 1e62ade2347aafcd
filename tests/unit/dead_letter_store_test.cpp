#include "reliable/dead_letter_store.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "log/posix_file_system.hpp"

namespace weft::detail {
namespace {

class DeadLetterStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("weft-dlq-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static DeadLetter letter(std::string subject, std::string payload) {
    DeadLetter l;
    l.subject = std::move(subject);
    l.consumer = "workers";
    l.deliveries = 5;
    l.last_error = "handler threw: boom";
    l.time_ns = 1'700'000'000'000'000'000;
    auto* p = reinterpret_cast<const std::byte*>(payload.data());
    l.envelope = std::make_shared<const ByteBuffer>(p, p + payload.size());
    return l;
  }

  std::filesystem::path dir_;
  log::PosixFileSystem fs_;
};

TEST_F(DeadLetterStoreTest, KeepsDeadLettersAcrossReopening) {
  {
    auto store = DeadLetterStore::open(fs_, SystemClock::instance(), dir_.string()).value();
    ASSERT_TRUE(store->put(letter("orders.new", "envelope-1")).is_ok());
    ASSERT_TRUE(store->put(letter("orders.paid", "envelope-2")).is_ok());
    ASSERT_TRUE(store->stop().is_ok());
  }
  auto store = DeadLetterStore::open(fs_, SystemClock::instance(), dir_.string()).value();
  auto all = store->list().value();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].letter.subject, "orders.new");
  EXPECT_EQ(all[1].letter.consumer, "workers");
  EXPECT_EQ(all[1].letter.deliveries, 5u);
  EXPECT_EQ(all[1].letter.last_error, "handler threw: boom");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(all[1].letter.envelope->data()), all[1].letter.envelope->size()),
            "envelope-2");
  EXPECT_EQ(store->count(), 2u);
}

TEST_F(DeadLetterStoreTest, PurgeEmptiesTheQueue) {
  auto store = DeadLetterStore::open(fs_, SystemClock::instance(), dir_.string()).value();
  ASSERT_TRUE(store->put(letter("a", "x")).is_ok());
  ASSERT_TRUE(store->stop().is_ok());
  auto reopened = std::move(store);
  reopened.reset();
  store = DeadLetterStore::open(fs_, SystemClock::instance(), dir_.string()).value();
  ASSERT_TRUE(store->purge().is_ok());
  EXPECT_EQ(store->list().value().size(), 0u);
  ASSERT_TRUE(store->put(letter("b", "y")).is_ok());
  ASSERT_TRUE(store->stop().is_ok());
}

TEST_F(DeadLetterStoreTest, OneOwnerAtATime) {
  auto first = DeadLetterStore::open(fs_, SystemClock::instance(), dir_.string());
  ASSERT_TRUE(first.is_ok());
  auto second = DeadLetterStore::open(fs_, SystemClock::instance(), dir_.string());
  ASSERT_FALSE(second.is_ok());
  EXPECT_NE(second.status().message().find(std::to_string(::getpid())), std::string::npos)
      << second.status().message();
}

TEST_F(DeadLetterStoreTest, DamagedRecordsAreReportedNotServed) {
  EXPECT_EQ(decode_dead_letter(std::span<const std::byte>()).status().code(), ErrorCode::kCorruption);
  std::vector<std::byte> garbage(10, std::byte{0xc1});
  EXPECT_EQ(decode_dead_letter(garbage).status().code(), ErrorCode::kCorruption);
}

// One codec for both kinds: a node's dead letter is seven elements, weftd's nine (with where it came from).
TEST_F(DeadLetterStoreTest, NodeAndSidecarDeadLettersShareOneEncoding) {
  DeadLetter local = letter("orders.new", "poison");
  std::vector<std::byte> value = encode_dead_letter(local);
  ASSERT_FALSE(value.empty());
  EXPECT_EQ(value[0], std::byte{0x97});  // fixarray of 7
  auto decoded = decode_dead_letter(value).value();
  EXPECT_EQ(decoded.subject, "orders.new");
  EXPECT_EQ(decoded.deliveries, 5u);
  EXPECT_TRUE(decoded.source_stream.empty());

  DeadLetter from_stream = local;
  from_stream.source_stream = "orders";
  from_stream.source_offset = 41;
  value = encode_dead_letter(from_stream);
  EXPECT_EQ(value[0], std::byte{0x99});  // fixarray of 9
  decoded = decode_dead_letter(value).value();
  EXPECT_EQ(decoded.source_stream, "orders");
  EXPECT_EQ(decoded.source_offset, 41u);
  EXPECT_EQ(decoded.last_error, "handler threw: boom");
  ASSERT_TRUE(decoded.envelope);
  EXPECT_EQ(decoded.envelope->size(), 6u);
}

}  // namespace
}  // namespace weft::detail
