#include "reliable/hello.hpp"

#include <msgpack.hpp>

#include "subject/reserved.hpp"

namespace weft::detail {

namespace {
constexpr auto kHelloInterval = std::chrono::seconds(1);
constexpr std::uint64_t kHelloVersion = 1;
}  // namespace

ByteBuffer encode_hello(const Hello& hello) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(4);
  packer.pack(kHelloVersion).pack(hello.node_id).pack(hello.name).pack(hello.control_endpoint);
  auto* data = reinterpret_cast<const std::byte*>(buffer.data());
  return ByteBuffer(data, data + buffer.size());
}

std::optional<Hello> decode_hello(std::span<const std::byte> payload) {
  try {
    msgpack::unpack_limit limits(16, 0, 1024, 0, 0, 2);
    auto handle = msgpack::unpack(reinterpret_cast<const char*>(payload.data()), payload.size(), nullptr, nullptr, limits);
    const msgpack::object& root = handle.get();
    if (root.type != msgpack::type::ARRAY || root.via.array.size < 4) return std::nullopt;
    const msgpack::object* f = root.via.array.ptr;
    if (f[0].as<std::uint64_t>() != kHelloVersion) return std::nullopt;
    return Hello{f[1].as<std::uint64_t>(), f[2].as<std::string>(), f[3].as<std::string>()};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

HelloAgent::HelloAgent(NodeContext& context, Hello hello) : context_(context) {
  ByteBuffer payload = encode_hello(hello);
  OutgoingEnvelope envelope;
  envelope.stream = context.id;
  envelope.sequence = 0;  // announcements are outside the node's message stream
  envelope.subject = kHelloSubject;
  envelope.timestamp_ns = context.clock.wall_ns();
  envelope.payload = payload;
  encode_envelope(envelope_, envelope);
}

std::size_t HelloAgent::do_work(Clock::TimePoint now, Transport& transport) {
  std::uint64_t subscribers = context_.remote_filters.changes();
  if (now < next_ && subscribers == subscribers_seen_) return 0;
  subscribers_seen_ = subscribers;
  next_ = now + kHelloInterval;
  zmq::message_t body(envelope_.data(), envelope_.size());
  // Best effort: a refused announcement is simply made again next time.
  (void)transport.send(kHelloSubject, body, std::chrono::milliseconds(0));
  return 0;  // not "work": it must not keep the loop from sleeping
}

}  // namespace weft::detail
