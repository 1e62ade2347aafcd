#include "weftd.hpp"

#include <random>

#include "weft/version.hpp"

namespace weft::detail::weftd {

std::string make_server_id() {
  std::random_device device;
  std::uint64_t value = (static_cast<std::uint64_t>(device()) << 32) ^ device();
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

Result<std::unique_ptr<Weftd>> Weftd::open(const WeftdOptions& options, log::FileSystem& fs, const Clock& clock,
                                           ServerTransport& transport, const Logger& logger,
                                           std::vector<std::string> endpoints) {
  if (Status s = fs.make_dir(options.data_dir); !s) return s.with_context("while creating the data directory");
  std::unique_ptr<Weftd> weftd(new Weftd());
  ServerIdentity identity{make_server_id(), kVersionString, options.data_dir, std::move(endpoints), clock.now()};
  weftd->server_ = std::make_unique<SidecarServer>(transport, clock, logger, std::move(identity));
  StreamManagerOptions manager_options{options.data_dir, options.retention_interval, options.consumer_flush_interval};
  weftd->manager_ = std::make_unique<StreamManager>(fs, clock, logger, *weftd->server_, manager_options);
  if (Status s = weftd->manager_->open(options.streams); !s) return s;
  weftd->server_->attach_manager(*weftd->manager_);
  return weftd;
}

Weftd::~Weftd() {
  (void)stop();
}

std::size_t Weftd::do_work(Clock::TimePoint now) {
  // Requests first (appends reach the page cache), then the streams: one group commit covers them all and
  // answers them, and consumers are sent what became durable.
  std::size_t work = server_->do_work(now);
  work += manager_->do_work(now);
  return work;
}

std::optional<Clock::TimePoint> Weftd::next_deadline(Clock::TimePoint now) const {
  auto a = server_->next_deadline(now);
  auto b = manager_->next_deadline(now);
  if (!a) return b;
  if (!b) return a;
  return std::min(*a, *b);
}

Status Weftd::stop() {
  if (stopped_) return Status::ok();
  stopped_ = true;
  server_->close();
  // Fsyncs every log; the callbacks answer the appends that became durable (or the error).
  Status s = manager_->stop();
  // Whatever answers are still queued for clients go now (the transport may still hold them a moment).
  (void)server_->flush();
  return s;
}

}  // namespace weft::detail::weftd
