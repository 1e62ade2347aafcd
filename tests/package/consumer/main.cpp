// Publishes to itself through the installed library and exits 0 when the message comes back.
#include <weft/weft.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

int main() {
  weft::NodeOptions options;
  options.bind = {"tcp://127.0.0.1:*"};
  weft::Node publisher(options);
  weft::NodeOptions sub_options;
  sub_options.connect = publisher.endpoints();
  weft::Node subscriber(sub_options);
  std::atomic<bool> got{false};
  auto sub = subscriber.subscribe("hello.>", [&](const weft::Message& m) { got = m.payload_text() == "world"; });
  if (!sub) return 1;
  if (!publisher.wait_for_subscribers("hello.there", 1, std::chrono::seconds(5))) return 1;
  if (!publisher.publish("hello.there", "world")) return 1;
  for (int i = 0; i < 5000 && !got; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::printf("weft %s: %s\n", weft::kVersionString, got ? "received" : "nothing received");
  return got ? 0 : 1;
}
