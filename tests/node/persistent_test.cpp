// Persistent publishing from a node (Delivery::kPersistent, NodeOptions::sidecar): a real Node talks to a real
// weftd over ipc. weftd runs in this process on a thread of its own (the daemon's parts over the real file
// system, in a temp directory), so a test can start it late; the stream is read back with a SidecarClient, as
// `weft sub --stream` does.
#include <gtest/gtest.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "codec/envelope.hpp"
#include "log/posix_file_system.hpp"
#include "reliable/dead_letter_store.hpp"
#include "sidecar/sidecar_admin.hpp"
#include "sidecar/sidecar_client.hpp"
#include "weft/weft.hpp"
#include "weft_testing/wait.hpp"
#include "weftd.hpp"
#include "zmq_server_transport.hpp"

namespace weft::testing {
namespace {

using namespace std::chrono_literals;
namespace sc = detail::sidecar;
namespace wd = detail::weftd;

sc::StreamConfig stream(std::string name, std::string subjects, std::uint64_t max_message_bytes = 8ULL << 20) {
  sc::StreamConfig c;
  c.name = std::move(name);
  c.subjects = {std::move(subjects)};
  c.fsync = "always";
  c.max_message_bytes = max_message_bytes;
  return c;
}

// weftd in this process: the real daemon loop (as daemon/main.cpp runs it) on its own thread.
class InProcessWeftd {
 public:
  InProcessWeftd(const std::string& data_dir, const std::string& endpoint, std::vector<sc::StreamConfig> streams)
      : logger_([](LogLevel, std::string_view) {}, "") {
    auto transport = wd::ZmqServerTransport::bind({endpoint});
    if (!transport) throw Error(transport.status());
    transport_ = std::move(*transport);
    wd::WeftdOptions options;
    options.data_dir = data_dir;
    options.streams = std::move(streams);
    auto opened = wd::Weftd::open(options, fs_, detail::SystemClock::instance(), *transport_, logger_,
                                  transport_->endpoints());
    if (!opened) throw Error(opened.status());
    weftd_ = std::move(*opened);
    thread_ = std::thread([this] { run(); });
  }
  ~InProcessWeftd() {
    stop_ = true;
    thread_.join();
    (void)weftd_->stop();
  }

 private:
  void run() {
    const auto& clock = detail::SystemClock::instance();
    while (!stop_) {
      const auto now = clock.now();
      if (weftd_->do_work(now) > 0) continue;
      auto due = weftd_->next_deadline(now).value_or(now + 20ms);
      auto wait = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(due - clock.now()), 1ms, 20ms);
      (void)transport_->wait(wait, -1);  // the 20 ms bound is how soon stop_ is seen
    }
  }

  detail::log::PosixFileSystem fs_;
  detail::Logger logger_;
  std::unique_ptr<wd::ZmqServerTransport> transport_;
  std::unique_ptr<wd::Weftd> weftd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string payload_of(std::span<const std::byte> envelope) {
  std::vector<HeaderRef> scratch;
  detail::EnvelopeView view;
  std::size_t at = 0;
  if (!detail::decode_envelope(envelope, at, view, scratch).ok()) return "<undecodable>";
  return std::string(view.as_message().payload_text());
}

std::string thread_name() {
  char name[32] = {};
  ::pthread_getname_np(::pthread_self(), name, sizeof name);
  return name;
}

// What a persistent publish's callbacks reported, in the order they ran.
struct Outcomes {
  std::mutex mutex;
  std::vector<Status> statuses;
  std::vector<std::uint64_t> offsets;
  std::set<std::string> threads;

