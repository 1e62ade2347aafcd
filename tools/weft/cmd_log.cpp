// weft log: reads a stream's segment directory offline (docs/log-format.md). ls | dump | verify. Opens the log
// read-only (LogOptions::read_only): it never truncates, rewrites or syncs anything, so it is safe on a
// directory weftd is using, and on evidence after a crash.
#include <cstdio>
#include <iostream>
#include <string>

#include "cli_common.hpp"
#include "codec/envelope.hpp"
#include "commands.hpp"
#include "log/log.hpp"
#include "log/posix_file_system.hpp"
#include "log/segment_files.hpp"
#include "message_format.hpp"
#include "reliable/dead_letter_codec.hpp"
#include "sidecar_cli.hpp"

namespace weft::cli {

namespace {

namespace lg = detail::log;

constexpr std::string_view kVerb = "log";

constexpr const char* kUsage = R"(usage: weft log COMMAND DIR [OPTIONS]

Reads the segments of one stream's log directory, without writing anything: weftd keeps them in
<data-dir>/streams/NAME/ (and dead letters in <data-dir>/dead-letters/NAME/).

commands:
  ls DIR        the segments: offsets, records, bytes, times; and what recovery would find
  dump DIR      the records, decoded as Weft envelopes (or dead letters): --from N, --count N, --json, --raw
  verify DIR    read every record and check every checksum, the offsets and the indexes; report the first
                bad offset. Exit 1 when anything is damaged.

A torn tail (an append cut short by a crash, never acknowledged) is reported but is not damage: weftd cuts it
on its next start.
)";

std::unique_ptr<lg::Log> open_read_only(lg::FileSystem& fs, const std::string& dir) {
  lg::LogOptions options;
  options.read_only = true;
  options.check_all_segments_on_open = false;
  auto log = lg::Log::open(fs, detail::SystemClock::instance(), dir, options);
  if (!log) {
    std::string hint;
    if (log.status().code() == ErrorCode::kNotFound) {
      auto names = fs.list_dir(dir + "/streams");
      if (names) hint = " (it looks like weftd's data directory: give " + dir + "/streams/NAME)";
    }
    throw weft::Error(Status(log.status().code(), log.status().message() + hint));
  }
  return std::move(*log);
}

// The log's DIR is every command's one positional argument.
po::variables_map parse(int argc, char** argv, po::options_description& options, bool& help) {
  po::variables_map values = parse_command(argc, argv, options, {"dir"}, help);
  if (!help && values.count("dir") == 0) throw UsageError("give the log's DIR");
  return values;
}

void print_recovery(const lg::RecoveryReport& report) {
  for (const std::string& line : report.describe()) std::printf("recovery: %s\n", line.c_str());
}

int cmd_ls(int argc, char** argv) {
  po::options_description options("options", 100, 50);
  bool help = false;
  po::variables_map values = parse(argc, argv, options, help);
  if (help) {
    std::cout << "usage: weft log ls DIR\n\n" << options;
    return kExitOk;
  }
  const std::string dir = values["dir"].as<std::string>();
  lg::PosixFileSystem fs;
  auto log = open_read_only(fs, dir);
  std::printf("%-26s %12s %12s %10s %10s  %-24s  %-24s %s\n", "SEGMENT", "FIRST", "LAST", "RECORDS", "BYTES",
              "FIRST TIME", "LAST TIME", "STATE");
  for (const lg::Log::SegmentListing& s : log->segments()) {
    const lg::SegmentSummary& m = s.summary;
    const std::uint64_t records = m.next_offset - m.base_offset;
    std::printf("%-26s %12llu %12s %10s %10s  %-24s  %-24s %s\n",
                lg::file_name(m.base_offset, lg::FileKind::kSegment).c_str(),
                static_cast<unsigned long long>(m.base_offset),
                records == 0 ? "-" : std::to_string(m.next_offset - 1).c_str(), format_count(records).c_str(),
                format_bytes(m.size_bytes).c_str(), records == 0 ? "-" : format_time(m.first_timestamp).c_str(),
                records == 0 ? "-" : format_time(m.last_timestamp).c_str(), s.sealed ? "sealed" : "active");
  }
  const std::uint64_t first = log->first_offset(), end = log->end_offset();
  std::printf("%s: offsets %llu to %s, %s records, %zu segment%s, %s\n", dir.c_str(),
              static_cast<unsigned long long>(first), end == first ? "(empty)" : std::to_string(end - 1).c_str(),
              format_count(end - first).c_str(), log->segment_count(), log->segment_count() == 1 ? "" : "s",
              format_bytes(log->size_bytes()).c_str());
  print_recovery(log->recovery_report());
  return kExitOk;
}

// One record: as a Weft envelope, a dead letter wrapping one, or raw bytes.
void print_record(std::string& out, const lg::LogRecord& r, const FormatOptions& format) {
  std::vector<HeaderRef> scratch;
  detail::EnvelopeView view;
  std::size_t at = 0;
  const bool envelope = detail::decode_envelope(r.value, at, view, scratch).ok() && at == r.value.size();
  std::optional<detail::DeadLetter> letter;
  if (!envelope) {
    auto decoded = detail::decode_dead_letter(r.value);
    if (decoded) {
      letter = std::move(*decoded);
      at = 0;
      if (!detail::decode_envelope(*letter->envelope, at, view, scratch).ok()) letter.reset();
    }
  }
  const std::string offset = std::to_string(r.offset);
  if (format.format == OutputFormat::kJson) {
    std::string prefix = "{\"offset\":" + offset + ",\"stored_ns\":" + std::to_string(r.timestamp);
    if (letter) {
      prefix += ",\"dead_letter\":{\"consumer\":";
      append_json_string(prefix, letter->consumer);
      prefix += ",\"deliveries\":" + std::to_string(letter->deliveries) + ",\"last_error\":";
      append_json_string(prefix, letter->last_error);
      prefix += ",\"time_ns\":" + std::to_string(letter->time_ns) + ",\"source_stream\":";
      append_json_string(prefix, letter->source_stream);
      prefix += ",\"source_offset\":" + std::to_string(letter->source_offset) + "}";
    }
    if (envelope || letter) {
      std::string message;
      append_message(message, view.as_message(), format);
      out += prefix + "," + message.substr(1);  // {"offset":..., then the message's own fields
    } else {
      out += prefix + ",\"value_base64\":\"";
      append_base64(out, {reinterpret_cast<const char*>(r.value.data()), r.value.size()});
      out += "\"}\n";
    }
    return;
  }
  if (format.format == OutputFormat::kRaw) {
    if (envelope || letter) {
      append_message(out, view.as_message(), format);
    } else {
      out.append(reinterpret_cast<const char*>(r.value.data()), r.value.size());
      out += '\n';
    }
    return;
  }
  out += "offset " + offset + "  stored " + format_time(r.timestamp) + "  " + std::to_string(r.value.size()) + " B";
  if (letter) {
    out += "  dead letter of " + letter->source_stream + " offset " + std::to_string(letter->source_offset) +
           ", consumer " + letter->consumer + ", " + std::to_string(letter->deliveries) + " deliveries, " +
           format_time(letter->time_ns) + ": " + letter->last_error;
  }
  out += '\n';
  if (envelope || letter) {
    append_message(out, view.as_message(), format);
  } else {
    out += "  (not a Weft envelope)\n\n";
  }
}

int cmd_dump(int argc, char** argv) {
  po::options_description options("options", 100, 50);
  std::uint64_t from = 0;
  std::uint64_t count = 0;
  bool json = false, raw = false, full = false;
  // clang-format off
  options.add_options()
      ("from", po::value(&from)->value_name("OFFSET"), "start at OFFSET (default: the first stored)")
      ("count", po::value(&count)->value_name("N"), "print at most N records (default: all)")
      ("json", po::bool_switch(&json), "one JSON object per record (offset, stored_ns, and the message's fields)")
      ("raw", po::bool_switch(&raw), "each payload alone")
      ("full", po::bool_switch(&full), "print long payloads whole");
  // clang-format on
  bool help = false;
  po::variables_map values = parse(argc, argv, options, help);
  if (help) {
    std::cout << "usage: weft log dump DIR [OPTIONS]\n\n" << options;
    return kExitOk;
  }
  if (json && raw) throw UsageError("give --json or --raw, not both");
  FormatOptions format;
  format.format = json ? OutputFormat::kJson : raw ? OutputFormat::kRaw : OutputFormat::kHuman;
  format.full = full;
  const std::string dir = values["dir"].as<std::string>();
  lg::PosixFileSystem fs;
  auto log = open_read_only(fs, dir);
  std::uint64_t at = std::max(from, log->first_offset());
  std::uint64_t printed = 0, damaged = 0;
  std::string out;
  while (at < log->end_offset() && (count == 0 || printed < count)) {
    auto batch = log->read(at, 1 << 20);
    if (!batch) {
      if (batch.status().code() != ErrorCode::kCorruption) throw weft::Error(batch.status());
      auto resume = log->skip_damage(at);
      const std::uint64_t next = resume ? std::max(*resume, at + 1) : at + 1;
      std::fprintf(stderr, "weft log: offsets %llu to %llu are damaged: %s\n", static_cast<unsigned long long>(at),
                   static_cast<unsigned long long>(next - 1), batch.status().message().c_str());
      damaged += next - at;
      at = next;
      continue;
    }
    if (batch->empty() && batch->next_offset() <= at) break;  // past records compaction removed, it moves on
    for (const lg::LogRecord& r : batch->records()) {
      if (count != 0 && printed >= count) break;
      out.clear();
      print_record(out, r, format);
      std::fwrite(out.data(), 1, out.size(), stdout);
      ++printed;
    }
    at = batch->next_offset();
  }
  std::fflush(stdout);
  if (damaged > 0) return report_failure(kVerb, std::to_string(damaged) + " damaged offsets were skipped");
  return kExitOk;
}

int cmd_verify(int argc, char** argv) {
  po::options_description options("options", 100, 50);
  bool strict = false;
  options.add_options()("strict", po::bool_switch(&strict), "count a torn tail as damage too");
  bool help = false;
  po::variables_map values = parse(argc, argv, options, help);
  if (help) {
    std::cout << "usage: weft log verify DIR [OPTIONS]\n\n" << options;
    return kExitOk;
  }
  const std::string dir = values["dir"].as<std::string>();
  lg::PosixFileSystem fs;
  auto log = open_read_only(fs, dir);
  const lg::VerifyReport report = log->verify();
  const lg::RecoveryReport& recovery = log->recovery_report();
  if (recovery.truncated) {
    std::printf("torn tail at offset %llu: %llu bytes (never acknowledged; weftd cuts it on its next start)\n",
                static_cast<unsigned long long>(recovery.truncated->offset),
                static_cast<unsigned long long>(recovery.truncated->bytes));
  }
  for (const lg::Damage& d : report.damage) std::printf("damage: %s\n", d.to_status().message().c_str());
  const bool torn_fails = strict && recovery.truncated.has_value();
  if (report.status.is_ok() && !torn_fails) {
    std::printf("%s: ok: %llu segment%s, %s records, %s, every checksum good\n", dir.c_str(),
                static_cast<unsigned long long>(report.segments), report.segments == 1 ? "" : "s",
                format_count(report.records).c_str(), format_bytes(report.bytes).c_str());
    return kExitOk;
  }
  if (report.first_bad_offset) {
    std::printf("%s: DAMAGED: first bad offset %llu\n", dir.c_str(),
                static_cast<unsigned long long>(*report.first_bad_offset));
  } else if (!report.status.is_ok()) {
    std::printf("%s: DAMAGED: %s\n", dir.c_str(), report.status.to_string().c_str());
  } else {
    std::printf("%s: DAMAGED: torn tail at offset %llu (--strict)\n", dir.c_str(),
                static_cast<unsigned long long>(recovery.truncated->offset));
  }
  return kExitFailure;
}

}  // namespace

int run_log(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  const std::string_view command = argv[1];
  if (command == "-h" || command == "--help" || command == "help") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  try {
    if (command == "ls") return cmd_ls(argc - 1, argv + 1);
    if (command == "dump") return cmd_dump(argc - 1, argv + 1);
    if (command == "verify") return cmd_verify(argc - 1, argv + 1);
  } catch (const UsageError& e) {
    return report_usage_error(kVerb, e.what());
  } catch (const weft::Error& e) {
    return report_failure(kVerb, e.what());
  }
  return report_usage_error(kVerb, "unknown command '" + std::string(command) + "'");
}

}  // namespace weft::cli
