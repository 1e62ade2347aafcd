#include "stream.hpp"

#include <algorithm>

#include "codec/envelope.hpp"
#include "reliable/dead_letter_codec.hpp"
#include "log/file_system.hpp"
#include "sidecar/sidecar_codec.hpp"
#include "state_file.hpp"
#include "weft/subject.hpp"

namespace weft::detail::weftd {

namespace {

struct ConsumerFile {
  std::vector<ConsumerState> consumers;
  MSGPACK_DEFINE_MAP(consumers)
};

}  // namespace

Status remove_tree(log::FileSystem& fs, const std::string& dir) {
  auto names = fs.list_dir(dir);
  if (!names) return names.status().code() == ErrorCode::kNotFound ? Status::ok() : names.status();
  for (const std::string& name : *names) {
    Status s = fs.remove(log::join_path(dir, name));
    if (!s && s.code() != ErrorCode::kNotFound) return s;
  }
  // The directory itself stays (the FileSystem seam has no rmdir); an empty directory holds no stream.
  return fs.sync_dir(dir);
}

StreamPaths StreamPaths::of(const std::string& data_dir, const std::string& name) {
  return {log::join_path(log::join_path(data_dir, "streams"), name),
          log::join_path(log::join_path(data_dir, "dead-letters"), name),
          log::join_path(log::join_path(data_dir, "consumers"), name + ".state")};
}

Result<std::unique_ptr<Stream>> Stream::open(StreamEnvironment& env, sidecar::StreamConfig config,
                                             StreamOrigin origin) {
  if (Status s = config.validate(); !s) return s;
  StreamPaths paths = StreamPaths::of(env.data_dir, config.name);
  auto log = log::Log::open(env.fs, env.clock, paths.log_dir, config.log_options());
  if (!log) return log.status().with_context("stream '" + config.name + "'");
  auto dead_letters = log::Log::open(env.fs, env.clock, paths.dead_letter_dir, config.dead_letter_log_options());
  if (!dead_letters) return dead_letters.status().with_context("the dead-letter stream of '" + config.name + "'");
  std::unique_ptr<Stream> stream(
      new Stream(env, std::move(config), origin, std::move(paths), std::move(*log), std::move(*dead_letters)));
  if (Status s = stream->load_consumers(); !s) return s.with_context("stream '" + stream->name() + "'");
  return stream;
}

Stream::Stream(StreamEnvironment& env, sidecar::StreamConfig config, StreamOrigin origin, StreamPaths paths,
               std::unique_ptr<log::Log> log, std::unique_ptr<log::Log> dead_letters)
    : env_(env),
      config_(std::move(config)),
      origin_(origin),
      paths_(std::move(paths)),
      log_(std::move(log)),
      dead_letters_(std::move(dead_letters)) {}

Stream::~Stream() {
  (void)stop("weftd is stopping");
}

bool Stream::takes(std::string_view subject) const {
  return std::any_of(config_.subjects.begin(), config_.subjects.end(),
                     [&](const std::string& pattern) { return subject_matches(pattern, subject); });
}

Result<log::AppendResult> Stream::append(std::span<const log::RecordInput> records, std::int64_t timestamp_ns,
                                         log::DurableCallback done) {
  return log_->append(records, timestamp_ns, std::move(done));
}

Status Stream::health() const {
  return log_->health();
}

Status Stream::load_consumers() {
  auto body = read_state_file(env_.fs, paths_.consumer_state, kConsumersMagic);
  if (!body) return body.status();
  if (!body->has_value()) return Status::ok();
  ConsumerFile file;
  try {
    msgpack::object_handle handle =
        msgpack::unpack(reinterpret_cast<const char*>((*body)->data()), (*body)->size());
    handle.get().convert(file);
  } catch (const std::exception& e) {
    return Status::corruption("consumer state " + paths_.consumer_state + " does not decode: " + e.what());
  }
  for (const ConsumerState& state : file.consumers) {
    if (!sidecar::validate_name("a consumer name", state.name)) continue;
    named_[state.name] = std::make_unique<Consumer>(state, *log_, env_.host, dead_letter_fn());
  }
  return Status::ok();
}

Status Stream::save_consumers() {
  ConsumerFile file;
  for (const auto& [name, consumer] : named_) {
    (void)consumer->take_dirty();
    file.consumers.push_back(consumer->state());
  }
  consumers_dirty_ = false;
  msgpack::sbuffer buffer;
  msgpack::pack(buffer, file);
  if (Status s = env_.fs.make_dir(log::join_path(env_.data_dir, "consumers")); !s) return s;
  Status s = write_state_file(env_.fs, paths_.consumer_state, kConsumersMagic,
                              {reinterpret_cast<const std::byte*>(buffer.data()), buffer.size()});
  if (!s) {
    consumers_dirty_ = true;  // written afresh next time (a new temporary file: never a retried fsync)
    env_.logger.error("stream '" + name() + "': cannot store its consumers' acknowledged offsets: " + s.to_string());
  }
  return s;
}

DeadLetterFn Stream::dead_letter_fn() {
  return [this](const DeadLetterRequest& request, std::function<void(const Status&)> done) {
    return dead_letter(request, std::move(done));
  };
}

Status Stream::dead_letter(const DeadLetterRequest& request, std::function<void(const Status&)> done) {
  DeadLetter record;
  std::vector<HeaderRef> scratch;
  EnvelopeView view;
  std::size_t at = 0;
  if (decode_envelope(request.envelope, at, view, scratch).ok()) record.subject = std::string(view.subject);
  record.consumer = request.consumer;
  record.deliveries = request.deliveries;
  record.last_error = request.last_error;
  record.time_ns = env_.clock.wall_ns();
  record.envelope = std::make_shared<const ByteBuffer>(request.envelope.begin(), request.envelope.end());
  record.source_stream = name();
  record.source_offset = request.offset;
  const std::vector<std::byte> value = encode_dead_letter(record);
  const log::RecordInput input{value, std::nullopt};
  auto appended = dead_letters_->append(std::span(&input, 1), record.time_ns,
                                        [this, done = std::move(done), offset = request.offset](
                                            const Status& s, const log::AppendResult&) {
                                          if (!s) {
                                            env_.logger.error("stream '" + name() + "': offset " +
                                                              std::to_string(offset) +
                                                              " could not be dead-lettered and stays parked: " +
                                                              s.to_string());
                                          }
                                          done(s);
                                        });
  if (!appended) {
    env_.logger.error("stream '" + name() + "': offset " + std::to_string(request.offset) +
                      " could not be dead-lettered and stays parked: " + appended.status().to_string());
    return appended.status();
  }
  return Status::ok();
}

Result<std::uint64_t> Stream::start_offset(const sidecar::ConsumeFields& fields) const {
  const std::string& start = fields.start;
  if (start == sidecar::kStartFirst) return log_->first_offset();
  if (start == sidecar::kStartNew) return log_->end_offset();
  if (start == sidecar::kStartLast) {
    auto last = log_->last_offset();
    return last ? *last : log_->end_offset();
  }
  if (start == sidecar::kStartOffset) {
    if (fields.offset > log_->end_offset()) {
      return Status::invalid_argument("offset " + std::to_string(fields.offset) + " is past the end of stream '" +
                                      name() + "' (" + std::to_string(log_->end_offset()) + ")");
    }
    return std::max(fields.offset, log_->first_offset());  // before the first: what is left
  }
  if (start == sidecar::kStartTime) return log_->find_offset_for_time(fields.time_ns);
  return Status::invalid_argument("start '" + start + "' is not first, last, new, offset or time");
}

Result<Attached> Stream::attach(const sidecar::ConsumeFields& fields, const MemberRef& member, Clock::TimePoint now) {
  if (!fields.durable.empty() && !fields.group.empty()) {
    return Status::invalid_argument("give durable or group, not both");
  }
  const std::string& name = fields.durable.empty() ? fields.group : fields.durable;
  if (!name.empty()) {
    if (Status s = sidecar::validate_name("a consumer name", name); !s) return s;
  }
  if (!fields.ack && !name.empty()) {
    return Status::invalid_argument("a durable or group consumer acknowledges its messages (ack must be true)");
  }
  if (fields.credit == 0 || fields.credit > sidecar::kMaxCredit) {
    return Status::invalid_argument("credit must lie in [1, " + std::to_string(sidecar::kMaxCredit) + "]");
  }
  if (fields.ack_wait_ms == 0) return Status::invalid_argument("ack_wait_ms must be at least 1");
  const ConsumerKind kind = !fields.durable.empty() ? ConsumerKind::kDurable
                            : !fields.group.empty() ? ConsumerKind::kGroup
                                                    : ConsumerKind::kEphemeral;
  Attached attached;
  if (kind == ConsumerKind::kEphemeral) {
    auto start = start_offset(fields);
    if (!start) return start.status();
    ConsumerSettings settings{kind, "", fields.ack, std::chrono::milliseconds(fields.ack_wait_ms), fields.max_deliver};
    auto consumer = std::make_unique<Consumer>(settings, *start, *log_, env_.host, dead_letter_fn());
    attached.consumer = consumer.get();
    attached.start_offset = *start;
    ephemeral_[member.id] = std::move(consumer);
  } else {
    auto it = named_.find(name);
    if (it != named_.end()) {
      if (it->second->settings().kind != kind) {
        return Status::invalid_argument("consumer '" + name + "' of stream '" + this->name() + "' is a " +
                                        std::string(consumer_kind_name(it->second->settings().kind)) +
                                        " consumer, not a " + std::string(consumer_kind_name(kind)) + " one");
      }
      it->second->update_settings(std::chrono::milliseconds(fields.ack_wait_ms), fields.max_deliver);
      attached.resumed = true;
      attached.start_offset = it->second->ack_floor();  // everything unacknowledged from here comes (again)
    } else {
      auto start = start_offset(fields);
      if (!start) return start.status();
      ConsumerSettings settings{kind, name, true, std::chrono::milliseconds(fields.ack_wait_ms), fields.max_deliver};
      it = named_.emplace(name, std::make_unique<Consumer>(settings, *start, *log_, env_.host, dead_letter_fn()))
               .first;
      attached.start_offset = *start;
      consumers_dirty_ = true;
    }
    attached.consumer = it->second.get();
  }
  attached.consumer->add_member(member, fields.credit, now);
  // A durable consumer's previous member was ended by add_member: forget it here too.
  for (auto m = members_.begin(); m != members_.end();) {
    m = (m->second == attached.consumer && !attached.consumer->has_member(m->first)) ? members_.erase(m)
                                                                                      : std::next(m);
  }
  members_[member.id] = attached.consumer;
  if (consumers_dirty_) (void)save_consumers();  // a new durable consumer exists from its first reply on
  return attached;
}

void Stream::detach(std::uint64_t member_id, Clock::TimePoint now) {
  auto it = members_.find(member_id);
  if (it == members_.end()) return;
  Consumer* consumer = it->second;
  members_.erase(it);
  consumer->remove_member(member_id, now);
  ephemeral_.erase(member_id);  // an ephemeral consumer is gone with its member
}

Consumer* Stream::consumer_of(std::uint64_t member_id) const {
  auto it = members_.find(member_id);
  return it == members_.end() ? nullptr : it->second;
}

void Stream::check_health() {
  if (!failure_reported_) {
    if (Status s = log_->health(); !s) {
      failure_reported_ = true;
      env_.logger.error("STREAM '" + name() + "' FAILED and acknowledges nothing more: " + s.to_string() +
                        ". Its acknowledged messages stay readable. The fsync is never retried: restart weftd to "
                        "recover the stream (the messages written after the last good fsync were never "
                        "acknowledged), or move it to healthy storage.");
    }
  }
  if (!dead_letter_failure_reported_) {
    if (Status s = dead_letters_->health(); !s) {
      dead_letter_failure_reported_ = true;
      env_.logger.error("the dead-letter stream of '" + name() + "' FAILED: " + s.to_string() +
                        ". Messages that run out of deliveries stay parked until weftd restarts.");
    }
  }
}

std::size_t Stream::do_work(Clock::TimePoint now) {
  if (stopped_) return 0;
  std::size_t work = static_cast<std::size_t>(log_->do_work(now));
  work += static_cast<std::size_t>(dead_letters_->do_work(now));
  check_health();
  for (auto& [name, consumer] : named_) {
    work += consumer->do_work(now);
    if (consumer->take_dirty()) consumers_dirty_ = true;
  }
  for (auto& [id, consumer] : ephemeral_) work += consumer->do_work(now);
  if (consumers_dirty_ && now >= next_flush_) {
    next_flush_ = now + env_.consumer_flush_interval;
    (void)save_consumers();
    ++work;
  }
  return work;
}

std::optional<Clock::TimePoint> Stream::next_deadline(Clock::TimePoint now) const {
  if (stopped_) return std::nullopt;
  std::optional<Clock::TimePoint> next;
  auto take = [&](std::optional<Clock::TimePoint> t) {
    if (t && (!next || *t < *next)) next = t;
  };
  take(log_->next_deadline());
  take(dead_letters_->next_deadline());
  for (const auto& [name, consumer] : named_) take(consumer->next_deadline(now));
  for (const auto& [id, consumer] : ephemeral_) take(consumer->next_deadline(now));
  if (consumers_dirty_) take(next_flush_);
  return next;
}

Result<std::size_t> Stream::apply_retention(std::int64_t now_ns) {
  auto data = log_->apply_retention(now_ns);
  if (!data) return data.status().with_context("stream '" + name() + "'");
  auto letters = dead_letters_->apply_retention(now_ns);
  if (!letters) return letters.status().with_context("the dead-letter stream of '" + name() + "'");
  if (data->segments_deleted > 0) {
    env_.logger.log(LogLevel::kInfo, "stream '" + name() + "': retention deleted " +
                                         std::to_string(data->segments_deleted) + " segment(s), " +
                                         std::to_string(data->bytes_deleted) + " bytes; it now starts at offset " +
                                         std::to_string(data->first_offset));
  }
  if (config_.compact) {
    constexpr std::int64_t kHourNs = 3'600'000'000'000;
    const std::uint64_t rolls = log_->stats().segments_rolled;
    if (!compacted_at_rolls_ || *compacted_at_rolls_ != rolls || now_ns - compacted_at_ns_ >= kHourNs) {
      auto compacted = log_->compact(now_ns);
      if (!compacted) return compacted.status().with_context("compacting stream '" + name() + "'");
      compacted_at_rolls_ = rolls;
      compacted_at_ns_ = now_ns;
      for (const std::string& why : compacted->skipped) {
        env_.logger.warn("stream '" + name() + "': compaction left a segment as it was: " + why);
      }
      if (compacted->records_removed > 0) {
        env_.logger.log(LogLevel::kInfo,
                        "stream '" + name() + "': compaction removed " + std::to_string(compacted->records_removed) +
                            " superseded message(s) from " + std::to_string(compacted->segments_rewritten) +
                            " segment(s), " + std::to_string(compacted->bytes_reclaimed) + " bytes");
      }
    }
  }
  return data->segments_deleted + letters->segments_deleted;
}

sidecar::StreamInfo Stream::info() const {
  sidecar::StreamInfo i;
  i.config = config_;
  i.origin = origin_ == StreamOrigin::kConfig ? "config" : "added";
  i.first_offset = log_->first_offset();
  i.end_offset = log_->end_offset();
  i.last_offset = log_->last_offset();
  i.messages = i.end_offset - i.first_offset;
  i.segments = static_cast<std::uint32_t>(log_->segment_count());
  i.bytes = log_->size_bytes();
  const Status h = log_->health();
  i.health = h ? "ok" : h.to_string();
  i.recovery = log_->recovery_report().describe();
  i.dead_letters = dead_letters_->end_offset() - dead_letters_->first_offset();
  for (const auto& [name, consumer] : named_) i.consumers.push_back(consumer->info(i.end_offset));
  for (const auto& [id, consumer] : ephemeral_) i.consumers.push_back(consumer->info(i.end_offset));
  return i;
}

Result<std::uint64_t> Stream::purge_dead_letters() {
  const std::uint64_t count = dead_letters_->end_offset() - dead_letters_->first_offset();
  if (Status s = dead_letters_->stop(); !s) return s;
  dead_letters_.reset();
  if (Status s = remove_tree(env_.fs, paths_.dead_letter_dir); !s) return s;
  auto reopened = log::Log::open(env_.fs, env_.clock, paths_.dead_letter_dir, config_.dead_letter_log_options());
  if (!reopened) return reopened.status();
  dead_letters_ = std::move(*reopened);
  dead_letter_failure_reported_ = false;
  return count;
}

Status Stream::stop(const std::string& why) {
  if (stopped_) return Status::ok();
  stopped_ = true;
  for (auto& [name, consumer] : named_) consumer->end_all(sidecar::ErrorKind::kStopping, why);
  for (auto& [id, consumer] : ephemeral_) consumer->end_all(sidecar::ErrorKind::kStopping, why);
  members_.clear();
  Status status = log_->stop();
  // Dead letters durable first, so that what they settle is stored as settled.
  Status letters = dead_letters_ ? dead_letters_->stop() : Status::ok();
  for (auto& [name, consumer] : named_) {
    if (consumer->take_dirty()) consumers_dirty_ = true;
  }
  Status saved = consumers_dirty_ ? save_consumers() : Status::ok();
  if (!status) return status.with_context("stream '" + name() + "'");
  if (!letters) return letters.with_context("the dead-letter stream of '" + name() + "'");
  return saved;
}

Status Stream::destroy() {
  for (auto& [name, consumer] : named_) consumer->end_all(sidecar::ErrorKind::kNoStream, "stream removed");
  for (auto& [id, consumer] : ephemeral_) consumer->end_all(sidecar::ErrorKind::kNoStream, "stream removed");
  (void)stop("stream removed");
  named_.clear();
  ephemeral_.clear();
  if (Status s = remove_tree(env_.fs, paths_.log_dir); !s) return s;
  if (Status s = remove_tree(env_.fs, paths_.dead_letter_dir); !s) return s;
  Status s = env_.fs.remove(paths_.consumer_state);
  if (!s && s.code() != ErrorCode::kNotFound) return s;
  return Status::ok();
}

}  // namespace weft::detail::weftd