  PublishOptions options() {
    PublishOptions o;
    o.delivery = Delivery::kPersistent;
    o.on_persisted = [this](const Status& s, const PersistedAt& at) {
      std::lock_guard lock(mutex);
      statuses.push_back(s);
      if (s.is_ok()) offsets.push_back(at.offset);
      threads.insert(thread_name());
    };
    return o;
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return statuses.size();
  }
};

class PersistentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Short: an ipc socket's path must fit in sun_path (107 bytes).
    static int next = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("weft-persist-" + std::to_string(::getpid()) + "-" + std::to_string(next++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    endpoint_ = "ipc://" + (dir_ / "weftd.sock").string();
  }
  void TearDown() override {
    weftd_.reset();
    std::filesystem::remove_all(dir_);
  }

  void start_weftd(std::vector<sc::StreamConfig> streams = {stream("orders", "orders.>")}) {
    weftd_ = std::make_unique<InProcessWeftd>((dir_ / "data").string(), endpoint_, std::move(streams));
  }

  NodeOptions node_options(std::chrono::milliseconds request_timeout = 5000ms) const {
    NodeOptions o;
    o.name = "persistent-test";
    o.sidecar.enabled = true;
    o.sidecar.endpoint = endpoint_;
    o.sidecar.request_timeout = request_timeout;
    return o;
  }

  // Every message of the stream, from the first, as weftd delivers it to a new consumer.
  std::vector<std::pair<std::uint64_t, std::string>> read_stream(const std::string& name, std::size_t expect) {
    sc::SidecarClientOptions o;
    o.endpoint = endpoint_;
    auto client = sc::SidecarClient::connect(o);
    EXPECT_TRUE(client.is_ok());
    if (!client) return {};
    std::vector<std::pair<std::uint64_t, std::string>> got;
    sc::ConsumeFields fields;
    fields.stream = name;
    fields.start = std::string(sc::kStartFirst);
    sc::SidecarClient& c = **client;
    sc::ConsumerHandlers handlers;
    handlers.on_message = [&](const sc::Delivery& d) {
      got.emplace_back(d.offset, payload_of(d.envelope));
      (void)c.ack(d.consumer, d.offset, d.attempt);
    };
    EXPECT_TRUE(c.consume(fields, handlers).is_ok());
    c.run_until([&] { return got.size() >= expect; }, 10s);
    // Anything more (a duplicate) would arrive at once: give it a short chance to show up.
    c.run_until([] { return false; }, 100ms);
    return got;
  }

  std::filesystem::path dir_;
  std::string endpoint_;
  std::unique_ptr<InProcessWeftd> weftd_;
};

TEST_F(PersistentTest, PublishesCompleteOnceDurableWithIncreasingOffsetsAndReadBackExactlyOnce) {
  start_weftd();
  Node node(node_options());
  Outcomes outcomes;
  constexpr int kMessages = 5000;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(node.publish("orders.new", "m" + std::to_string(i), {}, outcomes.options()).is_ok());
  }
  ASSERT_TRUE(node.wait_for_acknowledgements(20s).is_ok());
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(wait_until([&] { return outcomes.count() == kMessages; }));
  for (const Status& s : outcomes.statuses) ASSERT_TRUE(s.is_ok()) << s.to_string();
  ASSERT_EQ(outcomes.offsets.size(), std::size_t{kMessages});
  for (std::size_t i = 0; i < outcomes.offsets.size(); ++i) EXPECT_EQ(outcomes.offsets[i], i);
  EXPECT_EQ(outcomes.threads.count("weft-io"), 0U) << "completions never run on the I/O thread";

  NodeStats stats = node.stats();
  EXPECT_EQ(stats.persistent.published, std::uint64_t{kMessages});
  EXPECT_EQ(stats.persistent.persisted, std::uint64_t{kMessages});
  EXPECT_EQ(stats.persistent.failed, 0U);
  EXPECT_EQ(stats.persistent.in_flight, 0U);
  EXPECT_TRUE(stats.persistent.sidecar_up);
  EXPECT_LE(stats.persistent.appends, std::uint64_t{kMessages});
  EXPECT_EQ(stats.sent, 0U) << "persistent messages go to weftd, not out on the publish socket";
  const double seconds = std::chrono::duration<double>(elapsed).count();
  std::printf("[ figures  ] %d persistent messages in %.3f s: %.0f msg/s, %llu appends (%.1f messages each)\n",
              kMessages, seconds, kMessages / seconds, static_cast<unsigned long long>(stats.persistent.appends),
              static_cast<double>(kMessages) / static_cast<double>(stats.persistent.appends));

