#include "message_format.hpp"

#include <cstdint>
#include <cstdio>
#include <ctime>

#include "cli_common.hpp"

namespace weft::cli {

namespace {

constexpr std::size_t kHexBytesPerLine = 16;
constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

bool is_control(std::uint32_t code_point) noexcept {
  return code_point < 0x20 || code_point == 0x7f || (code_point >= 0x80 && code_point < 0xa0);
}

// The code point of a well-formed sequence of `length` bytes.
std::uint32_t decode_utf8(std::string_view text, std::size_t pos, std::size_t length) noexcept {
  auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(text[pos + i])); };
  if (length == 1) return byte(0);
  constexpr std::uint32_t kLeadMasks[] = {0, 0, 0x1f, 0x0f, 0x07};
  std::uint32_t code_point = byte(0) & kLeadMasks[length];
  for (std::size_t i = 1; i < length; ++i) code_point = (code_point << 6) | (byte(i) & 0x3f);
  return code_point;
}

// Subjects and header strings for the terminal: UTF-8 text as it is, control characters and stray bytes as
// \xNN, so that nothing a peer sends can move the cursor or change colours.
void append_printable(std::string& out, std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t length = utf8_sequence_length(text, pos);
    if (length != 0 && !is_control(decode_utf8(text, pos, length))) {
      out.append(text.substr(pos, length));
      pos += length;
      continue;
    }
    std::size_t escaped = length == 0 ? 1 : length;
    for (std::size_t i = 0; i < escaped; ++i) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(text[pos + i]));
      out += hex;
    }
    pos += escaped;
  }
}

// "14:03:07.123456" in the local time zone; "-" for a timestamp the clock cannot show.
void append_local_time(std::string& out, std::int64_t timestamp_ns) {
  std::int64_t seconds = timestamp_ns / kNanosPerSecond;
  std::int64_t micros = (timestamp_ns % kNanosPerSecond) / 1000;
  if (micros < 0) {
    --seconds;
    micros += 1'000'000;
  }
  std::time_t time = static_cast<std::time_t>(seconds);
  std::tm local = {};
  char text[32];
  if (::localtime_r(&time, &local) == nullptr || std::strftime(text, sizeof text, "%H:%M:%S", &local) == 0) {
    out += '-';
    return;
  }
  out += text;
  std::snprintf(text, sizeof text, ".%06lld", static_cast<long long>(micros));
  out += text;
}

// The longest prefix of UTF-8 text of at most `limit` bytes that does not cut a character in half.
std::string_view utf8_prefix(std::string_view text, std::size_t limit) noexcept {
  if (text.size() <= limit) return text;
  std::size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
  return text.substr(0, end);
}

void append_more_note(std::string& out, std::size_t shown, std::size_t total) {
  if (shown >= total) return;
  out += "  ... " + format_count(total - shown) + " more bytes (--full shows everything)\n";
}

// "  0000  68 65 6c 6c 6f 0a 00 ff                           |hello...|" per 16 bytes.
void append_hex_dump(std::string& out, std::string_view bytes, std::size_t limit) {
  const std::size_t shown = std::min(bytes.size(), limit);
  const bool wide = bytes.size() > 0x10000;
  char cell[24];
  for (std::size_t line = 0; line < shown; line += kHexBytesPerLine) {
    std::snprintf(cell, sizeof cell, wide ? "  %08zx " : "  %04zx ", line);
    out += cell;
    std::string ascii;
    for (std::size_t i = line; i < line + kHexBytesPerLine; ++i) {
      if (i == line + kHexBytesPerLine / 2) out += ' ';
      if (i >= shown) {
        out += "   ";
        continue;
      }
      auto byte = static_cast<unsigned char>(bytes[i]);
      std::snprintf(cell, sizeof cell, " %02x", byte);
      out += cell;
      ascii += (byte >= 0x20 && byte < 0x7f) ? static_cast<char>(byte) : '.';
    }
    out += "  |" + ascii + "|\n";
  }
  append_more_note(out, shown, bytes.size());
}

