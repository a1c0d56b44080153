// The few Kafka frame fields the fault proxy reads or rewrites, parsed in place with protocol::Reader's
// bounds checks: a request's header (and whether a Produce request expects an answer), and the broker
// ports that Metadata and FindCoordinator responses advertise. Every function takes one frame's payload
// (after its INT32 size) and never reads past `size`; a payload that does not parse is reported, never
// trusted.
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace oncemq::chaos {

inline constexpr int16_t kMetadataApiKey = 3;
inline constexpr int16_t kFindCoordinatorApiKey = 10;

struct RequestHeader {
  int16_t api_key = -1;
  int16_t api_version = -1;
  int32_t correlation_id = 0;
  bool expects_response = true;
};

// Reads the request header and, for Produce, whether acks=0 (no response will come). nullopt if the
// payload is shorter than a header.
std::optional<RequestHeader> ParseRequest(const uint8_t* payload, size_t size);

// Rewrites, in a Metadata response payload of `version`, every broker port equal to `from` to `to`.
// Returns how many were rewritten, or -1 if the payload does not parse (it may then be partly rewritten).
int RewriteMetadataPorts(uint8_t* payload, size_t size, int16_t version, uint16_t from, uint16_t to);

// The same for a FindCoordinator response (v0–v3: one coordinator; v4+: a coordinators array), so that a
// consumer group's coordinator traffic (joins, heartbeats, offset commits) passes the proxy too.
int RewriteCoordinatorPorts(uint8_t* payload, size_t size, int16_t version, uint16_t from, uint16_t to);

}  // namespace oncemq::chaos
