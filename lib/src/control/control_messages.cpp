#include "control/control_messages.hpp"

#include <exception>

namespace weft::detail::control {

namespace {

// What one header frame may make the decoder allocate: control messages are small and their lists bounded.
constexpr std::size_t kMaxArray = 4096;
constexpr std::size_t kMaxMap = 16;
constexpr std::size_t kMaxString = 64 * 1024;
constexpr std::size_t kMaxDepth = 6;

template <typename T>
constexpr Kind kind_of();
template <> constexpr Kind kind_of<Consume>() { return Kind::kConsume; }
template <> constexpr Kind kind_of<Unconsume>() { return Kind::kUnconsume; }
template <> constexpr Kind kind_of<Deliver>() { return Kind::kDeliver; }
template <> constexpr Kind kind_of<Ack>() { return Kind::kAck; }
template <> constexpr Kind kind_of<Nak>() { return Kind::kNak; }
template <> constexpr Kind kind_of<Progress>() { return Kind::kProgress; }
template <> constexpr Kind kind_of<Heartbeat>() { return Kind::kHeartbeat; }
template <> constexpr Kind kind_of<Resend>() { return Kind::kResend; }
template <> constexpr Kind kind_of<Reply>() { return Kind::kReply; }
template <> constexpr Kind kind_of<Rejected>() { return Kind::kRejected; }

template <typename T>
Message convert(const msgpack::object& body) {
  T value;
  body.convert(value);
  return value;
}

}  // namespace

std::string encode(const Message& message) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        packer.pack_array(3);
        packer.pack(kVersion);
        packer.pack(static_cast<std::uint8_t>(kind_of<T>()));
        packer.pack(m);
      },
      message);
  return {buffer.data(), buffer.size()};
}

Result<Message> decode(const void* data, std::size_t size) {
  // msgpack-c's object API throws on malformed input and on type mismatches; this is the one place where
  // that is caught, so a hostile peer costs an exception at most, never a crash.
  try {
    msgpack::unpack_limit limits(kMaxArray, kMaxMap, kMaxString, kMaxString, 0, kMaxDepth);
    msgpack::object_handle handle =
        msgpack::unpack(static_cast<const char*>(data), size, nullptr, nullptr, limits);
    const msgpack::object& root = handle.get();
    if (root.type != msgpack::type::ARRAY || root.via.array.size < 3) {
      return Status::invalid_argument("a control message must be an array [version, kind, body]");
    }
    const msgpack::object* parts = root.via.array.ptr;
    auto version = parts[0].as<std::uint64_t>();
    if (version != kVersion) {
      return Status::invalid_argument("control protocol version " + std::to_string(version) + ", this node speaks " +
                                      std::to_string(kVersion));
    }
    switch (static_cast<Kind>(parts[1].as<std::uint8_t>())) {
      case Kind::kConsume: return convert<Consume>(parts[2]);
      case Kind::kUnconsume: return convert<Unconsume>(parts[2]);
      case Kind::kDeliver: return convert<Deliver>(parts[2]);
      case Kind::kAck: return convert<Ack>(parts[2]);
      case Kind::kNak: return convert<Nak>(parts[2]);
      case Kind::kProgress: return convert<Progress>(parts[2]);
      case Kind::kHeartbeat: return convert<Heartbeat>(parts[2]);
      case Kind::kResend: return convert<Resend>(parts[2]);
      case Kind::kReply: return convert<Reply>(parts[2]);
      case Kind::kRejected: return convert<Rejected>(parts[2]);
    }
    return Status::invalid_argument("unknown control message kind " + std::to_string(parts[1].as<unsigned>()));
  } catch (const std::exception& e) {
    return Status::invalid_argument(std::string("malformed control message: ") + e.what());
  }
}

const char* kind_name(const Message& message) noexcept {
  static constexpr const char* kNames[] = {"consume", "unconsume", "deliver", "ack",   "nak",
                                           "progress", "heartbeat", "resend",  "reply", "rejected"};
  return kNames[message.index()];
}

}  // namespace weft::detail::control
