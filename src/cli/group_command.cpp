// `oncemq group list|describe|reset-offsets|delete`: consumer-group administration over the Kafka wire
// protocol, shaped like kafka-consumer-groups.sh.
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/group_admin.h"
#include "cli/group_reset.h"
#include "cli/text_table.h"

namespace oncemq::cli {
namespace {

constexpr int kExitFailure = 1;

struct GroupArguments {
  AdminConnectOptions connect;
  std::string group_id;
};

int Fail(std::string_view command, const Status& status) {
  std::cerr << "oncemq group " << command << ": error: " << status.message() << "\n";
  return kExitFailure;
}

int RunList(const GroupArguments& args) {
  auto admin = GroupAdmin::Connect(args.connect);
  if (!admin.ok()) return Fail("list", admin.status());
  auto groups = (*admin)->ListGroups();
  if (!groups.ok()) return Fail("list", groups.status());
  TextTable table({"GROUP", "STATE", "PROTOCOL-TYPE", "MEMBERS"});
  for (const GroupSummary& g : *groups) {
    table.AddRow({g.group_id, g.state, g.protocol_type.empty() ? "-" : g.protocol_type,
                  std::to_string(g.member_count)});
  }
  table.Print(std::cout);
  return 0;
}

// "orders:0,2 audit:1", or "-" for a member that holds nothing.
std::string FormatAssignment(const GroupMember& member) {
  if (!member.assignment_error.empty()) return "(unreadable: " + member.assignment_error + ")";
  std::ostringstream out;
  for (const protocol::AssignedTopic& topic : member.assignment) {
    if (out.tellp() > 0) out << " ";
    out << topic.topic << ":";
    for (size_t i = 0; i < topic.partitions.size(); ++i)
      out << (i > 0 ? "," : "") << topic.partitions[i].value();
  }
  return out.tellp() > 0 ? out.str() : "-";
}

void PrintGroupLine(const GroupDescription& group) {
  TextTable table({"GROUP", "STATE", "PROTOCOL-TYPE", "PROTOCOL", "MEMBERS"});
  table.AddRow({group.group_id, group.state, group.protocol_type.empty() ? "-" : group.protocol_type,
                group.protocol.empty() ? "-" : group.protocol, std::to_string(group.members.size())});
  table.Print(std::cout);
}

void PrintMembers(const GroupDescription& group) {
  if (group.members.empty()) {
    std::cout << "\nGroup " << group.group_id << " has no active members.\n";
    return;
  }
  TextTable table({"MEMBER-ID", "CLIENT-ID", "HOST", "ASSIGNMENT"});
  for (const GroupMember& m : group.members)
    table.AddRow({m.member_id, m.client_id, m.host, FormatAssignment(m)});
  std::cout << "\n";
  table.Print(std::cout);
}

struct PartitionRow {
  std::optional<Offset> committed;
  std::string owner;  // member id holding the partition, or empty
};

// Every partition with a committed offset and every assigned one.
std::map<TopicPartition, PartitionRow> CollectPartitions(const GroupDescription* group,
                                                         const std::map<TopicPartition, Offset>& committed) {
  std::map<TopicPartition, PartitionRow> rows;
  for (const auto& [partition, offset] : committed) rows[partition].committed = offset;
  if (group == nullptr) return rows;
  for (const GroupMember& member : group->members) {
    for (const protocol::AssignedTopic& topic : member.assignment) {
      for (PartitionId id : topic.partitions) rows[TopicPartition{topic.topic, id}].owner = member.member_id;
    }
  }
  return rows;
}

// Prints the offsets table; false when a log end could not be read (that row shows "?").
bool PrintOffsets(GroupAdmin& admin, const std::string& group_id,
                  const std::map<TopicPartition, PartitionRow>& rows) {
  if (rows.empty()) {
    std::cout << "\nGroup " << group_id << " has no committed offsets and no assigned partitions.\n";
    return true;
  }
  bool all_read = true;
  TextTable table({"TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "MEMBER-ID"});
  for (const auto& [partition, row] : rows) {
    auto watermarks = admin.FetchWatermarks(partition);
    if (!watermarks.ok()) {
      std::cerr << "oncemq group describe: error: " << watermarks.status().message() << "\n";
      all_read = false;
    }
    std::string end = watermarks.ok() ? std::to_string(watermarks->high.value()) : "?";
    std::string lag = "-";
    if (row.committed && watermarks.ok())
      lag = std::to_string(watermarks->high.value() - row.committed->value());
    if (row.committed && !watermarks.ok()) lag = "?";
    table.AddRow({partition.topic, std::to_string(partition.partition.value()),
                  row.committed ? std::to_string(row.committed->value()) : "-", end, lag,
                  row.owner.empty() ? "-" : row.owner});
  }
  std::cout << "\n";
  table.Print(std::cout);
  return all_read;
}

int RunDescribe(const GroupArguments& args) {
  auto admin = GroupAdmin::Connect(args.connect);
  if (!admin.ok()) return Fail("describe", admin.status());
  auto group = (*admin)->DescribeGroup(args.group_id);
  if (!group.ok()) return Fail("describe", group.status());
  auto committed = (*admin)->FetchCommittedOffsets(args.group_id);
  if (!committed.ok()) return Fail("describe", committed.status());
  PrintGroupLine(*group);
  PrintMembers(*group);
  return PrintOffsets(**admin, args.group_id, CollectPartitions(&*group, *committed)) ? 0 : kExitFailure;
}

int RunDelete(const GroupArguments& args) {
  auto admin = GroupAdmin::Connect(args.connect);
  if (!admin.ok()) return Fail("delete", admin.status());
  if (Status status = (*admin)->DeleteGroup(args.group_id); !status.ok()) return Fail("delete", status);
  std::cout << "Deleted group " << args.group_id << ".\n";
  return 0;
}

void AddGroupArgument(CLI::App* command, std::string* group_id) {
  command->add_option("group", *group_id, "Consumer group id")->required();
}

void AddListCommand(CLI::App* group, int* exit_code) {
  auto args = std::make_shared<GroupArguments>();
  CLI::App* list =
      group->add_subcommand("list", "List groups with their state, protocol type and member count");
  AddConnectOptions(list, &args->connect);
  list->callback([args, exit_code] { *exit_code = RunList(*args); });
}

void AddDescribeCommand(CLI::App* group, int* exit_code) {
  auto args = std::make_shared<GroupArguments>();
  CLI::App* describe = group->add_subcommand(
      "describe", "Show a group's members, their partitions, committed offsets and lag");
  AddConnectOptions(describe, &args->connect);
  AddGroupArgument(describe, &args->group_id);
  describe->callback([args, exit_code] { *exit_code = RunDescribe(*args); });
}

void AddResetOffsetsCommand(CLI::App* group, int* exit_code) {
  auto args = std::make_shared<ResetArguments>();
  CLI::App* reset = group->add_subcommand(
      "reset-offsets", "Commit new offsets for a group that has no active members (one topic at a time)");
  AddConnectOptions(reset, &args->connect);
  AddGroupArgument(reset, &args->group_id);
  reset->add_option("--topic", args->topic, "Topic whose offsets to reset")->required();
  reset->add_option("--partition", args->partitions, "Partition to reset; repeat for several (default: all)");
  auto* earliest = reset->add_flag("--to-earliest", args->to_earliest, "The first offset still stored");
  auto* latest = reset->add_flag("--to-latest", args->to_latest, "The log end: skip everything stored");
  auto* offset =
      reset->add_option("--to-offset", args->to_offset, "This offset, kept within the stored range");
  earliest->excludes(latest)->excludes(offset);
  latest->excludes(offset);
  reset->add_flag("--dry-run", args->dry_run, "Show the new offsets without committing them");
  reset->callback([args, exit_code] { *exit_code = RunResetOffsets(*args); });
}

void AddDeleteCommand(CLI::App* group, int* exit_code) {
  auto args = std::make_shared<GroupArguments>();
  CLI::App* remove =
      group->add_subcommand("delete", "Delete a group without active members, with its committed offsets");
  AddConnectOptions(remove, &args->connect);
  AddGroupArgument(remove, &args->group_id);
  remove->callback([args, exit_code] { *exit_code = RunDelete(*args); });
}

}  // namespace

void AddGroupCommands(CLI::App& app, int* exit_code) {
  CLI::App* group = app.add_subcommand(
      "group", "List, describe, reset the offsets of and delete consumer groups (Kafka wire protocol)");
  group->require_subcommand(1);
  AddListCommand(group, exit_code);
  AddDescribeCommand(group, exit_code);
  AddResetOffsetsCommand(group, exit_code);
  AddDeleteCommand(group, exit_code);
}

}  // namespace oncemq::cli
