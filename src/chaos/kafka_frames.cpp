#include "chaos/kafka_frames.h"

#include "common/bytes.h"
#include "protocol/reader.h"
#include "protocol/request_header.h"

namespace oncemq::chaos {
namespace {

constexpr int16_t kProduceKey = 0;
constexpr int16_t kProduceFirstFlexible = 9;
constexpr int16_t kMetadataFirstFlexible = 9;
constexpr int16_t kFindCoordinatorFirstFlexible = 3;
constexpr int16_t kFindCoordinatorFirstBatched = 4;  // a coordinators array instead of one coordinator

// A (nullable) STRING, or with `compact` a COMPACT_(NULLABLE_)STRING.
void SkipString(protocol::Reader& r, bool compact) {
  if (compact) {
    r.CompactString();
  } else {
    r.NullableString();
  }
}

// Reads an INT32 port and, when it is `from`, writes `to` in its place. False once the reader failed.
bool RewritePort(protocol::Reader& r, uint8_t* payload, uint16_t from, uint16_t to, int* rewritten) {
  const size_t at = r.position();
  const int32_t port = r.Int32();
  if (!r.ok()) return false;
  if (port == from) {
    StoreBe32(payload + at, to);
    ++*rewritten;
  }
  return true;
}

}  // namespace

std::optional<RequestHeader> ParseRequest(const uint8_t* payload, size_t size) {
  const std::optional<protocol::HeaderPrefix> prefix = protocol::PeekHeaderPrefix(ByteView(payload, size));
  if (!prefix) return std::nullopt;
  RequestHeader h{.api_key = prefix->api_key,
                  .api_version = prefix->api_version,
                  .correlation_id = prefix->correlation_id,
                  .expects_response = true};
  if (h.api_key != kProduceKey) return h;
  // Produce: only acks=0 goes unanswered. What does not parse is left to the broker to refuse.
  const bool flexible = h.api_version >= kProduceFirstFlexible;
  protocol::Reader r(ByteView(payload, size));
  protocol::DecodeRequestHeader(r, flexible);
  if (h.api_version >= 3) SkipString(r, flexible);  // transactional_id
  const int16_t acks = r.Int16();
  if (r.ok() && acks == 0) h.expects_response = false;
  return h;
}

int RewriteMetadataPorts(uint8_t* payload, size_t size, int16_t version, uint16_t from, uint16_t to) {
  protocol::Reader r(ByteView(payload, size));
  const bool flexible = version >= kMetadataFirstFlexible;
  r.Int32();  // correlation_id
  if (flexible) r.SkipTaggedFields();
  if (version >= 3) r.Int32();  // throttle_time_ms
  const int32_t count = flexible ? r.CompactArrayCount() : r.ArrayCount();
  int rewritten = 0;
  for (int32_t i = 0; r.ok() && i < count; ++i) {
    r.Int32();                // node_id
    SkipString(r, flexible);  // host
    if (!RewritePort(r, payload, from, to, &rewritten)) return -1;
    if (version >= 1) SkipString(r, flexible);  // rack
    if (flexible) r.SkipTaggedFields();
  }
  return r.ok() ? rewritten : -1;
}

int RewriteCoordinatorPorts(uint8_t* payload, size_t size, int16_t version, uint16_t from, uint16_t to) {
  protocol::Reader r(ByteView(payload, size));
  const bool flexible = version >= kFindCoordinatorFirstFlexible;
  r.Int32();  // correlation_id
  if (flexible) r.SkipTaggedFields();
  if (version >= 1) r.Int32();  // throttle_time_ms
  int rewritten = 0;
  if (version < kFindCoordinatorFirstBatched) {
    r.Int16();                                  // error_code
    if (version >= 1) SkipString(r, flexible);  // error_message
    r.Int32();                                  // node_id
    SkipString(r, flexible);                    // host
    return RewritePort(r, payload, from, to, &rewritten) ? rewritten : -1;
  }
  const int32_t count = r.CompactArrayCount();
  for (int32_t i = 0; r.ok() && i < count; ++i) {
    r.CompactString();  // key
    r.Int32();          // node_id
    r.CompactString();  // host
    if (!RewritePort(r, payload, from, to, &rewritten)) return -1;
    r.Int16();          // error_code
    r.CompactString();  // error_message
    r.SkipTaggedFields();
  }
  return r.ok() ? rewritten : -1;
}

}  // namespace oncemq::chaos
