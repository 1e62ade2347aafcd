#include "sidecar/sidecar_endpoint.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace weft::detail::sidecar {

std::string default_sidecar_endpoint() {
  if (const char* env = std::getenv(std::string(kEndpointEnvironment).c_str()); env != nullptr && *env != '\0') {
    return env;
  }
  std::string dir;
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime != nullptr && *runtime == '/') {
    dir = std::string(runtime) + "/weft";
  } else if (::geteuid() == 0) {
    dir = "/run/weft";
  } else {
    dir = "/tmp/weft-" + std::to_string(::geteuid());
  }
  return "ipc://" + dir + "/" + std::string(kSocketName);
}

std::string ipc_path(std::string_view endpoint) {
  constexpr std::string_view kScheme = "ipc://";
  if (endpoint.substr(0, kScheme.size()) != kScheme) return {};
  return std::string(endpoint.substr(kScheme.size()));
}

Status prepare_ipc_directory(std::string_view endpoint) {
  const std::string path = ipc_path(endpoint);
  if (path.empty()) return Status::ok();
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return Status::ok();
  const std::string dir = path.substr(0, slash);
  // Each missing level, from the top; only the last (weft's own) is made private.
  for (std::size_t at = 1; at != std::string::npos;) {
    at = dir.find('/', at + 1);
    const std::string level = dir.substr(0, at);
    struct stat st {};
    if (::stat(level.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) return Status::io_error("'" + level + "' is not a directory");
      continue;
    }
    if (::mkdir(level.c_str(), at == std::string::npos ? 0700 : 0755) != 0 && errno != EEXIST) {
      return Status::io_error("cannot create '" + level + "' for the socket " + path + ": " + std::strerror(errno));
    }
  }
  return Status::ok();
}

}  // namespace weft::detail::sidecar
