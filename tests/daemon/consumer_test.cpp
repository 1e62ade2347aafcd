// The consumer logic alone (daemon/consumer.hpp): a real Log over the in-memory FileSystem, a host that
// records what would be sent, and a fake clock. Start positions, credit, acks (and stale ones), redelivery
// after the ack wait or a nak, dead-lettering after max_deliver, groups, takeover, retention.
#include "consumer.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "daemon_harness.hpp"
#include "log/log_format.hpp"
#include "log/segment_reader.hpp"

namespace weft::detail::weftd {
namespace {

using testing::FakeClock;
using testing::FakeFileSystem;
using testing::make_envelope;
using testing::payload_of;

struct Sent {
  std::uint64_t member;
  std::uint64_t offset;
  std::uint32_t attempt;
  std::string payload;
};

class RecordingHost final : public ConsumerHost {
 public:
  bool deliver(const MemberRef& member, std::span<const sidecar::DeliveryItem> items,
               sidecar::PackedDeliveryWriter& body) override {
    if (refuse) return false;
    sidecar::PackedDeliveryReader reader(body.body());
    sidecar::DeliveryItem item;
    std::span<const std::byte> envelope;
    for (std::size_t i = 0; i < items.size(); ++i) {
      EXPECT_TRUE(reader.next(item, envelope)) << reader.error();
      EXPECT_EQ(item.offset, items[i].offset);
      EXPECT_EQ(item.attempt, items[i].attempt);
      sent.push_back({member.id, items[i].offset, items[i].attempt, payload_of(envelope)});
    }
    EXPECT_FALSE(reader.next(item, envelope)) << "the body holds more than the items";
    return true;
  }
  // Reads the range as a client would, from the file itself, and records each record as sent.
  bool deliver_file(const MemberRef& member, const sidecar::DeliverFileFields& range) override {
    if (refuse) return false;
    files.push_back(range);
    auto file = fs->open(range.path, log::OpenMode::kRead);
    if (!file) {
      ADD_FAILURE() << file.status().to_string();
      return true;
    }
    log::RecordScanner scanner(**file, range.start_position, range.end_position, log::kMaxRecordLength);
    for (std::uint64_t expected = range.first_offset; expected < range.end_offset;) {
      if (scanner.next() != log::RecordScanner::Step::kRecord) {
        ADD_FAILURE() << "offset " << expected << " is not in the range it was sent in";
        return true;
      }
      if (scanner.record().offset < expected) continue;
      EXPECT_EQ(scanner.record().offset, expected);
      sent.push_back({member.id, expected, 1, payload_of(scanner.record().value)});
      ++expected;
    }
    return true;
  }
  void end_member(const MemberRef& member, sidecar::ErrorKind code, const std::string&) override {
    ended.emplace_back(member.id, code);
  }
  std::vector<Sent> take() { return std::exchange(sent, {}); }

  std::vector<Sent> sent;
  std::vector<std::pair<std::uint64_t, sidecar::ErrorKind>> ended;
  std::vector<sidecar::DeliverFileFields> files;
  log::FileSystem* fs = nullptr;
  bool refuse = false;
};

class ConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::LogOptions o;
    o.fsync_policy = log::FsyncPolicy::kEveryWrite;
    o.segment_bytes = 1024;
    o.retention_age = std::chrono::nanoseconds(0);
    log_ = log::Log::open(fs_, clock_, "/s", o).value();
    host_.fs = &fs_;
  }

  // Appends messages "m0".."m{n-1}" (continuing the numbering) at the given wall time and makes them durable.
  void append(int n, std::int64_t time_ns = 0) {
    for (int i = 0; i < n; ++i) {
      const auto e = make_envelope("a.b", "m" + std::to_string(appended_++));
      const log::RecordInput r{e, std::nullopt};
      ASSERT_TRUE(log_->append(std::span(&r, 1), time_ns == 0 ? clock_.wall_ns() : time_ns).is_ok());
    }
    log_->do_work(clock_.now());
  }

  std::unique_ptr<Consumer> make(ConsumerKind kind, std::uint64_t start, std::uint32_t max_deliver = 3,
                                 bool ack = true) {
    ConsumerSettings s{kind, kind == ConsumerKind::kEphemeral ? "" : "c", ack, std::chrono::milliseconds(1000),
                       max_deliver};
    return std::make_unique<Consumer>(s, start, *log_, host_, dead_letter_fn());
  }

