#include "log/file_system.hpp"

namespace weft::detail::log {

std::string join_path(std::string_view dir, std::string_view name) {
  std::string path(dir);
  if (!path.empty() && path.back() != '/') path += '/';
  path += name;
  return path;
}

Result<std::vector<std::byte>> read_whole_file(FileSystem& fs, const std::string& path) {
  auto file = fs.open(path, OpenMode::kRead);
  if (!file) return file.status();
  auto size = (*file)->size();
  if (!size) return size.status();
  std::vector<std::byte> data(static_cast<std::size_t>(*size));
  Status s = read_exact(**file, 0, data);
  if (!s) return s;
  return data;
}

Status write_whole_file(FileSystem& fs, const std::string& path, std::span<const std::byte> data) {
  auto file = fs.open(path, OpenMode::kCreateOrTrunc);
  if (!file) return file.status();
  return (*file)->append(data);
}

Status read_exact(const File& file, std::uint64_t position, std::span<std::byte> out) {
  auto got = file.read_at(position, out);
  if (!got) return got.status();
  if (*got != out.size()) {
    return Status::corruption("'" + file.path() + "' ends at byte " + std::to_string(position + *got) +
                              ", inside a read of " + std::to_string(out.size()) + " bytes at " +
                              std::to_string(position));
  }
  return Status::ok();
}

}  // namespace weft::detail::log
