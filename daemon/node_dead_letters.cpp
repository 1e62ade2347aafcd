#include "node_dead_letters.hpp"

#include "reliable/dead_letter_codec.hpp"
#include "sidecar/sidecar_protocol.hpp"
#include "sidecar/stream_config.hpp"
#include "stream.hpp"

namespace weft::detail::weftd {

Result<std::unique_ptr<NodeDeadLetters>> NodeDeadLetters::open(log::FileSystem& fs, const Clock& clock,
                                                               const std::string& data_dir) {
  // A stream's defaults: 30 days of retention, every dead letter fsynced before it is acknowledged, envelopes
  // up to max-message-bytes.
  const sidecar::StreamConfig defaults;
  const log::LogOptions options = defaults.dead_letter_log_options();
  std::string dir = StreamPaths::of(data_dir, std::string(sidecar::kNodeDeadLetters)).dead_letter_dir;
  auto log = log::Log::open(fs, clock, dir, options);
  if (!log) return log.status().with_context("nodes' dead letters (" + dir + ")");
  return std::unique_ptr<NodeDeadLetters>(
      new NodeDeadLetters(fs, clock, std::move(dir), options, defaults.max_message_bytes, std::move(*log)));
}

NodeDeadLetters::NodeDeadLetters(log::FileSystem& fs, const Clock& clock, std::string dir, log::LogOptions options,
                                 std::uint64_t max_envelope_bytes, std::unique_ptr<log::Log> log)
    : fs_(fs),
      clock_(clock),
      dir_(std::move(dir)),
      options_(std::move(options)),
      max_envelope_bytes_(max_envelope_bytes),
      log_(std::move(log)) {}

Result<log::AppendResult> NodeDeadLetters::put(const DeadLetter& letter, std::int64_t now_ns,
                                               log::DurableCallback done) {
  const std::vector<std::byte> value = encode_dead_letter(letter);
  const log::RecordInput input{value, std::nullopt};
  return log_->append(std::span(&input, 1), now_ns, std::move(done));
}

std::size_t NodeDeadLetters::do_work(Clock::TimePoint now) { return static_cast<std::size_t>(log_->do_work(now)); }

Result<std::size_t> NodeDeadLetters::apply_retention(std::int64_t now_ns) {
  auto deleted = log_->apply_retention(now_ns);
  if (!deleted) return deleted.status().with_context("nodes' dead letters");
  return deleted->segments_deleted;
}

Result<std::uint64_t> NodeDeadLetters::purge() {
  const std::uint64_t count = log_->end_offset() - log_->first_offset();
  if (Status s = log_->stop(); !s) return s;
  Status removed = remove_tree(fs_, dir_);
  auto reopened = log::Log::open(fs_, clock_, dir_, options_);
  // Until a new log opens, the stopped one stays: appends to it fail with "stopped" (nodes hear an error for
  // their dead letters, which they keep), where a missing log would have been a null pointer.
  if (!reopened) {
    return reopened.status().with_context("nodes' dead letters (" + dir_ + ") could not be reopened after a purge; "
                                          "they stay unavailable until weftd restarts");
  }
  log_ = std::move(*reopened);
  if (!removed) return removed;
  return count;
}

Status NodeDeadLetters::stop() { return log_ ? log_->stop() : Status::ok(); }

}  // namespace weft::detail::weftd
