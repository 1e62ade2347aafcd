// weftd's small state files (the streams added at run time, each stream's durable consumers): a checksummed
// msgpack body replaced atomically (write a temporary file, fsync it, rename it over the old one, fsync the
// directory), so a crash or power loss leaves either the old content or the new, never a mix. Layout in
// docs/sidecar.md ("Files"):
//
//   0      4        6        8          12                 20
//   +------+--------+--------+----------+------------------+------------------+
//   | magic| version| zero   | length   | XXH3-64 of body  | body (msgpack)   |
//   +------+--------+--------+----------+------------------+------------------+
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "log/file_system.hpp"

namespace weft::detail::weftd {

using Magic = std::array<char, 4>;
inline constexpr Magic kStreamsMagic = {'W', 'F', 'T', 'S'};    // <data-dir>/streams.state
inline constexpr Magic kConsumersMagic = {'W', 'F', 'T', 'C'};  // <data-dir>/consumers/<stream>.state
inline constexpr std::uint16_t kStateFileVersion = 1;
inline constexpr std::size_t kStateHeaderSize = 20;
inline constexpr std::size_t kMaxStateBody = 64ULL << 20;

// Replaces `path` with a state file holding `body`. Durable when it returns ok.
Status write_state_file(log::FileSystem& fs, const std::string& path, const Magic& magic,
                        std::span<const std::byte> body);

// The body of the state file at `path`; nullopt when there is none. kCorruption when it fails a check.
Result<std::optional<std::vector<std::byte>>> read_state_file(log::FileSystem& fs, const std::string& path,
                                                              const Magic& magic);

}  // namespace weft::detail::weftd
