// The produce benchmark: sends fixed-size messages to one topic through librdkafka and measures
// acknowledged throughput and the latency from send to delivery report, per message.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace oncemq::bench {

struct ProduceOptions {
  std::string bootstrap = "127.0.0.1:9092";
  std::string topic = "oncemq-bench";
  size_t message_bytes = 100;
  uint64_t count = 1'000'000;  // stop after this many messages; 0: no count bound
  double duration_s = 10;      // stop sending after this long; 0: no time bound
  std::string acks = "all";
  // Messages per second, sent on a fixed schedule whether or not acks keep up (open loop), so that
  // latency is measured at a known load; 0 sends as fast as librdkafka accepts.
  uint64_t rate = 0;
  int linger_ms = 5;
  int batch_bytes = 1'000'000;
  bool idempotence = true;
  // Give every message a unique oncemq-msg-id header (what the SDK does), to measure the broker's
  // message-id window on topics that have one.
  bool msg_ids = false;
  int flush_timeout_ms = 30'000;  // how long to wait for outstanding acks once sending stops
};

struct ProduceReport {
  uint64_t sent = 0;
  uint64_t acked = 0;
  uint64_t failed = 0;       // delivery reports with an error, and produce() refusals
  uint64_t undelivered = 0;  // no delivery report before the flush timeout
  std::string first_error;
  double elapsed_s = 0;  // first send to last delivery report
  double msgs_per_s = 0;
  double mb_per_s = 0;  // 10^6 payload bytes per second
  double p50_ms = 0;
  double p99_ms = 0;
  double p999_ms = 0;
  double max_ms = 0;
};

// Fails only when the run cannot start (bad option, unknown topic, no broker within the flush
// timeout); delivery failures during the run are counted in the report.
// REQUIRES: options.count > 0 || options.duration_s > 0.
Result<ProduceReport> RunProduceBench(const ProduceOptions& options);

}  // namespace oncemq::bench
