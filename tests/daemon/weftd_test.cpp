// weftd as a whole, in this process (daemon_harness.hpp): appends and their answers, malformed input, fsync
// failures, power loss, crashes, durable consumers across restarts, dead letters, retention, administration.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "daemon_harness.hpp"
#include "log/segment_files.hpp"

namespace weft::testing {
namespace {

using sc::ErrorKind;

class WeftdTest : public DaemonHarness {
 protected:
  void SetUp() override {
    configured_ = {stream_config("orders", {"orders.>"})};
    start();
    producer_ = client("producer");
    attach(producer_);
  }

  // Starts a consumer on `client`; records what it receives (acknowledging if `auto_ack`).
  std::uint64_t consume(sc::SidecarClient& c, sc::ConsumeFields fields, std::vector<Received>& into,
                        bool auto_ack = true, std::function<bool(const Received&)> nak_if = {}) {
    sc::ConsumerHandlers h;
    h.on_message = [&c, &into, auto_ack, nak_if](const sc::Delivery& d) {
      Received r{d.offset, d.attempt, payload_of(d.envelope)};
      into.push_back(r);
      if (nak_if && nak_if(r)) {
        (void)c.nak(d.consumer, d.offset, d.attempt, std::chrono::milliseconds(0), "poison: " + r.payload);
      } else if (auto_ack) {
        (void)c.ack(d.consumer, d.offset, d.attempt);
      }
    };
    h.on_end = [this](const Status& s) { ended_.push_back(s); };
    auto id = c.consume(std::move(fields), h);
    EXPECT_TRUE(id.is_ok());
    step();
    return id.is_ok() ? *id : 0;
  }

  static sc::ConsumeFields fields(std::string stream, std::string start = "first") {
    sc::ConsumeFields f;
    f.stream = std::move(stream);
    f.start = std::move(start);
    return f;
  }

  void publish(int n, const std::string& subject = "orders.new", const std::string& prefix = "m") {
    for (int i = 0; i < n; ++i) {
      auto a = append(*producer_, subject, prefix + std::to_string(published_++));
      ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    }
  }

  // Appends `n` small messages on orders.new, kMaxBodyFrames to an APPEND, and waits until all are durable.
  void publish_many(std::uint64_t n) {
    std::vector<std::vector<std::byte>> envelopes;
    std::uint64_t acknowledged = 0;
    for (std::uint64_t at = 0; at < n; at += sc::kMaxBodyFrames) {
      envelopes.clear();
      for (std::uint64_t i = at; i < std::min<std::uint64_t>(n, at + sc::kMaxBodyFrames); ++i) {
        envelopes.push_back(make_envelope("orders.new", "m" + std::to_string(published_++)));
      }
      std::vector<std::span<const std::byte>> spans(envelopes.begin(), envelopes.end());
      ASSERT_TRUE(producer_->append("orders.new", spans, [&](const Status& s, const sc::AppendAck& a) {
        ASSERT_TRUE(s.is_ok()) << s.to_string();
        acknowledged += a.last_offset + 1 - a.first_offset;
      }).is_ok());
      step();
    }
    for (int i = 0; i < 100 && acknowledged < n; ++i) step();
    ASSERT_EQ(acknowledged, n);
  }