  DeadLetterFn dead_letter_fn() {
    return [this](const DeadLetterRequest& r, std::function<void(const Status&)> done) {
      dead_letters_.push_back({r.offset, r.deliveries, r.last_error});
      pending_dead_letters_.push_back(std::move(done));
      return Status::ok();
    };
  }

  // A durable consumer "c" as weftd stored it (ack wait 1 s, max deliver 3): everything below `floor`
  // acknowledged, and `above` too.
  static ConsumerState stored_durable(std::uint64_t floor, std::vector<std::uint64_t> above) {
    ConsumerState state;
    state.name = "c";
    state.kind = static_cast<std::uint8_t>(ConsumerKind::kDurable);
    state.ack_wait_ms = 1000;
    state.max_deliver = 3;
    state.ack_floor = floor;
    state.acked_above = std::move(above);
    return state;
  }

  void work(Consumer& c) { c.do_work(clock_.now()); }
  void ack(Consumer& c, std::uint64_t member, std::uint64_t offset, std::uint32_t attempt,
           std::vector<sidecar::Rejection>* rejected = nullptr) {
    std::vector<sidecar::Rejection> r;
    const sidecar::AckItem item{offset, attempt};
    c.ack(member, std::span(&item, 1), rejected ? *rejected : r, clock_.now());
  }

  struct DeadLetter {
    std::uint64_t offset;
    std::uint32_t deliveries;
    std::string error;
  };

  FakeFileSystem fs_;
  FakeClock clock_;
  std::unique_ptr<log::Log> log_;
  RecordingHost host_;
  int appended_ = 0;
  std::vector<DeadLetter> dead_letters_;
  std::vector<std::function<void(const Status&)>> pending_dead_letters_;
};

TEST_F(ConsumerTest, DeliversWithinCreditAndAcksFreeIt) {
  append(10);
  auto c = make(ConsumerKind::kEphemeral, 0);
  c->add_member({"p", 1}, 4, clock_.now());
  work(*c);
  auto sent = host_.take();
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(sent[0].payload, "m0");
  EXPECT_EQ(sent[3].offset, 3u);
  work(*c);
  EXPECT_TRUE(host_.take().empty()) << "no credit left";
  ack(*c, 1, 1, 1);  // out of order: the floor waits for 0
  EXPECT_EQ(c->ack_floor(), 0u);
  ack(*c, 1, 0, 1);
  EXPECT_EQ(c->ack_floor(), 2u);
  work(*c);
  sent = host_.take();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].offset, 4u);
}

TEST_F(ConsumerTest, NothingIsSentWhileTheHostRefuses) {
  append(3);
  auto c = make(ConsumerKind::kEphemeral, 0);
  c->add_member({"p", 1}, 10, clock_.now());
  host_.refuse = true;
  work(*c);
  EXPECT_EQ(c->next_offset(), 0u) << "a refused batch is not taken as sent";
  host_.refuse = false;
  work(*c);
  EXPECT_EQ(host_.take().size(), 3u);
}

TEST_F(ConsumerTest, RedeliversAfterTheAckWaitAndRejectsStaleAcks) {
  append(1);
  auto c = make(ConsumerKind::kEphemeral, 0);
  c->add_member({"p", 1}, 10, clock_.now());
  work(*c);
  ASSERT_EQ(host_.take().size(), 1u);
  clock_.advance(std::chrono::milliseconds(999));
  work(*c);
  EXPECT_TRUE(host_.take().empty());
  clock_.advance(std::chrono::milliseconds(2));
  work(*c);
  auto sent = host_.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].attempt, 2u);
  std::vector<sidecar::Rejection> rejected;
  ack(*c, 1, 0, 1, &rejected);  // the first attempt's answer came too late
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_NE(rejected[0].reason.find("stale"), std::string::npos) << rejected[0].reason;
  rejected.clear();
  ack(*c, 1, 0, 2, &rejected);
  EXPECT_TRUE(rejected.empty());
  EXPECT_EQ(c->ack_floor(), 1u);
  ack(*c, 1, 0, 2, &rejected);
  ASSERT_EQ(rejected.size(), 1u) << "acknowledged twice";
}

