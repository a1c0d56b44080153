// TopicConfig: the settings of one topic — broker defaults overridden by per-topic keys.
//
// Keys (as CreateTopics and `oncemq topic create --config` accept them): retention.ms, retention.bytes,
// segment.bytes, max.message.bytes, flush.policy (always | interval=MS | never), dedup.window.ms,
// dedup.max.entries,
// cleanup.policy (delete), message.timestamp.type (CreateTime). Anything else is INVALID_CONFIG.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "broker/producer_state.h"
#include "common/status.h"
#include "storage/log_config.h"

namespace oncemq::broker {

struct TopicDefaults {
  int32_t partitions = 1;
  storage::LogConfig log;
  int32_t max_message_bytes = 1048588;  // Kafka's default
  int64_t dedup_window_ms = 0;
  int64_t dedup_max_entries = 1'000'000;  // per partition; the bound on the window's memory
  ProducerStateConfig producers;          // broker-wide: idempotent producer expiry and bound
};

class TopicConfig {
 public:
  // Validates `overrides` against the known keys and their value types.
  static Result<TopicConfig> Make(const TopicDefaults& defaults,
                                  std::map<std::string, std::string> overrides);

  const storage::LogConfig& log() const { return log_; }
  int32_t max_message_bytes() const { return max_message_bytes_; }
  int64_t dedup_window_ms() const { return dedup_window_ms_; }
  size_t dedup_max_entries() const { return static_cast<size_t>(dedup_max_entries_); }
  const std::map<std::string, std::string>& overrides() const { return overrides_; }

  struct Entry {
    std::string name;
    std::string value;
    bool is_override;
  };
  // Every key with its effective value, for DescribeConfigs.
  std::vector<Entry> Describe() const;

 private:
  Status Apply(const std::string& key, const std::string& value);

  storage::LogConfig log_;
  int32_t max_message_bytes_ = 0;
  int64_t dedup_window_ms_ = 0;
  int64_t dedup_max_entries_ = 0;
  std::map<std::string, std::string> overrides_;
};

// Legal Kafka topic names: [a-zA-Z0-9._-], 1–249 characters, not "." or "..".
bool IsValidTopicName(std::string_view name);

}  // namespace oncemq::broker
