// weft dlq: dead-letter queues. ls | show | replay | purge, against weftd's dead-letter streams (--sidecar)
// or, the default, a node's own dead-letter queue in its data directory (--data-dir DIR: DIR/dlq/, read with
// reliable/dead_letter_store while that node is stopped).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli_common.hpp"
#include "codec/envelope.hpp"
#include "commands.hpp"
#include "log/posix_file_system.hpp"
#include "message_format.hpp"
#include "reliable/dead_letter_store.hpp"
#include "sidecar/sidecar_admin.hpp"
#include "sidecar_cli.hpp"
#include "weft/node.hpp"

namespace weft::cli {

namespace {

namespace sc = detail::sidecar;

constexpr std::string_view kVerb = "dlq";

constexpr const char* kUsage = R"(usage: weft dlq COMMAND [OPTIONS]

Dead letters: messages a consumer could not handle in max_deliver attempts, kept with their delivery count,
last error and time.

commands:
  ls                     the dead-letter queues and how many letters each holds
  show                   the dead letters (--from OFFSET, --max N, --json)
  replay                 return dead letters to their source subject (--offset N, repeatable; default: all)
  purge                  delete every dead letter of the queue

Where: with --sidecar [ENDPOINT], weftd's dead-letter streams (name one with --stream NAME; --stream _node
holds the dead letters of nodes that have a sidecar); without it, a node's own queue: --data-dir DIR (the
node's NodeOptions::data_dir; the node must be stopped). A stream's dead letters replay into the stream that
takes their subject. A node's dead letters (its own queue, or --stream _node) are published again through a
node of this command's own: give --connect or --bind as for `weft pub`.
)";

struct DlqSettings {
  bool use_sidecar = false;
  SidecarFlags sidecar;
  std::string stream;
  std::string data_dir;
  std::uint64_t from = 0;
  std::uint32_t max = 100;
  std::vector<std::uint64_t> offsets;
  bool json = false;
  bool full = false;
  // Replaying a node's own queue.
  NodeOptions node;
  double wait_seconds = 2;
};

po::options_description options_for(DlqSettings& s) {
  po::options_description options("options", 100, 50);
  // clang-format off
  options.add_options()
      ("help,h", "print this help and exit")
      ("sidecar", po::value(&s.sidecar.endpoint)->implicit_value("")->value_name("ENDPOINT"),
       "use weftd's dead-letter streams (default endpoint: weftd's well-known socket)")
      ("timeout", po::value(&s.sidecar.timeout_seconds)->value_name("SECONDS"), "how long to wait for weftd (default 5)")
      ("stream", po::value(&s.stream)->value_name("NAME"),
       "with --sidecar: the stream whose dead letters to use (_node: nodes' dead letters)")
      ("data-dir", po::value(&s.data_dir)->value_name("DIR"), "without --sidecar: the node's data directory")
      ("from", po::value(&s.from)->value_name("OFFSET"), "show: start at OFFSET")
      ("max", po::value(&s.max)->value_name("N"), "show: at most N letters (default 100)")
      ("offset", po::value(&s.offsets)->value_name("OFFSET"), "replay: only this dead letter (repeatable)")
      ("json", po::bool_switch(&s.json), "show: one JSON object per letter")
      ("full", po::bool_switch(&s.full), "show: print long payloads whole")
      ("connect", po::value(&s.node.publish_to)->value_name("ENDPOINT"),
       "replay a node's dead letters: publish to a subscriber listening on ENDPOINT (repeatable)")
      ("bind", po::value(&s.node.bind)->value_name("ENDPOINT"),
       "replay a node's dead letters: publish on ENDPOINT for subscribers to connect to (repeatable)")
      ("wait", po::value(&s.wait_seconds)->value_name("SECONDS"),
       "replay a node's dead letters: wait up to SECONDS for a subscriber first (default 2)");
  // clang-format on
  return options;
}

std::string payload_line(std::span<const std::byte> envelope, const FormatOptions& format) {
  std::vector<HeaderRef> scratch;
  detail::EnvelopeView view;
  std::size_t at = 0;
  if (!detail::decode_envelope(envelope, at, view, scratch).ok()) return "  (the envelope does not decode)\n\n";
  std::string out;
  append_message(out, view.as_message(), format);
  return out;
}

