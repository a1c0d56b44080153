// Test-side Kafka request builders and response parsers for the versions the bad-input tests speak:
// ApiVersions v0/v3, Metadata v4, Produce v7, Fetch v11 (layouts in kafka-protocol.md §2 and §4), plus
// the framing, API keys, error codes and topic-array helpers that group_wire.h builds on.
// Independent of the broker's codec on purpose. Parsers return false when the bytes do not match the
// layout exactly (including trailing bytes), so a wrong response shape fails the test.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "protocol/reader.h"
#include "protocol/writer.h"
#include "support/raw_client.h"

namespace oncemq::testing {

namespace api {
constexpr int16_t kProduce = 0;
constexpr int16_t kFetch = 1;
constexpr int16_t kListOffsets = 2;
constexpr int16_t kMetadata = 3;
constexpr int16_t kOffsetCommit = 8;
constexpr int16_t kOffsetFetch = 9;
constexpr int16_t kFindCoordinator = 10;
constexpr int16_t kJoinGroup = 11;
constexpr int16_t kHeartbeat = 12;
constexpr int16_t kLeaveGroup = 13;
constexpr int16_t kSyncGroup = 14;
constexpr int16_t kApiVersions = 18;
}  // namespace api

namespace kerr {
constexpr int16_t kNone = 0;
constexpr int16_t kOffsetOutOfRange = 1;
constexpr int16_t kCorruptMessage = 2;
constexpr int16_t kUnknownTopicOrPartition = 3;
constexpr int16_t kMessageTooLarge = 10;
constexpr int16_t kCoordinatorNotAvailable = 15;
constexpr int16_t kInvalidRequiredAcks = 21;
constexpr int16_t kIllegalGeneration = 22;
constexpr int16_t kUnknownMemberId = 25;
constexpr int16_t kInvalidSessionTimeout = 26;
constexpr int16_t kRebalanceInProgress = 27;
constexpr int16_t kUnsupportedVersion = 35;
constexpr int16_t kInvalidRequest = 42;
constexpr int16_t kOutOfOrderSequenceNumber = 45;
constexpr int16_t kMemberIdRequired = 79;
constexpr int16_t kInvalidRecord = 87;
}  // namespace kerr

// --- topic-keyed arrays, the shape of most partition-level requests and responses ---
// Writes ARRAY(topic STRING, ARRAY(partition)) from `entries`, one topic element per run of consecutive
// entries with the same topic_of(entry); write_partition(entry) writes each partition element.
template <typename T, typename TopicOf, typename WritePartition>
void WriteTopicArray(protocol::Writer& w, const std::vector<T>& entries, TopicOf topic_of,
                     WritePartition write_partition) {
  std::vector<std::pair<std::string_view, std::vector<const T*>>> topics;
  for (const T& entry : entries) {
    if (topics.empty() || topics.back().first != topic_of(entry)) topics.push_back({topic_of(entry), {}});
    topics.back().second.push_back(&entry);
  }
  w.ArrayCount(static_cast<int32_t>(topics.size()));
  for (const auto& [name, parts] : topics) {
    w.String(name);
    w.ArrayCount(static_cast<int32_t>(parts.size()));
    for (const T* part : parts) write_partition(*part);
  }
}

// Reads ARRAY(topic STRING, ARRAY(partition)), calling read_partition(topic) once per partition element
// (each at least min_partition_size bytes). False when the topic array is null; a short read shows in r.
template <typename ReadPartition>
bool ReadTopicArray(protocol::Reader& r, size_t min_partition_size, ReadPartition read_partition) {
  int32_t nt = r.ArrayCount(6);
  for (int32_t i = 0; i < nt && r.ok(); ++i) {
    std::string topic(r.String());
    int32_t np = r.ArrayCount(min_partition_size);
    for (int32_t j = 0; j < np && r.ok(); ++j) read_partition(topic);
  }
  return nt >= 0;
}

// A request frame payload (no size prefix): request header v1 (v2 when `flexible_header`) + body.
Bytes RequestPayload(int16_t api_key, int16_t api_version, int32_t correlation_id, ByteView body,
                     bool flexible_header = false, std::optional<std::string> client_id = "oncemq-itest");

// --- request bodies ---
Bytes ApiVersionsV3Body(const std::string& software_name = "oncemq-itest",
                        const std::string& software_version = "1.0");
// topics = nullopt → null array (all topics).
Bytes MetadataV4Body(const std::optional<std::vector<std::string>>& topics, bool allow_auto_create);
struct ProducePartition {
  std::string topic;
  int32_t partition = 0;
  std::optional<Bytes> records;  // nullopt = null records
};
Bytes ProduceV7Body(int16_t acks, int32_t timeout_ms, const std::vector<ProducePartition>& partitions);
Bytes FetchV11Body(const std::string& topic, int32_t partition, int64_t fetch_offset, int32_t max_wait_ms = 0,
                   int32_t min_bytes = 0, int32_t max_bytes = 8 << 20);

// --- responses (bodies after the response header) ---
struct ApiVersionRange {
  int16_t api_key, min_version, max_version;
};
struct ApiVersionsResponse {
  int16_t error_code = 0;
  std::vector<ApiVersionRange> keys;
  const ApiVersionRange* Find(int16_t key) const;
};
bool ParseApiVersionsV0(ByteView body, ApiVersionsResponse* out);
bool ParseApiVersionsV3(ByteView body, ApiVersionsResponse* out);

struct MetadataResponse {
  struct Broker {
    int32_t node_id;
    std::string host;
    int32_t port;
  };
  struct Partition {
    int16_t error_code;
    int32_t index;
    int32_t leader;
  };
  struct Topic {
    int16_t error_code;
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Broker> brokers;
  int32_t controller_id = -1;
  std::vector<Topic> topics;
  const Topic* Find(const std::string& name) const;
};
bool ParseMetadataV4(ByteView body, MetadataResponse* out);

struct ProducePartitionResponse {
  std::string topic;
  int32_t partition = 0;
  int16_t error_code = 0;
  int64_t base_offset = -1;
  int64_t log_append_time = -1;
  int64_t log_start_offset = -1;
};
bool ParseProduceV7(ByteView body, std::vector<ProducePartitionResponse>* out);

struct FetchPartitionResponse {
  std::string topic;
  int32_t partition = 0;
  int16_t error_code = 0;
  int64_t high_watermark = -1;
  int64_t last_stable_offset = -1;
  int64_t log_start_offset = -1;
  Bytes records;
};
struct FetchResponse {
  int16_t error_code = 0;
  std::vector<FetchPartitionResponse> partitions;
};
bool ParseFetchV11(ByteView body, FetchResponse* out);

// --- one request, one response ---
struct CallResult {
  ReadOutcome outcome = ReadOutcome::kError;
  bool sent = false;
  Bytes body;  // response body after the v0 response header (correlation id)
  std::string Describe() const;
};

// Sends one request and reads one response frame, checking its correlation id.
// REQUIRES: the response uses header v0 (true for every version the tests send, ApiVersions included).
CallResult Call(RawConnection& conn, int16_t api_key, int16_t api_version, ByteView body,
                milliseconds timeout = milliseconds(10000), bool flexible_header = false);

// Opens a fresh connection and checks the broker still serves well-behaved clients: ApiVersions v0
// answers 0 with Produce/Fetch/Metadata/ApiVersions listed, and Metadata v4 (no topics) lists a broker.
// Returns "" when served, else what went wrong.
std::string CheckBrokerServes(const std::string& host, uint16_t port);

}  // namespace oncemq::testing
