// The envelope codec: encodes one envelope with msgpack-c's packer and decodes in place with its visitor
// parser (no copies, no allocation on the happy path). The decoder trusts nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "weft/message.hpp"
#include "weft/status.hpp"

namespace weft::detail {

// Leaves new elements uninitialized on resize: a buffer about to be overwritten is not zeroed first.
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  using std::allocator<T>::allocator;
  template <typename U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

using ByteBuffer = std::vector<std::byte, DefaultInitAllocator<std::byte>>;

// Appends bytes with one memcpy. (Because the allocator has its own construct(), vector's range insert and
// assign copy a ByteBuffer byte by byte: measured at over half of the at-least-once outbox's add().)
inline void append_bytes(ByteBuffer& out, const std::byte* data, std::size_t size) {
  const std::size_t at = out.size();
  out.resize(at + size);
  if (size > 0) std::memcpy(out.data() + at, data, size);
}
inline void assign_bytes(ByteBuffer& out, const std::byte* data, std::size_t size) {
  out.clear();
  append_bytes(out, data, size);
}

struct OutgoingEnvelope {
  std::uint64_t stream = 0;
  std::uint64_t sequence = 0;
  std::string_view subject;
  std::int64_t timestamp_ns = 0;
  const Headers* headers = nullptr;  // may be null: no headers
  std::span<const std::byte> payload;
};

// Ok, or invalid-argument naming the header that breaks the limits a receiver enforces.
Status validate_headers(const Headers& headers);

// Appends the envelope to `out`.
void encode_envelope(ByteBuffer& out, const OutgoingEnvelope& envelope);

// The exact number of bytes encode_envelope appends.
std::size_t encoded_envelope_size(std::string_view subject, const Headers* headers, std::size_t payload_bytes);

// Overwrites the sequence (or the stream) of an envelope that encode_envelope wrote.
void stamp_sequence(std::byte* envelope, std::uint64_t sequence) noexcept;
void stamp_stream(std::byte* envelope, std::uint64_t stream) noexcept;

// A decoded envelope. The views point into the decoded frame and into the caller's header scratch vector.
struct EnvelopeView {
  std::uint64_t version = 0;
  std::uint64_t stream = 0;
  std::uint64_t sequence = 0;
  std::string_view subject;
  std::int64_t timestamp_ns = 0;
  std::span<const HeaderRef> headers;
  std::span<const std::byte> payload;

  [[nodiscard]] Message as_message() const noexcept {
    return Message(subject, payload, HeadersView(headers), MessageId{stream, sequence}, timestamp_ns);
  }
};

enum class DecodeError {
  kNone,
  kTruncated,   // the frame ends inside an envelope
  kMalformed,   // not msgpack, or not the envelope's shape, or over a limit
  kBadVersion,  // a well-formed envelope of another protocol version
};

struct DecodeResult {
  DecodeError error = DecodeError::kNone;
  std::string detail;  // says what was wrong, for the (rate-limited) log
  [[nodiscard]] bool ok() const noexcept { return error == DecodeError::kNone; }
};

// Decodes the envelope that starts at `offset` in `frame` and advances `offset` past it. `header_scratch` holds
// the decoded headers; `out.headers` points into it, so it must outlive the use of `out`.
// Envelopes as Weft writes them without headers are read directly; everything else goes to the general parser.
DecodeResult decode_envelope(std::span<const std::byte> frame, std::size_t& offset, EnvelopeView& out,
                             std::vector<HeaderRef>& header_scratch);

// The general parser alone (msgpack-c's visitor), which decides every envelope the direct reader does not take.
// decode_envelope must agree with it on every input; tests compare the two.
DecodeResult decode_envelope_with_parser(std::span<const std::byte> frame, std::size_t& offset, EnvelopeView& out,
                                         std::vector<HeaderRef>& header_scratch);

}  // namespace weft::detail
