#include "stream_manager.hpp"

#include "state_file.hpp"
#include "weft/subject.hpp"

namespace weft::detail::weftd {

namespace {

struct AddedStreams {
  std::vector<sidecar::StreamConfig> streams;
  MSGPACK_DEFINE_MAP(streams)
};

std::string streams_state_path(const std::string& data_dir) {
  return log::join_path(data_dir, "streams.state");
}

}  // namespace

StreamManager::StreamManager(log::FileSystem& fs, const Clock& clock, const Logger& logger, ConsumerHost& host,
                             StreamManagerOptions options)
    : fs_(fs),
      clock_(clock),
      logger_(logger),
      options_(std::move(options)),
      env_{fs, clock, logger, host, options_.data_dir, options_.consumer_flush_interval} {}

StreamManager::~StreamManager() {
  (void)stop();
}

Status StreamManager::check_overlap(const sidecar::StreamConfig& config) const {
  for (const auto& [name, entry] : entries_) {
    if (name == config.name) continue;
    for (const std::string& mine : config.subjects) {
      for (const std::string& theirs : entry.config.subjects) {
        if (weft::patterns_overlap(mine, theirs)) {
          return Status::invalid_argument("subjects '" + mine + "' of stream '" + config.name + "' overlap '" +
                                          theirs + "' of stream '" + name + "': a subject belongs to one stream");
        }
      }
    }
  }
  return Status::ok();
}

void StreamManager::open_entry(Entry& entry) {
  auto opened = Stream::open(env_, entry.config, entry.origin);
  if (!opened) {
    entry.failure = opened.status();
    logger_.error("stream '" + entry.config.name + "' is UNAVAILABLE: " + entry.failure.to_string());
    return;
  }
  entry.stream = std::move(*opened);
  entry.failure = Status::ok();
  const log::RecoveryReport& report = entry.stream->log().recovery_report();
  std::string summary = "stream '" + entry.config.name + "': " +
                        (report.created ? std::string("created") : "recovered " + std::to_string(report.segments) +
                                                                       " segment(s)") +
                        ", offsets " + std::to_string(entry.stream->log().first_offset()) + " to " +
                        std::to_string(entry.stream->log().end_offset()) + ", fsync " + entry.config.fsync;
  logger_.log(LogLevel::kInfo, summary + (report.clean() ? ", clean" : ""));
  for (const std::string& line : report.describe()) {
    if (line == "created an empty log") continue;
    const bool serious = line.rfind("kept damaged data", 0) == 0;
    logger_.log(serious ? LogLevel::kError : LogLevel::kWarning,
                "stream '" + entry.config.name + "' recovery: " + line);
  }
  for (const std::string& line : entry.stream->dead_letters().recovery_report().describe()) {
    if (line == "created an empty log") continue;
    logger_.log(LogLevel::kWarning, "the dead-letter stream of '" + entry.config.name + "' recovery: " + line);
  }
}

Status StreamManager::open(const std::vector<sidecar::StreamConfig>& configured) {
  for (const sidecar::StreamConfig& config : configured) {
    if (Status s = config.validate(); !s) return s.with_context("in the config file");
    if (entries_.count(config.name) != 0) {
      return Status::invalid_argument("stream '" + config.name + "' is defined twice in the config file");
    }
    if (Status s = check_overlap(config); !s) return s.with_context("in the config file");
    entries_[config.name] = Entry{config, StreamOrigin::kConfig, nullptr, Status::ok()};
  }
  auto body = read_state_file(fs_, streams_state_path(options_.data_dir), kStreamsMagic);
  if (!body) return body.status().with_context("while reading the streams added with `weft stream add`");
  if (body->has_value()) {
    AddedStreams added;
    try {
      msgpack::object_handle handle =
          msgpack::unpack(reinterpret_cast<const char*>((*body)->data()), (*body)->size());
      handle.get().convert(added);
    } catch (const std::exception& e) {
      return Status::corruption(std::string("streams.state does not decode: ") + e.what());
    }
    for (const sidecar::StreamConfig& config : added.streams) {
      auto it = entries_.find(config.name);
      if (it != entries_.end()) {
        if (!(it->second.config == config)) {
          logger_.warn("stream '" + config.name + "' is in the config file and was added with `weft stream add`: "
                       "the config file's definition is used");
        }
        continue;
      }
      if (Status s = check_overlap(config); !s) {
        logger_.error("stream '" + config.name + "' (added before) is not opened: " + s.to_string());
        entries_[config.name] = Entry{config, StreamOrigin::kAdded, nullptr, s};
        continue;
      }
      entries_[config.name] = Entry{config, StreamOrigin::kAdded, nullptr, Status::ok()};
    }
  }
  for (auto& [name, entry] : entries_) {
    if (entry.failure.is_ok()) open_entry(entry);
  }
  // Like a stream that cannot be opened, nodes' dead letters that cannot be kept do not stop weftd: nodes
  // are refused and keep their dead letters themselves.
  auto letters = NodeDeadLetters::open(fs_, clock_, options_.data_dir);
  if (letters) {
    node_dead_letters_ = std::move(*letters);
    for (const std::string& line : node_dead_letters_->log().recovery_report().describe()) {
      if (line == "created an empty log") continue;
      logger_.log(LogLevel::kWarning, "nodes' dead letters recovery: " + line);
    }
  } else {
    node_dead_letters_failure_ = letters.status();
    logger_.error("nodes' dead letters are UNAVAILABLE (nodes keep their own): " + letters.status().to_string());
  }
  next_retention_ = clock_.now();  // once at start, then on the timer
  return Status::ok();
}

Stream* StreamManager::find(std::string_view name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : it->second.stream.get();
}

Stream* StreamManager::resolve(std::string_view subject, const Status** unavailable) const {
  for (const auto& [name, entry] : entries_) {
    for (const std::string& pattern : entry.config.subjects) {
      if (!subject_matches(pattern, subject)) continue;
      if (!entry.stream && unavailable != nullptr) *unavailable = &entry.failure;
      return entry.stream.get();
    }
  }
  return nullptr;
}

std::vector<Stream*> StreamManager::streams() const {
  std::vector<Stream*> out;
  for (const auto& [name, entry] : entries_) {
    if (entry.stream) out.push_back(entry.stream.get());
  }
  return out;
}

std::vector<std::pair<sidecar::StreamConfig, Status>> StreamManager::unavailable() const {
  std::vector<std::pair<sidecar::StreamConfig, Status>> out;
  for (const auto& [name, entry] : entries_) {
    if (!entry.stream) out.emplace_back(entry.config, entry.failure);
  }
  return out;
}

Status StreamManager::save_added() const {
  AddedStreams added;
  for (const auto& [name, entry] : entries_) {
    if (entry.origin == StreamOrigin::kAdded) added.streams.push_back(entry.config);
  }
  msgpack::sbuffer buffer;
  msgpack::pack(buffer, added);
  return write_state_file(fs_, streams_state_path(options_.data_dir), kStreamsMagic,
                          {reinterpret_cast<const std::byte*>(buffer.data()), buffer.size()});
}

Result<Stream*> StreamManager::add(sidecar::StreamConfig config) {
  if (stopped_) return Status::closed("weftd is stopping");
  if (Status s = config.validate(); !s) return s;
  if (auto it = entries_.find(config.name); it != entries_.end()) {
    if (it->second.config == config && it->second.stream) return it->second.stream.get();
    return Status(ErrorCode::kInvalidArgument,
                  "stream '" + config.name + "' exists already" +
                      (it->second.origin == StreamOrigin::kConfig ? " (in the config file)" : "") +
                      " with another definition; remove it first");
  }
  if (Status s = check_overlap(config); !s) return s;
  Entry entry{config, StreamOrigin::kAdded, nullptr, Status::ok()};
  auto opened = Stream::open(env_, config, StreamOrigin::kAdded);
  if (!opened) return opened.status();
  entry.stream = std::move(*opened);
  Stream* stream = entry.stream.get();
  entries_[config.name] = std::move(entry);
  // Stored only once its files exist: a crash in between leaves an unused directory, never a dangling name.
  if (Status s = save_added(); !s) {
    entries_.erase(config.name);
    return s.with_context("while storing the stream's definition");
  }
  logger_.log(LogLevel::kInfo, "stream '" + config.name + "' added");
  return stream;
}

Status StreamManager::remove(std::string_view name) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return Status::not_found("no stream '" + std::string(name) + "'");
  if (it->second.origin == StreamOrigin::kConfig) {
    return Status::invalid_argument("stream '" + std::string(name) +
                                    "' is defined in weftd's config file: remove it there and restart weftd");
  }
  Entry entry = std::move(it->second);
  entries_.erase(it);
  // The definition goes first: a crash after it leaves files no stream names (harmless), never a stream
  // without its files.
  if (Status s = save_added(); !s) {
    entries_[entry.config.name] = std::move(entry);
    return s.with_context("while removing the stream's definition");
  }
  if (entry.stream) {
    if (Status s = entry.stream->destroy(); !s) {
      logger_.error("stream '" + entry.config.name + "' removed, but deleting its files failed: " + s.to_string());
    }
  }
  logger_.log(LogLevel::kInfo, "stream '" + entry.config.name + "' removed");
  return Status::ok();
}

