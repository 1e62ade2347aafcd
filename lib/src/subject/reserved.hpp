// Subjects that begin "_weft." are Weft's own (announcements, inboxes): applications cannot publish on them,
// and a pattern sees them only if it names them.
#pragma once

#include <string_view>

namespace weft::detail {

inline constexpr std::string_view kReservedPrefix = "_weft.";
inline constexpr std::string_view kHelloSubject = "_weft.hello";

[[nodiscard]] inline bool is_internal_subject(std::string_view subject) noexcept {
  return subject.starts_with(kReservedPrefix);
}

}  // namespace weft::detail
