#include "sidecar/sidecar_client.hpp"

#include <algorithm>

#include "log/log_format.hpp"
#include "log/posix_file_system.hpp"
#include "log/segment_reader.hpp"
#include "sidecar/packed_deliveries.hpp"
#include "sidecar/sidecar_endpoint.hpp"
#include "sidecar/zmq_sidecar_transport.hpp"

namespace weft::detail::sidecar {

namespace {

// How soon a message that could not be sent (weftd not connected yet) is tried again: at first after
// kRetrySend, then after half the time it has been refused, up to kMaxRetrySend. A client kept from a weftd
// that is down (a node probing it) so wakes about ten times a second, not two hundred. A node is woken at once
// when the connection comes up (its loop polls the socket's descriptor); the timer is for clients stepped by
// run_until(), which waits for replies only.
constexpr std::chrono::milliseconds kRetrySend{5};
constexpr std::chrono::milliseconds kMaxRetrySend{100};
// Messages taken from the transport per do_work(), so that one call stays short.
constexpr std::size_t kReceiveBatch = 4096;

}  // namespace

SidecarClient::SidecarClient(std::unique_ptr<SidecarTransport> transport, const Clock& clock,
                             SidecarClientOptions options)
    : transport_(std::move(transport)), clock_(clock), options_(std::move(options)) {}

Result<std::unique_ptr<SidecarClient>> SidecarClient::connect(SidecarClientOptions options, const Clock& clock) {
  if (options.endpoint.empty()) options.endpoint = default_sidecar_endpoint();
  auto transport = ZmqSidecarTransport::connect(options.endpoint, options.context);
  if (!transport) return transport.status();
  return std::make_unique<SidecarClient>(std::move(*transport), clock, std::move(options));
}

Status SidecarClient::enqueue(Frames frames, std::uint64_t request_id, Kind kind, AppendCallback on_append,
                              ReplyCallback on_reply) {
  const Clock::TimePoint now = clock_.now();
  if (request_id != 0) {
    if (waiting_.size() >= options_.max_requests) {
      return Status::back_pressure(std::to_string(waiting_.size()) + " requests already wait for weftd");
    }
    waiting_[request_id] = Waiting{kind, now + options_.request_timeout, false, std::move(on_append),
                                   std::move(on_reply)};
    ++stats_.requests;
  }
  outbox_.push_back(Outgoing{std::move(frames), request_id, now + options_.request_timeout});
  send_outbox(now);
  return Status::ok();
}

Status SidecarClient::append(std::string_view subject, std::span<const std::span<const std::byte>> envelopes,
                             AppendCallback done) {
  if (envelopes.empty()) return Status::invalid_argument("an append needs at least one envelope");
  if (envelopes.size() > kMaxBodyFrames) {
    return Status::invalid_argument("an append holds at most " + std::to_string(kMaxBodyFrames) + " envelopes");
  }
  const std::uint64_t id = next_request_id_++;
  return enqueue(make_message(Kind::kAppend, id, AppendFields{std::string(subject)}, envelopes), id, Kind::kAppend,
                 std::move(done), {});
}

Result<std::uint64_t> SidecarClient::consume(ConsumeFields fields, ConsumerHandlers handlers) {
  const std::uint64_t handle = next_consumer_++;
  Consumer& consumer = consumers_[handle];
  consumer.fields = std::move(fields);
  consumer.fields.packed = options_.packed_deliveries;  // this client reads both kinds of DELIVER
  // Segment files are only reachable on weftd's host, and a range it could not read must be able to go out
  // again (acknowledgements).
  using LocalRead = SidecarClientOptions::LocalRead;
  consumer.fields.local_read =
      consumer.fields.ack &&
      (options_.local_read == LocalRead::kAlways ||
       (options_.local_read == LocalRead::kOverIpc && transport_->endpoint().rfind("ipc://", 0) == 0));
  consumer.handlers = std::move(handlers);
  send_consume(handle);
  // Heartbeats start now: they keep the membership alive and notice a restarted weftd.
  next_ping_ = std::min(next_ping_ == Clock::TimePoint{} ? clock_.now() + options_.heartbeat_interval : next_ping_,
                        clock_.now() + options_.heartbeat_interval);
  return handle;
}

void SidecarClient::send_consume(std::uint64_t handle) {
  Consumer& consumer = consumers_.at(handle);
  consumer.server_consumer = 0;
  consumer.starting = true;
  consumer.awaiting_restart = false;
  ConsumeFields fields = consumer.fields;
  const bool named = !fields.durable.empty() || !fields.group.empty();
  if (!named && consumer.last_offset) {  // an ephemeral consumer restarted: resume just past what it saw
    fields.start = std::string(kStartOffset);
    fields.offset = *consumer.last_offset + 1;
  }
  const std::uint64_t id = next_request_id_++;
  Status queued = enqueue(make_message(Kind::kConsume, id, fields), id, Kind::kConsume, {},
                          [this, handle](const Status& s, Reply& reply) {
                            auto it = consumers_.find(handle);
                            if (it == consumers_.end()) return;
                            it->second.starting = false;
                            Result<ConsumingFields> ready =
                                s.is_ok() ? reply.as<ConsumingFields>() : Result<ConsumingFields>(s);
                            if (!ready) {
                              auto on_end = std::move(it->second.handlers.on_end);
                              consumers_.erase(it);
                              if (on_end) on_end(ready.status());
                              return;
                            }
                            it->second.server_consumer = ready->consumer;
                            it->second.packed = ready->packed;
                            it->second.local_read = ready->local_read;
                            note_server(ready->server_id, handle);
                            auto again = consumers_.find(handle);
                            if (again != consumers_.end() && again->second.handlers.on_ready) {
                              again->second.handlers.on_ready(*ready);
                            }
                          });
  if (!queued) consumers_.at(handle).starting = false;  // too many requests waiting: the next heartbeat retries
}

Status SidecarClient::ack(std::uint64_t consumer, std::uint64_t offset, std::uint32_t attempt) {
  auto it = consumers_.find(consumer);
  if (it == consumers_.end()) return Status::not_found("no consumer " + std::to_string(consumer));
  std::vector<AckRange>& acks = it->second.acks;
  if (!acks.empty() && acks.back().attempt == attempt && acks.back().count < kMaxAnswerItems &&
      acks.back().first_offset + acks.back().count == offset) {
    ++acks.back().count;  // the next offset of a run: most consumers answer in order
  } else {
    acks.push_back({offset, 1, attempt});
  }
  return Status::ok();
}

Status SidecarClient::progress(std::uint64_t consumer, std::uint64_t offset, std::uint32_t attempt) {
  auto it = consumers_.find(consumer);
  if (it == consumers_.end()) return Status::not_found("no consumer " + std::to_string(consumer));
  it->second.progress.push_back({offset, attempt});
  return Status::ok();
}

Status SidecarClient::nak(std::uint64_t consumer, std::uint64_t offset, std::uint32_t attempt,
                          std::chrono::milliseconds delay, std::string_view reason) {
  auto it = consumers_.find(consumer);
  if (it == consumers_.end()) return Status::not_found("no consumer " + std::to_string(consumer));
  if (it->second.server_consumer == 0) return Status::unavailable("the consumer is not started");
  AckFields fields;
  fields.consumer = it->second.server_consumer;
  fields.items.push_back({offset, attempt});
  fields.delay_ms = static_cast<std::uint32_t>(std::clamp<std::int64_t>(delay.count(), 0, UINT32_MAX));
  fields.reason = std::string(reason.substr(0, 4096));
  return enqueue(make_message(Kind::kNak, 0, fields), 0, Kind::kNak, {}, {});
}

Status SidecarClient::unconsume(std::uint64_t consumer) {
  auto it = consumers_.find(consumer);
  if (it == consumers_.end()) return Status::not_found("no consumer " + std::to_string(consumer));
  flush_consumers();
  const std::uint64_t server_consumer = it->second.server_consumer;
  consumers_.erase(it);
  if (server_consumer == 0) return Status::ok();
  return enqueue(make_message(Kind::kUnconsume, 0, ConsumerRef{server_consumer}), 0, Kind::kUnconsume, {}, {});
}

void SidecarClient::flush_acks(Consumer& c) {
  // At most kMaxAnswerItems offsets (and kMaxAnswerRanges ranges) per message: more would not fit in a
  // header, and weftd would refuse the message as malformed (and the deliveries would stay unacknowledged).
  AckFields fields;
  fields.consumer = c.server_consumer;
  std::size_t offsets = 0;
  auto send = [&] {
    if (fields.items.empty() && fields.ranges.empty()) return;
    (void)enqueue(make_message(Kind::kAck, 0, fields), 0, Kind::kAck, {}, {});
    fields.items.clear();
    fields.ranges.clear();
    offsets = 0;
  };
  for (AckRange range : c.acks) {
    while (range.count > 0) {
      if (offsets == kMaxAnswerItems || fields.ranges.size() == kMaxAnswerRanges) send();
      const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(range.count, kMaxAnswerItems - offsets));
      if (c.packed) {
        fields.ranges.push_back({range.first_offset, n, range.attempt});
      } else {  // a weftd that reads items only
        for (std::uint32_t i = 0; i < n; ++i) fields.items.push_back({range.first_offset + i, range.attempt});
      }
      offsets += n;
      range.first_offset += n;
      range.count -= n;
    }
  }
  send();
  c.acks.clear();
}

