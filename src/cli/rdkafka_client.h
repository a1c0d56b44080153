// RdKafkaClient: one librdkafka handle for the CLI's administrative commands (KafkaAdmin for topics,
// GroupAdmin for groups), with what every command needs around it: a bounded connection, admin-result
// waiting, and errors turned into Status values that name the broker address and the client's first
// complaint instead of "Local: Timed out".
//
// Owns the handle and its result queue; both live as long as the client. Thread safety: one
// RdKafkaClient is used by one thread at a time (librdkafka's own threads only touch the complaint).
#pragma once

#include <librdkafka/rdkafka.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "cli/kafka_admin.h"
#include "common/status.h"

namespace oncemq::cli {

// Owns a librdkafka C object and frees it with the matching *_destroy function.
template <auto kDestroy>
struct RdKafkaDeleter {
  template <typename T>
  void operator()(T* object) const {
    kDestroy(object);
  }
};
using RdEventPtr = std::unique_ptr<rd_kafka_event_t, RdKafkaDeleter<rd_kafka_event_destroy>>;
using RdAdminOptionsPtr =
    std::unique_ptr<rd_kafka_AdminOptions_t, RdKafkaDeleter<rd_kafka_AdminOptions_destroy>>;
using RdMetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, RdKafkaDeleter<rd_kafka_metadata_destroy>>;
using RdPartitionListPtr =
    std::unique_ptr<rd_kafka_topic_partition_list_t, RdKafkaDeleter<rd_kafka_topic_partition_list_destroy>>;

// librdkafka reports connection trouble only through its log; the first warning says why (for
// example "Connection refused"), later ones tend to be summaries. Written from librdkafka's threads.
class FirstClientComplaint {
 public:
  void Record(std::string_view line);
  std::string Get();

 private:
  std::mutex mu_;
  std::string line_;
};

class RdKafkaClient {
 public:
  // Creates a producer handle (it sends no messages; admin calls work on any handle) and checks with
  // a Metadata request that a broker at options.bootstrap answers within options.timeout_ms.
  static Result<std::unique_ptr<RdKafkaClient>> Connect(const AdminConnectOptions& options);
  ~RdKafkaClient();
  RdKafkaClient(const RdKafkaClient&) = delete;
  RdKafkaClient& operator=(const RdKafkaClient&) = delete;

  rd_kafka_t* handle() const { return rk_; }
  // The queue admin calls deliver their result events to; AwaitResult reads it.
  rd_kafka_queue_t* results() const { return results_; }
  int timeout_ms() const { return options_.timeout_ms; }

  // "what: detail (ERROR_NAME)"; for an unreachable broker, names the address, the time waited and
  // the client's first complaint. The code follows the error: NotFound for an unknown topic or group,
  // AlreadyExists for an existing topic, InvalidArgument for a refused input, Unavailable otherwise.
  Status Failure(std::string_view what, rd_kafka_resp_err_t err, const char* detail = nullptr);
  Status Unreachable(std::string_view what);

  // Admin options with the request timeout set to timeout_ms(), and for CreateTopics and DeleteTopics
  // the operation timeout too (how long the broker may take to finish).
  Result<RdAdminOptionsPtr> MakeAdminOptions(rd_kafka_admin_op_t op);
  // Waits for the result of the admin request just enqueued on results(); fails on a request-level error.
  Result<RdEventPtr> AwaitResult(std::string_view what);
  // Metadata of all topics (a request naming one topic may auto-create it on the broker).
  Result<RdMetadataPtr> FetchAllTopicsMetadata(std::string_view what);

 private:
  explicit RdKafkaClient(AdminConnectOptions options) : options_(std::move(options)) {}

  AdminConnectOptions options_;
  FirstClientComplaint complaint_;  // outlives rk_: librdkafka may log while being destroyed
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_queue_t* results_ = nullptr;
};

}  // namespace oncemq::cli
