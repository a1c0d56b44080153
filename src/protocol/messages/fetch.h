// Fetch (key 1), v4–v11. Sessions are not implemented: the broker always answers session_id 0 with full data.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "protocol/api.h"
#include "protocol/reader.h"
#include "protocol/writer.h"

namespace oncemq::protocol {

struct FetchPartition {
  int32_t partition = 0;
  int64_t fetch_offset = 0;
  int32_t partition_max_bytes = 0;
};

struct FetchTopic {
  std::string_view name;
  std::vector<FetchPartition> partitions;
};

struct FetchRequest {
  int32_t max_wait_ms = 0;
  int32_t min_bytes = 0;
  int32_t max_bytes = 0x7fffffff;
  int8_t isolation_level = 0;
  std::vector<FetchTopic> topics;
};
FetchRequest DecodeFetchRequest(Reader& r, int16_t version);

struct FetchPartitionResponse {
  int32_t partition = 0;
  ErrorCode error = ErrorCode::kNone;
  int64_t high_watermark = -1;
  int64_t log_start_offset = -1;
  ByteView records;  // whole batches; points into a buffer owned by the caller
};

struct FetchTopicResponse {
  std::string_view name;
  std::vector<FetchPartitionResponse> partitions;
};

struct FetchResponse {
  std::vector<FetchTopicResponse> topics;
};
void EncodeFetchResponse(Writer& w, const FetchResponse& resp, int16_t version);

}  // namespace oncemq::protocol
