#include <spdlog/spdlog.h>

#include "broker/broker.h"
#include "cli/commands.h"

namespace oncemq::cli {

namespace {

struct BrokerFlags {
  broker::BrokerConfig config;
  std::string listen = "127.0.0.1:9092";
  std::string flush = "always";
  std::string log_level = "info";
};

Status ApplyFlags(BrokerFlags& flags) {
  auto colon = flags.listen.rfind(':');
  if (colon == std::string::npos) return Status::InvalidArgument("--listen must be HOST:PORT");
  flags.config.listen_host = flags.listen.substr(0, colon);
  int port = 0;
  try {
    port = std::stoi(flags.listen.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) return Status::InvalidArgument("--listen port must be 0-65535");
  flags.config.listen_port = static_cast<uint16_t>(port);
  auto policy = storage::FlushPolicy::Parse(flags.flush);
  if (!policy.ok()) return policy.status();
  flags.config.topic_defaults.log.flush = *policy;
  auto level = spdlog::level::from_str(flags.log_level);
  spdlog::set_level(level);
  return Status::Ok();
}

int RunBroker(BrokerFlags& flags) {
  if (Status s = ApplyFlags(flags); !s.ok()) {
    spdlog::error("{}", s.message());
    return 2;
  }
  broker::Broker b(flags.config);
  if (Status s = b.Open(); !s.ok()) {
    spdlog::error("cannot open data dir: {}", s.ToString());
    return 1;
  }
  if (Status s = b.Run(); !s.ok()) {
    spdlog::error("{}", s.ToString());
    return 1;
  }
  spdlog::info("broker stopped cleanly");
  return 0;
}

}  // namespace

void AddBrokerCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<BrokerFlags>();
  auto& c = flags->config;
  auto& d = c.topic_defaults;
  CLI::App* cmd = app.add_subcommand("broker", "Run the durable, Kafka-compatible broker");
  cmd->set_config("--config", "", "Read flags from a TOML/INI file (same names as the flags)");
  cmd->add_option("--data-dir", c.data_dir, "Directory for all broker data")->capture_default_str();
  cmd->add_option("--listen", flags->listen, "HOST:PORT to listen on (port 0 = any free port)")
      ->capture_default_str();
  cmd->add_option("--advertised-host", c.advertised_host,
                  "Host clients are told to connect to (default: listen host)");
  cmd->add_option("--ready-file", c.ready_file, "Write HOST:PORT here once accepting connections");
  cmd->add_option("--node-id", c.node_id, "Broker id reported in metadata")->capture_default_str();
  cmd->add_option("--io-threads", c.io_threads, "I/O threads (0 = one per core)")->capture_default_str();
  cmd->add_option("--flush", flags->flush, "Default flush policy: always | interval=MS | never")
      ->capture_default_str();
  cmd->add_option("--partitions", d.partitions, "Default partitions for new topics")->capture_default_str();
  cmd->add_option("--auto-create", c.auto_create_topics, "Create unknown topics on metadata requests")
      ->capture_default_str();
  cmd->add_option("--retention-ms", d.log.retention_ms, "Default retention by age (-1 = forever)")
      ->capture_default_str();
  cmd->add_option("--retention-bytes", d.log.retention_bytes,
                  "Default retention by size per partition (-1 = none)")
      ->capture_default_str();
  cmd->add_option("--retention-check-ms", c.retention_check_ms, "How often retention runs")
      ->capture_default_str();
  cmd->add_option("--segment-bytes", d.log.segment_bytes, "Roll segments past this size")
      ->capture_default_str();
  cmd->add_option("--max-message-bytes", d.max_message_bytes, "Largest record batch accepted")
      ->capture_default_str();
  cmd->add_option("--max-frame-bytes", c.max_frame_bytes,
                  "Largest request accepted (refused before buffering)")
      ->capture_default_str();
  cmd->add_option("--dedup-window-ms", d.dedup_window_ms,
                  "Default msg-id dedup window for new topics (0 = off)")
      ->capture_default_str();
  cmd->add_option("--dedup-max-entries", d.dedup_max_entries,
                  "Default bound on msg-ids tracked per partition")
      ->capture_default_str();
  cmd->add_option("--producer-expiration-ms", d.producers.expiration_ms,
                  "Forget an idempotent producer idle this long (broker clock)")
      ->capture_default_str();
  cmd->add_option("--max-producers", d.producers.max_producers,
                  "Idempotent producers tracked per partition; the least recent is evicted beyond it")
      ->capture_default_str();
  cmd->add_option("--group-min-session-timeout-ms", c.groups.min_session_timeout_ms,
                  "Shortest consumer session timeout accepted in JoinGroup")
      ->capture_default_str();
  cmd->add_option("--group-max-session-timeout-ms", c.groups.max_session_timeout_ms,
                  "Longest consumer session timeout accepted in JoinGroup")
      ->capture_default_str();
  cmd->add_option("--group-initial-rebalance-delay-ms", c.groups.initial_rebalance_delay_ms,
                  "How long the first rebalance of an empty group waits for more members")
      ->capture_default_str();
  cmd->add_option("--offsets-retention-ms", c.offsets_retention_ms,
                  "Delete a group's committed offsets after it has had no member and no commit this long")
      ->capture_default_str();
  cmd->add_option("--metrics-listen", c.metrics_listen,
                  "HOST:PORT serving Prometheus metrics (default: off)");
  cmd->add_option("--log-level", flags->log_level, "trace|debug|info|warn|error")->capture_default_str();
  cmd->callback([flags, exit_code] { *exit_code = RunBroker(*flags); });
}

}  // namespace oncemq::cli