  std::unique_ptr<sc::SidecarClient> producer_;
  std::vector<Status> ended_;
  int published_ = 0;
};

TEST_F(WeftdTest, AnAppendIsAnsweredWithItsOffsetsOnceDurable) {
  const auto e1 = make_envelope("orders.new", "one"), e2 = make_envelope("orders.new", "two");
  const std::span<const std::byte> both[] = {e1, e2};
  std::optional<sc::AppendAck> ack;
  const std::uint64_t syncs_before = fs_.syncs();
  ASSERT_TRUE(producer_->append("orders.new", both, [&](const Status& s, const sc::AppendAck& a) {
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    ack = a;
  }).is_ok());
  producer_->do_work(clock_.now());
  weftd_->server().do_work(clock_.now());  // the request read and written, not yet synced
  producer_->do_work(clock_.now());
  EXPECT_FALSE(ack) << "no answer before the fsync";
  step();
  ASSERT_TRUE(ack);
  EXPECT_GT(fs_.syncs(), syncs_before);
  EXPECT_EQ(ack->stream, "orders");
  EXPECT_EQ(ack->first_offset, 0u);
  EXPECT_EQ(ack->last_offset, 1u);
}

TEST_F(WeftdTest, RefusesWhatNoStreamTakesAndWhatIsTooLarge) {
  auto none = append(*producer_, "payments.new", "x");
  ASSERT_FALSE(none.is_ok());
  EXPECT_EQ(none.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(none.status().message().find("no stream takes subject 'payments.new'"), std::string::npos);
  const std::string big(9 << 20, 'x');
  auto large = append(*producer_, "orders.big", big);
  ASSERT_FALSE(large.is_ok());
  EXPECT_NE(large.status().message().find("too large"), std::string::npos) << large.status().to_string();
}

TEST_F(WeftdTest, MalformedRequestsAreAnsweredAndCounted) {
  auto frames = [](std::initializer_list<std::string> parts) {
    sc::Frames f;
    for (const std::string& p : parts) f.parts.emplace_back(p.data(), p.size());
    return f;
  };
  hub_.inject("bad", frames({"not msgpack \xc1"}));
  hub_.inject("bad", frames({"\x94\x02\x02\x07\x80"}));                 // version 2
  hub_.inject("bad", frames({"\x94\x01\x33\x07\x80"}));                 // kind 51
  hub_.inject("bad", frames({"\x94\x01\x41\x07\x80"}));                 // APPENDED, a kind weftd sends
  hub_.inject("bad", sc::Frames{});                                        // nothing at all
  {
    sc::Frames f = sc::make_message(sc::Kind::kAppend, 9, sc::AppendFields{"orders.new"});
    f.parts.emplace_back("garbage", 7);  // a body frame that is no envelope
    hub_.inject("bad", std::move(f));
  }
  {
    const auto e = make_envelope("orders.other", "x");
    const std::span<const std::byte> one(e);
    hub_.inject("bad", sc::make_message(sc::Kind::kAppend, 10, sc::AppendFields{"orders.new"}, std::span(&one, 1)));
  }
  {
    // A field of the wrong type.
    msgpack::sbuffer b;
    msgpack::packer<msgpack::sbuffer> p(b);
    p.pack_array(4);
    p.pack(1);
    p.pack(3);
    p.pack(11);
    p.pack_map(1);
    p.pack(std::string("credit"));
    p.pack(std::string("lots"));
    hub_.inject("bad", frames({std::string(b.data(), b.size())}));
  }
  step();
  const auto& c = weftd_->server().counters();
  EXPECT_EQ(c.bad_header, 2u);
  EXPECT_EQ(c.bad_version, 1u);
  EXPECT_EQ(c.unknown_kind, 1u);
  EXPECT_EQ(c.wrong_direction, 1u);
  EXPECT_EQ(c.bad_framing, 1u);
  EXPECT_EQ(c.bad_envelope, 1u);
  EXPECT_EQ(c.subject_mismatch, 1u);
  EXPECT_EQ(c.malformed(), 8u);
  EXPECT_EQ(hub_.queued_for("bad"), 8u) << "every malformed request gets an error back";
  // And weftd still serves.
  EXPECT_TRUE(append(*producer_, "orders.new", "fine").is_ok());
}

TEST_F(WeftdTest, AFailedFsyncStopsAcknowledgementsForThatStreamForGood) {
  configured_.push_back(stream_config("audit", {"audit.>"}));
  stop();
  start();
  publish(2);
  fs_.inject({FakeFileSystem::Op::kSync, 1, false, EIO, 0, "/streams/orders/"});
  auto failed = append(*producer_, "orders.new", "lost?");
  ASSERT_FALSE(failed.is_ok());
  EXPECT_EQ(failed.status().code(), ErrorCode::kIoError);
  EXPECT_NE(failed.status().message().find("stream failed"), std::string::npos) << failed.status().to_string();
  // Never retried as if it were safe: every later append is refused, even though the disk "works" again.
  auto later = append(*producer_, "orders.new", "later");
  ASSERT_FALSE(later.is_ok());
  EXPECT_NE(later.status().message().find("stream failed"), std::string::npos);
  EXPECT_TRUE(logged("STREAM 'orders' FAILED"));
  auto i = info(*producer_, "orders");
  ASSERT_TRUE(i.is_ok());
  EXPECT_NE(i->health.find("fdatasync"), std::string::npos) << i->health;
  EXPECT_EQ(i->end_offset, 2u) << "reads keep serving what was acknowledged";
  // The other stream is not affected.
  EXPECT_TRUE(append(*producer_, "audit.x", "fine").is_ok());
  // A restart recovers the stream.
  stop();
  start();
  EXPECT_TRUE(append(*producer_, "orders.new", "after restart").is_ok());
}

TEST_F(WeftdTest, PowerLossUnderEveryWriteFsyncLosesNoAcknowledgedMessage) {
  std::mt19937 random(7);
  std::map<std::string, std::uint64_t> acked;  // payload -> offset
  int next = 0;
  for (int round = 0; round < 12; ++round) {
    // A burst of appends in flight, then the power goes at a random point of the stepping.
    std::vector<std::vector<std::byte>> envelopes;
    const int burst = 5 + static_cast<int>(random() % 30);
    for (int i = 0; i < burst; ++i) {
      const std::string payload = "p" + std::to_string(next++);
      const auto e = make_envelope("orders.new", payload);
      const std::span<const std::byte> one(e);
      ASSERT_TRUE(producer_->append("orders.new", std::span(&one, 1), [&acked, payload](const Status& s,
                                                                                       const sc::AppendAck& a) {
        if (s) acked[payload] = a.first_offset;
      }).is_ok());
      if (random() % 3 == 0) {
        weftd_->do_work(clock_.now());
        producer_->do_work(clock_.now());
      }
    }
    const int steps = static_cast<int>(random() % 4);
    for (int i = 0; i < steps; ++i) {
      weftd_->do_work(clock_.now());
      producer_->do_work(clock_.now());
    }
    power_loss();
    start();
    // Every acknowledged message is there, once, at its offset.
    auto i = info(*producer_, "orders");
    ASSERT_TRUE(i.is_ok());
    std::vector<Received> got;
    auto reader = client("reader-" + std::to_string(round));
    attach(reader);
    auto f = fields("orders");
    f.ack = false;
    f.credit = 4096;
    consume(*reader, f, got, false);
    step();
    std::map<std::string, std::vector<std::uint64_t>> found;
    for (const Received& r : got) found[r.payload].push_back(r.offset);
    for (const auto& [payload, offset] : acked) {
      ASSERT_EQ(found.count(payload), 1u) << payload << " was acknowledged at " << offset << " and is lost";
      EXPECT_EQ(found[payload].size(), 1u) << payload;
      EXPECT_EQ(found[payload].front(), offset) << payload;
    }
    detach(reader.get());
  }
  EXPECT_GT(acked.size(), 50u);
}

TEST_F(WeftdTest, ReplaysFromFirstOffsetLastAndTime) {
  publish(5);
  clock_.advance(std::chrono::seconds(10));
  const std::int64_t middle = clock_.wall_ns();
  clock_.advance(std::chrono::seconds(10));
  publish(5);
  auto reader = client("reader");
  attach(reader);
  auto run = [&](sc::ConsumeFields f) {
    std::vector<Received> got;
    auto id = consume(*reader, std::move(f), got);
    (void)reader->unconsume(id);
    step();
    std::vector<std::uint64_t> offsets;
    for (const Received& r : got) offsets.push_back(r.offset);
    return offsets;
  };
  EXPECT_EQ(run(fields("orders", "first")).size(), 10u);
  auto from_offset = fields("orders", "offset");
  from_offset.offset = 7;
  EXPECT_EQ(run(from_offset), (std::vector<std::uint64_t>{7, 8, 9}));
  EXPECT_EQ(run(fields("orders", "last")), (std::vector<std::uint64_t>{9}));
  EXPECT_TRUE(run(fields("orders", "new")).empty());
  auto from_time = fields("orders", "time");
  from_time.time_ns = middle;
  EXPECT_EQ(run(from_time), (std::vector<std::uint64_t>{5, 6, 7, 8, 9}));
  // Reads are not destructive: two consumers each get everything.
  EXPECT_EQ(run(fields("orders", "first")).size(), 10u);
}

TEST_F(WeftdTest, ADurableConsumerResumesAtItsStoredOffsetAfterARestartOfBoth) {
  publish(10);
  std::vector<Received> got;
  {
    auto consumer = client("worker");
    attach(consumer);
    auto f = fields("orders");
    f.durable = "billing";
    f.credit = 4;
    std::size_t acks = 0;
    sc::ConsumerHandlers h;
    h.on_message = [&](const sc::Delivery& d) {
      got.push_back({d.offset, d.attempt, payload_of(d.envelope)});
      if (acks < 6) {
        ++acks;
        (void)consumer->ack(d.consumer, d.offset, d.attempt);
      }
    };
    ASSERT_TRUE(consumer->consume(f, h).is_ok());
    step();
    detach(consumer.get());
  }
  ASSERT_GE(got.size(), 6u);
  // weftd crashes (its flush interval is 0 here: acknowledged offsets were written at once) and comes back.
  crash();
  start();
  auto i = info(*producer_, "orders");
  ASSERT_TRUE(i.is_ok());
  ASSERT_EQ(i->consumers.size(), 1u);
  EXPECT_EQ(i->consumers[0].name, "billing");
  EXPECT_EQ(i->consumers[0].ack_floor, 6u);
  EXPECT_EQ(i->consumers[0].lag, 4u);
  std::vector<Received> again;
  auto consumer = client("worker-2");
  attach(consumer);
  auto f = fields("orders", "first");  // ignored: the durable resumes
  f.durable = "billing";
  consume(*consumer, f, again);
  ASSERT_EQ(again.size(), 4u);
  EXPECT_EQ(again.front().offset, 6u);
  EXPECT_EQ(again.back().offset, 9u);
}

TEST_F(WeftdTest, WhileWeftdIsDownAClientTriesToSendLessAndLessOftenThenSendsOnceItIsUp) {
  // The client's deadline is when whoever steps it (a node's I/O loop) wakes: every 5 ms for as long as weftd
  // stays down would be two hundred wake-ups a second for nothing.
  hub_.set_up(false);
  const auto e = make_envelope("orders.new", "waited");
  const std::span<const std::byte> one(e);
  std::optional<Status> answered;
  ASSERT_TRUE(producer_->append("orders.new", std::span(&one, 1), [&](const Status& s, const sc::AppendAck&) {
    answered = s;
  }).is_ok());
  std::vector<std::chrono::milliseconds> waits;
  int wakes = 0;
  for (auto elapsed = std::chrono::milliseconds(0); elapsed < std::chrono::seconds(2); ++wakes) {
    producer_->do_work(clock_.now());
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(producer_->next_deadline() - clock_.now());
    ASSERT_GT(wait.count(), 0);
    waits.push_back(wait);
    clock_.advance(wait);
    elapsed += wait;
  }
  ASSERT_FALSE(answered) << "refused sends are tried again until the request times out (5 s)";
  EXPECT_EQ(waits.front(), std::chrono::milliseconds(5)) << "the first retry comes soon (a connection on its way)";
  EXPECT_TRUE(std::is_sorted(waits.begin(), waits.end()));
  EXPECT_EQ(waits.back(), std::chrono::milliseconds(100));
  EXPECT_LT(wakes, 40) << "in 2 s; at a fixed 5 ms it would be 400";

  hub_.set_up(true);
  clock_.advance(waits.back());
  step();
  ASSERT_TRUE(answered);
  EXPECT_TRUE(answered->is_ok()) << answered->to_string();
  // Sent again: the next refusal starts over from 5 ms.
  hub_.set_up(false);
  ASSERT_TRUE(producer_->append("orders.new", std::span(&one, 1), [](const Status&, const sc::AppendAck&) {}).is_ok());
  producer_->do_work(clock_.now());
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(producer_->next_deadline() - clock_.now()),
            std::chrono::milliseconds(5));
}

TEST_F(WeftdTest, AClientFollowsARestartedWeftd) {
  publish(3);
  std::vector<Received> got;
  auto consumer = client("follower");
  attach(consumer);
  auto f = fields("orders");
  f.durable = "follower";
  consume(*consumer, f, got);
  ASSERT_EQ(got.size(), 3u);
  stop();  // SIGTERM: the consumer hears weftd is stopping and waits for the next one
  start();
  publish(2);
  advance(std::chrono::milliseconds(600));  // a heartbeat finds the new weftd
  advance(std::chrono::milliseconds(10));
  ASSERT_EQ(got.size(), 5u) << "the consumer was started again on the new weftd";
  EXPECT_EQ(got.back().offset, 4u);
  EXPECT_TRUE(ended_.empty());
  EXPECT_EQ(consumer->stats().restarts_seen, 1u);
}

TEST_F(WeftdTest, APoisonMessageGoesToTheDeadLetterStreamAndReplayBringsItBack) {
  publish(2);
  publish(1, "orders.new", "poison-");
  publish(1);
  std::vector<Received> got;
  auto consumer = client("worker");
  attach(consumer);
  auto f = fields("orders");
  f.group = "workers";
  f.max_deliver = 3;
  f.ack_wait_ms = 1000;
  bool healed = false;  // once the handler is fixed, the replayed message goes through
  consume(*consumer, f, got, true,
          [&healed](const Received& r) { return !healed && r.payload.rfind("poison", 0) == 0; });
  for (int i = 0; i < 5; ++i) advance(std::chrono::milliseconds(10));
  int poison_deliveries = 0;
  for (const Received& r : got) poison_deliveries += r.payload == "poison-2" ? 1 : 0;
  EXPECT_EQ(poison_deliveries, 3) << "max_deliver attempts, then no more";
  auto i = info(*producer_, "orders");
  ASSERT_TRUE(i.is_ok());
  EXPECT_EQ(i->dead_letters, 1u);
  EXPECT_EQ(i->consumers[0].ack_floor, 4u) << "a dead-lettered message counts as settled";
  sc::Frames body;
  sc::DlqShowArgs show;
  show.stream = "orders";
  auto shown = admin<sc::DlqShowReply>(*producer_, show, &body);
  ASSERT_TRUE(shown.is_ok()) << shown.status().to_string();
  ASSERT_EQ(shown->letters.size(), 1u);
  const sc::DeadLetterInfo& letter = shown->letters[0];
  EXPECT_EQ(letter.subject, "orders.new");
  EXPECT_EQ(letter.consumer, "workers");
  EXPECT_EQ(letter.deliveries, 3u);
  EXPECT_EQ(letter.last_error, "poison: poison-2");
  EXPECT_EQ(letter.source_offset, 2u);
  EXPECT_GT(letter.time_ns, 0);
  EXPECT_LE(letter.time_ns, clock_.wall_ns());
  ASSERT_EQ(body.body_size(), 1u);
  EXPECT_EQ(payload_of(body.body(0)), "poison-2");
  // Replay: back to its source subject, where the consumer meets it again (and now handles it).
  healed = true;
  sc::DlqReplayArgs replay;
  replay.stream = "orders";
  auto replayed = admin<sc::DlqReplayReply>(*producer_, replay);
  ASSERT_TRUE(replayed.is_ok()) << replayed.status().to_string();
  EXPECT_EQ(replayed->replayed, 1u);
  ASSERT_EQ(replayed->new_offsets, (std::vector<std::uint64_t>{4}));
  step();
  EXPECT_EQ(got.back().offset, 4u);
  EXPECT_EQ(got.back().payload, "poison-2");
  auto purged = admin<sc::DlqPurgeReply>(*producer_, sc::StreamArgs{std::string(sc::kOpDlqPurge), "orders"});
  ASSERT_TRUE(purged.is_ok());
  EXPECT_EQ(purged->purged, 1u);
  EXPECT_EQ(info(*producer_, "orders")->dead_letters, 0u);
}

// A node's dead letter (DEAD_LETTER) and what weftd answers, in steps.
Result<sc::AppendedFields> dead_letter(sc::SidecarClient& c, const sc::DeadLetterFields& fields,
                                       std::span<const std::span<const std::byte>> body,
                                       const std::function<void()>& step) {
  std::optional<Result<sc::AppendedFields>> out;
  Status queued = c.request(sc::Kind::kDeadLetter, fields, body, [&](const Status& s, sc::Reply& reply) {
    out.emplace(s.is_ok() ? reply.as<sc::AppendedFields>() : Result<sc::AppendedFields>(s));
  });
  if (!queued) return queued;
  for (int i = 0; i < 20 && !out; ++i) step();
  if (!out) return Status::timeout("no answer");
  return std::move(*out);
}

TEST_F(WeftdTest, NodesDeadLettersAreKeptInTheNodeQueueShownAndPurgedButNotReplayedIntoAStream) {
  auto put = [&](const std::string& subject, const std::string& payload) {
    const auto e = make_envelope(subject, payload);
    const std::span<const std::byte> one(e);
    return dead_letter(*producer_, sc::DeadLetterFields{subject, "billing", 3, "cannot parse", 1234},
                       std::span(&one, 1), [this] { step(); });
  };
  auto stored = put("bill.x", "poison");
  ASSERT_TRUE(stored.is_ok()) << stored.status().to_string();
  EXPECT_EQ(stored->stream, "_node");
  EXPECT_EQ(stored->first_offset, 0u);
  // The subject needs no stream: a node's dead letters are not a stream's messages.
  stored = put("orders.new", "second");
  ASSERT_TRUE(stored.is_ok());
  EXPECT_EQ(stored->first_offset, 1u);

  // Refused: no envelope, one of another subject.
  EXPECT_EQ(dead_letter(*producer_, sc::DeadLetterFields{"bill.x", "b", 1, "", 0}, {}, [this] { step(); })
                .status()
                .code(),
            ErrorCode::kProtocol);
  {
    const auto e = make_envelope("bill.y", "x");
    const std::span<const std::byte> one(e);
    EXPECT_EQ(dead_letter(*producer_, sc::DeadLetterFields{"bill.x", "b", 1, "", 0}, std::span(&one, 1),
                          [this] { step(); })
                  .status()
                  .code(),
              ErrorCode::kInvalidArgument);
  }

  auto list = admin<sc::DlqList>(*producer_, sc::DlqListArgs{});
  ASSERT_TRUE(list.is_ok());
  bool listed = false;
  for (const sc::DlqSummary& q : list->queues) {
    if (q.stream == "_node") {
      listed = true;
      EXPECT_EQ(q.count, 2u);
    }
  }
  EXPECT_TRUE(listed);

  // Kept across a crash (fsynced before the answer).
  crash();
  start();
  sc::Frames body;
  sc::DlqShowArgs show;
  show.stream = "_node";
  auto shown = admin<sc::DlqShowReply>(*producer_, show, &body);
  ASSERT_TRUE(shown.is_ok()) << shown.status().to_string();
  ASSERT_EQ(shown->letters.size(), 2u);
  EXPECT_EQ(shown->letters[0].subject, "bill.x");
  EXPECT_EQ(shown->letters[0].consumer, "billing");
  EXPECT_EQ(shown->letters[0].deliveries, 3u);
  EXPECT_EQ(shown->letters[0].last_error, "cannot parse");
  EXPECT_EQ(shown->letters[0].time_ns, 1234);
  ASSERT_EQ(body.body_size(), 2u);
  EXPECT_EQ(payload_of(body.body(0)), "poison");

  sc::DlqReplayArgs replay;
  replay.stream = "_node";
  auto replayed = admin<sc::DlqReplayReply>(*producer_, replay);
  ASSERT_FALSE(replayed.is_ok());
  EXPECT_NE(replayed.status().message().find("through a node"), std::string::npos) << replayed.status().message();

  auto purged = admin<sc::DlqPurgeReply>(*producer_, sc::StreamArgs{std::string(sc::kOpDlqPurge), "_node"});
  ASSERT_TRUE(purged.is_ok()) << purged.status().to_string();
  EXPECT_EQ(purged->purged, 2u);
  EXPECT_TRUE(put("bill.x", "again").is_ok()) << "a purged queue takes dead letters again";

  // No stream may take the name.
  auto added = admin<sc::StreamInfo>(*producer_, sc::StreamAddArgs{std::string(sc::kOpStreamAdd),
                                                                   stream_config("_node", {"x.>"})});
  EXPECT_FALSE(added.is_ok());
}

TEST_F(WeftdTest, MalformedAnswersAreRefusedAndCounted) {
  auto answer = [&](std::vector<sc::AckItem> items, std::vector<sc::AckRange> ranges) {
    sc::AckFields f;
    f.consumer = 1;
    f.items = std::move(items);
    f.ranges = std::move(ranges);
    hub_.inject("bad", sc::make_message(sc::Kind::kAck, 5, f));
  };
  answer({}, {{7, 0, 1}});                          // an empty range
  answer({}, {{UINT64_MAX - 2, 5, 1}});             // past the largest offset
  answer({}, {{0, 4000, 1}, {4000, 97, 1}});        // 4097 offsets
  answer(std::vector<sc::AckItem>(100, {1, 1}), {{0, 4000, 1}});  // 4100 with the items
  answer({}, std::vector<sc::AckRange>(2049, {0, 1, 1}));          // 2049 ranges
  step();
  const auto& c = weftd_->server().counters();
  EXPECT_EQ(c.bad_answer, 5u);
  EXPECT_EQ(c.malformed(), 5u);
  EXPECT_EQ(hub_.queued_for("bad"), 5u) << "every malformed answer gets an error back";
  // A well-formed range for a consumer that does not exist: each offset is rejected, not the message.
  answer({}, {{0, 3, 1}});
  step();
  EXPECT_EQ(c.bad_answer, 5u);
  EXPECT_EQ(c.rejected_acks, 3u);
}

TEST_F(WeftdTest, StaleAcknowledgementsAreRejected) {
  publish(1);
  auto consumer = client("slow");
  attach(consumer);
  std::vector<Received> got;
  std::vector<sc::Rejection> rejected;
  auto f = fields("orders");
  f.durable = "slow";
  f.ack_wait_ms = 100;
  sc::ConsumerHandlers h;
  h.on_message = [&](const sc::Delivery& d) { got.push_back({d.offset, d.attempt, ""}); };
  h.on_rejected = [&](const sc::Rejection& r) { rejected.push_back(r); };
  auto id = consumer->consume(f, h).value();
  step();
  advance(std::chrono::milliseconds(150));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].attempt, 2u);
  ASSERT_TRUE(consumer->ack(id, 0, 1).is_ok());  // the first attempt's answer, too late
  step();
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_NE(rejected[0].reason.find("stale"), std::string::npos);
  EXPECT_EQ(weftd_->server().counters().rejected_acks, 1u);
}

