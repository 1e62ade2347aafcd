// Encoding and decoding sidecar messages (docs/sidecar.md): the header frame and the frames that follow it.
// Shared by SidecarClient and weftd. Decoding trusts nothing: sizes and nesting are bounded, and every type
// mismatch is an error value, never an exception that escapes.
#pragma once

#include <msgpack.hpp>
#include <zmq.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sidecar/sidecar_messages.hpp"
#include "sidecar/sidecar_protocol.hpp"
#include "weft/status.hpp"

namespace weft::detail::sidecar {

// One protocol message as it travels: the header frame, then the body frames.
struct Frames {
  std::vector<zmq::message_t> parts;

  Frames() = default;
  Frames(Frames&&) noexcept = default;
  Frames& operator=(Frames&&) noexcept = default;

  [[nodiscard]] bool empty() const noexcept { return parts.empty(); }
  [[nodiscard]] std::size_t body_size() const noexcept { return parts.empty() ? 0 : parts.size() - 1; }
  [[nodiscard]] std::span<const std::byte> body(std::size_t i) const noexcept {
    const zmq::message_t& m = parts[i + 1];
    return {static_cast<const std::byte*>(m.data()), m.size()};
  }
};

// The header frame for `fields`.
template <typename Fields>
zmq::message_t encode_header(Kind kind, std::uint64_t request_id, const Fields& fields) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(4);
  packer.pack(kProtocolVersion);
  packer.pack(static_cast<std::uint8_t>(kind));
  packer.pack(request_id);
  packer.pack(fields);
  return zmq::message_t(buffer.data(), buffer.size());
}

// A message with the given header and body frames (copied).
template <typename Fields>
Frames make_message(Kind kind, std::uint64_t request_id, const Fields& fields,
                    std::span<const std::span<const std::byte>> body = {}) {
  Frames frames;
  frames.parts.reserve(1 + body.size());
  frames.parts.push_back(encode_header(kind, request_id, fields));
  for (auto part : body) frames.parts.emplace_back(part.data(), part.size());
  return frames;
}

// Why a header did not decode; weftd counts each reason separately.
enum class HeaderError { kNone, kMalformed, kBadVersion, kUnknownKind };

// A decoded header. `fields` points into `handle`, which owns the decoded objects.
struct Header {
  std::uint64_t version = 0;
  Kind kind = Kind::kPing;
  std::uint64_t request_id = 0;
  msgpack::object_handle handle;
  const msgpack::object* fields = nullptr;
};

struct HeaderResult {
  HeaderError error = HeaderError::kNone;
  std::string detail;
  std::uint64_t request_id = 0;  // when it could be read, so that an error can answer the request
};

// Decodes frame 0. On failure `out` is unspecified and the result says why.
HeaderResult decode_header(std::span<const std::byte> frame, Header& out);

// The fields of a decoded header as T; kInvalidArgument naming the kind when they do not fit.
template <typename T>
Result<T> fields_as(const Header& header) {
  try {
    T value;
    header.fields->convert(value);
    return value;
  } catch (const std::exception& e) {
    return Status::invalid_argument(std::string("the fields of ") + std::string(kind_name(header.kind)) +
                                    " do not decode: " + e.what());
  }
}

// A kError reply.
Frames make_error(std::uint64_t request_id, ErrorKind code, std::string message);
// The Status a client reports for a kError's fields: "no stream: no stream takes subject 'a.b'".
Status status_from_error(const ErrorFields& error);

}  // namespace weft::detail::sidecar
