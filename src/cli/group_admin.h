// GroupAdmin: consumer-group administration over the Kafka wire protocol — what kafka-consumer-groups
// does: list and describe groups (ListGroups, DescribeGroups), read committed offsets (OffsetFetch)
// and log ends (ListOffsets), commit offsets from outside the group (OffsetCommit with generation -1),
// and delete groups (DeleteGroups).
//
// Every call is bounded by the timeout given to Connect(). Errors name the group or partition and
// the broker's error name. Thread safety: one GroupAdmin is used by one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/kafka_admin.h"
#include "common/status.h"
#include "common/types.h"
#include "protocol/consumer_protocol.h"

namespace oncemq::cli {

class RdKafkaClient;

struct GroupSummary {
  std::string group_id;
  std::string state;  // as the broker names it: Empty, PreparingRebalance, CompletingRebalance, Stable
  std::string protocol_type;
  int member_count = 0;
};

struct GroupMember {
  std::string member_id;
  std::string client_id;
  std::string host;
  std::vector<protocol::AssignedTopic> assignment;
  std::string assignment_error;  // set when the group speaks the consumer protocol but the bytes are bad
};

struct GroupDescription {
  std::string group_id;
  std::string state;
  std::string protocol_type;
  std::string protocol;  // the chosen assignor, e.g. "range"; empty while none is chosen
  std::vector<GroupMember> members;
};

struct TopicPartition {
  std::string topic;
  PartitionId partition;
  auto operator<=>(const TopicPartition&) const = default;
};

struct Watermarks {
  Offset low;   // the first offset still stored
  Offset high;  // the log end: the offset the next message will get
};

class GroupAdmin {
 public:
  static Result<std::unique_ptr<GroupAdmin>> Connect(const AdminConnectOptions& options);
  ~GroupAdmin();
  GroupAdmin(const GroupAdmin&) = delete;
  GroupAdmin& operator=(const GroupAdmin&) = delete;

  // Every group the broker knows, by members or by committed offsets; sorted by id.
  Result<std::vector<GroupSummary>> ListGroups();
  // NotFound when the broker does not know the group.
  Result<GroupDescription> DescribeGroup(const std::string& group_id);
  // Every partition of an existing topic the group has a committed offset for (an unknown group has
  // none). Offsets of deleted topics are not shown.
  Result<std::map<TopicPartition, Offset>> FetchCommittedOffsets(const std::string& group_id);
  // NotFound for an unknown topic or partition.
  Result<Watermarks> FetchWatermarks(const TopicPartition& partition);
  // The topic's partition ids, sorted; NotFound when the topic does not exist.
  Result<std::vector<PartitionId>> TopicPartitions(const std::string& topic);
  // Commits as a client outside group management (generation -1), which the broker accepts only while
  // the group has no members; a live group refuses with UNKNOWN_MEMBER_ID (an Unavailable status).
  // Fails on the first partition the broker refused.
  Status CommitOffsets(const std::string& group_id, const std::map<TopicPartition, Offset>& offsets);
  // NotFound for an unknown group; NON_EMPTY_GROUP (an Unavailable status) while it has members.
  Status DeleteGroup(const std::string& group_id);

 private:
  explicit GroupAdmin(std::unique_ptr<RdKafkaClient> client);
  std::unique_ptr<RdKafkaClient> client_;
};

}  // namespace oncemq::cli
