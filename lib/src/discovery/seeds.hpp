// Seeds as an operator writes them ("host:port,host") and as discovery uses them (IPv4 addresses).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "discovery/udp_address.hpp"
#include "weft/status.hpp"

namespace weft::detail {

// Resolves one seed, "host:port" or "host" (then `default_port`), to its IPv4 addresses. Numeric addresses need
// no lookup; names go through getaddrinfo, which blocks: call it off the I/O thread. Invalid-argument for a
// malformed seed, unavailable when the name does not resolve.
Result<std::vector<UdpAddress>> resolve_seed(std::string_view seed, std::uint16_t default_port);

// "a:7650, b ,c:7651" (the seeds= setting of a config file) -> {"a:7650", "b", "c:7651"}.
std::vector<std::string> split_seed_list(std::string_view list);

}  // namespace weft::detail
