// The Discovery agent's gossip: periodic digests, whole-table answers, and anti-entropy between views. The rest
// of the agent is in discovery.cpp.
#include <algorithm>

#include "discovery/discovery.hpp"

namespace weft::detail {

namespace wire = discovery_wire;

namespace {

// Whole-table answers (kFlagSync): at most 32 datagrams per answer (~1,200 peers). Per beacon interval, at most
// 256 answers, and 128 datagrams beyond the first of each answer: a burst of a thousand joiners each gets a
// sample of ~38 peers at once (from which they spread), a few get everything. Bounds what joiners, or spoofed
// requests, can make this node send to ~450 KB per interval. A joiner not answered asks again next interval.
constexpr std::size_t kMaxSyncDatagrams = 32;
constexpr std::size_t kMaxSyncAnswersPerInterval = 256;
constexpr std::size_t kMaxSyncExtraDatagramsPerInterval = 128;
// Peers that joined within this many intervals lead every gossip digest.
constexpr int kRecentIntervals = 3;

}  // namespace

// The digest: peers this node hears first-hand. Recent joiners first (news travels fast), then a round-robin
// window over the rest, so that every peer is mentioned within table / capacity rounds.
std::vector<GossipEntry> Discovery::gossip_entries(TimePoint now, std::uint64_t except, bool rotate) {
  std::vector<GossipEntry> recent;
  gossip_order_.clear();
  for (const auto& [id, record] : table_.records()) {
    if (record.state != PeerState::kAlive || id == except) continue;
    if (rotate && now < record.joined_at + interval_ * kRecentIntervals) {
      auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - record.last_heard).count();
      recent.push_back({id, record.incarnation, record.address, static_cast<std::uint32_t>(age)});
    } else {
      gossip_order_.push_back(id);
    }
  }
  std::sort(gossip_order_.begin(), gossip_order_.end());
  std::vector<GossipEntry> entries = std::move(recent);
  const std::size_t n = gossip_order_.size();
  const std::size_t start = rotate && n > 0 ? gossip_cursor_ % n : 0;
  for (std::size_t i = 0; i < n; ++i) {
    const PeerRecord* record = table_.find(gossip_order_[(start + i) % n]);
    auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - record->last_heard).count();
    entries.push_back({record->id, record->incarnation, record->address, static_cast<std::uint32_t>(age)});
  }
  return entries;
}

void Discovery::send_gossip(TimePoint now) {
  next_gossip_ = jittered(now);
  if (table_.alive_count() == 0 || options_.gossip_fanout == 0) return;
  // Targets: `gossip_fanout` distinct alive peers, drawn at random.
  std::vector<const PeerRecord*> alive;
  for (const auto& [id, record] : table_.records()) {
    if (record.state == PeerState::kAlive) alive.push_back(&record);
  }
  std::shuffle(alive.begin(), alive.end(), random_);
  alive.resize(std::min(alive.size(), options_.gossip_fanout));

  std::vector<GossipEntry> entries = gossip_entries(now, 0, true);
  if (entries.empty()) return;
  const std::size_t recent = entries.size() - gossip_order_.size();
  DatagramBuffer digest;
  const std::size_t written =
      encode_gossip(make_header(wire::MessageType::kGossip, 0), view(), entries, digest).value_or(0);
  if (written == 0) return;
  gossip_cursor_ += written > recent ? written - recent : 0;
  for (const PeerRecord* target : alive) {
    ++stats_.gossip_sent;
    send(digest, target->address, now);
  }
}

// Answers a request for the whole table with digests flagged kFlagReply, at least one (possibly empty) so that
// the requester knows it was answered.
void Discovery::send_sync(UdpAddress to, std::uint64_t requester, TimePoint now) {
  if (sync_answers_this_interval_ >= kMaxSyncAnswersPerInterval) return;
  ++sync_answers_this_interval_;
  std::vector<GossipEntry> entries = gossip_entries(now, requester, false);
  // Each answer starts at a random place, so that joiners answered with one datagram each hear of different peers.
  if (!entries.empty()) {
    auto start = std::uniform_int_distribution<std::size_t>(0, entries.size() - 1)(random_);
    std::rotate(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(start), entries.end());
  }
  const GossipView mine = view();
  std::span<const GossipEntry> rest(entries);
  DatagramBuffer digest;
  for (std::size_t datagrams = 0; datagrams < kMaxSyncDatagrams; ++datagrams) {
    if (datagrams > 0) {
      if (sync_extra_datagrams_this_interval_ >= kMaxSyncExtraDatagramsPerInterval) return;
      ++sync_extra_datagrams_this_interval_;
    }
    auto written = encode_gossip(make_header(wire::MessageType::kGossip, wire::kFlagReply), mine, rest, digest);
    if (!written) return;
    ++stats_.gossip_sent;
    send(digest, to, now);
    rest = rest.subspan(*written);
    if (rest.empty()) return;
  }
}

GossipView Discovery::view() const {
  GossipView mine{0, view_term(self_.id, self_.incarnation)};
  for (const auto& [id, record] : table_.records()) {
    if (record.state != PeerState::kAlive) continue;
    ++mine.peers;
    mine.checksum ^= view_term(id, record.incarnation);
  }
  return mine;
}

// Anti-entropy: a digest says how big the sender's view is and what it holds (a checksum). When a peer has known
// more than this node (or as many, but others) for two intervals, this node asks it for its table once. A pull
// that brings nobody new doubles the wait before the next (up to seed_refresh intervals): a peer that others
// reach and this node cannot keeps two views apart for good, and must not cost a table every interval.
void Discovery::compare_views(const GossipView& theirs, UdpAddress from, TimePoint now) {
  const GossipView mine = view();
  const bool behind = theirs.peers > mine.peers || (theirs.peers == mine.peers && theirs.checksum != mine.checksum);
  if (!behind) {
    if (theirs == mine) behind_since_ = TimePoint::min();
    return;
  }
  if (behind_since_ == TimePoint::min()) {
    behind_since_ = now;
    return;
  }
  if (now < behind_since_ + interval_ * 2 || now < next_pull_) return;
  if (pulls_ > 0) {
    pull_backoff_ = mine.peers > peers_at_pull_ ? 1 : std::min<std::uint32_t>(pull_backoff_ * 2, options_.seed_refresh);
  }
  DatagramBuffer request;
  if (!encode_own_beacon(wire::kFlagProbe | wire::kFlagSync, request)) return;
  ++pulls_;
  ++stats_.views_pulled;
  ++stats_.beacons_sent;
  send(request, from, now);
  peers_at_pull_ = mine.peers;
  next_pull_ = now + interval_ * pull_backoff_;
  behind_since_ = TimePoint::min();
}

}  // namespace weft::detail
