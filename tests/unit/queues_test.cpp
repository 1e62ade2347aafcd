#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "node/outbox_room.hpp"
#include "node/publish_queue.hpp"
#include "node/spsc_ring.hpp"

namespace weft::detail {
namespace {

void push_number(PublishQueue& q, std::uint64_t value, bool expect_ok = true) {
  bool ok = q.try_push(8, [&](PublishItem& item) {
    item.subject_bytes = 0;
    item.bytes.resize(8);
    std::memcpy(item.bytes.data(), &value, 8);
  });
  EXPECT_EQ(ok, expect_ok) << value;
}

std::uint64_t front_number(PublishQueue& q) {
  std::uint64_t value = 0;
  std::memcpy(&value, q.front()->bytes.data(), 8);
  return value;
}

TEST(PublishQueue, IsFifoAndBoundedInMessages) {
  PublishQueue q(4, 1 << 20);
  for (std::uint64_t i = 0; i < 4; ++i) push_number(q, i);
  push_number(q, 99, false);
  EXPECT_EQ(q.pushed(), 4u);
  for (std::uint64_t i = 0; i < 4; ++i) {
    ASSERT_NE(q.front(), nullptr);
    EXPECT_EQ(front_number(q), i);
    q.pop();
  }
  EXPECT_EQ(q.front(), nullptr);
  EXPECT_TRUE(q.empty());
  push_number(q, 5);  // room again
}

TEST(PublishQueue, IsBoundedInBytes) {
  PublishQueue q(1024, 20);
  push_number(q, 1);
  push_number(q, 2);
  push_number(q, 3, false);  // 24 bytes > 20
  q.pop();
  push_number(q, 3);
}

TEST(PublishQueue, TakesOneOversizedMessageIntoAnEmptyQueue) {
  PublishQueue q(8, 4);
  push_number(q, 1);         // 8 bytes > 4, but the queue is empty
  push_number(q, 2, false);  // not a second one
}

TEST(PublishQueue, PeekLooksAheadWithoutPopping) {
  PublishQueue q(8, 1024);
  push_number(q, 10);
  push_number(q, 11);
  ASSERT_NE(q.peek(1), nullptr);
  EXPECT_EQ(q.peek(2), nullptr);
  std::uint64_t v = 0;
  std::memcpy(&v, q.peek(1)->bytes.data(), 8);
  EXPECT_EQ(v, 11u);
}

// Many producers, one consumer: every message arrives exactly once and each producer's messages in order.
TEST(PublishQueue, ManyProducersLoseNothingAndKeepEachProducersOrder) {
  constexpr int kProducers = 4;
  constexpr std::uint64_t kEach = 50000;
  PublishQueue q(256, 1 << 20);
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&q, p] {
      for (std::uint64_t i = 0; i < kEach; ++i) {
        std::uint64_t value = (static_cast<std::uint64_t>(p) << 32) | i;
        while (!q.try_push(8, [&](PublishItem& item) {
          item.bytes.resize(8);
          std::memcpy(item.bytes.data(), &value, 8);
        })) {
          std::this_thread::yield();
        }
      }
    });
  }
  std::vector<std::uint64_t> next(kProducers, 0);
  std::uint64_t received = 0;
  while (received < kProducers * kEach) {
    if (q.front() == nullptr) {
      std::this_thread::yield();
      continue;
    }
    std::uint64_t value = front_number(q);
    q.pop();
    auto producer = static_cast<std::size_t>(value >> 32);
    ASSERT_LT(producer, next.size());
    ASSERT_EQ(value & 0xffffffff, next[producer]) << "producer " << producer;
    ++next[producer];
    ++received;
  }
  for (auto& t : producers) t.join();
  EXPECT_TRUE(q.empty());
}

TEST(PublishQueue, AProducerPacedByTheQueuedCountWaitsUntilTheConsumerTakesSome) {
  PublishQueue q(16, 1 << 20);
  for (std::uint64_t i = 0; i < 4; ++i) push_number(q, i);
  const auto start = std::chrono::steady_clock::now();
  std::atomic<std::uint64_t> queued_when_done{0};
  std::atomic<bool> paced{false};
  std::thread producer([&] {
    paced = q.wait_while_queued(3, std::chrono::seconds(30), [] { return false; });
    queued_when_done = q.pushed() - q.popped();
  });
  // Four queued, pacing at three: the producer goes on only once the consumer has taken two (with 4 or 3 queued
  // it would record that).
  q.pop();
  q.notify_room();
  q.pop();
  q.notify_room();
  producer.join();
  EXPECT_TRUE(paced.load());
  EXPECT_EQ(queued_when_done.load(), 2u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10)) << "a pop was missed";
  // Below the pace: no wait at all, whatever the timeout.
  EXPECT_TRUE(q.wait_while_queued(3, std::chrono::hours(1), [] { return false; }));
  // A consumer that takes nothing: false once the timeout has passed, or at once when the caller gives up.
  push_number(q, 4);
  EXPECT_FALSE(q.wait_while_queued(3, std::chrono::milliseconds(20), [] { return false; }));
  EXPECT_FALSE(q.wait_while_queued(3, std::chrono::hours(1), [] { return true; }));
}

