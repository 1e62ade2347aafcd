// The crash test's producer and checker (tests/integration/weftd_crash_test.sh).
//
//   weftd_storm produce ENDPOINT SUBJECT ACKED_FILE PREFIX [SECONDS]
//     Appends messages "PREFIX-N" (batches of 1 to 4, up to 64 appends in flight) as fast as weftd acknowledges
//     them, and writes "PREFIX-N OFFSET" to ACKED_FILE for every acknowledged message, at once (write(2), so
//     the line survives whatever happens to weftd). Never retries: each message is sent once. Stops at the
//     first request that fails or times out (weftd was killed), or after SECONDS.
//
//   weftd_storm check ENDPOINT STREAM ACKED_FILE
//     Reads the whole stream through weftd and checks that every acknowledged message is there exactly once,
//     at the offset its acknowledgement named, and that no message is there twice. Prints the figures.
//
//   weftd_storm garbage ENDPOINT
//     Sends weftd malformed messages over a raw DEALER socket (not msgpack, a bad version, an unknown kind, a
//     kind only weftd sends, an append whose body is not an envelope) and checks that each one is answered with
//     an ERROR of the right code, then that weftd still answers a PING. Exit 0 when every answer was right.
//
//   weftd_storm plant LOG_DIR VALUE
//     Appends one record holding VALUE straight to a stream's log (weftd stopped), as a writer other than weftd
//     could: weftd checks envelopes on append, so this is the only way to put a record in a stream that readers
//     cannot decode.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "codec/envelope.hpp"
#include "log/log.hpp"
#include "log/posix_file_system.hpp"
#include "sidecar/sidecar_admin.hpp"
#include "sidecar/sidecar_client.hpp"

