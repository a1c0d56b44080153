// DoneTracker: per partition, which consumed offsets are done, and so how far the group may commit.
//
// The commit point of a partition is the offset after the highest one below which every tracked offset is
// done — the one offset a consumer may commit without ever skipping a message still in doubt. Offsets may be
// marked done in any order; they must be tracked in increasing order per partition (the order a partition
// is consumed in). Pure bookkeeping: no Kafka, no clock. Thread safety: none; the consumer loop owns it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace oncemq::client {

struct PartitionId {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const PartitionId&) const = default;
};

class DoneTracker {
 public:
  // REQUIRES: offset is larger than every offset tracked before for this partition.
  void Track(const PartitionId& partition, int64_t offset);
  // Ignored for an offset that is not tracked (its partition was forgotten since).
  void MarkDone(const PartitionId& partition, int64_t offset);
  // Drops what is known of a partition (revoked from this consumer).
  void Forget(const PartitionId& partition);

  // The offset to commit, if any offset of the partition is done below every pending one.
  std::optional<int64_t> CommitPoint(const PartitionId& partition) const;
  // The partitions whose commit point moved since the last call, with it; remembers them as committed.
  std::vector<std::pair<PartitionId, int64_t>> TakeAdvanced();
  // Makes TakeAdvanced return the partition's commit point again (its commit failed).
  void Untake(const PartitionId& partition);
  // Every partition's commit point, advanced or not (for the final, synchronous commit).
  std::vector<std::pair<PartitionId, int64_t>> AllCommitPoints() const;
  // Offsets tracked and not yet done, over all partitions.
  size_t PendingCount() const;

 private:
  struct State {
    std::map<int64_t, bool> pending;  // tracked offsets at or above the commit point → done?
    std::optional<int64_t> commit_point;
    std::optional<int64_t> taken;  // the commit point last returned by TakeAdvanced
  };
  std::map<PartitionId, State> partitions_;
};

}  // namespace oncemq::client