TEST_F(ConsumerTest, NakDelaysTheNextDeliveryAndProgressExtendsTheWait) {
  append(2);
  auto c = make(ConsumerKind::kEphemeral, 0, 0);
  c->add_member({"p", 1}, 10, clock_.now());
  work(*c);
  ASSERT_EQ(host_.take().size(), 2u);
  std::vector<sidecar::Rejection> rejected;
  const sidecar::AckItem first{0, 1}, second{1, 1};
  c->nak(1, std::span(&first, 1), std::chrono::milliseconds(300), "busy", rejected, clock_.now());
  clock_.advance(std::chrono::milliseconds(600));
  c->progress(1, std::span(&second, 1), rejected, clock_.now());
  EXPECT_TRUE(rejected.empty());
  work(*c);
  auto sent = host_.take();
  ASSERT_EQ(sent.size(), 1u) << "the nak'd one comes back after its delay, the other is still worked on";
  EXPECT_EQ(sent[0].offset, 0u);
  EXPECT_EQ(sent[0].attempt, 2u);
  clock_.advance(std::chrono::milliseconds(500));  // 1100 ms after the first delivery, 500 after the progress
  work(*c);
  EXPECT_TRUE(host_.take().empty());
  clock_.advance(std::chrono::milliseconds(600));
  work(*c);
  sent = host_.take();
  ASSERT_EQ(sent.size(), 2u);
}

TEST_F(ConsumerTest, DeadLettersAfterMaxDeliverAndSettlesOnceDurable) {
  append(2);
  auto c = make(ConsumerKind::kDurable, 0, 2);
  c->add_member({"p", 1}, 10, clock_.now());
  work(*c);
  ack(*c, 1, 1, 1);
  ASSERT_EQ(host_.take().size(), 2u);
  clock_.advance(std::chrono::milliseconds(1001));
  work(*c);
  ASSERT_EQ(host_.take().size(), 1u);  // attempt 2 of offset 0
  std::vector<sidecar::Rejection> rejected;
  const sidecar::AckItem item{0, 2};
  c->nak(1, std::span(&item, 1), std::chrono::milliseconds(0), "handler failed: boom", rejected, clock_.now());
  ASSERT_EQ(dead_letters_.size(), 1u);
  EXPECT_EQ(dead_letters_[0].offset, 0u);
  EXPECT_EQ(dead_letters_[0].deliveries, 2u);
  EXPECT_EQ(dead_letters_[0].error, "handler failed: boom");
  EXPECT_EQ(c->ack_floor(), 0u) << "not settled before the dead letter is durable";
  clock_.advance(std::chrono::milliseconds(5000));
  work(*c);
  EXPECT_TRUE(host_.take().empty()) << "a message being dead-lettered is not delivered again";
  pending_dead_letters_[0](Status::ok());
  EXPECT_EQ(c->ack_floor(), 2u);
  EXPECT_EQ(c->counters().dead_lettered, 1u);
}

TEST_F(ConsumerTest, GroupMembersCompeteForTheMessages) {
  append(40);
  auto c = make(ConsumerKind::kGroup, 0);
  c->add_member({"a", 1}, 5, clock_.now());
  c->add_member({"b", 2}, 5, clock_.now());
  std::map<std::uint64_t, std::uint64_t> by_offset;  // offset -> member
  std::map<std::uint64_t, int> per_member;
  for (int round = 0; round < 20 && by_offset.size() < 40; ++round) {
    work(*c);
    for (const Sent& s : host_.take()) {
      EXPECT_EQ(by_offset.count(s.offset), 0u) << "offset " << s.offset << " went to two members";
      by_offset[s.offset] = s.member;
      ++per_member[s.member];
      ack(*c, s.member, s.offset, s.attempt);
    }
  }
  EXPECT_EQ(by_offset.size(), 40u);
  EXPECT_GT(per_member[1], 0);
  EXPECT_GT(per_member[2], 0);
  EXPECT_EQ(c->ack_floor(), 40u);
}

