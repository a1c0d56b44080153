#include "cli/kafka_admin.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <array>
#include <mutex>
#include <string_view>

namespace oncemq::cli {
namespace {

// Owns a librdkafka C object and frees it with the matching *_destroy function.
template <auto kDestroy>
struct CDeleter {
  template <typename T>
  void operator()(T* object) const {
    kDestroy(object);
  }
};
using AdminOptionsPtr = std::unique_ptr<rd_kafka_AdminOptions_t, CDeleter<rd_kafka_AdminOptions_destroy>>;
using NewTopicPtr = std::unique_ptr<rd_kafka_NewTopic_t, CDeleter<rd_kafka_NewTopic_destroy>>;
using DeleteTopicPtr = std::unique_ptr<rd_kafka_DeleteTopic_t, CDeleter<rd_kafka_DeleteTopic_destroy>>;
using ConfigResourcePtr =
    std::unique_ptr<rd_kafka_ConfigResource_t, CDeleter<rd_kafka_ConfigResource_destroy>>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, CDeleter<rd_kafka_event_destroy>>;
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, CDeleter<rd_kafka_metadata_destroy>>;

// librdkafka reports connection trouble only through its log. The CLI keeps the first warning so
// that a failure message can say why (for example "Connection refused") instead of printing the
// client's retry chatter; later lines tend to be summaries such as "1/1 brokers are down".
// Called from librdkafka's threads, hence the mutex.
class FirstClientComplaint {
 public:
  void Record(std::string_view line) {
    // Drop librdkafka's "[thrd:...]: " prefix; it names an internal thread, not the problem.
    if (line.starts_with("[thrd:")) {
      if (size_t end = line.find("]: "); end != std::string_view::npos) line.remove_prefix(end + 3);
    }
    std::lock_guard lock(mu_);
    if (line_.empty()) line_ = line;
  }
  std::string Get() {
    std::lock_guard lock(mu_);
    return line_;
  }

 private:
  std::mutex mu_;
  std::string line_;
};

constexpr int kLogWarning = 4;  // syslog level; errors and warnings are worth keeping

void RecordComplaint(const rd_kafka_t* rk, int level, const char* /*facility*/, const char* line) {
  if (level > kLogWarning) return;
  static_cast<FirstClientComplaint*>(rd_kafka_opaque(rk))->Record(line);
}

bool MeansBrokerUnreachable(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__TIMED_OUT ||
         err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__RESOLVE ||
         err == RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE;
}

StatusCode StatusCodeFor(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS: return StatusCode::kAlreadyExists;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC: return StatusCode::kNotFound;
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICA_ASSIGNMENT:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_REQUEST:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG: return StatusCode::kInvalidArgument;
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE: return StatusCode::kUnsupported;
    default: return StatusCode::kUnavailable;
  }
}

}  // namespace

struct KafkaAdmin::Client {
  AdminConnectOptions options;
  FirstClientComplaint complaint;  // outlives rk: librdkafka may log while being destroyed
  rd_kafka_t* rk = nullptr;
  rd_kafka_queue_t* results = nullptr;

  ~Client() {
    if (results != nullptr) rd_kafka_queue_destroy(results);
    if (rk != nullptr) rd_kafka_destroy(rk);
  }

  // "what: detail (ERROR_NAME)"; for an unreachable broker, names the address, the time waited
  // and the client's last complaint instead of librdkafka's generic "Local: Timed out".
  Status Failure(std::string_view what, rd_kafka_resp_err_t err, const char* detail = nullptr) {
    if (MeansBrokerUnreachable(err)) return Unreachable(what);
    std::string message = std::string(what) + ": " + (detail != nullptr ? detail : rd_kafka_err2str(err)) +
                          " (" + rd_kafka_err2name(err) + ")";
    return Status(StatusCodeFor(err), std::move(message));
  }

  Status Unreachable(std::string_view what) {
    std::string message = std::string(what) + ": no broker answered at " + options.bootstrap + " within " +
                          std::to_string(options.timeout_ms) + " ms";
    if (std::string first = complaint.Get(); !first.empty()) message += " (client error: " + first + ")";
    return Status::Unavailable(std::move(message));
  }

