// Metadata (key 3), v0–v6. v0: an empty topic list means all topics; v1+: null means all, empty means none.
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

struct MetadataRequest {
  std::optional<std::vector<std::string_view>> topics;  // nullopt = all topics
  bool allow_auto_topic_creation = true;                // v4+; earlier versions imply true
};
MetadataRequest DecodeMetadataRequest(Reader& r, int16_t version);

struct MetadataBroker {
  int32_t node_id;
  std::string host;
  int32_t port;
};

struct MetadataPartition {
  ErrorCode error = ErrorCode::kNone;
  int32_t partition_index = 0;
  int32_t leader_id = 0;
};

struct MetadataTopic {
  ErrorCode error = ErrorCode::kNone;
  std::string name;
  std::vector<MetadataPartition> partitions;
};

struct MetadataResponse {
  std::vector<MetadataBroker> brokers;
  std::string cluster_id;
  int32_t controller_id = 0;
  std::vector<MetadataTopic> topics;
};
void EncodeMetadataResponse(Writer& w, const MetadataResponse& resp, int16_t version);

}  // namespace oncemq::protocol