TEST_F(ConsumerTest, ALeavingMembersDeliveriesGoToAnother) {
  append(3);
  auto c = make(ConsumerKind::kGroup, 0);
  c->add_member({"a", 1}, 10, clock_.now());
  work(*c);
  ASSERT_EQ(host_.take().size(), 3u);
  c->add_member({"b", 2}, 10, clock_.now());
  c->remove_member(1, clock_.now());
  work(*c);
  auto sent = host_.take();
  ASSERT_EQ(sent.size(), 3u);
  for (const Sent& s : sent) {
    EXPECT_EQ(s.member, 2u);
    EXPECT_EQ(s.attempt, 2u);
  }
}

TEST_F(ConsumerTest, ADurableConsumerIsTakenOverByItsNewMember) {
  append(1);
  auto c = make(ConsumerKind::kDurable, 0);
  c->add_member({"old", 1}, 10, clock_.now());
  work(*c);
  host_.take();
  c->add_member({"new", 2}, 10, clock_.now());
  ASSERT_EQ(host_.ended.size(), 1u);
  EXPECT_EQ(host_.ended[0].first, 1u);
  EXPECT_EQ(c->member_count(), 1u);
  work(*c);
  auto sent = host_.take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].member, 2u);
}

TEST_F(ConsumerTest, WithoutAcksCreditComesBackByGrant) {
  append(6);
  auto c = make(ConsumerKind::kEphemeral, 0, 3, false);
  c->add_member({"p", 1}, 2, clock_.now());
  work(*c);
  EXPECT_EQ(host_.take().size(), 2u);
  clock_.advance(std::chrono::seconds(10));
  work(*c);
  EXPECT_TRUE(host_.take().empty()) << "nothing is redelivered without acks, and no credit is left";
  c->add_credit(1, 2);
  work(*c);
  EXPECT_EQ(host_.take().size(), 2u);
  EXPECT_EQ(c->ack_floor(), 4u);
}

TEST_F(ConsumerTest, ResumesFromStoredStateSkippingWhatWasAcknowledged) {
  append(6);
  Consumer c(stored_durable(2, {3, 5}), *log_, host_, dead_letter_fn());
  c.add_member({"p", 1}, 10, clock_.now());
  work(c);
  auto sent = host_.take();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].offset, 2u);
  EXPECT_EQ(sent[1].offset, 4u);
  ack(c, 1, 2, 1);
  EXPECT_EQ(c.ack_floor(), 4u);
  ack(c, 1, 4, 1);
  EXPECT_EQ(c.ack_floor(), 6u);
  EXPECT_TRUE(c.state().acked_above.empty());
}

TEST_F(ConsumerTest, AMemberThatReadsTheFilesItselfGetsRangesOfFirstDeliveriesWithinCredit) {
  append(40);  // several 1 KiB segments
  auto c = make(ConsumerKind::kEphemeral, 0);
  c->add_member({"p", 1, true, true}, 7, clock_.now());
  work(*c);
  ASSERT_EQ(host_.files.size(), 1u);
  EXPECT_EQ(host_.files[0].first_offset, 0u);
  EXPECT_EQ(host_.files[0].end_offset, 7u) << "a range is bounded by the member's credit";
  std::vector<Sent> all = host_.take();
  for (int round = 0; round < 100 && c->ack_floor() < 40; ++round) {
    for (std::uint64_t o = c->ack_floor(); o < c->next_offset(); ++o) ack(*c, 1, o, 1);
    work(*c);
    for (Sent& s : host_.take()) all.push_back(std::move(s));
  }
  ASSERT_EQ(all.size(), 40u);
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].offset, i);
    EXPECT_EQ(all[i].attempt, 1u);
    EXPECT_EQ(all[i].payload, "m" + std::to_string(i));
  }
  EXPECT_EQ(c->ack_floor(), 40u);
  std::set<std::string> paths;
  for (const auto& f : host_.files) paths.insert(f.path);
  EXPECT_GT(paths.size(), 1u) << "the stream spans segments, and a range stays within one";
  EXPECT_EQ(c->counters().read_by_member, 40u);
}

