// IPv4 addresses and UDP ports as plain values, and the few tests on them discovery needs. Discovery speaks
// IPv4 only (multicast and broadcast beacons are IPv4 in practice); the endpoints it advertises may be IPv6.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weft::detail {

// An IPv4 address in host byte order.
using Ip4 = std::uint32_t;

inline constexpr Ip4 kIp4Any = 0;
inline constexpr Ip4 kIp4Loopback = 0x7f000001;     // 127.0.0.1
inline constexpr Ip4 kIp4Broadcast = 0xffffffff;    // 255.255.255.255

[[nodiscard]] constexpr bool is_multicast(Ip4 ip) noexcept { return (ip >> 28) == 0xe; }  // 224.0.0.0/4
[[nodiscard]] constexpr bool is_loopback(Ip4 ip) noexcept { return (ip >> 24) == 127; }

// "192.0.2.7" -> address; anything else (names, IPv6, trailing garbage) -> empty.
[[nodiscard]] std::optional<Ip4> parse_ip4(std::string_view text) noexcept;
[[nodiscard]] std::string format_ip4(Ip4 ip);

struct UdpAddress {
  Ip4 ip = 0;
  std::uint16_t port = 0;

  friend auto operator<=>(const UdpAddress&, const UdpAddress&) = default;
  [[nodiscard]] std::string to_string() const;  // "192.0.2.7:7650"
};

// "192.0.2.7:7650" or "192.0.2.7" (then `default_port`); numeric only, no name lookup.
[[nodiscard]] std::optional<UdpAddress> parse_udp_address(std::string_view text, std::uint16_t default_port) noexcept;

}  // namespace weft::detail
