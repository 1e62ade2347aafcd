// Publishes orders to a persistent stream through weftd, the host's sidecar, and prints where each was stored.
//   persistent_publisher [--count N] [--subject SUBJECT] [--sidecar ENDPOINT] [--first K]
//   persistent_publisher [COUNT] [SUBJECT] [SIDECAR]        the same, positionally
// Defaults: 10 orders on orders.new, numbered from 0, to weftd's default endpoint. weftd must run with a stream
// that takes the subject (README.md); without one, each publish fails with weftd's "no stream" error, and
// without weftd with "unavailable" once the request timeout has passed.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "weft/weft.hpp"

namespace {

constexpr const char* kUsage = R"(usage: persistent_publisher [--count N] [--subject SUBJECT] [--sidecar ENDPOINT] [--first K]
       persistent_publisher [COUNT] [SUBJECT] [SIDECAR]

Publishes N orders ({"order": K}, {"order": K+1}, ...) on SUBJECT with Delivery::kPersistent through weftd and
prints "order K stored in STREAM at offset O" once weftd has each one durably, or why not.

  --count N            how many orders (default 10)
  --subject SUBJECT    their subject (default orders.new); a weftd stream must take it
  --sidecar ENDPOINT   weftd's endpoint (default: $WEFT_SIDECAR, else weftd's well-known ipc socket)
  --first K            the first order's number (default 0)
  -h, --help           print this help and exit

Exit status: 0 when every order was stored, 1 otherwise.
)";

struct Settings {
  long count = 10;
  std::string subject = "orders.new";
  std::string sidecar;
  long first = 0;
};

// Flags, or the older positional form; throws std::invalid_argument for a bad command line.
void parse(int argc, char** argv, Settings& s, bool& help) {
  int positional = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      help = true;
    } else if (arg == "--count") {
      s.count = std::stol(value());
    } else if (arg == "--subject") {
      s.subject = value();
    } else if (arg == "--sidecar") {
      s.sidecar = value();
    } else if (arg == "--first") {
      s.first = std::stol(value());
    } else if (arg.rfind("--", 0) == 0) {
      throw std::invalid_argument("unknown flag " + arg);
    } else {
      switch (positional++) {
        case 0: s.count = std::stol(arg); break;
        case 1: s.subject = arg; break;
        case 2: s.sidecar = arg; break;
        default: throw std::invalid_argument("unexpected argument " + arg);
      }
    }
  }
  if (s.count < 0) throw std::invalid_argument("--count must be 0 or more");
}

}  // namespace

int main(int argc, char** argv) try {
  Settings settings;
  bool help = false;
  try {
    parse(argc, argv, settings, help);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "persistent_publisher: %s\n\n%s", e.what(), kUsage);
    return 2;
  }
  if (help) {
    std::fputs(kUsage, stdout);
    return 0;
  }

  weft::NodeOptions options;
  options.sidecar.enabled = true;                                           // persistent messages go to weftd ...
  if (!settings.sidecar.empty()) options.sidecar.endpoint = settings.sidecar;  // ... at its default endpoint
  options.sidecar.request_timeout = std::chrono::seconds(2);
  // A burst larger than the publish queue waits for room instead of being refused (back-pressure).
  options.overflow = weft::OverflowPolicy::kBlock;
  weft::Node node(options);

  std::atomic<long> stored{0}, failed{0};
  for (long i = settings.first; i < settings.first + settings.count; ++i) {
    weft::PublishOptions persistent;
    persistent.delivery = weft::Delivery::kPersistent;
    // Runs on the node's dispatcher thread once weftd has the message in its log (fsynced, as the stream's
    // policy says), or with the reason it failed. From then on weftd owns delivery, retries and dead letters.
    persistent.on_persisted = [&, i](const weft::Status& s, const weft::PersistedAt& at) {
      if (s.is_ok()) {
        std::printf("order %ld stored in %s at offset %llu\n", i, at.stream.c_str(),
                    static_cast<unsigned long long>(at.offset));
        ++stored;
      } else {
        std::fprintf(stderr, "order %ld not stored: %s\n", i, s.to_string().c_str());
        ++failed;
      }
    };
    const std::string order = "{\"order\": " + std::to_string(i) + "}";
    // An error here is immediate (no sidecar configured, weftd known to be down, invalid subject).
    if (weft::Status s = node.publish(settings.subject, order, {{"content-type", "application/json"}}, persistent);
        !s) {
      std::fprintf(stderr, "publish: %s\n", s.to_string().c_str());
      return 1;
    }
  }
  // Every persistent publish settled (acknowledged durable, or failed) and its callback ran.
  if (weft::Status s = node.wait_for_acknowledgements(std::chrono::seconds(30)); !s) {
    std::fprintf(stderr, "waiting for weftd: %s\n", s.to_string().c_str());
    return 1;
  }
  std::printf("%ld stored, %ld failed\n", stored.load(), failed.load());
  return failed == 0 ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "persistent_publisher: %s\n", e.what());
  return 1;
}
