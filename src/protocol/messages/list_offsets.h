// ListOffsets (key 2), v0–v3. Timestamp -2 = earliest, -1 = latest, otherwise the first offset at or after.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "protocol/api.h"
#include "protocol/reader.h"
#include "protocol/writer.h"

namespace oncemq::protocol {

constexpr int64_t kLatestTimestamp = -1;
constexpr int64_t kEarliestTimestamp = -2;

struct ListOffsetsPartition {
  int32_t partition = 0;
  int64_t timestamp = kLatestTimestamp;
};

struct ListOffsetsTopic {
  std::string_view name;
  std::vector<ListOffsetsPartition> partitions;
};

struct ListOffsetsRequest {
  int8_t isolation_level = 0;
  std::vector<ListOffsetsTopic> topics;
};
ListOffsetsRequest DecodeListOffsetsRequest(Reader& r, int16_t version);

struct ListOffsetsPartitionResponse {
  int32_t partition = 0;
  ErrorCode error = ErrorCode::kNone;
  int64_t timestamp = -1;
  int64_t offset = -1;  // -1 = no such offset
};

struct ListOffsetsTopicResponse {
  std::string_view name;
  std::vector<ListOffsetsPartitionResponse> partitions;
};

struct ListOffsetsResponse {
  std::vector<ListOffsetsTopicResponse> topics;
};
void EncodeListOffsetsResponse(Writer& w, const ListOffsetsResponse& resp, int16_t version);

}  // namespace oncemq::protocol
