#include "chaos/log_reader.h"

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "support/rdkafka_util.h"

namespace oncemq::chaos_test {
namespace {

using Clock = std::chrono::steady_clock;

// The topic's partition count, 0 when the broker does not know the topic; -1 when metadata failed.
int PartitionCount(RdKafka::KafkaConsumer& consumer, const std::string& topic, std::string* error) {
  RdKafka::Metadata* raw = nullptr;
  // All topics: asking for one by name would create it on a broker that auto-creates.
  RdKafka::ErrorCode err = consumer.metadata(/*all_topics=*/true, nullptr, &raw, 10'000);
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (err != RdKafka::ERR_NO_ERROR) {
    *error = "metadata: " + RdKafka::err2str(err);
    return -1;
  }
  for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
    if (t->topic() == topic) return static_cast<int>(t->partitions()->size());
  }
  return 0;
}

}  // namespace

bool ReadTopic(const std::string& address, const std::string& topic, TopicRead* read, std::string* error,
               int bound_ms) {
  read->clear();
  auto conf = testing::MakeRdKafkaConf({{"bootstrap.servers", address},
                                        {"group.id", "chaos-reader"},
                                        {"enable.auto.commit", "false"},
                                        {"enable.partition.eof", "true"}},
                                       error);
  if (!conf) return false;
  testing::ConsumerPtr consumer(RdKafka::KafkaConsumer::create(conf.get(), *error));
  if (!consumer) return false;
  const int partitions = PartitionCount(*consumer, topic, error);
  if (partitions < 0) return false;
  if (partitions == 0) return true;
  std::vector<std::pair<int32_t, int64_t>> starts;
  for (int32_t p = 0; p < partitions; ++p) starts.emplace_back(p, RdKafka::Topic::OFFSET_BEGINNING);
  if (RdKafka::ErrorCode err = testing::AssignPartitions(*consumer, topic, starts);
      err != RdKafka::ERR_NO_ERROR) {
    *error = "assign: " + RdKafka::err2str(err);
    return false;
  }
  std::set<int32_t> ended;
  const auto deadline = Clock::now() + std::chrono::milliseconds(bound_ms);
  while (static_cast<int>(ended.size()) < partitions && Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
    if (m->err() == RdKafka::ERR__PARTITION_EOF) ended.insert(m->partition());
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    LoggedRecord record;
    if (RdKafka::Headers* h = m->headers(); h != nullptr) {
      for (const auto& header : h->get_all()) {
        std::string value(static_cast<const char*>(header.value()), header.value_size());
        if (header.key() == "oncemq-msg-id") record.msg_id = value;
        record.headers[header.key()] = std::move(value);
      }
    }
    (*read)[{m->partition(), m->offset()}] = std::move(record);
  }
  if (static_cast<int>(ended.size()) < partitions) {
    *error = topic + " was read to the end of " + std::to_string(ended.size()) + " of " +
             std::to_string(partitions) + " partitions";
    return false;
  }
  return true;
}

LogRead MsgIds(const TopicRead& read) {
  LogRead ids;
  for (const auto& [at, record] : read) ids.emplace(at, record.msg_id);
  return ids;
}

}  // namespace oncemq::chaos_test
