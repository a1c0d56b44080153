#include "support/group_wire.h"

namespace oncemq::testing {

namespace {

std::optional<std::string> CopyOptional(std::optional<std::string_view> s) {
  if (!s) return std::nullopt;
  return std::string(*s);
}

}  // namespace

Bytes ConsumerSubscriptionV0(const std::vector<std::string>& topics) {
  protocol::Writer w;
  w.Int16(0);  // version
  w.ArrayCount(static_cast<int32_t>(topics.size()));
  for (const auto& t : topics) w.String(t);
  w.NullableBytes(std::nullopt);  // user_data
  return w.Take();
}

Bytes ConsumerAssignmentV0(const std::string& topic, const std::vector<int32_t>& partitions) {
  protocol::Writer w;
  w.Int16(0);  // version
  w.ArrayCount(1);
  w.String(topic);
  w.ArrayCount(static_cast<int32_t>(partitions.size()));
  for (int32_t p : partitions) w.Int32(p);
  w.NullableBytes(std::nullopt);  // user_data
  return w.Take();
}

Bytes FindCoordinatorV2Body(const std::string& key, int8_t key_type) {
  protocol::Writer w;
  w.String(key);
  w.Int8(key_type);
  return w.Take();
}

Bytes JoinGroupV5Body(const JoinGroupRequest& req) {
  protocol::Writer w;
  w.String(req.group_id);
  w.Int32(req.session_timeout_ms);
  w.Int32(req.rebalance_timeout_ms);
  w.String(req.member_id);
  w.NullableString(std::nullopt);  // group_instance_id: dynamic membership
  w.String(req.protocol_type);
  w.ArrayCount(static_cast<int32_t>(req.protocols.size()));
  for (const auto& [name, metadata] : req.protocols) {
    w.String(name);
    w.NullableBytes(ByteView(metadata));
  }
  return w.Take();
}

Bytes SyncGroupV3Body(const std::string& group_id, int32_t generation_id, const std::string& member_id,
                      const std::vector<std::pair<std::string, Bytes>>& assignments) {
  protocol::Writer w;
  w.String(group_id);
  w.Int32(generation_id);
  w.String(member_id);
  w.NullableString(std::nullopt);  // group_instance_id
  w.ArrayCount(static_cast<int32_t>(assignments.size()));
  for (const auto& [member, assignment] : assignments) {
    w.String(member);
    w.NullableBytes(ByteView(assignment));
  }
  return w.Take();
}

Bytes HeartbeatV3Body(const std::string& group_id, int32_t generation_id, const std::string& member_id) {
  protocol::Writer w;
  w.String(group_id);
  w.Int32(generation_id);
  w.String(member_id);
  w.NullableString(std::nullopt);  // group_instance_id
  return w.Take();
}

Bytes LeaveGroupV2Body(const std::string& group_id, const std::string& member_id) {
  protocol::Writer w;
  w.String(group_id);
  w.String(member_id);
  return w.Take();
}

Bytes OffsetCommitV7Body(const std::string& group_id, int32_t generation_id, const std::string& member_id,
                         const std::vector<CommitPartition>& partitions) {
  protocol::Writer w;
  w.String(group_id);
  w.Int32(generation_id);
  w.String(member_id);
  w.NullableString(std::nullopt);  // group_instance_id
  // One topic element per run of consecutive entries of the same topic.
  WriteTopicArray(
      w, partitions, [](const CommitPartition& p) -> std::string_view { return p.topic; },
      [&w](const CommitPartition& p) {
        w.Int32(p.partition);
        w.Int64(p.offset);
        w.Int32(-1);  // committed_leader_epoch
        w.NullableString(p.metadata ? std::optional<std::string_view>(*p.metadata) : std::nullopt);
      });
  return w.Take();
}

Bytes OffsetFetchV5Body(const std::string& group_id,
                        const std::optional<std::vector<std::pair<std::string, int32_t>>>& partitions) {
  protocol::Writer w;
  w.String(group_id);
  if (!partitions) {
    w.ArrayCount(-1);
    return w.Take();
  }
  using Entry = std::pair<std::string, int32_t>;
  WriteTopicArray(
      w, *partitions, [](const Entry& e) -> std::string_view { return e.first; },
      [&w](const Entry& e) { w.Int32(e.second); });
  return w.Take();
}

bool ParseFindCoordinatorV2(ByteView body, FindCoordinatorResponse* out) {
  protocol::Reader r(body);
  r.Int32();  // throttle_time_ms
  out->error_code = r.Int16();
  out->error_message = CopyOptional(r.NullableString());
  out->node_id = r.Int32();
  out->host = std::string(r.String());
  out->port = r.Int32();
  return r.ok() && r.remaining() == 0;
}

bool ParseJoinGroupV5(ByteView body, JoinGroupResponse* out) {
  protocol::Reader r(body);
  r.Int32();  // throttle_time_ms
  out->error_code = r.Int16();
  out->generation_id = r.Int32();
  out->protocol_name = std::string(r.String());
  out->leader = std::string(r.String());
  out->member_id = std::string(r.String());
  int32_t n = r.ArrayCount(8);
  for (int32_t i = 0; i < n && r.ok(); ++i) {
    std::string member(r.String());
    r.NullableString();  // group_instance_id
    ByteView metadata = r.Bytes();
    out->members.emplace_back(std::move(member), Bytes(metadata.begin(), metadata.end()));
  }
  return r.ok() && n >= 0 && r.remaining() == 0;
}

bool ParseSyncGroupV3(ByteView body, SyncGroupResponse* out) {
  protocol::Reader r(body);
  r.Int32();  // throttle_time_ms
  out->error_code = r.Int16();
  ByteView assignment = r.Bytes();
  out->assignment.assign(assignment.begin(), assignment.end());
  return r.ok() && r.remaining() == 0;
}

bool ParseThrottleAndError(ByteView body, int16_t* error_code) {
  protocol::Reader r(body);
  r.Int32();  // throttle_time_ms
  *error_code = r.Int16();
  return r.ok() && r.remaining() == 0;
}

bool ParseOffsetCommitV7(ByteView body, std::vector<PartitionError>* out) {
  protocol::Reader r(body);
  r.Int32();  // throttle_time_ms
  bool topics = ReadTopicArray(r, 6, [&](const std::string& topic) {
    PartitionError p;
    p.topic = topic;
    p.partition = r.Int32();
    p.error_code = r.Int16();
    out->push_back(std::move(p));
  });
  return r.ok() && topics && r.remaining() == 0;
}

const FetchedOffset* OffsetFetchResponse::Find(const std::string& topic, int32_t partition) const {
  for (const auto& p : partitions) {
    if (p.topic == topic && p.partition == partition) return &p;
  }
  return nullptr;
}

bool ParseOffsetFetchV5(ByteView body, OffsetFetchResponse* out) {
  protocol::Reader r(body);
  r.Int32();  // throttle_time_ms
  bool topics = ReadTopicArray(r, 20, [&](const std::string& topic) {
    FetchedOffset p;
    p.topic = topic;
    p.partition = r.Int32();
    p.offset = r.Int64();
    r.Int32();  // committed_leader_epoch
    p.metadata = CopyOptional(r.NullableString());
    p.error_code = r.Int16();
    out->partitions.push_back(std::move(p));
  });
  out->error_code = r.Int16();
  return r.ok() && topics && r.remaining() == 0;
}

bool GroupClient::Exchange(int16_t api_key, int16_t version, ByteView body, Bytes* response,
                           std::string* error) {
  CallResult result = Call(*conn_, api_key, version, body);
  if (result.outcome != ReadOutcome::kFrame) {
    *error = "api " + std::to_string(api_key) + " v" + std::to_string(version) + ": " + result.Describe();
    return false;
  }
  *response = std::move(result.body);
  return true;
}

namespace {
bool ParseFailed(const char* what, std::string* error) {
  *error = std::string(what) + " response does not parse";
  return false;
}
}  // namespace

bool GroupClient::FindCoordinator(const std::string& key, int8_t key_type, FindCoordinatorResponse* out,
                                  std::string* error) {
  Bytes body;
  if (!Exchange(api::kFindCoordinator, 2, FindCoordinatorV2Body(key, key_type), &body, error)) return false;
  return ParseFindCoordinatorV2(body, out) || ParseFailed("FindCoordinator v2", error);
}

bool GroupClient::JoinGroup(const JoinGroupRequest& req, JoinGroupResponse* out, std::string* error) {
  Bytes body;
  if (!Exchange(api::kJoinGroup, 5, JoinGroupV5Body(req), &body, error)) return false;
  return ParseJoinGroupV5(body, out) || ParseFailed("JoinGroup v5", error);
}

bool GroupClient::SyncGroup(const std::string& group_id, int32_t generation_id, const std::string& member_id,
                            const std::vector<std::pair<std::string, Bytes>>& assignments,
                            SyncGroupResponse* out, std::string* error) {
  Bytes body;
  if (!Exchange(api::kSyncGroup, 3, SyncGroupV3Body(group_id, generation_id, member_id, assignments), &body,
                error)) {
    return false;
  }
  return ParseSyncGroupV3(body, out) || ParseFailed("SyncGroup v3", error);
}

bool GroupClient::Heartbeat(const std::string& group_id, int32_t generation_id, const std::string& member_id,
                            int16_t* error_code, std::string* error) {
  Bytes body;
  if (!Exchange(api::kHeartbeat, 3, HeartbeatV3Body(group_id, generation_id, member_id), &body, error))
    return false;
  return ParseThrottleAndError(body, error_code) || ParseFailed("Heartbeat v3", error);
}

bool GroupClient::LeaveGroup(const std::string& group_id, const std::string& member_id, int16_t* error_code,
                             std::string* error) {
  Bytes body;
  if (!Exchange(api::kLeaveGroup, 2, LeaveGroupV2Body(group_id, member_id), &body, error)) return false;
  return ParseThrottleAndError(body, error_code) || ParseFailed("LeaveGroup v2", error);
}

bool GroupClient::OffsetCommit(const std::string& group_id, int32_t generation_id,
                               const std::string& member_id, const std::vector<CommitPartition>& partitions,
                               std::vector<PartitionError>* out, std::string* error) {
  Bytes body;
  if (!Exchange(api::kOffsetCommit, 7, OffsetCommitV7Body(group_id, generation_id, member_id, partitions),
                &body, error)) {
    return false;
  }
  return ParseOffsetCommitV7(body, out) || ParseFailed("OffsetCommit v7", error);
}

bool GroupClient::OffsetFetch(const std::string& group_id,
                              const std::optional<std::vector<std::pair<std::string, int32_t>>>& partitions,
                              OffsetFetchResponse* out, std::string* error) {
  Bytes body;
  if (!Exchange(api::kOffsetFetch, 5, OffsetFetchV5Body(group_id, partitions), &body, error)) return false;
  return ParseOffsetFetchV5(body, out) || ParseFailed("OffsetFetch v5", error);
}

}  // namespace oncemq::testing
