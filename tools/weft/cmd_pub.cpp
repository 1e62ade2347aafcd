// weft pub: placeholder until the verb lands.
#include <cstdio>

#include "commands.hpp"

namespace weft::cli {

int run_pub(int, char**) {
  std::fprintf(stderr, "weft pub: not built yet\n");
  return kExitFailure;
}

}  // namespace weft::cli
