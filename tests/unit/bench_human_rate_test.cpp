// weft bench's number formatting (tools/weft/bench/human_rate.hpp).
#include "bench/human_rate.hpp"

#include <gtest/gtest.h>

namespace weft::cli::bench {
namespace {

TEST(BenchHumanRate, RatesPrintWithThreeDigitsAndTheUnitTheyRoundTo) {
  EXPECT_EQ(human_rate(0), "0");
  EXPECT_EQ(human_rate(999), "999");
  EXPECT_EQ(human_rate(999.6), "1k");
  EXPECT_EQ(human_rate(1500), "1.5k");
  EXPECT_EQ(human_rate(999'400), "999k");
  EXPECT_EQ(human_rate(999'600), "1M") << "not 1e+03k";
  EXPECT_EQ(human_rate(2'230'000), "2.23M");
}

}  // namespace
}  // namespace weft::cli::bench