  auto stored = read_stream("orders", kMessages);
  ASSERT_EQ(stored.size(), std::size_t{kMessages});
  for (std::size_t i = 0; i < stored.size(); ++i) {
    EXPECT_EQ(stored[i].first, i);
    EXPECT_EQ(stored[i].second, "m" + std::to_string(i));
  }
}

std::size_t threads_of_this_process() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++count;
  return count;
}

TEST_F(PersistentTest, TheConnectionToWeftdAddsNoThreadsToTheNode) {
  // A node's ZeroMQ sockets share its context. A context of the sidecar connection's own would add its I/O
  // and reaper threads to every node that persists. Measured as the threads one more node brings, with and
  // without a sidecar, all nodes alive at once (no thread ends between the counts).
  start_weftd();
  NodeOptions plain = node_options();
  plain.sidecar.enabled = false;
  Node first(plain);
  const std::size_t with_one = threads_of_this_process();
  Node second(plain);
  const std::size_t per_node = threads_of_this_process() - with_one;
  const std::size_t before = threads_of_this_process();
  Node persisting(node_options());
  Outcomes outcomes;
  ASSERT_TRUE(persisting.publish("orders.new", "x", {}, outcomes.options()).is_ok());
  ASSERT_TRUE(wait_until([&] { return outcomes.count() == 1; }, 10s));
  ASSERT_TRUE(outcomes.statuses[0].is_ok()) << outcomes.statuses[0].to_string();
  EXPECT_EQ(threads_of_this_process() - before, per_node)
      << "a node with a sidecar runs the threads of a node without one, weftd's connection included";
}

TEST_F(PersistentTest, PersistentSubjectsMakeAPlainPublishPersistent) {
  start_weftd();
  NodeOptions options = node_options();
  options.persistent_subjects = {"orders.>"};
  Node node(options);
  ASSERT_TRUE(node.publish("orders.new", "plain").is_ok());
  ASSERT_TRUE(node.publish("telemetry.cpu", "best effort").is_ok());
  ASSERT_TRUE(node.wait_for_acknowledgements(10s).is_ok());
  EXPECT_EQ(node.stats().persistent.persisted, 1U);
  auto stored = read_stream("orders", 1);
  ASSERT_EQ(stored.size(), 1U);
  EXPECT_EQ(stored[0].second, "plain");
}

TEST_F(PersistentTest, WithoutASidecarAPersistentPublishFailsAtOnce) {
  NodeOptions options;
  options.persistent_subjects = {"orders.>"};
  Node node(options);
  bool completed = false;
  PublishOptions publish;
  publish.delivery = Delivery::kPersistent;
  publish.on_complete = [&](const Status&) { completed = true; };
  Status s = node.publish("audit.login", "x", {}, publish);
  EXPECT_EQ(s.code(), ErrorCode::kUnavailable);
  EXPECT_NE(s.message().find("NodeOptions::sidecar"), std::string::npos) << s.message();
  Status plain = node.publish("orders.new", "x");
  EXPECT_EQ(plain.code(), ErrorCode::kUnavailable) << "never a silent fallback to best effort";
  EXPECT_EQ(node.stats().persistent.rejected, 2U);
  EXPECT_EQ(node.stats().sent, 0U);
  EXPECT_TRUE(node.wait_for_acknowledgements(1s).is_ok());
  EXPECT_FALSE(completed);
}

