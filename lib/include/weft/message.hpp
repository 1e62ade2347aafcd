// What a subscriber receives (Message, a view valid during the handler call) and what a publisher attaches
// (Headers). docs/wire-protocol.md describes the envelope these come from.
#pragma once

#include <cstddef>
#include <chrono>
#include <cstdint>
#include <memory>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft {

// Headers a publisher attaches: string keys to string values, in insertion order, keys unique.
class Headers {
 public:
  using Entry = std::pair<std::string, std::string>;

  Headers() = default;
  Headers(std::initializer_list<std::pair<std::string_view, std::string_view>> entries);

  // Adds the entry, or replaces the value of an existing key.
  void set(std::string_view key, std::string_view value);
  [[nodiscard]] std::optional<std::string_view> get(std::string_view key) const noexcept;
  bool erase(std::string_view key) noexcept;

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }
  [[nodiscard]] auto begin() const noexcept { return entries_.begin(); }
  [[nodiscard]] auto end() const noexcept { return entries_.end(); }

  friend bool operator==(const Headers&, const Headers&) = default;

 private:
  std::vector<Entry> entries_;
};

// One received header; the views point into the received frame.
struct HeaderRef {
  std::string_view key;
  std::string_view value;
};

// The headers of a received message, in the order they were sent.
class HeadersView {
 public:
  HeadersView() = default;
  explicit HeadersView(std::span<const HeaderRef> entries) noexcept : entries_(entries) {}

  [[nodiscard]] std::optional<std::string_view> get(std::string_view key) const noexcept;
  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }
  [[nodiscard]] auto begin() const noexcept { return entries_.begin(); }
  [[nodiscard]] auto end() const noexcept { return entries_.end(); }
  [[nodiscard]] Headers to_owned() const;

 private:
  std::span<const HeaderRef> entries_;
};

// Names a message: the publisher's stream and the message's place in it. Best-effort messages use the
// publishing node's id as their stream.
struct MessageId {
  std::uint64_t stream = 0;
  std::uint64_t sequence = 0;
  friend bool operator==(const MessageId&, const MessageId&) = default;
};

struct OwnedMessage;

namespace detail {
struct DeliveryRef;
}

// Settles one at-least-once delivery by hand (SubscribeOptions::ack = AckPolicy::kManual), from any thread,
// during or after the handler. The first of ack(), nak() counts; in_progress() may come any number of times
// before it. Copyable; an AckHandle of a best-effort message is not valid() and does nothing.
class AckHandle {
 public:
  AckHandle() = default;
  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(state_); }
  // Handled: the publisher forgets it.
  void ack();
  // Not handled: deliver it again, not before `delay` (counts towards max_deliver).
  void nak(std::chrono::milliseconds delay = std::chrono::milliseconds(0), std::string_view reason = {});
  // Still working on it: the ack wait starts over.
  void in_progress();

  struct State;
  explicit AckHandle(std::shared_ptr<State> state) noexcept : state_(std::move(state)) {}

 private:
  std::shared_ptr<State> state_;
};

// A received message. It is a view into the frame that carried it: valid only while the handler runs; call
// to_owned() to keep it.
class Message {
 public:
  Message(std::string_view subject, std::span<const std::byte> payload, HeadersView headers, MessageId id,
          std::int64_t timestamp_ns) noexcept
      : subject_(subject), payload_(payload), headers_(headers), id_(id), timestamp_ns_(timestamp_ns) {}

  [[nodiscard]] std::string_view subject() const noexcept { return subject_; }
  [[nodiscard]] std::span<const std::byte> payload() const noexcept { return payload_; }
  // The payload's bytes as characters, for text payloads.
  [[nodiscard]] std::string_view payload_text() const noexcept {
    return {reinterpret_cast<const char*>(payload_.data()), payload_.size()};
  }
  [[nodiscard]] const HeadersView& headers() const noexcept { return headers_; }
  [[nodiscard]] MessageId id() const noexcept { return id_; }
  // When the publisher published it: nanoseconds since the Unix epoch, by the publisher's clock.
  [[nodiscard]] std::int64_t timestamp_ns() const noexcept { return timestamp_ns_; }

  [[nodiscard]] OwnedMessage to_owned() const;

  // At-least-once deliveries (durable subscriptions and queue groups) carry their delivery attempt (1 the
  // first time) and can be settled by hand; best-effort messages say 0 and give an invalid handle.
  [[nodiscard]] bool at_least_once() const noexcept { return delivery_ != nullptr; }
  [[nodiscard]] std::uint32_t delivery_attempt() const noexcept;
  [[nodiscard]] AckHandle ack_handle() const;

  // For the node: ties the view to its delivery.
  void set_delivery(const detail::DeliveryRef* delivery) noexcept { delivery_ = delivery; }

 private:
  std::string_view subject_;
  std::span<const std::byte> payload_;
  HeadersView headers_;
  MessageId id_;
  std::int64_t timestamp_ns_;
  const detail::DeliveryRef* delivery_ = nullptr;
};

// A message that owns its bytes.
struct OwnedMessage {
  std::string subject;
  std::vector<std::byte> payload;
  Headers headers;
  MessageId id;
  std::int64_t timestamp_ns = 0;

  [[nodiscard]] std::string_view payload_text() const noexcept {
    return {reinterpret_cast<const char*>(payload.data()), payload.size()};
  }
};

// Views text as payload bytes: node.publish("a.b", weft::as_bytes("hello")).
inline std::span<const std::byte> as_bytes(std::string_view text) noexcept {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

}  // namespace weft
