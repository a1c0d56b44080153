// BrokerConfig: everything `oncemq broker` is told by flags or its config file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "broker/groups/group_coordinator.h"
#include "broker/topic_config.h"

namespace oncemq::broker {

struct BrokerConfig {
  std::filesystem::path data_dir = "./data";
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 9092;
  std::string advertised_host;  // empty = listen_host
  int32_t node_id = 1;
  std::string cluster_id = "oncemq";
  int io_threads = 0;  // 0 = one per core
  bool auto_create_topics = true;
  int32_t max_frame_bytes = 100 * 1024 * 1024;  // refuse bigger requests before buffering them
  int64_t retention_check_ms = 60'000;
  size_t max_in_flight_per_connection =
      64;                            // pipelined requests a connection may queue before we stop reading
  std::filesystem::path ready_file;  // written with "HOST:PORT\n" once accepting
  std::string metrics_listen;        // HOST:PORT for Prometheus metrics; empty = off
  TopicDefaults topic_defaults;
  GroupOptions groups;
  // Offsets of a group that has had no member for this long, and no commit for as long, are deleted
  // (Kafka's offsets.retention.minutes, 7 days).
  int64_t offsets_retention_ms = 7LL * 24 * 3600 * 1000;
  int32_t offset_metadata_max_bytes = 4096;  // longer OffsetCommit metadata gets OFFSET_METADATA_TOO_LARGE
};

}  // namespace oncemq::broker
