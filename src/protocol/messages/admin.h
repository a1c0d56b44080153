// Topic administration: CreateTopics (key 19) v0–v4, DeleteTopics (key 20) v0–v3,
// DescribeConfigs (key 32) v0–v2. All non-flexible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/api.h"
#include "protocol/reader.h"
#include "protocol/writer.h"

namespace oncemq::protocol {

struct CreatableTopicConfig {
  std::string_view name;
  std::optional<std::string_view> value;
};

struct CreatableTopic {
  std::string_view name;
  int32_t num_partitions = -1;      // -1 = broker default
  int16_t replication_factor = -1;  // -1 = broker default
  int32_t assignments = 0;          // manual assignments given (not supported on one node unless trivial)
  std::vector<CreatableTopicConfig> configs;
};

struct CreateTopicsRequest {
  std::vector<CreatableTopic> topics;
  int32_t timeout_ms = 0;
  bool validate_only = false;
};
CreateTopicsRequest DecodeCreateTopicsRequest(Reader& r, int16_t version);

struct TopicResult {
  std::string name;
  ErrorCode error = ErrorCode::kNone;
  std::optional<std::string> message;
};

struct CreateTopicsResponse {
  std::vector<TopicResult> topics;
};
void EncodeCreateTopicsResponse(Writer& w, const CreateTopicsResponse& resp, int16_t version);

struct DeleteTopicsRequest {
  std::vector<std::string_view> names;
  int32_t timeout_ms = 0;
};
DeleteTopicsRequest DecodeDeleteTopicsRequest(Reader& r, int16_t version);

struct DeleteTopicsResponse {
  std::vector<TopicResult> topics;  // message unused
};
void EncodeDeleteTopicsResponse(Writer& w, const DeleteTopicsResponse& resp, int16_t version);

enum class ConfigResourceType : int8_t { kTopic = 2, kBroker = 4 };

struct DescribeConfigsResource {
  int8_t resource_type = 0;
  std::string_view resource_name;
  std::optional<std::vector<std::string_view>> keys;  // nullopt = all
};

struct DescribeConfigsRequest {
  std::vector<DescribeConfigsResource> resources;
};
DescribeConfigsRequest DecodeDescribeConfigsRequest(Reader& r, int16_t version);

// config_source values (v1+).
enum class ConfigSource : int8_t { kDynamicTopic = 1, kStaticBroker = 4, kDefault = 5 };

struct ConfigEntry {
  std::string name;
  std::optional<std::string> value;
  bool read_only = false;
  ConfigSource source = ConfigSource::kDefault;
};

struct DescribeConfigsResult {
  ErrorCode error = ErrorCode::kNone;
  std::optional<std::string> message;
  int8_t resource_type = 0;
  std::string resource_name;
  std::vector<ConfigEntry> configs;
};

struct DescribeConfigsResponse {
  std::vector<DescribeConfigsResult> results;
};
void EncodeDescribeConfigsResponse(Writer& w, const DescribeConfigsResponse& resp, int16_t version);

}  // namespace oncemq::protocol
