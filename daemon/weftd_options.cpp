#include "weftd_options.hpp"

#include <boost/program_options.hpp>
#include <fstream>
#include <map>
#include <ostream>

#include "sidecar/sidecar_endpoint.hpp"
#include "weft/version.hpp"

namespace weft::detail::weftd {

namespace po = boost::program_options;

namespace {

constexpr const char* kUsage = R"(usage: weftd --data-dir DIR [--config FILE] [OPTIONS]

weftd is the optional per-host sidecar that makes streams persistent. Nodes on this host hand it the messages
of persistent streams; it writes them to durable log segments, acknowledges them once safe (per the stream's
fsync policy), delivers them to consumers, serves replay from any offset, keeps durable consumers' positions
and dead-letter queues. Manage it with `weft stream`, `weft dlq` and `weft log`.

)";

constexpr const char* kOutro = R"(
Config file: the same settings as the flags (data-dir = DIR, tcp = ENDPOINT, ...; a flag wins), and one
section per stream:
  [stream.orders]
  subjects = orders.>          # repeatable; no subject may belong to two streams
  retention-age = 7d           # whole segments older than this go (0: keep)
  retention-bytes = 10G        # the oldest segments go while the stream is larger (0: no limit)
  fsync = always               # always (group commit per write) | interval | os
  fsync-interval = 5ms         # for fsync = interval
  segment-bytes = 64M
  max-message-bytes = 8M
  dead-letter-retention-age = 30d

Signals: SIGTERM or SIGINT stop it cleanly (new work refused, everything acknowledged fsynced, exit 0).
After a crash or SIGKILL, the next start recovers every stream (a torn tail is cut; damage is reported).
)";

struct Flags {
  std::string retention_interval;
  std::string consumer_flush_interval;
  std::string log_level;
};

po::options_description settings(WeftdOptions& o, Flags& f) {
  po::options_description d("settings (flags or config file)", 100, 50);
  // clang-format off
  d.add_options()
      ("data-dir", po::value(&o.data_dir)->value_name("DIR"), "where the streams live (required)")
      ("endpoint", po::value(&o.endpoint)->value_name("ENDPOINT"),
       ("the local endpoint (default " + sidecar::default_sidecar_endpoint() +
        "; $WEFT_SIDECAR or $XDG_RUNTIME_DIR change it)").c_str())
      ("tcp", po::value(&o.tcp)->value_name("ENDPOINT"),
       "also listen on a tcp endpoint, e.g. tcp://127.0.0.1:4250 (no authentication; repeatable)")
      ("retention-interval", po::value(&f.retention_interval)->value_name("DURATION"),
       "how often retention runs (default 60s)")
      ("consumer-flush-interval", po::value(&f.consumer_flush_interval)->value_name("DURATION"),
       "how long durable consumers' acknowledgements may wait before they are written (default 100ms)")
      ("log-level", po::value(&f.log_level)->value_name("LEVEL"), "debug, info (default), warning or error");
  // clang-format on
  return d;
}

Status finish(WeftdOptions& o, const Flags& f) {
  if (!f.retention_interval.empty()) {
    auto ms = sidecar::parse_duration_ms(f.retention_interval);
    if (!ms) return ms.status().with_context("--retention-interval");
    if (*ms == 0) return Status::invalid_argument("--retention-interval must be more than 0");
    o.retention_interval = std::chrono::milliseconds(*ms);
  }
  if (!f.consumer_flush_interval.empty()) {
    auto ms = sidecar::parse_duration_ms(f.consumer_flush_interval);
    if (!ms) return ms.status().with_context("--consumer-flush-interval");
    o.consumer_flush_interval = std::chrono::milliseconds(*ms);
  }
  if (!f.log_level.empty()) {
    const std::map<std::string, LogLevel> levels = {{"debug", LogLevel::kDebug},
                                                    {"info", LogLevel::kInfo},
                                                    {"warning", LogLevel::kWarning},
                                                    {"error", LogLevel::kError}};
    auto it = levels.find(f.log_level);
    if (it == levels.end()) return Status::invalid_argument("--log-level must be debug, info, warning or error");
    o.log_level = it->second;
  }
  return Status::ok();
}