// Regression: a DELIVER of 4096 items whose offsets are 65,536 or more (16 header bytes each) was over the
// 64 KiB header limit; the client dropped it as malformed and the consumer stalled at 65,536 deliveries with a
// credit of 4,096 or more. And a client acknowledging more than ~9,000 deliveries at once sent an ACK over the
// limit, which weftd refused as malformed (the deliveries stayed unacknowledged, the credit used up). Every delivery must arrive exactly once, whatever the credit.
struct LargeCredit {
  std::uint32_t credit;
  bool ack;
  bool packed = true;  // packed DELIVERs and ACK ranges, or one frame per envelope and one item per answer
};

class WeftdLargeCreditTest : public WeftdTest, public ::testing::WithParamInterface<LargeCredit> {};

TEST_P(WeftdLargeCreditTest, MoreThan65536DeliveriesArriveExactlyOnce) {
  constexpr std::uint64_t kMessages = 70'000;
  publish_many(kMessages);
  auto reader = client("reader", GetParam().packed);
  attach(reader);
  std::vector<std::uint32_t> times(kMessages, 0);
  std::uint64_t received = 0, max_attempt = 0;
  sc::SidecarClient& r = *reader;
  sc::ConsumerHandlers h;
  h.on_message = [&](const sc::Delivery& d) {
    ASSERT_LT(d.offset, kMessages);
    ++times[d.offset];
    ++received;
    max_attempt = std::max<std::uint64_t>(max_attempt, d.attempt);
    if (GetParam().ack) (void)r.ack(d.consumer, d.offset, d.attempt);
  };
  h.on_end = [this](const Status& s) { ended_.push_back(s); };
  auto f = fields("orders");
  f.credit = GetParam().credit;
  f.ack = GetParam().ack;
  ASSERT_TRUE(reader->consume(f, h).is_ok());
  // A slow reader: weftd sends all that the credit allows before the reader runs, whose acknowledgements then
  // cover up to the whole credit at once.
  for (int i = 0; i < 64; ++i) weftd_->do_work(clock_.now());
  // Deliveries take a few hundred rounds; a stall shows as no progress over many of them.
  for (int round = 0; round < 2000 && received < kMessages; ++round) step();
  EXPECT_EQ(received, kMessages);
  for (std::uint64_t offset = 0; offset < kMessages; ++offset) {
    ASSERT_EQ(times[offset], 1u) << "offset " << offset << " delivered " << times[offset] << " times";
  }
  EXPECT_EQ(max_attempt, 1u);
  EXPECT_EQ(reader->stats().malformed, 0u) << "a DELIVER from weftd did not decode";
  EXPECT_EQ(weftd_->server().counters().malformed(), 0u) << "weftd refused an ACK or CREDIT";
  EXPECT_TRUE(ended_.empty());
  if (GetParam().ack) {
    step();
    auto i = info(*producer_, "orders");
    ASSERT_TRUE(i.is_ok());
    ASSERT_EQ(i->consumers.size(), 1u);
    EXPECT_EQ(i->consumers[0].ack_floor, kMessages) << "every acknowledgement was taken";
  }
}

