// weft req: sends one request and prints the first reply. A thin layer over Node::request().
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"
#include "reliable_cli.hpp"
#include "weft/node.hpp"
#include "weft/subject.hpp"

namespace weft::cli {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kVerb = "req";
constexpr std::chrono::milliseconds kWaitSlice{100};

constexpr const char* kHelpIntro = R"(usage: weft req [OPTIONS] SUBJECT DATA

Sends DATA as a request on SUBJECT and prints the payload of the first reply on stdout (with a newline
added when it has none). Responders are `weft reply` processes, or any node that subscribes to SUBJECT and
answers with Node::reply(); when they are a queue group (`weft reply --queue GROUP`), exactly one answers.

The request travels like a publication (req is the publishing side: --connect to a `weft reply --bind`,
or --bind for `weft reply --connect`); the reply comes back on req's control channel, which it binds on
tcp://127.0.0.1:* by default (give --control-bind with a reachable address when responders are on other
hosts).

)";

constexpr const char* kHelpOutro = R"(
Examples:
  weft reply --bind tcp://127.0.0.1:7500 svc.time "it is noon"        # in one shell
  weft req --connect tcp://127.0.0.1:7500 svc.time "what time is it?"  # in another: prints "it is noon"
  weft reply --bind tcp://127.0.0.1:7501 --exec 'tr a-z A-Z' svc.upper
  weft req --connect tcp://127.0.0.1:7501 --timeout 2 svc.upper hello   # prints "HELLO"

Exit status: 0 when a reply came, 1 when no responder subscribes to SUBJECT (said at once, after --wait)
or none answered within --timeout, 2 on bad usage.
)";

struct ReqSettings {
  NodeOptions node;
  std::string subject;
  std::string data;
  double timeout_seconds = 5;
  double wait_seconds = 2;
  std::vector<std::string> header_items;

  Headers headers;
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds wait{0};
};

po::options_description visible_options(ReqSettings& s) {
  po::options_description options("options", 100, 50);
  // clang-format off
  options.add_options()
      ("help,h", "print this help and exit")
      ("connect", po::value(&s.node.publish_to)->value_name("ENDPOINT"),
       "send to a responder listening with `weft reply --bind ENDPOINT` (repeatable)")
      ("bind", po::value(&s.node.bind)->value_name("ENDPOINT"),
       "listen for responders that `weft reply --connect` to ENDPOINT (repeatable)")
      ("timeout", po::value(&s.timeout_seconds)->value_name("SECONDS"),
       "wait up to SECONDS for the reply (default 5)")
      ("wait", po::value(&s.wait_seconds)->value_name("SECONDS"),
       "wait up to SECONDS for a responder to subscribe before sending (default 2; ZeroMQ needs a moment "
       "after connecting)")
      ("header", po::value(&s.header_items)->value_name("KEY=VALUE"), "attach a header to the request (repeatable)")
      ("control-bind", po::value(&s.node.control_bind)->value_name("ENDPOINT"),
       "where the reply comes back (default tcp://127.0.0.1:*, or beside --bind)")
      ("name", po::value(&s.node.name)->value_name("NAME"), "the node's name for peers and logs (default HOST-PID)");
  // clang-format on
  return options;
}

void finish_settings(ReqSettings& s, const po::variables_map& values) {
  if (values.count("subject") == 0) throw UsageError("give the SUBJECT of the request");
  if (Status valid = validate_subject(s.subject); !valid) throw UsageError(valid.message());
  if (values.count("data") == 0) throw UsageError("give the DATA of the request (\"\" for none)");
  s.timeout = seconds_flag("--timeout", s.timeout_seconds);
  if (s.timeout.count() == 0) throw UsageError("--timeout must be more than 0");
  s.wait = seconds_flag("--wait", s.wait_seconds);
  s.headers = parse_headers(s.header_items);
  require_endpoint(s.node);
}

int run(const ReqSettings& s) {
  StopSignals stop;
  std::optional<Node> node;
  try {
    node.emplace(s.node);
  } catch (const weft::Error& e) {
    return report_node_error(kVerb, e);
  }
  print_listening(node->endpoints());
  // Until a responder's subscription has arrived, the node would answer "no responders" at once.
  const auto deadline = Clock::now() + s.wait;
  while (!stop.stop_requested()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || node->wait_for_subscribers(s.subject, 1, std::min(left, kWaitSlice))) break;
  }
  if (stop.stop_requested()) return kExitOk;
  auto reply = node->request(s.subject, as_bytes(s.data), s.timeout, s.headers);
  if (!reply) {
    if (reply.status().code() == ErrorCode::kNoResponders) {
      char waited[32];
      std::snprintf(waited, sizeof waited, "%g", s.wait_seconds);
      return report_failure(kVerb, "no responders: nobody subscribes to '" + s.subject + "' (waited " + waited +
                                       " s; is `weft reply` running and connected?)");
    }
    return report_failure(kVerb, reply.status().to_string());
  }
  std::string_view text = reply->payload_text();
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (text.empty() || text.back() != '\n') std::fputc('\n', stdout);
  if (std::fflush(stdout) != 0) return report_failure(kVerb, "writing standard output failed");
  return kExitOk;
}

}  // namespace

int run_req(int argc, char** argv) {
  ReqSettings s;
  po::options_description visible = visible_options(s);
  po::options_description hidden;
  hidden.add_options()("subject", po::value(&s.subject))("data", po::value(&s.data));
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description positional;
  positional.add("subject", 1).add("data", 1);
  try {
    po::variables_map values = parse_arguments(argc, argv, all, positional);
    if (values.count("help") != 0) {
      std::cout << kHelpIntro << visible << kHelpOutro;
      return kExitOk;
    }
    finish_settings(s, values);
  } catch (const UsageError& e) {
    return report_usage_error(kVerb, e.what());
  }
  return run(s);
}

}  // namespace weft::cli
