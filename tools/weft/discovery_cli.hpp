// Discovery on the command line: the flags `weft pub`, `weft sub` and `weft peers` share (--cluster, --seed,
// --no-discovery and the rarer knobs), filled into NodeOptions::discovery. Discovery is the default: a pub or
// sub given neither --bind nor --connect finds its peers by itself.
#pragma once

#include <string>
#include <vector>

#include "cli_common.hpp"
#include "weft/options.hpp"

namespace weft::cli {

struct DiscoveryFlags {
  std::string cluster;
  std::vector<std::string> seeds;
  bool off = false;  // --no-discovery
  int port = -1;     // -1: not given
  std::string interface;
  std::string advertise;
  double interval_seconds = 0;  // 0: not given
  bool no_multicast = false;
};

// Adds the flags to a verb's options. `always` (weft peers): discovery cannot be turned off there.
void add_discovery_options(po::options_description& options, DiscoveryFlags& flags, bool always = false);

// Turns discovery on when the node has no endpoint (or a discovery flag asks for it) and --no-discovery is
// absent, and fills NodeOptions::discovery. Throws UsageError for contradictory or malformed flags.
void finish_discovery(const DiscoveryFlags& flags, NodeOptions& node, bool always = false);

// With discovery on, prints on stderr "discovering peers in cluster NAME (...)": the node is looking.
void print_discovery(const NodeOptions& node);

// The help paragraph about discovery that pub and sub print.
extern const char* const kDiscoveryHelp;

}  // namespace weft::cli