// One dead letter, for people or as JSON.
void print_letter(std::uint64_t offset, const std::string& subject, const std::string& consumer,
                  std::uint32_t deliveries, const std::string& last_error, std::int64_t time_ns,
                  std::optional<std::uint64_t> source_offset, std::span<const std::byte> envelope,
                  const DlqSettings& s) {
  FormatOptions format;
  format.full = s.full;
  if (s.json) {
    format.format = OutputFormat::kJson;
    std::string out = "{\"offset\":" + std::to_string(offset) + ",\"consumer\":";
    append_json_string(out, consumer);
    out += ",\"deliveries\":" + std::to_string(deliveries) + ",\"last_error\":";
    append_json_string(out, last_error);
    out += ",\"time_ns\":" + std::to_string(time_ns);
    if (source_offset) out += ",\"source_offset\":" + std::to_string(*source_offset);
    std::string message = payload_line(envelope, format);
    if (!message.empty() && message.front() == '{') {
      out += "," + message.substr(1);
    } else {
      out += ",\"subject\":";
      append_json_string(out, subject);
      out += "}\n";
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return;
  }
  std::printf("dead letter %llu: %s, consumer %s, %u deliveries, %s%s\n  last error: %s\n",
              static_cast<unsigned long long>(offset), subject.c_str(), consumer.c_str(), deliveries,
              format_time(time_ns).c_str(),
              source_offset ? (", source offset " + std::to_string(*source_offset)).c_str() : "", last_error.c_str());
  const std::string message = payload_line(envelope, format);
  std::fwrite(message.data(), 1, message.size(), stdout);
}

// Publishes dead letters (offset, envelope) again through a node of its own, as they were first published:
// a node's dead letters, kept by the node itself or by weftd. `where` names the queue in the summary.
int publish_again(DlqSettings& s, const std::vector<std::pair<std::uint64_t, std::vector<std::byte>>>& letters,
                  const std::string& where) {
  s.node.overflow = OverflowPolicy::kBlock;
  std::optional<Node> node;
  try {
    node.emplace(s.node);
  } catch (const weft::Error& e) {
    return report_node_error(kVerb, e);
  }
  std::uint64_t replayed = 0;
  for (const auto& [offset, envelope] : letters) {
    if (!s.offsets.empty() && std::find(s.offsets.begin(), s.offsets.end(), offset) == s.offsets.end()) continue;
    std::vector<HeaderRef> scratch;
    detail::EnvelopeView view;
    std::size_t at = 0;
    if (envelope.empty() || !detail::decode_envelope(envelope, at, view, scratch).ok()) {
      std::fprintf(stderr, "weft dlq: dead letter %llu does not decode; skipped\n",
                   static_cast<unsigned long long>(offset));
      continue;
    }
    if (replayed == 0) (void)node->wait_for_subscribers(view.subject, 1, seconds_flag("--wait", s.wait_seconds));
    Status published = node->publish(view.subject, view.payload, HeadersView(view.headers).to_owned());
    if (!published) return report_failure(kVerb, "replaying dead letter " + std::to_string(offset) + ": " +
                                                     published.to_string());
    ++replayed;
  }
  (void)node->flush(std::chrono::seconds(10));
  node->stop();
  std::printf("replayed %llu dead letter%s from %s\n", static_cast<unsigned long long>(replayed),
              replayed == 1 ? "" : "s", where.c_str());
  return kExitOk;
}

void require_publish_endpoint(const DlqSettings& s) {
  if (s.node.bind.empty() && s.node.publish_to.empty()) {
    throw UsageError("replaying a node's dead letters publishes them through a node: give --connect or --bind");
  }
}

// --- weftd's dead-letter streams -------------------------------------------------------------------------------

std::string require_stream(const DlqSettings& s) {
  if (s.stream.empty()) throw UsageError("give --stream NAME: the stream whose dead letters to use");
  return s.stream;
}

int sidecar_ls(const DlqSettings& s) {
  auto client = connect_sidecar(s.sidecar);
  auto list = client->admin<sc::DlqList>(sc::DlqListArgs{}, request_timeout(s.sidecar));
  if (!list) return report_failure(kVerb, list.status().message());
  std::printf("%-20s %10s %10s %10s %10s\n", "STREAM", "LETTERS", "FIRST", "END", "BYTES");
  for (const sc::DlqSummary& q : list->queues) {
    if (!s.stream.empty() && q.stream != s.stream) continue;
    std::printf("%-20s %10s %10llu %10llu %10s\n", q.stream.c_str(), format_count(q.count).c_str(),
                static_cast<unsigned long long>(q.first_offset), static_cast<unsigned long long>(q.end_offset),
                format_bytes(q.bytes).c_str());
  }
  return kExitOk;
}

int sidecar_show(const DlqSettings& s) {
  auto client = connect_sidecar(s.sidecar);
  sc::DlqShowArgs args;
  args.stream = require_stream(s);
  args.from = s.from;
  args.max = s.max;
  sc::Frames body;
  auto shown = client->admin<sc::DlqShowReply>(args, request_timeout(s.sidecar), &body);
  if (!shown) return report_failure(kVerb, shown.status().message());
  if (body.body_size() != shown->letters.size()) return report_failure(kVerb, "weftd's answer is malformed");
  for (std::size_t i = 0; i < shown->letters.size(); ++i) {
    const sc::DeadLetterInfo& l = shown->letters[i];
    print_letter(l.offset, l.subject, l.consumer, l.deliveries, l.last_error, l.time_ns, l.source_offset, body.body(i),
                 s);
  }
  if (!s.json && shown->letters.empty()) std::printf("no dead letters in stream %s\n", shown->stream.c_str());
  return kExitOk;
}

// Nodes' dead letters in weftd ("_node"): read them from weftd and publish them again through a node, as a
// node's own queue is replayed (they were never a stream's messages).
int sidecar_node_replay(DlqSettings& s) {
  require_publish_endpoint(s);
  auto client = connect_sidecar(s.sidecar);
  std::vector<std::pair<std::uint64_t, std::vector<std::byte>>> letters;
  sc::DlqShowArgs args;
  args.stream = std::string(sc::kNodeDeadLetters);
  args.max = 1000;
  for (;;) {
    sc::Frames body;
    auto shown = client->admin<sc::DlqShowReply>(args, request_timeout(s.sidecar), &body);
    if (!shown) return report_failure(kVerb, shown.status().message());
    if (body.body_size() != shown->letters.size()) return report_failure(kVerb, "weftd's answer is malformed");
    for (std::size_t i = 0; i < shown->letters.size(); ++i) {
      const auto envelope = body.body(i);
      letters.emplace_back(shown->letters[i].offset, std::vector<std::byte>(envelope.begin(), envelope.end()));
    }
    if (shown->letters.empty() || shown->next_offset <= args.from) break;
    args.from = shown->next_offset;
  }
  return publish_again(s, letters, "weftd's dead letters of nodes (" + std::string(sc::kNodeDeadLetters) + ")");
}

int sidecar_replay(DlqSettings& s) {
  if (require_stream(s) == sc::kNodeDeadLetters) return sidecar_node_replay(s);
  auto client = connect_sidecar(s.sidecar);
  sc::DlqReplayArgs args;
  args.stream = require_stream(s);
  args.offsets = s.offsets;
  auto replayed = client->admin<sc::DlqReplayReply>(args, request_timeout(s.sidecar));
  if (!replayed) return report_failure(kVerb, replayed.status().message());
  std::printf("replayed %llu dead letter%s of stream %s", static_cast<unsigned long long>(replayed->replayed),
              replayed->replayed == 1 ? "" : "s", replayed->stream.c_str());
  if (!replayed->new_offsets.empty()) {
    std::printf(" (new offsets");
    for (std::uint64_t o : replayed->new_offsets) std::printf(" %llu", static_cast<unsigned long long>(o));
    std::printf(")");
  }
  std::printf("\n");
  return kExitOk;
}

int sidecar_purge(const DlqSettings& s) {
  auto client = connect_sidecar(s.sidecar);
  sc::StreamArgs args{std::string(sc::kOpDlqPurge), require_stream(s)};
  auto purged = client->admin<sc::DlqPurgeReply>(args, request_timeout(s.sidecar));
  if (!purged) return report_failure(kVerb, purged.status().message());
  std::printf("purged %llu dead letter%s of stream %s\n", static_cast<unsigned long long>(purged->purged),
              purged->purged == 1 ? "" : "s", purged->stream.c_str());
  return kExitOk;
}

// --- a node's own dead-letter queue ----------------------------------------------------------------------------

std::unique_ptr<detail::DeadLetterStore> open_local(const DlqSettings& s, detail::log::FileSystem& fs) {
  if (s.data_dir.empty()) {
    throw UsageError("give --data-dir DIR (a node's data directory), or --sidecar for weftd's dead letters");
  }
  const std::string dir = s.data_dir + "/dlq";
  if (!fs.list_dir(dir)) throw weft::Error(Status::not_found("no dead-letter queue in " + s.data_dir + " (no dlq/)"));
  auto store = detail::DeadLetterStore::open(fs, detail::SystemClock::instance(), dir);
  if (!store) throw weft::Error(store.status());
  return std::move(*store);
}

int local_ls(const DlqSettings& s) {
  detail::log::PosixFileSystem fs;
  auto store = open_local(s, fs);
  auto letters = store->list().value();
  std::printf("%s/dlq: %s dead letter%s\n", s.data_dir.c_str(), format_count(letters.size()).c_str(),
              letters.size() == 1 ? "" : "s");
  return kExitOk;
}

int local_show(const DlqSettings& s) {
  detail::log::PosixFileSystem fs;
  auto store = open_local(s, fs);
  auto letters = store->list(s.from, s.max == 0 ? SIZE_MAX : s.max);
  if (!letters) return report_failure(kVerb, letters.status().to_string());
  for (const detail::StoredDeadLetter& l : *letters) {
    const auto& e = l.letter.envelope;
    print_letter(l.offset, l.letter.subject, l.letter.consumer, l.letter.deliveries, l.letter.last_error,
                 l.letter.time_ns, std::nullopt,
                 e ? std::span<const std::byte>(e->data(), e->size()) : std::span<const std::byte>(), s);
  }
  if (!s.json && letters->empty()) std::printf("no dead letters in %s/dlq\n", s.data_dir.c_str());
  return kExitOk;
}

int local_replay(DlqSettings& s) {
  require_publish_endpoint(s);
  detail::log::PosixFileSystem fs;
  auto store = open_local(s, fs);
  auto stored = store->list();
  if (!stored) return report_failure(kVerb, stored.status().to_string());
  std::vector<std::pair<std::uint64_t, std::vector<std::byte>>> letters;
  for (const detail::StoredDeadLetter& l : *stored) {
    const auto& e = l.letter.envelope;
    letters.emplace_back(l.offset, e ? std::vector<std::byte>(e->begin(), e->end()) : std::vector<std::byte>());
  }
  return publish_again(s, letters, s.data_dir + "/dlq");
}

int local_purge(const DlqSettings& s) {
  detail::log::PosixFileSystem fs;
  auto store = open_local(s, fs);
  const std::uint64_t count = store->count();
  if (Status purged = store->purge(); !purged) return report_failure(kVerb, purged.to_string());
  std::printf("purged %llu dead letter%s from %s/dlq\n", static_cast<unsigned long long>(count),
              count == 1 ? "" : "s", s.data_dir.c_str());
  return kExitOk;
}

}  // namespace

