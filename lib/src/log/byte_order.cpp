#include "log/byte_order.hpp"

#include <xxhash.h>

namespace weft::detail::log {

std::uint64_t checksum(std::span<const std::byte> data, std::uint64_t seed) noexcept {
  if (seed == 0) return XXH3_64bits(data.data(), data.size());
  return XXH3_64bits_withSeed(data.data(), data.size(), seed);
}

}  // namespace weft::detail::log
