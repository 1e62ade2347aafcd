#include "memory_transport.hpp"

namespace weft::testing {

using detail::sidecar::Frames;

class MemoryHub::Server final : public detail::weftd::ServerTransport {
 public:
  explicit Server(MemoryHub& hub) : hub_(hub) {}
  detail::SendResult send(const std::string& peer, Frames& frames) override {
    auto it = hub_.to_clients_.find(peer);
    if (!hub_.up_ || it == hub_.to_clients_.end()) return detail::SendResult::kFailed;
    it->second.push_back(std::move(frames));
    return detail::SendResult::kSent;
  }
  std::optional<detail::weftd::Routed> receive() override {
    if (!hub_.up_ || hub_.to_server_.empty()) return std::nullopt;
    detail::weftd::Routed r = std::move(hub_.to_server_.front());
    hub_.to_server_.pop_front();
    return r;
  }
  bool wait(std::chrono::milliseconds, int) override { return !hub_.to_server_.empty(); }

 private:
  MemoryHub& hub_;
};

class MemoryHub::Client final : public detail::sidecar::SidecarTransport {
 public:
  Client(MemoryHub& hub, std::string peer) : hub_(hub), peer_(std::move(peer)), endpoint_("memory://" + peer_) {
    hub_.to_clients_[peer_];
  }
  ~Client() override { hub_.to_clients_.erase(peer_); }
  detail::SendResult send(Frames& frames) override {
    if (!hub_.up_) return detail::SendResult::kFull;
    hub_.to_server_.push_back({peer_, std::move(frames)});
    return detail::SendResult::kSent;
  }
  std::optional<Frames> receive() override {
    auto& inbox = hub_.to_clients_[peer_];
    if (inbox.empty()) return std::nullopt;
    Frames f = std::move(inbox.front());
    inbox.pop_front();
    return f;
  }
  bool wait_readable(std::chrono::milliseconds) override { return !hub_.to_clients_[peer_].empty(); }
  [[nodiscard]] int descriptor() const override { return -1; }
  [[nodiscard]] const std::string& endpoint() const noexcept override { return endpoint_; }

 private:
  MemoryHub& hub_;
  std::string peer_;
  std::string endpoint_;
};

MemoryHub::MemoryHub() : server_(std::make_unique<Server>(*this)) {}
MemoryHub::~MemoryHub() = default;

detail::weftd::ServerTransport& MemoryHub::server() { return *server_; }

std::unique_ptr<detail::sidecar::SidecarTransport> MemoryHub::client(const std::string& peer) {
  return std::make_unique<Client>(*this, peer);
}

void MemoryHub::drop_in_flight() {
  to_server_.clear();
  for (auto& [peer, inbox] : to_clients_) inbox.clear();
}

void MemoryHub::inject(const std::string& peer, Frames frames) {
  to_clients_[peer];
  to_server_.push_back({peer, std::move(frames)});
}

std::size_t MemoryHub::queued_for(const std::string& peer) const {
  auto it = to_clients_.find(peer);
  return it == to_clients_.end() ? 0 : it->second.size();
}

}  // namespace weft::testing
