#include "weft/status.hpp"

#include <gtest/gtest.h>

namespace weft {
namespace {

TEST(Status, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.is_ok());
  EXPECT_EQ(s.to_string(), "ok");
}

TEST(Status, GainsContextAsItRises) {
  Status s = Status::io_error("disk full").with_context("while opening segment 42");
  EXPECT_EQ(s.code(), ErrorCode::kIoError);
  EXPECT_EQ(s.to_string(), "i/o error: while opening segment 42: disk full");
}

TEST(Result, HoldsAValueOrAStatus) {
  Result<int> good = 7;
  ASSERT_TRUE(good.is_ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad = Status::timeout("too slow");
  EXPECT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kTimeout);
  EXPECT_THROW((void)bad.value(), Error);
}

TEST(Result, AnOkStatusWithoutAValueIsAnError) {
  Result<int> odd = Status::ok();
  EXPECT_FALSE(odd.is_ok());
  EXPECT_EQ(odd.status().code(), ErrorCode::kInternal);
}

}  // namespace
}  // namespace weft