std::size_t SidecarClient::flush_consumers() {
  std::size_t sent = 0;
  for (auto& [handle, c] : consumers_) {
    if (c.server_consumer == 0) continue;
    if (!c.acks.empty()) {
      flush_acks(c);
      ++sent;
    }
    for (std::size_t at = 0; at < c.progress.size(); at += kMaxAnswerItems) {
      AckFields fields;
      fields.consumer = c.server_consumer;
      const std::size_t n = std::min(c.progress.size() - at, kMaxAnswerItems);
      fields.items.assign(c.progress.begin() + static_cast<std::ptrdiff_t>(at),
                          c.progress.begin() + static_cast<std::ptrdiff_t>(at + n));
      (void)enqueue(make_message(Kind::kProgress, 0, fields), 0, Kind::kProgress, {}, {});
      ++sent;
    }
    c.progress.clear();
    if (!c.fields.ack && c.since_credit > 0 && c.since_credit >= std::max<std::uint32_t>(1, c.fields.credit / 2)) {
      (void)enqueue(make_message(Kind::kCredit, 0, CreditFields{c.server_consumer, c.since_credit}), 0, Kind::kCredit,
                    {}, {});
      c.since_credit = 0;
      ++sent;
    }
  }
  return sent;
}

std::size_t SidecarClient::send_outbox(Clock::TimePoint now) {
  std::size_t sent = 0;
  while (!outbox_.empty()) {
    Outgoing& out = outbox_.front();
    const SendResult result = transport_->send(out.frames);
    if (result == SendResult::kFull) {
      if (!refused_since_) refused_since_ = now;
      if (out.deadline > now) break;
      // Never went out: weftd was not reachable for the whole request timeout.
      if (out.request_id != 0) {
        ++stats_.unsent;
        fail_request(out.request_id,
                     Status::unavailable("weftd at " + transport_->endpoint() + " is not reachable (is it running?)"));
      }
      outbox_.pop_front();
      continue;
    }
    refused_since_.reset();
    if (out.request_id != 0) {
      auto it = waiting_.find(out.request_id);
      if (result == SendResult::kFailed) {
        fail_request(out.request_id, Status::io_error("the transport to weftd failed"));
      } else if (it != waiting_.end()) {
        it->second.sent = true;
      }
    }
    outbox_.pop_front();
    ++sent;
  }
  return sent;
}