namespace {

namespace sc = weft::detail::sidecar;
using Clock = std::chrono::steady_clock;

std::vector<std::byte> envelope(const std::string& subject, const std::string& payload, std::uint64_t sequence) {
  weft::detail::ByteBuffer buffer;
  weft::detail::OutgoingEnvelope e;
  e.stream = 0x5707'4d00'0000'0001ULL + static_cast<std::uint64_t>(::getpid());
  e.sequence = sequence;
  e.subject = subject;
  e.timestamp_ns = 1;
  e.payload = weft::as_bytes(payload);
  weft::detail::encode_envelope(buffer, e);
  return {buffer.begin(), buffer.end()};
}

std::unique_ptr<sc::SidecarClient> connect(const std::string& endpoint, std::chrono::milliseconds timeout) {
  sc::SidecarClientOptions options;
  options.endpoint = endpoint;
  options.request_timeout = timeout;
  options.heartbeat_interval = std::chrono::milliseconds(200);
  return sc::SidecarClient::connect(options).value();
}

int produce(const std::string& endpoint, const std::string& subject, const std::string& acked_path,
            const std::string& prefix, double seconds) {
  const int out = ::open(acked_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) {
    std::perror("open acked file");
    return 1;
  }
  // A short timeout: once weftd is killed, the producer stops quickly.
  auto client = connect(endpoint, std::chrono::milliseconds(1500));
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::uint64_t next = 0, acked = 0, failed = 0, in_flight = 0;
  bool stop = false;
  std::string padding(40 + static_cast<std::size_t>(::getpid() % 50), '.');
  while (!stop || in_flight > 0) {
    while (!stop && in_flight < 64) {
      const std::size_t batch = 1 + next % 4;
      std::vector<std::vector<std::byte>> envelopes;
      std::vector<std::string> ids;
      for (std::size_t i = 0; i < batch; ++i) {
        ids.push_back(prefix + "-" + std::to_string(next));
        envelopes.push_back(envelope(subject, ids.back() + "|" + padding, next + 1));
        ++next;
      }
      std::vector<std::span<const std::byte>> spans(envelopes.begin(), envelopes.end());
      weft::Status queued = client->append(subject, spans, [&, ids](const weft::Status& s, const sc::AppendAck& a) {
        --in_flight;
        if (!s) {
          ++failed;
          stop = true;
          return;
        }
        std::string lines;
        for (std::size_t i = 0; i < ids.size(); ++i) lines += ids[i] + " " + std::to_string(a.first_offset + i) + "\n";
        if (::write(out, lines.data(), lines.size()) != static_cast<ssize_t>(lines.size())) std::perror("write");
        acked += ids.size();
      });
      if (!queued) {
        stop = true;
        break;
      }
      ++in_flight;
    }
    if (Clock::now() >= deadline) stop = true;
    client->run_until([&] { return in_flight < 64 || (stop && in_flight == 0); }, std::chrono::milliseconds(50));
  }
  ::close(out);
  std::fprintf(stderr, "weftd_storm produce %s: sent %llu, acknowledged %llu, failed appends %llu\n", prefix.c_str(),
               static_cast<unsigned long long>(next), static_cast<unsigned long long>(acked),
               static_cast<unsigned long long>(failed));
  return 0;
}

int check(const std::string& endpoint, const std::string& stream, const std::string& acked_path) {
  std::map<std::string, std::uint64_t> acked;
  {
    std::ifstream in(acked_path);
    std::string id;
    std::uint64_t offset = 0;
    while (in >> id >> offset) acked[id] = offset;
  }
  auto client = connect(endpoint, std::chrono::milliseconds(10000));
  sc::StreamArgs args{std::string(sc::kOpStreamInfo), stream};
  auto info = client->admin<sc::StreamInfo>(args, std::chrono::milliseconds(10000));
  if (!info) {
    std::fprintf(stderr, "weftd_storm check: %s\n", info.status().to_string().c_str());
    return 1;
  }
  const std::uint64_t end = info->end_offset;
  std::map<std::string, std::vector<std::uint64_t>> found;
  std::uint64_t stored = 0, undecodable = 0, highest = 0;
  bool done = info->first_offset >= end;
  weft::Status ended;
  sc::ConsumeFields fields;
  fields.stream = stream;
  fields.start = std::string(sc::kStartFirst);
  fields.ack = false;
  fields.credit = 4096;
  sc::ConsumerHandlers handlers;
  handlers.on_message = [&](const sc::Delivery& d) {
    ++stored;
    highest = std::max(highest, d.offset);
    std::vector<weft::HeaderRef> scratch;
    weft::detail::EnvelopeView view;
    std::size_t at = 0;
    if (!weft::detail::decode_envelope(d.envelope, at, view, scratch).ok()) {
      ++undecodable;
    } else {
      const std::string payload(view.as_message().payload_text());
      found[payload.substr(0, payload.find('|'))].push_back(d.offset);
    }
    if (d.offset + 1 >= end) done = true;
  };
  handlers.on_end = [&](const weft::Status& s) {
    ended = s;
    done = true;
  };
  if (!done) {
    auto consumer = client->consume(fields, handlers);
    if (!consumer || !client->run_until([&] { return done; }, std::chrono::seconds(60)) || !ended.is_ok()) {
      std::fprintf(stderr, "weftd_storm check: could not read the stream to its end (%s)\n", ended.to_string().c_str());
      return 1;
    }
  }
  std::uint64_t lost = 0, misplaced = 0, duplicated = 0;
  for (const auto& [id, offsets] : found) {
    if (offsets.size() > 1) ++duplicated;
  }
  for (const auto& [id, offset] : acked) {
    auto it = found.find(id);
    if (it == found.end()) {
      if (++lost <= 5) std::fprintf(stderr, "LOST: %s (acknowledged at offset %llu)\n", id.c_str(),
                                    static_cast<unsigned long long>(offset));
      continue;
    }
    if (it->second.front() != offset) {
      if (++misplaced <= 5) std::fprintf(stderr, "MISPLACED: %s acknowledged at %llu, found at %llu\n", id.c_str(),
                                         static_cast<unsigned long long>(offset),
                                         static_cast<unsigned long long>(it->second.front()));
    }
  }
  std::printf("stored %llu (offsets %llu to %llu), acknowledged %zu, lost %llu, misplaced %llu, duplicated %llu, "
              "undecodable %llu\n",
              static_cast<unsigned long long>(stored), static_cast<unsigned long long>(info->first_offset),
              static_cast<unsigned long long>(end == 0 ? 0 : end - 1), acked.size(),
              static_cast<unsigned long long>(lost), static_cast<unsigned long long>(misplaced),
              static_cast<unsigned long long>(duplicated), static_cast<unsigned long long>(undecodable));
  return lost == 0 && misplaced == 0 && duplicated == 0 && undecodable == 0 && stored == end - info->first_offset ? 0
                                                                                                               : 1;
}

// Sends `frames` and waits (up to 5 s) for the reply; its header, decoded. False when nothing came.
bool exchange(zmq::socket_t& socket, const std::vector<std::string>& frames, sc::Header& reply) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    socket.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, std::chrono::milliseconds(5000)) <= 0) return false;
  std::vector<zmq::message_t> parts;
  for (;;) {
    zmq::message_t part;
    if (!socket.recv(part, zmq::recv_flags::none)) return false;
    const bool more = part.more();
    parts.push_back(std::move(part));
    if (!more) break;
  }
  const std::span<const std::byte> header(static_cast<const std::byte*>(parts[0].data()), parts[0].size());
  return sc::decode_header(header, reply).error == sc::HeaderError::kNone;
}

