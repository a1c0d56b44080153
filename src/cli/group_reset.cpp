#include "cli/group_reset.h"

#include <algorithm>
#include <iostream>
#include <map>

#include "cli/group_admin.h"
#include "cli/text_table.h"

namespace oncemq::cli {
namespace {

constexpr int kExitFailure = 1;

int Fail(const Status& status) {
  std::cerr << "oncemq group reset-offsets: error: " << status.message() << "\n";
  return kExitFailure;
}

Status CheckOneTarget(const ResetArguments& args) {
  int targets = (args.to_earliest ? 1 : 0) + (args.to_latest ? 1 : 0) + (args.to_offset ? 1 : 0);
  if (targets != 1)
    return Status::InvalidArgument("give exactly one of --to-earliest, --to-latest, --to-offset N");
  if (args.to_offset && *args.to_offset < 0)
    return Status::InvalidArgument("--to-offset must not be negative");
  return Status::Ok();
}

// Unavailable while the group has members or is between generations; Ok for an empty or unknown group.
Status CheckInactive(GroupAdmin& admin, const std::string& group_id) {
  auto group = admin.DescribeGroup(group_id);
  if (!group.ok()) return group.status().code() == StatusCode::kNotFound ? Status::Ok() : group.status();
  if (group->members.empty() && group->state == "Empty") return Status::Ok();
  return Status::Unavailable("group " + group_id + " is active (" + std::to_string(group->members.size()) +
                             " members); stop its consumers first");
}

// The requested partitions, each checked against the topic's; all of them when none was requested.
Result<std::vector<PartitionId>> SelectPartitions(GroupAdmin& admin, const ResetArguments& args) {
  auto existing = admin.TopicPartitions(args.topic);
  if (!existing.ok() || args.partitions.empty()) return existing;
  std::vector<PartitionId> selected;
  for (int32_t id : args.partitions) {
    if (!std::binary_search(existing->begin(), existing->end(), PartitionId(id))) {
      return Status::NotFound("topic '" + args.topic + "' has no partition " + std::to_string(id));
    }
    selected.emplace_back(id);
  }
  std::sort(selected.begin(), selected.end());
  selected.erase(std::unique(selected.begin(), selected.end()), selected.end());
  return selected;
}

// The new offset within [low, high]; says so on stderr when --to-offset had to be moved.
Offset TargetOffset(const ResetArguments& args, const TopicPartition& partition, const Watermarks& w) {
  if (args.to_earliest) return w.low;
  if (args.to_latest) return w.high;
  Offset wanted(*args.to_offset);
  Offset target = std::clamp(wanted, w.low, w.high);
  if (target != wanted) {
    std::cerr << "oncemq group reset-offsets: note: " << partition.topic << "/" << partition.partition.value()
              << " holds offsets " << w.low.value() << " to " << w.high.value() << "; using "
              << target.value() << " instead of " << wanted.value() << "\n";
  }
  return target;
}

Result<std::map<TopicPartition, Offset>> ComputeTargets(GroupAdmin& admin, const ResetArguments& args,
                                                        const std::vector<PartitionId>& partitions) {
  std::map<TopicPartition, Offset> targets;
  for (PartitionId id : partitions) {
    TopicPartition partition{.topic = args.topic, .partition = id};
    auto watermarks = admin.FetchWatermarks(partition);
    if (!watermarks.ok()) return watermarks.status();
    targets.emplace(partition, TargetOffset(args, partition, *watermarks));
  }
  return targets;
}

void PrintTargets(const std::string& group_id, const std::map<TopicPartition, Offset>& previous,
                  const std::map<TopicPartition, Offset>& targets) {
  TextTable table({"GROUP", "TOPIC", "PARTITION", "PREVIOUS-OFFSET", "NEW-OFFSET"});
  for (const auto& [partition, offset] : targets) {
    auto old = previous.find(partition);
    table.AddRow({group_id, partition.topic, std::to_string(partition.partition.value()),
                  old != previous.end() ? std::to_string(old->second.value()) : "-",
                  std::to_string(offset.value())});
  }
  table.Print(std::cout);
}

}  // namespace

int RunResetOffsets(const ResetArguments& args) {
  if (Status status = CheckOneTarget(args); !status.ok()) return Fail(status);
  auto admin = GroupAdmin::Connect(args.connect);
  if (!admin.ok()) return Fail(admin.status());
  if (Status status = CheckInactive(**admin, args.group_id); !status.ok()) return Fail(status);
  auto partitions = SelectPartitions(**admin, args);
  if (!partitions.ok()) return Fail(partitions.status());
  auto previous = (*admin)->FetchCommittedOffsets(args.group_id);
  if (!previous.ok()) return Fail(previous.status());
  auto targets = ComputeTargets(**admin, args, *partitions);
  if (!targets.ok()) return Fail(targets.status());

  if (!args.dry_run) {
    // The broker itself refuses (UNKNOWN_MEMBER_ID) if a consumer joined since CheckInactive.
    if (Status status = (*admin)->CommitOffsets(args.group_id, *targets); !status.ok()) return Fail(status);
  }
  PrintTargets(args.group_id, *previous, *targets);
  std::cout << (args.dry_run ? "Dry run: nothing committed.\n" : "Committed the new offsets.\n");
  return 0;
}

}  // namespace oncemq::cli