void SidecarClient::fail_request(std::uint64_t request_id, const Status& status) {
  auto it = waiting_.find(request_id);
  if (it == waiting_.end()) return;
  Waiting waiting = std::move(it->second);
  waiting_.erase(it);
  if (waiting.on_append) waiting.on_append(status, AppendAck{});
  if (waiting.on_reply) {
    Reply empty;
    waiting.on_reply(status, empty);
  }
}

std::size_t SidecarClient::expire(Clock::TimePoint now) {
  std::vector<std::uint64_t> expired;
  for (const auto& [id, w] : waiting_) {
    if (w.sent && w.deadline <= now) expired.push_back(id);
  }
  for (std::uint64_t id : expired) {
    ++stats_.timeouts;
    fail_request(id, Status::timeout("weftd at " + transport_->endpoint() + " did not answer within " +
                                     std::to_string(options_.request_timeout.count()) + " ms"));
  }
  return expired.size();
}

std::size_t SidecarClient::do_work(Clock::TimePoint now) {
  std::size_t work = 0;
  for (std::size_t i = 0; i < kReceiveBatch; ++i) {
    std::optional<Frames> frames = transport_->receive();
    if (!frames) break;
    const std::uint64_t deliveries = stats_.deliveries;
    dispatch(*frames, now);
    // Answers to a batch go out as soon as it is handled, not after the whole receive loop: weftd sends the
    // next batch while this one's successors are read, instead of waiting for all of them (a replay over ipc
    // lost about a third of its time to that wait).
    if (stats_.deliveries != deliveries) work += flush_consumers();
    ++work;
  }
  work += flush_consumers();
  if (!consumers_.empty() && now >= next_ping_) {
    next_ping_ = now + options_.heartbeat_interval;
    (void)request(Kind::kPing, NoFields{}, [this](const Status& s, Reply& reply) {
      if (s) on_pong(reply.header);
    });
    // A consumer whose start could not be queued (too many requests) is tried again with the heartbeat.
    for (auto& [handle, c] : consumers_) {
      if (c.server_consumer == 0 && !c.starting && !c.awaiting_restart) send_consume(handle);
    }
    ++work;
  }
  work += send_outbox(now);
  work += expire(now);
  return work;
}