  Result<AdminOptionsPtr> MakeAdminOptions(rd_kafka_admin_op_t op) {
    AdminOptionsPtr admin_options(rd_kafka_AdminOptions_new(rk, op));
    std::array<char, 512> errstr{};
    rd_kafka_resp_err_t err = rd_kafka_AdminOptions_set_request_timeout(
        admin_options.get(), options.timeout_ms, errstr.data(), errstr.size());
    bool waits_for_operation = op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS;
    if (!err && waits_for_operation) {
      err = rd_kafka_AdminOptions_set_operation_timeout(admin_options.get(), options.timeout_ms,
                                                        errstr.data(), errstr.size());
    }
    if (err) return Status::InvalidArgument(std::string("admin options: ") + errstr.data());
    return admin_options;
  }

  // Waits for the result of the admin request just enqueued on `results`. librdkafka enforces the
  // request timeout itself; the extra second only guards against never hearing back at all.
  Result<EventPtr> AwaitResult(std::string_view what) {
    EventPtr event(rd_kafka_queue_poll(results, options.timeout_ms + 1000));
    if (event == nullptr) return Unreachable(what);
    if (rd_kafka_resp_err_t err = rd_kafka_event_error(event.get())) {
      return Failure(what, err, rd_kafka_event_error_string(event.get()));
    }
    return event;
  }

  Result<MetadataPtr> FetchMetadata(std::string_view what, bool all_topics) {
    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_resp_err_t err =
        rd_kafka_metadata(rk, all_topics ? 1 : 0, nullptr, &metadata, options.timeout_ms);
    if (err) return Failure(what, err);
    return MetadataPtr(metadata);
  }
};

KafkaAdmin::KafkaAdmin(std::unique_ptr<Client> client) : client_(std::move(client)) {}
KafkaAdmin::~KafkaAdmin() = default;

namespace {

Status SetConf(rd_kafka_conf_t* conf, const char* name, const std::string& value) {
  std::array<char, 512> errstr{};
  if (rd_kafka_conf_set(conf, name, value.c_str(), errstr.data(), errstr.size()) != RD_KAFKA_CONF_OK) {
    return Status::InvalidArgument(std::string(name) + ": " + errstr.data());
  }
  return Status::Ok();
}

Status ConfigureClient(rd_kafka_conf_t* conf, const AdminConnectOptions& options) {
  // librdkafka accepts no connection set-up time below a second; shorter --timeout-ms values are
  // still honoured by the request timeouts.
  const std::string timeout = std::to_string(std::max(options.timeout_ms, 1000));
  for (auto [name, value] :
       {std::pair{"bootstrap.servers", options.bootstrap}, std::pair{"client.id", std::string("oncemq-cli")},
        std::pair{"socket.connection.setup.timeout.ms", timeout}}) {
    if (Status status = SetConf(conf, name, value); !status.ok()) return status;
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<KafkaAdmin>> KafkaAdmin::Connect(const AdminConnectOptions& options) {
  if (options.timeout_ms <= 0) return Status::InvalidArgument("--timeout-ms must be positive");
  auto client = std::make_unique<Client>();
  client->options = options;

  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (Status status = ConfigureClient(conf, options); !status.ok()) {
    rd_kafka_conf_destroy(conf);
    return status;
  }
  rd_kafka_conf_set_opaque(conf, &client->complaint);
  rd_kafka_conf_set_log_cb(conf, RecordComplaint);

  std::array<char, 512> errstr{};
  client->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr.data(), errstr.size());
  if (client->rk == nullptr) {  // on failure the configuration is still ours
    rd_kafka_conf_destroy(conf);
    return Status::InvalidArgument(std::string("cannot create Kafka client: ") + errstr.data());
  }
  client->results = rd_kafka_queue_new(client->rk);

  // Metadata for no topic at all: the cheapest request that proves a broker answers.
  if (auto probe = client->FetchMetadata("cannot reach broker", false); !probe.ok()) return probe.status();
  return std::unique_ptr<KafkaAdmin>(new KafkaAdmin(std::move(client)));
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
  rd_kafka_CreateTopics(client_->rk, topics, 1, admin_options->get(), client_->results);
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
  rd_kafka_DeleteTopics(client_->rk, topics, 1, admin_options->get(), client_->results);
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
  auto metadata = client_->FetchMetadata("cannot list topics", true);
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
  auto metadata = client_->FetchMetadata(what, true);
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
  rd_kafka_DescribeConfigs(client_->rk, resources, 1, admin_options->get(), client_->results);
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
