// weft reply: answers requests on a subject with fixed DATA or with the output of a command. A thin layer
// over Node::subscribe() and Node::reply().
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"
#include "reliable_cli.hpp"
#include "weft/node.hpp"
#include "weft/subject.hpp"

extern char** environ;

namespace weft::cli {

namespace {

constexpr std::string_view kVerb = "reply";
constexpr std::chrono::seconds kDrainTimeout{2};
constexpr std::chrono::milliseconds kDrainGrace{100};

constexpr const char* kHelpIntro = R"(usage: weft reply [OPTIONS] PATTERN (DATA | --exec CMD)

Answers every request whose subject matches PATTERN (sent with `weft req` or Node::request()) with DATA,
or with what CMD prints: CMD runs with `/bin/sh -c`, the request's payload on its standard input and its
subject in $WEFT_SUBJECT; its standard output is the reply. A CMD that exits non-zero still answers (its
output, with the header exit-status=N) and is reported on stderr. Requests are handled one at a time.

Runs until interrupted (Ctrl-C) or --count requests were answered, then prints a summary on stderr.
With --queue GROUP, several `weft reply` processes share the requests: each is answered by exactly one.

)";

constexpr const char* kHelpOutro = R"(
Endpoints: reply is the subscribing side, as `weft sub` is.
  weft reply --bind E      pairs with   weft req --connect E
  weft reply --connect E   pairs with   weft req --bind E
Replies go straight to the requester's control channel, whose address comes with each request.

Examples:
  weft reply --bind tcp://127.0.0.1:7500 svc.time "it is noon"
  weft reply --bind tcp://127.0.0.1:7501 --exec 'tr a-z A-Z' 'svc.upper'
  weft reply --connect tcp://127.0.0.1:7502 --queue workers --exec ./handle.sh 'jobs.>'

Exit status: 0 on success (also when interrupted), 1 when answering failed, 2 on bad usage.
)";

struct ReplySettings {
  NodeOptions node;
  std::string pattern;
  std::optional<std::string> data;
  std::string exec;
  std::string queue;
  std::int64_t count = 0;
  std::vector<std::string> header_items;
  bool quiet = false;

  Headers headers;
};

po::options_description visible_options(ReplySettings& s) {
  po::options_description options("options", 100, 50);
  // clang-format off
  options.add_options()
      ("help,h", "print this help and exit")
      ("bind", po::value(&s.node.subscriber_bind)->value_name("ENDPOINT"),
       "listen for requesters on ENDPOINT; they `weft req --connect` to it (repeatable)")
      ("connect", po::value(&s.node.connect)->value_name("ENDPOINT"),
       "take requests from a requester listening with `weft req --bind ENDPOINT` (repeatable)")
      ("exec", po::value(&s.exec)->value_name("CMD"),
       "answer with CMD's standard output (CMD reads the request payload on standard input)")
      ("queue", po::value(&s.queue)->value_name("GROUP"),
       "share the requests with the other responders of GROUP: each one is answered once")
      ("count", po::value(&s.count)->value_name("N"), "exit after answering N requests (default 0: no limit)")
      ("header", po::value(&s.header_items)->value_name("KEY=VALUE"), "attach a header to every reply (repeatable)")
      ("name", po::value(&s.node.name)->value_name("NAME"), "the node's name for peers and logs (default HOST-PID)")
      ("quiet,q", po::bool_switch(&s.quiet), "print no summary at exit");
  // clang-format on
  return options;
}

void finish_settings(ReplySettings& s, const po::variables_map& values) {
  if (values.count("pattern") == 0) throw UsageError("give the PATTERN of the subjects to answer");
  if (Status valid = validate_pattern(s.pattern); !valid) throw UsageError(valid.message());
  if (values.count("data") != 0) s.data = values["data"].as<std::string>();
  if (s.data && !s.exec.empty()) throw UsageError("give DATA or --exec CMD, not both");
  if (!s.data && s.exec.empty()) throw UsageError("give the DATA to answer with, or --exec CMD");
  if (s.count < 0) throw UsageError("--count must be 0 (no limit) or more");
  s.headers = parse_headers(s.header_items);
  require_endpoint(s.node);
}

