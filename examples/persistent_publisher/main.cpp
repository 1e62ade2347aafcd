// Publishes orders to a persistent stream through weftd, the host's sidecar, and prints where each was stored.
//   persistent_publisher [COUNT] [SUBJECT] [SIDECAR]   defaults: 10 orders.new, weftd's default endpoint
// weftd must run with a stream that takes the subject (README.md); without one, each publish fails with
// weftd's "no stream" error, and without weftd with "unavailable" once the request timeout has passed.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>

#include "weft/weft.hpp"

int main(int argc, char** argv) try {
  const long count = argc > 1 ? std::stol(argv[1]) : 10;
  const std::string subject = argc > 2 ? argv[2] : "orders.new";

  weft::NodeOptions options;
  options.sidecar.enabled = true;                  // persistent messages go to weftd ...
  if (argc > 3) options.sidecar.endpoint = argv[3];  // ... at its default endpoint unless told otherwise
  options.sidecar.request_timeout = std::chrono::seconds(2);
  // A burst larger than the publish queue waits for room instead of being refused (back-pressure).
  options.overflow = weft::OverflowPolicy::kBlock;
  weft::Node node(options);

  std::atomic<long> stored{0}, failed{0};
  weft::PublishOptions persistent;
  persistent.delivery = weft::Delivery::kPersistent;
  // Runs on the node's dispatcher thread once weftd has the message in its log (fsynced, as the stream's
  // policy says), or with the reason it failed. From then on weftd owns delivery, retries and dead letters.
  persistent.on_persisted = [&](const weft::Status& s, const weft::PersistedAt& at) {
    if (s.is_ok()) {
      std::printf("stored in %s at offset %llu\n", at.stream.c_str(), static_cast<unsigned long long>(at.offset));
      ++stored;
    } else {
      std::fprintf(stderr, "not stored: %s\n", s.to_string().c_str());
      ++failed;
    }
  };
  for (long i = 0; i < count; ++i) {
    const std::string order = "{\"order\": " + std::to_string(i) + "}";
    // An error here is immediate (no sidecar configured, weftd known to be down, invalid subject).
    if (weft::Status s = node.publish(subject, order, {{"content-type", "application/json"}}, persistent); !s) {
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
