// The admin requests of SidecarServer: status, stream add|ls|info|rm, dlq ls|show|replay|purge.
#include <unistd.h>

#include <memory>

#include "reliable/dead_letter_codec.hpp"
#include "sidecar_server.hpp"

namespace weft::detail::weftd {

using sidecar::ErrorKind;
using sidecar::Header;
using sidecar::Kind;

namespace {

// dlq.show returns at most this many dead letters, and about this many bytes of envelopes, per request.
constexpr std::uint32_t kMaxShow = 1000;
constexpr std::size_t kShowBytes = 8 << 20;

}  // namespace

void SidecarServer::admin_status(const std::string& peer, std::uint64_t id, Clock::TimePoint now) {
  sidecar::ServerStatus status;
  status.server_id = identity_.server_id;
  status.version = identity_.version;
  status.pid = static_cast<std::uint64_t>(::getpid());
  status.data_dir = identity_.data_dir;
  status.endpoints = identity_.endpoints;
  status.uptime_ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now - identity_.started).count());
  for (Stream* stream : manager_->streams()) {
    ++status.streams;
    if (!stream->health()) ++status.failed_streams;
  }
  const auto unavailable = manager_->unavailable();
  status.streams += static_cast<std::uint32_t>(unavailable.size());
  status.failed_streams += static_cast<std::uint32_t>(unavailable.size());
  status.counters = counters_.list();
  reply(peer, id, Kind::kAdminReply, status);
}

std::optional<sidecar::StreamInfo> SidecarServer::unavailable_info(std::string_view name) const {
  for (auto& [config, why] : manager_->unavailable()) {
    if (config.name != name) continue;
    sidecar::StreamInfo info;
    info.config = config;
    info.health = "unavailable: " + why.to_string();
    return info;
  }
  return std::nullopt;
}

void SidecarServer::admin_stream_add(const std::string& peer, const Header& header) {
  auto args = sidecar::fields_as<sidecar::StreamAddArgs>(header);
  if (!args) return malformed(counters_.bad_header, peer, header.request_id, ErrorKind::kMalformed, args.status().message());
  auto added = manager_->add(args->config);
  if (!added) {
    const bool exists = added.status().message().find("exists already") != std::string::npos ||
                        added.status().message().find("overlap") != std::string::npos;
    return reply_error(peer, header.request_id, exists ? ErrorKind::kConflict : sidecar::from_status(added.status()),
                       added.status().message());
  }
  reply(peer, header.request_id, Kind::kAdminReply, (*added)->info());
}

void SidecarServer::admin_stream_list(const std::string& peer, std::uint64_t id) {
  sidecar::StreamList list;
  for (Stream* stream : manager_->streams()) list.streams.push_back(stream->info());
  for (auto& [config, why] : manager_->unavailable()) {
    if (auto info = unavailable_info(config.name)) list.streams.push_back(std::move(*info));
  }
  reply(peer, id, Kind::kAdminReply, list);
}

void SidecarServer::admin_stream_info(const std::string& peer, const Header& header) {
  auto args = sidecar::fields_as<sidecar::StreamArgs>(header);
  if (!args) return malformed(counters_.bad_header, peer, header.request_id, ErrorKind::kMalformed, args.status().message());
  if (Stream* stream = manager_->find(args->stream)) {
    return reply(peer, header.request_id, Kind::kAdminReply, stream->info());
  }
  if (auto info = unavailable_info(args->stream)) return reply(peer, header.request_id, Kind::kAdminReply, *info);
  reply_error(peer, header.request_id, ErrorKind::kNoStream, "no stream '" + args->stream + "'");
}

void SidecarServer::admin_stream_remove(const std::string& peer, const Header& header) {
  auto args = sidecar::fields_as<sidecar::StreamArgs>(header);
  if (!args) return malformed(counters_.bad_header, peer, header.request_id, ErrorKind::kMalformed, args.status().message());
  if (Status s = manager_->remove(args->stream); !s) {
    return reply_error(peer, header.request_id,
                       s.code() == ErrorCode::kNotFound ? ErrorKind::kNoStream : sidecar::from_status(s), s.message());
  }
  // Members of the removed stream were ended by it; forget their bookkeeping here too.
  for (auto it = members_.begin(); it != members_.end();) {
    if (it->second.stream != args->stream) {
      ++it;
      continue;
    }
    if (auto p = peers_.find(it->second.peer); p != peers_.end()) p->second.members.erase(it->first);
    it = members_.erase(it);
  }
  reply(peer, header.request_id, Kind::kAdminReply, sidecar::Removed{args->stream});
}