std::string packed_header(std::uint64_t version, std::uint64_t kind, std::uint64_t request_id, bool fields_map) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> p(b);
  p.pack_array(4);
  p.pack(version);
  p.pack(kind);
  p.pack(request_id);
  if (fields_map) {
    p.pack_map(1);
    p.pack(std::string("subject"));
    p.pack(std::string("orders.new"));
  } else {
    p.pack_array(0);
  }
  return {b.data(), b.size()};
}

int garbage(const std::string& endpoint) {
  zmq::context_t context;
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  socket.connect(endpoint);
  struct Case {
    const char* what;
    std::vector<std::string> frames;
    sc::Kind want_kind;
    sc::ErrorKind want_code;
  };
  const std::vector<Case> cases = {
      {"not msgpack", {std::string("\xc1\xc1garbage")}, sc::Kind::kError, sc::ErrorKind::kMalformed},
      {"fields not a map", {packed_header(1, 2, 11, false)}, sc::Kind::kError, sc::ErrorKind::kMalformed},
      {"version 9", {packed_header(9, 1, 12, true)}, sc::Kind::kError, sc::ErrorKind::kBadVersion},
      {"kind 33", {packed_header(1, 33, 13, true)}, sc::Kind::kError, sc::ErrorKind::kUnknownKind},
      {"a kind only weftd sends", {packed_header(1, 65, 14, true)}, sc::Kind::kError, sc::ErrorKind::kMalformed},
      {"an append without a body", {packed_header(1, 2, 15, true)}, sc::Kind::kError, sc::ErrorKind::kMalformed},
      {"an append of garbage", {packed_header(1, 2, 16, true), "not an envelope"}, sc::Kind::kError,
       sc::ErrorKind::kMalformed},
  };
  int wrong = 0;
  for (const Case& c : cases) {
    sc::Header reply;
    if (!exchange(socket, c.frames, reply)) {
      std::fprintf(stderr, "garbage: %s: no answer\n", c.what);
      ++wrong;
      continue;
    }
    auto error = sc::fields_as<sc::ErrorFields>(reply);
    if (reply.kind != c.want_kind || !error || error->code != static_cast<std::uint8_t>(c.want_code)) {
      std::fprintf(stderr, "garbage: %s: answered with %s code %d\n", c.what,
                   std::string(sc::kind_name(reply.kind)).c_str(), error ? error->code : -1);
      ++wrong;
      continue;
    }
    std::printf("%s: %s: %s\n", c.what, std::string(sc::error_kind_name(c.want_code)).c_str(),
                error->message.c_str());
  }
  sc::Header pong;
  if (!exchange(socket, {packed_header(1, 1, 99, true)}, pong) || pong.kind != sc::Kind::kPong) {
    std::fprintf(stderr, "garbage: weftd does not answer a PING after the garbage\n");
    ++wrong;
  }
  return wrong == 0 ? 0 : 1;
}

int plant(const std::string& dir, const std::string& value) {
  namespace lg = weft::detail::log;
  lg::PosixFileSystem fs;
  lg::LogOptions options;
  options.create_if_missing = false;
  auto log = lg::Log::open(fs, weft::detail::SystemClock::instance(), dir, options);
  if (!log) {
    std::fprintf(stderr, "plant: %s\n", log.status().message().c_str());
    return 1;
  }
  const lg::RecordInput record{weft::as_bytes(value), std::nullopt};
  auto appended = (*log)->append(std::span(&record, 1), 1);
  weft::Status synced = appended ? (*log)->sync() : appended.status();
  if (!synced.is_ok()) {
    std::fprintf(stderr, "plant: %s\n", synced.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() >= 4 && args[0] == "produce") {
    return produce(args[1], args[2], args[3], args.size() >= 5 ? args[4] : "m", args.size() >= 6 ? std::stod(args[5]) : 3600);
  }
  if (args.size() == 4 && args[0] == "check") return check(args[1], args[2], args[3]);
  if (args.size() == 2 && args[0] == "garbage") return garbage(args[1]);
  if (args.size() == 3 && args[0] == "plant") return plant(args[1], args[2]);
  std::fprintf(stderr,
               "usage: weftd_storm produce ENDPOINT SUBJECT ACKED_FILE PREFIX [SECONDS]\n"
               "       weftd_storm check ENDPOINT STREAM ACKED_FILE\n"
               "       weftd_storm garbage ENDPOINT\n"
               "       weftd_storm plant LOG_DIR VALUE\n");
  return 2;
}
