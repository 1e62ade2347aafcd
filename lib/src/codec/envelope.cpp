#include "codec/envelope.hpp"

#include <msgpack.hpp>

#include <cstring>
#include <stdexcept>

#include "codec/wire_format.hpp"

namespace weft::detail {

namespace {

// msgpack-c's packer writes through any type with write(const char*, size_t); this one fills bytes that
// encode_envelope has already reserved, so packing never reallocates. It checks its bounds all the same: a
// size computed wrong is a bug to report, never a buffer overrun.
class ReservedWriter {
 public:
  ReservedWriter(std::byte* cursor, std::byte* end) noexcept : cursor_(cursor), end_(end) {}
  void write(const char* data, std::size_t size) {
    if (size == 0) return;  // an empty payload may come as a null pointer: memcpy must not see it
    if (size > static_cast<std::size_t>(end_ - cursor_)) {
      throw std::logic_error("weft: encoded_envelope_size disagrees with encode_envelope");
    }
    std::memcpy(cursor_, data, size);
    cursor_ += size;
  }
  [[nodiscard]] bool full() const noexcept { return cursor_ == end_; }

 private:
  std::byte* cursor_;
  std::byte* end_;
};

std::size_t str_header_size(std::size_t n) noexcept { return n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5; }
std::size_t bin_header_size(std::size_t n) noexcept { return n < 256 ? 2 : n < 65536 ? 3 : 5; }
std::size_t map_header_size(std::size_t n) noexcept { return n < 16 ? 1 : n < 65536 ? 3 : 5; }

}  // namespace

std::size_t encoded_envelope_size(std::string_view subject, const Headers* headers, std::size_t payload_bytes) {
  std::size_t size = 1 /* fixarray */ + 1 /* version */ + 9 /* stream */ + 9 /* sequence */ + 9 /* timestamp */;
  size += str_header_size(subject.size()) + subject.size();
  std::size_t header_count = headers ? headers->size() : 0;
  size += map_header_size(header_count);
  if (headers) {
    for (const auto& [key, value] : *headers) {
      size += str_header_size(key.size()) + key.size() + str_header_size(value.size()) + value.size();
    }
  }
  size += bin_header_size(payload_bytes) + payload_bytes;
  return size;
}

void encode_envelope(ByteBuffer& out, const OutgoingEnvelope& envelope) {
  std::size_t size = encoded_envelope_size(envelope.subject, envelope.headers, envelope.payload.size());
  std::size_t start = out.size();
  out.resize(start + size);
  ReservedWriter writer(out.data() + start, out.data() + out.size());
  msgpack::packer<ReservedWriter> packer(writer);
  packer.pack_array(static_cast<std::uint32_t>(wire::kEnvelopeMinFields));
  packer.pack_uint8(static_cast<std::uint8_t>(wire::kProtocolVersion));  // a positive fixint: one byte
  packer.pack_fix_uint64(envelope.stream);
  packer.pack_fix_uint64(envelope.sequence);
  packer.pack_str(static_cast<std::uint32_t>(envelope.subject.size()));
  packer.pack_str_body(envelope.subject.data(), static_cast<std::uint32_t>(envelope.subject.size()));
  packer.pack_fix_int64(envelope.timestamp_ns);
  std::size_t header_count = envelope.headers ? envelope.headers->size() : 0;
  packer.pack_map(static_cast<std::uint32_t>(header_count));
  if (envelope.headers) {
    for (const auto& [key, value] : *envelope.headers) {
      packer.pack_str(static_cast<std::uint32_t>(key.size()));
      packer.pack_str_body(key.data(), static_cast<std::uint32_t>(key.size()));
      packer.pack_str(static_cast<std::uint32_t>(value.size()));
      packer.pack_str_body(value.data(), static_cast<std::uint32_t>(value.size()));
    }
  }
  packer.pack_bin(static_cast<std::uint32_t>(envelope.payload.size()));
  packer.pack_bin_body(reinterpret_cast<const char*>(envelope.payload.data()),
                       static_cast<std::uint32_t>(envelope.payload.size()));
  if (!writer.full()) throw std::logic_error("weft: encoded_envelope_size disagrees with encode_envelope");
}

namespace {
void stamp_uint64(std::byte* at, std::uint64_t value) noexcept {
  std::byte* p = at + 1;  // past the 0xcf marker, big-endian
  for (int shift = 56; shift >= 0; shift -= 8) *p++ = static_cast<std::byte>((value >> shift) & 0xff);
}
}  // namespace

Status validate_headers(const Headers& headers) {
  if (headers.size() > wire::kMaxHeaders) {
    return Status::invalid_argument(std::to_string(headers.size()) + " headers, over the limit of " +
                                    std::to_string(wire::kMaxHeaders));
  }
  for (const auto& [key, value] : headers) {
    if (key.empty()) return Status::invalid_argument("a header key is empty");
    if (key.size() > wire::kMaxHeaderKeyBytes) {
      return Status::invalid_argument("header key '" + key.substr(0, 32) + "...' is over the limit of " +
                                      std::to_string(wire::kMaxHeaderKeyBytes) + " bytes");
    }
    if (value.size() > wire::kMaxHeaderValueBytes) {
      return Status::invalid_argument("the value of header '" + key + "' is " + std::to_string(value.size()) +
                                      " bytes, over the limit of " + std::to_string(wire::kMaxHeaderValueBytes));
    }
  }
  return Status::ok();
}

void stamp_sequence(std::byte* envelope, std::uint64_t sequence) noexcept {
  stamp_uint64(envelope + wire::kSequenceOffset, sequence);
}

void stamp_stream(std::byte* envelope, std::uint64_t stream) noexcept {
  stamp_uint64(envelope + wire::kStreamOffset, stream);
}

namespace {

// A msgpack-c visitor that accepts exactly the envelope's shape and records where each field lies. Any
// deviation makes it return false, which stops the parser at once: nothing it has not checked is trusted.
class EnvelopeVisitor {
 public:
  EnvelopeVisitor(EnvelopeView& out, std::vector<HeaderRef>& headers) : out_(out), headers_(headers) {}

