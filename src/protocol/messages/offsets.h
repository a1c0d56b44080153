// Committed offsets: OffsetCommit (key 8) v0–v7 and OffsetFetch (key 9) v0–v5 (kafka-protocol.md §4.12,
// §4.13, §7.6), all non-flexible. Requests are views into the request frame; responses are encoded from
// views the caller keeps alive until the encode returns.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "protocol/api.h"
#include "protocol/reader.h"
#include "protocol/writer.h"

namespace oncemq::protocol {

// ---- OffsetCommit (key 8) ----
struct OffsetCommitPartition {
  int32_t partition = 0;
  int64_t committed_offset = -1;
  int32_t committed_leader_epoch = -1;  // v6+
  int64_t commit_timestamp = -1;        // v1 only
  std::optional<std::string_view> metadata;
};

struct OffsetCommitTopic {
  std::string_view name;
  std::vector<OffsetCommitPartition> partitions;
};

struct OffsetCommitRequest {
  std::string_view group_id;
  int32_t generation_id = -1;                         // v1+; -1 = a commit from outside any generation
  std::string_view member_id;                         // v1+
  std::optional<std::string_view> group_instance_id;  // v7
  int64_t retention_time_ms = -1;                     // v2–v4; -1 = the broker's retention
  std::vector<OffsetCommitTopic> topics;
};
OffsetCommitRequest DecodeOffsetCommitRequest(Reader& r, int16_t version);

struct OffsetCommitPartitionResponse {
  int32_t partition = 0;
  ErrorCode error = ErrorCode::kNone;
};

struct OffsetCommitTopicResponse {
  std::string_view name;
  std::vector<OffsetCommitPartitionResponse> partitions;
};

struct OffsetCommitResponse {
  std::vector<OffsetCommitTopicResponse> topics;
};
void EncodeOffsetCommitResponse(Writer& w, const OffsetCommitResponse& resp, int16_t version);

// ---- OffsetFetch (key 9) ----
struct OffsetFetchTopic {
  std::string_view name;
  std::vector<int32_t> partitions;
};

struct OffsetFetchRequest {
  std::string_view group_id;
  // nullopt (v2+ only: a null array) = every partition the group has committed.
  std::optional<std::vector<OffsetFetchTopic>> topics;
};
OffsetFetchRequest DecodeOffsetFetchRequest(Reader& r, int16_t version);

struct OffsetFetchPartitionResponse {
  int32_t partition = 0;
  int64_t committed_offset = -1;        // -1 = nothing committed
  int32_t committed_leader_epoch = -1;  // v5
  std::optional<std::string_view> metadata;
  ErrorCode error = ErrorCode::kNone;
};

struct OffsetFetchTopicResponse {
  std::string_view name;
  std::vector<OffsetFetchPartitionResponse> partitions;
};

struct OffsetFetchResponse {
  std::vector<OffsetFetchTopicResponse> topics;
  ErrorCode error = ErrorCode::kNone;  // v2+, written after the topics
};
void EncodeOffsetFetchResponse(Writer& w, const OffsetFetchResponse& resp, int16_t version);

}  // namespace oncemq::protocol
