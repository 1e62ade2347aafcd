// The outbox on disk (OutboxOptions::persist): every at-least-once message, the consumers that owe it, and the
// durable consumers' registrations, kept in a segment log under `<data_dir>/outbox`, so that a publisher
// restarted before its messages were acknowledged sends them again. docs/guarantees.md, "The disk outbox".
//
// Records (msgpack arrays, each a log record's value):
//   [1, "stream", stream_id]                                   this publisher's stream
//   [1, "target", key, mode, pattern, ack_wait_ms, max_deliver]  a consumer registered
//   [1, "entry", sequence, subject, envelope (bin), [keys...]]   a message and who owes it
//   [1, "settled", sequence]                                   every consumer is done with it
//   [1, "next", sequence]                                      sequences below this were used (compaction)
// On open the log is read back and rewritten with only what is still live.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "codec/envelope.hpp"
#include "log/file_system.hpp"
#include "log/log.hpp"

namespace weft::detail {

class OutboxStore {
 public:
  struct Target {
    std::string key;
    std::uint8_t mode = 0;
    std::string pattern;
    std::uint32_t ack_wait_ms = 30000;
    std::uint32_t max_deliver = 5;
  };
  struct Entry {
    std::uint64_t sequence = 0;
    std::string subject;
    std::shared_ptr<const ByteBuffer> envelope;
    std::vector<std::string> owed_by;
  };
  // What a restarted publisher picks up.
  struct Recovered {
    std::uint64_t stream_id = 0;  // 0: a new outbox (the caller picks one)
    std::uint64_t next_sequence = 1;  // one past the highest sequence ever used: never reused
    std::vector<Target> targets;
    std::vector<Entry> entries;  // in sequence order
  };

  // Opens (or creates) the outbox in `dir`, reads back what is live and compacts the log to it.
  static Result<std::unique_ptr<OutboxStore>> open(log::FileSystem& fs, const Clock& clock, const std::string& dir,
                                                   Recovered& recovered);
  ~OutboxStore();

  Status set_stream(std::uint64_t stream_id);
  Status set_next(std::uint64_t next_sequence);
  Status add_target(const Target& target);
  Status add_entry(const Entry& entry);
  Status settled(std::uint64_t sequence);

  // Group commit timing (the I/O thread's loop).
  void do_work(Clock::TimePoint now) { (void)log_->do_work(now); }
  [[nodiscard]] Status health() const { return log_->health(); }

 private:
  OutboxStore(log::FileSystem& fs, const Clock& clock, std::string dir, std::unique_ptr<log::Log> log);
  Status append(const std::vector<std::byte>& value);

  log::FileSystem& fs_;
  const Clock& clock_;
  std::string dir_;
  std::unique_ptr<log::Log> log_;
};

}  // namespace weft::detail
