// Waiting on conditions with deadlines, never fixed sleeps.
#pragma once

#include <chrono>
#include <functional>

namespace weft::testing {

// Polls `condition` until it holds or `timeout` passes; true if it held. The poll interval is short and only
// paces the re-checks: the deadline, not the interval, bounds the wait.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace weft::testing
