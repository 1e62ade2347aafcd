// The verbs of the weft CLI. Each takes the arguments after the verb name and returns the process exit code:
// 0 success, 1 failure at run time, 2 bad usage.
#pragma once

namespace weft::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

int run_pub(int argc, char** argv);
int run_sub(int argc, char** argv);
int run_bench(int argc, char** argv);
int run_peers(int argc, char** argv);  // cmd_peers.cpp

}  // namespace weft::cli
