#include "weft/subject.hpp"

#include <string>

namespace weft {

namespace {

constexpr char kSeparator = '.';
constexpr std::string_view kOneToken = "*";
constexpr std::string_view kTail = ">";

bool is_token_byte(unsigned char c) noexcept {
  return c >= 0x21 && c != 0x7f && c != '.' && c != '*' && c != '>';
}

std::string quoted(std::string_view text) {
  constexpr std::size_t kShown = 64;
  std::string out = "'";
  for (char c : text.substr(0, kShown)) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  if (text.size() > kShown) out += "...";
  return out + "'";
}

// Calls visit(token, index) for each dot-separated token; stops at the first false.
template <typename Visit>
bool for_each_token(std::string_view text, Visit visit) {
  std::size_t index = 0;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = text.find(kSeparator, start);
    std::string_view token = text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!visit(token, ++index)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// The common case in one pass, before the walk below that can say what is wrong: no wildcard, no byte outside a
// token but the separators, and no empty token. publish() validates every subject, so this is on its hot path.
bool plainly_valid(std::string_view text) noexcept {
  if (text.empty() || text.size() > kMaxSubjectBytes || text.front() == kSeparator || text.back() == kSeparator) {
    return false;
  }
  char previous = '\0';
  for (char c : text) {
    if (c == kSeparator) {
      if (previous == kSeparator) return false;
    } else if (!is_token_byte(static_cast<unsigned char>(c))) {
      return false;
    }
    previous = c;
  }
  return true;
}

Status validate(std::string_view text, bool wildcards_allowed) {
  if (plainly_valid(text)) return Status::ok();
  const char* what = wildcards_allowed ? "pattern" : "subject";
  if (text.empty()) return Status::invalid_argument(std::string(what) + " is empty");
  if (text.size() > kMaxSubjectBytes) {
    return Status::invalid_argument(std::string(what) + " " + quoted(text) + " is " + std::to_string(text.size()) +
                                    " bytes, over the limit of " + std::to_string(kMaxSubjectBytes));
  }
  Status problem;
  std::size_t token_count = 1;
  for (char c : text) token_count += (c == kSeparator);
  for_each_token(text, [&](std::string_view token, std::size_t index) {
    auto fail = [&](const std::string& why) {
      problem = Status::invalid_argument(std::string(what) + " " + quoted(text) + ": token " + std::to_string(index) +
                                         " " + why);
      return false;
    };
    if (token.empty()) return fail("is empty (two dots in a row, or a leading or trailing dot)");
    if (token == kOneToken || token == kTail) {
      if (!wildcards_allowed) return fail("is a wildcard, which only subscription patterns may use");
      if (token == kTail && index != token_count) return fail("is '>', which may only be the last token");
      return true;
    }
    for (char c : token) {
      auto byte = static_cast<unsigned char>(c);
      if (is_token_byte(byte)) continue;
      if (c == '*' || c == '>') return fail("has a wildcard inside it: '*' and '>' must stand alone as a token");
      return fail(byte == ' ' ? "has a space" : "has a control character");
    }
    return true;
  });
  return problem;
}

}  // namespace

Status validate_subject(std::string_view subject) { return validate(subject, false); }

Status validate_pattern(std::string_view pattern) { return validate(pattern, true); }

bool subject_matches(std::string_view pattern, std::string_view subject) noexcept {
  // Walk both token by token. The inputs are validated by every caller inside Weft; for safety an empty
  // token or an empty text simply fails to match.
  if (pattern.empty() || subject.empty()) return false;
  std::size_t p = 0;
  std::size_t s = 0;
  while (true) {
    std::size_t p_end = pattern.find(kSeparator, p);
    std::size_t s_end = subject.find(kSeparator, s);
    std::string_view p_token = pattern.substr(p, p_end == std::string_view::npos ? std::string_view::npos : p_end - p);
    std::string_view s_token = subject.substr(s, s_end == std::string_view::npos ? std::string_view::npos : s_end - s);
    if (p_token == kTail) return !s_token.empty();
    if (p_token != kOneToken && p_token != s_token) return false;
    if (s_token.empty()) return false;
    bool p_last = p_end == std::string_view::npos;
    bool s_last = s_end == std::string_view::npos;
    if (p_last || s_last) return p_last && s_last;
    p = p_end + 1;
    s = s_end + 1;
  }
}

bool patterns_overlap(std::string_view a, std::string_view b) noexcept {
  if (a.empty() || b.empty()) return false;
  std::size_t i = 0;
  std::size_t j = 0;
  while (true) {
    std::size_t a_end = a.find(kSeparator, i);
    std::size_t b_end = b.find(kSeparator, j);
    std::string_view a_token = a.substr(i, a_end == std::string_view::npos ? std::string_view::npos : a_end - i);
    std::string_view b_token = b.substr(j, b_end == std::string_view::npos ? std::string_view::npos : b_end - j);
    // '>' takes one or more tokens, and the other side has at least this one.
    if (a_token == kTail || b_token == kTail) return true;
    if (a_token != kOneToken && b_token != kOneToken && a_token != b_token) return false;
    bool a_last = a_end == std::string_view::npos;
    bool b_last = b_end == std::string_view::npos;
    if (a_last || b_last) return a_last && b_last;
    i = a_end + 1;
    j = b_end + 1;
  }
}

std::string_view literal_prefix(std::string_view pattern) noexcept {
  std::size_t start = 0;
  while (start <= pattern.size()) {
    std::size_t dot = pattern.find(kSeparator, start);
    std::string_view token = pattern.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (token == kOneToken || token == kTail) return pattern.substr(0, start);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return pattern;
}

}  // namespace weft
