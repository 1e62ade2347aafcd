// weft stream: persistent streams in weftd. add | ls | info | rm | status | publish. A thin layer over
// SidecarClient's admin requests (docs/sidecar.md, section 6).
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"
#include "sidecar/sidecar_admin.hpp"
#include "sidecar/stream_config.hpp"
#include "sidecar_cli.hpp"
#include "weft/subject.hpp"

namespace weft::cli {

namespace {

namespace sc = detail::sidecar;

constexpr std::string_view kVerb = "stream";

constexpr const char* kUsage = R"(usage: weft stream COMMAND [OPTIONS]

Persistent streams, kept by weftd (start it with `weftd --data-dir DIR`). A stream takes the messages of its
subjects, stores them durably and serves them to consumers from any offset.

commands:
  add NAME --subject PATTERN...   create a stream (see `weft stream add --help` for retention and fsync)
  ls                              list the streams
  info NAME                       offsets, size, health, recovery, consumers and their lag
  rm NAME                         delete a stream added with `weft stream add`, with all its messages
  status                          weftd's own state and counters
  publish SUBJECT [DATA]          append messages to the stream that takes SUBJECT, waiting for each
                                  acknowledgement (without DATA or --size: one message per line of stdin)

Every command takes --sidecar ENDPOINT (default: weftd's well-known socket) and --timeout SECONDS.
Exit status: 0 on success, 1 when weftd refused or could not be reached, 2 on bad usage.
)";

std::string required(const po::variables_map& values, const std::string& name, const std::string& what) {
  if (values.count(name) == 0) throw UsageError("give the " + what);
  return values[name].as<std::string>();
}

int refused(const Status& status) {
  return report_failure(kVerb, status.message());
}

std::string subjects_text(const std::vector<std::string>& subjects) {
  std::string out;
  for (const std::string& s : subjects) out += (out.empty() ? "" : " ") + s;
  return out;
}

std::string retention_text(const sc::StreamConfig& c) {
  return "age " + (c.retention_age_ms == 0 ? std::string("unlimited") : sc::format_duration_ms(c.retention_age_ms)) +
         ", size " + (c.retention_bytes == 0 ? std::string("unlimited") : sc::format_bytes_binary(c.retention_bytes));
}

// Any msgpack-encodable value as JSON (maps, arrays, strings, numbers, booleans, nil).
void append_json(std::string& out, const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::NIL: out += "null"; return;
    case msgpack::type::BOOLEAN: out += o.via.boolean ? "true" : "false"; return;
    case msgpack::type::POSITIVE_INTEGER: out += std::to_string(o.via.u64); return;
    case msgpack::type::NEGATIVE_INTEGER: out += std::to_string(o.via.i64); return;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: out += std::to_string(o.via.f64); return;
    case msgpack::type::STR: append_json_string(out, {o.via.str.ptr, o.via.str.size}); return;
    case msgpack::type::BIN: append_json_string(out, {o.via.bin.ptr, o.via.bin.size}); return;
    case msgpack::type::ARRAY:
      out += '[';
      for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
        if (i > 0) out += ',';
        append_json(out, o.via.array.ptr[i]);
      }
      out += ']';
      return;
    case msgpack::type::MAP:
      out += '{';
      for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
        if (i > 0) out += ',';
        const msgpack::object& key = o.via.map.ptr[i].key;
        if (key.type == msgpack::type::STR) {
          append_json_string(out, {key.via.str.ptr, key.via.str.size});
        } else {
          std::string k;
          append_json(k, key);
          append_json_string(out, k);
        }
        out += ':';
        append_json(out, o.via.map.ptr[i].val);
      }
      out += '}';
      return;
    default: out += "null"; return;
  }
}

template <typename T>
void print_json(const T& value) {
  msgpack::sbuffer buffer;
  msgpack::pack(buffer, value);
  msgpack::object_handle handle = msgpack::unpack(buffer.data(), buffer.size());
  std::string out;
  append_json(out, handle.get());
  std::printf("%s\n", out.c_str());
}

