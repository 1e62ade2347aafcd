#include "sidecar/sidecar_codec.hpp"

#include <algorithm>

namespace weft::detail::sidecar {

bool is_known_kind(std::uint64_t kind) noexcept {
  return (kind >= static_cast<std::uint64_t>(Kind::kPing) && kind <= static_cast<std::uint64_t>(Kind::kReadFailed)) ||
         (kind >= static_cast<std::uint64_t>(Kind::kPong) && kind <= static_cast<std::uint64_t>(Kind::kDeliverFile));
}

std::string_view kind_name(Kind kind) noexcept {
  switch (kind) {
    case Kind::kPing: return "PING";
    case Kind::kAppend: return "APPEND";
    case Kind::kConsume: return "CONSUME";
    case Kind::kUnconsume: return "UNCONSUME";
    case Kind::kAck: return "ACK";
    case Kind::kNak: return "NAK";
    case Kind::kProgress: return "PROGRESS";
    case Kind::kCredit: return "CREDIT";
    case Kind::kAdmin: return "ADMIN";
    case Kind::kDeadLetter: return "DEAD_LETTER";
    case Kind::kReadFailed: return "READ_FAILED";
    case Kind::kPong: return "PONG";
    case Kind::kAppended: return "APPENDED";
    case Kind::kConsuming: return "CONSUMING";
    case Kind::kDeliver: return "DELIVER";
    case Kind::kAckReply: return "ACK_REPLY";
    case Kind::kConsumerEnd: return "CONSUMER_END";
    case Kind::kAdminReply: return "ADMIN_REPLY";
    case Kind::kError: return "ERROR";
    case Kind::kOk: return "OK";
    case Kind::kDeliverFile: return "DELIVER_FILE";
  }
  return "UNKNOWN";
}

std::string_view error_kind_name(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::kMalformed: return "malformed";
    case ErrorKind::kBadVersion: return "unsupported version";
    case ErrorKind::kUnknownKind: return "unknown kind";
    case ErrorKind::kNoStream: return "no stream";
    case ErrorKind::kStreamFailed: return "stream failed";
    case ErrorKind::kTooLarge: return "too large";
    case ErrorKind::kInvalid: return "invalid";
    case ErrorKind::kNotFound: return "not found";
    case ErrorKind::kConflict: return "conflict";
    case ErrorKind::kStopping: return "stopping";
    case ErrorKind::kBackPressure: return "back-pressure";
    case ErrorKind::kInternal: return "internal";
    case ErrorKind::kIoError: return "i/o error";
  }
  return "unknown error";
}

ErrorCode to_error_code(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::kMalformed:
    case ErrorKind::kBadVersion:
    case ErrorKind::kUnknownKind: return ErrorCode::kProtocol;
    case ErrorKind::kNoStream:
    case ErrorKind::kNotFound: return ErrorCode::kNotFound;
    case ErrorKind::kStreamFailed:
    case ErrorKind::kIoError: return ErrorCode::kIoError;
    case ErrorKind::kTooLarge:
    case ErrorKind::kInvalid:
    case ErrorKind::kConflict: return ErrorCode::kInvalidArgument;
    case ErrorKind::kStopping: return ErrorCode::kUnavailable;
    case ErrorKind::kBackPressure: return ErrorCode::kBackPressure;
    case ErrorKind::kInternal: return ErrorCode::kInternal;
  }
  return ErrorCode::kInternal;
}

ErrorKind from_status(const Status& status) noexcept {
  switch (status.code()) {
    case ErrorCode::kInvalidArgument: return ErrorKind::kInvalid;
    case ErrorCode::kBackPressure: return ErrorKind::kBackPressure;
    case ErrorCode::kNotFound: return ErrorKind::kNotFound;
    case ErrorCode::kClosed:
    case ErrorCode::kUnavailable: return ErrorKind::kStopping;
    case ErrorCode::kIoError:
    case ErrorCode::kCorruption: return ErrorKind::kIoError;
    case ErrorCode::kProtocol: return ErrorKind::kMalformed;
    default: return ErrorKind::kInternal;
  }
}