const log::Log* SidecarServer::dead_letter_log(std::string_view name) const {
  if (name == sidecar::kNodeDeadLetters) {
    const NodeDeadLetters* letters = manager_->node_dead_letters();
    return letters != nullptr ? &letters->log() : nullptr;
  }
  const Stream* stream = manager_->find(name);
  return stream != nullptr ? &stream->dead_letters() : nullptr;
}

void SidecarServer::admin_dlq_list(const std::string& peer, std::uint64_t id) {
  sidecar::DlqList list;
  auto add = [&](std::string name, const log::Log& dlq) {
    list.queues.push_back({std::move(name), dlq.end_offset() - dlq.first_offset(), dlq.first_offset(),
                           dlq.end_offset(), dlq.size_bytes()});
  };
  for (Stream* stream : manager_->streams()) add(stream->name(), stream->dead_letters());
  if (const NodeDeadLetters* letters = manager_->node_dead_letters()) {
    add(std::string(sidecar::kNodeDeadLetters), letters->log());
  }
  reply(peer, id, Kind::kAdminReply, list);
}

void SidecarServer::admin_dlq_show(const std::string& peer, const Header& header) {
  const std::uint64_t id = header.request_id;
  auto args = sidecar::fields_as<sidecar::DlqShowArgs>(header);
  if (!args) return malformed(counters_.bad_header, peer, id, ErrorKind::kMalformed, args.status().message());
  const log::Log* found = dead_letter_log(args->stream);
  if (found == nullptr) return reply_error(peer, id, ErrorKind::kNoStream, "no stream '" + args->stream + "'");
  const log::Log& dlq = *found;
  sidecar::DlqShowReply out;
  out.stream = args->stream;
  std::vector<std::shared_ptr<const ByteBuffer>> envelopes;
  std::uint64_t at = std::max(args->from, dlq.first_offset());
  const std::uint32_t max = std::min(args->max == 0 ? kMaxShow : args->max, kMaxShow);
  std::size_t bytes = 0;
  while (at < dlq.end_offset() && out.letters.size() < max && bytes < kShowBytes) {
    auto batch = dlq.read(at, kShowBytes - bytes);
    if (!batch) {
      if (batch.status().code() == ErrorCode::kCorruption) {
        auto resume = dlq.skip_damage(at);
        at = resume ? std::max(*resume, at + 1) : at + 1;
        continue;
      }
      return reply_error(peer, id, sidecar::from_status(batch.status()), batch.status().message());
    }
    if (batch->empty()) break;
    for (const log::LogRecord& r : batch->records()) {
      if (out.letters.size() >= max) break;
      at = r.offset + 1;
      auto letter = decode_dead_letter(r.value);
      if (!letter) continue;  // damaged: not shown (verify reports it)
      out.letters.push_back({r.offset, letter->subject, letter->consumer, letter->deliveries, letter->last_error,
                             letter->time_ns, letter->source_offset});
      bytes += letter->envelope->size();
      envelopes.push_back(std::move(letter->envelope));
    }
    if (out.letters.size() < max) at = std::max(at, batch->next_offset());
  }
  out.next_offset = at;
  std::vector<std::span<const std::byte>> body;
  body.reserve(envelopes.size());
  for (const auto& envelope : envelopes) body.emplace_back(*envelope);
  if (id != 0) send(peer, sidecar::make_message(Kind::kAdminReply, id, out, body));
}

