// Where weftd listens by default, so that producers, consumers and tools find it without being told:
//   $WEFT_SIDECAR, if set (an endpoint: ipc:///path or tcp://host:port);
//   else ipc://$XDG_RUNTIME_DIR/weft/weftd.sock, if XDG_RUNTIME_DIR is set;
//   else ipc:///run/weft/weftd.sock for root;
//   else ipc:///tmp/weft-$UID/weftd.sock.
#pragma once

#include <string>
#include <string_view>

#include "weft/status.hpp"

namespace weft::detail::sidecar {

inline constexpr std::string_view kEndpointEnvironment = "WEFT_SIDECAR";
inline constexpr std::string_view kSocketName = "weftd.sock";

[[nodiscard]] std::string default_sidecar_endpoint();

// For an ipc:// endpoint: its path; empty otherwise.
[[nodiscard]] std::string ipc_path(std::string_view endpoint);

// Creates the directory of an ipc:// endpoint's socket (mode 0700 when it makes it), so that weftd can bind.
Status prepare_ipc_directory(std::string_view endpoint);

}  // namespace weft::detail::sidecar
