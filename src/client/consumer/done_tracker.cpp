#include "client/consumer/done_tracker.h"

namespace oncemq::client {

void DoneTracker::Track(const PartitionId& partition, int64_t offset) {
  partitions_[partition].pending.emplace(offset, false);
}

void DoneTracker::MarkDone(const PartitionId& partition, int64_t offset) {
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return;
  State& state = it->second;
  auto entry = state.pending.find(offset);
  if (entry == state.pending.end()) return;
  entry->second = true;
  // Everything done at the front moves the commit point past it.
  while (!state.pending.empty() && state.pending.begin()->second) {
    state.commit_point = state.pending.begin()->first + 1;
    state.pending.erase(state.pending.begin());
  }
}

void DoneTracker::Forget(const PartitionId& partition) {
  partitions_.erase(partition);
}

std::optional<int64_t> DoneTracker::CommitPoint(const PartitionId& partition) const {
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return std::nullopt;
  return it->second.commit_point;
}

std::vector<std::pair<PartitionId, int64_t>> DoneTracker::TakeAdvanced() {
  std::vector<std::pair<PartitionId, int64_t>> advanced;
  for (auto& [partition, state] : partitions_) {
    if (state.commit_point && state.commit_point != state.taken) {
      advanced.emplace_back(partition, *state.commit_point);
      state.taken = state.commit_point;
    }
  }
  return advanced;
}

void DoneTracker::Untake(const PartitionId& partition) {
  auto it = partitions_.find(partition);
  if (it != partitions_.end()) it->second.taken.reset();
}

std::vector<std::pair<PartitionId, int64_t>> DoneTracker::AllCommitPoints() const {
  std::vector<std::pair<PartitionId, int64_t>> points;
  for (const auto& [partition, state] : partitions_) {
    if (state.commit_point) points.emplace_back(partition, *state.commit_point);
  }
  return points;
}

size_t DoneTracker::PendingCount() const {
  size_t count = 0;
  for (const auto& [partition, state] : partitions_) {
    for (const auto& [offset, done] : state.pending) count += done ? 0 : 1;
  }
  return count;
}

}  // namespace oncemq::client
