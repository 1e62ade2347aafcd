// A weftd in the test's own process: the real Weftd (stream manager, server, consumers) over the in-memory
// FileSystem (power loss, fault injection), a FakeClock and the in-memory transport, with SidecarClients on the
// other side. Tests step both sides by hand: no threads, no sleeps, time moves when the test says.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "codec/envelope.hpp"
#include "memory_transport.hpp"
#include "sidecar/sidecar_admin.hpp"
#include "sidecar/sidecar_client.hpp"
#include "weft_testing/fake_clock.hpp"
#include "weft_testing/fake_file_system.hpp"
#include "weftd.hpp"

namespace weft::testing {

namespace sc = detail::sidecar;
namespace wd = detail::weftd;

inline constexpr const char* kDataDir = "/data";

inline sc::StreamConfig stream_config(std::string name, std::vector<std::string> subjects,
                                      std::string fsync = "always") {
  sc::StreamConfig c;
  c.name = std::move(name);
  c.subjects = std::move(subjects);
  c.fsync = std::move(fsync);
  return c;
}

inline std::vector<std::byte> make_envelope(const std::string& subject, const std::string& payload,
                                            std::uint64_t sequence = 1) {
  detail::ByteBuffer buffer;
  detail::OutgoingEnvelope e;
  e.stream = 42;
  e.sequence = sequence;
  e.subject = subject;
  e.timestamp_ns = 1'700'000'000'000'000'000;
  e.payload = as_bytes(payload);
  detail::encode_envelope(buffer, e);
  return {buffer.begin(), buffer.end()};
}

// The payload of an envelope, as text.
inline std::string payload_of(std::span<const std::byte> envelope) {
  std::vector<HeaderRef> scratch;
  detail::EnvelopeView view;
  std::size_t at = 0;
  if (!detail::decode_envelope(envelope, at, view, scratch).ok()) return "<undecodable>";
  return std::string(view.as_message().payload_text());
}

class DaemonHarness : public ::testing::Test {
 protected:
  // Options for the next start(); streams from a "config file".
  wd::WeftdOptions options() const {
    wd::WeftdOptions o;
    o.data_dir = kDataDir;
    o.streams = configured_;
    o.retention_interval = std::chrono::hours(1);
    o.consumer_flush_interval = std::chrono::milliseconds(0);
    return o;
  }

  void start() {
    logger_ = std::make_unique<detail::Logger>(
        [this](LogLevel level, std::string_view line) { log_.emplace_back(level, std::string(line)); }, "");
    auto opened = wd::Weftd::open(options(), fs_, clock_, hub_.server(), *logger_, {"memory://weftd"});
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    weftd_ = std::move(*opened);
    hub_.set_up(true);
  }

  // A clean stop (SIGTERM): everything fsynced, then the process is gone.
  void stop() {
    if (!weftd_) return;
    (void)weftd_->stop();
    step();
    weftd_.reset();
  }
  // A process crash (SIGKILL): what was written is in the page cache and survives; nothing more is written.
  void crash() {
    fs_.crash();
    abandon();
  }
  // A power loss: only what was fsynced survives.
  void power_loss() {
    fs_.power_loss();
    abandon();
  }
  // The weftd object goes away as a killed process would: nothing it does on the way reaches the files or
  // the clients.
  void abandon() {
    hub_.set_up(false);
    hub_.drop_in_flight();
    using Op = FakeFileSystem::Op;
    for (Op op : {Op::kAppend, Op::kSync, Op::kSyncDir, Op::kOpen, Op::kTruncate, Op::kRemove, Op::kRename}) {
      fs_.fail(op, 1, EIO, true);
    }
    weftd_.reset();
    fs_.clear_faults();
    hub_.drop_in_flight();
  }