void append_human(std::string& out, const Message& message, bool full) {
  const std::string_view payload = message.payload_text();
  append_printable(out, message.subject());
  out += "  #" + std::to_string(message.id().sequence) + "  ";
  append_local_time(out, message.timestamp_ns());
  out += "  " + format_bytes(payload.size()) + "\n";
  for (const HeaderRef& header : message.headers()) {
    out += "  ";
    append_printable(out, header.key);
    out += ": ";
    append_printable(out, header.value);
    out += '\n';
  }
  if (payload.empty()) {
    out += "  (empty payload)\n";
  } else if (is_terminal_text(payload)) {
    std::string_view shown = full ? payload : utf8_prefix(payload, kTextPreviewBytes);
    out.append(shown);
    if (shown.back() != '\n') out += '\n';
    append_more_note(out, shown.size(), payload.size());
  } else {
    append_hex_dump(out, payload, full ? payload.size() : kHexPreviewBytes);
  }
  out += '\n';  // a blank line between messages, so multi-line payloads stay apart
}

void append_json(std::string& out, const Message& message) {
  const std::string_view payload = message.payload_text();
  out += "{\"subject\":";
  append_json_string(out, message.subject());
  // Plain JSON numbers: exact for Python, Go and jq 1.7; JavaScript rounds values over 2^53.
  out += ",\"stream\":" + std::to_string(message.id().stream);
  out += ",\"sequence\":" + std::to_string(message.id().sequence);
  out += ",\"timestamp_ns\":" + std::to_string(message.timestamp_ns());
  out += ",\"headers\":{";
  bool first = true;
  for (const HeaderRef& header : message.headers()) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, header.key);
    out += ':';
    append_json_string(out, header.value);
  }
  out += "},\"payload\":";
  const bool text = is_utf8(payload);
  if (text) {
    append_json_string(out, payload);
  } else {
    out += '"';
    append_base64(out, payload);
    out += '"';
  }
  out += text ? ",\"payload_encoding\":\"utf8\"" : ",\"payload_encoding\":\"base64\"";
  out += ",\"size\":" + std::to_string(payload.size()) + "}\n";
}

}  // namespace

void append_message(std::string& out, const Message& message, const FormatOptions& options) {
  switch (options.format) {
    case OutputFormat::kHuman:
      append_human(out, message, options.full);
      return;
    case OutputFormat::kRaw:
      out.append(message.payload_text());
      out += '\n';
      return;
    case OutputFormat::kJson:
      append_json(out, message);
      return;
  }
}

bool is_utf8(std::string_view bytes) noexcept {
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    std::size_t length = utf8_sequence_length(bytes, pos);
    if (length == 0) return false;
    pos += length;
  }
  return true;
}

bool is_terminal_text(std::string_view bytes) noexcept {
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    std::size_t length = utf8_sequence_length(bytes, pos);
    if (length == 0) return false;
    std::uint32_t code_point = decode_utf8(bytes, pos, length);
    if (is_control(code_point) && code_point != '\t' && code_point != '\n' && code_point != '\r') return false;
    pos += length;
  }
  return true;
}

void append_base64(std::string& out, std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])); };
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t group = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kAlphabet[(group >> 18) & 0x3f];
    out += kAlphabet[(group >> 12) & 0x3f];
    out += kAlphabet[(group >> 6) & 0x3f];
    out += kAlphabet[group & 0x3f];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 0) return;
  std::uint32_t group = byte(i) << 16;
  if (rest == 2) group |= byte(i + 1) << 8;
  out += kAlphabet[(group >> 18) & 0x3f];
  out += kAlphabet[(group >> 12) & 0x3f];
  out += rest == 2 ? kAlphabet[(group >> 6) & 0x3f] : '=';
  out += '=';
}

}  // namespace weft::cli
