#include "protocol/messages/group.h"

namespace oncemq::protocol {

namespace {

// Non-nullable BYTES: a null length fails the decode, as it does for a STRING.
ByteView NonNullBytes(Reader& r) {
  std::optional<ByteView> b = r.NullableBytes();
  if (!b) r.Fail();
  return b.value_or(ByteView{});
}

}  // namespace

// ---- FindCoordinator ----

FindCoordinatorRequest DecodeFindCoordinatorRequest(Reader& r, int16_t version) {
  FindCoordinatorRequest req;
  req.key = r.String();
  if (version >= 1) req.key_type = r.Int8();
  return req;
}

void EncodeFindCoordinatorResponse(Writer& w, const FindCoordinatorResponse& resp, int16_t version) {
  if (version >= 1) w.Int32(0);  // throttle_time_ms
  w.Int16(Code(resp.error));
  if (version >= 1) w.NullableString(resp.error_message);
  w.Int32(resp.node_id);
  w.String(resp.host);
  w.Int32(resp.port);
}

// ---- JoinGroup ----

JoinGroupRequest DecodeJoinGroupRequest(Reader& r, int16_t version) {
  JoinGroupRequest req;
  req.group_id = r.String();
  req.session_timeout_ms = r.Int32();
  req.rebalance_timeout_ms = version >= 1 ? r.Int32() : req.session_timeout_ms;
  req.member_id = r.String();
  if (version >= 5) req.group_instance_id = r.NullableString();
  req.protocol_type = r.String();
  int32_t protocols = r.NonNullArrayCount(6);  // name STRING + metadata BYTES
  for (int32_t i = 0; i < protocols && r.ok(); ++i) {
    JoinGroupProtocol& p = req.protocols.emplace_back();
    p.name = r.String();
    p.metadata = NonNullBytes(r);
  }
  return req;
}

void EncodeJoinGroupResponse(Writer& w, const JoinGroupResponse& resp, int16_t version) {
  if (version >= 2) w.Int32(0);  // throttle_time_ms
  w.Int16(Code(resp.error));
  w.Int32(resp.generation_id);
  w.String(resp.protocol_name);
  w.String(resp.leader);
  w.String(resp.member_id);
  w.ArrayCount(static_cast<int32_t>(resp.members.size()));
  for (const auto& m : resp.members) {
    w.String(m.member_id);
    if (version >= 5) w.NullableString(m.group_instance_id);
    w.NullableBytes(m.metadata);
  }
}

// ---- SyncGroup ----

SyncGroupRequest DecodeSyncGroupRequest(Reader& r, int16_t version) {
  SyncGroupRequest req;
  req.group_id = r.String();
  req.generation_id = r.Int32();
  req.member_id = r.String();
  if (version >= 3) req.group_instance_id = r.NullableString();
  int32_t assignments = r.NonNullArrayCount(6);  // member_id STRING + assignment BYTES
  for (int32_t i = 0; i < assignments && r.ok(); ++i) {
    SyncGroupAssignment& a = req.assignments.emplace_back();
    a.member_id = r.String();
    a.assignment = NonNullBytes(r);
  }
  return req;
}

void EncodeSyncGroupResponse(Writer& w, const SyncGroupResponse& resp, int16_t version) {
  if (version >= 1) w.Int32(0);  // throttle_time_ms
  w.Int16(Code(resp.error));
  w.NullableBytes(resp.assignment);
}

// ---- Heartbeat ----

HeartbeatRequest DecodeHeartbeatRequest(Reader& r, int16_t version) {
  HeartbeatRequest req;
  req.group_id = r.String();
  req.generation_id = r.Int32();
  req.member_id = r.String();
  if (version >= 3) req.group_instance_id = r.NullableString();
  return req;
}

void EncodeHeartbeatResponse(Writer& w, const ErrorOnlyResponse& resp, int16_t version) {
  if (version >= 1) w.Int32(0);  // throttle_time_ms
  w.Int16(Code(resp.error));
}

// ---- LeaveGroup ----

LeaveGroupRequest DecodeLeaveGroupRequest(Reader& r, int16_t /*version*/) {
  LeaveGroupRequest req;
  req.group_id = r.String();
  req.member_id = r.String();
  return req;
}

void EncodeLeaveGroupResponse(Writer& w, const ErrorOnlyResponse& resp, int16_t version) {
  if (version >= 1) w.Int32(0);  // throttle_time_ms
  w.Int16(Code(resp.error));
}

// ---- DescribeGroups ----

DescribeGroupsRequest DecodeDescribeGroupsRequest(Reader& r, int16_t version) {
  DescribeGroupsRequest req;
  int32_t groups = r.NonNullArrayCount(2);
  for (int32_t i = 0; i < groups && r.ok(); ++i) req.groups.push_back(r.String());
  if (version >= 3) req.include_authorized_operations = r.Bool();
  return req;
}

void EncodeDescribeGroupsResponse(Writer& w, const DescribeGroupsResponse& resp, int16_t version) {
  if (version >= 1) w.Int32(0);  // throttle_time_ms
  w.ArrayCount(static_cast<int32_t>(resp.groups.size()));
  for (const auto& g : resp.groups) {
    w.Int16(Code(g.error));
    w.String(g.group_id);
    w.String(g.state);
    w.String(g.protocol_type);
    w.String(g.protocol_data);
    w.ArrayCount(static_cast<int32_t>(g.members.size()));
    for (const auto& m : g.members) {
      w.String(m.member_id);
      if (version >= 4) w.NullableString(m.group_instance_id);
      w.String(m.client_id);
      w.String(m.client_host);
      w.NullableBytes(m.metadata);
      w.NullableBytes(m.assignment);
    }
    if (version >= 3) w.Int32(g.authorized_operations);
  }
}

// ---- ListGroups ----

void EncodeListGroupsResponse(Writer& w, const ListGroupsResponse& resp, int16_t version) {
  if (version >= 1) w.Int32(0);  // throttle_time_ms
  w.Int16(Code(resp.error));
  w.ArrayCount(static_cast<int32_t>(resp.groups.size()));
  for (const auto& g : resp.groups) {
    w.String(g.group_id);
    w.String(g.protocol_type);
  }
}

// ---- DeleteGroups ----

DeleteGroupsRequest DecodeDeleteGroupsRequest(Reader& r, int16_t /*version*/) {
  DeleteGroupsRequest req;
  int32_t groups = r.NonNullArrayCount(2);
  for (int32_t i = 0; i < groups && r.ok(); ++i) req.groups.push_back(r.String());
  return req;
}

void EncodeDeleteGroupsResponse(Writer& w, const DeleteGroupsResponse& resp, int16_t /*version*/) {
  w.Int32(0);  // throttle_time_ms, in every version
  w.ArrayCount(static_cast<int32_t>(resp.results.size()));
  for (const auto& res : resp.results) {
    w.String(res.group_id);
    w.Int16(Code(res.error));
  }
}

}  // namespace oncemq::protocol
