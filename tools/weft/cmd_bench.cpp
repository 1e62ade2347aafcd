// weft bench: placeholder until the benchmark verb lands.
#include <cstdio>

#include "commands.hpp"

namespace weft::cli {

int run_bench(int, char**) {
  std::fprintf(stderr, "weft bench: not built yet\n");
  return kExitFailure;
}

}  // namespace weft::cli