INSTANTIATE_TEST_SUITE_P(Credits, WeftdLargeCreditTest,
                         ::testing::Values(LargeCredit{4096, true}, LargeCredit{4096, false},
                                           LargeCredit{8192, true}, LargeCredit{65536, true},
                                           LargeCredit{65536, false}, LargeCredit{4096, true, false},
                                           LargeCredit{65536, true, false}, LargeCredit{65536, false, false}),
                         [](const ::testing::TestParamInfo<LargeCredit>& p) {
                           return "Credit" + std::to_string(p.param.credit) + (p.param.ack ? "Ack" : "NoAck") +
                                  (p.param.packed ? "" : "OneFramePerEnvelope");
                         });

TEST_F(WeftdTest, RetentionDeletesOldSegmentsAndNothingElse) {
  stop();
  configured_ = {stream_config("orders", {"orders.>"}), stream_config("audit", {"audit.>"})};
  configured_[0].segment_bytes = 1024;
  configured_[0].retention_age_ms = 3'600'000;
  configured_[1].segment_bytes = 1024;
  configured_[1].retention_age_ms = 0;  // keeps everything
  start();
  publish(40);
  publish(40, "audit.x");
  std::vector<Received> got;
  auto consumer = client("c");
  attach(consumer);
  auto f = fields("orders");
  f.durable = "keeper";
  consume(*consumer, f, got);
  const auto before = fs_.names(std::string(kDataDir) + "/streams/orders");
  const auto audit_before = fs_.names(std::string(kDataDir) + "/streams/audit");
  clock_.advance(std::chrono::hours(2));
  // A new record in the active segment (only sealed segments can go). Stepping weftd for it also runs
  // retention, whose timer (an hour) is due: the old segments go then, and a second pass finds nothing more.
  publish(1);
  EXPECT_TRUE(logged("stream 'orders': retention deleted")) << "retention ran on its timer";
  EXPECT_EQ(weftd_->streams().apply_retention(), 0u) << "nothing more to delete";
  const auto after = fs_.names(std::string(kDataDir) + "/streams/orders");
  EXPECT_LT(after.size(), before.size());
  auto i = info(*producer_, "orders").value();
  EXPECT_EQ(i.segments, 1u) << "every old sealed segment went, the active one stayed";
  EXPECT_GT(i.first_offset, 0u);
  EXPECT_EQ(i.end_offset, 41u) << "nothing newer was touched";
  EXPECT_EQ(i.messages, i.end_offset - i.first_offset);
  for (const std::string& name : after) {
    auto parsed = detail::log::parse_file_name(name);
    ASSERT_TRUE(parsed) << name;
    EXPECT_EQ(parsed->base_offset, i.first_offset) << name;
  }
  std::vector<Received> rest;
  auto reader = client("reader");
  attach(reader);
  consume(*reader, fields("orders"), rest);
  ASSERT_EQ(rest.size(), i.messages) << "what retention kept is all readable";
  EXPECT_EQ(rest.back().payload, "m80");
  EXPECT_EQ(fs_.names(std::string(kDataDir) + "/streams/audit"), audit_before) << "another stream is untouched";
  EXPECT_TRUE(fs_.exists(std::string(kDataDir) + "/consumers/orders.state"));
  EXPECT_EQ(i.consumers.size(), 1u);
  EXPECT_EQ(info(*producer_, "audit")->messages, 40u);
}

