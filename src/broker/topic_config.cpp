#include "broker/topic_config.h"

#include <charconv>

namespace oncemq::broker {

namespace {

Result<int64_t> ParseInt(const std::string& key, const std::string& value, int64_t min) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || ptr != value.data() + value.size() || v < min) {
    return Status::InvalidArgument(key + " must be an integer >= " + std::to_string(min) + ", not '" + value +
                                   "'");
  }
  return v;
}

}  // namespace

bool IsValidTopicName(std::string_view name) {
  if (name.empty() || name.size() > 249 || name == "." || name == "..") return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<TopicConfig> TopicConfig::Make(const TopicDefaults& defaults,
                                      std::map<std::string, std::string> overrides) {
  TopicConfig config;
  config.log_ = defaults.log;
  config.max_message_bytes_ = defaults.max_message_bytes;
  config.dedup_window_ms_ = defaults.dedup_window_ms;
  config.dedup_max_entries_ = defaults.dedup_max_entries;
  for (const auto& [key, value] : overrides) {
    if (Status s = config.Apply(key, value); !s.ok()) return s;
  }
  config.overrides_ = std::move(overrides);
  return config;
}

Status TopicConfig::Apply(const std::string& key, const std::string& value) {
  if (key == "flush.policy") {
    auto policy = storage::FlushPolicy::Parse(value);
    if (!policy.ok()) return policy.status();
    log_.flush = *policy;
    return Status::Ok();
  }
  if (key == "cleanup.policy") {
    return value == "delete" ? Status::Ok() : Status::Unsupported("cleanup.policy supports only 'delete'");
  }
  if (key == "message.timestamp.type") {
    return value == "CreateTime" ? Status::Ok()
                                 : Status::Unsupported("message.timestamp.type supports only 'CreateTime'");
  }
  struct IntKey {
    const char* name;
    int64_t min;
  };
  static constexpr IntKey kIntKeys[] = {{"retention.ms", -1},    {"retention.bytes", -1},
                                        {"segment.bytes", 1024}, {"max.message.bytes", 0},
                                        {"dedup.window.ms", 0},  {"dedup.max.entries", 1}};
  for (const auto& k : kIntKeys) {
    if (key != k.name) continue;
    auto v = ParseInt(key, value, k.min);
    if (!v.ok()) return v.status();
    if (key == "retention.ms") log_.retention_ms = *v;
    if (key == "retention.bytes") log_.retention_bytes = *v;
    if (key == "segment.bytes") log_.segment_bytes = static_cast<uint64_t>(*v);
    if (key == "max.message.bytes")
      max_message_bytes_ = static_cast<int32_t>(std::min<int64_t>(*v, INT32_MAX));
    if (key == "dedup.window.ms") dedup_window_ms_ = *v;
    if (key == "dedup.max.entries") dedup_max_entries_ = *v;
    return Status::Ok();
  }
  return Status::InvalidArgument("unknown topic config '" + key + "'");
}

std::vector<TopicConfig::Entry> TopicConfig::Describe() const {
  auto entry = [&](const std::string& name, std::string value) {
    return Entry{name, std::move(value), overrides_.count(name) > 0};
  };
  return {
      entry("cleanup.policy", "delete"),
      entry("dedup.max.entries", std::to_string(dedup_max_entries_)),
      entry("dedup.window.ms", std::to_string(dedup_window_ms_)),
      entry("flush.policy", log_.flush.ToString()),
      entry("max.message.bytes", std::to_string(max_message_bytes_)),
      entry("message.timestamp.type", "CreateTime"),
      entry("retention.bytes", std::to_string(log_.retention_bytes)),
      entry("retention.ms", std::to_string(log_.retention_ms)),
      entry("segment.bytes", std::to_string(log_.segment_bytes)),
  };
}

}  // namespace oncemq::broker
