// An in-memory FileSystem for the log's tests (LevelDB's memenv plus fault injection). It keeps, per file, the
// bytes the page cache shows and the bytes the last successful sync made durable, and per directory the
// entries the last sync_dir made durable, so a test can:
//  - simulate a power loss: every file falls back to its durable bytes and every directory to its durable
//    entries (un-synced creations vanish, un-synced removals come back), and open handles die;
//  - simulate a process crash: nothing is lost, open handles die;
//  - inject failures: the Nth sync (or append, ...) fails with EIO or ENOSPC, once or from then on;
//  - corrupt, truncate and inspect bytes.
// A failed sync behaves like Linux's: the bytes it should have written are dropped, and a later sync of the
// same file "succeeds" without them (they come back as zeros after a power loss), so code that retries a
// failed fsync and trusts it loses data here just as it would on a real disk.
// Directories are durable as soon as make_dir() creates them. Thread-safe.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "log/file_system.hpp"

namespace weft::testing {

class FakeFileSystem final : public detail::log::FileSystem {
 public:
  enum class Op { kAppend, kSync, kSyncDir, kOpen, kTruncate, kRemove, kRename };

  struct Fault {
    Op op = Op::kSync;
    std::uint64_t nth = 1;          // the nth matching operation from now fails (1: the next one)
    bool sticky = false;            // ... and every matching one after it
    int error = EIO;                // errno to report: EIO, ENOSPC, ...
    std::size_t partial_bytes = 0;  // kAppend: write this many bytes before failing
    std::string path_contains;      // only operations on paths containing this
  };

  FakeFileSystem();
  ~FakeFileSystem() override;

  Result<std::unique_ptr<detail::log::File>> open(const std::string& path, detail::log::OpenMode mode) override;
  Status rename(const std::string& from, const std::string& to) override;
  Result<std::vector<std::string>> list_dir(const std::string& dir) override;
  Status remove(const std::string& path) override;
  Status make_dir(const std::string& dir) override;
  Status sync_dir(const std::string& dir) override;

  void power_loss();
  void crash();

  void inject(Fault fault);
  // Shorthands for inject(): the nth operation of `op` from now fails with `error` (and every later one too,
  // if sticky); a failed append first writes partial_bytes.
  void fail(Op op, std::uint64_t nth, int error = EIO, bool sticky = false);
  void fail_append(std::uint64_t nth, int error, std::size_t partial_bytes);
  void clear_faults();

  // The bytes a reader sees now (the page cache); empty if the file does not exist.
  [[nodiscard]] std::vector<std::byte> contents(const std::string& path) const;
  // The bytes that would survive a power loss now.
  [[nodiscard]] std::vector<std::byte> durable_contents(const std::string& path) const;
  // Replaces a file's bytes, live and durable (creating it, durably, if needed).
  void set_contents(const std::string& path, std::vector<std::byte> bytes);
  // XORs one byte, live and durable.
  void flip_byte(const std::string& path, std::uint64_t position, std::uint8_t mask = 0xFF);
  // Cuts a file, live and durable.
  void truncate_file(const std::string& path, std::uint64_t size);
  void remove_file(const std::string& path);  // live and durable
  [[nodiscard]] bool exists(const std::string& path) const;
  [[nodiscard]] std::vector<std::string> names(const std::string& dir) const;  // sorted

  [[nodiscard]] std::uint64_t syncs() const;         // successful file syncs
  [[nodiscard]] std::uint64_t failed_syncs() const;  // injected sync failures
  [[nodiscard]] std::uint64_t dir_syncs() const;     // successful directory syncs

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace weft::testing
