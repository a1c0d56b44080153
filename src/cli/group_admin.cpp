#include "cli/group_admin.h"

#include <algorithm>
#include <span>

#include "cli/rdkafka_client.h"

namespace oncemq::cli {
namespace {

// rd_kafka_list_groups() answers with a list freed by its own function.
using GroupListPtr = std::unique_ptr<const rd_kafka_group_list, RdKafkaDeleter<rd_kafka_group_list_destroy>>;
using DeleteGroupPtr = std::unique_ptr<rd_kafka_DeleteGroup_t, RdKafkaDeleter<rd_kafka_DeleteGroup_destroy>>;
using ListOffsetsPtr = std::unique_ptr<rd_kafka_ListConsumerGroupOffsets_t,
                                       RdKafkaDeleter<rd_kafka_ListConsumerGroupOffsets_destroy>>;
using AlterOffsetsPtr = std::unique_ptr<rd_kafka_AlterConsumerGroupOffsets_t,
                                        RdKafkaDeleter<rd_kafka_AlterConsumerGroupOffsets_destroy>>;

constexpr std::string_view kConsumerProtocolType = "consumer";

std::string OrEmpty(const char* s) {
  return s != nullptr ? s : "";
}

std::span<const rd_kafka_topic_partition_t> Elements(const rd_kafka_topic_partition_list_t* list) {
  if (list == nullptr) return {};
  return {list->elems, static_cast<size_t>(list->cnt)};
}

GroupMember ToMember(const rd_kafka_group_member_info& info, bool consumer_protocol) {
  GroupMember member{.member_id = OrEmpty(info.member_id),
                     .client_id = OrEmpty(info.client_id),
                     .host = OrEmpty(info.client_host),
                     .assignment = {},
                     .assignment_error = {}};
  if (!consumer_protocol) return member;  // other protocols' bytes mean something else
  const auto* bytes = static_cast<const uint8_t*>(info.member_assignment);
  auto assignment =
      protocol::DecodeConsumerAssignment(ByteView(bytes, static_cast<size_t>(info.member_assignment_size)));
  if (assignment.ok()) {
    member.assignment = std::move(assignment->topics);
  } else {
    member.assignment_error = assignment.status().message();
  }
  return member;
}

GroupDescription ToDescription(const rd_kafka_group_info& info) {
  GroupDescription description{.group_id = OrEmpty(info.group),
                               .state = OrEmpty(info.state),
                               .protocol_type = OrEmpty(info.protocol_type),
                               .protocol = OrEmpty(info.protocol),
                               .members = {}};
  const bool consumer_protocol = description.protocol_type == kConsumerProtocolType;
  for (int i = 0; i < info.member_cnt; ++i) {
    description.members.push_back(ToMember(info.members[i], consumer_protocol));
  }
  std::sort(description.members.begin(), description.members.end(),
            [](const GroupMember& a, const GroupMember& b) { return a.member_id < b.member_id; });
  return description;
}

// The one group result an admin call about one group answers with.
Result<const rd_kafka_group_result_t*> SingleGroupResult(RdKafkaClient& client, std::string_view what,
                                                         const rd_kafka_group_result_t** results,
                                                         size_t count) {
  if (count != 1) {
    return Status::Corruption(std::string(what) + ": broker answered for " + std::to_string(count) +
                              " groups");
  }
  if (const rd_kafka_error_t* error = rd_kafka_group_result_error(results[0])) {
    return client.Failure(what, rd_kafka_error_code(error), rd_kafka_error_string(error));
  }
  return results[0];
}

}  // namespace

GroupAdmin::GroupAdmin(std::unique_ptr<RdKafkaClient> client) : client_(std::move(client)) {}
GroupAdmin::~GroupAdmin() = default;

Result<std::unique_ptr<GroupAdmin>> GroupAdmin::Connect(const AdminConnectOptions& options) {
  auto client = RdKafkaClient::Connect(options);
  if (!client.ok()) return client.status();
  return std::unique_ptr<GroupAdmin>(new GroupAdmin(std::move(client.value())));
}

Result<std::vector<GroupSummary>> GroupAdmin::ListGroups() {
  const rd_kafka_group_list* list = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_list_groups(client_->handle(), nullptr, &list, client_->timeout_ms());
  if (err && err != RD_KAFKA_RESP_ERR__PARTIAL) return client_->Failure("cannot list groups", err);
  GroupListPtr owned(list);
  std::vector<GroupSummary> groups;
  for (int i = 0; i < list->group_cnt; ++i) {
    const rd_kafka_group_info& info = list->groups[i];
    if (info.err) return client_->Failure("cannot describe group '" + OrEmpty(info.group) + "'", info.err);
    groups.push_back(GroupSummary{.group_id = OrEmpty(info.group),
                                  .state = OrEmpty(info.state),
                                  .protocol_type = OrEmpty(info.protocol_type),
                                  .member_count = info.member_cnt});
  }
  if (err == RD_KAFKA_RESP_ERR__PARTIAL) return client_->Failure("cannot list all groups", err);
  std::sort(groups.begin(), groups.end(),
            [](const auto& a, const auto& b) { return a.group_id < b.group_id; });
  return groups;
}

Result<GroupDescription> GroupAdmin::DescribeGroup(const std::string& group_id) {
  const std::string what = "cannot describe group '" + group_id + "'";
  const rd_kafka_group_list* list = nullptr;
  rd_kafka_resp_err_t err =
      rd_kafka_list_groups(client_->handle(), group_id.c_str(), &list, client_->timeout_ms());
  if (err && err != RD_KAFKA_RESP_ERR__PARTIAL) return client_->Failure(what, err);
  GroupListPtr owned(list);
  for (int i = 0; i < list->group_cnt; ++i) {
    const rd_kafka_group_info& info = list->groups[i];
    if (group_id != OrEmpty(info.group)) continue;
    if (info.err) return client_->Failure(what, info.err);
    // DescribeGroups answers "Dead" for a group the broker does not know.
    if (OrEmpty(info.state) == "Dead") break;
    return ToDescription(info);
  }
  if (err == RD_KAFKA_RESP_ERR__PARTIAL) return client_->Failure(what, err);
  return client_->Failure(what, RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND, "group does not exist");
}

Result<std::map<TopicPartition, Offset>> GroupAdmin::FetchCommittedOffsets(const std::string& group_id) {
  const std::string what = "cannot fetch committed offsets of group '" + group_id + "'";
  // OffsetFetch with a null topic array would answer with every committed partition, but librdkafka
  // 2.0.2 sends an empty array for a null partition list, which asks for none. So ask for every
  // partition of every topic the broker has.
  auto metadata = client_->FetchAllTopicsMetadata(what);
  if (!metadata.ok()) return metadata.status();
  RdPartitionListPtr partitions(rd_kafka_topic_partition_list_new(0));
  for (const rd_kafka_metadata_topic_t& topic : std::span((*metadata)->topics, (*metadata)->topic_cnt)) {
    for (const rd_kafka_metadata_partition_t& p : std::span(topic.partitions, topic.partition_cnt)) {
      rd_kafka_topic_partition_list_add(partitions.get(), topic.topic, p.id);
    }
  }
  if (partitions->cnt == 0) return std::map<TopicPartition, Offset>{};

  auto admin_options = client_->MakeAdminOptions(RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
  if (!admin_options.ok()) return admin_options.status();
  ListOffsetsPtr request(rd_kafka_ListConsumerGroupOffsets_new(group_id.c_str(), partitions.get()));
  rd_kafka_ListConsumerGroupOffsets_t* requests[] = {request.get()};
  rd_kafka_ListConsumerGroupOffsets(client_->handle(), requests, 1, admin_options->get(), client_->results());
  auto event = client_->AwaitResult(what);
  if (!event.ok()) return event.status();

  size_t count = 0;
  const rd_kafka_group_result_t** results = rd_kafka_ListConsumerGroupOffsets_result_groups(
      rd_kafka_event_ListConsumerGroupOffsets_result(event->get()), &count);
  auto group = SingleGroupResult(*client_, what, results, count);
  if (!group.ok()) return group.status();

  std::map<TopicPartition, Offset> committed;
  for (const rd_kafka_topic_partition_t& p : Elements(rd_kafka_group_result_partitions(*group))) {
    const std::string where = what + " (" + p.topic + "/" + std::to_string(p.partition) + ")";
    if (p.err) return client_->Failure(where, p.err);
    if (p.offset < 0) continue;  // no commit for this partition
    committed.emplace(TopicPartition{.topic = p.topic, .partition = PartitionId(p.partition)},
                      Offset(p.offset));
  }
  return committed;
}

Result<Watermarks> GroupAdmin::FetchWatermarks(const TopicPartition& partition) {
  int64_t low = 0;
  int64_t high = 0;
  if (rd_kafka_resp_err_t err =
          rd_kafka_query_watermark_offsets(client_->handle(), partition.topic.c_str(),
                                           partition.partition.value(), &low, &high, client_->timeout_ms())) {
    return client_->Failure(
        "cannot read the log end of " + partition.topic + "/" + std::to_string(partition.partition.value()),
        err);
  }
  return Watermarks{.low = Offset(low), .high = Offset(high)};
}

Result<std::vector<PartitionId>> GroupAdmin::TopicPartitions(const std::string& topic) {
  const std::string what = "cannot read partitions of topic '" + topic + "'";
  auto metadata = client_->FetchAllTopicsMetadata(what);
  if (!metadata.ok()) return metadata.status();
  const rd_kafka_metadata_t& all = **metadata;
  std::span<const rd_kafka_metadata_topic_t> topics(all.topics, static_cast<size_t>(all.topic_cnt));
  auto found = std::find_if(topics.begin(), topics.end(), [&](const auto& t) { return topic == t.topic; });
  if (found == topics.end()) {
    return client_->Failure(what, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "topic does not exist");
  }
  if (found->err) return client_->Failure(what, found->err);
  std::vector<PartitionId> ids;
  for (int i = 0; i < found->partition_cnt; ++i) ids.emplace_back(found->partitions[i].id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

Status GroupAdmin::CommitOffsets(const std::string& group_id,
                                 const std::map<TopicPartition, Offset>& offsets) {
  const std::string what = "cannot commit offsets for group '" + group_id + "'";
  RdPartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const auto& [partition, offset] : offsets) {
    rd_kafka_topic_partition_list_add(list.get(), partition.topic.c_str(), partition.partition.value())
        ->offset = offset.value();
  }
  auto admin_options = client_->MakeAdminOptions(RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS);
  if (!admin_options.ok()) return admin_options.status();
  AlterOffsetsPtr request(rd_kafka_AlterConsumerGroupOffsets_new(group_id.c_str(), list.get()));
  rd_kafka_AlterConsumerGroupOffsets_t* requests[] = {request.get()};
  rd_kafka_AlterConsumerGroupOffsets(client_->handle(), requests, 1, admin_options->get(),
                                     client_->results());
  auto event = client_->AwaitResult(what);
  if (!event.ok()) return event.status();

  size_t count = 0;
  const rd_kafka_group_result_t** results = rd_kafka_AlterConsumerGroupOffsets_result_groups(
      rd_kafka_event_AlterConsumerGroupOffsets_result(event->get()), &count);
  auto group = SingleGroupResult(*client_, what, results, count);
  if (!group.ok()) return group.status();
  for (const rd_kafka_topic_partition_t& p : Elements(rd_kafka_group_result_partitions(*group))) {
    if (p.err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID) {
      return client_->Failure(what, p.err,
                              "the group has active members, and the broker takes commits from outside "
                              "the group only while it has none; stop its consumers first");
    }
    if (p.err)
      return client_->Failure(what + " (" + p.topic + "/" + std::to_string(p.partition) + ")", p.err);
  }
  return Status::Ok();
}

Status GroupAdmin::DeleteGroup(const std::string& group_id) {
  const std::string what = "cannot delete group '" + group_id + "'";
  auto admin_options = client_->MakeAdminOptions(RD_KAFKA_ADMIN_OP_DELETEGROUPS);
  if (!admin_options.ok()) return admin_options.status();
  DeleteGroupPtr request(rd_kafka_DeleteGroup_new(group_id.c_str()));
  rd_kafka_DeleteGroup_t* requests[] = {request.get()};
  rd_kafka_DeleteGroups(client_->handle(), requests, 1, admin_options->get(), client_->results());
  auto event = client_->AwaitResult(what);
  if (!event.ok()) return event.status();

  size_t count = 0;
  const rd_kafka_group_result_t** results =
      rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(event->get()), &count);
  if (count == 1) {
    const rd_kafka_error_t* error = rd_kafka_group_result_error(results[0]);
    if (error != nullptr && rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP) {
      return client_->Failure(what, RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP,
                              "the group has active members; stop its consumers first");
    }
    if (error != nullptr && rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) {
      return client_->Failure(what, RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND, "group does not exist");
    }
  }
  auto group = SingleGroupResult(*client_, what, results, count);
  return group.ok() ? Status::Ok() : group.status();
}

}  // namespace oncemq::cli
