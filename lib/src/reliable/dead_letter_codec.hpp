// The one encoding of a dead letter, shared by the node's local dead-letter queue (reliable/dead_letter_store)
// and weftd's dead-letter streams, so that `weft dlq` and `weft log dump` read both alike. Each is one log
// record whose value is a msgpack array (docs/guarantees.md and docs/sidecar.md, "Dead letters"):
//   [1, subject, consumer, deliveries, last_error, time_ns, envelope (bin)]                 a node's
//   [1, subject, consumer, deliveries, last_error, time_ns, envelope (bin), source_stream, source_offset]  weftd's
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "reliable/dead_letter.hpp"
#include "weft/status.hpp"

namespace weft::detail {

// Seven elements when letter.source_stream is empty, nine otherwise.
std::vector<std::byte> encode_dead_letter(const DeadLetter& letter);
// Accepts both lengths (and ignores elements after the ninth); anything else is kCorruption, never a throw.
Result<DeadLetter> decode_dead_letter(std::span<const std::byte> value);

}  // namespace weft::detail
