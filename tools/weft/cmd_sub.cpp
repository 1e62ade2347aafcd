// weft sub: placeholder until the verb lands.
#include <cstdio>

#include "commands.hpp"

namespace weft::cli {

int run_sub(int, char**) {
  std::fprintf(stderr, "weft sub: not built yet\n");
  return kExitFailure;
}

}  // namespace weft::cli