Clock::TimePoint SidecarClient::next_deadline() const {
  Clock::TimePoint next = Clock::TimePoint::max();
  if (!outbox_.empty()) {
    const Clock::TimePoint now = clock_.now();
    const auto refused_for = refused_since_ ? now - *refused_since_ : Clock::Duration::zero();
    next = now + std::clamp<Clock::Duration>(refused_for / 2, kRetrySend, kMaxRetrySend);
  }
  if (!consumers_.empty()) next = std::min(next, next_ping_);
  for (const auto& [id, w] : waiting_) next = std::min(next, w.deadline);
  return next;
}

void SidecarClient::dispatch(Frames& frames, Clock::TimePoint /*now*/) {
  if (frames.parts.empty()) return;
  Header header;
  const auto& head = frames.parts.front();
  HeaderResult decoded = decode_header({static_cast<const std::byte*>(head.data()), head.size()}, header);
  if (decoded.error != HeaderError::kNone) {
    ++stats_.malformed;
    if (decoded.request_id != 0) {
      fail_request(decoded.request_id, Status::protocol("weftd's reply does not decode: " + decoded.detail));
    }
    return;
  }
  switch (header.kind) {
    case Kind::kDeliver:
      on_deliver(header, frames);
      return;
    case Kind::kDeliverFile:
      on_deliver_file(header);
      return;
    case Kind::kConsumerEnd:
      on_consumer_end(header);
      return;
    case Kind::kAckReply:
      if (header.request_id == 0) {
        auto reply = fields_as<AckReplyFields>(header);
        if (!reply) {
          ++stats_.malformed;
          return;
        }
        stats_.rejected_acks += reply->rejected.size();
        if (Consumer* c = find_by_server_id(reply->consumer); c != nullptr && c->handlers.on_rejected) {
          for (const Rejection& r : reply->rejected) c->handlers.on_rejected(r);
        }
        return;
      }
      break;
    default:
      break;
  }
  auto it = waiting_.find(header.request_id);
  if (it == waiting_.end()) {
    if (header.request_id != 0) ++stats_.late_replies;
    return;
  }
  Waiting waiting = std::move(it->second);
  waiting_.erase(it);
  if (header.kind == Kind::kError) {
    auto error = fields_as<ErrorFields>(header);
    Status status = error ? status_from_error(*error) : Status::protocol("weftd's error does not decode");
    if (waiting.on_append) waiting.on_append(status, AppendAck{});
    if (waiting.on_reply) {
      Reply reply{std::move(header), std::move(frames)};
      waiting.on_reply(status, reply);
    }
    return;
  }
  if (waiting.on_append) {
    auto appended = header.kind == Kind::kAppended ? fields_as<AppendedFields>(header)
                                                   : Result<AppendedFields>(Status::protocol("an append got a reply of kind " +
                                                                                            std::string(kind_name(header.kind))));
    if (!appended) {
      ++stats_.malformed;
      waiting.on_append(appended.status(), AppendAck{});
    } else {
      waiting.on_append(Status::ok(), AppendAck{appended->stream, appended->first_offset, appended->last_offset});
    }
  }
  if (waiting.on_reply) {
    Reply reply{std::move(header), std::move(frames)};
    waiting.on_reply(Status::ok(), reply);
  }
}

SidecarClient::Consumer* SidecarClient::find_by_server_id(std::uint64_t server_consumer, std::uint64_t* handle) {
  if (server_consumer == 0) return nullptr;
  for (auto& [h, c] : consumers_) {
    if (c.server_consumer == server_consumer) {
      if (handle != nullptr) *handle = h;
      return &c;
    }
  }
  return nullptr;
}

