// ApiVersions (key 18), v0–v3. v3 has a flexible body but its response always uses response header v0.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "protocol/api.h"
#include "protocol/reader.h"
#include "protocol/writer.h"

namespace oncemq::protocol {

struct ApiVersionsRequest {
  std::optional<std::string_view> client_software_name;  // v3+
  std::optional<std::string_view> client_software_version;
};
ApiVersionsRequest DecodeApiVersionsRequest(Reader& r, int16_t version);

struct ApiVersionRange {
  int16_t api_key;
  int16_t min_version;
  int16_t max_version;
};

struct ApiVersionsResponse {
  ErrorCode error = ErrorCode::kNone;
  std::vector<ApiVersionRange> apis;
};
// Body only. An UNSUPPORTED_VERSION answer to a version above 3 is written with version 0.
void EncodeApiVersionsResponse(Writer& w, const ApiVersionsResponse& resp, int16_t version);

}  // namespace oncemq::protocol
