// The one table of the Kafka APIs oncemq serves: key, version range, first flexible version.
// The broker's dispatch and its ApiVersions answer both read this table, so they cannot disagree.
// Every version listed is one the decoders in protocol/messages/ implement (kafka-protocol.md §3.2);
// maxima stay at or below each API's last non-flexible version, except ApiVersions v3, which librdkafka
// sends first.
#pragma once

#include <cstdint>
#include <span>

#include "protocol/api.h"

namespace oncemq::protocol {

struct ApiSupport {
  ApiKey key;
  int16_t min_version;
  int16_t max_version;
  int16_t first_flexible_version;  // request header v2 and flexible body from here (above max = never)

  bool Supports(int16_t v) const { return v >= min_version && v <= max_version; }
  bool Flexible(int16_t v) const { return v >= first_flexible_version; }
};

std::span<const ApiSupport> SupportedApis();
// nullptr when the key is not served.
const ApiSupport* FindSupportedApi(int16_t api_key);

}  // namespace oncemq::protocol
