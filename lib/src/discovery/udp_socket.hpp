// The real datagram seam: non-blocking POSIX UDP sockets (IPv4).
#pragma once

#include "discovery/datagram.hpp"

namespace weft::detail {

class PosixDatagramNetwork final : public DatagramNetwork {
 public:
  Result<std::unique_ptr<DatagramSocket>> open(const DatagramSocketOptions& options) override;
};

}  // namespace weft::detail