void SidecarClient::on_deliver(const Header& header, Frames& frames) {
  auto deliver = fields_as<DeliverFields>(header);
  if (!deliver) {
    ++stats_.malformed;
    return;
  }
  const bool packed = deliver->packed != 0;
  if (packed ? (!deliver->items.empty() || frames.body_size() != 1 ||
                !check_packed_body(frames.body(0), deliver->packed).empty())
             : deliver->items.size() != frames.body_size()) {
    ++stats_.malformed;  // nothing of it is handed over: weftd delivers it again after the ack wait
    return;
  }
  std::uint64_t handle = 0;
  if (find_by_server_id(deliver->consumer, &handle) == nullptr) return;  // left already: weftd redelivers
  if (packed) {
    PackedDeliveryReader reader(frames.body(0));
    DeliveryItem item;
    std::span<const std::byte> envelope;
    while (reader.next(item, envelope)) {
      if (!hand_over(handle, item, envelope)) return;
    }
    return;
  }
  for (std::size_t i = 0; i < deliver->items.size(); ++i) {
    if (!hand_over(handle, deliver->items[i], frames.body(i))) return;
  }
}

void SidecarClient::on_deliver_file(const Header& header) {
  auto range = fields_as<DeliverFileFields>(header);
  if (!range) {
    ++stats_.malformed;
    return;
  }
  std::uint64_t handle = 0;
  Consumer* c = find_by_server_id(range->consumer, &handle);
  if (c == nullptr) return;  // left already: weftd sends them again
  std::uint64_t failed_at = range->first_offset;
  std::string why;
  if (!c->local_read) {
    why = "this client did not ask to read segment files";
  } else if (range->end_offset <= range->first_offset || range->start_position > range->end_position) {
    ++stats_.malformed;
    why = "an empty or inverted range";
  } else {
    why = read_file_range(handle, *range, &failed_at);
  }
  if (why.empty()) return;
  // Nothing from failed_at on was handed over: weftd sends it again, as copies, and no more DELIVER_FILE.
  ++stats_.read_failures;
  if (auto it = consumers_.find(handle); it != consumers_.end()) it->second.local_read = false;
  ReadFailedFields failed{range->consumer, failed_at, range->end_offset, std::move(why)};
  (void)enqueue(make_message(Kind::kReadFailed, 0, failed), 0, Kind::kReadFailed, {}, {});
}

std::string SidecarClient::read_file_range(std::uint64_t handle, const DeliverFileFields& range,
                                           std::uint64_t* failed_at) {
  // Opened for each range (a few microseconds against the thousands of records it holds): a file kept open
  // would keep a segment that retention deleted on the disk for as long as the consumer stays idle.
  log::FileSystem* fs = options_.file_system;
  if (fs == nullptr) {
    if (!own_file_system_) own_file_system_ = std::make_unique<log::PosixFileSystem>();
    fs = own_file_system_.get();
  }
  auto opened = fs->open(range.path, log::OpenMode::kRead);
  if (!opened) return "opening " + range.path + ": " + opened.status().message();
  const std::unique_ptr<log::File> file = std::move(*opened);
  std::uint64_t position = range.start_position;
  if (range.path == resume_.path && range.first_offset == resume_.offset && resume_.position > position &&
      resume_.position <= range.end_position) {
    position = resume_.position;  // where the last range ended: no stepping over records from an index point
  }
  log::RecordScanner scanner(*file, position, range.end_position, log::kMaxRecordLength);
  ResumePoint reached{range.path, 0, 0};  // kept once the walk is over: a handler may step the client meanwhile
  std::string why = [&]() -> std::string {
    for (std::uint64_t expected = range.first_offset; expected < range.end_offset;) {
      *failed_at = expected;
      const log::RecordScanner::Step step = scanner.next();
      if (step == log::RecordScanner::Step::kError) return scanner.error().message();
      if (step == log::RecordScanner::Step::kEnd) return range.path + " ends before offset " + std::to_string(expected);
      if (step != log::RecordScanner::Step::kRecord) {
        return range.path + ", byte " + std::to_string(scanner.record_position()) + ": " +
               std::string(scanner.reason());
      }
      const log::RecordView& record = scanner.record();
      if (record.offset < expected) continue;  // between the index point and the range
      if (record.offset != expected) {
        return range.path + ": offset " + std::to_string(expected) + " is missing (the next record is " +
               std::to_string(record.offset) + ")";
      }
      reached.offset = expected + 1;
      reached.position = scanner.position();
      if (record.removed()) {  // compaction left only its offset: nothing to hand over, and settled at once
        (void)ack(handle, record.offset, 1);
        ++expected;
        continue;
      }
      ++stats_.deliveries_read;
      if (!hand_over(handle, DeliveryItem{record.offset, 1, record.timestamp}, record.value)) return {};
      ++expected;
    }
    return {};
  }();
  resume_ = std::move(reached);
  return why;
}

