#include "sidecar_cli.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>

#include "codec/envelope.hpp"
#include "sidecar/sidecar_endpoint.hpp"
#include "sidecar/stream_config.hpp"

namespace weft::cli {

namespace sc = detail::sidecar;

void add_sidecar_flags(po::options_description& options, SidecarFlags& flags) {
  // clang-format off
  options.add_options()
      ("sidecar", po::value(&flags.endpoint)->value_name("ENDPOINT"),
       ("weftd's endpoint (default " + sc::default_sidecar_endpoint() + ", or $WEFT_SIDECAR)").c_str())
      ("timeout", po::value(&flags.timeout_seconds)->value_name("SECONDS"),
       "how long to wait for weftd's answers (default 5)");
  // clang-format on
}

std::chrono::milliseconds request_timeout(const SidecarFlags& flags) {
  return seconds_flag("--timeout", flags.timeout_seconds);
}

std::unique_ptr<sc::SidecarClient> connect_sidecar(const SidecarFlags& flags) {
  sc::SidecarClientOptions options;
  options.endpoint = flags.endpoint;
  options.request_timeout = request_timeout(flags);
  auto client = sc::SidecarClient::connect(options);
  if (!client) throw UsageError(client.status().message());
  return std::move(*client);
}

namespace {

int digits(std::string_view text, std::size_t at, std::size_t n) {
  if (at + n > text.size()) return -1;
  int value = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

std::int64_t parse_time(std::string_view text) {
  const std::string what = "'" + std::string(text) + "' is not a time (2024-05-01T12:00:00Z, or -15m for 15 minutes ago)";
  if (!text.empty() && text.front() == '-') {
    auto ms = sc::parse_duration_ms(text.substr(1));
    if (!ms) throw UsageError(what);
    const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    return now - static_cast<std::int64_t>(*ms) * 1'000'000;
  }
  std::tm tm{};
  const int year = digits(text, 0, 4), month = digits(text, 5, 2), day = digits(text, 8, 2);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || text.size() < 10 || text[4] != '-' ||
      text[7] != '-') {
    throw UsageError(what);
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  std::int64_t fraction_ns = 0;
  std::int64_t offset_s = 0;
  std::size_t at = 10;
  if (at < text.size()) {
    if (text[at] != 'T' && text[at] != 't' && text[at] != ' ') throw UsageError(what);
    const int hour = digits(text, at + 1, 2), minute = digits(text, at + 4, 2);
    if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || text.size() < at + 6 || text[at + 3] != ':') {
      throw UsageError(what);
    }
    tm.tm_hour = hour;
    tm.tm_min = minute;
    at += 6;
    if (at < text.size() && text[at] == ':') {
      const int second = digits(text, at + 1, 2);
      if (second < 0 || second > 60) throw UsageError(what);
      tm.tm_sec = second;
      at += 3;
      if (at < text.size() && (text[at] == '.' || text[at] == ',')) {
        ++at;
        std::int64_t scale = 100'000'000;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
          fraction_ns += (text[at] - '0') * scale;
          scale /= 10;
          ++at;
        }
      }
    }
    if (at < text.size()) {
      if (text[at] == 'Z' || text[at] == 'z') {
        ++at;
      } else if (text[at] == '+' || text[at] == '-') {
        const int oh = digits(text, at + 1, 2);
        const bool colon = at + 3 < text.size() && text[at + 3] == ':';
        const int om = digits(text, at + (colon ? 4 : 3), 2);
        if (oh < 0 || om < 0) throw UsageError(what);
        offset_s = (text[at] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
        at += colon ? 6 : 5;
      } else {
        throw UsageError(what);
      }
    }
    if (at != text.size()) throw UsageError(what);
  }
  const std::int64_t seconds = static_cast<std::int64_t>(::timegm(&tm)) - offset_s;
  return seconds * 1'000'000'000 + fraction_ns;
}

std::string format_time(std::int64_t ns) {
  const std::time_t seconds = static_cast<std::time_t>(ns / 1'000'000'000);
  const auto millis = static_cast<int>((ns % 1'000'000'000) / 1'000'000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return text;
}

void parse_from(std::string_view text, sc::ConsumeFields& fields) {
  if (text == sc::kStartFirst || text == sc::kStartLast || text == sc::kStartNew) {
    fields.start = std::string(text);
    return;
  }
  if (text.rfind("offset:", 0) == 0) {
    const std::string number(text.substr(7));
    char* end = nullptr;
    errno = 0;
    const unsigned long long value = std::strtoull(number.c_str(), &end, 10);
    if (number.empty() || *end != '\0' || errno != 0 || number.front() == '-') {
      throw UsageError("--from offset:N takes a number, not '" + number + "'");
    }
    fields.start = std::string(sc::kStartOffset);
    fields.offset = value;
    return;
  }
  if (text.rfind("time:", 0) == 0) {
    fields.start = std::string(sc::kStartTime);
    fields.time_ns = parse_time(text.substr(5));
    return;
  }
  throw UsageError("--from takes first, last, new, offset:N or time:TIME, not '" + std::string(text) + "'");
}

std::uint64_t process_stream_id() {
  static const std::uint64_t id = [] {
    std::random_device device;
    std::uint64_t v = 0;
    while (v == 0) v = (static_cast<std::uint64_t>(device()) << 32) ^ device();
    return v;
  }();
  return id;
}

std::vector<std::byte> make_envelope(std::string_view subject, std::span<const std::byte> payload,
                                     const Headers& headers, std::uint64_t sequence) {
  detail::ByteBuffer buffer;
  detail::OutgoingEnvelope envelope;
  envelope.stream = process_stream_id();
  envelope.sequence = sequence;
  envelope.subject = subject;
  envelope.timestamp_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  envelope.headers = headers.empty() ? nullptr : &headers;
  envelope.payload = payload;
  detail::encode_envelope(buffer, envelope);
  return {buffer.begin(), buffer.end()};
}

bool sub_wants_stream(int argc, char** argv) noexcept {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") return false;
    if (arg == "--stream" || arg.rfind("--stream=", 0) == 0) return true;
  }
  return false;
}

}  // namespace weft::cli