  [[nodiscard]] const DecodeResult& result() const noexcept { return result_; }
  [[nodiscard]] bool complete() const noexcept { return fields_seen_ >= wire::kEnvelopeMinFields && depth_ == 0; }

  bool visit_nil() { return scalar("nil"); }
  bool visit_boolean(bool) { return scalar("boolean"); }
  bool visit_float32(float) { return scalar("float"); }
  bool visit_float64(double) { return scalar("float"); }
  bool visit_ext(const char*, std::uint32_t) { return scalar("ext"); }

  bool visit_positive_integer(std::uint64_t v) {
    if (in_extension()) return true;
    if (depth_ != 1) return wrong_type("an integer");
    switch (field_) {
      case wire::kVersion:
        out_.version = v;
        // Checked first and alone: a later version may change everything after this element.
        if (v != wire::kProtocolVersion) {
          set_error(DecodeError::kBadVersion, "protocol version " + std::to_string(v) + ", this node speaks " +
                                                  std::to_string(wire::kProtocolVersion));
          return false;
        }
        return true;
      case wire::kStream: out_.stream = v; return true;
      case wire::kSequence: out_.sequence = v; return true;
      case wire::kTimestamp:
        if (v > static_cast<std::uint64_t>(INT64_MAX)) return fail("timestamp out of range");
        out_.timestamp_ns = static_cast<std::int64_t>(v);
        return true;
      default: return wrong_type("an integer");  // subject, headers or payload
    }
  }
  bool visit_negative_integer(std::int64_t v) {
    // msgpack-c reports every signed encoding (0xd0..0xd3) here, whatever the value: a non-negative one is an
    // ordinary integer written by an encoder that prefers signed forms.
    if (v >= 0) return visit_positive_integer(static_cast<std::uint64_t>(v));
    if (in_extension()) return true;
    if (depth_ == 1 && field_ == wire::kTimestamp) {
      out_.timestamp_ns = v;
      return true;
    }
    return wrong_type("a negative integer");
  }
  bool visit_str(const char* data, std::uint32_t size) {
    if (in_extension()) return true;
    std::string_view text(data, size);
    if (depth_ == 1) {
      if (field_ != wire::kSubject) return wrong_type("a string");
      out_.subject = text;
      return true;
    }
    if (depth_ == 2 && field_ == wire::kHeaders) return header_string(text);
    return wrong_type("a string");
  }
  bool visit_bin(const char* data, std::uint32_t size) {
    if (in_extension()) return true;
    if (depth_ == 1 && field_ == wire::kPayload) {
      out_.payload = {reinterpret_cast<const std::byte*>(data), size};
      return true;
    }
    return wrong_type("binary");
  }