  // local_file_system: the client reads segment files itself, through it (weftd's own, fs_, or one that
  // fails); null: it gets copies.
  std::unique_ptr<sc::SidecarClient> client(const std::string& name, bool packed_deliveries = true,
                                            detail::log::FileSystem* local_file_system = nullptr) {
    sc::SidecarClientOptions o;
    o.packed_deliveries = packed_deliveries;
    o.local_read = local_file_system != nullptr ? sc::SidecarClientOptions::LocalRead::kAlways
                                                : sc::SidecarClientOptions::LocalRead::kNever;
    o.file_system = local_file_system;
    o.endpoint = "memory://weftd";
    o.request_timeout = std::chrono::seconds(5);
    o.heartbeat_interval = std::chrono::milliseconds(500);
    return std::make_unique<sc::SidecarClient>(hub_.client(name), clock_, o);
  }

  // Steps weftd and every client until nothing more happens (at most `rounds` rounds).
  void step(int rounds = 50) {
    for (int i = 0; i < rounds; ++i) {
      std::size_t work = 0;
      if (weftd_) work += weftd_->do_work(clock_.now());
      for (sc::SidecarClient* c : clients_) work += c->do_work(clock_.now());
      if (weftd_) work += weftd_->do_work(clock_.now());
      if (work == 0) return;
    }
  }
  void advance(std::chrono::milliseconds by) {
    clock_.advance(by);
    step();
  }
  // Clients step() drives.
  sc::SidecarClient& attach(std::unique_ptr<sc::SidecarClient>& c) {
    clients_.push_back(c.get());
    return *c;
  }
  void detach(sc::SidecarClient* c) { std::erase(clients_, c); }

  // Appends one message and steps until it is answered.
  Result<sc::AppendAck> append(sc::SidecarClient& c, const std::string& subject, const std::string& payload) {
    const auto e = make_envelope(subject, payload);
    const std::span<const std::byte> one(e);
    std::optional<Result<sc::AppendAck>> out;
    Status queued = c.append(subject, std::span(&one, 1), [&](const Status& s, const sc::AppendAck& a) {
      out.emplace(s.is_ok() ? Result<sc::AppendAck>(a) : Result<sc::AppendAck>(s));
    });
    if (!queued) return queued;
    for (int i = 0; i < 20 && !out; ++i) step();
    // Should an acknowledgement wait for a timer (none does now), time moves, a millisecond at a time.
    for (int i = 0; i < 100 && !out; ++i) advance(std::chrono::milliseconds(1));
    if (!out) return Status::timeout("no answer");
    return std::move(*out);
  }

  template <typename T, typename Args>
  Result<T> admin(sc::SidecarClient& c, const Args& args, sc::Frames* body = nullptr) {
    std::optional<Result<T>> out;
    Status queued = c.request(sc::Kind::kAdmin, args, [&](const Status& s, sc::Reply& reply) {
      if (!s) {
        out.emplace(s);
        return;
      }
      out.emplace(reply.as<T>());
      if (body != nullptr) *body = std::move(reply.frames);
    });
    if (!queued) return queued;
    for (int i = 0; i < 20 && !out; ++i) step();
    if (!out) return Status::timeout("no answer");
    return std::move(*out);
  }

  Result<sc::StreamInfo> info(sc::SidecarClient& c, const std::string& stream) {
    return admin<sc::StreamInfo>(c, sc::StreamArgs{std::string(sc::kOpStreamInfo), stream});
  }

  bool logged(std::string_view needle) const {
    for (const auto& [level, line] : log_) {
      if (line.find(needle) != std::string::npos) return true;
    }
    return false;
  }

  FakeFileSystem fs_;
  FakeClock clock_;
  MemoryHub hub_;
  std::vector<sc::StreamConfig> configured_;
  std::vector<std::pair<LogLevel, std::string>> log_;
  std::unique_ptr<detail::Logger> logger_;
  std::unique_ptr<wd::Weftd> weftd_;
  std::vector<sc::SidecarClient*> clients_;
};

// A consumer's view in a test: what it received, in order.
struct Received {
  std::uint64_t offset;
  std::uint32_t attempt;
  std::string payload;
};

}  // namespace weft::testing