TEST_F(WeftdTest, StreamsAddedAtRunTimeAreKeptAcrossRestartsAndRemovedWithTheirFiles) {
  sc::StreamAddArgs add;
  add.config = stream_config("payments", {"payments.*", "refunds.>"}, "interval");
  auto added = admin<sc::StreamInfo>(*producer_, add);
  ASSERT_TRUE(added.is_ok()) << added.status().to_string();
  EXPECT_EQ(added->origin, "added");
  auto appended = append(*producer_, "refunds.eu.1", "r");
  ASSERT_TRUE(appended.is_ok()) << appended.status().to_string();
  sc::StreamAddArgs overlapping;
  overlapping.config = stream_config("bad", {"orders.eu"});
  auto refused = admin<sc::StreamInfo>(*producer_, overlapping);
  ASSERT_FALSE(refused.is_ok());
  EXPECT_NE(refused.status().message().find("overlap"), std::string::npos) << refused.status().to_string();
  stop();
  start();
  auto list = admin<sc::StreamList>(*producer_, sc::StreamListArgs{});
  ASSERT_TRUE(list.is_ok());
  ASSERT_EQ(list->streams.size(), 2u);
  auto payments = info(*producer_, "payments");
  ASSERT_TRUE(payments.is_ok());
  EXPECT_EQ(payments->messages, 1u);
  EXPECT_EQ(payments->config.fsync, "interval");
  auto rm_config = admin<sc::Removed>(*producer_, sc::StreamArgs{std::string(sc::kOpStreamRemove), "orders"});
  ASSERT_FALSE(rm_config.is_ok()) << "a stream of the config file is removed there";
  auto rm = admin<sc::Removed>(*producer_, sc::StreamArgs{std::string(sc::kOpStreamRemove), "payments"});
  ASSERT_TRUE(rm.is_ok()) << rm.status().to_string();
  EXPECT_TRUE(fs_.names(std::string(kDataDir) + "/streams/payments").empty());
  EXPECT_FALSE(append(*producer_, "refunds.eu.1", "r").is_ok());
  stop();
  start();
  EXPECT_FALSE(info(*producer_, "payments").is_ok());
}

