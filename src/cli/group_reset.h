// `oncemq group reset-offsets`: commits new offsets for one topic of a consumer group from outside the
// group, as kafka-consumer-groups --reset-offsets does. Refuses while the group has active members:
// their next commits would overwrite the reset, and the broker refuses the commit anyway.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/kafka_admin.h"

namespace oncemq::cli {

struct ResetArguments {
  AdminConnectOptions connect;
  std::string group_id;
  std::string topic;
  std::vector<int32_t> partitions;  // empty: every partition of the topic
  bool to_earliest = false;
  bool to_latest = false;
  std::optional<int64_t> to_offset;
  bool dry_run = false;
};

// Prints the new offsets and commits them (unless dry_run). Returns the process exit status.
int RunResetOffsets(const ResetArguments& args);

}  // namespace oncemq::cli
