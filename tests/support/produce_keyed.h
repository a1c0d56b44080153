// ProduceKeyed: messages that carry a business key in oncemq-msg-id, sent to the broker by an idempotent
// librdkafka producer, for integration tests of the consumer side. Header-only, like rdkafka_util.h; the
// including test links librdkafka and sees include/ (oncemq/idempotent_consumer.h names the header).
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "oncemq/idempotent_consumer.h"
#include "support/rdkafka_util.h"

namespace oncemq::testing {

// A message to produce: record key `key`, header oncemq-msg-id `msg_id` ("" for `key`, the usual business
// key), to `partition` (PARTITION_UA: the partitioner picks), with `headers` after it.
struct KeyedMessage {
  int32_t partition = RdKafka::Topic::PARTITION_UA;
  std::string key = {};
  std::string payload = {};
  std::string msg_id = {};
  std::map<std::string, std::string> headers = {};
};

// Produces `messages` to `topic` through an idempotent acks=all producer (plus `settings`) and waits, at
// most `bound`, for every acknowledgement: "" or what went wrong.
inline std::string ProduceKeyed(const std::string& address, const std::string& topic,
                                const std::vector<KeyedMessage>& messages,
                                const std::map<std::string, std::string>& settings = {},
                                std::chrono::steady_clock::duration bound = std::chrono::seconds(90)) {
  std::map<std::string, std::string> props = {
      {"bootstrap.servers", address}, {"acks", "all"}, {"enable.idempotence", "true"}};
  for (const auto& [k, v] : settings) props[k] = v;
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf = MakeRdKafkaConf(props, &error);
  if (conf == nullptr) return error;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  if (producer == nullptr) return "producer: " + error;
  const auto deadline = std::chrono::steady_clock::now() + bound;
  for (size_t i = 0; i < messages.size();) {
    const KeyedMessage& m = messages[i];
    RdKafka::Headers* headers = RdKafka::Headers::create();
    headers->add(std::string(headers::kMsgId), m.msg_id.empty() ? m.key : m.msg_id);
    for (const auto& [name, value] : m.headers) headers->add(name, value);
    const RdKafka::ErrorCode err = producer->produce(topic, m.partition, RdKafka::Producer::RK_MSG_COPY,
                                                     const_cast<char*>(m.payload.data()), m.payload.size(),
                                                     m.key.data(), m.key.size(), 0, headers, nullptr);
    if (err != RdKafka::ERR_NO_ERROR) delete headers;  // produce took it only on success
    if (err == RdKafka::ERR__QUEUE_FULL && std::chrono::steady_clock::now() < deadline) {
      producer->poll(50);
      continue;
    }
    if (err != RdKafka::ERR_NO_ERROR) return "produce: " + RdKafka::err2str(err);
    producer->poll(0);
    ++i;
  }
  while (producer->outq_len() > 0 && std::chrono::steady_clock::now() < deadline) producer->flush(200);
  return producer->outq_len() == 0 ? "" : "messages unacknowledged after the bound";
}

}  // namespace oncemq::testing
