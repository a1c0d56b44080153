// Produce (key 0), v3–v7. Each partition carries exactly one RecordBatch v2 (checked by the broker).
// `records` views point into the request frame, which the broker owns and may rewrite in place.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "protocol/api.h"
#include "protocol/reader.h"
#include "protocol/writer.h"

namespace oncemq::protocol {

struct ProducePartitionData {
  int32_t index = 0;
  std::optional<ByteView> records;
};

struct ProduceTopicData {
  std::string_view name;
  std::vector<ProducePartitionData> partitions;
};

struct ProduceRequest {
  std::optional<std::string_view> transactional_id;
  int16_t acks = -1;
  int32_t timeout_ms = 0;
  std::vector<ProduceTopicData> topics;
};
ProduceRequest DecodeProduceRequest(Reader& r, int16_t version);

struct ProducePartitionResponse {
  int32_t index = 0;
  ErrorCode error = ErrorCode::kNone;
  int64_t base_offset = -1;
  int64_t log_append_time_ms = -1;
  int64_t log_start_offset = -1;
};

struct ProduceTopicResponse {
  std::string_view name;
  std::vector<ProducePartitionResponse> partitions;
};

struct ProduceResponse {
  std::vector<ProduceTopicResponse> topics;
};
void EncodeProduceResponse(Writer& w, const ProduceResponse& resp, int16_t version);

}  // namespace oncemq::protocol
