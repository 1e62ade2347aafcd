// The real FileSystem: POSIX calls on local files. Every error becomes a Status naming the call, the path and
// the errno (EIO, ENOSPC, ...), e.g. "fdatasync '/var/lib/weft/orders/00000000000000000000.log': Input/output
// error (errno 5)".
#pragma once

#include "log/file_system.hpp"

namespace weft::detail::log {

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override;
  Status rename(const std::string& from, const std::string& to) override;
  Result<std::vector<std::string>> list_dir(const std::string& dir) override;
  Status remove(const std::string& path) override;
  Status make_dir(const std::string& dir) override;
  Status sync_dir(const std::string& dir) override;
};

}  // namespace weft::detail::log