void print_info(const sc::StreamInfo& i) {
  const sc::StreamConfig& c = i.config;
  std::printf("stream:          %s\n", c.name.c_str());
  std::printf("subjects:        %s\n", subjects_text(c.subjects).c_str());
  std::printf("origin:          %s\n", i.origin.empty() ? "unknown" : i.origin.c_str());
  std::printf("fsync:           %s%s\n", c.fsync.c_str(),
              c.fsync == sc::kFsyncInterval ? (" (" + sc::format_duration_ms(c.fsync_interval_ms) + ")").c_str() : "");
  std::printf("retention:       %s\n", retention_text(c).c_str());
  std::printf("segment bytes:   %s\n", sc::format_bytes_binary(c.segment_bytes).c_str());
  std::printf("max message:     %s\n", sc::format_bytes_binary(c.max_message_bytes).c_str());
  if (c.compact) {
    std::printf("compaction:      newest message per key; tombstones kept %s\n",
                sc::format_duration_ms(c.tombstone_retention_ms).c_str());
  } else {
    std::printf("compaction:      off\n");
  }
  std::printf("first offset:    %llu\n", static_cast<unsigned long long>(i.first_offset));
  if (i.last_offset) {
    std::printf("last offset:     %llu\n", static_cast<unsigned long long>(*i.last_offset));
  } else {
    std::printf("last offset:     none (empty)\n");
  }
  std::printf("end offset:      %llu\n", static_cast<unsigned long long>(i.end_offset));
  std::printf("messages:        %llu\n", static_cast<unsigned long long>(i.messages));
  std::printf("bytes:           %llu (%s)\n", static_cast<unsigned long long>(i.bytes), format_bytes(i.bytes).c_str());
  std::printf("segments:        %u\n", i.segments);
  std::printf("dead letters:    %llu\n", static_cast<unsigned long long>(i.dead_letters));
  std::printf("health:          %s\n", i.health.c_str());
  if (i.recovery.empty()) {
    std::printf("recovery:        clean\n");
  } else {
    for (const std::string& line : i.recovery) std::printf("recovery:        %s\n", line.c_str());
  }
  std::printf("consumers:       %zu\n", i.consumers.size());
  for (const sc::ConsumerInfo& ci : i.consumers) {
    std::printf("  %-16s %-9s ack floor %llu  next %llu  pending %llu  lag %llu  members %u  ack wait %s  "
                "max deliver %u  redelivered %llu  dead-lettered %llu\n",
                ci.name.empty() ? "(ephemeral)" : ci.name.c_str(), ci.kind.c_str(),
                static_cast<unsigned long long>(ci.ack_floor), static_cast<unsigned long long>(ci.next_offset),
                static_cast<unsigned long long>(ci.pending), static_cast<unsigned long long>(ci.lag), ci.members,
                sc::format_duration_ms(ci.ack_wait_ms).c_str(), ci.max_deliver,
                static_cast<unsigned long long>(ci.redelivered), static_cast<unsigned long long>(ci.dead_lettered));
    if (ci.read_by_members != 0 || ci.member_read_failures != 0) {
      std::printf("  %-16s %-9s read from the segment files by members: %llu deliveries, %llu failed reads\n", "", "",
                  static_cast<unsigned long long>(ci.read_by_members),
                  static_cast<unsigned long long>(ci.member_read_failures));
    }
  }
}

