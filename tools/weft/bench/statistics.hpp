// The little statistics the bench needs: percentiles of round trips within a measurement, and the median
// and range of a figure over repeats.
#pragma once

#include <cstddef>
#include <vector>

namespace weft::cli::bench {

// Nearest-rank percentile (fraction in [0, 1]) of samples sorted ascending; 0 when there are none.
double percentile_of_sorted(const std::vector<double>& sorted, double fraction) noexcept;

struct Percentiles {
  double p50 = 0;
  double p99 = 0;
  double p999 = 0;
  double mean = 0;
  double max = 0;
};
// Sorts the samples in place.
Percentiles percentiles(std::vector<double>& samples);

// A figure over repeats.
struct Spread {
  double median = 0;  // the mean of the two middle values when the count is even
  double min = 0;
  double max = 0;
  std::size_t count = 0;  // 0: no repeat produced the figure
};
Spread spread_of(std::vector<double> values);

}  // namespace weft::cli::bench