TEST_F(PersistentTest, AnUnreachableSidecarFailsWithinTheTimeoutThenFastUntilItAnswers) {
  constexpr auto kTimeout = 300ms;
  Node node(node_options(kTimeout));
  Outcomes outcomes;
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(node.publish("orders.new", "lost", {}, outcomes.options()).is_ok());
  ASSERT_TRUE(wait_until([&] { return outcomes.count() == 1; }, 5s));
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(outcomes.statuses[0].code(), ErrorCode::kUnavailable) << outcomes.statuses[0].to_string();
  EXPECT_LT(waited, kTimeout + 2s);
  NodeStats stats = node.stats();
  EXPECT_EQ(stats.persistent.failed, 1U);
  EXPECT_EQ(stats.persistent.unavailable, 1U);
  EXPECT_FALSE(stats.persistent.sidecar_up);

  // Known down: refused at once, not after another timeout.
  const auto before = std::chrono::steady_clock::now();
  Status fast = node.publish("orders.new", "refused", {}, outcomes.options());
  EXPECT_EQ(fast.code(), ErrorCode::kUnavailable) << fast.to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 100ms);
  EXPECT_GE(node.stats().persistent.rejected, 1U);

  // weftd comes up: the node's probes notice, and persistent publishes go through again.
  start_weftd();
  ASSERT_TRUE(wait_until([&] { return node.stats().persistent.sidecar_up; }, 10s));
  ASSERT_TRUE(node.publish("orders.new", "stored", {}, outcomes.options()).is_ok());
  ASSERT_TRUE(wait_until([&] { return outcomes.count() == 2; }, 10s));
  EXPECT_TRUE(outcomes.statuses[1].is_ok()) << outcomes.statuses[1].to_string();
  auto stored = read_stream("orders", 1);
  ASSERT_EQ(stored.size(), 1U);
  EXPECT_EQ(stored[0].second, "stored");
}

TEST_F(PersistentTest, ASubjectNoStreamTakesFailsWithWeftdsError) {
  start_weftd();
  Node node(node_options());
  Outcomes outcomes;
  ASSERT_TRUE(node.publish("nowhere.new", "x", {}, outcomes.options()).is_ok());
  ASSERT_TRUE(wait_until([&] { return outcomes.count() == 1; }));
  EXPECT_EQ(outcomes.statuses[0].code(), ErrorCode::kNotFound) << outcomes.statuses[0].to_string();
  EXPECT_NE(outcomes.statuses[0].message().find("nowhere.new"), std::string::npos) << outcomes.statuses[0].message();
  EXPECT_EQ(node.stats().persistent.failed, 1U);
  EXPECT_EQ(node.stats().persistent.unavailable, 0U);
  EXPECT_TRUE(node.stats().persistent.sidecar_up) << "weftd answered: it is there";
}

TEST_F(PersistentTest, AMessageTooLargeForTheStreamFailsAloneNotItsBatch) {
  start_weftd({stream("orders", "orders.>", 512)});
  Node node(node_options());
  Outcomes outcomes;
  for (int i = 0; i < 50; ++i) {
    std::string payload = i == 25 ? std::string(2048, 'x') : "m" + std::to_string(i);
    ASSERT_TRUE(node.publish("orders.new", payload, {}, outcomes.options()).is_ok());
  }
  ASSERT_TRUE(node.wait_for_acknowledgements(10s).is_ok());
  ASSERT_TRUE(wait_until([&] { return outcomes.count() == 50; }));
  std::size_t failed = 0;
  for (const Status& s : outcomes.statuses) {
    if (s.is_ok()) continue;
    ++failed;
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << s.to_string();
  }
  EXPECT_EQ(failed, 1U);
  EXPECT_EQ(read_stream("orders", 49).size(), 49U);
}

// A node's at-least-once dead letters, with a sidecar: what a poison message (its handler always throws) leaves.
class NodeDeadLetterTest : public PersistentTest {
 protected:
  // Publishes "poison" at least once to a queue group whose handler always throws (max_deliver 2), and waits
  // until the publisher gave up on it. The publisher gets `options`.
  void dead_letter_poison(NodeOptions options) {
    options.bind = {"tcp://127.0.0.1:*"};
    options.log = [](LogLevel, std::string_view) {};
    publisher_ = std::make_unique<Node>(options);
    NodeOptions so;
    so.connect = publisher_->endpoints();
    so.log = [](LogLevel, std::string_view) {};
    subscriber_ = std::make_unique<Node>(so);
    SubscribeOptions queue;
    queue.queue = "billing";
    queue.max_deliver = 2;
    subscription_ = subscriber_
                        ->subscribe("bill.>", [](const Message&) { throw std::runtime_error("cannot parse invoice"); },
                                    queue)
                        .value();
    ASSERT_TRUE(publisher_->wait_for_subscribers("bill.x", 1, 5s).is_ok());
    PublishOptions p;
    p.delivery = Delivery::kAtLeastOnce;
    p.timeout = 20s;
    std::atomic<bool> done{false};
    p.on_complete = [&done](const Status&) { done = true; };
    ASSERT_TRUE(publisher_->publish("bill.x", "poison", {}, p).is_ok());
    ASSERT_TRUE(wait_until([&] { return done.load(); }, 20s));
    EXPECT_EQ(publisher_->stats().reliable.dead_lettered, 1U);
  }