void SidecarServer::admin_dlq_replay(const std::string& peer, const Header& header) {
  const std::uint64_t id = header.request_id;
  auto args = sidecar::fields_as<sidecar::DlqReplayArgs>(header);
  if (!args) return malformed(counters_.bad_header, peer, id, ErrorKind::kMalformed, args.status().message());
  if (args->stream == sidecar::kNodeDeadLetters) {
    // They were a node's messages, not a stream's: they go back the way they came, published by a node.
    return reply_error(peer, id, ErrorKind::kInvalid,
                       "nodes' dead letters are replayed by publishing them again through a node: "
                       "weft dlq replay --sidecar --stream _node --connect|--bind ENDPOINT");
  }
  Stream* source = manager_->find(args->stream);
  if (source == nullptr) return reply_error(peer, id, ErrorKind::kNoStream, "no stream '" + args->stream + "'");
  const log::Log& dlq = source->dead_letters();

  // The dead letters to replay, in offset order.
  std::vector<std::pair<std::uint64_t, DeadLetter>> letters;
  auto read_one = [&](std::uint64_t offset) -> Status {
    auto batch = dlq.read(offset, 1);
    if (!batch) return batch.status();
    if (batch->empty() || batch->records().front().offset != offset) {
      return Status::not_found("no dead letter at offset " + std::to_string(offset));
    }
    auto letter = decode_dead_letter(batch->records().front().value);
    if (!letter) return letter.status().with_context("dead letter " + std::to_string(offset));
    letters.emplace_back(offset, std::move(*letter));
    return Status::ok();
  };
  if (args->offsets.empty()) {
    for (std::uint64_t at = dlq.first_offset(); at < dlq.end_offset();) {
      auto batch = dlq.read(at, 1 << 20);
      if (!batch) return reply_error(peer, id, sidecar::from_status(batch.status()), batch.status().message());
      if (batch->empty()) break;
      for (const log::LogRecord& r : batch->records()) {
        auto letter = decode_dead_letter(r.value);
        if (!letter) {
          return reply_error(peer, id, ErrorKind::kIoError, "dead letter " + std::to_string(r.offset) + ": " +
                                                                letter.status().message());
        }
        letters.emplace_back(r.offset, std::move(*letter));
      }
      at = batch->next_offset();
    }
  } else {
    for (std::uint64_t offset : args->offsets) {
      if (offset < dlq.first_offset() || offset >= dlq.end_offset()) {
        return reply_error(peer, id, ErrorKind::kNotFound, "no dead letter at offset " + std::to_string(offset));
      }
      if (Status s = read_one(offset); !s) return reply_error(peer, id, sidecar::from_status(s), s.message());
    }
  }
  // Every target first, so that a replay is refused whole rather than half done for a subject no stream takes.
  std::vector<Stream*> targets;
  for (const auto& [offset, letter] : letters) {
    const Status* unavailable = nullptr;
    Stream* target = manager_->resolve(letter.subject, &unavailable);
    if (target == nullptr || !target->health()) {
      return reply_error(peer, id, ErrorKind::kNoStream,
                         "dead letter " + std::to_string(offset) + ": no healthy stream takes subject '" +
                             letter.subject + "' any more");
    }
    targets.push_back(target);
  }
  struct Progress {
    sidecar::DlqReplayReply reply;
    std::size_t remaining = 0;
    Status failure;
  };
  auto progress = std::make_shared<Progress>();
  progress->reply.stream = source->name();
  progress->reply.new_offsets.assign(letters.size(), 0);
  progress->remaining = letters.size();
  if (letters.empty()) return reply(peer, id, Kind::kAdminReply, progress->reply);
  auto finish = [this, peer, id, progress]() {
    if (--progress->remaining != 0) return;
    if (!progress->failure) {
      return reply_error(peer, id, ErrorKind::kStreamFailed,
                         "replayed " + std::to_string(progress->reply.replayed) + " of " +
                             std::to_string(progress->reply.new_offsets.size()) + ": " +
                             progress->failure.to_string());
    }
    reply(peer, id, Kind::kAdminReply, progress->reply);
  };
  for (std::size_t i = 0; i < letters.size(); ++i) {
    const ByteBuffer& envelope = *letters[i].second.envelope;
    const log::RecordInput record{envelope, std::nullopt};
    auto appended = targets[i]->append(std::span(&record, 1), clock_.wall_ns(),
                                       [progress, i, finish](const Status& s, const log::AppendResult& r) {
                                         if (s) {
                                           progress->reply.new_offsets[i] = r.first_offset;
                                           ++progress->reply.replayed;
                                         } else if (progress->failure) {
                                           progress->failure = s;
                                         }
                                         finish();
                                       });
    if (!appended) {
      if (progress->failure) progress->failure = appended.status();
      finish();
    }
  }
}

void SidecarServer::admin_dlq_purge(const std::string& peer, const Header& header) {
  auto args = sidecar::fields_as<sidecar::StreamArgs>(header);
  if (!args) return malformed(counters_.bad_header, peer, header.request_id, ErrorKind::kMalformed, args.status().message());
  NodeDeadLetters* node_letters = args->stream == sidecar::kNodeDeadLetters ? manager_->node_dead_letters() : nullptr;
  Stream* stream = node_letters != nullptr ? nullptr : manager_->find(args->stream);
  if (stream == nullptr && node_letters == nullptr) {
    return reply_error(peer, header.request_id, ErrorKind::kNoStream, "no stream '" + args->stream + "'");
  }
  auto purged = node_letters != nullptr ? node_letters->purge() : stream->purge_dead_letters();
  if (!purged) {
    return reply_error(peer, header.request_id, sidecar::from_status(purged.status()), purged.status().message());
  }
  reply(peer, header.request_id, Kind::kAdminReply, sidecar::DlqPurgeReply{args->stream, *purged});
}

}  // namespace weft::detail::weftd
