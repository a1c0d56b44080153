#include "consume_bench.h"

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <memory>
#include <set>
#include <vector>

#include "kafka_settings.h"

namespace oncemq::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kMetadataTimeoutMs = 10'000;
constexpr int kConsumeWaitMs = 100;

KafkaSettings ConsumerSettings(const ConsumeOptions& options) {
  const bool in_group = !options.group.empty();
  return {
      {"bootstrap.servers", options.bootstrap},
      {"client.id", "oncemq-bench-consume"},
      // KafkaConsumer insists on a group id even when partitions are assigned by hand; then nothing is
      // ever committed for it.
      {"group.id", in_group ? options.group : "oncemq-bench"},
      {"enable.auto.commit", in_group ? "true" : "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "true"},
      {"auto.offset.reset", "earliest"},
  };
}

struct ConsumerSession {
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  int partitions = 0;

  ~ConsumerSession() {
    if (consumer != nullptr) consumer->close();
  }
};

Result<int> PartitionCount(RdKafka::KafkaConsumer& consumer, const std::string& topic_name,
                           const std::string& bootstrap) {
  std::string error;
  std::unique_ptr<RdKafka::Topic> topic(RdKafka::Topic::create(&consumer, topic_name, nullptr, error));
  if (topic == nullptr) return Status::InvalidArgument("cannot open topic: " + error);
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode err = consumer.metadata(false, topic.get(), &raw, kMetadataTimeoutMs);
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (err != RdKafka::ERR_NO_ERROR) {
    return Status::Unavailable("no metadata for topic '" + topic_name + "' from " + bootstrap + ": " +
                               RdKafka::err2str(err));
  }
  for (const RdKafka::TopicMetadata* entry : *metadata->topics()) {
    if (entry->topic() != topic_name) continue;
    if (entry->err() != RdKafka::ERR_NO_ERROR) {
      return Status::NotFound("topic '" + topic_name + "': " + RdKafka::err2str(entry->err()));
    }
    return static_cast<int>(entry->partitions()->size());
  }
  return Status::NotFound("topic '" + topic_name + "' is not in the broker's metadata");
}

Status AssignFromBeginning(RdKafka::KafkaConsumer& consumer, const std::string& topic, int partitions) {
  std::vector<RdKafka::TopicPartition*> assignment;
  for (int partition = 0; partition < partitions; ++partition) {
    assignment.push_back(RdKafka::TopicPartition::create(topic, partition, RdKafka::Topic::OFFSET_BEGINNING));
  }
  RdKafka::ErrorCode err = consumer.assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);
  if (err != RdKafka::ERR_NO_ERROR) return Status::InvalidArgument("assign: " + RdKafka::err2str(err));
  return Status::Ok();
}

Result<std::unique_ptr<ConsumerSession>> OpenConsumer(const ConsumeOptions& options) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  if (Status status = ApplySettings(*conf, ConsumerSettings(options)); !status.ok()) return status;
  std::string error;
  auto session = std::make_unique<ConsumerSession>();
  session->consumer.reset(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (session->consumer == nullptr) return Status::InvalidArgument("cannot create consumer: " + error);
  auto partitions = PartitionCount(*session->consumer, options.topic, options.bootstrap);
  if (!partitions.ok()) return partitions.status();
  session->partitions = *partitions;
  if (!options.group.empty()) {
    RdKafka::ErrorCode err = session->consumer->subscribe({options.topic});
    if (err != RdKafka::ERR_NO_ERROR) return Status::InvalidArgument("subscribe: " + RdKafka::err2str(err));
  } else if (Status status = AssignFromBeginning(*session->consumer, options.topic, *partitions);
             !status.ok()) {
    return status;
  }
  return session;
}

// Accumulates what the consume loop sees and decides when it is done.
class ConsumeProgress {
 public:
  ConsumeProgress(const ConsumeOptions& options, int partitions)
      : options_(options), partitions_(partitions), start_(Clock::now()) {}

  void OnMessage(const RdKafka::Message& message) {
    Clock::time_point now = Clock::now();
    if (report_.messages++ == 0) first_ = now;
    last_ = now;
    report_.bytes += message.len();
    at_end_.erase(message.partition());
  }
  void OnPartitionEnd(int32_t partition) { at_end_.insert(partition); }
  void OnError(const RdKafka::Message& message) {
    if (report_.errors++ == 0) report_.first_error = message.errstr();
  }

  bool Done() const {
    if (options_.count > 0) return report_.messages >= options_.count;
    return static_cast<int>(at_end_.size()) == partitions_;
  }

  ConsumeReport Finish() {
    report_.reached_end = options_.count == 0 && Done();
    report_.elapsed_s = std::chrono::duration<double>(last_ - first_).count();
    if (report_.messages > 0) report_.join_s = std::chrono::duration<double>(first_ - start_).count();
    if (report_.elapsed_s > 0) {
      report_.msgs_per_s = static_cast<double>(report_.messages) / report_.elapsed_s;
      report_.mb_per_s = static_cast<double>(report_.bytes) / report_.elapsed_s / 1e6;
    }
    return report_;
  }

 private:
  const ConsumeOptions& options_;
  int partitions_;
  std::set<int32_t> at_end_;
  ConsumeReport report_;
  Clock::time_point start_;
  Clock::time_point first_;
  Clock::time_point last_;
};

void Dispatch(const RdKafka::Message& message, ConsumeProgress& progress) {
  switch (message.err()) {
    case RdKafka::ERR_NO_ERROR: progress.OnMessage(message); break;
    case RdKafka::ERR__PARTITION_EOF: progress.OnPartitionEnd(message.partition()); break;
    case RdKafka::ERR__TIMED_OUT: break;
    default: progress.OnError(message);
  }
}

Clock::time_point DeadlineAfter(double seconds) {
  if (seconds <= 0) return Clock::time_point::max();
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

Result<ConsumeReport> RunConsumeBench(const ConsumeOptions& options) {
  auto session = OpenConsumer(options);
  if (!session.ok()) return session.status();
  ConsumeProgress progress(options, (*session)->partitions);
  Clock::time_point deadline = DeadlineAfter(options.duration_s);
  while (!progress.Done() && Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> message((*session)->consumer->consume(kConsumeWaitMs));
    Dispatch(*message, progress);
  }
  return progress.Finish();
}

}  // namespace oncemq::bench