TEST_F(WeftdTest, RecoveryAfterATornTailKeepsEveryWholeRecordAtAnyOf200CutPoints) {
  publish(60);
  stop();
  const std::string segment = std::string(kDataDir) + "/streams/orders/" +
                              detail::log::file_name(0, detail::log::FileKind::kSegment);
  const std::vector<std::byte> whole = fs_.contents(segment);
  ASSERT_GT(whole.size(), 200u);
  // Where each record ends.
  std::vector<std::uint64_t> ends;
  {
    detail::log::LogOptions o;
    o.read_only = true;
    auto log = detail::log::Log::open(fs_, clock_, std::string(kDataDir) + "/streams/orders", o).value();
    ASSERT_EQ(log->end_offset(), 60u);
  }
  for (std::size_t at = 24; at < whole.size();) {
    const auto length = static_cast<std::uint32_t>(std::to_integer<std::uint32_t>(whole[at]) |
                                                   (std::to_integer<std::uint32_t>(whole[at + 1]) << 8) |
                                                   (std::to_integer<std::uint32_t>(whole[at + 2]) << 16) |
                                                   (std::to_integer<std::uint32_t>(whole[at + 3]) << 24));
    at += 4 + length;
    ends.push_back(at);
  }
  ASSERT_EQ(ends.size(), 60u);
  for (std::size_t cut = whole.size() - 200; cut < whole.size(); ++cut) {
    fs_.set_contents(segment, std::vector<std::byte>(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut)));
    start();
    const std::uint64_t whole_records =
        static_cast<std::uint64_t>(std::upper_bound(ends.begin(), ends.end(), cut) - ends.begin());
    auto i = info(*producer_, "orders");
    ASSERT_TRUE(i.is_ok());
    ASSERT_EQ(i->end_offset, whole_records) << "cut at byte " << cut;
    ASSERT_EQ(i->health, "ok");
    ASSERT_EQ(fs_.contents(segment).size(), whole_records == 0 ? 24u : ends[whole_records - 1])
        << "the torn tail is cut at the last whole record";
    // And the next message lands right after it.
    auto next = append(*producer_, "orders.new", "after-cut");
    ASSERT_TRUE(next.is_ok());
    ASSERT_EQ(next->first_offset, whole_records);
    stop();
  }
}

