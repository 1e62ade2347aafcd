#include "reliable/dead_letter_codec.hpp"

#include <msgpack.hpp>

namespace weft::detail {

namespace {
constexpr std::uint64_t kDeadLetterVersion = 1;
constexpr std::uint32_t kNodeElements = 7;     // up to the envelope
constexpr std::uint32_t kSidecarElements = 9;  // and where weftd took it from
}  // namespace

std::vector<std::byte> encode_dead_letter(const DeadLetter& letter) {
  const bool from_stream = !letter.source_stream.empty();
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(from_stream ? kSidecarElements : kNodeElements);
  packer.pack(kDeadLetterVersion);
  packer.pack(letter.subject);
  packer.pack(letter.consumer);
  packer.pack(letter.deliveries);
  packer.pack(letter.last_error);
  packer.pack(letter.time_ns);
  const ByteBuffer empty;
  const ByteBuffer& envelope = letter.envelope ? *letter.envelope : empty;
  packer.pack_bin(static_cast<std::uint32_t>(envelope.size()));
  packer.pack_bin_body(reinterpret_cast<const char*>(envelope.data()), static_cast<std::uint32_t>(envelope.size()));
  if (from_stream) {
    packer.pack(letter.source_stream);
    packer.pack(letter.source_offset);
  }
  auto* data = reinterpret_cast<const std::byte*>(buffer.data());
  return {data, data + buffer.size()};
}

Result<DeadLetter> decode_dead_letter(std::span<const std::byte> value) {
  try {
    msgpack::object_handle handle = msgpack::unpack(reinterpret_cast<const char*>(value.data()), value.size());
    const msgpack::object& root = handle.get();
    if (root.type != msgpack::type::ARRAY || root.via.array.size < kNodeElements) {
      return Status::corruption("a dead letter must be an array of at least 7 elements");
    }
    const msgpack::object* f = root.via.array.ptr;
    if (f[0].as<std::uint64_t>() != kDeadLetterVersion) {
      return Status::corruption("dead letter version " + std::to_string(f[0].as<std::uint64_t>()));
    }
    DeadLetter letter;
    letter.subject = f[1].as<std::string>();
    letter.consumer = f[2].as<std::string>();
    letter.deliveries = f[3].as<std::uint32_t>();
    letter.last_error = f[4].as<std::string>();
    letter.time_ns = f[5].as<std::int64_t>();
    if (f[6].type != msgpack::type::BIN) return Status::corruption("a dead letter's envelope must be bin");
    auto* bytes = reinterpret_cast<const std::byte*>(f[6].via.bin.ptr);
    letter.envelope = std::make_shared<const ByteBuffer>(bytes, bytes + f[6].via.bin.size);
    if (root.via.array.size >= kSidecarElements) {
      letter.source_stream = f[7].as<std::string>();
      letter.source_offset = f[8].as<std::uint64_t>();
    }
    return letter;
  } catch (const std::exception& e) {
    return Status::corruption(std::string("a dead letter does not decode: ") + e.what());
  }
}

}  // namespace weft::detail
