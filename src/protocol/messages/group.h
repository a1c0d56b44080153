// Consumer-group membership APIs (kafka-protocol.md §4.7–§4.11, §7), all non-flexible:
// FindCoordinator (key 10) v0–v2, JoinGroup (11) v0–v5, Heartbeat (12) v0–v3, LeaveGroup (13) v0–v2,
// SyncGroup (14) v0–v3, DescribeGroups (15) v0–v4, ListGroups (16) v0–v2, DeleteGroups (42) v0–v1.
//
// Requests are decoded as views into the request frame, which the caller keeps alive; a decode failure
// leaves the Reader not ok. Responses are encoded from views the caller keeps alive until the encode
// returns. The member metadata and assignment bytes are the clients' opaque consumer-protocol blobs.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "protocol/api.h"
#include "protocol/reader.h"
#include "protocol/writer.h"

namespace oncemq::protocol {

// ---- FindCoordinator (key 10) ----
constexpr int8_t kCoordinatorKeyGroup = 0;
constexpr int8_t kCoordinatorKeyTransaction = 1;

struct FindCoordinatorRequest {
  std::string_view key;
  int8_t key_type = kCoordinatorKeyGroup;  // v1+
};
FindCoordinatorRequest DecodeFindCoordinatorRequest(Reader& r, int16_t version);

struct FindCoordinatorResponse {
  ErrorCode error = ErrorCode::kNone;
  std::optional<std::string_view> error_message;  // v1+
  int32_t node_id = -1;
  std::string_view host;
  int32_t port = -1;
};
void EncodeFindCoordinatorResponse(Writer& w, const FindCoordinatorResponse& resp, int16_t version);

// ---- JoinGroup (key 11) ----
struct JoinGroupProtocol {
  std::string_view name;
  ByteView metadata;
};

struct JoinGroupRequest {
  std::string_view group_id;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;  // v1+; the decoder sets it to session_timeout_ms for v0
  std::string_view member_id;
  std::optional<std::string_view> group_instance_id;  // v5
  std::string_view protocol_type;
  std::vector<JoinGroupProtocol> protocols;
};
JoinGroupRequest DecodeJoinGroupRequest(Reader& r, int16_t version);

struct JoinGroupMember {
  std::string_view member_id;
  std::optional<std::string_view> group_instance_id;  // v5
  ByteView metadata;
};

struct JoinGroupResponse {
  ErrorCode error = ErrorCode::kNone;
  int32_t generation_id = -1;
  std::string_view protocol_name;  // never null in v0–v5: "" on errors
  std::string_view leader;
  std::string_view member_id;
  std::vector<JoinGroupMember> members;  // the leader's response only
};
void EncodeJoinGroupResponse(Writer& w, const JoinGroupResponse& resp, int16_t version);

// ---- SyncGroup (key 14) ----
struct SyncGroupAssignment {
  std::string_view member_id;
  ByteView assignment;
};

struct SyncGroupRequest {
  std::string_view group_id;
  int32_t generation_id = -1;
  std::string_view member_id;
  std::optional<std::string_view> group_instance_id;  // v3
  std::vector<SyncGroupAssignment> assignments;       // the leader's request only
};
SyncGroupRequest DecodeSyncGroupRequest(Reader& r, int16_t version);

struct SyncGroupResponse {
  ErrorCode error = ErrorCode::kNone;
  ByteView assignment;
};
void EncodeSyncGroupResponse(Writer& w, const SyncGroupResponse& resp, int16_t version);

// ---- Heartbeat (key 12) ----
struct HeartbeatRequest {
  std::string_view group_id;
  int32_t generation_id = -1;
  std::string_view member_id;
  std::optional<std::string_view> group_instance_id;  // v3
};
HeartbeatRequest DecodeHeartbeatRequest(Reader& r, int16_t version);

// Heartbeat, LeaveGroup v0–v2: throttle_time_ms (v1+) and an error code.
struct ErrorOnlyResponse {
  ErrorCode error = ErrorCode::kNone;
};
void EncodeHeartbeatResponse(Writer& w, const ErrorOnlyResponse& resp, int16_t version);

// ---- LeaveGroup (key 13) ----
struct LeaveGroupRequest {
  std::string_view group_id;
  std::string_view member_id;
};
LeaveGroupRequest DecodeLeaveGroupRequest(Reader& r, int16_t version);
void EncodeLeaveGroupResponse(Writer& w, const ErrorOnlyResponse& resp, int16_t version);

// ---- DescribeGroups (key 15) ----
struct DescribeGroupsRequest {
  std::vector<std::string_view> groups;
  bool include_authorized_operations = false;  // v3+
};
DescribeGroupsRequest DecodeDescribeGroupsRequest(Reader& r, int16_t version);

struct DescribedMember {
  std::string_view member_id;
  std::optional<std::string_view> group_instance_id;  // v4
  std::string_view client_id;
  std::string_view client_host;
  ByteView metadata;
  ByteView assignment;
};

struct DescribedGroup {
  ErrorCode error = ErrorCode::kNone;
  std::string_view group_id;
  std::string_view state;  // "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"
  std::string_view protocol_type;
  std::string_view protocol_data;  // the selected protocol's name
  std::vector<DescribedMember> members;
  int32_t authorized_operations = INT32_MIN;  // v3+; INT32_MIN = not requested
};

struct DescribeGroupsResponse {
  std::vector<DescribedGroup> groups;
};
void EncodeDescribeGroupsResponse(Writer& w, const DescribeGroupsResponse& resp, int16_t version);

// ---- ListGroups (key 16) ----
// The v0–v2 request has no fields; there is nothing to decode.
struct ListedGroup {
  std::string_view group_id;
  std::string_view protocol_type;
};

struct ListGroupsResponse {
  ErrorCode error = ErrorCode::kNone;
  std::vector<ListedGroup> groups;
};
void EncodeListGroupsResponse(Writer& w, const ListGroupsResponse& resp, int16_t version);

// ---- DeleteGroups (key 42) ----
struct DeleteGroupsRequest {
  std::vector<std::string_view> groups;
};
DeleteGroupsRequest DecodeDeleteGroupsRequest(Reader& r, int16_t version);

struct DeletedGroupResult {
  std::string_view group_id;
  ErrorCode error = ErrorCode::kNone;
};

struct DeleteGroupsResponse {
  std::vector<DeletedGroupResult> results;
};
void EncodeDeleteGroupsResponse(Writer& w, const DeleteGroupsResponse& resp, int16_t version);

}  // namespace oncemq::protocol