int cmd_add(int argc, char** argv) {
  SidecarFlags sidecar;
  sc::StreamConfig config;
  std::vector<std::string> subjects;
  std::string retention_age, retention_bytes, fsync, fsync_interval, segment_bytes, max_message, dlq_age;
  std::string tombstone_retention;
  bool json = false;
  bool compact = false;
  po::options_description options("options", 100, 50);
  // clang-format off
  options.add_options()
      ("subject", po::value(&subjects)->value_name("PATTERN"),
       "a subject pattern the stream takes (repeatable; no subject may belong to two streams)")
      ("retention-age", po::value(&retention_age)->value_name("DURATION"),
       "delete whole segments whose newest message is older (default 7d; 0: keep)")
      ("retention-bytes", po::value(&retention_bytes)->value_name("SIZE"),
       "delete the oldest segments while the stream is larger (default 0: no limit)")
      ("fsync", po::value(&fsync)->value_name("POLICY"),
       "always: acknowledge after an fsync covering the message (group commit; the default); interval: "
       "acknowledge once written and fsync within --fsync-interval (a power loss may lose that window); os: "
       "acknowledge once written, fsync left to the kernel (survives crashes, "
       "not power loss)")
      ("fsync-interval", po::value(&fsync_interval)->value_name("DURATION"), "for --fsync interval (default 5ms)")
      ("segment-bytes", po::value(&segment_bytes)->value_name("SIZE"), "segment size (default 64M)")
      ("max-message-bytes", po::value(&max_message)->value_name("SIZE"), "largest envelope (default 8M)")
      ("dead-letter-retention-age", po::value(&dlq_age)->value_name("DURATION"),
       "how long dead letters are kept (default 30d)")
      ("compact", po::bool_switch(&compact),
       "keep only the newest message of each key (its weft-key header) in sealed segments; a message with "
       "weft-tombstone: true deletes its key")
      ("tombstone-retention", po::value(&tombstone_retention)->value_name("DURATION"),
       "with --compact: how long a tombstone stays readable before compaction removes it too (default 1d)")
      ("json", po::bool_switch(&json), "print the new stream's info as JSON");
  // clang-format on
  add_sidecar_flags(options, sidecar);
  bool help = false;
  po::variables_map values = parse_command(argc, argv, options, {"name"}, help);
  if (help) {
    std::cout << "usage: weft stream add NAME --subject PATTERN... [OPTIONS]\n\n" << options;
    return kExitOk;
  }
  config.name = required(values, "name", "stream's NAME");
  if (subjects.empty()) throw UsageError("give at least one --subject PATTERN");
  auto set = [&](std::string_view key, const std::string& value) {
    if (value.empty()) return;
    if (Status s = sc::set_stream_field(config, key, value); !s) throw UsageError("--" + s.message());
  };
  for (const std::string& subject : subjects) set("subjects", subject);
  set("retention-age", retention_age);
  set("retention-bytes", retention_bytes);
  set("fsync", fsync);
  set("fsync-interval", fsync_interval);
  set("segment-bytes", segment_bytes);
  set("max-message-bytes", max_message);
  set("dead-letter-retention-age", dlq_age);
  if (compact) set("compact", "true");
  if (!tombstone_retention.empty() && !compact) throw UsageError("--tombstone-retention goes with --compact");
  set("tombstone-retention", tombstone_retention);
  if (Status s = config.validate(); !s) throw UsageError(s.message());
  auto client = connect_sidecar(sidecar);
  sc::StreamAddArgs args;
  args.config = config;
  auto info = client->admin<sc::StreamInfo>(args, request_timeout(sidecar));
  if (!info) return refused(info.status());
  if (json) {
    print_json(*info);
  } else {
    std::printf("stream %s added: subjects %s, fsync %s, retention %s\n", info->config.name.c_str(),
                subjects_text(info->config.subjects).c_str(), info->config.fsync.c_str(),
                retention_text(info->config).c_str());
  }
  return kExitOk;
}

int cmd_ls(int argc, char** argv) {
  SidecarFlags sidecar;
  bool json = false;
  po::options_description options("options", 100, 50);
  options.add_options()("json", po::bool_switch(&json), "print JSON");
  add_sidecar_flags(options, sidecar);
  bool help = false;
  parse_command(argc, argv, options, {}, help);
  if (help) {
    std::cout << "usage: weft stream ls [OPTIONS]\n\n" << options;
    return kExitOk;
  }
  auto client = connect_sidecar(sidecar);
  auto list = client->admin<sc::StreamList>(sc::StreamListArgs{}, request_timeout(sidecar));
  if (!list) return refused(list.status());
  if (json) {
    print_json(*list);
    return kExitOk;
  }
  if (list->streams.empty()) {
    std::printf("no streams (add one with `weft stream add NAME --subject PATTERN`)\n");
    return kExitOk;
  }
  std::printf("%-20s %-24s %12s %10s %10s %10s %9s %-8s %s\n", "NAME", "SUBJECTS", "MESSAGES", "FIRST", "LAST",
              "BYTES", "CONSUMERS", "FSYNC", "HEALTH");
  for (const sc::StreamInfo& i : list->streams) {
    std::printf("%-20s %-24s %12s %10llu %10s %10s %9zu %-8s %s\n", i.config.name.c_str(),
                subjects_text(i.config.subjects).c_str(), format_count(i.messages).c_str(),
                static_cast<unsigned long long>(i.first_offset),
                i.last_offset ? std::to_string(*i.last_offset).c_str() : "-", format_bytes(i.bytes).c_str(),
                i.consumers.size(), i.config.fsync.c_str(), i.health.c_str());
  }
  return kExitOk;
}

