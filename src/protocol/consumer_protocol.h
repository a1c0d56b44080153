// The consumer embedded protocol (kafka-protocol.md §4.17): the bytes a consumer group's members put in
// SyncGroup as their assignment. The broker passes them through untouched; tools decode them to show
// which partitions each member holds.
//
// Assignment = version INT16,
//              assigned_partitions ARRAY[topic STRING, partitions ARRAY[INT32]],
//              user_data NULLABLE BYTES
// Later versions only append fields, so bytes after user_data are ignored. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "common/types.h"

namespace oncemq::protocol {

struct AssignedTopic {
  std::string topic;
  std::vector<PartitionId> partitions;  // in the order the assignor wrote them

  bool operator==(const AssignedTopic&) const = default;
};

struct ConsumerAssignment {
  int16_t version = 0;
  std::vector<AssignedTopic> topics;
  std::optional<Bytes> user_data;  // nullopt for a null user_data

  bool operator==(const ConsumerAssignment&) const = default;
};

// Decodes an assignment. Zero bytes are an empty assignment: a member between a JoinGroup and its
// SyncGroup, or one the leader left out, holds nothing. Corruption when the bytes are truncated,
// hold a negative count or length, or a negative version.
Result<ConsumerAssignment> DecodeConsumerAssignment(ByteView bytes);

}  // namespace oncemq::protocol