TEST_F(ConsumerTest, ARangeTheMemberCouldNotReadGoesOutAgainAsCopiesAndNoMoreRangesFollow) {
  append(20);
  auto c = make(ConsumerKind::kEphemeral, 0);
  c->add_member({"p", 1, true, true}, 100, clock_.now());
  work(*c);
  ASSERT_EQ(host_.files.size(), 1u);
  const sidecar::DeliverFileFields range = host_.files[0];
  ASSERT_GE(range.end_offset - range.first_offset, 3u);
  auto first_sent = host_.take();
  EXPECT_FALSE(c->read_failed(2, range.first_offset, range.end_offset)) << "no such member";
  // The member handed over the first two records of the range, then could not read on.
  ack(*c, 1, 0, 1);
  ack(*c, 1, 1, 1);
  EXPECT_TRUE(c->read_failed(1, range.first_offset + 2, range.end_offset));
  EXPECT_FALSE(c->read_failed(1, range.first_offset + 2, range.end_offset)) << "the member reads no more files";
  std::vector<Sent> copies;
  for (int round = 0; round < 10 && c->next_offset() < 20; ++round) {
    work(*c);
    for (Sent& s : host_.take()) copies.push_back(std::move(s));
  }
  work(*c);
  for (Sent& s : host_.take()) copies.push_back(std::move(s));
  EXPECT_EQ(host_.files.size(), 1u) << "only copies after a failed read";
  ASSERT_EQ(copies.size(), 18u);
  for (std::size_t i = 0; i < copies.size(); ++i) {
    EXPECT_EQ(copies[i].offset, i + 2);
    EXPECT_EQ(copies[i].attempt, 1u) << "never handed over before: still a first delivery";
    EXPECT_EQ(copies[i].payload, "m" + std::to_string(i + 2));
  }
  std::vector<sidecar::Rejection> rejected;
  for (std::uint64_t o = 2; o < 20; ++o) ack(*c, 1, o, 1, &rejected);
  EXPECT_TRUE(rejected.empty());
  EXPECT_EQ(c->ack_floor(), 20u);
  EXPECT_EQ(c->counters().member_read_failures, 2u) << "each READ_FAILED counts";
}

TEST_F(ConsumerTest, NoRangeHoldsAnOffsetAcknowledgedBeforeARestart) {
  append(6);
  Consumer c(stored_durable(1, {3}), *log_, host_, dead_letter_fn());
  c.add_member({"p", 1, true, true}, 10, clock_.now());
  std::vector<std::uint64_t> offsets;
  for (int round = 0; round < 10 && c.next_offset() < 6; ++round) {
    work(c);
    for (const Sent& s : host_.take()) offsets.push_back(s.offset);
  }
  EXPECT_EQ(offsets, (std::vector<std::uint64_t>{1, 2, 4, 5}));
  for (const auto& f : host_.files) EXPECT_TRUE(f.end_offset <= 3 || f.first_offset > 3) << f.first_offset;
}

TEST_F(ConsumerTest, SkipsWhatRetentionDeleted) {
  log::LogOptions o;
  o.fsync_policy = log::FsyncPolicy::kEveryWrite;
  o.segment_bytes = 1024;
  o.retention_age = std::chrono::hours(24);
  auto log = log::Log::open(fs_, clock_, "/r", o).value();
  const std::int64_t old = clock_.wall_ns() - std::chrono::nanoseconds(std::chrono::hours(48)).count();
  for (int i = 0; i < 31; ++i) {
    const auto e = make_envelope("a.b", "m" + std::to_string(i));
    const log::RecordInput r{e, std::nullopt};
    ASSERT_TRUE(log->append(std::span(&r, 1), i < 30 ? old : clock_.wall_ns()).is_ok());
  }
  log->do_work(clock_.now());
  ConsumerSettings settings{ConsumerKind::kDurable, "c", true, std::chrono::milliseconds(1000), 3};
  Consumer c(settings, 0, *log, host_, dead_letter_fn());
  auto report = log->apply_retention(clock_.wall_ns()).value();
  ASSERT_GT(report.segments_deleted, 0u);
  c.add_member({"p", 1}, 100, clock_.now());
  work(c);
  auto sent = host_.take();
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent[0].offset, log->first_offset());
  EXPECT_EQ(c.counters().skipped, log->first_offset());
  EXPECT_EQ(c.ack_floor(), log->first_offset());
  EXPECT_EQ(sent.back().payload, "m30");
}

}  // namespace
}  // namespace weft::detail::weftd
