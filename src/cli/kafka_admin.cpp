#include "cli/kafka_admin.h"

#include <algorithm>
#include <array>

#include "cli/rdkafka_client.h"

namespace oncemq::cli {
namespace {

using NewTopicPtr = std::unique_ptr<rd_kafka_NewTopic_t, RdKafkaDeleter<rd_kafka_NewTopic_destroy>>;
using DeleteTopicPtr = std::unique_ptr<rd_kafka_DeleteTopic_t, RdKafkaDeleter<rd_kafka_DeleteTopic_destroy>>;
using ConfigResourcePtr =
    std::unique_ptr<rd_kafka_ConfigResource_t, RdKafkaDeleter<rd_kafka_ConfigResource_destroy>>;

}  // namespace

KafkaAdmin::KafkaAdmin(std::unique_ptr<RdKafkaClient> client) : client_(std::move(client)) {}
KafkaAdmin::~KafkaAdmin() = default;

Result<std::unique_ptr<KafkaAdmin>> KafkaAdmin::Connect(const AdminConnectOptions& options) {
  auto client = RdKafkaClient::Connect(options);
  if (!client.ok()) return client.status();
  return std::unique_ptr<KafkaAdmin>(new KafkaAdmin(std::move(client.value())));
}

Status KafkaAdmin::CreateTopic(const NewTopicSpec& spec) {
  const std::string what = "cannot create topic '" + spec.name + "'";
  std::array<char, 512> errstr{};
  NewTopicPtr topic(rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions, spec.replication_factor,
                                          errstr.data(), errstr.size()));
  if (topic == nullptr) return Status::InvalidArgument(what + ": " + errstr.data());
  for (const auto& [name, value] : spec.configs) {
    if (rd_kafka_resp_err_t err = rd_kafka_NewTopic_set_config(topic.get(), name.c_str(), value.c_str())) {
      return client_->Failure(what + ": config " + name, err);
    }
  }
  auto admin_options = client_->MakeAdminOptions(RD_KAFKA_ADMIN_OP_CREATETOPICS);
  if (!admin_options.ok()) return admin_options.status();

  rd_kafka_NewTopic_t* topics[] = {topic.get()};
  rd_kafka_CreateTopics(client_->handle(), topics, 1, admin_options->get(), client_->results());
  auto event = client_->AwaitResult(what);
  if (!event.ok()) return event.status();

  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event->get()), &count);
  for (size_t i = 0; i < count; ++i) {
    if (rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i])) {
      return client_->Failure(what, err, rd_kafka_topic_result_error_string(results[i]));
    }
  }
  return Status::Ok();
}

Status KafkaAdmin::DeleteTopic(const std::string& name) {
  const std::string what = "cannot delete topic '" + name + "'";
  DeleteTopicPtr topic(rd_kafka_DeleteTopic_new(name.c_str()));
  auto admin_options = client_->MakeAdminOptions(RD_KAFKA_ADMIN_OP_DELETETOPICS);
  if (!admin_options.ok()) return admin_options.status();

  rd_kafka_DeleteTopic_t* topics[] = {topic.get()};
  rd_kafka_DeleteTopics(client_->handle(), topics, 1, admin_options->get(), client_->results());
  auto event = client_->AwaitResult(what);
  if (!event.ok()) return event.status();

  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(event->get()), &count);
  for (size_t i = 0; i < count; ++i) {
    if (rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i])) {
      return client_->Failure(what, err, rd_kafka_topic_result_error_string(results[i]));
    }
  }
  return Status::Ok();
}

Result<std::vector<std::string>> KafkaAdmin::ListTopics() {
  auto metadata = client_->FetchAllTopicsMetadata("cannot list topics");
  if (!metadata.ok()) return metadata.status();
  std::vector<std::string> names;
  for (int i = 0; i < (*metadata)->topic_cnt; ++i) names.emplace_back((*metadata)->topics[i].topic);
  std::sort(names.begin(), names.end());
  return names;
}

namespace {

std::vector<int32_t> BrokerIds(const int32_t* ids, int count) {
  return {ids, ids + count};
}

PartitionDescription DescribePartition(const rd_kafka_metadata_partition_t& partition) {
  PartitionDescription description;
  description.id = partition.id;
  description.leader = partition.leader;
  description.replicas = BrokerIds(partition.replicas, partition.replica_cnt);
  description.in_sync_replicas = BrokerIds(partition.isrs, partition.isr_cnt);
  if (partition.err) description.error = rd_kafka_err2name(partition.err);
  return description;
}

}  // namespace

Result<TopicDescription> KafkaAdmin::DescribeTopic(const std::string& name) {
  const std::string what = "cannot describe topic '" + name + "'";
  auto metadata = client_->FetchAllTopicsMetadata(what);
  if (!metadata.ok()) return metadata.status();
  const rd_kafka_metadata_t& all = **metadata;
  const auto* topic = std::find_if(all.topics, all.topics + all.topic_cnt,
                                   [&](const rd_kafka_metadata_topic_t& t) { return name == t.topic; });
  if (topic == all.topics + all.topic_cnt) {
    return client_->Failure(what, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "topic does not exist");
  }
  if (topic->err) return client_->Failure(what, topic->err);

  TopicDescription description{.name = name, .partitions = {}};
  for (int i = 0; i < topic->partition_cnt; ++i) {
    description.partitions.push_back(DescribePartition(topic->partitions[i]));
  }
  std::sort(description.partitions.begin(), description.partitions.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  return description;
}

namespace {

TopicConfigEntry ToConfigEntry(const rd_kafka_ConfigEntry_t* entry) {
  const char* value = rd_kafka_ConfigEntry_value(entry);
  return TopicConfigEntry{
      .name = rd_kafka_ConfigEntry_name(entry),
      .value = value != nullptr ? value : "",
      .source = rd_kafka_ConfigSource_name(rd_kafka_ConfigEntry_source(entry)),
      .is_default = rd_kafka_ConfigEntry_is_default(entry) != 0,
      .is_sensitive = rd_kafka_ConfigEntry_is_sensitive(entry) != 0,
  };
}

}  // namespace

Result<std::vector<TopicConfigEntry>> KafkaAdmin::DescribeTopicConfigs(const std::string& name) {
  const std::string what = "cannot describe configs of topic '" + name + "'";
  ConfigResourcePtr resource(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name.c_str()));
  auto admin_options = client_->MakeAdminOptions(RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
  if (!admin_options.ok()) return admin_options.status();

  rd_kafka_ConfigResource_t* resources[] = {resource.get()};
  rd_kafka_DescribeConfigs(client_->handle(), resources, 1, admin_options->get(), client_->results());
  auto event = client_->AwaitResult(what);
  if (!event.ok()) return event.status();

  size_t count = 0;
  const rd_kafka_ConfigResource_t** described =
      rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(event->get()), &count);
  if (count != 1)
    return Status::Corruption(what + ": broker answered for " + std::to_string(count) + " topics");
  if (rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(described[0])) {
    return client_->Failure(what, err, rd_kafka_ConfigResource_error_string(described[0]));
  }

  size_t entry_count = 0;
  const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(described[0], &entry_count);
  std::vector<TopicConfigEntry> configs;
  for (size_t i = 0; i < entry_count; ++i) configs.push_back(ToConfigEntry(entries[i]));
  std::sort(configs.begin(), configs.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return configs;
}

}  // namespace oncemq::cli