TEST(SpscRing, MovesValuesThroughInOrder) {
  SpscRing<std::unique_ptr<int>> ring(3);  // rounded up to 4
  EXPECT_EQ(ring.capacity(), 4u);
  for (int i = 0; i < 4; ++i) {
    auto v = std::make_unique<int>(i);
    ASSERT_TRUE(ring.try_push(v));
    EXPECT_EQ(v, nullptr);  // moved from
  }
  auto extra = std::make_unique<int>(9);
  EXPECT_FALSE(ring.try_push(extra));
  EXPECT_NE(extra, nullptr);  // untouched when full
  EXPECT_TRUE(ring.full());
  for (int i = 0; i < 4; ++i) {
    ASSERT_NE(ring.front(), nullptr);
    EXPECT_EQ(**ring.front(), i);
    ring.pop();
  }
  EXPECT_EQ(ring.front(), nullptr);
}

TEST(SpscRing, CrossesThreadsWithoutLoss) {
  SpscRing<std::uint64_t> ring(64);
  constexpr std::uint64_t kCount = 200000;
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < kCount; ++i) {
      std::uint64_t v = i;
      while (!ring.try_push(v)) std::this_thread::yield();
    }
  });
  for (std::uint64_t expected = 0; expected < kCount;) {
    auto* v = ring.front();
    if (v == nullptr) {
      std::this_thread::yield();
      continue;
    }
    ASSERT_EQ(*v, expected);
    ring.pop();
    ++expected;
  }
  producer.join();
}


// The outbox's occupancy: reserved without a lock where there is room, waited for under one where there is not.
constexpr std::size_t kNoByteLimit = 1 << 30;

TEST(OutboxRoom, HoldsAtMostItsLimitInMessagesAndInBytes) {
  OutboxRoom room;
  EXPECT_TRUE(room.try_reserve(40, 3, 100));
  EXPECT_TRUE(room.try_reserve(40, 3, 100));
  EXPECT_FALSE(room.try_reserve(40, 3, 100)) << "120 bytes over a bound of 100";
  EXPECT_TRUE(room.try_reserve(20, 3, 100));
  EXPECT_FALSE(room.try_reserve(0, 3, 100)) << "a fourth message over a bound of 3";
  EXPECT_EQ(room.messages(), 3u) << "a refused reservation gives back what it took";
  EXPECT_EQ(room.bytes(), 100u);
  room.release(1, 40);
  EXPECT_TRUE(room.try_reserve(40, 3, 100));
}

TEST(OutboxRoom, AMessageAloneMayExceedTheByteBound) {
  OutboxRoom room;
  EXPECT_TRUE(room.try_reserve(1000, 10, 100)) << "an empty outbox takes a message larger than its byte bound";
  EXPECT_FALSE(room.try_reserve(1, 10, 100)) << "but nothing beside it";
}

TEST(OutboxRoom, AReleaseLargerThanWhatIsHeldLeavesItEmpty) {
  OutboxRoom room;
  room.reserve(10);
  room.release(1, 50);  // a request reserves its payload's size and its larger envelope is released
  EXPECT_EQ(room.messages(), 0u);
  EXPECT_EQ(room.bytes(), 0u);
  EXPECT_TRUE(room.try_reserve(100, 1, 100));
  EXPECT_FALSE(room.try_reserve(1, 1, 100));
}

TEST(OutboxRoom, AWaitingPublisherTakesRoomAsSoonAsItIsReleased) {
  OutboxRoom room;
  ASSERT_TRUE(room.try_reserve(8, 1, kNoByteLimit));
  const auto start = std::chrono::steady_clock::now();
  std::atomic<bool> taken{false};
  std::thread publisher([&] {
    taken = room.reserve_until(8, 1, kNoByteLimit, start + std::chrono::seconds(30), [] { return false; });
  });
  room.release(1, 8);  // before or after the publisher began to wait: either way it must not miss it
  publisher.join();
  EXPECT_TRUE(taken.load());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10)) << "the release was missed";
  EXPECT_EQ(room.messages(), 1u);
}

TEST(OutboxRoom, AWaitEndsWhenItsCallerGivesUp) {
  OutboxRoom room;
  ASSERT_TRUE(room.try_reserve(8, 1, kNoByteLimit));
  const auto start = std::chrono::steady_clock::now();
  std::atomic<bool> closed{false};
  std::atomic<bool> taken{true};
  std::thread publisher([&] {
    taken = room.reserve_until(8, 1, kNoByteLimit, start + std::chrono::seconds(30), [&] { return closed.load(); });
  });
  closed = true;
  room.notify_all();
  publisher.join();
  EXPECT_FALSE(taken.load());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(room.messages(), 1u);
}

TEST(OutboxRoom, PublishersRacingForRoomNeverHoldMoreThanTheLimit) {
  constexpr std::size_t kLimit = 4;
  constexpr int kPublishers = 4;
  constexpr int kRounds = 20000;
  OutboxRoom room;
  std::atomic<int> held{0};
  std::atomic<int> most_held{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> publishers;
  for (int p = 0; p < kPublishers; ++p) {
    publishers.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        bool taken = room.try_reserve(1, kLimit, kNoByteLimit) ||
                     room.reserve_until(1, kLimit, kNoByteLimit,
                                        std::chrono::steady_clock::now() + std::chrono::seconds(30), [] { return false; });
        if (!taken) {
          ++refused;
          continue;
        }
        const int now_held = ++held;
        int most = most_held.load();
        while (now_held > most && !most_held.compare_exchange_weak(most, now_held)) {
        }
        --held;
        room.release(1, 1);
      }
    });
  }
  for (auto& publisher : publishers) publisher.join();
  EXPECT_LE(most_held.load(), static_cast<int>(kLimit));
  EXPECT_EQ(refused.load(), 0) << "a waiting publisher missed the room released while it waited";
  EXPECT_EQ(room.messages(), 0u);
  EXPECT_EQ(room.bytes(), 0u);
}

}  // namespace
}  // namespace weft::detail
