// Kafka API keys and error codes the broker speaks (kafka-protocol.md §3 and §8).
#pragma once

#include <cstdint>

namespace oncemq::protocol {

enum class ApiKey : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kOffsetCommit = 8,
  kOffsetFetch = 9,
  kFindCoordinator = 10,
  kJoinGroup = 11,
  kHeartbeat = 12,
  kLeaveGroup = 13,
  kSyncGroup = 14,
  kDescribeGroups = 15,
  kListGroups = 16,
  kApiVersions = 18,
  kCreateTopics = 19,
  kDeleteTopics = 20,
  kInitProducerId = 22,
  kDescribeConfigs = 32,
  kDeleteGroups = 42,
};

enum class ErrorCode : int16_t {
  kNone = 0,
  kUnknownServerError = -1,
  kOffsetOutOfRange = 1,
  kCorruptMessage = 2,
  kUnknownTopicOrPartition = 3,
  kLeaderNotAvailable = 5,
  kRequestTimedOut = 7,
  kMessageTooLarge = 10,
  kOffsetMetadataTooLarge = 12,
  kCoordinatorLoadInProgress = 14,
  kInvalidTopic = 17,
  kRecordListTooLarge = 18,
  kCoordinatorNotAvailable = 15,
  kNotCoordinator = 16,
  kInvalidRequiredAcks = 21,
  kIllegalGeneration = 22,
  kInconsistentGroupProtocol = 23,
  kInvalidGroupId = 24,
  kUnknownMemberId = 25,
  kInvalidSessionTimeout = 26,
  kRebalanceInProgress = 27,
  kInvalidCommitOffsetSize = 28,
  kUnsupportedVersion = 35,
  kTopicAlreadyExists = 36,
  kInvalidPartitions = 37,
  kInvalidReplicationFactor = 38,
  kInvalidConfig = 40,
  kInvalidRequest = 42,
  kOutOfOrderSequenceNumber = 45,
  kInvalidProducerEpoch = 47,
  kInvalidTxnState = 48,
  kTransactionalIdAuthorizationFailed = 53,
  kKafkaStorageError = 56,
  kNonEmptyGroup = 68,
  kGroupIdNotFound = 69,
  kUnsupportedCompressionType = 76,
  kMemberIdRequired = 79,
  kInvalidRecord = 87,
};

inline int16_t Code(ErrorCode e) {
  return static_cast<int16_t>(e);
}
const char* ErrorName(ErrorCode e);

}  // namespace oncemq::protocol
