#include "bench/peer_spec.hpp"

#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace weft::cli::bench {

namespace {

constexpr std::pair<Role, std::string_view> kRoleNames[] = {
    {Role::kWeftPublisher, "weft-pub"},
    {Role::kWeftSubscriber, "weft-sub"},
    {Role::kWeftRequester, "weft-req"},
    {Role::kWeftResponder, "weft-rep"},
    {Role::kZmqPublisher, "zmq-pub"},
    {Role::kZmqSubscriber, "zmq-sub"},
    {Role::kZmqRequester, "zmq-req"},
    {Role::kZmqResponder, "zmq-rep"},
    {Role::kWeftReliablePublisher, "weft-rpub"},
    {Role::kWeftDurableSubscriber, "weft-dsub"},
    {Role::kWeftRequestSender, "weft-request"},
    {Role::kWeftReplier, "weft-reply"},
    {Role::kZmqPusher, "zmq-push"},
    {Role::kZmqPuller, "zmq-pull"},
    {Role::kWeftAppender, "weft-append"},
    {Role::kWeftReplayer, "weft-replay"},
    {Role::kNatsJetStream, "nats-js"},
};

template <typename Integer>
bool parse_integer(std::string_view text, Integer& out) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string_view name_of(Role role) noexcept {
  for (const auto& [r, name] : kRoleNames) {
    if (r == role) return name;
  }
  return "?";
}

std::optional<Role> role_named(std::string_view text) noexcept {
  for (const auto& [role, name] : kRoleNames) {
    if (name == text) return role;
  }
  return std::nullopt;
}

std::vector<std::string> to_arguments(const PeerSpec& spec) {
  std::vector<std::string> args{std::string(name_of(spec.role))};
  auto add = [&args](std::string_view flag, std::string value) {
    args.emplace_back(flag);
    args.push_back(std::move(value));
  };
  add("--parent", std::to_string(spec.parent));
  for (const auto& endpoint : spec.bind) add("--bind", endpoint);
  for (const auto& endpoint : spec.connect) add("--connect", endpoint);
  add("--size", std::to_string(spec.size));
  add("--count", std::to_string(spec.count));
  add("--warmup", std::to_string(spec.warmup));
  add("--duration-ms", std::to_string(spec.duration.count()));
  add("--cpu", std::to_string(spec.cpu));
  if (spec.spin_us) add("--spin-us", std::to_string(*spec.spin_us));
  if (spec.batch_max_bytes) add("--batch-max-bytes", std::to_string(*spec.batch_max_bytes));
  add("--workers", std::to_string(spec.workers));
  add("--queue", spec.queue ? "1" : "0");
  add("--slow-us", std::to_string(spec.slow_us));
  add("--outbox-messages", std::to_string(spec.outbox_messages));
  add("--batch", std::to_string(spec.batch));
  add("--window", std::to_string(spec.window));
  return args;
}

Result<PeerSpec> parse_peer_spec(int argc, char** argv) {
  if (argc < 2) return Status::invalid_argument("no role given");
  PeerSpec spec;
  auto role = role_named(argv[1]);
  if (!role) return Status::invalid_argument("unknown role '" + std::string(argv[1]) + "'");
  spec.role = *role;
  for (int i = 2; i < argc; i += 2) {
    std::string_view flag = argv[i];
    if (i + 1 >= argc) return Status::invalid_argument(std::string(flag) + " has no value");
    std::string_view value = argv[i + 1];
    bool ok = true;
    if (flag == "--parent") {
      ok = parse_integer(value, spec.parent);
    } else if (flag == "--bind") {
      spec.bind.emplace_back(value);
    } else if (flag == "--connect") {
      spec.connect.emplace_back(value);
    } else if (flag == "--size") {
      ok = parse_integer(value, spec.size);
    } else if (flag == "--count") {
      ok = parse_integer(value, spec.count);
    } else if (flag == "--warmup") {
      ok = parse_integer(value, spec.warmup);
    } else if (flag == "--duration-ms") {
      std::int64_t ms = 0;
      ok = parse_integer(value, ms) && ms >= 0;
      spec.duration = std::chrono::milliseconds(ms);
    } else if (flag == "--cpu") {
      ok = parse_integer(value, spec.cpu);
    } else if (flag == "--spin-us") {
      std::int64_t us = 0;
      ok = parse_integer(value, us) && us >= 0;
      spec.spin_us = us;
    } else if (flag == "--batch-max-bytes") {
      std::int64_t bytes = 0;
      ok = parse_integer(value, bytes) && bytes >= 0;
      spec.batch_max_bytes = bytes;
    } else if (flag == "--workers") {
      ok = parse_integer(value, spec.workers);
    } else if (flag == "--queue") {
      int queue = 0;
      ok = parse_integer(value, queue);
      spec.queue = queue != 0;
    } else if (flag == "--slow-us") {
      ok = parse_integer(value, spec.slow_us) && spec.slow_us >= 0;
    } else if (flag == "--outbox-messages") {
      ok = parse_integer(value, spec.outbox_messages);
    } else if (flag == "--batch") {
      ok = parse_integer(value, spec.batch) && spec.batch > 0;
    } else if (flag == "--window") {
      ok = parse_integer(value, spec.window) && spec.window > 0;
    } else {
      return Status::invalid_argument("unknown flag " + std::string(flag));
    }
    if (!ok) return Status::invalid_argument("bad value '" + std::string(value) + "' for " + std::string(flag));
  }
  return spec;
}

Report Report::parse(std::string_view line) {
  auto space = line.find(' ');
  Report report(std::string(line.substr(0, space)));
  if (space == std::string_view::npos) return report;
  std::string_view rest = line.substr(space + 1);
  if (report.kind_ == "error") {
    report.text_ = rest;
    return report;
  }
  while (!rest.empty()) {
    space = rest.find(' ');
    std::string_view item = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    auto equals = item.find('=');
    if (item.empty() || equals == std::string_view::npos) continue;
    report.add(item.substr(0, equals), item.substr(equals + 1));
  }
  return report;
}

Report& Report::add(std::string_view key, std::string_view value) {
  if (kind_ == "error") {
    if (!text_.empty()) text_ += ' ';
    text_ += value;
  } else {
    fields_.emplace_back(key, value);
  }
  return *this;
}

Report& Report::add(std::string_view key, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.6g", value);
  return add(key, std::string_view(buffer));
}

Report& Report::add(std::string_view key, std::uint64_t value) {
  return add(key, std::to_string(value));
}

std::optional<std::string_view> Report::field(std::string_view key) const noexcept {
  for (const auto& [k, v] : fields_) {
    if (k == key) return v;
  }
  return std::nullopt;
}

double Report::number(std::string_view key, double otherwise) const noexcept {
  auto value = field(key);
  if (!value || value->empty()) return otherwise;
  std::string copy(*value);
  char* end = nullptr;
  double parsed = std::strtod(copy.c_str(), &end);
  return end == copy.c_str() + copy.size() ? parsed : otherwise;
}

std::string Report::line() const {
  std::string out = kind_;
  if (kind_ == "error") {
    if (!text_.empty()) out += ' ' + text_;
    return out;
  }
  for (const auto& [key, value] : fields_) {
    out += ' ';
    out += key;
    out += '=';
    out += value;
  }
  return out;
}

}  // namespace weft::cli::bench