Status validate_name(std::string_view what, std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    return Status::invalid_argument(std::string(what) + " must be 1 to " + std::to_string(kMaxNameBytes) +
                                    " bytes long");
  }
  const bool ok = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  if (!ok) {
    return Status::invalid_argument(std::string(what) + " '" + std::string(name) +
                                    "' may hold only letters, digits, '_' and '-'");
  }
  return Status::ok();
}

HeaderResult decode_header(std::span<const std::byte> frame, Header& out) {
  HeaderResult result;
  if (frame.size() > kMaxHeaderBytes) {
    result.error = HeaderError::kMalformed;
    result.detail = "a header frame of " + std::to_string(frame.size()) + " bytes (at most " +
                    std::to_string(kMaxHeaderBytes) + ")";
    return result;
  }
  try {
    msgpack::unpack_limit limits(kMaxArrayElements, kMaxMapEntries, kMaxStringBytes, kMaxStringBytes, 0, kMaxDepth);
    std::size_t consumed = 0;
    out.handle = msgpack::unpack(reinterpret_cast<const char*>(frame.data()), frame.size(), consumed, nullptr,
                                 nullptr, limits);
    if (consumed != frame.size()) {
      result.error = HeaderError::kMalformed;
      result.detail = "bytes follow the header's msgpack value";
      return result;
    }
    const msgpack::object& root = out.handle.get();
    if (root.type != msgpack::type::ARRAY || root.via.array.size < kHeaderMinElements) {
      result.error = HeaderError::kMalformed;
      result.detail = "the header must be an array [version, kind, request_id, fields]";
      return result;
    }
    const msgpack::object* e = root.via.array.ptr;
    if (e[kHeaderRequestId].type == msgpack::type::POSITIVE_INTEGER) {
      result.request_id = e[kHeaderRequestId].via.u64;
    }
    if (e[kHeaderVersion].type != msgpack::type::POSITIVE_INTEGER ||
        e[kHeaderKind].type != msgpack::type::POSITIVE_INTEGER ||
        e[kHeaderRequestId].type != msgpack::type::POSITIVE_INTEGER) {
      result.error = HeaderError::kMalformed;
      result.detail = "version, kind and request_id must be non-negative integers";
      return result;
    }
    out.version = e[kHeaderVersion].via.u64;
    out.request_id = e[kHeaderRequestId].via.u64;
    if (out.version != kProtocolVersion) {
      result.error = HeaderError::kBadVersion;
      result.detail = "protocol version " + std::to_string(out.version) + " (weft speaks " +
                      std::to_string(kProtocolVersion) + ")";
      return result;
    }
    const std::uint64_t kind = e[kHeaderKind].via.u64;
    if (!is_known_kind(kind)) {
      result.error = HeaderError::kUnknownKind;
      result.detail = "unknown kind " + std::to_string(kind);
      return result;
    }
    out.kind = static_cast<Kind>(kind);
    if (e[kHeaderFields].type != msgpack::type::MAP) {
      result.error = HeaderError::kMalformed;
      result.detail = "the header's fields must be a map";
      return result;
    }
    out.fields = &e[kHeaderFields];
    return result;
  } catch (const std::exception& ex) {
    result.error = HeaderError::kMalformed;
    result.detail = std::string("the header is not msgpack within the limits: ") + ex.what();
    return result;
  }
}

Frames make_error(std::uint64_t request_id, ErrorKind code, std::string message) {
  ErrorFields fields{static_cast<std::uint8_t>(code), std::move(message)};
  return make_message(Kind::kError, request_id, fields);
}

Status status_from_error(const ErrorFields& error) {
  const auto kind = static_cast<ErrorKind>(error.code);
  return Status(to_error_code(kind), std::string(error_kind_name(kind)) + ": " + error.message);
}

}  // namespace weft::detail::sidecar
