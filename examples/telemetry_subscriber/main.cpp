// Subscribes to telemetry and prints each message as it arrives.
//   telemetry_subscriber [ENDPOINT] [PATTERN] [COUNT]   defaults: tcp://127.0.0.1:7400 telemetry.> 0 (0: until Ctrl-C)
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include "weft/weft.hpp"

namespace {
std::atomic<bool> stop_requested{false};
}

int main(int argc, char** argv) try {
  const std::string endpoint = argc > 1 ? argv[1] : "tcp://127.0.0.1:7400";
  const std::string pattern = argc > 2 ? argv[2] : "telemetry.>";
  const long count = argc > 3 ? std::stol(argv[3]) : 0;
  std::signal(SIGINT, [](int) { stop_requested = true; });
  std::signal(SIGTERM, [](int) { stop_requested = true; });

  weft::NodeOptions options;
  options.connect = {endpoint};  // a publisher's bind endpoint; ZeroMQ retries until it is up
  weft::Node node(options);
  std::atomic<long> received{0};
  // Handlers run on the node's dispatcher thread, one message at a time; the Message is valid during the call.
  auto subscription = node.subscribe(pattern, [&](const weft::Message& m) {
    std::string_view unit = m.headers().get("unit").value_or("");
    std::printf("%-28.*s %6.*s %.*s  (seq %llu)\n", static_cast<int>(m.subject().size()), m.subject().data(),
                static_cast<int>(m.payload_text().size()), m.payload_text().data(), static_cast<int>(unit.size()),
                unit.data(), static_cast<unsigned long long>(m.id().sequence));
    std::fflush(stdout);
    ++received;
  });
  if (!subscription) {
    std::fprintf(stderr, "subscribe: %s\n", subscription.status().to_string().c_str());
    return 1;
  }
  std::printf("subscribed to '%s' at %s\n", pattern.c_str(), endpoint.c_str());
  while (!stop_requested && (count == 0 || received < count)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
} catch (const std::exception& e) {
  std::fprintf(stderr, "telemetry_subscriber: %s\n", e.what());
  return 1;
}
