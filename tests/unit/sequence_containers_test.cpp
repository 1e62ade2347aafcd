// The at-least-once engines' keyed containers: SequenceSlots (outbox entries, deliveries) and SequenceWindow
// (what was seen recently), against plain std::map/std::set models; DeadlineQueue (ack waits, publish timeouts).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "reliable/deadline_queue.hpp"
#include "reliable/sequence_slots.hpp"
#include "reliable/sequence_window.hpp"

namespace weft::detail {
namespace {

struct Value {
  std::string text;
  int recycled = 0;
  void recycle() {
    text.clear();
    ++recycled;
  }
};

std::map<std::uint64_t, std::string> contents(SequenceSlots<Value>& slots) {
  std::map<std::uint64_t, std::string> out;
  slots.for_each([&](std::uint64_t key, Value& value) { out.emplace(key, value.text); });
  return out;
}

TEST(SequenceSlots, FindsWhatWasAddedAndForgetsWhatWasErased) {
  SequenceSlots<Value> slots;
  EXPECT_TRUE(slots.empty());
  for (std::uint64_t k = 1; k <= 10; ++k) slots.emplace(k).text = std::to_string(k);
  EXPECT_EQ(slots.size(), 10u);
  slots.erase(1);
  slots.erase(5);
  slots.erase(42);  // absent: nothing happens
  EXPECT_EQ(slots.size(), 8u);
  EXPECT_EQ(slots.find(1), nullptr);
  EXPECT_EQ(slots.find(5), nullptr);
  ASSERT_NE(slots.find(6), nullptr);
  EXPECT_EQ(slots.find(6)->text, "6");
  EXPECT_EQ(slots.lowest(), std::make_pair(true, std::uint64_t{2}));
  EXPECT_EQ(slots.find(11), nullptr);
}

TEST(SequenceSlots, ASlotsValueIsRecycledNotDestroyed) {
  SequenceSlots<Value> slots;
  slots.emplace(7).text = "seven";
  slots.erase(7);
  // Key 7 + the ring's size lands in the same slot: its value is the recycled one.
  Value& again = slots.emplace(7 + SequenceSlots<Value>::kMinSlots);
  EXPECT_EQ(again.recycled, 1);
  EXPECT_TRUE(again.text.empty());
}

TEST(SequenceSlots, ALingeringOldKeyMovesAsideInsteadOfGrowingTheRing) {
  SequenceSlots<Value> slots;
  slots.emplace(1).text = "old";
  // A million keys flow past while key 1 stays: only a few are live at a time.
  for (std::uint64_t k = 2; k < 1'000'000; ++k) {
    slots.emplace(k).text = "x";
    if (k >= 10) slots.erase(k - 8);
  }
  EXPECT_EQ(slots.size(), 9u);  // key 1 and the last 8
  ASSERT_NE(slots.find(1), nullptr);
  EXPECT_EQ(slots.find(1)->text, "old");
  EXPECT_EQ(slots.lowest(), std::make_pair(true, std::uint64_t{1}));
  slots.erase(1);
  EXPECT_EQ(slots.find(1), nullptr);
  EXPECT_EQ(slots.lowest(), std::make_pair(true, std::uint64_t{999'992}));
}

TEST(SequenceSlots, AKeyBelowTheRingIsKeptAside) {
  SequenceSlots<Value> slots;
  slots.emplace(100).text = "hundred";
  slots.emplace(50).text = "fifty";  // restored from disk after newer ones
  EXPECT_EQ(slots.size(), 2u);
  EXPECT_EQ(slots.find(50)->text, "fifty");
  EXPECT_EQ(slots.lowest(), std::make_pair(true, std::uint64_t{50}));
  EXPECT_EQ(contents(slots), (std::map<std::uint64_t, std::string>{{50, "fifty"}, {100, "hundred"}}));
  slots.clear();
  EXPECT_TRUE(slots.empty());
  EXPECT_EQ(slots.find(100), nullptr);
}

TEST(SequenceSlots, AgreesWithAMapUnderRandomTraffic) {
  SequenceSlots<Value> slots;
  std::map<std::uint64_t, std::string> model;
  std::mt19937_64 random(7);
  std::uint64_t next = 1;
  for (int step = 0; step < 200'000; ++step) {
    const auto roll = random() % 100;
    if (roll < 55 || model.empty()) {
      const std::uint64_t key = next++;
      slots.emplace(key).text = std::to_string(key);
      model.emplace(key, std::to_string(key));
    } else if (roll < 90) {
      // Mostly the oldest leave first, as acknowledgements do; sometimes one from the middle.
      auto it = roll < 80 ? model.begin() : std::next(model.begin(), static_cast<long>(random() % model.size()));
      slots.erase(it->first);
      model.erase(it);
    } else {
      const std::uint64_t key = 1 + random() % next;
      const Value* found = slots.find(key);
      auto it = model.find(key);
      ASSERT_EQ(found != nullptr, it != model.end()) << key;
      if (found) {
        EXPECT_EQ(found->text, it->second);
      }
    }
    ASSERT_EQ(slots.size(), model.size());
  }
  EXPECT_EQ(contents(slots), model);
  EXPECT_EQ(slots.lowest().second, model.begin()->first);
}

TEST(SequenceWindow, RemembersTheLastWindowOfSequences) {
  SequenceWindow window;
  EXPECT_FALSE(window.contains(1));
  window.mark(1);
  window.mark(3);
  EXPECT_TRUE(window.contains(1));
  EXPECT_FALSE(window.contains(2));
  EXPECT_TRUE(window.contains(3));
  EXPECT_FALSE(window.contains(0));
  window.mark(0);  // 0 is never a sequence
  EXPECT_FALSE(window.contains(0));
  // Sliding forward forgets what falls behind, and never reports a reused bit as seen.
  window.mark(3 + SequenceWindow::kSize);
  EXPECT_FALSE(window.contains(3));
  EXPECT_FALSE(window.contains(2 + SequenceWindow::kSize));
  EXPECT_TRUE(window.contains(3 + SequenceWindow::kSize));
  window.mark(3);  // just out of the window: too old to remember
  EXPECT_FALSE(window.contains(3));
  window.mark(4);  // just in it
  EXPECT_TRUE(window.contains(4));
  window.mark(1'000'000'000);
  EXPECT_FALSE(window.contains(3 + SequenceWindow::kSize));
  EXPECT_TRUE(window.contains(1'000'000'000));
}

using std::chrono::milliseconds;

Clock::TimePoint at(int ms) { return Clock::TimePoint(milliseconds(ms)); }

std::vector<std::uint64_t> take_all_due(DeadlineQueue& queue, Clock::TimePoint now,
                                        const std::set<std::uint64_t>& settled = {}) {
  std::vector<std::uint64_t> out;
  auto applies = [&](std::uint64_t key, Clock::TimePoint) { return settled.count(key) == 0; };
  while (auto key = queue.take_due(now, applies)) out.push_back(*key);
  return out;
}

TEST(DeadlineQueue, ConsecutiveKeysWithOneDeadlineShareARunAndAllComeDue) {
  DeadlineQueue queue;
  for (std::uint64_t key = 1; key <= 100; ++key) queue.arm(at(50), key);
  EXPECT_EQ(queue.runs(), 1u);
  EXPECT_TRUE(take_all_due(queue, at(49)).empty());
  std::vector<std::uint64_t> due = take_all_due(queue, at(50));
  ASSERT_EQ(due.size(), 100u);
  for (std::uint64_t i = 0; i < 100; ++i) EXPECT_EQ(due[i], i + 1);
  EXPECT_TRUE(queue.empty());
}

TEST(DeadlineQueue, AGapOrAnotherDeadlineStartsANewRun) {
  DeadlineQueue queue;
  queue.arm(at(10), 1);
  queue.arm(at(10), 2);
  queue.arm(at(10), 5);   // not consecutive
  queue.arm(at(20), 6);   // another deadline
  queue.arm(at(20), 7);
  EXPECT_EQ(queue.runs(), 3u);
  EXPECT_EQ(take_all_due(queue, at(10)), (std::vector<std::uint64_t>{1, 2, 5}));
  EXPECT_EQ(take_all_due(queue, at(20)), (std::vector<std::uint64_t>{6, 7}));
}

TEST(DeadlineQueue, AnEarlierDeadlineGoesInTimeOrder) {
  DeadlineQueue queue;
  queue.arm(at(30), 1);
  queue.arm(at(40), 2);
  queue.arm(at(10), 3);  // a shorter timeout, armed later
  EXPECT_EQ(take_all_due(queue, at(10)), (std::vector<std::uint64_t>{3}));
  EXPECT_EQ(take_all_due(queue, at(40)), (std::vector<std::uint64_t>{1, 2}));
}

TEST(DeadlineQueue, SettledKeysAreSkippedAndLeaveBeforeTheyAreDue) {
  DeadlineQueue queue;
  for (std::uint64_t key = 1; key <= 10; ++key) queue.arm(at(100), key);
  // Everything settled: the whole run leaves although nothing is due.
  std::set<std::uint64_t> settled;
  for (std::uint64_t key = 1; key <= 10; ++key) settled.insert(key);
  EXPECT_TRUE(take_all_due(queue, at(0), settled).empty());
  EXPECT_TRUE(queue.empty());
  // Settled keys in the middle of a run are skipped; the others come due.
  for (std::uint64_t key = 11; key <= 20; ++key) queue.arm(at(200), key);
  EXPECT_EQ(take_all_due(queue, at(200), {12, 13, 19}), (std::vector<std::uint64_t>{11, 14, 15, 16, 17, 18, 20}));
}

TEST(DeadlineQueue, CompactionDropsRunsThatNoLongerApplyAndTrimsTheOthers) {
  DeadlineQueue queue;
  // A live key at the front that is not due keeps every later run in the queue...
  queue.arm(at(5000), 1);
  for (int i = 0; i < 3000; ++i) {
    const auto base = static_cast<std::uint64_t>(10 + 10 * i);
    for (std::uint64_t k = 0; k < 3; ++k) queue.arm(at(5001 + i), base + k);
  }
  EXPECT_EQ(queue.runs(), 3001u);
  // ... until compaction: only key 1 and the middle key of the last run still apply.
  constexpr std::uint64_t kLastMiddle = 10 + 10 * 2999 + 1;
  auto applies = [](std::uint64_t key, Clock::TimePoint) { return key == 1 || key == kLastMiddle; };
  queue.compact(2, applies);
  EXPECT_EQ(queue.runs(), 2u);
  EXPECT_EQ(take_all_due(queue, at(10'000)), (std::vector<std::uint64_t>{1, kLastMiddle}));
  // Under the bound nothing is dropped.
  queue.arm(at(5), 7);
  queue.compact(0, [](std::uint64_t, Clock::TimePoint) { return false; });
  EXPECT_EQ(queue.runs(), 1u);
}

}  // namespace
}  // namespace weft::detail
