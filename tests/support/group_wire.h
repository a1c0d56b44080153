// Test-side builders and parsers for the consumer-group APIs at the versions librdkafka 2.0.2 speaks:
// FindCoordinator v2, JoinGroup v5, SyncGroup v3, Heartbeat v3, LeaveGroup v2, OffsetCommit v7 and
// OffsetFetch v5 (layouts in kafka-protocol.md §4.7–4.13, embedded consumer protocol in §4.17); their
// API keys and error codes sit in kafka_wire.h with the others. Like kafka_wire.h these are written
// from the spec, independent of the broker's codec, and the parsers return false unless the bytes match
// the layout exactly (trailing bytes included).
// `GroupClient` wraps one RawConnection and makes each request one call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "support/kafka_wire.h"
#include "support/raw_client.h"

namespace oncemq::testing {

// --- the embedded consumer protocol (§4.17), version 0 ---
Bytes ConsumerSubscriptionV0(const std::vector<std::string>& topics);
Bytes ConsumerAssignmentV0(const std::string& topic, const std::vector<int32_t>& partitions);

// --- request bodies ---
Bytes FindCoordinatorV2Body(const std::string& key, int8_t key_type);
struct JoinGroupRequest {
  std::string group_id;
  int32_t session_timeout_ms = 10000;
  int32_t rebalance_timeout_ms = 10000;
  std::string member_id;
  std::string protocol_type = "consumer";
  std::vector<std::pair<std::string, Bytes>> protocols;  // (assignor name, metadata)
};
Bytes JoinGroupV5Body(const JoinGroupRequest& req);
Bytes SyncGroupV3Body(const std::string& group_id, int32_t generation_id, const std::string& member_id,
                      const std::vector<std::pair<std::string, Bytes>>& assignments);
Bytes HeartbeatV3Body(const std::string& group_id, int32_t generation_id, const std::string& member_id);
Bytes LeaveGroupV2Body(const std::string& group_id, const std::string& member_id);
struct CommitPartition {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::optional<std::string> metadata = "";
};
Bytes OffsetCommitV7Body(const std::string& group_id, int32_t generation_id, const std::string& member_id,
                         const std::vector<CommitPartition>& partitions);
// partitions = nullopt → null topics (every partition the group has committed).
Bytes OffsetFetchV5Body(const std::string& group_id,
                        const std::optional<std::vector<std::pair<std::string, int32_t>>>& partitions);

// --- responses (bodies after the response header) ---
struct FindCoordinatorResponse {
  int16_t error_code = 0;
  std::optional<std::string> error_message;
  int32_t node_id = -1;
  std::string host;
  int32_t port = -1;
};
bool ParseFindCoordinatorV2(ByteView body, FindCoordinatorResponse* out);

struct JoinGroupResponse {
  int16_t error_code = 0;
  int32_t generation_id = -1;
  std::string protocol_name;
  std::string leader;
  std::string member_id;
  std::vector<std::pair<std::string, Bytes>> members;  // (member id, metadata); leader only
};
bool ParseJoinGroupV5(ByteView body, JoinGroupResponse* out);

struct SyncGroupResponse {
  int16_t error_code = 0;
  Bytes assignment;
};
bool ParseSyncGroupV3(ByteView body, SyncGroupResponse* out);

// Heartbeat v3 and LeaveGroup v2 answer throttle_time_ms + error_code.
bool ParseThrottleAndError(ByteView body, int16_t* error_code);

struct PartitionError {
  std::string topic;
  int32_t partition = 0;
  int16_t error_code = 0;
};
bool ParseOffsetCommitV7(ByteView body, std::vector<PartitionError>* out);

struct FetchedOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = -1;
  std::optional<std::string> metadata;
  int16_t error_code = 0;
};
struct OffsetFetchResponse {
  std::vector<FetchedOffset> partitions;
  int16_t error_code = 0;
  const FetchedOffset* Find(const std::string& topic, int32_t partition) const;
};
bool ParseOffsetFetchV5(ByteView body, OffsetFetchResponse* out);

// One connection speaking the group APIs. Each method sends one request and parses the response; on a
// transport failure or a response that does not parse it returns false and sets *error.
// Thread safety: none.
class GroupClient {
 public:
  explicit GroupClient(std::unique_ptr<RawConnection> conn) : conn_(std::move(conn)) {}

  bool FindCoordinator(const std::string& key, int8_t key_type, FindCoordinatorResponse* out,
                       std::string* error);
  bool JoinGroup(const JoinGroupRequest& req, JoinGroupResponse* out, std::string* error);
  bool SyncGroup(const std::string& group_id, int32_t generation_id, const std::string& member_id,
                 const std::vector<std::pair<std::string, Bytes>>& assignments, SyncGroupResponse* out,
                 std::string* error);
  bool Heartbeat(const std::string& group_id, int32_t generation_id, const std::string& member_id,
                 int16_t* error_code, std::string* error);
  bool LeaveGroup(const std::string& group_id, const std::string& member_id, int16_t* error_code,
                  std::string* error);
  bool OffsetCommit(const std::string& group_id, int32_t generation_id, const std::string& member_id,
                    const std::vector<CommitPartition>& partitions, std::vector<PartitionError>* out,
                    std::string* error);
  bool OffsetFetch(const std::string& group_id,
                   const std::optional<std::vector<std::pair<std::string, int32_t>>>& partitions,
                   OffsetFetchResponse* out, std::string* error);

 private:
  // Sends and reads one response; false (with *error) unless a frame came back.
  bool Exchange(int16_t api_key, int16_t version, ByteView body, Bytes* response, std::string* error);

  std::unique_ptr<RawConnection> conn_;
};

}  // namespace oncemq::testing
