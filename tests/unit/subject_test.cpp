#include "weft/subject.hpp"

#include <gtest/gtest.h>

#include <string>

namespace weft {
namespace {

TEST(Subject, AcceptsDotSeparatedTokens) {
  for (const char* s : {"a", "telemetry.host42.cpu", "a-b_c.d:e/f", "UPPER.lower.123", "caf\xc3\xa9.x"}) {
    EXPECT_TRUE(validate_subject(s).is_ok()) << s;
  }
}

TEST(Subject, RejectsEachKindOfBadSubjectWithAReason) {
  struct Case {
    std::string subject;
    std::string reason;
  };
  const Case cases[] = {
      {"", "empty"},
      {"a..b", "token 2 is empty"},
      {".a", "token 1 is empty"},
      {"a.", "token 2 is empty"},
      {"a.*", "wildcard"},
      {"a.>", "wildcard"},
      {"a.b*", "wildcard inside"},
      {"a b", "space"},
      {std::string("a\x01") + "b", "control character"},
      {"a\tb", "control character"},
      {std::string(257, 'x'), "over the limit of 256"},
  };
  for (const auto& c : cases) {
    Status s = validate_subject(c.subject);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << c.subject;
    EXPECT_NE(s.message().find(c.reason), std::string::npos) << c.subject << " -> " << s.message();
  }
}

TEST(Subject, AcceptsAtTheLengthLimit) { EXPECT_TRUE(validate_subject(std::string(256, 'x')).is_ok()); }

TEST(Pattern, AcceptsWildcardsAsWholeTokens) {
  for (const char* p : {"a.*", "*", ">", "a.>", "*.b.>", "a.*.c", "*.*"}) {
    EXPECT_TRUE(validate_pattern(p).is_ok()) << p;
  }
}

TEST(Pattern, RejectsMisplacedWildcards) {
  EXPECT_NE(validate_pattern("a.>.b").message().find("may only be the last token"), std::string::npos);
  EXPECT_NE(validate_pattern("a.b>").message().find("wildcard inside"), std::string::npos);
  EXPECT_NE(validate_pattern("a.*x").message().find("wildcard inside"), std::string::npos);
  EXPECT_NE(validate_pattern("a..*").message().find("empty"), std::string::npos);
  EXPECT_EQ(validate_pattern("").code(), ErrorCode::kInvalidArgument);
}

TEST(Match, StarTakesExactlyOneToken) {
  EXPECT_TRUE(subject_matches("a.*.c", "a.b.c"));
  EXPECT_FALSE(subject_matches("a.*.c", "a.b.x.c"));
  EXPECT_FALSE(subject_matches("a.*", "a"));
  EXPECT_FALSE(subject_matches("a.*", "a.b.c"));
  EXPECT_TRUE(subject_matches("*", "a"));
  EXPECT_FALSE(subject_matches("*", "a.b"));
}

TEST(Match, TailTakesOneOrMoreTokens) {
  EXPECT_TRUE(subject_matches("a.>", "a.b"));
  EXPECT_TRUE(subject_matches("a.>", "a.b.c.d"));
  EXPECT_FALSE(subject_matches("a.>", "a"));
  EXPECT_TRUE(subject_matches(">", "a"));
  EXPECT_TRUE(subject_matches(">", "a.b"));
}

TEST(Match, LiteralsMatchWholeTokensOnly) {
  EXPECT_TRUE(subject_matches("a.b", "a.b"));
  EXPECT_FALSE(subject_matches("a.b", "a.bc"));
  EXPECT_FALSE(subject_matches("a.b", "a.b.c"));
  EXPECT_FALSE(subject_matches("a.b.c", "a.b"));
  EXPECT_FALSE(subject_matches("foo", "foobar"));
}

TEST(Match, InvalidInputNeverMatches) {
  EXPECT_FALSE(subject_matches("", "a"));
  EXPECT_FALSE(subject_matches("a", ""));
  EXPECT_FALSE(subject_matches("a.*", "a."));
}

TEST(LiteralPrefix, StopsAtTheFirstWildcard) {
  EXPECT_EQ(literal_prefix("a.b.*.c"), "a.b.");
  EXPECT_EQ(literal_prefix("a.>"), "a.");
  EXPECT_EQ(literal_prefix("a.b"), "a.b");
  EXPECT_EQ(literal_prefix("*"), "");
  EXPECT_EQ(literal_prefix(">"), "");
  EXPECT_EQ(literal_prefix("*.a"), "");
}

// The prefix is only a pre-filter: every subject the pattern matches must start with it.
TEST(LiteralPrefix, IsAPrefixOfEverySubjectThePatternMatches) {
  const char* patterns[] = {"a.*.c", "a.>", "a.b", "*.b", ">"};
  const char* subjects[] = {"a.b.c", "a.x.c", "a.b", "a.bc", "x.b", "a.b.c.d", "a"};
  for (const char* p : patterns) {
    for (const char* s : subjects) {
      if (subject_matches(p, s)) {
        EXPECT_TRUE(std::string_view(s).starts_with(literal_prefix(p))) << p << " " << s;
      }
    }
  }
}

TEST(Overlap, FindsPatternsThatShareASubject) {
  EXPECT_TRUE(patterns_overlap("a.*", "a.b"));
  EXPECT_TRUE(patterns_overlap("a.>", "a.b.c"));
  EXPECT_TRUE(patterns_overlap("*.b", "a.*"));
  EXPECT_FALSE(patterns_overlap("a.b", "a.c"));
  EXPECT_FALSE(patterns_overlap("a.*", "a.b.c"));
  EXPECT_TRUE(patterns_overlap(">", "x"));
}

}  // namespace
}  // namespace weft