TEST_F(WeftdTest, AByteFlippedInTheMiddleOfASegmentIsFoundByRecoveryAndNeverServed) {
  publish(30);
  stop();
  const std::string segment = std::string(kDataDir) + "/streams/orders/" +
                              detail::log::file_name(0, detail::log::FileKind::kSegment);
  const auto size = fs_.contents(segment).size();
  fs_.flip_byte(segment, size / 2);
  start();
  EXPECT_TRUE(logged("kept damaged data")) << "recovery reports it";
  auto i = info(*producer_, "orders").value();
  ASSERT_FALSE(i.recovery.empty());
  EXPECT_NE(i.recovery.front().find("corruption at offset"), std::string::npos) << i.recovery.front();
  EXPECT_EQ(i.end_offset, 30u) << "the records after the damage stay";
  auto verify = weftd_->streams().find("orders")->log().verify();
  ASSERT_TRUE(verify.first_bad_offset.has_value());
  std::vector<Received> got;
  auto reader = client("reader");
  attach(reader);
  consume(*reader, fields("orders"), got);
  EXPECT_EQ(got.size(), 29u) << "the damaged record is skipped, never delivered";
  for (const Received& r : got) EXPECT_NE(r.offset, *verify.first_bad_offset);
}

// Every record once, in order, at attempt 1, with its payload; the first mismatch otherwise.
std::string check_in_order(const std::vector<Received>& got, std::uint64_t first, std::uint64_t count) {
  if (got.size() != count) return "got " + std::to_string(got.size()) + " of " + std::to_string(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    const Received& r = got[i];
    if (r.offset != first + i || r.attempt != 1 || r.payload != "m" + std::to_string(first + i)) {
      return "delivery " + std::to_string(i) + ": offset " + std::to_string(r.offset) + ", attempt " +
             std::to_string(r.attempt) + ", payload " + r.payload;
    }
  }
  return {};
}

TEST_F(WeftdTest, AConsumerOnWeftdsHostReadsTheSegmentFilesItselfAndGetsEverythingOnce) {
  publish_many(10000);
  auto reader = client("reader", true, &fs_);
  attach(reader);
  std::vector<Received> got;
  consume(*reader, fields("orders"), got);
  for (int i = 0; i < 200 && got.size() < 10000; ++i) step();
  EXPECT_EQ(check_in_order(got, 0, 10000), "");
  EXPECT_EQ(reader->stats().deliveries_read, 10000u) << "every one read from the file, none copied";
  EXPECT_EQ(reader->stats().read_failures, 0u);
  auto i = info(*producer_, "orders").value();
  ASSERT_EQ(i.consumers.size(), 1u);
  EXPECT_EQ(i.consumers[0].read_by_members, 10000u);
  EXPECT_EQ(i.consumers[0].ack_floor, 10000u) << "and every one acknowledged";
  // A client that does not read the files gets the same messages as copies.
  auto copier = client("copier");
  attach(copier);
  std::vector<Received> copies;
  consume(*copier, fields("orders"), copies);
  for (int n = 0; n < 200 && copies.size() < 10000; ++n) step();
  EXPECT_EQ(check_in_order(copies, 0, 10000), "");
  EXPECT_EQ(copier->stats().deliveries_read, 0u);
}

TEST_F(WeftdTest, AConsumerThatCannotOpenTheSegmentFilesGetsCopiesAndLosesNothing) {
  publish_many(3000);
  FakeFileSystem elsewhere;  // another mount namespace: weftd's files are not there
  auto reader = client("reader", true, &elsewhere);
  attach(reader);
  std::vector<Received> got;
  consume(*reader, fields("orders"), got);
  for (int i = 0; i < 200 && got.size() < 3000; ++i) step();
  EXPECT_EQ(check_in_order(got, 0, 3000), "") << "copies instead, each still a first delivery";
  EXPECT_EQ(reader->stats().read_failures, 1u) << "the first range fails, then weftd sends only copies";
  EXPECT_EQ(reader->stats().deliveries_read, 0u);
  EXPECT_TRUE(logged("could not read the segment file itself"));
  auto i = info(*producer_, "orders").value();
  ASSERT_EQ(i.consumers.size(), 1u);
  EXPECT_EQ(i.consumers[0].member_read_failures, 1u);
  EXPECT_EQ(i.consumers[0].ack_floor, 3000u);
}

