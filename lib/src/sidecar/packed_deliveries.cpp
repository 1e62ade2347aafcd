#include "sidecar/packed_deliveries.hpp"

#include <algorithm>
#include <cstring>

#include "log/byte_order.hpp"  // the same little-endian helpers as the log's own fields

namespace weft::detail::sidecar {

namespace {

using log::load_u32;
using log::load_u64;
using log::store_u32;
using log::store_u64;

void free_bytes(void* data, void* /*hint*/) {
  // Owned by ZeroMQ since take_message(): released here once it has sent the frame.
  std::unique_ptr<std::byte[]> owned(static_cast<std::byte*>(data));
}

}  // namespace

void PackedDeliveryWriter::reserve(std::size_t bytes) {
  if (bytes > capacity_) grow(bytes);
}

void PackedDeliveryWriter::grow(std::size_t at_least) {
  const std::size_t capacity = std::max({at_least, 2 * capacity_, std::size_t{4096}});
  auto bigger = std::make_unique_for_overwrite<std::byte[]>(capacity);
  if (size_ != 0) std::memcpy(bigger.get(), bytes_.get(), size_);
  bytes_ = std::move(bigger);
  capacity_ = capacity;
}

void PackedDeliveryWriter::add(const DeliveryItem& item, std::span<const std::byte> envelope) {
  const std::size_t need = size_ + kPackedItemHeadBytes + envelope.size();
  if (need > capacity_) grow(need);
  std::byte* p = bytes_.get() + size_;
  store_u64(p, item.offset);
  store_u64(p + 8, static_cast<std::uint64_t>(item.timestamp_ns));
  store_u32(p + 16, item.attempt);
  store_u32(p + 20, static_cast<std::uint32_t>(envelope.size()));
  if (!envelope.empty()) std::memcpy(p + kPackedItemHeadBytes, envelope.data(), envelope.size());
  size_ = need;
  ++count_;
}

zmq::message_t PackedDeliveryWriter::take_message() {
  zmq::message_t message;
  if (size_ != 0) {
    message = zmq::message_t(bytes_.get(), size_, &free_bytes, nullptr);
    (void)bytes_.release();  // ZeroMQ owns it now (free_bytes)
  }
  bytes_.reset();
  size_ = capacity_ = count_ = 0;
  return message;
}
bool PackedDeliveryReader::next(DeliveryItem& item, std::span<const std::byte>& envelope) {
  if (!error_.empty() || at_ == body_.size()) return false;
  const std::size_t left = body_.size() - at_;
  if (left < kPackedItemHeadBytes) {
    error_ = "item " + std::to_string(items_) + " has " + std::to_string(left) + " bytes of its " +
             std::to_string(kPackedItemHeadBytes) + "-byte head";
    return false;
  }
  const std::byte* p = body_.data() + at_;
  const std::uint32_t length = load_u32(p + 20);
  if (length > left - kPackedItemHeadBytes) {
    error_ = "item " + std::to_string(items_) + " claims " + std::to_string(length) + " bytes of envelope, " +
             std::to_string(left - kPackedItemHeadBytes) + " are left";
    return false;
  }
  item.offset = load_u64(p);
  item.timestamp_ns = static_cast<std::int64_t>(load_u64(p + 8));
  item.attempt = load_u32(p + 16);
  envelope = {p + kPackedItemHeadBytes, length};
  at_ += kPackedItemHeadBytes + length;
  ++items_;
  return true;
}

std::string check_packed_body(std::span<const std::byte> body, std::uint64_t count) {
  PackedDeliveryReader reader(body);
  DeliveryItem item;
  std::span<const std::byte> envelope;
  std::uint64_t found = 0;
  while (reader.next(item, envelope)) {
    if (++found > count) return "the body holds more than the " + std::to_string(count) + " items its header names";
  }
  if (reader.failed()) return reader.error();
  if (found != count) {
    return "the body holds " + std::to_string(found) + " items, its header names " + std::to_string(count);
  }
  return {};
}

}  // namespace weft::detail::sidecar
