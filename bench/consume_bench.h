// The consume benchmark: reads one topic from the beginning of every partition through
// librdkafka and measures the read rate — with partitions assigned directly, or, given a group, as a
// member of that consumer group (join, assignment and auto-commit included; the rate is still timed
// from the first message to the last).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace oncemq::bench {

struct ConsumeOptions {
  std::string bootstrap = "127.0.0.1:9092";
  std::string topic = "oncemq-bench";
  uint64_t count = 0;      // stop after this many messages; 0: stop at the end of every partition
  double duration_s = 30;  // stop after this long in any case; 0: no time bound
  std::string group;       // consume as a member of this (fresh) group; empty: assign partitions
};

struct ConsumeReport {
  uint64_t messages = 0;
  uint64_t bytes = 0;  // payload bytes
  uint64_t errors = 0;
  std::string first_error;
  bool reached_end = false;  // every partition reported its end (with count 0)
  double join_s = 0;         // start to first message (the group join, with a group)
  double elapsed_s = 0;      // first message to last message
  double msgs_per_s = 0;
  double mb_per_s = 0;  // 10^6 payload bytes per second
};

// Fails only when the run cannot start (bad option, no broker, unknown topic); errors met while
// fetching are counted in the report.
Result<ConsumeReport> RunConsumeBench(const ConsumeOptions& options);

}  // namespace oncemq::bench
