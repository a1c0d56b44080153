#include "cli/rdkafka_client.h"

#include <algorithm>
#include <array>
#include <utility>

namespace oncemq::cli {
namespace {

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

// One table for topic and group administration: a topic error never answers a group request, nor
// the other way round.
StatusCode StatusCodeFor(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS: return StatusCode::kAlreadyExists;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND: return StatusCode::kNotFound;
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICA_ASSIGNMENT:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_INVALID_GROUP_ID:
    case RD_KAFKA_RESP_ERR_INVALID_REQUEST:
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR__INVALID_ARG: return StatusCode::kInvalidArgument;
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE: return StatusCode::kUnsupported;
    default: return StatusCode::kUnavailable;  // includes NON_EMPTY_GROUP: fine once consumers stop
  }
}

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

void FirstClientComplaint::Record(std::string_view line) {
  // Drop librdkafka's "[thrd:...]: " prefix; it names an internal thread, not the problem.
  if (line.starts_with("[thrd:")) {
    if (size_t end = line.find("]: "); end != std::string_view::npos) line.remove_prefix(end + 3);
  }
  std::lock_guard lock(mu_);
  if (line_.empty()) line_ = line;
}

std::string FirstClientComplaint::Get() {
  std::lock_guard lock(mu_);
  return line_;
}

Result<std::unique_ptr<RdKafkaClient>> RdKafkaClient::Connect(const AdminConnectOptions& options) {
  if (options.timeout_ms <= 0) return Status::InvalidArgument("--timeout-ms must be positive");
  std::unique_ptr<RdKafkaClient> client(new RdKafkaClient(options));

  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (Status status = ConfigureClient(conf, options); !status.ok()) {
    rd_kafka_conf_destroy(conf);
    return status;
  }
  rd_kafka_conf_set_opaque(conf, &client->complaint_);
  rd_kafka_conf_set_log_cb(conf, RecordComplaint);

  std::array<char, 512> errstr{};
  client->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr.data(), errstr.size());
  if (client->rk_ == nullptr) {  // on failure the configuration is still ours
    rd_kafka_conf_destroy(conf);
    return Status::InvalidArgument(std::string("cannot create Kafka client: ") + errstr.data());
  }
  client->results_ = rd_kafka_queue_new(client->rk_);

  // Metadata for no topic at all: the cheapest request that proves a broker answers.
  const rd_kafka_metadata_t* metadata = nullptr;
  if (rd_kafka_resp_err_t err = rd_kafka_metadata(client->rk_, 0, nullptr, &metadata, options.timeout_ms)) {
    return client->Failure("cannot reach broker", err);
  }
  rd_kafka_metadata_destroy(metadata);
  return client;
}

RdKafkaClient::~RdKafkaClient() {
  if (results_ != nullptr) rd_kafka_queue_destroy(results_);
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

Status RdKafkaClient::Failure(std::string_view what, rd_kafka_resp_err_t err, const char* detail) {
  if (MeansBrokerUnreachable(err)) return Unreachable(what);
  std::string message = std::string(what) + ": " + (detail != nullptr ? detail : rd_kafka_err2str(err)) +
                        " (" + rd_kafka_err2name(err) + ")";
  return Status(StatusCodeFor(err), std::move(message));
}

Status RdKafkaClient::Unreachable(std::string_view what) {
  std::string message = std::string(what) + ": no broker answered at " + options_.bootstrap + " within " +
                        std::to_string(options_.timeout_ms) + " ms";
  if (std::string first = complaint_.Get(); !first.empty()) message += " (client error: " + first + ")";
  return Status::Unavailable(std::move(message));
}

Result<RdAdminOptionsPtr> RdKafkaClient::MakeAdminOptions(rd_kafka_admin_op_t op) {
  RdAdminOptionsPtr admin_options(rd_kafka_AdminOptions_new(rk_, op));
  std::array<char, 512> errstr{};
  rd_kafka_resp_err_t err = rd_kafka_AdminOptions_set_request_timeout(
      admin_options.get(), options_.timeout_ms, errstr.data(), errstr.size());
  bool waits_for_operation = op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS;
  if (!err && waits_for_operation) {
    err = rd_kafka_AdminOptions_set_operation_timeout(admin_options.get(), options_.timeout_ms, errstr.data(),
                                                      errstr.size());
  }
  if (err) return Status::InvalidArgument(std::string("admin options: ") + errstr.data());
  return admin_options;
}

Result<RdEventPtr> RdKafkaClient::AwaitResult(std::string_view what) {
  // librdkafka enforces the request timeout itself; the extra second only guards against never
  // hearing back at all.
  RdEventPtr event(rd_kafka_queue_poll(results_, options_.timeout_ms + 1000));
  if (event == nullptr) return Unreachable(what);
  if (rd_kafka_resp_err_t err = rd_kafka_event_error(event.get())) {
    return Failure(what, err, rd_kafka_event_error_string(event.get()));
  }
  return event;
}

Result<RdMetadataPtr> RdKafkaClient::FetchAllTopicsMetadata(std::string_view what) {
  const rd_kafka_metadata_t* metadata = nullptr;
  if (rd_kafka_resp_err_t err = rd_kafka_metadata(rk_, 1, nullptr, &metadata, options_.timeout_ms)) {
    return Failure(what, err);
  }
  return RdMetadataPtr(metadata);
}

}  // namespace oncemq::cli
