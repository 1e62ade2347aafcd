// How many CPUs the calling thread may run on (its affinity mask), for choices that depend on whether the
// node's threads share one CPU.
#pragma once

#include <cstddef>

namespace weft::detail {

// At least 1. When the mask cannot be read, the number of CPUs online (so a failure never looks like one CPU).
[[nodiscard]] std::size_t cpus_this_thread_may_use() noexcept;

}  // namespace weft::detail
