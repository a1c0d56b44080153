// InitProducerId (key 22), v0–v1 (identical layouts, non-flexible).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "protocol/api.h"
#include "protocol/reader.h"
#include "protocol/writer.h"

namespace oncemq::protocol {

struct InitProducerIdRequest {
  std::optional<std::string_view> transactional_id;  // null for idempotent-only producers
  int32_t transaction_timeout_ms = -1;
};
InitProducerIdRequest DecodeInitProducerIdRequest(Reader& r, int16_t version);

struct InitProducerIdResponse {
  ErrorCode error = ErrorCode::kNone;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
};
void EncodeInitProducerIdResponse(Writer& w, const InitProducerIdResponse& resp, int16_t version);

}  // namespace oncemq::protocol
