// How `weft sub` prints a received message: for a person at a terminal, as the payload bytes alone, or as one
// JSON object per line for programs.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "weft/message.hpp"

namespace weft::cli {

enum class OutputFormat {
  // A header line (subject, sequence, the publisher's local time, size), "  key: value" per header, the
  // payload (text as text, anything else as a hex dump; both cut short unless `full`), then a blank line.
  kHuman,
  // The payload bytes and a newline.
  kRaw,
  // {"subject","stream","sequence","timestamp_ns","headers","payload","payload_encoding","size"} and a
  // newline. The payload is the text when it is well-formed UTF-8 ("payload_encoding":"utf8"), else base64.
  kJson,
};

struct FormatOptions {
  OutputFormat format = OutputFormat::kHuman;
  // kHuman: print whole payloads instead of the first kTextPreviewBytes / kHexPreviewBytes.
  bool full = false;
};

// What kHuman shows of a payload unless `full` is set.
inline constexpr std::size_t kTextPreviewBytes = 1024;
inline constexpr std::size_t kHexPreviewBytes = 128;

// Appends everything printed for one message to `out`, ending with a newline.
void append_message(std::string& out, const Message& message, const FormatOptions& options);

// True when the bytes are well-formed UTF-8.
bool is_utf8(std::string_view bytes) noexcept;
// True when the bytes read as text on a terminal: UTF-8 without control characters, except tab, line feed
// and carriage return (an escape sequence in a payload must not drive the terminal).
bool is_terminal_text(std::string_view bytes) noexcept;

// Appends the standard base64 (RFC 4648, padded) encoding of the bytes.
void append_base64(std::string& out, std::string_view bytes);

}  // namespace weft::cli
