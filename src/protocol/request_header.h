// Request and response headers (kafka-protocol.md §1).
//
// Request header v1 = api_key i16, api_version i16, correlation_id i32, client_id NULLABLE_STRING (INT16
// length even in v2); v2 appends a tag buffer. Response header v0 = correlation_id; v1 adds a tag buffer,
// except that ApiVersions responses always use v0.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "protocol/reader.h"
#include "protocol/writer.h"

namespace oncemq::protocol {

struct RequestHeader {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string_view> client_id;
};

// Reads api_key, api_version and correlation_id only: enough to route or to answer an unsupported version
// before the rest of the header (whose shape depends on the version) can be trusted.
struct HeaderPrefix {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
};
std::optional<HeaderPrefix> PeekHeaderPrefix(ByteView frame);

// Decodes the whole request header; `flexible` selects header v2. The reader is left at the body.
RequestHeader DecodeRequestHeader(Reader& r, bool flexible);
void EncodeRequestHeader(Writer& w, const RequestHeader& h, bool flexible);

// Writes the response header. `flexible` selects v1 (adds the tag buffer).
void EncodeResponseHeader(Writer& w, int32_t correlation_id, bool flexible);

}  // namespace oncemq::protocol