int run_dlq(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  const std::string command = argv[1];
  if (command == "-h" || command == "--help" || command == "help") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  DlqSettings s;
  po::options_description options = options_for(s);
  try {
    po::variables_map values = parse_arguments(argc - 1, argv + 1, options, {});
    if (values.count("help") != 0) {
      std::cout << "usage: weft dlq " << command << " [OPTIONS]\n\n" << options;
      return kExitOk;
    }
    s.use_sidecar = values.count("sidecar") != 0;
    if (s.use_sidecar && !s.data_dir.empty()) throw UsageError("give --sidecar or --data-dir, not both");
    if (s.use_sidecar) {
      if (command == "ls") return sidecar_ls(s);
      if (command == "show") return sidecar_show(s);
      if (command == "replay") return sidecar_replay(s);
      if (command == "purge") return sidecar_purge(s);
    } else {
      if (command == "ls") return local_ls(s);
      if (command == "show") return local_show(s);
      if (command == "replay") return local_replay(s);
      if (command == "purge") return local_purge(s);
    }
  } catch (const UsageError& e) {
    return report_usage_error(kVerb, e.what());
  } catch (const weft::Error& e) {
    return report_failure(kVerb, e.what());
  }
  return report_usage_error(kVerb, "unknown command '" + command + "'");
}

}  // namespace weft::cli