// Runs `/bin/sh -c command` with `input` on its standard input; its standard output goes to `output`.
// Returns the exit status (128+N for a signal N), or -1 with `error` set when it could not run.
int run_command(const std::string& command, std::string_view subject, std::string_view input, std::string& output,
                std::string& error) {
  int to_child[2];
  int from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0) {
    error = std::string("pipe: ") + std::strerror(errno);
    return -1;
  }
  if (::pipe2(from_child, O_CLOEXEC) != 0) {
    error = std::string("pipe: ") + std::strerror(errno);
    ::close(to_child[0]);
    ::close(to_child[1]);
    return -1;
  }
  // The child's environment, built before fork: after it, only async-signal-safe calls are allowed.
  std::string subject_env = "WEFT_SUBJECT=" + std::string(subject);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "WEFT_SUBJECT=", 13) != 0) env.push_back(*e);
  }
  env.push_back(subject_env.data());
  env.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(errno);
    for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) ::close(fd);
    return -1;
  }
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    ::dup2(to_child[0], STDIN_FILENO);
    ::dup2(from_child[1], STDOUT_FILENO);
    ::execle("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr), env.data());
    ::_exit(127);
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  // Write the input and read the output together, so that a command that prints before reading all of its
  // input cannot deadlock with us. SIGPIPE from a command that never reads is ignored: the write fails.
  struct sigaction ignore = {};
  struct sigaction previous = {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &previous);
  int write_fd = to_child[1];
  std::size_t written = 0;
  if (input.empty()) {
    ::close(write_fd);
    write_fd = -1;
  }
  char buffer[16 * 1024];
  int read_fd = from_child[0];
  while (read_fd >= 0) {
    pollfd fds[2] = {{read_fd, POLLIN, 0}, {write_fd, POLLOUT, 0}};
    if (::poll(fds, write_fd >= 0 ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (write_fd >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
      ssize_t n = ::write(write_fd, input.data() + written, std::min<std::size_t>(input.size() - written, 65536));
      if (n > 0) written += static_cast<std::size_t>(n);
      if (n < 0 && errno != EINTR && errno != EAGAIN) written = input.size();  // it stopped reading
      if (written == input.size()) {
        ::close(write_fd);
        write_fd = -1;
      }
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      ssize_t n = ::read(read_fd, buffer, sizeof buffer);
      if (n > 0) {
        output.append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        ::close(read_fd);
        read_fd = -1;
      }
    }
  }
  if (write_fd >= 0) ::close(write_fd);
  ::sigaction(SIGPIPE, &previous, nullptr);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      error = std::string("waitpid: ") + std::strerror(errno);
      return -1;
    }
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

// reply() hands the answer to the node's I/O thread, and the control channel does not linger when the node
// closes: before it does, wait (briefly) until every answer has gone out, so that the last one before --count
// is not lost.
void drain_replies(const Node& node, std::uint64_t sent_before, std::uint64_t answered) {
  const auto deadline = std::chrono::steady_clock::now() + kDrainTimeout;
  while (node.stats().reliable.control_sent - sent_before < answered && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Handed to ZeroMQ is not yet written to the socket: give its I/O thread a moment.
  std::this_thread::sleep_for(kDrainGrace);
}

int run(const ReplySettings& s) {
  StopSignals stop;
  std::optional<Node> node;
  try {
    node.emplace(s.node);
  } catch (const weft::Error& e) {
    return report_node_error(kVerb, e);
  }
  std::atomic<std::uint64_t> answered{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> not_requests{0};
  Node& responder = *node;
  auto handler = [&](const Message& request) {
    if (s.count > 0 && answered.load() >= static_cast<std::uint64_t>(s.count)) return;
    std::string output;
    Headers headers = s.headers;
    std::string_view payload;
    if (s.data) {
      payload = *s.data;
    } else {
      std::string error;
      int status = run_command(s.exec, request.subject(), request.payload_text(), output, error);
      if (status < 0) {
        std::fprintf(stderr, "weft reply: cannot run --exec: %s\n", error.c_str());
        ++failed;
        return;  // the requester times out; nothing sensible to answer
      }
      if (status != 0) {
        std::fprintf(stderr, "weft reply: --exec exited with status %d on a request on '%.*s'\n", status,
                     static_cast<int>(request.subject().size()), request.subject().data());
        headers.set("exit-status", std::to_string(status));
      }
      payload = output;
    }
    Status replied = responder.reply(request, payload, headers);
    if (replied.code() == ErrorCode::kInvalidArgument && replied.message().find("not a request") != std::string::npos) {
      ++not_requests;  // a plain publication on the subject: nobody to answer
      return;
    }
    if (!replied) {
      std::fprintf(stderr, "weft reply: %s\n", replied.to_string().c_str());
      ++failed;
      return;
    }
    if (++answered == static_cast<std::uint64_t>(s.count)) stop.request_stop();
  };
  SubscribeOptions options;
  options.queue = s.queue;
  auto subscription = responder.subscribe(s.pattern, handler, options);
  if (!subscription) return report_failure(kVerb, "cannot subscribe: " + subscription.status().to_string());
  print_listening(responder.subscriber_endpoints());
  const std::uint64_t sent_before = responder.stats().reliable.control_sent;
  (void)stop.wait_until(StopSignals::Deadline::max());
  subscription->unsubscribe();
  drain_replies(responder, sent_before, answered.load());
  if (!s.quiet) {
    std::fprintf(stderr, "answered %s request%s (%s failed, %s messages that were not requests)\n",
                 format_count(answered.load()).c_str(), answered.load() == 1 ? "" : "s",
                 format_count(failed.load()).c_str(), format_count(not_requests.load()).c_str());
  }
  return failed.load() == 0 ? kExitOk : kExitFailure;
}

}  // namespace

int run_reply(int argc, char** argv) {
  ReplySettings s;
  po::options_description visible = visible_options(s);
  po::options_description hidden;
  hidden.add_options()("pattern", po::value(&s.pattern))("data", po::value<std::string>());
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description positional;
  positional.add("pattern", 1).add("data", 1);
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
