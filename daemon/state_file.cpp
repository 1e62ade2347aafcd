#include "state_file.hpp"

#include "log/byte_order.hpp"

namespace weft::detail::weftd {

namespace {

std::string parent_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

Status write_state_file(log::FileSystem& fs, const std::string& path, const Magic& magic,
                        std::span<const std::byte> body) {
  if (body.size() > kMaxStateBody) return Status::invalid_argument("state file " + path + " would be too large");
  std::vector<std::byte> bytes(kStateHeaderSize + body.size());
  for (std::size_t i = 0; i < magic.size(); ++i) bytes[i] = static_cast<std::byte>(magic[i]);
  log::store_u16(bytes.data() + 4, kStateFileVersion);
  log::store_u32(bytes.data() + 8, static_cast<std::uint32_t>(body.size()));
  log::store_u64(bytes.data() + 12, log::checksum(body));
  std::copy(body.begin(), body.end(), bytes.begin() + kStateHeaderSize);

  // A fresh temporary file each time: after a failed fsync its pages may be gone, so it is never reused.
  const std::string tmp = path + ".tmp";
  (void)fs.remove(tmp);
  auto file = fs.open(tmp, log::OpenMode::kCreateOrTrunc);
  if (!file) return file.status().with_context("while writing " + path);
  if (Status s = (*file)->append(bytes); !s) return s.with_context("while writing " + path);
  if (Status s = (*file)->sync(); !s) return s.with_context("while writing " + path);
  file->reset();
  if (Status s = fs.rename(tmp, path); !s) return s.with_context("while writing " + path);
  if (Status s = fs.sync_dir(parent_of(path)); !s) return s.with_context("while writing " + path);
  return Status::ok();
}

Result<std::optional<std::vector<std::byte>>> read_state_file(log::FileSystem& fs, const std::string& path,
                                                              const Magic& magic) {
  auto bytes = log::read_whole_file(fs, path);
  if (!bytes) {
    if (bytes.status().code() == ErrorCode::kNotFound) return std::optional<std::vector<std::byte>>();
    return bytes.status();
  }
  const std::vector<std::byte>& b = *bytes;
  auto corrupt = [&](const std::string& why) { return Status::corruption("state file " + path + ": " + why); };
  if (b.size() < kStateHeaderSize) return corrupt("shorter than its header");
  for (std::size_t i = 0; i < magic.size(); ++i) {
    if (b[i] != static_cast<std::byte>(magic[i])) return corrupt("bad magic");
  }
  const std::uint16_t version = log::load_u16(b.data() + 4);
  if (version != kStateFileVersion) {
    return Status::protocol("state file " + path + " has version " + std::to_string(version) + " (this weftd reads " +
                            std::to_string(kStateFileVersion) + ")");
  }
  const std::uint32_t length = log::load_u32(b.data() + 8);
  if (length != b.size() - kStateHeaderSize) return corrupt("length does not match the file's size");
  std::span<const std::byte> body(b.data() + kStateHeaderSize, length);
  if (log::load_u64(b.data() + 12) != log::checksum(body)) return corrupt("checksum mismatch");
  return std::optional<std::vector<std::byte>>(std::vector<std::byte>(body.begin(), body.end()));
}

}  // namespace weft::detail::weftd
