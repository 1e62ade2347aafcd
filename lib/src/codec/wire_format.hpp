// Every constant of the wire format, in one place. docs/wire-protocol.md is the specification; keep the two
// in step.
#pragma once

#include <cstddef>
#include <cstdint>

namespace weft::detail::wire {

// A Weft message is a ZeroMQ message of exactly two frames: the subject, then one or more envelopes.
inline constexpr std::size_t kFrameCount = 2;
inline constexpr std::size_t kSubjectFrame = 0;
inline constexpr std::size_t kEnvelopeFrame = 1;

inline constexpr std::uint64_t kProtocolVersion = 1;

// The envelope is a msgpack array; these are its element positions. Elements past kPayload are extensions of
// later revisions, which a receiver skips.
enum EnvelopeField : std::size_t {
  kVersion = 0,
  kStream = 1,
  kSequence = 2,
  kSubject = 3,
  kTimestamp = 4,
  kHeaders = 5,
  kPayload = 6,
};
inline constexpr std::size_t kEnvelopeMinFields = 7;
inline constexpr std::size_t kEnvelopeMaxFields = 64;
// Extensions may nest, but no deeper than this (the envelope itself is depth 1).
inline constexpr std::size_t kMaxDepth = 8;

// Header limits a receiver enforces.
inline constexpr std::size_t kMaxHeaders = 64;
inline constexpr std::size_t kMaxHeaderKeyBytes = 256;
inline constexpr std::size_t kMaxHeaderValueBytes = 8192;

// Weft's encoder writes the array header as fixarray(7), the version as a positive fixint, and the stream and
// sequence as uint64 (0xcf + 8 bytes big-endian), so the sequence sits at a fixed offset where the I/O thread
// stamps it as the message leaves. Receivers accept any msgpack integer encoding.
inline constexpr std::size_t kStreamOffset = 2;     // the 0xcf byte of the stream
inline constexpr std::size_t kSequenceOffset = 11;  // the 0xcf byte of the sequence
inline constexpr std::uint8_t kUint64Marker = 0xcf;

// Subscription messages a subscriber sends to a publisher (ZeroMQ's XPUB/SUB convention).
inline constexpr std::uint8_t kUnsubscribe = 0x00;
inline constexpr std::uint8_t kSubscribe = 0x01;

}  // namespace weft::detail::wire