  bool start_array(std::uint32_t count) {
    if (in_extension()) return enter();
    if (depth_ == 0) {
      if (count < wire::kEnvelopeMinFields) {
        return fail("envelope has " + std::to_string(count) + " elements, fewer than " +
                    std::to_string(wire::kEnvelopeMinFields));
      }
      if (count > wire::kEnvelopeMaxFields) return fail("envelope has " + std::to_string(count) + " elements");
      return enter();
    }
    return wrong_type("an array");
  }
  bool start_array_item() { return true; }
  bool end_array_item() {
    if (depth_ == 1) {
      ++field_;
      ++fields_seen_;
    }
    return true;
  }
  bool end_array() {
    --depth_;
    return true;
  }

  bool start_map(std::uint32_t count) {
    if (in_extension()) return enter();
    if (depth_ == 1 && field_ == wire::kHeaders) {
      if (count > wire::kMaxHeaders) {
        return fail(std::to_string(count) + " headers, over the limit of " + std::to_string(wire::kMaxHeaders));
      }
      headers_.clear();
      return enter();
    }
    return wrong_type("a map");
  }
  bool start_map_key() {
    expecting_key_ = true;
    return true;
  }
  bool end_map_key() { return true; }
  bool start_map_value() {
    expecting_key_ = false;
    return true;
  }
  bool end_map_value() { return true; }
  bool end_map() {
    if (depth_ == 2 && field_ == wire::kHeaders) out_.headers = headers_;
    --depth_;
    return true;
  }

  void parse_error(std::size_t, std::size_t error_offset) {
    if (result_.ok()) set_error(DecodeError::kMalformed, "not msgpack at byte " + std::to_string(error_offset));
  }
  void insufficient_bytes(std::size_t, std::size_t) {
    if (result_.ok()) set_error(DecodeError::kTruncated, "the frame ends inside an envelope");
  }
  [[nodiscard]] bool referenced() const noexcept { return false; }
  void set_referenced(bool) noexcept {}

 private:
  // Inside an element past the payload: an extension of a later revision, skipped whatever it holds.
  [[nodiscard]] bool in_extension() const noexcept { return depth_ >= 1 && field_ > wire::kPayload; }

  bool enter() {
    if (++depth_ > wire::kMaxDepth) return fail("nested deeper than " + std::to_string(wire::kMaxDepth));
    return true;
  }

  bool scalar(const char* type) { return in_extension() || wrong_type(type); }

  bool wrong_type(const std::string& type) {
    if (depth_ == 0) return fail("an envelope must be a msgpack array, found " + type);
    static constexpr const char* kNames[] = {"version", "stream", "sequence", "subject",
                                             "timestamp", "headers", "payload"};
    return fail(std::string(kNames[field_]) + " is " + type);
  }

  bool header_string(std::string_view text) {
    if (expecting_key_) {
      if (text.empty()) return fail("a header key is empty");
      if (text.size() > wire::kMaxHeaderKeyBytes) return fail("a header key is over the limit of 256 bytes");
      for (const auto& h : headers_) {
        if (h.key == text) return fail("header key '" + std::string(text.substr(0, 64)) + "' appears twice");
      }
      headers_.push_back({text, {}});
      return true;
    }
    if (text.size() > wire::kMaxHeaderValueBytes) return fail("a header value is over the limit of 8192 bytes");
    headers_.back().value = text;
    return true;
  }

  bool fail(std::string detail) {
    set_error(DecodeError::kMalformed, std::move(detail));
    return false;
  }
  void set_error(DecodeError error, std::string detail) {
    result_.error = error;
    result_.detail = std::move(detail);
  }

  EnvelopeView& out_;
  std::vector<HeaderRef>& headers_;
  DecodeResult result_;
  std::size_t depth_ = 0;
  std::size_t field_ = 0;        // the envelope element being visited
  std::size_t fields_seen_ = 0;  // envelope elements completed
  bool expecting_key_ = false;
};

}  // namespace

namespace {

// Reads the envelope as Weft's own encoder writes it without headers (fixarray 7, version 1 as a fixint, stream
// and sequence as uint64, the subject as any str, the timestamp as int64, an empty fixmap, the payload as any
// bin), checking bounds at every step. Anything else, damage included, returns false with `out` untouched, and
// the general parser decides: this path only takes the common case faster (the parser's visitor cost most of
// the subscriber's decoding at small sizes), it never accepts or rejects on its own.
class CanonicalReader {
 public:
  CanonicalReader(std::span<const std::byte> frame, std::size_t offset) noexcept
      : at_(reinterpret_cast<const std::uint8_t*>(frame.data()) + offset),
        end_(reinterpret_cast<const std::uint8_t*>(frame.data()) + frame.size()) {}

