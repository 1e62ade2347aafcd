// The storage seam (LevelDB's Env, reduced to what the log needs). The log touches the disk only through a
// FileSystem, so tests swap in an in-memory one that simulates power loss and injects failures
// (weft_testing/fake_file_system.hpp), and the daemon uses PosixFileSystem.
//
// Paths are plain strings joined with '/'. A File is safe to use from several threads at once as long as
// only one of them appends or truncates: read_at() never moves a shared cursor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weft/status.hpp"

namespace weft::detail::log {

class File {
 public:
  virtual ~File() = default;
  File() = default;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Writes all of `data` at the end of the file. On failure some prefix of it may have been written.
  virtual Status append(std::span<const std::byte> data) = 0;
  // Reads up to out.size() bytes at `position`; fewer only at the end of the file. Returns the count.
  virtual Result<std::size_t> read_at(std::uint64_t position, std::span<std::byte> out) const = 0;
  virtual Result<std::uint64_t> size() const = 0;
  // Makes everything appended so far (and the file's size) durable: fdatasync.
  virtual Status sync() = 0;
  virtual Status truncate(std::uint64_t size) = 0;
  [[nodiscard]] virtual const std::string& path() const noexcept = 0;
};

enum class OpenMode {
  kRead,           // an existing file, read only
  kReadWrite,      // an existing file, read and append
  kCreateOrTrunc,  // create it (or empty it if it exists), read and append
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  FileSystem() = default;
  FileSystem(const FileSystem&) = delete;
  FileSystem& operator=(const FileSystem&) = delete;

  // kNotFound if the file does not exist and the mode does not create it.
  virtual Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) = 0;
  // Atomically replaces `to` with `from`. Durable once the directory is synced.
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  // The names (not paths) of the entries of `dir`, in no particular order, without "." and "..".
  virtual Result<std::vector<std::string>> list_dir(const std::string& dir) = 0;
  virtual Status remove(const std::string& path) = 0;
  // Creates `dir` and any missing parents; ok if it exists.
  virtual Status make_dir(const std::string& dir) = 0;
  // Makes the creation, removal and renaming of entries in `dir` durable: fsync on the directory.
  virtual Status sync_dir(const std::string& dir) = 0;
};

// "dir/name", without doubling a trailing '/'.
[[nodiscard]] std::string join_path(std::string_view dir, std::string_view name);

// The whole content of a file.
[[nodiscard]] Result<std::vector<std::byte>> read_whole_file(FileSystem& fs, const std::string& path);

// Replaces a file's content with `data` (create or truncate, then append). Not synced.
[[nodiscard]] Status write_whole_file(FileSystem& fs, const std::string& path, std::span<const std::byte> data);

// Reads exactly out.size() bytes at `position`; kCorruption naming the path if the file is shorter.
[[nodiscard]] Status read_exact(const File& file, std::uint64_t position, std::span<std::byte> out);

}  // namespace weft::detail::log