// Reads `path` into `values` (settings) and `options.streams` ([stream.NAME] sections).
Status parse_file(const std::string& path, const po::options_description& desc, po::variables_map& values,
                  WeftdOptions& options) {
  std::ifstream in(path);
  if (!in) return Status::invalid_argument("cannot read the config file '" + path + "'");
  try {
    po::parsed_options parsed = po::parse_config_file(in, desc, true);
    std::vector<std::string> order;
    std::map<std::string, sidecar::StreamConfig> streams;
    for (const po::option& o : parsed.options) {
      if (!o.unregistered) continue;
      const std::string& key = o.string_key;
      constexpr std::string_view kPrefix = "stream.";
      const auto dot = key.find('.', kPrefix.size());
      if (key.rfind(kPrefix, 0) != 0 || dot == std::string::npos) {
        return Status::invalid_argument("unknown setting '" + key + "'");
      }
      const std::string name = key.substr(kPrefix.size(), dot - kPrefix.size());
      const std::string field = key.substr(dot + 1);
      if (streams.count(name) == 0) {
        order.push_back(name);
        streams[name].name = name;
      }
      for (const std::string& value : o.value) {
        if (Status s = sidecar::set_stream_field(streams[name], field, value); !s) {
          return s.with_context("[stream." + name + "]");
        }
      }
    }
    for (const std::string& name : order) options.streams.push_back(streams[name]);
    po::store(parsed, values);
  } catch (const po::error& e) {
    return Status::invalid_argument(e.what());
  }
  return Status::ok();
}

}  // namespace

Status read_config_file(const std::string& path, WeftdOptions& options) {
  Flags flags;
  po::options_description desc = settings(options, flags);
  po::variables_map values;
  if (Status s = parse_file(path, desc, values, options); !s) return s.with_context("config file '" + path + "'");
  try {
    po::notify(values);
  } catch (const po::error& e) {
    return Status::invalid_argument(std::string(e.what())).with_context("config file '" + path + "'");
  }
  options.config_file = path;
  return finish(options, flags);
}

Result<ParsedOptions> parse_weftd_options(int argc, const char* const* argv, std::ostream& out) {
  ParsedOptions parsed;
  WeftdOptions& o = parsed.options;
  Flags flags;
  bool check = false;
  po::options_description general("options", 100, 50);
  // clang-format off
  general.add_options()
      ("help,h", "print this help and exit")
      ("version", "print the version and exit")
      ("config", po::value(&o.config_file)->value_name("FILE"), "read settings and streams from FILE")
      ("check-config", po::bool_switch(&check), "check the settings and the config file, then exit");
  // clang-format on
  po::options_description desc = settings(o, flags);
  po::options_description all;
  all.add(general).add(desc);
  po::variables_map values;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).run(), values);
    if (values.count("help") != 0) {
      out << kUsage << all << kOutro;
      parsed.exit_code = 0;
      return parsed;
    }
    if (values.count("version") != 0) {
      out << "weftd " << kVersionString << "\n";
      parsed.exit_code = 0;
      return parsed;
    }
    if (values.count("config") != 0) {
      const std::string path = values["config"].as<std::string>();
      if (Status s = parse_file(path, desc, values, o); !s) return s.with_context("config file '" + path + "'");
    }
    po::notify(values);
  } catch (const po::error& e) {
    return Status::invalid_argument(e.what());
  }
  if (Status s = finish(o, flags); !s) return s;
  if (o.data_dir.empty()) return Status::invalid_argument("give --data-dir DIR (or data-dir = DIR in the config file)");
  for (const sidecar::StreamConfig& stream : o.streams) {
    if (Status s = stream.validate(); !s) return s.with_context("config file '" + o.config_file + "'");
  }
  if (check) {
    out << "weftd: the settings are valid (" << o.streams.size() << " stream(s) in the config file)\n";
    parsed.exit_code = 0;
  }
  return parsed;
}

}  // namespace weft::detail::weftd
