#include "protocol/messages/api_versions.h"

namespace oncemq::protocol {

ApiVersionsRequest DecodeApiVersionsRequest(Reader& r, int16_t version) {
  ApiVersionsRequest req;
  if (version >= 3) {
    req.client_software_name = r.CompactString();
    req.client_software_version = r.CompactString();
    r.SkipTaggedFields();
  }
  return req;
}

void EncodeApiVersionsResponse(Writer& w, const ApiVersionsResponse& resp, int16_t version) {
  const bool flexible = version >= 3;
  w.Int16(Code(resp.error));
  if (flexible) {
    w.CompactArrayCount(static_cast<int32_t>(resp.apis.size()));
  } else {
    w.ArrayCount(static_cast<int32_t>(resp.apis.size()));
  }
  for (const auto& api : resp.apis) {
    w.Int16(api.api_key);
    w.Int16(api.min_version);
    w.Int16(api.max_version);
    if (flexible) w.EmptyTaggedFields();
  }
  if (version >= 1) w.Int32(0);  // throttle_time_ms
  if (flexible) w.EmptyTaggedFields();
}

}  // namespace oncemq::protocol