  bool read(EnvelopeView& out) noexcept {
    EnvelopeView view;
    if (!expect(0x90 | wire::kEnvelopeMinFields) || !expect(wire::kProtocolVersion)) return false;
    view.version = wire::kProtocolVersion;
    if (!expect(wire::kUint64Marker) || !big_endian(view.stream)) return false;
    if (!expect(wire::kUint64Marker) || !big_endian(view.sequence)) return false;
    std::size_t subject_bytes = 0;
    if (!str_length(subject_bytes) || !view_bytes(subject_bytes, view.subject)) return false;
    std::uint64_t timestamp = 0;
    if (!expect(kInt64Marker) || !big_endian(timestamp)) return false;
    view.timestamp_ns = static_cast<std::int64_t>(timestamp);
    if (!expect(kEmptyFixmap)) return false;
    std::size_t payload_bytes = 0;
    std::string_view payload;
    if (!bin_length(payload_bytes) || !view_bytes(payload_bytes, payload)) return false;
    view.payload = std::as_bytes(std::span(payload));
    out = view;
    return true;
  }

  [[nodiscard]] const std::uint8_t* position() const noexcept { return at_; }

 private:
  static constexpr std::uint8_t kInt64Marker = 0xd3;
  static constexpr std::uint8_t kEmptyFixmap = 0x80;

  [[nodiscard]] std::size_t left() const noexcept { return static_cast<std::size_t>(end_ - at_); }

  bool expect(std::uint64_t byte) noexcept {
    if (left() < 1 || *at_ != byte) return false;
    ++at_;
    return true;
  }
  template <typename T>
  bool big_endian(T& value, std::size_t width = sizeof(T)) noexcept {
    if (left() < width) return false;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < width; ++i) v = (v << 8) | at_[i];
    value = static_cast<T>(v);
    at_ += width;
    return true;
  }
  bool str_length(std::size_t& n) noexcept {
    if (left() < 1) return false;
    std::uint8_t marker = *at_++;
    if ((marker & 0xe0) == 0xa0) {
      n = marker & 0x1f;
      return true;
    }
    switch (marker) {
      case 0xd9: return big_endian(n, 1);
      case 0xda: return big_endian(n, 2);
      case 0xdb: return big_endian(n, 4);
      default: return false;
    }
  }
  bool bin_length(std::size_t& n) noexcept {
    if (left() < 1) return false;
    switch (*at_++) {
      case 0xc4: return big_endian(n, 1);
      case 0xc5: return big_endian(n, 2);
      case 0xc6: return big_endian(n, 4);
      default: return false;
    }
  }
  bool view_bytes(std::size_t n, std::string_view& out) noexcept {
    if (left() < n) return false;
    out = {reinterpret_cast<const char*>(at_), n};
    at_ += n;
    return true;
  }

  const std::uint8_t* at_;
  const std::uint8_t* end_;
};

}  // namespace

DecodeResult decode_envelope(std::span<const std::byte> frame, std::size_t& offset, EnvelopeView& out,
                             std::vector<HeaderRef>& header_scratch) {
  out = EnvelopeView{};
  header_scratch.clear();
  if (offset >= frame.size()) return {DecodeError::kTruncated, "no envelope left in the frame"};
  CanonicalReader canonical(frame, offset);
  if (canonical.read(out)) {
    out.headers = header_scratch;  // none, as the parser leaves them for an empty map
    offset = static_cast<std::size_t>(canonical.position() - reinterpret_cast<const std::uint8_t*>(frame.data()));
    return {};
  }
  return decode_envelope_with_parser(frame, offset, out, header_scratch);
}

DecodeResult decode_envelope_with_parser(std::span<const std::byte> frame, std::size_t& offset, EnvelopeView& out,
                                         std::vector<HeaderRef>& header_scratch) {
  out = EnvelopeView{};
  header_scratch.clear();
  if (offset >= frame.size()) return {DecodeError::kTruncated, "no envelope left in the frame"};
  EnvelopeVisitor visitor(out, header_scratch);
  std::size_t cursor = offset;
  bool parsed = msgpack::parse(reinterpret_cast<const char*>(frame.data()), frame.size(), cursor, visitor);
  if (!parsed || !visitor.complete()) {
    DecodeResult result = visitor.result();
    if (result.ok()) result = {DecodeError::kMalformed, "not a complete envelope"};
    return result;
  }
  offset = cursor;
  return {};
}

}  // namespace weft::detail