int cmd_info(int argc, char** argv) {
  SidecarFlags sidecar;
  bool json = false;
  po::options_description options("options", 100, 50);
  options.add_options()("json", po::bool_switch(&json), "print JSON");
  add_sidecar_flags(options, sidecar);
  bool help = false;
  po::variables_map values = parse_command(argc, argv, options, {"name"}, help);
  if (help) {
    std::cout << "usage: weft stream info NAME [OPTIONS]\n\n" << options;
    return kExitOk;
  }
  sc::StreamArgs args{std::string(sc::kOpStreamInfo), required(values, "name", "stream's NAME")};
  auto client = connect_sidecar(sidecar);
  auto info = client->admin<sc::StreamInfo>(args, request_timeout(sidecar));
  if (!info) return refused(info.status());
  if (json) {
    print_json(*info);
  } else {
    print_info(*info);
  }
  return kExitOk;
}

int cmd_rm(int argc, char** argv) {
  SidecarFlags sidecar;
  po::options_description options("options", 100, 50);
  add_sidecar_flags(options, sidecar);
  bool help = false;
  po::variables_map values = parse_command(argc, argv, options, {"name"}, help);
  if (help) {
    std::cout << "usage: weft stream rm NAME [OPTIONS]\n\nDeletes the stream, its messages, its consumers' "
                 "state and its dead letters.\n\n"
              << options;
    return kExitOk;
  }
  sc::StreamArgs args{std::string(sc::kOpStreamRemove), required(values, "name", "stream's NAME")};
  auto client = connect_sidecar(sidecar);
  auto removed = client->admin<sc::Removed>(args, request_timeout(sidecar));
  if (!removed) return refused(removed.status());
  std::printf("stream %s removed\n", removed->stream.c_str());
  return kExitOk;
}

int cmd_status(int argc, char** argv) {
  SidecarFlags sidecar;
  bool json = false;
  po::options_description options("options", 100, 50);
  options.add_options()("json", po::bool_switch(&json), "print JSON");
  add_sidecar_flags(options, sidecar);
  bool help = false;
  parse_command(argc, argv, options, {}, help);
  if (help) {
    std::cout << "usage: weft stream status [OPTIONS]\n\n" << options;
    return kExitOk;
  }
  auto client = connect_sidecar(sidecar);
  auto status = client->admin<sc::ServerStatus>(sc::StatusArgs{}, request_timeout(sidecar));
  if (!status) return refused(status.status());
  if (json) {
    print_json(*status);
    return kExitOk;
  }
  std::printf("weftd %s, pid %llu, up %.1f s, id %s\n", status->version.c_str(),
              static_cast<unsigned long long>(status->pid), static_cast<double>(status->uptime_ms) / 1000,
              status->server_id.c_str());
  std::printf("data directory: %s\n", status->data_dir.c_str());
  for (const std::string& e : status->endpoints) std::printf("listening on:   %s\n", e.c_str());
  std::printf("streams:        %u (%u failed)\n", status->streams, status->failed_streams);
  for (const sc::Counter& c : status->counters) {
    std::printf("  %-28s %s\n", c.name.c_str(), format_count(c.value).c_str());
  }
  return kExitOk;
}

