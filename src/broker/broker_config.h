// BrokerConfig: everything `oncemq broker` is told by flags or its config file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

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
};

}  // namespace oncemq::broker
