// Subjects and subscription patterns, NATS style.
//
// A subject is one or more dot-separated tokens: "telemetry.host42.cpu". A token is 1 or more bytes from
// printable ASCII (0x21..0x7e) or UTF-8 (0x80..0xff), except '.', '*' and '>'. A subject is at most
// kMaxSubjectBytes bytes. A pattern is a subject in which a whole token may be '*' (exactly one token) or, as
// the last token only, '>' (one or more tokens). docs/wire-protocol.md holds the grammar.
#pragma once

#include <cstddef>
#include <string_view>

#include "weft/status.hpp"

namespace weft {

inline constexpr std::size_t kMaxSubjectBytes = 256;

// Ok, or an invalid-argument Status that names the first problem ("subject 'a..b': token 2 is empty").
Status validate_subject(std::string_view subject);
Status validate_pattern(std::string_view pattern);

// True when the subject matches the pattern. Both must be valid; an invalid one never matches.
bool subject_matches(std::string_view pattern, std::string_view subject) noexcept;

// True when some subject could match both patterns (each may be a plain subject).
bool patterns_overlap(std::string_view a, std::string_view b) noexcept;

// The bytes of the pattern before its first wildcard token: "a.b.*.c" -> "a.b.", "a.>" -> "a.", "a.b" -> "a.b",
// "*" -> "". Every subject the pattern matches starts with it, so it serves as a ZeroMQ SUB prefix filter.
std::string_view literal_prefix(std::string_view pattern) noexcept;

}  // namespace weft
