// KafkaAdmin: topic administration over the Kafka wire protocol (CreateTopics, DeleteTopics,
// DescribeConfigs, Metadata), so the same commands work against oncemq and against Apache Kafka.
//
// Every call is bounded by the timeout given to Connect(); a broker that does not answer within it
// yields an Unavailable status whose message names the address and the client's last complaint.
// Thread safety: one KafkaAdmin is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace oncemq::cli {

class RdKafkaClient;

struct AdminConnectOptions {
  std::string bootstrap = "127.0.0.1:9092";
  int timeout_ms = 10000;
};

struct NewTopicSpec {
  std::string name;
  int partitions = -1;          // -1: the broker's default
  int replication_factor = -1;  // -1: the broker's default
  std::vector<std::pair<std::string, std::string>> configs;
};

struct PartitionDescription {
  int32_t id = 0;
  int32_t leader = -1;
  std::vector<int32_t> replicas;
  std::vector<int32_t> in_sync_replicas;
  std::string error;  // empty when the broker reported no error for this partition
};

struct TopicDescription {
  std::string name;
  std::vector<PartitionDescription> partitions;  // sorted by id
};

struct TopicConfigEntry {
  std::string name;
  std::string value;   // empty for a null value
  std::string source;  // as Kafka names it: DEFAULT_CONFIG, DYNAMIC_TOPIC_CONFIG, ...
  bool is_default = false;
  bool is_sensitive = false;
};

class KafkaAdmin {
 public:
  // Creates the client and checks that a broker at options.bootstrap answers a Metadata request.
  static Result<std::unique_ptr<KafkaAdmin>> Connect(const AdminConnectOptions& options);
  ~KafkaAdmin();
  KafkaAdmin(const KafkaAdmin&) = delete;
  KafkaAdmin& operator=(const KafkaAdmin&) = delete;

  // AlreadyExists when the topic exists; InvalidArgument for a bad name, partition count or config.
  Status CreateTopic(const NewTopicSpec& spec);
  // NotFound when the topic does not exist.
  Status DeleteTopic(const std::string& name);
  // Names of all topics the broker reports, sorted.
  Result<std::vector<std::string>> ListTopics();
  // NotFound when the topic does not exist. Asks for all topics' metadata rather than this one's,
  // because a Metadata request naming a topic may auto-create it on the broker.
  Result<TopicDescription> DescribeTopic(const std::string& name);
  // The topic's configuration as the broker reports it (DescribeConfigs), sorted by name.
  Result<std::vector<TopicConfigEntry>> DescribeTopicConfigs(const std::string& name);

 private:
  explicit KafkaAdmin(std::unique_ptr<RdKafkaClient> client);
  std::unique_ptr<RdKafkaClient> client_;
};

}  // namespace oncemq::cli
