// Publishes simulated host metrics on telemetry.<host>.cpu and telemetry.<host>.memory, five times a second.
//   telemetry_publisher [ENDPOINT] [HOST] [ROUNDS]   defaults: tcp://127.0.0.1:7400 host1 0 (0: until Ctrl-C)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <random>
#include <string>
#include <thread>

#include "weft/weft.hpp"

namespace {
std::atomic<bool> stop_requested{false};
}

int main(int argc, char** argv) try {
  const std::string endpoint = argc > 1 ? argv[1] : "tcp://127.0.0.1:7400";
  const std::string host = argc > 2 ? argv[2] : "host1";
  const long rounds = argc > 3 ? std::stol(argv[3]) : 0;
  std::signal(SIGINT, [](int) { stop_requested = true; });
  std::signal(SIGTERM, [](int) { stop_requested = true; });

  weft::NodeOptions options;
  options.bind = {endpoint};  // subscribers connect here
  weft::Node node(options);
  std::printf("publishing telemetry.%s.{cpu,memory} on %s\n", host.c_str(), node.endpoints().front().c_str());
  std::fflush(stdout);  // a script waits for this line to connect its subscribers (stdout may be a pipe)

  std::mt19937 rng{std::random_device{}()};
  std::normal_distribution<double> step(0.0, 2.0);
  double value[2] = {35.0, 60.0};
  const char* metric[2] = {"cpu", "memory"};
  const weft::Headers headers{{"unit", "percent"}, {"host", host}};
  for (long round = 1; !stop_requested && (rounds == 0 || round <= rounds); ++round) {
    for (int m = 0; m < 2; ++m) {
      value[m] = std::clamp(value[m] + step(rng), 0.0, 100.0);
      char text[16];
      std::snprintf(text, sizeof text, "%.1f", value[m]);
      // Best effort: a message nobody is subscribed to yet is simply not delivered.
      if (weft::Status s = node.publish("telemetry." + host + "." + metric[m], text, headers); !s) {
        std::fprintf(stderr, "publish: %s\n", s.to_string().c_str());
        return 1;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  (void)node.flush(std::chrono::seconds(1));
  weft::NodeStats stats = node.stats();
  std::printf("published %llu, sent %llu, dropped %llu\n", static_cast<unsigned long long>(stats.published),
              static_cast<unsigned long long>(stats.sent), static_cast<unsigned long long>(stats.dropped_hwm));
} catch (const std::exception& e) {
  std::fprintf(stderr, "telemetry_publisher: %s\n", e.what());
  return 1;
}
