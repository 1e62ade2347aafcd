// Which of the most recent sequence numbers of one stream were seen: a sliding bitmap over the last kSize
// sequences up to the highest seen. Used to recognise duplicates (the dispatcher's dedupe, per publisher stream)
// and redeliveries of what was acknowledged already (the subscriber engine, per delivery sequence). Fixed
// memory; a sequence too old for the window counts as not seen, so a caller errs towards handing a message
// over twice, never towards losing one.
#pragma once

#include <bitset>
#include <cstdint>

namespace weft::detail {

class SequenceWindow {
 public:
  static constexpr std::uint64_t kSize = 65536;

  // True if `sequence` was marked and is still within the window. Sequence 0 is never seen.
  [[nodiscard]] bool contains(std::uint64_t sequence) const noexcept {
    if (sequence == 0 || sequence > highest_ || highest_ - sequence >= kSize) return false;
    return bits_.test(sequence % kSize);
  }

  void mark(std::uint64_t sequence) noexcept {
    if (sequence == 0) return;
    if (sequence > highest_) {
      // Slide forward, clearing the bits of the sequences the window leaves behind.
      const std::uint64_t advance = sequence - highest_;
      if (advance >= kSize || highest_ == 0) {
        bits_.reset();
      } else {
        for (std::uint64_t s = highest_ + 1; s <= sequence; ++s) bits_.reset(s % kSize);
      }
      highest_ = sequence;
    } else if (highest_ - sequence >= kSize) {
      return;  // too old to remember
    }
    bits_.set(sequence % kSize);
  }

 private:
  std::uint64_t highest_ = 0;  // bits cover (highest_ - kSize, highest_]
  std::bitset<kSize> bits_;
};

}  // namespace weft::detail
