#include "log/byte_order.hpp"

// Debian's xxhash.h, compiled in here rather than called through libxxhash.so: most records are small, and
// for a 128-byte record the call into the shared library cost about a fifth of reading it back.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace weft::detail::log {

std::uint64_t checksum(std::span<const std::byte> data, std::uint64_t seed) noexcept {
  if (seed == 0) return XXH3_64bits(data.data(), data.size());
  return XXH3_64bits_withSeed(data.data(), data.size(), seed);
}

}  // namespace weft::detail::log
