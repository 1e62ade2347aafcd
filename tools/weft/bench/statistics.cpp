#include "bench/statistics.hpp"

#include <algorithm>
#include <numeric>

namespace weft::cli::bench {

double percentile_of_sorted(const std::vector<double>& sorted, double fraction) noexcept {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(fraction * static_cast<double>(sorted.size()));
  return sorted[std::min(rank, sorted.size() - 1)];
}

Percentiles percentiles(std::vector<double>& samples) {
  Percentiles p;
  if (samples.empty()) return p;
  std::sort(samples.begin(), samples.end());
  p.p50 = percentile_of_sorted(samples, 0.50);
  p.p99 = percentile_of_sorted(samples, 0.99);
  p.p999 = percentile_of_sorted(samples, 0.999);
  p.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
  p.max = samples.back();
  return p;
}

Spread spread_of(std::vector<double> values) {
  Spread s;
  s.count = values.size();
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.min = values.front();
  s.max = values.back();
  std::size_t mid = values.size() / 2;
  s.median = values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
  return s;
}

}  // namespace weft::cli::bench