int cmd_publish(int argc, char** argv) {
  SidecarFlags sidecar;
  std::int64_t count = 0;
  std::int64_t size = -1;
  std::vector<std::string> header_items;
  std::uint32_t window = 64;
  bool quiet = false;
  po::options_description options("options", 100, 50);
  // clang-format off
  options.add_options()
      ("count", po::value(&count)->value_name("N"), "append DATA (or the --size payload) N times (default 1)")
      ("size", po::value(&size)->value_name("BYTES"), "without DATA: a generated payload of BYTES bytes")
      ("header", po::value(&header_items)->value_name("KEY=VALUE"), "attach a header (repeatable)")
      ("window", po::value(&window)->value_name("N"), "appends in flight at once (default 64)")
      ("quiet,q", po::bool_switch(&quiet), "print no summary");
  // clang-format on
  add_sidecar_flags(options, sidecar);
  bool help = false;
  po::variables_map values = parse_command(argc, argv, options, {"subject", "data"}, help);
  if (help) {
    std::cout << "usage: weft stream publish SUBJECT [DATA] [OPTIONS]\n\nAppends to the stream that takes SUBJECT "
                 "through weftd and waits until each message is acknowledged (durable under the stream's fsync "
                 "policy). Without DATA or --size, each line of standard input is one message.\n\n"
              << options;
    return kExitOk;
  }
  const std::string subject = required(values, "subject", "SUBJECT");
  if (Status s = validate_subject(subject); !s) throw UsageError(s.message());
  std::optional<std::string> data;
  if (values.count("data") != 0) data = values["data"].as<std::string>();
  if (values.count("count") != 0 && count < 1) throw UsageError("--count must be at least 1");
  if (size >= 0 && data) throw UsageError("give DATA or --size, not both");
  if (size > static_cast<std::int64_t>(64 << 20)) throw UsageError("--size is at most 64 MiB");
  if (window == 0) throw UsageError("--window must be at least 1");
  const Headers headers = parse_headers(header_items);
  if (size >= 0) {
    data = std::string(static_cast<std::size_t>(size), 'x');
    for (std::size_t i = 0; i < data->size(); ++i) (*data)[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i % 36];
  }
  const bool from_stdin = !data;
  const std::uint64_t total = from_stdin ? (count > 0 ? static_cast<std::uint64_t>(count) : UINT64_MAX)
                                         : static_cast<std::uint64_t>(std::max<std::int64_t>(count, 1));

  auto client = connect_sidecar(sidecar);
  StopSignals stop;
  std::uint64_t sent = 0, acked = 0, in_flight = 0;
  std::optional<std::uint64_t> first, last;
  std::string stream;
  Status failure;
  std::string line;
  bool input_done = false;
  auto done = [&](const Status& s, const detail::sidecar::AppendAck& a) {
    --in_flight;
    if (!s) {
      if (failure.is_ok()) failure = s;
      return;
    }
    ++acked;
    stream = a.stream;
    if (!first || a.first_offset < *first) first = a.first_offset;
    if (!last || a.last_offset > *last) last = a.last_offset;
  };
  while (failure.is_ok() && !stop.stop_requested()) {
    while (in_flight < window && sent < total && !input_done && failure.is_ok()) {
      std::string payload;
      if (from_stdin) {
        if (!std::getline(std::cin, line)) {
          input_done = true;
          break;
        }
        payload = line;
      } else {
        payload = *data;
      }
      const auto envelope = make_envelope(subject, as_bytes(payload), headers, sent + 1);
      const std::span<const std::byte> one(envelope);
      Status queued = client->append(subject, std::span(&one, 1), done);
      if (!queued) {
        failure = queued;
        break;
      }
      ++sent;
      ++in_flight;
    }
    if (in_flight == 0 && (sent >= total || input_done)) break;
    client->run_until([&] { return in_flight < window || !failure.is_ok(); }, std::chrono::milliseconds(100));
  }
  // Whatever is still in flight gets its answer (or times out).
  client->run_until([&] { return in_flight == 0; }, request_timeout(sidecar) + std::chrono::seconds(1));
  if (!quiet && acked > 0) {
    std::fprintf(stderr, "published %s message%s to stream %s, offsets %llu to %llu\n", format_count(acked).c_str(),
                 acked == 1 ? "" : "s", stream.c_str(), static_cast<unsigned long long>(*first),
                 static_cast<unsigned long long>(*last));
  }
  if (!failure.is_ok()) return refused(failure);
  if (acked < sent) return refused(Status::timeout(std::to_string(sent - acked) + " messages were not acknowledged"));
  return kExitOk;
}

}  // namespace

int run_stream(int argc, char** argv) {
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
    if (command == "add") return cmd_add(argc - 1, argv + 1);
    if (command == "ls" || command == "list") return cmd_ls(argc - 1, argv + 1);
    if (command == "info") return cmd_info(argc - 1, argv + 1);
    if (command == "rm" || command == "remove") return cmd_rm(argc - 1, argv + 1);
    if (command == "status") return cmd_status(argc - 1, argv + 1);
    if (command == "publish" || command == "pub") return cmd_publish(argc - 1, argv + 1);
  } catch (const UsageError& e) {
    return report_usage_error(kVerb, e.what());
  }
  return report_usage_error(kVerb, "unknown command '" + std::string(command) + "'");
}

}  // namespace weft::cli
