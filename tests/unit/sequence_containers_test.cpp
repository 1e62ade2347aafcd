// The at-least-once engines' keyed containers: SequenceSlots (outbox entries, deliveries) and SequenceWindow
// (what was seen recently), against plain std::map/std::set models.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>

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

}  // namespace
}  // namespace weft::detail
