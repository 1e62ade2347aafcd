// The packed body of a DELIVER (docs/sidecar.md, section 4): every delivery of one DELIVER in a single frame,
// each a fixed little-endian head and the envelope's bytes,
//
//   offset u64 | timestamp_ns i64 | attempt u32 | length u32 | envelope (length bytes) | next item ...
//
// so that weftd sends a batch of thousands of stored envelopes as one ZeroMQ frame (handed to ZeroMQ without a
// copy) instead of one copied frame each, and a client walks it without decoding msgpack per item. weftd sends
// it to members whose CONSUME asked for it (`packed`); others get one frame per envelope.
#pragma once

#include <zmq.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sidecar/sidecar_messages.hpp"

namespace weft::detail::sidecar {

inline constexpr std::size_t kPackedItemHeadBytes = 8 + 8 + 4 + 4;

// Builds a packed body item by item; take_message() hands the bytes to ZeroMQ as they are.
class PackedDeliveryWriter {
 public:
  PackedDeliveryWriter() = default;
  PackedDeliveryWriter(PackedDeliveryWriter&&) noexcept = default;
  PackedDeliveryWriter& operator=(PackedDeliveryWriter&&) noexcept = default;
  PackedDeliveryWriter(const PackedDeliveryWriter&) = delete;
  PackedDeliveryWriter& operator=(const PackedDeliveryWriter&) = delete;

  // Room for about this many bytes, so that a large batch is not copied as it grows.
  void reserve(std::size_t bytes);
  void add(const DeliveryItem& item, std::span<const std::byte> envelope);

  [[nodiscard]] std::size_t count() const noexcept { return count_; }
  [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
  [[nodiscard]] std::span<const std::byte> body() const noexcept { return {bytes_.get(), size_}; }
  // The body as a ZeroMQ message that owns the bytes (no copy); the writer is empty afterwards.
  zmq::message_t take_message();

 private:
  void grow(std::size_t at_least);

  // Not a vector: growing one zero-fills the bytes that the envelopes overwrite at once.
  std::unique_ptr<std::byte[]> bytes_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  std::size_t count_ = 0;
};

// Walks a packed body that came over the wire: trusts nothing, every length is checked against what is left.
class PackedDeliveryReader {
 public:
  explicit PackedDeliveryReader(std::span<const std::byte> body) noexcept : body_(body) {}
  // The next item and its envelope (a view into the body); false at the end of the body or at damage, which
  // error() then names.
  bool next(DeliveryItem& item, std::span<const std::byte>& envelope);
  [[nodiscard]] bool failed() const noexcept { return !error_.empty(); }
  [[nodiscard]] const std::string& error() const noexcept { return error_; }

 private:
  std::span<const std::byte> body_;
  std::size_t at_ = 0;
  std::size_t items_ = 0;
  std::string error_;
};

// Checks a whole body before anything in it is delivered: exactly `count` items that fill it to the last byte.
// Empty when it does, else why not.
[[nodiscard]] std::string check_packed_body(std::span<const std::byte> body, std::uint64_t count);

}  // namespace weft::detail::sidecar
