#include "sidecar_server.hpp"

#include <algorithm>

#include "codec/envelope.hpp"
#include "weft/subject.hpp"

namespace weft::detail::weftd {

using sidecar::ErrorKind;
using sidecar::Frames;
using sidecar::Header;
using sidecar::Kind;

namespace {

// Messages taken per do_work(): the loop then runs the streams (group commit) before reading more.
constexpr std::size_t kReceiveBatch = 4096;
// How often memberships are checked for silent clients.
constexpr std::chrono::milliseconds kReapInterval{100};
// Replies held for one client whose queue is full, at most; past that they are dropped (counted).
constexpr std::size_t kMaxBacklog = 100000;
// A client with no memberships and nothing queued is forgotten after this much silence.
constexpr std::chrono::seconds kPeerIdle{60};

enum BadInputKind : std::size_t { kLogHeader, kLogEnvelope, kLogOther };

}  // namespace

std::vector<sidecar::Counter> ServerCounters::list() const {
  return {{"requests", requests},
          {"appends", appends},
          {"messages_appended", messages_appended},
          {"append_errors", append_errors},
          {"consumes", consumes},
          {"deliveries", deliveries},
          {"deliveries_read_by_clients", deliveries_read_by_clients},
          {"client_read_failures", client_read_failures},
          {"acks", acks},
          {"naks", naks},
          {"rejected_acks", rejected_acks},
          {"admin", admin},
          {"node_dead_letters", node_dead_letters},
          {"node_dead_letter_errors", node_dead_letter_errors},
          {"members_timed_out", members_timed_out},
          {"replies_queued", replies_queued},
          {"replies_dropped", replies_dropped},
          {"malformed", malformed()},
          {"malformed.bad_framing", bad_framing},
          {"malformed.bad_header", bad_header},
          {"malformed.bad_version", bad_version},
          {"malformed.unknown_kind", unknown_kind},
          {"malformed.wrong_direction", wrong_direction},
          {"malformed.bad_envelope", bad_envelope},
          {"malformed.subject_mismatch", subject_mismatch},
          {"malformed.bad_answer", bad_answer},
          {"too_large", too_large}};
}

SidecarServer::SidecarServer(ServerTransport& transport, const Clock& clock, const Logger& logger,
                             ServerIdentity identity)
    : transport_(transport),
      clock_(clock),
      logger_(logger),
      bad_input_log_(logger, clock, std::chrono::seconds(1)),
      identity_(std::move(identity)) {}

bool SidecarServer::send(const std::string& peer, Frames frames) {
  Peer& p = peers_[peer];
  if (p.gone) {
    ++counters_.replies_dropped;
    return false;
  }
  if (p.backlog.empty()) {
    const SendResult result = transport_.send(peer, frames);
    if (result == SendResult::kSent) return true;
    if (result == SendResult::kFailed) {
      p.gone = true;
      ++counters_.replies_dropped;
      return false;
    }
  }
  if (p.backlog.size() >= kMaxBacklog) {
    ++counters_.replies_dropped;
    return false;
  }
  ++counters_.replies_queued;
  p.backlog.push_back(std::move(frames));
  return true;
}

std::size_t SidecarServer::flush_backlogs() {
  std::size_t sent = 0;
  for (auto& [peer, p] : peers_) {
    while (!p.backlog.empty() && !p.gone) {
      const SendResult result = transport_.send(peer, p.backlog.front());
      if (result == SendResult::kFull) break;
      if (result == SendResult::kFailed) {
        p.gone = true;
        counters_.replies_dropped += p.backlog.size();
        p.backlog.clear();
        break;
      }
      p.backlog.pop_front();
      ++sent;
    }
  }
  return sent;
}

void SidecarServer::reply_error(const std::string& peer, std::uint64_t id, ErrorKind code, std::string message) {
  send(peer, sidecar::make_error(id, code, std::move(message)));
}

void SidecarServer::malformed(std::uint64_t& counter, const std::string& peer, std::uint64_t id, ErrorKind code,
                              const std::string& detail) {
  ++counter;
  bad_input_log_.warn(kLogHeader, "malformed request from a client: " + detail);
  reply_error(peer, id, code, detail);
}

bool SidecarServer::deliver(const MemberRef& member, std::span<const sidecar::DeliveryItem> items,
                            sidecar::PackedDeliveryWriter& body) {
  auto it = peers_.find(member.peer);
  if (it == peers_.end() || it->second.gone || !it->second.backlog.empty()) return false;  // keep order
  Frames frames;
  if (member.packed) {
    frames.parts.reserve(2);
    frames.parts.push_back(sidecar::encode_header(
        Kind::kDeliver, 0, sidecar::PackedDeliverFields{member.id, static_cast<std::uint32_t>(items.size())}));
    frames.parts.push_back(body.take_message());
  } else {
    // A client that reads one envelope per frame: each is copied out of the packed body into its own.
    sidecar::DeliverFields fields;
    fields.consumer = member.id;
    fields.items.assign(items.begin(), items.end());
    std::vector<std::span<const std::byte>> envelopes;
    envelopes.reserve(items.size());
    sidecar::PackedDeliveryReader reader(body.body());
    sidecar::DeliveryItem item;
    std::span<const std::byte> envelope;
    while (reader.next(item, envelope)) envelopes.push_back(envelope);
    frames = sidecar::make_message(Kind::kDeliver, 0, fields, envelopes);
  }
  const SendResult result = transport_.send(member.peer, frames);
  if (result == SendResult::kFailed) it->second.gone = true;
  if (result != SendResult::kSent) return false;
  counters_.deliveries += items.size();
  return true;
}

bool SidecarServer::deliver_file(const MemberRef& member, const sidecar::DeliverFileFields& range) {
  auto it = peers_.find(member.peer);
  if (it == peers_.end() || it->second.gone || !it->second.backlog.empty()) return false;  // keep order
  Frames frames = sidecar::make_message(Kind::kDeliverFile, 0, range);
  const SendResult result = transport_.send(member.peer, frames);
  if (result == SendResult::kFailed) it->second.gone = true;
  if (result != SendResult::kSent) return false;
  counters_.deliveries += range.end_offset - range.first_offset;
  counters_.deliveries_read_by_clients += range.end_offset - range.first_offset;
  return true;
}

void SidecarServer::end_member(const MemberRef& member, ErrorKind code, const std::string& why) {
  members_.erase(member.id);
  if (auto it = peers_.find(member.peer); it != peers_.end()) it->second.members.erase(member.id);
  send(member.peer, sidecar::make_message(Kind::kConsumerEnd, 0,
                                          sidecar::ConsumerEndFields{member.id, static_cast<std::uint8_t>(code), why}));
}

Consumer* SidecarServer::consumer_for(std::uint64_t member_id, Stream** stream) const {
  auto it = members_.find(member_id);
  if (it == members_.end() || manager_ == nullptr) return nullptr;
  Stream* s = manager_->find(it->second.stream);
  if (s == nullptr) return nullptr;
  if (stream != nullptr) *stream = s;
  return s->consumer_of(member_id);
}

void SidecarServer::drop_member(std::uint64_t member_id, Clock::TimePoint now) {
  auto it = members_.find(member_id);
  if (it == members_.end()) return;
  if (manager_ != nullptr) {
    if (Stream* s = manager_->find(it->second.stream)) s->detach(member_id, now);
  }
  if (auto p = peers_.find(it->second.peer); p != peers_.end()) p->second.members.erase(member_id);
  members_.erase(it);
}

std::size_t SidecarServer::reap(Clock::TimePoint now) {
  if (now < next_reap_) return 0;
  next_reap_ = now + kReapInterval;
  std::vector<std::uint64_t> silent;
  for (const auto& [id, m] : members_) {
    auto p = peers_.find(m.peer);
    if (p == peers_.end() || p->second.gone ||
        now - p->second.last_heard > m.heartbeat * sidecar::kMissedHeartbeats) {
      silent.push_back(id);
    }
  }
  for (std::uint64_t id : silent) {
    ++counters_.members_timed_out;
    logger_.log(LogLevel::kInfo, "consumer member " + std::to_string(id) + " of stream '" + members_[id].stream +
                                     "' went silent: its deliveries go out again");
    drop_member(id, now);
  }
  for (auto it = peers_.begin(); it != peers_.end();) {
    const Peer& p = it->second;
    const bool idle = p.members.empty() && p.backlog.empty() && (p.gone || now - p.last_heard > kPeerIdle);
    it = idle ? peers_.erase(it) : std::next(it);
  }
  return silent.size();
}

std::size_t SidecarServer::do_work(Clock::TimePoint now) {
  std::size_t work = flush_backlogs();
  for (std::size_t i = 0; i < kReceiveBatch; ++i) {
    std::optional<Routed> message = transport_.receive();
    if (!message) break;
    handle(*message, now);
    ++work;
  }
  work += reap(now);
  return work;
}

std::optional<Clock::TimePoint> SidecarServer::next_deadline(Clock::TimePoint now) const {
  for (const auto& [peer, p] : peers_) {
    if (!p.backlog.empty() && !p.gone) return now + std::chrono::milliseconds(1);
  }
  if (members_.empty() && peers_.empty()) return std::nullopt;
  return std::max(now, next_reap_);
}

void SidecarServer::handle(Routed& message, Clock::TimePoint now) {
  ++counters_.requests;
  Peer& peer = peers_[message.peer];
  peer.last_heard = now;
  peer.gone = false;
  if (message.frames.parts.empty()) {
    malformed(counters_.bad_framing, message.peer, 0, ErrorKind::kMalformed,
              "a message needs a header frame ([version, kind, request_id, fields])");
    return;
  }
  Header header;
  const zmq::message_t& head = message.frames.parts.front();
  sidecar::HeaderResult decoded =
      sidecar::decode_header({static_cast<const std::byte*>(head.data()), head.size()}, header);
  switch (decoded.error) {
    case sidecar::HeaderError::kNone:
      break;
    case sidecar::HeaderError::kMalformed:
      malformed(counters_.bad_header, message.peer, decoded.request_id, ErrorKind::kMalformed, decoded.detail);
      return;
    case sidecar::HeaderError::kBadVersion:
      malformed(counters_.bad_version, message.peer, decoded.request_id, ErrorKind::kBadVersion, decoded.detail);
      return;
    case sidecar::HeaderError::kUnknownKind:
      malformed(counters_.unknown_kind, message.peer, decoded.request_id, ErrorKind::kUnknownKind, decoded.detail);
      return;
  }
  const std::string& from = message.peer;
  switch (header.kind) {
    case Kind::kPing:
      reply(from, header.request_id, Kind::kPong,
            sidecar::PongFields{identity_.server_id, identity_.version, static_cast<std::uint64_t>(::getpid())});
      return;
    case Kind::kAppend:
      on_append(from, header, message.frames);
      return;
    case Kind::kConsume:
      on_consume(from, header, now);
      return;
    case Kind::kUnconsume:
      on_unconsume(from, header, now);
      return;
    case Kind::kAck:
    case Kind::kNak:
    case Kind::kProgress:
      on_answer(from, header, now);
      return;
    case Kind::kCredit:
      on_credit(from, header);
      return;
    case Kind::kReadFailed:
      on_read_failed(from, header);
      return;
    case Kind::kAdmin:
      on_admin(from, header, now);
      return;
    case Kind::kDeadLetter:
      on_dead_letter(from, header, message.frames);
      return;
    default:
      malformed(counters_.wrong_direction, from, header.request_id, ErrorKind::kMalformed,
                std::string(sidecar::kind_name(header.kind)) + " is sent by weftd, not to it");
      return;
  }
}

void SidecarServer::on_append(const std::string& peer, const Header& header, Frames& frames) {
  const std::uint64_t id = header.request_id;
  auto fields = sidecar::fields_as<sidecar::AppendFields>(header);
  if (!fields) {
    malformed(counters_.bad_header, peer, id, ErrorKind::kMalformed, fields.status().message());
    return;
  }
  ++counters_.appends;
  auto refuse = [&](ErrorKind code, std::string why) {
    ++counters_.append_errors;
    reply_error(peer, id, code, std::move(why));
  };
  if (closing_) return refuse(ErrorKind::kStopping, "weftd is shutting down");
  if (frames.body_size() == 0) {
    ++counters_.append_errors;
    return malformed(counters_.bad_framing, peer, id, ErrorKind::kMalformed, "an append needs one or more envelopes");
  }
  if (frames.body_size() > sidecar::kMaxBodyFrames) {
    ++counters_.too_large;
    return refuse(ErrorKind::kTooLarge, "an append holds at most " + std::to_string(sidecar::kMaxBodyFrames) +
                                            " envelopes, not " + std::to_string(frames.body_size()));
  }
  if (Status s = validate_subject(fields->subject); !s) return refuse(ErrorKind::kInvalid, s.message());
  const Status* unavailable = nullptr;
  Stream* stream = manager_->resolve(fields->subject, &unavailable);
  if (stream == nullptr) {
    if (unavailable != nullptr) {
      return refuse(ErrorKind::kStreamFailed, "the stream that takes '" + fields->subject +
                                                  "' could not be opened: " + unavailable->to_string());
    }
    return refuse(ErrorKind::kNoStream, "no stream takes subject '" + fields->subject + "'");
  }
  if (Status h = stream->health(); !h) {
    return refuse(ErrorKind::kStreamFailed, "stream '" + stream->name() + "': " + h.message());
  }
  std::vector<log::RecordInput> records;
  records.reserve(frames.body_size());
  std::vector<std::string> keys;  // the records' keys point here: reserved, so that they never move
  keys.reserve(frames.body_size());
  std::size_t total = 0;
  std::vector<HeaderRef> scratch;
  for (std::size_t i = 0; i < frames.body_size(); ++i) {
    const std::span<const std::byte> envelope = frames.body(i);
    total += envelope.size();
    if (envelope.size() > stream->config().max_message_bytes || total > sidecar::kMaxAppendBytes) {
      ++counters_.too_large;
      return refuse(ErrorKind::kTooLarge, "envelope " + std::to_string(i) + " of " + std::to_string(envelope.size()) +
                                              " bytes is over stream '" + stream->name() + "''s limit of " +
                                              std::to_string(stream->config().max_message_bytes) + " bytes");
    }
    EnvelopeView view;
    std::size_t at = 0;
    DecodeResult result = decode_envelope(envelope, at, view, scratch);
    if (!result.ok() || at != envelope.size()) {
      ++counters_.append_errors;
      return malformed(counters_.bad_envelope, peer, id, ErrorKind::kMalformed,
                       "body frame " + std::to_string(i + 1) + " is not exactly one valid envelope" +
                           (result.ok() ? std::string(" (bytes follow it)") : ": " + result.detail));
    }
    if (view.subject != fields->subject) {
      ++counters_.append_errors;
      return malformed(counters_.subject_mismatch, peer, id, ErrorKind::kInvalid,
                       "envelope " + std::to_string(i) + " has subject '" + std::string(view.subject) +
                           "', the append '" + fields->subject + "'");
    }
    log::RecordInput record{envelope, std::nullopt};
    const HeadersView headers(view.headers);
    const std::optional<std::string_view> key = headers.get(sidecar::kKeyHeader);
    if (const auto tombstone = headers.get(sidecar::kTombstoneHeader)) {
      if (*tombstone != "true" && *tombstone != "1") {
        return refuse(ErrorKind::kInvalid, "envelope " + std::to_string(i) + ": " +
                                               std::string(sidecar::kTombstoneHeader) + " must be true or 1, not '" +
                                               std::string(*tombstone) + "'");
      }
      if (!key) {
        return refuse(ErrorKind::kInvalid, "envelope " + std::to_string(i) + " is a tombstone without a " +
                                               std::string(sidecar::kKeyHeader) + " header (the key it deletes)");
      }
      record.tombstone = true;
    }
    if (key) {
      if (key->size() > log::kMaxKeyBytes) {
        ++counters_.too_large;
        return refuse(ErrorKind::kTooLarge, "envelope " + std::to_string(i) + ": a " +
                                                std::string(sidecar::kKeyHeader) + " of " +
                                                std::to_string(key->size()) + " bytes (at most 65,535)");
      }
      const std::string& kept = keys.emplace_back(*key);
      record.key = std::as_bytes(std::span(kept.data(), kept.size()));
    }
    records.push_back(record);
  }
  const std::string stream_name = stream->name();
  auto appended = stream->append(
      records, clock_.wall_ns(),
      [this, peer, id, stream_name](const Status& s, const log::AppendResult& r) {
        if (s) {
          reply(peer, id, Kind::kAppended, sidecar::AppendedFields{stream_name, r.first_offset, r.last_offset});
          return;
        }
        ++counters_.append_errors;
        const bool closed = s.code() == ErrorCode::kClosed;
        if (id != 0) {
          reply_error(peer, id, closed ? ErrorKind::kStopping : ErrorKind::kStreamFailed,
                      "stream '" + stream_name + "': " + s.message() +
                          (closed ? "" : " (the message was not acknowledged; it may or may not be stored)"));
        }
      });
  if (!appended) {
    const Status& s = appended.status();
    const ErrorKind code = s.code() == ErrorCode::kInvalidArgument ? ErrorKind::kTooLarge
                           : s.code() == ErrorCode::kClosed        ? ErrorKind::kStopping
                           : !stream->health()                      ? ErrorKind::kStreamFailed
                                                                    : ErrorKind::kIoError;
    return refuse(code, "stream '" + stream_name + "': " + s.message());
  }
  counters_.messages_appended += records.size();
}

void SidecarServer::on_dead_letter(const std::string& peer, const Header& header, Frames& frames) {
  const std::uint64_t id = header.request_id;
  auto fields = sidecar::fields_as<sidecar::DeadLetterFields>(header);
  if (!fields) return malformed(counters_.bad_header, peer, id, ErrorKind::kMalformed, fields.status().message());
  auto refuse = [&](ErrorKind code, std::string why) {
    ++counters_.node_dead_letter_errors;
    reply_error(peer, id, code, std::move(why));
  };
  if (closing_) return refuse(ErrorKind::kStopping, "weftd is shutting down");
  if (frames.body_size() != 1) {
    ++counters_.node_dead_letter_errors;
    return malformed(counters_.bad_framing, peer, id, ErrorKind::kMalformed,
                     "a dead letter carries exactly one envelope, not " + std::to_string(frames.body_size()));
  }
  if (Status s = validate_subject(fields->subject); !s) return refuse(ErrorKind::kInvalid, s.message());
  NodeDeadLetters* letters = manager_->node_dead_letters();
  if (letters == nullptr) {
    return refuse(ErrorKind::kStreamFailed,
                  "nodes' dead letters could not be opened: " + manager_->node_dead_letters_failure().to_string());
  }
  if (Status h = letters->health(); !h) return refuse(ErrorKind::kStreamFailed, "nodes' dead letters: " + h.message());
  const std::span<const std::byte> envelope = frames.body(0);
  if (envelope.size() > letters->max_envelope_bytes()) {
    ++counters_.too_large;
    return refuse(ErrorKind::kTooLarge, "a dead letter's envelope of " + std::to_string(envelope.size()) +
                                            " bytes is over the limit of " +
                                            std::to_string(letters->max_envelope_bytes()) + " bytes");
  }
  std::vector<HeaderRef> scratch;
  EnvelopeView view;
  std::size_t at = 0;
  DecodeResult result = decode_envelope(envelope, at, view, scratch);
  if (!result.ok() || at != envelope.size()) {
    ++counters_.node_dead_letter_errors;
    return malformed(counters_.bad_envelope, peer, id, ErrorKind::kMalformed,
                     "a dead letter's body is not exactly one valid envelope" +
                         (result.ok() ? std::string(" (bytes follow it)") : ": " + result.detail));
  }
  if (view.subject != fields->subject) {
    ++counters_.node_dead_letter_errors;
    return malformed(counters_.subject_mismatch, peer, id, ErrorKind::kInvalid,
                     "the dead letter's envelope has subject '" + std::string(view.subject) + "', its header '" +
                         fields->subject + "'");
  }
  DeadLetter letter;
  letter.subject = fields->subject;
  letter.consumer = std::move(fields->consumer);
  letter.deliveries = fields->deliveries;
  letter.last_error = std::move(fields->last_error);
  letter.time_ns = fields->time_ns != 0 ? fields->time_ns : clock_.wall_ns();
  letter.envelope = std::make_shared<const ByteBuffer>(envelope.begin(), envelope.end());
  auto stored = letters->put(letter, clock_.wall_ns(), [this, peer, id](const Status& s, const log::AppendResult& r) {
    if (s) {
      ++counters_.node_dead_letters;
      const std::string name(sidecar::kNodeDeadLetters);
      return reply(peer, id, Kind::kAppended, sidecar::AppendedFields{name, r.first_offset, r.last_offset});
    }
    ++counters_.node_dead_letter_errors;
    reply_error(peer, id, s.code() == ErrorCode::kClosed ? ErrorKind::kStopping : ErrorKind::kStreamFailed,
                "nodes' dead letters: " + s.message() + " (not acknowledged; it may or may not be stored)");
  });
  if (!stored) {
    const Status& s = stored.status();
    return refuse(s.code() == ErrorCode::kClosed ? ErrorKind::kStopping : sidecar::from_status(s),
                  "nodes' dead letters: " + s.message());
  }
}

void SidecarServer::on_consume(const std::string& peer, const Header& header, Clock::TimePoint now) {
  const std::uint64_t id = header.request_id;
  auto fields = sidecar::fields_as<sidecar::ConsumeFields>(header);
  if (!fields) return malformed(counters_.bad_header, peer, id, ErrorKind::kMalformed, fields.status().message());
  ++counters_.consumes;
  if (closing_) return reply_error(peer, id, ErrorKind::kStopping, "weftd is shutting down");
  Stream* stream = manager_->find(fields->stream);
  if (stream == nullptr) {
    if (auto info = unavailable_info(fields->stream)) {
      return reply_error(peer, id, ErrorKind::kStreamFailed, "stream '" + fields->stream + "': " + info->health);
    }
    return reply_error(peer, id, ErrorKind::kNoStream, "no stream '" + fields->stream + "'");
  }
  const std::uint64_t member_id = next_member_++;
  // DELIVER_FILE only with acks: a range the member cannot read must be able to go out again.
  const bool local_read = fields->local_read && fields->ack;
  auto attached = stream->attach(*fields, MemberRef{peer, member_id, fields->packed, local_read}, now);
  if (!attached) return reply_error(peer, id, sidecar::from_status(attached.status()), attached.status().message());
  const std::uint32_t heartbeat = fields->heartbeat_ms == 0 ? sidecar::kDefaultHeartbeatMs : fields->heartbeat_ms;
  members_[member_id] = MemberInfo{peer, stream->name(), std::chrono::milliseconds(heartbeat)};
  peers_[peer].members.insert(member_id);
  const std::string& name = fields->durable.empty() ? fields->group : fields->durable;
  sidecar::ConsumingFields ready{member_id,         stream->name(), name, attached->start_offset,
                                 stream->log().end_offset(), attached->resumed, identity_.server_id, fields->packed,
                                 local_read, stream->config().compact};
  // Sent even without a request id: the member id names every later message.
  send(peer, sidecar::make_message(Kind::kConsuming, id, ready));
}

namespace {

// The offsets an ACK, NAK or PROGRESS answers, items and ranges together, in order; or why it is malformed.
Result<std::vector<sidecar::AckItem>> answered_offsets(const sidecar::AckFields& fields) {
  if (fields.items.size() > sidecar::kMaxAnswerItems || fields.ranges.size() > sidecar::kMaxAnswerRanges) {
    return Status::invalid_argument("an answer holds at most " + std::to_string(sidecar::kMaxAnswerItems) +
                                    " items and " + std::to_string(sidecar::kMaxAnswerRanges) + " ranges, not " +
                                    std::to_string(fields.items.size()) + " and " +
                                    std::to_string(fields.ranges.size()));
  }
  std::size_t total = fields.items.size();
  for (const sidecar::AckRange& r : fields.ranges) {
    if (r.count == 0 || r.first_offset > UINT64_MAX - r.count) {
      return Status::invalid_argument("range [" + std::to_string(r.first_offset) + ", " + std::to_string(r.count) +
                                      "] is empty or runs past the largest offset");
    }
    total += r.count;
    if (total > sidecar::kMaxAnswerItems) {
      return Status::invalid_argument("an answer covers at most " + std::to_string(sidecar::kMaxAnswerItems) +
                                      " offsets, items and ranges together");
    }
  }
  if (fields.ranges.empty()) return fields.items;
  std::vector<sidecar::AckItem> items;
  items.reserve(total);
  items.assign(fields.items.begin(), fields.items.end());
  for (const sidecar::AckRange& r : fields.ranges) {
    for (std::uint64_t o = r.first_offset; o < r.first_offset + r.count; ++o) items.push_back({o, r.attempt});
  }
  return items;
}

}  // namespace

void SidecarServer::on_answer(const std::string& peer, const Header& header, Clock::TimePoint now) {
  const std::uint64_t id = header.request_id;
  auto fields = sidecar::fields_as<sidecar::AckFields>(header);
  if (!fields) return malformed(counters_.bad_header, peer, id, ErrorKind::kMalformed, fields.status().message());
  auto items = answered_offsets(*fields);
  if (!items) {
    return malformed(counters_.bad_answer, peer, id, ErrorKind::kMalformed,
                     std::string(sidecar::kind_name(header.kind)) + ": " + items.status().message());
  }
  sidecar::AckReplyFields result;
  result.consumer = fields->consumer;
  Consumer* consumer = consumer_for(fields->consumer);
  if (consumer == nullptr) {
    for (const sidecar::AckItem& item : *items) {
      result.rejected.push_back({item.offset, item.attempt, "no consumer " + std::to_string(fields->consumer)});
    }
  } else if (header.kind == Kind::kAck) {
    counters_.acks += items->size();
    consumer->ack(fields->consumer, *items, result.rejected, now);
  } else if (header.kind == Kind::kNak) {
    counters_.naks += items->size();
    consumer->nak(fields->consumer, *items, std::chrono::milliseconds(fields->delay_ms), fields->reason,
                  result.rejected, now);
  } else {
    consumer->progress(fields->consumer, *items, result.rejected, now);
  }
  counters_.rejected_acks += result.rejected.size();
  result.accepted = static_cast<std::uint32_t>(items->size() - result.rejected.size());
  if (id != 0 || !result.rejected.empty()) send(peer, sidecar::make_message(Kind::kAckReply, id, result));
}

void SidecarServer::on_credit(const std::string& peer, const Header& header) {
  auto fields = sidecar::fields_as<sidecar::CreditFields>(header);
  if (!fields) {
    return malformed(counters_.bad_header, peer, header.request_id, ErrorKind::kMalformed, fields.status().message());
  }
  Consumer* consumer = consumer_for(fields->consumer);
  if (consumer == nullptr) {
    if (header.request_id != 0) {
      reply_error(peer, header.request_id, ErrorKind::kNotFound, "no consumer " + std::to_string(fields->consumer));
    }
    return;
  }
  consumer->add_credit(fields->consumer, fields->credit);
  reply(peer, header.request_id, Kind::kOk, sidecar::NoFields{});
}

void SidecarServer::on_read_failed(const std::string& peer, const Header& header) {
  auto fields = sidecar::fields_as<sidecar::ReadFailedFields>(header);
  if (!fields) {
    return malformed(counters_.bad_header, peer, header.request_id, ErrorKind::kMalformed, fields.status().message());
  }
  ++counters_.client_read_failures;
  Stream* stream = nullptr;
  Consumer* consumer = consumer_for(fields->consumer, &stream);
  if (consumer == nullptr) return;  // left meanwhile: what it held goes out again anyway
  const bool first_failure = consumer->read_failed(fields->consumer, fields->first_offset, fields->end_offset);
  if (!first_failure) return;
  // Loud once per member: it falls back to copies for good, which is slower but loses nothing.
  logger_.warn("consumer member " + std::to_string(fields->consumer) + " of stream '" + stream->name() +
               "' could not read the segment file itself (offsets " + std::to_string(fields->first_offset) + " .. " +
               std::to_string(fields->end_offset) + "): " + fields->reason + "; sending it copies instead");
}

void SidecarServer::on_unconsume(const std::string& peer, const Header& header, Clock::TimePoint now) {
  auto fields = sidecar::fields_as<sidecar::ConsumerRef>(header);
  if (!fields) {
    return malformed(counters_.bad_header, peer, header.request_id, ErrorKind::kMalformed, fields.status().message());
  }
  drop_member(fields->consumer, now);
  reply(peer, header.request_id, Kind::kOk, sidecar::NoFields{});
}

void SidecarServer::on_admin(const std::string& peer, const Header& header, Clock::TimePoint now) {
  const std::uint64_t id = header.request_id;
  auto op = sidecar::fields_as<sidecar::AdminOpField>(header);
  if (!op) return malformed(counters_.bad_header, peer, id, ErrorKind::kMalformed, op.status().message());
  ++counters_.admin;
  const std::string& name = op->op;
  const bool changes = name == sidecar::kOpStreamAdd || name == sidecar::kOpStreamRemove ||
                       name == sidecar::kOpDlqReplay || name == sidecar::kOpDlqPurge;
  if (closing_ && changes) return reply_error(peer, id, ErrorKind::kStopping, "weftd is shutting down");
  if (name == sidecar::kOpStatus) return admin_status(peer, id, now);
  if (name == sidecar::kOpStreamAdd) return admin_stream_add(peer, header);
  if (name == sidecar::kOpStreamList) return admin_stream_list(peer, id);
  if (name == sidecar::kOpStreamInfo) return admin_stream_info(peer, header);
  if (name == sidecar::kOpStreamRemove) return admin_stream_remove(peer, header);
  if (name == sidecar::kOpDlqList) return admin_dlq_list(peer, id);
  if (name == sidecar::kOpDlqShow) return admin_dlq_show(peer, header);
  if (name == sidecar::kOpDlqReplay) return admin_dlq_replay(peer, header);
  if (name == sidecar::kOpDlqPurge) return admin_dlq_purge(peer, header);
  reply_error(peer, id, ErrorKind::kInvalid, "unknown admin op '" + name + "'");
}

}  // namespace weft::detail::weftd