bool SidecarClient::hand_over(std::uint64_t handle, const DeliveryItem& item, std::span<const std::byte> envelope) {
  auto it = consumers_.find(handle);
  if (it == consumers_.end()) return false;  // the last handler ended the consumer
  Consumer& c = it->second;
  ++stats_.deliveries;
  if (!c.last_offset || item.offset > *c.last_offset) c.last_offset = item.offset;
  if (!c.fields.ack) ++c.since_credit;
  if (c.handlers.on_message) c.handlers.on_message(Delivery{handle, item.offset, item.attempt, item.timestamp_ns, envelope});
  return true;
}

void SidecarClient::on_consumer_end(const Header& header) {
  auto end = fields_as<ConsumerEndFields>(header);
  if (!end) {
    ++stats_.malformed;
    return;
  }
  std::uint64_t handle = 0;
  Consumer* c = find_by_server_id(end->consumer, &handle);
  if (c == nullptr) return;
  if (static_cast<ErrorKind>(end->code) == ErrorKind::kStopping) {
    // weftd is shutting down: keep the consumer and start it again when a new weftd answers a ping.
    c->server_consumer = 0;
    c->awaiting_restart = true;
    c->acks.clear();
    c->progress.clear();
    c->since_credit = 0;
    return;
  }
  auto on_end = std::move(c->handlers.on_end);
  consumers_.erase(handle);
  if (on_end) on_end(status_from_error(ErrorFields{end->code, end->message}));
}

void SidecarClient::on_pong(const Header& header) {
  auto pong = fields_as<PongFields>(header);
  if (!pong) {
    ++stats_.malformed;
    return;
  }
  note_server(pong->server_id);
}

void SidecarClient::note_server(const std::string& server_id, std::uint64_t answered) {
  if (server_id.empty() || server_id == server_id_) return;
  const bool restarted = !server_id_.empty();
  server_id_ = server_id;
  if (!restarted) return;
  // weftd restarted: the memberships the old one held are gone with it. Start those consumers again (one that
  // the new weftd just answered is started already).
  ++stats_.restarts_seen;
  resume_ = {};  // the new weftd may have cut and rewritten the files (recovery)
  std::vector<std::uint64_t> again;
  for (auto& [handle, c] : consumers_) {
    if (handle == answered || c.starting || (c.server_consumer == 0 && !c.awaiting_restart)) continue;
    c.acks.clear();  // answers to the old weftd's deliveries: they will be delivered again
    c.progress.clear();
    c.since_credit = 0;
    again.push_back(handle);
  }
  for (std::uint64_t handle : again) send_consume(handle);
}

bool SidecarClient::run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = clock_.now() + timeout;
  for (;;) {
    do_work(clock_.now());
    if (done()) return true;
    const auto now = clock_.now();
    if (now >= deadline) return false;
    auto wake = std::min(deadline, next_deadline());
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now);
    wait = std::clamp(wait, std::chrono::milliseconds(0), std::chrono::milliseconds(50));
    transport_->wait_readable(wait);
  }
}

Result<AppendAck> SidecarClient::append_wait(std::string_view subject,
                                             std::span<const std::span<const std::byte>> envelopes,
                                             std::chrono::milliseconds timeout) {
  std::optional<Result<AppendAck>> out;
  Status queued = append(subject, envelopes, [&](const Status& s, const AppendAck& a) {
    out.emplace(s.is_ok() ? Result<AppendAck>(a) : Result<AppendAck>(s));
  });
  if (!queued) return queued;
  if (!run_until([&] { return out.has_value(); }, timeout + std::chrono::milliseconds(100))) {
    return Status::timeout("no answer from weftd at " + transport_->endpoint());
  }
  return std::move(*out);
}

}  // namespace weft::detail::sidecar
