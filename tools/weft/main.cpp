// weft: the command-line tool. `weft VERB --help` explains each verb.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "bench/peers.hpp"
#include "commands.hpp"
#include "reliable_cli.hpp"
#include "sidecar_cli.hpp"
#include "weft/version.hpp"

namespace {

struct Verb {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

constexpr Verb kVerbs[] = {
    {"pub", weft::cli::run_pub, "publish messages on a subject"},
    {"sub", weft::cli::run_sub, "print the messages that match a pattern"},
    {"peers", weft::cli::run_peers, "list the peers discovery finds (--watch, --json)"},
    {"bench", weft::cli::run_bench, "measure throughput and latency beside raw ZeroMQ"},
    {"stream", weft::cli::run_stream, "persistent streams in weftd: add, ls, info, rm, publish"},
    {"dlq", weft::cli::run_dlq, "dead letters: ls, show, replay, purge"},
    {"log", weft::cli::run_log, "read a stream's log segments offline: ls, dump, verify"},
    {"req", weft::cli::run_req, "send a request and print the first reply"},
    {"reply", weft::cli::run_reply, "answer requests with fixed data or a command's output"},
};

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "weft %s: a brokerless messaging fabric over ZeroMQ\n\n"
               "usage: weft VERB [OPTIONS] [ARGS]\n\nverbs:\n",
               weft::kVersionString);
  for (const auto& verb : kVerbs) std::fprintf(out, "  %-8s %s\n", verb.name, verb.summary);
  std::fprintf(out,
               "\n`weft VERB --help` explains a verb. A quick start, in two shells:\n"
               "  weft sub --bind tcp://127.0.0.1:7400 'demo.>'\n"
               "  weft pub --connect tcp://127.0.0.1:7400 demo.hello 'hi there'\n"
               "or, with no endpoint, finding each other by discovery (see `weft peers`):\n"
               "  weft sub 'demo.>'\n"
               "  weft pub demo.hello 'hi there'\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return weft::cli::kExitUsage;
  }
  std::string_view verb = argv[1];
  if (verb == "-h" || verb == "--help" || verb == "help") {
    print_usage(stdout);
    return weft::cli::kExitOk;
  }
  if (verb == "--version" || verb == "version") {
    std::printf("weft %s\n", weft::kVersionString);
    return weft::cli::kExitOk;
  }
  // Hidden: the peer processes `weft bench` starts.
  if (verb == "bench-peer") return weft::cli::run_bench_peer(argc - 1, argv + 1);
  for (const auto& v : kVerbs) {
    if (verb == v.name) return v.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "weft: unknown verb '%s'\n\n", argv[1]);
  print_usage(stderr);
  return weft::cli::kExitUsage;
}