std::size_t StreamManager::apply_retention() {
  std::size_t deleted = 0;
  const std::int64_t now_ns = clock_.wall_ns();
  for (const auto& [name, entry] : entries_) {
    if (!entry.stream) continue;
    auto result = entry.stream->apply_retention(now_ns);
    if (!result) {
      logger_.error("retention: " + result.status().to_string());
      continue;
    }
    deleted += *result;
  }
  if (node_dead_letters_) {
    auto result = node_dead_letters_->apply_retention(now_ns);
    if (result) {
      deleted += *result;
    } else {
      logger_.error("retention: " + result.status().to_string());
    }
  }
  return deleted;
}

std::size_t StreamManager::do_work(Clock::TimePoint now) {
  if (stopped_) return 0;
  std::size_t work = 0;
  for (const auto& [name, entry] : entries_) {
    if (entry.stream) work += entry.stream->do_work(now);
  }
  if (node_dead_letters_) {
    work += node_dead_letters_->do_work(now);
    if (Status s = node_dead_letters_->health(); !s && !node_dead_letter_failure_reported_) {
      node_dead_letter_failure_reported_ = true;
      logger_.error("nodes' dead letters FAILED: " + s.to_string() + ". Nodes are refused (they keep their dead "
                    "letters themselves) until weftd restarts.");
    }
  }
  if (now >= next_retention_) {
    next_retention_ = now + options_.retention_interval;
    work += apply_retention();
  }
  return work;
}

std::optional<Clock::TimePoint> StreamManager::next_deadline(Clock::TimePoint now) const {
  if (stopped_) return std::nullopt;
  std::optional<Clock::TimePoint> next = next_retention_;
  for (const auto& [name, entry] : entries_) {
    if (!entry.stream) continue;
    auto t = entry.stream->next_deadline(now);
    if (t && *t < *next) next = t;
  }
  if (node_dead_letters_) {
    auto t = node_dead_letters_->next_deadline();
    if (t && *t < *next) next = t;
  }
  return next;
}

Status StreamManager::stop() {
  if (stopped_) return Status::ok();
  stopped_ = true;
  Status first;
  for (auto& [name, entry] : entries_) {
    if (!entry.stream) continue;
    Status s = entry.stream->stop("weftd is stopping");
    if (!s && first.is_ok()) first = s;
  }
  if (node_dead_letters_) {
    Status s = node_dead_letters_->stop();
    if (!s && first.is_ok()) first = s.with_context("nodes' dead letters");
  }
  return first;
}

}  // namespace weft::detail::weftd