  // weftd's dead letters of nodes ("_node"), as `weft dlq show --sidecar --stream _node` reads them.
  std::optional<std::pair<sc::DeadLetterInfo, std::string>> node_letter() {
    sc::SidecarClientOptions o;
    o.endpoint = endpoint_;
    auto client = sc::SidecarClient::connect(o).value();
    sc::DlqShowArgs show;
    show.stream = std::string(sc::kNodeDeadLetters);
    sc::Frames body;
    auto shown = client->admin<sc::DlqShowReply>(show, 5s, &body);
    if (!shown || shown->letters.empty() || body.body_size() != shown->letters.size()) return std::nullopt;
    return std::make_pair(shown->letters[0], payload_of(body.body(0)));
  }

  void TearDown() override {
    subscription_ = Subscription();
    subscriber_.reset();
    publisher_.reset();
    PersistentTest::TearDown();
  }

  std::unique_ptr<Node> publisher_;
  std::unique_ptr<Node> subscriber_;
  Subscription subscription_;
};

TEST_F(NodeDeadLetterTest, WithASidecarAPoisonMessageIsDeadLetteredIntoWeftd) {
  start_weftd();
  NodeOptions o = node_options();
  o.data_dir = (dir_ / "node").string();  // a local queue exists, but weftd takes the letter
  dead_letter_poison(o);
  std::optional<std::pair<sc::DeadLetterInfo, std::string>> letter;
  ASSERT_TRUE(wait_until([&] { return (letter = node_letter()).has_value(); }, 10s))
      << "no dead letter in weftd's _node queue";
  EXPECT_EQ(letter->first.subject, "bill.x");
  EXPECT_EQ(letter->first.consumer, "billing");
  EXPECT_EQ(letter->first.deliveries, 2U);
  EXPECT_NE(letter->first.last_error.find("cannot parse invoice"), std::string::npos) << letter->first.last_error;
  EXPECT_GT(letter->first.time_ns, 0);
  EXPECT_EQ(letter->second, "poison");
  EXPECT_EQ(publisher_->stats().reliable.dead_letter_failures, 0U);
  publisher_.reset();
  // Not in the node's own queue as well.
  detail::log::PosixFileSystem fs;
  auto local = detail::DeadLetterStore::open(fs, detail::SystemClock::instance(), o.data_dir + "/dlq");
  ASSERT_TRUE(local.is_ok()) << local.status().to_string();
  EXPECT_EQ((*local)->count(), 0U);
}

TEST_F(NodeDeadLetterTest, WithoutWeftdTheLetterFallsBackToTheNodesOwnQueue) {
  NodeOptions o = node_options(300ms);  // no weftd at the endpoint
  o.data_dir = (dir_ / "node").string();
  dead_letter_poison(o);
  publisher_.reset();  // waits for the letter's outcome (up to linger) and releases the queue's lock
  detail::log::PosixFileSystem fs;
  auto local = detail::DeadLetterStore::open(fs, detail::SystemClock::instance(), o.data_dir + "/dlq");
  ASSERT_TRUE(local.is_ok()) << local.status().to_string();
  auto letters = (*local)->list().value();
  ASSERT_EQ(letters.size(), 1U);
  EXPECT_EQ(letters[0].letter.subject, "bill.x");
  EXPECT_EQ(letters[0].letter.consumer, "billing");
}

TEST_F(NodeDeadLetterTest, WithoutWeftdOrALocalQueueTheLossIsCounted) {
  dead_letter_poison(node_options(300ms));  // no weftd, no data_dir
  EXPECT_TRUE(wait_until([&] { return publisher_->stats().reliable.dead_letter_failures == 1; }, 5s))
      << "a lost dead letter is counted";
}

}  // namespace
}  // namespace weft::testing
