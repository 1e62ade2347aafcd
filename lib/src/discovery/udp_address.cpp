#include "discovery/udp_address.hpp"

#include <charconv>

namespace weft::detail {

namespace {

// Parses a decimal number of at most `max` from the whole of `text`.
std::optional<std::uint32_t> parse_number(std::string_view text, std::uint32_t max) noexcept {
  if (text.empty() || text.size() > 5) return std::nullopt;
  std::uint32_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value > max) return std::nullopt;
  return value;
}

}  // namespace

std::optional<Ip4> parse_ip4(std::string_view text) noexcept {
  Ip4 ip = 0;
  for (int part = 0; part < 4; ++part) {
    std::size_t dot = part < 3 ? text.find('.') : text.size();
    if (dot == std::string_view::npos) return std::nullopt;
    auto octet = parse_number(text.substr(0, dot), 255);
    if (!octet || dot > 3) return std::nullopt;
    ip = (ip << 8) | *octet;
    text.remove_prefix(part < 3 ? dot + 1 : dot);
  }
  return ip;
}

std::string format_ip4(Ip4 ip) {
  return std::to_string(ip >> 24) + '.' + std::to_string((ip >> 16) & 0xff) + '.' + std::to_string((ip >> 8) & 0xff) +
         '.' + std::to_string(ip & 0xff);
}

std::string UdpAddress::to_string() const { return format_ip4(ip) + ':' + std::to_string(port); }

std::optional<UdpAddress> parse_udp_address(std::string_view text, std::uint16_t default_port) noexcept {
  std::size_t colon = text.rfind(':');
  std::string_view host = colon == std::string_view::npos ? text : text.substr(0, colon);
  auto ip = parse_ip4(host);
  if (!ip) return std::nullopt;
  if (colon == std::string_view::npos) return UdpAddress{*ip, default_port};
  auto port = parse_number(text.substr(colon + 1), 65535);
  if (!port || *port == 0) return std::nullopt;
  return UdpAddress{*ip, static_cast<std::uint16_t>(*port)};
}

}  // namespace weft::detail
