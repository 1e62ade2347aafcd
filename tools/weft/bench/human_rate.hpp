// How weft bench prints a rate: three significant digits and a k or M suffix ("4.12M", "830k", "97.5").
#pragma once

#include <cstdio>
#include <string>

namespace weft::cli::bench {

inline std::string human_rate(double value) {
  // The unit is picked for the value as it prints: 999,600 is "1M", not "1e+03k".
  const char* pattern = value >= 999.5e3 ? "%.3gM" : value >= 999.5 ? "%.3gk" : "%.3g";
  const double scaled = value >= 999.5e3 ? value / 1e6 : value >= 999.5 ? value / 1e3 : value;
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, pattern, scaled);
  return buffer;
}

}  // namespace weft::cli::bench
