// libFuzzer target: a byte string read as one request frame without its size prefix, the way the
// connection hands it over. PeekHeaderPrefix, then protocol::FindSupportedApi; for a supported version the
// whole request header (v2 where the table says flexible) and the matching Decode*Request. Broker handlers
// never run. The decoders must not crash, read out of bounds, or build more elements than the input could
// hold, whatever the bytes; every view they return is read through so ASan checks it lies inside the input.
#include <cstdlib>
#include <optional>
#include <string_view>

#include "protocol/messages/admin.h"
#include "protocol/messages/api_versions.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/group.h"
#include "protocol/messages/init_producer_id.h"
#include "protocol/messages/list_offsets.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/offsets.h"
#include "protocol/messages/produce.h"
#include "protocol/request_header.h"
#include "protocol/supported_apis.h"

namespace oncemq::protocol {
namespace {

volatile size_t g_sink;  // keeps the reads of every view from being optimised away

void Check(bool condition) {
  if (!condition) std::abort();
}

size_t Touch(std::string_view s) {
  size_t sum = s.size();
  for (char c : s) sum += static_cast<unsigned char>(c);
  return sum;
}
size_t Touch(std::optional<std::string_view> s) {
  return s ? Touch(*s) : 0;
}
size_t Touch(ByteView b) {
  return Touch(AsStringView(b));
}
size_t Touch(std::optional<ByteView> b) {
  return b ? Touch(*b) : 0;
}

// Each element read takes at least one byte of the body, so no list may outgrow it.
void CheckBounded(size_t elements, size_t body_size) {
  Check(elements <= body_size);
}

size_t Walk(const ApiVersionsRequest& req, size_t) {
  return Touch(req.client_software_name) + Touch(req.client_software_version);
}

size_t Walk(const MetadataRequest& req, size_t body) {
  if (!req.topics) return 0;
  CheckBounded(req.topics->size(), body);
  size_t sum = 0;
  for (std::string_view t : *req.topics) sum += Touch(t);
  return sum;
}

size_t Walk(const ProduceRequest& req, size_t body) {
  size_t sum = Touch(req.transactional_id);
  CheckBounded(req.topics.size(), body);
  for (const auto& t : req.topics) {
    CheckBounded(t.partitions.size(), body);
    sum += Touch(t.name);
    for (const auto& p : t.partitions) sum += Touch(p.records);
  }
  return sum;
}

size_t Walk(const FetchRequest& req, size_t body) {
  size_t sum = 0;
  CheckBounded(req.topics.size(), body);
  for (const auto& t : req.topics) {
    CheckBounded(t.partitions.size(), body);
    sum += Touch(t.name) + t.partitions.size();
  }
  return sum;
}

size_t Walk(const ListOffsetsRequest& req, size_t body) {
  size_t sum = 0;
  CheckBounded(req.topics.size(), body);
  for (const auto& t : req.topics) {
    CheckBounded(t.partitions.size(), body);
    sum += Touch(t.name) + t.partitions.size();
  }
  return sum;
}

size_t Walk(const CreateTopicsRequest& req, size_t body) {
  size_t sum = 0;
  CheckBounded(req.topics.size(), body);
  for (const auto& t : req.topics) {
    CheckBounded(t.configs.size(), body);
    Check(t.assignments >= 0);
    sum += Touch(t.name);
    for (const auto& c : t.configs) sum += Touch(c.name) + Touch(c.value);
  }
  return sum;
}

size_t Walk(const DeleteTopicsRequest& req, size_t body) {
  size_t sum = 0;
  CheckBounded(req.names.size(), body);
  for (std::string_view n : req.names) sum += Touch(n);
  return sum;
}

size_t Walk(const DescribeConfigsRequest& req, size_t body) {
  size_t sum = 0;
  CheckBounded(req.resources.size(), body);
  for (const auto& res : req.resources) {
    sum += Touch(res.resource_name);
    if (!res.keys) continue;
    CheckBounded(res.keys->size(), body);
    for (std::string_view k : *res.keys) sum += Touch(k);
  }
  return sum;
}

size_t Walk(const InitProducerIdRequest& req, size_t) {
  return Touch(req.transactional_id);
}

size_t Walk(const FindCoordinatorRequest& req, size_t) {
  return Touch(req.key) + static_cast<size_t>(req.key_type);
}

size_t Walk(const JoinGroupRequest& req, size_t body) {
  size_t sum =
      Touch(req.group_id) + Touch(req.member_id) + Touch(req.group_instance_id) + Touch(req.protocol_type);
  CheckBounded(req.protocols.size(), body);
  for (const auto& p : req.protocols) sum += Touch(p.name) + Touch(p.metadata);
  return sum;
}

size_t Walk(const SyncGroupRequest& req, size_t body) {
  size_t sum = Touch(req.group_id) + Touch(req.member_id) + Touch(req.group_instance_id);
  CheckBounded(req.assignments.size(), body);
  for (const auto& a : req.assignments) sum += Touch(a.member_id) + Touch(a.assignment);
  return sum;
}

size_t Walk(const HeartbeatRequest& req, size_t) {
  return Touch(req.group_id) + Touch(req.member_id) + Touch(req.group_instance_id);
}

size_t Walk(const LeaveGroupRequest& req, size_t) {
  return Touch(req.group_id) + Touch(req.member_id);
}

size_t Walk(const DescribeGroupsRequest& req, size_t body) {
  size_t sum = req.include_authorized_operations ? 1 : 0;
  CheckBounded(req.groups.size(), body);
  for (std::string_view g : req.groups) sum += Touch(g);
  return sum;
}

size_t Walk(const DeleteGroupsRequest& req, size_t body) {
  size_t sum = 0;
  CheckBounded(req.groups.size(), body);
  for (std::string_view g : req.groups) sum += Touch(g);
  return sum;
}

size_t Walk(const OffsetCommitRequest& req, size_t body) {
  size_t sum = Touch(req.group_id) + Touch(req.member_id) + Touch(req.group_instance_id);
  CheckBounded(req.topics.size(), body);
  for (const auto& t : req.topics) {
    CheckBounded(t.partitions.size(), body);
    sum += Touch(t.name);
    for (const auto& p : t.partitions) sum += Touch(p.metadata);
  }
  return sum;
}

size_t Walk(const OffsetFetchRequest& req, size_t body) {
  size_t sum = Touch(req.group_id);
  if (!req.topics) return sum;
  CheckBounded(req.topics->size(), body);
  for (const auto& t : *req.topics) {
    CheckBounded(t.partitions.size(), body);
    sum += Touch(t.name) + t.partitions.size();
  }
  return sum;
}

template <typename Request>
size_t DecodeAndWalk(Request (*decode)(Reader&, int16_t), Reader& r, int16_t version) {
  const size_t before = r.remaining();
  Request req = decode(r, version);
  Check(r.remaining() <= before);
  return Walk(req, before);
}

size_t DecodeBody(ApiKey key, Reader& r, int16_t version) {
  switch (key) {
    case ApiKey::kApiVersions: return DecodeAndWalk(DecodeApiVersionsRequest, r, version);
    case ApiKey::kMetadata: return DecodeAndWalk(DecodeMetadataRequest, r, version);
    case ApiKey::kProduce: return DecodeAndWalk(DecodeProduceRequest, r, version);
    case ApiKey::kFetch: return DecodeAndWalk(DecodeFetchRequest, r, version);
    case ApiKey::kListOffsets: return DecodeAndWalk(DecodeListOffsetsRequest, r, version);
    case ApiKey::kCreateTopics: return DecodeAndWalk(DecodeCreateTopicsRequest, r, version);
    case ApiKey::kDeleteTopics: return DecodeAndWalk(DecodeDeleteTopicsRequest, r, version);
    case ApiKey::kDescribeConfigs: return DecodeAndWalk(DecodeDescribeConfigsRequest, r, version);
    case ApiKey::kInitProducerId: return DecodeAndWalk(DecodeInitProducerIdRequest, r, version);
    case ApiKey::kFindCoordinator: return DecodeAndWalk(DecodeFindCoordinatorRequest, r, version);
    case ApiKey::kJoinGroup: return DecodeAndWalk(DecodeJoinGroupRequest, r, version);
    case ApiKey::kSyncGroup: return DecodeAndWalk(DecodeSyncGroupRequest, r, version);
    case ApiKey::kHeartbeat: return DecodeAndWalk(DecodeHeartbeatRequest, r, version);
    case ApiKey::kLeaveGroup: return DecodeAndWalk(DecodeLeaveGroupRequest, r, version);
    case ApiKey::kDescribeGroups: return DecodeAndWalk(DecodeDescribeGroupsRequest, r, version);
    case ApiKey::kListGroups: return 0;  // the v0–v2 request has no body to decode
    case ApiKey::kDeleteGroups: return DecodeAndWalk(DecodeDeleteGroupsRequest, r, version);
    case ApiKey::kOffsetCommit: return DecodeAndWalk(DecodeOffsetCommitRequest, r, version);
    case ApiKey::kOffsetFetch: return DecodeAndWalk(DecodeOffsetFetchRequest, r, version);
    default: std::abort();  // the API table lists a key this target does not know: extend the switch
  }
}

}  // namespace
}  // namespace oncemq::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace oncemq::protocol;
  oncemq::ByteView frame(data, size);
  std::optional<HeaderPrefix> prefix = PeekHeaderPrefix(frame);
  if (!prefix) return 0;
  const oncemq::protocol::ApiSupport* api = oncemq::protocol::FindSupportedApi(prefix->api_key);
  if (api == nullptr || !api->Supports(prefix->api_version)) return 0;

  Reader r(frame);
  RequestHeader header = DecodeRequestHeader(r, api->Flexible(prefix->api_version));
  Check(r.position() <= size);
  if (!r.ok()) return 0;
  Check(header.api_key == prefix->api_key && header.api_version == prefix->api_version &&
        header.correlation_id == prefix->correlation_id);
  size_t sum = Touch(header.client_id);
  sum += DecodeBody(api->key, r, header.api_version);
  Check(r.position() <= size);
  g_sink = sum;
  return 0;
}
