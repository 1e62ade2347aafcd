// A dead letter as weftd stores it in a stream's dead-letter stream (<data-dir>/dead-letters/<stream>/): one log
// record per dead letter whose value is a msgpack array, the node-local dead-letter layout
// (reliable/dead_letter_store.hpp) with two more elements:
//   [1, subject, consumer, deliveries, last_error, time_ns, envelope (bin), source_stream, source_offset]
// so `weft dlq` reads both kinds alike. docs/sidecar.md ("Dead letters") has the details.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "weft/status.hpp"

namespace weft::detail::sidecar {

struct DeadLetterRecord {
  std::string subject;
  std::string consumer;
  std::uint32_t deliveries = 0;
  std::string last_error;
  std::int64_t time_ns = 0;
  std::vector<std::byte> envelope;
  std::string source_stream;
  std::uint64_t source_offset = 0;
};

std::vector<std::byte> encode_dead_letter_record(const DeadLetterRecord& letter);
Result<DeadLetterRecord> decode_dead_letter_record(std::span<const std::byte> value);

}  // namespace weft::detail::sidecar
