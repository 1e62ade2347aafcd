#include "discovery/discovery_codec.hpp"

#include <msgpack.hpp>

#include <cstring>
#include <limits>

namespace weft::detail {

namespace wire = discovery_wire;

// ---------------------------------------------------------------------------------------------------------------
// Encoding

// msgpack-c's packer writes through any type with write(const char*, size_t). This one fills a DatagramBuffer
// and, instead of growing it, remembers that something did not fit.
class DatagramWriter {
 public:
  explicit DatagramWriter(DatagramBuffer& out) noexcept : out_(out) { out_.size_ = 0; }
  void write(const char* data, std::size_t size) noexcept {
    if (overflow_ || size > out_.bytes_.size() - out_.size_) {
      overflow_ = true;
      return;
    }
    std::memcpy(out_.bytes_.data() + out_.size_, data, size);
    out_.size_ += size;
  }
  [[nodiscard]] bool overflow() const noexcept { return overflow_; }
  [[nodiscard]] std::size_t size() const noexcept { return out_.size_; }

 private:
  DatagramBuffer& out_;
  bool overflow_ = false;
};

namespace {

using Packer = msgpack::packer<DatagramWriter>;

void pack_string(Packer& packer, std::string_view text) {
  packer.pack_str(static_cast<std::uint32_t>(text.size()));
  packer.pack_str_body(text.data(), static_cast<std::uint32_t>(text.size()));
}

void pack_address(Packer& packer, UdpAddress address) {
  const char bytes[wire::kAddressBytes] = {
      static_cast<char>(address.ip >> 24),   static_cast<char>(address.ip >> 16),
      static_cast<char>(address.ip >> 8),    static_cast<char>(address.ip),
      static_cast<char>(address.port >> 8),  static_cast<char>(address.port)};
  packer.pack_bin(wire::kAddressBytes);
  packer.pack_bin_body(bytes, wire::kAddressBytes);
}

// Everything up to the body, whose array header the caller writes. Ids, incarnations and scopes are always
// uint64 (0xcf + 8 bytes), so their place in a datagram depends on nothing but the cluster name's length.
bool pack_header(Packer& packer, const DatagramHeader& header) {
  if (header.cluster.empty() || header.cluster.size() > wire::kMaxClusterBytes) return false;
  packer.pack_array(static_cast<std::uint32_t>(wire::kHeaderFields));
  pack_string(packer, wire::kMagic);
  packer.pack_uint8(static_cast<std::uint8_t>(wire::kVersion));
  packer.pack_uint8(static_cast<std::uint8_t>(header.type));
  packer.pack_uint8(header.flags);
  pack_string(packer, header.cluster);
  packer.pack_fix_uint64(header.sender);
  packer.pack_fix_uint64(header.incarnation);
  return true;
}

std::size_t uint_size(std::uint64_t v) noexcept {
  return v < 128 ? 1 : v <= 0xff ? 2 : v <= 0xffff ? 3 : v <= 0xffffffff ? 5 : 9;
}

// The exact size pack_gossip_entry writes.
std::size_t gossip_entry_size(const GossipEntry& entry) noexcept {
  return 1 /* fixarray */ + 9 + 9 + 2 + wire::kAddressBytes + uint_size(entry.age_ms);
}

}  // namespace

bool encode_beacon(const DatagramHeader& header, const BeaconBody& body, DatagramBuffer& out) {
  if (body.name.size() > wire::kMaxNameBytes || body.host.size() > wire::kMaxHostBytes ||
      body.endpoints.size() > wire::kMaxEndpoints) {
    return false;
  }
  DatagramWriter writer(out);
  Packer packer(writer);
  if (!pack_header(packer, header)) return false;
  packer.pack_array(static_cast<std::uint32_t>(wire::kBeaconFields));
  pack_string(packer, body.name);
  pack_string(packer, body.host);
  packer.pack_fix_uint64(body.ipc_scope);
  packer.pack_fix_uint64(body.net_scope);
  packer.pack_uint64(body.generation);
  packer.pack_uint64(body.interval_ms);
  packer.pack_array(static_cast<std::uint32_t>(body.endpoints.size()));
  for (const EndpointRef& endpoint : body.endpoints) {
    if (endpoint.uri.empty() || endpoint.uri.size() > wire::kMaxEndpointBytes) return false;
    packer.pack_array(static_cast<std::uint32_t>(wire::kEndpointFields));
    packer.pack_uint8(endpoint.kind);
    pack_string(packer, endpoint.uri);
  }
  if (body.unicast) {
    pack_address(packer, *body.unicast);
  } else {
    packer.pack_nil();
  }
  return !writer.overflow();
}

bool encode_heartbeat(const DatagramHeader& header, const HeartbeatBody& body, DatagramBuffer& out) {
  DatagramWriter writer(out);
  Packer packer(writer);
  if (!pack_header(packer, header)) return false;
  packer.pack_array(static_cast<std::uint32_t>(wire::kHeartbeatFields));
  packer.pack_uint64(body.generation);
  packer.pack_uint64(body.interval_ms);
  return !writer.overflow();
}

bool encode_bye(const DatagramHeader& header, DatagramBuffer& out) {
  DatagramWriter writer(out);
  Packer packer(writer);
  if (!pack_header(packer, header)) return false;
  packer.pack_array(0);
  return !writer.overflow();
}

std::uint64_t view_term(std::uint64_t id, std::uint64_t incarnation) noexcept {
  std::uint64_t h = id ^ ((incarnation << 32) | (incarnation >> 32)) ^ 0x9e3779b97f4a7c15ULL;
  h ^= h >> 30;  // splitmix64's finalizer
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

std::optional<std::size_t> encode_gossip(const DatagramHeader& header, const GossipView& view,
                                         std::span<const GossipEntry> entries, DatagramBuffer& out) {
  DatagramWriter writer(out);
  Packer packer(writer);
  if (!pack_header(packer, header)) return std::nullopt;
  packer.pack_array(static_cast<std::uint32_t>(wire::kGossipFields));
  packer.pack_uint64(view.peers);
  packer.pack_fix_uint64(view.checksum);
  if (writer.overflow()) return std::nullopt;
  // Count what fits: the entries' array header is 1 byte up to 15 entries and 3 bytes beyond.
  std::size_t used = writer.size();
  std::size_t count = 0;
  std::size_t bytes = 0;
  const std::size_t limit = std::min(entries.size(), wire::kMaxGossipEntries);
  while (count < limit) {
    std::size_t next = bytes + gossip_entry_size(entries[count]);
    std::size_t array_header = count + 1 <= 15 ? 1 : 3;
    if (used + array_header + next > wire::kMaxDatagramBytes) break;
    bytes = next;
    ++count;
  }
  packer.pack_array(static_cast<std::uint32_t>(count));
  for (std::size_t i = 0; i < count; ++i) {
    const GossipEntry& entry = entries[i];
    packer.pack_array(static_cast<std::uint32_t>(wire::kGossipEntryFields));
    packer.pack_fix_uint64(entry.id);
    packer.pack_fix_uint64(entry.incarnation);
    pack_address(packer, entry.address);
    packer.pack_uint32(entry.age_ms);
  }
  if (writer.overflow()) return std::nullopt;
  return count;
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding

namespace {

// One msgpack value of the datagram. The values of an array or a map follow their container in document order;
// `next` links each to its next sibling.
struct Value {
  enum class Type : std::uint8_t { kNil, kBool, kUint, kInt, kFloat, kStr, kBin, kExt, kArray, kMap };
  Type type = Type::kNil;
  std::uint32_t count = 0;  // elements of an array; keys plus values of a map
  std::uint32_t next = 0;   // the next sibling's index; 0: none
  std::uint64_t uint = 0;
  std::string_view bytes;  // str, bin, ext
};

Value value_of(Value::Type type) noexcept {
  Value value;
  value.type = type;
  return value;
}

// The values of one datagram, in fixed storage.
class ValueTree {
 public:
  explicit ValueTree(std::span<Value> storage) noexcept : storage_(storage) {}
  [[nodiscard]] bool push_back(const Value& value) noexcept {
    if (size_ == storage_.size()) return false;
    storage_[size_++] = value;
    return true;
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  Value& operator[](std::size_t index) noexcept { return storage_[index]; }
  const Value& operator[](std::size_t index) const noexcept { return storage_[index]; }

 private:
  std::span<Value> storage_;
  std::size_t size_ = 0;
};

// Builds the bounded tree. Any limit broken makes it return false, which stops the parser at once.
class TreeBuilder {
 public:
  explicit TreeBuilder(std::span<Value> storage) noexcept : values_(storage) {}

  [[nodiscard]] const ValueTree& tree() const noexcept { return values_; }
  [[nodiscard]] const std::string& failure() const noexcept { return failure_; }

  bool visit_nil() { return add({}); }
  bool visit_boolean(bool) { return add(value_of(Value::Type::kBool)); }
  bool visit_positive_integer(std::uint64_t v) {
    Value value = value_of(Value::Type::kUint);
    value.uint = v;
    return add(value);
  }
  bool visit_negative_integer(std::int64_t) { return add(value_of(Value::Type::kInt)); }
  bool visit_float32(float) { return add(value_of(Value::Type::kFloat)); }
  bool visit_float64(double) { return add(value_of(Value::Type::kFloat)); }
  bool visit_str(const char* data, std::uint32_t size) { return add_bytes(Value::Type::kStr, data, size); }
  bool visit_bin(const char* data, std::uint32_t size) { return add_bytes(Value::Type::kBin, data, size); }
  bool visit_ext(const char* data, std::uint32_t size) { return add_bytes(Value::Type::kExt, data, size); }

  bool start_array(std::uint32_t count) {
    if (count > wire::kMaxArrayElements) return fail("an array of " + std::to_string(count) + " elements");
    return open(Value::Type::kArray, count);
  }
  bool start_array_item() { return true; }
  bool end_array_item() { return true; }
  bool end_array() { return close(); }

  bool start_map(std::uint32_t count) {
    if (count > wire::kMaxArrayElements / 2) return fail("a map of " + std::to_string(count) + " entries");
    return open(Value::Type::kMap, count * 2);
  }
  bool start_map_key() { return true; }
  bool end_map_key() { return true; }
  bool start_map_value() { return true; }
  bool end_map_value() { return true; }
  bool end_map() { return close(); }

  void parse_error(std::size_t, std::size_t error_offset) {
    if (failure_.empty()) failure_ = "not msgpack at byte " + std::to_string(error_offset);
  }
  void insufficient_bytes(std::size_t, std::size_t) {
    if (failure_.empty()) failure_ = "the datagram ends inside a value";
  }
  [[nodiscard]] bool referenced() const noexcept { return false; }
  void set_referenced(bool) noexcept {}

 private:
  bool add_bytes(Value::Type type, const char* data, std::uint32_t size) {
    Value value = value_of(type);
    value.bytes = {data, size};
    return add(value);
  }

  bool add(const Value& value) {
    if (depth_ == 0 && !values_.empty()) return fail("more than one top-level value");
    auto index = static_cast<std::uint32_t>(values_.size());
    if (!values_.push_back(value)) return fail("more than " + std::to_string(wire::kMaxElements) + " values");
    if (depth_ > 0) {
      if (last_child_[depth_] != 0) values_[last_child_[depth_]].next = index;
      last_child_[depth_] = index;
    }
    return true;
  }

  bool open(Value::Type type, std::uint32_t count) {
    Value value = value_of(type);
    value.count = count;
    if (!add(value)) return false;
    if (++depth_ > wire::kMaxDepth) return fail("nested deeper than " + std::to_string(wire::kMaxDepth));
    last_child_[depth_] = 0;
    return true;
  }

  bool close() {
    --depth_;
    return true;
  }

  bool fail(std::string why) {
    failure_ = std::move(why);
    return false;
  }

  ValueTree values_;
  std::array<std::uint32_t, wire::kMaxDepth + 2> last_child_{};
  std::size_t depth_ = 0;
  std::string failure_;
};

// Reads the children of one array by position.
class ArrayReader {
 public:
  ArrayReader(const ValueTree& values, std::uint32_t index) : values_(values), index_(index) {
    const Value& array = values_[index];
    count_ = array.type == Value::Type::kArray ? array.count : 0;
    std::uint32_t child = count_ > 0 ? index + 1 : 0;
    for (std::uint32_t i = 0; i < count_ && i < children_.size(); ++i) {
      children_[i] = child;
      child = values_[child].next;
    }
  }
  [[nodiscard]] std::uint32_t size() const noexcept { return count_; }
  [[nodiscard]] std::uint32_t index(std::size_t position) const noexcept { return children_[position]; }
  [[nodiscard]] const Value& operator[](std::size_t position) const noexcept { return values_[children_[position]]; }

 private:
  const ValueTree& values_;
  std::uint32_t index_;
  std::uint32_t count_ = 0;
  std::array<std::uint32_t, wire::kMaxArrayElements> children_{};
};

// Field checks: each returns false and says why in `why`.
class Checker {
 public:
  explicit Checker(std::string& why) : why_(why) {}

  bool uint(const Value& v, const char* name, std::uint64_t& out, std::uint64_t max = UINT64_MAX) {
    if (v.type != Value::Type::kUint) return fail(std::string(name) + " is not an unsigned integer");
    if (v.uint > max) return fail(std::string(name) + " is out of range");
    out = v.uint;
    return true;
  }

  bool text(const Value& v, const char* name, std::string_view& out, std::size_t min, std::size_t max) {
    if (v.type != Value::Type::kStr) return fail(std::string(name) + " is not a string");
    if (v.bytes.size() < min || v.bytes.size() > max) {
      return fail(std::string(name) + " has " + std::to_string(v.bytes.size()) + " bytes");
    }
    for (char c : v.bytes) {
      auto byte = static_cast<unsigned char>(c);
      if (byte < 0x20 || byte == 0x7f) return fail(std::string(name) + " holds a control character");
    }
    out = v.bytes;
    return true;
  }

  bool address(const Value& v, const char* name, UdpAddress& out) {
    if (v.type != Value::Type::kBin || v.bytes.size() != wire::kAddressBytes) {
      return fail(std::string(name) + " is not a 6-byte address");
    }
    auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(v.bytes[i])); };
    out.ip = (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
    out.port = static_cast<std::uint16_t>((b(4) << 8) | b(5));
    if (out.port == 0 || out.ip == 0) return fail(std::string(name) + " has no address or no port");
    return true;
  }

  bool array(const ArrayReader& a, const char* name, std::size_t min) {
    if (a.size() < min) return fail(std::string(name) + " has fewer than " + std::to_string(min) + " elements");
    return true;
  }

  bool fail(std::string why) {
    why_ = std::move(why);
    return false;
  }

 private:
  std::string& why_;
};

bool decode_beacon(const ValueTree& values, std::uint32_t body_index, BeaconBody& out, Checker& check) {
  ArrayReader body(values, body_index);
  if (values[body_index].type != Value::Type::kArray) return check.fail("the beacon body is not an array");
  if (!check.array(body, "the beacon body", wire::kBeaconFields)) return false;
  if (!check.text(body[wire::kNameField], "name", out.name, 1, wire::kMaxNameBytes)) return false;
  if (!check.text(body[wire::kHostField], "host", out.host, 0, wire::kMaxHostBytes)) return false;
  if (!check.uint(body[wire::kIpcScopeField], "ipc scope", out.ipc_scope)) return false;
  if (!check.uint(body[wire::kNetScopeField], "net scope", out.net_scope)) return false;
  if (!check.uint(body[wire::kGenerationField], "generation", out.generation)) return false;
  if (!check.uint(body[wire::kIntervalField], "interval", out.interval_ms)) return false;

  std::uint32_t endpoints_index = body.index(wire::kEndpointsField);
  if (values[endpoints_index].type != Value::Type::kArray) return check.fail("endpoints is not an array");
  ArrayReader endpoints(values, endpoints_index);
  if (endpoints.size() > wire::kMaxEndpoints) return check.fail("more than 8 endpoints");
  out.endpoints.clear();
  for (std::uint32_t i = 0; i < endpoints.size(); ++i) {
    std::uint32_t entry_index = endpoints.index(i);
    if (values[entry_index].type != Value::Type::kArray) return check.fail("an endpoint is not an array");
    ArrayReader entry(values, entry_index);
    if (!check.array(entry, "an endpoint", wire::kEndpointFields)) return false;
    std::uint64_t kind = 0;
    EndpointRef endpoint;
    if (!check.uint(entry[0], "an endpoint kind", kind, 0xff)) return false;
    if (!check.text(entry[1], "an endpoint", endpoint.uri, 1, wire::kMaxEndpointBytes)) return false;
    endpoint.kind = static_cast<std::uint8_t>(kind);
    out.endpoints.push_back(endpoint);
  }

  const Value& unicast = body[wire::kUnicastField];
  out.unicast.reset();
  if (unicast.type != Value::Type::kNil) {
    UdpAddress address;
    if (!check.address(unicast, "the unicast address", address)) return false;
    out.unicast = address;
  }
  return true;
}

bool decode_gossip(const ValueTree& values, std::uint32_t body_index, GossipView& view,
                   std::vector<GossipEntry>& out, Checker& check) {
  ArrayReader body(values, body_index);
  if (!check.array(body, "the gossip body", wire::kGossipFields)) return false;
  if (!check.uint(body[wire::kPeersField], "the gossip peer count", view.peers)) return false;
  if (!check.uint(body[wire::kViewField], "the gossip view", view.checksum)) return false;
  std::uint32_t entries_index = body.index(wire::kEntriesField);
  if (values[entries_index].type != Value::Type::kArray) return check.fail("the gossip entries are not an array");
  ArrayReader entries(values, entries_index);
  out.clear();
  for (std::uint32_t i = 0; i < entries.size(); ++i) {
    std::uint32_t entry_index = entries.index(i);
    if (values[entry_index].type != Value::Type::kArray) return check.fail("a gossip entry is not an array");
    ArrayReader entry(values, entry_index);
    if (!check.array(entry, "a gossip entry", wire::kGossipEntryFields)) return false;
    GossipEntry decoded;
    std::uint64_t age = 0;
    if (!check.uint(entry[0], "a gossip id", decoded.id)) return false;
    if (!check.uint(entry[1], "a gossip incarnation", decoded.incarnation)) return false;
    if (!check.uint(entry[3], "a gossip age", age, UINT32_MAX)) return false;
    decoded.age_ms = static_cast<std::uint32_t>(age);
    const Value& address = entry[2];
    // Other address lengths are reserved (18 bytes: IPv6): such an entry is skipped, not an error.
    if (address.type == Value::Type::kBin && address.bytes.size() != wire::kAddressBytes) continue;
    if (!check.address(address, "a gossip address", decoded.address)) return false;
    out.push_back(decoded);
  }
  return true;
}

// Where the version element starts when the datagram starts as every Weft datagram does: a fixarray
// (0x90-0x9f) or array16 (0xdc + 2 bytes), then the fixstr "weft" (0xa4 'w' 'e' 'f' 't'). 0: it does not.
std::size_t after_magic(std::span<const std::byte> datagram) noexcept {
  if (datagram.empty()) return 0;
  auto first = static_cast<unsigned char>(datagram[0]);
  std::size_t offset = (first & 0xf0) == 0x90 ? 1 : first == 0xdc ? 3 : 0;
  if (offset == 0 || datagram.size() < offset + 1 + wire::kMagic.size()) return 0;
  if (static_cast<unsigned char>(datagram[offset]) != (0xa0 | wire::kMagic.size())) return 0;
  if (std::memcmp(datagram.data() + offset + 1, wire::kMagic.data(), wire::kMagic.size()) != 0) return 0;
  return offset + 1 + wire::kMagic.size();
}

// The version element, read before anything else so that a datagram of another version is reported as such even
// when the rest breaks version 1's limits. Empty when it is not an unsigned integer (or is cut short).
std::optional<std::uint64_t> peek_version(std::span<const std::byte> datagram, std::size_t offset) noexcept {
  if (offset >= datagram.size()) return std::nullopt;
  auto marker = static_cast<unsigned char>(datagram[offset]);
  if (marker < 0x80) return marker;  // positive fixint
  std::size_t width = marker == 0xcc ? 1 : marker == 0xcd ? 2 : marker == 0xce ? 4 : marker == 0xcf ? 8 : 0;
  if (width == 0 || offset + 1 + width > datagram.size()) return std::nullopt;
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < width; ++i) value = (value << 8) | static_cast<unsigned char>(datagram[offset + 1 + i]);
  return value;
}

}  // namespace

DatagramCheck decode_datagram(std::span<const std::byte> datagram, DecodedDatagram& out) {
  if (datagram.size() > wire::kMaxDatagramBytes) {
    return {DatagramError::kOversized, std::to_string(datagram.size()) + " bytes, over the limit of " +
                                           std::to_string(wire::kMaxDatagramBytes)};
  }
  const std::size_t version_at = after_magic(datagram);
  if (version_at == 0) return {DatagramError::kNotWeft, "not a Weft discovery datagram"};
  auto version = peek_version(datagram, version_at);
  if (!version) return {DatagramError::kMalformed, "the version is not an unsigned integer"};
  if (*version != wire::kVersion) {
    return {DatagramError::kBadVersion,
            "version " + std::to_string(*version) + ", this node speaks " + std::to_string(wire::kVersion)};
  }

  std::array<Value, wire::kMaxElements> storage;  // about 20 KiB of stack; no allocation per datagram
  TreeBuilder builder(storage);
  const ValueTree& values = builder.tree();
  std::size_t offset = 0;
  bool parsed = msgpack::parse(reinterpret_cast<const char*>(datagram.data()), datagram.size(), offset, builder);
  if (!parsed || offset != datagram.size() || values.empty()) {
    std::string why = builder.failure().empty() ? "bytes after the datagram's end" : builder.failure();
    return {DatagramError::kMalformed, why};
  }

  std::string why;
  Checker check(why);
  auto malformed = [&] { return DatagramCheck{DatagramError::kMalformed, why}; };
  ArrayReader root(values, 0);
  if (!check.array(root, "the datagram", wire::kHeaderFields)) return malformed();

  DatagramHeader& header = out.header;
  std::uint64_t type = 0;
  std::uint64_t flags = 0;
  if (!check.uint(root[wire::kTypeField], "type", type, 0xff)) return malformed();
  if (!check.uint(root[wire::kFlagsField], "flags", flags, 0xff)) return malformed();
  if (!check.text(root[wire::kClusterField], "cluster", header.cluster, 1, wire::kMaxClusterBytes)) return malformed();
  if (!check.uint(root[wire::kSenderField], "sender", header.sender)) return malformed();
  if (!check.uint(root[wire::kIncarnationField], "incarnation", header.incarnation)) return malformed();
  header.flags = static_cast<std::uint8_t>(flags);  // unknown bits are ignored
  std::uint32_t body = root.index(wire::kBodyField);
  if (values[body].type != Value::Type::kArray) {
    check.fail("the body is not an array");
    return malformed();
  }

  switch (type) {
    case static_cast<std::uint64_t>(wire::MessageType::kBeacon):
      header.type = wire::MessageType::kBeacon;
      if (!decode_beacon(values, body, out.beacon, check)) return malformed();
      break;
    case static_cast<std::uint64_t>(wire::MessageType::kHeartbeat): {
      header.type = wire::MessageType::kHeartbeat;
      ArrayReader fields(values, body);
      if (!check.array(fields, "the heartbeat body", wire::kHeartbeatFields)) return malformed();
      if (!check.uint(fields[0], "generation", out.heartbeat.generation)) return malformed();
      if (!check.uint(fields[1], "interval", out.heartbeat.interval_ms)) return malformed();
      break;
    }
    case static_cast<std::uint64_t>(wire::MessageType::kGossip):
      header.type = wire::MessageType::kGossip;
      if (!decode_gossip(values, body, out.view, out.gossip, check)) return malformed();
      break;
    case static_cast<std::uint64_t>(wire::MessageType::kBye):
      header.type = wire::MessageType::kBye;
      break;
    default:
      return {DatagramError::kUnknownType, "message type " + std::to_string(type)};
  }
  return {};
}

}  // namespace weft::detail