TEST_F(WeftdTest, AConsumerReadingTheSegmentFilesNeverHandsOverADamagedRecord) {
  publish(30);
  const std::string segment = std::string(kDataDir) + "/streams/orders/" +
                              detail::log::file_name(0, detail::log::FileKind::kSegment);
  fs_.flip_byte(segment, fs_.contents(segment).size() / 2);  // under the running weftd, which does not know
  auto reader = client("reader", true, &fs_);
  attach(reader);
  std::vector<Received> got;
  consume(*reader, fields("orders"), got);
  for (int i = 0; i < 20 && got.size() < 29; ++i) step();
  auto verify = weftd_->streams().find("orders")->log().verify();
  ASSERT_TRUE(verify.first_bad_offset.has_value());
  const std::uint64_t bad = *verify.first_bad_offset;
  ASSERT_EQ(got.size(), 29u) << "all but the damaged record";
  for (std::uint64_t n = 0; n < 29; ++n) EXPECT_EQ(got[n].offset, n < bad ? n : n + 1);
  EXPECT_EQ(reader->stats().deliveries_read, bad) << "read from the file up to the damage";
  EXPECT_EQ(reader->stats().read_failures, 1u);
  auto i = info(*producer_, "orders").value();
  EXPECT_EQ(i.consumers.at(0).skipped, 1u) << "weftd steps over the damaged record and counts it";
}

TEST_F(WeftdTest, ACompactedStreamKeepsTheNewestMessageOfEachKeyAndATombstoneDeletesItsKey) {
  stop();
  configured_ = {stream_config("orders", {"orders.>"})};
  configured_[0].segment_bytes = 1024;
  configured_[0].compact = true;
  start();
  std::map<std::uint64_t, std::string> appended;  // offset -> payload
  auto publish_keyed = [&](const std::string& key, const std::string& payload, const char* tombstone = nullptr) {
    Headers headers;
    if (!key.empty()) headers.set("weft-key", key);
    if (tombstone != nullptr) headers.set("weft-tombstone", tombstone);
    detail::ByteBuffer buffer;
    detail::OutgoingEnvelope e;
    e.stream = 42;
    e.sequence = appended.size() + 1;
    e.subject = "orders.new";
    e.headers = &headers;
    e.payload = as_bytes(payload);
    detail::encode_envelope(buffer, e);
    const std::span<const std::byte> one(buffer.data(), buffer.size());
    std::optional<Status> answer;
    std::uint64_t offset = 0;
    EXPECT_TRUE(producer_->append("orders.new", std::span(&one, 1), [&](const Status& st, const sc::AppendAck& a) {
      answer = st;
      offset = a.first_offset;
    }).is_ok());
    for (int i = 0; i < 20 && !answer; ++i) step();
    return answer.value_or(Status::timeout("no answer"));
  };
  for (int n = 0; n < 60; ++n) {
    const std::string key = n % 4 == 3 ? "" : std::string(1, static_cast<char>('a' + n % 4));
    const std::string payload = (key.empty() ? "plain" : key) + "=" + std::to_string(n);
    ASSERT_TRUE(publish_keyed(key, payload).is_ok());
    appended[static_cast<std::uint64_t>(n)] = payload;
  }
  ASSERT_TRUE(publish_keyed("b", "b=deleted", "true").is_ok());
  appended[60] = "b=deleted";
  for (int n = 61; n < 100; ++n) {  // unkeyed, so that the keyed ones end up in sealed segments
    ASSERT_TRUE(publish_keyed("", "plain=" + std::to_string(n)).is_ok());
    appended[static_cast<std::uint64_t>(n)] = "plain=" + std::to_string(n);
  }
  // Refused: a tombstone without the key it deletes, and one that is not "true" or "1".
  EXPECT_EQ(publish_keyed("", "x", "true").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(publish_keyed("a", "x", "yes").code(), ErrorCode::kInvalidArgument);

  weftd_->streams().apply_retention();  // compaction runs with retention
  EXPECT_TRUE(logged("stream 'orders': compaction removed")) << "compaction ran";
  std::vector<std::vector<Received>> reads;
  for (bool local : {false, true}) {
    auto reader = client(local ? "local" : "copy", true, local ? &fs_ : nullptr);
    attach(reader);
    std::vector<Received> got;
    const auto id = consume(*reader, fields("orders"), got);
    for (int i = 0; i < 20 && (got.empty() || got.back().offset < 99); ++i) step();
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got.back().offset, 99u);
    std::map<char, std::string> newest;
    std::size_t plain = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      if (i > 0) {
        EXPECT_LT(got[i - 1].offset, got[i].offset);
      }
      EXPECT_EQ(got[i].payload, appended[got[i].offset]) << "offset " << got[i].offset << " is what was appended there";
      EXPECT_EQ(got[i].attempt, 1u);
      if (got[i].payload.starts_with("plain")) {
        ++plain;
      } else {
        newest[got[i].payload[0]] = got[i].payload;
      }
    }
    EXPECT_EQ(plain, 15u + 39u) << "messages without a key are never compacted";
    EXPECT_EQ(newest['a'], "a=56");
    EXPECT_EQ(newest['b'], "b=deleted") << "the tombstone is read until its retention ends";
    EXPECT_EQ(newest['c'], "c=58");
    EXPECT_LT(got.size(), appended.size()) << "older messages of a key are gone";
    step();
    auto i = info(*producer_, "orders").value();
    for (const auto& c : i.consumers) {
      if (c.ack_floor != 100u) ADD_FAILURE() << "a consumer's ack floor is " << c.ack_floor << ", not past the end";
    }
    if (local) {
      EXPECT_EQ(reader->stats().deliveries_read, got.size()) << "read from the rewritten files";
      EXPECT_EQ(reader->stats().read_failures, 0u);
    }
    (void)reader->unconsume(id);
    step();
    detach(reader.get());  // the client goes with this iteration
    reads.push_back(std::move(got));
  }
  ASSERT_EQ(reads.size(), 2u);
  EXPECT_EQ(reads[0].size(), reads[1].size()) << "a reader of the files sees what a reader of copies sees";
  // Past the tombstone retention (1 day), the tombstone goes too; the key is then gone.
  clock_.advance(std::chrono::hours(25));
  weftd_->streams().apply_retention();
  auto reader = client("later");
  attach(reader);
  std::vector<Received> got;
  consume(*reader, fields("orders"), got);
  for (int i = 0; i < 20 && (got.empty() || got.back().offset < 99); ++i) step();
  for (const Received& r : got) EXPECT_FALSE(r.payload.starts_with("b=")) << r.payload;
}

}  // namespace
}  // namespace weft::testing
