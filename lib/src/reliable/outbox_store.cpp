#include "reliable/outbox_store.hpp"

#include <msgpack.hpp>

#include <filesystem>
#include <set>

namespace weft::detail {

namespace {

constexpr std::uint64_t kRecordVersion = 1;
constexpr const char* kCurrent = "CURRENT";

log::LogOptions outbox_log_options() {
  log::LogOptions options;
  // A message is on disk (in the page cache) when append returns, which survives a crash of the process;
  // the 5 ms group commit bounds what a power loss can take.
  options.fsync_policy = log::FsyncPolicy::kInterval;
  options.segment_bytes = 64ULL << 20;
  options.retention_age = std::chrono::hours(24 * 365 * 10);  // never by age: live entries must stay
  return options;
}

std::vector<std::byte> bytes_of(const msgpack::sbuffer& buffer) {
  auto* data = reinterpret_cast<const std::byte*>(buffer.data());
  return {data, data + buffer.size()};
}

// The generation CURRENT names (0 when there is none yet).
std::uint64_t current_generation(log::FileSystem& fs, const std::string& dir) {
  auto content = log::read_whole_file(fs, log::join_path(dir, kCurrent));
  if (!content) return 0;
  std::uint64_t generation = 0;
  for (std::byte b : *content) {
    char c = static_cast<char>(b);
    if (c < '0' || c > '9') break;
    generation = generation * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return generation;
}

Status read_back(const log::Log& log, OutboxStore::Recovered& out) {
  std::map<std::uint64_t, OutboxStore::Entry> entries;
  std::map<std::string, OutboxStore::Target> targets;
  std::uint64_t offset = log.first_offset();
  while (offset < log.end_offset()) {
    auto batch = log.read(offset, 4 << 20);
    if (!batch) return batch.status().with_context("while reading the outbox back");
    if (batch->empty()) break;
    for (const auto& record : batch->records()) {
      try {
        auto handle = msgpack::unpack(reinterpret_cast<const char*>(record.value.data()), record.value.size());
        const msgpack::object& root = handle.get();
        if (root.type != msgpack::type::ARRAY || root.via.array.size < 3) continue;
        const msgpack::object* f = root.via.array.ptr;
        if (f[0].as<std::uint64_t>() != kRecordVersion) continue;
        auto kind = f[1].as<std::string>();
        if (kind == "stream") {
          out.stream_id = f[2].as<std::uint64_t>();
        } else if (kind == "next") {
          out.next_sequence = std::max(out.next_sequence, f[2].as<std::uint64_t>());
        } else if (kind == "target" && root.via.array.size >= 7) {
          OutboxStore::Target t{f[2].as<std::string>(), f[3].as<std::uint8_t>(), f[4].as<std::string>(),
                                f[5].as<std::uint32_t>(), f[6].as<std::uint32_t>()};
          targets[t.key] = t;
        } else if (kind == "entry" && root.via.array.size >= 6 && f[4].type == msgpack::type::BIN) {
          OutboxStore::Entry e;
          e.sequence = f[2].as<std::uint64_t>();
          e.subject = f[3].as<std::string>();
          auto* bytes = reinterpret_cast<const std::byte*>(f[4].via.bin.ptr);
          e.envelope = std::make_shared<const ByteBuffer>(bytes, bytes + f[4].via.bin.size);
          e.owed_by = f[5].as<std::vector<std::string>>();
          out.next_sequence = std::max(out.next_sequence, e.sequence + 1);
          entries[e.sequence] = std::move(e);
        } else if (kind == "settled") {
          auto sequence = f[2].as<std::uint64_t>();
          out.next_sequence = std::max(out.next_sequence, sequence + 1);
          entries.erase(sequence);
        }
      } catch (const std::exception&) {
        // A record that does not decode is skipped: the checksums of the log vouch for the bytes, so this is
        // a record of a later version, which this one cannot use.
      }
    }
    offset = batch->next_offset();
  }
  for (auto& [key, target] : targets) out.targets.push_back(target);
  for (auto& [sequence, entry] : entries) out.entries.push_back(std::move(entry));
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<OutboxStore>> OutboxStore::open(log::FileSystem& fs, const Clock& clock,
                                                       const std::string& dir, Recovered& recovered) {
  if (Status made = fs.make_dir(dir); !made) return made.with_context("while creating the outbox");
  recovered = Recovered{};
  std::uint64_t generation = current_generation(fs, dir);
  if (generation > 0) {
    log::LogOptions options = outbox_log_options();
    options.create_if_missing = false;
    auto old = log::Log::open(fs, clock, log::join_path(dir, std::to_string(generation)), options);
    if (!old) return old.status().with_context("while opening the outbox");
    if (Status read = read_back(**old, recovered); !read) return read;
    (void)(*old)->stop();
  }
  // Compact: a new generation holding only what is live, then CURRENT points at it (written by rename, so a
  // crash leaves it at the old generation or the new, whole, one).
  std::uint64_t next = generation + 1;
  std::string next_dir = log::join_path(dir, std::to_string(next));
  auto fresh = log::Log::open(fs, clock, next_dir, outbox_log_options());
  if (!fresh) return fresh.status().with_context("while compacting the outbox");
  auto store = std::unique_ptr<OutboxStore>(new OutboxStore(fs, clock, dir, std::move(*fresh)));
  if (recovered.stream_id != 0) (void)store->set_stream(recovered.stream_id);
  (void)store->set_next(recovered.next_sequence);
  for (const auto& target : recovered.targets) (void)store->add_target(target);
  for (const auto& entry : recovered.entries) (void)store->add_entry(entry);
  if (Status synced = store->log_->sync(); !synced) return synced.with_context("while compacting the outbox");
  std::string text = std::to_string(next) + "\n";
  std::vector<std::byte> bytes(reinterpret_cast<const std::byte*>(text.data()),
                               reinterpret_cast<const std::byte*>(text.data()) + text.size());
  std::string temp = log::join_path(dir, std::string(kCurrent) + ".tmp");
  if (Status written = log::write_whole_file(fs, temp, bytes); !written) return written;
  if (auto file = fs.open(temp, log::OpenMode::kReadWrite); file) (void)(*file)->sync();
  if (Status renamed = fs.rename(temp, log::join_path(dir, kCurrent)); !renamed) return renamed;
  if (Status synced = fs.sync_dir(dir); !synced) return synced;
  // The old generation is garbage now; removing it is best effort (a leftover is ignored next time).
  if (generation > 0) {
    std::error_code ignored;
    std::filesystem::remove_all(log::join_path(dir, std::to_string(generation)), ignored);
  }
  return store;
}

OutboxStore::OutboxStore(log::FileSystem& fs, const Clock& clock, std::string dir, std::unique_ptr<log::Log> log)
    : fs_(fs), clock_(clock), dir_(std::move(dir)), log_(std::move(log)) {}

OutboxStore::~OutboxStore() {
  if (log_) (void)log_->stop();
}

Status OutboxStore::append(const std::vector<std::byte>& value) {
  log::RecordInput record{value, std::nullopt};
  auto appended = log_->append(std::span<const log::RecordInput>(&record, 1), clock_.wall_ns(), nullptr);
  return appended ? Status::ok() : appended.status();
}

Status OutboxStore::set_stream(std::uint64_t stream_id) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(3).pack(kRecordVersion).pack(std::string("stream")).pack(stream_id);
  return append(bytes_of(buffer));
}

Status OutboxStore::set_next(std::uint64_t next_sequence) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(3).pack(kRecordVersion).pack(std::string("next")).pack(next_sequence);
  return append(bytes_of(buffer));
}

Status OutboxStore::add_target(const Target& target) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(7).pack(kRecordVersion).pack(std::string("target")).pack(target.key).pack(target.mode);
  packer.pack(target.pattern).pack(target.ack_wait_ms).pack(target.max_deliver);
  return append(bytes_of(buffer));
}

Status OutboxStore::add_entry(const Entry& entry) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(6).pack(kRecordVersion).pack(std::string("entry")).pack(entry.sequence).pack(entry.subject);
  const ByteBuffer& envelope = *entry.envelope;
  packer.pack_bin(static_cast<std::uint32_t>(envelope.size()));
  packer.pack_bin_body(reinterpret_cast<const char*>(envelope.data()), static_cast<std::uint32_t>(envelope.size()));
  packer.pack(entry.owed_by);
  return append(bytes_of(buffer));
}

Status OutboxStore::settled(std::uint64_t sequence) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(3).pack(kRecordVersion).pack(std::string("settled")).pack(sequence);
  return append(bytes_of(buffer));
}

}  // namespace weft::detail
