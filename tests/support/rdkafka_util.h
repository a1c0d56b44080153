// Small helpers for tests that drive the broker with librdkafka's C++ API (header-only so the support
// library itself does not need librdkafka; link PkgConfig::RDKAFKA where this is included).
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace oncemq::testing {

// A global config with every property set; on failure returns nullptr and sets *error.
inline std::unique_ptr<RdKafka::Conf> MakeRdKafkaConf(const std::map<std::string, std::string>& props,
                                                      std::string* error) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  for (const auto& [k, v] : props) {
    std::string errstr;
    if (conf->set(k, v, errstr) != RdKafka::Conf::CONF_OK) {
      *error = "config " + k + "=" + v + ": " + errstr;
      return nullptr;
    }
  }
  return conf;
}

// Assigns explicit (partition, offset) pairs of one topic to a KafkaConsumer.
inline RdKafka::ErrorCode AssignPartitions(RdKafka::KafkaConsumer& consumer, const std::string& topic,
                                           const std::vector<std::pair<int32_t, int64_t>>& starts) {
  std::vector<RdKafka::TopicPartition*> parts;
  for (const auto& [p, offset] : starts) parts.push_back(RdKafka::TopicPartition::create(topic, p, offset));
  RdKafka::ErrorCode err = consumer.assign(parts);
  RdKafka::TopicPartition::destroy(parts);
  return err;
}

// Owns a consumer and closes it before deleting it.
struct ConsumerCloser {
  void operator()(RdKafka::KafkaConsumer* c) const {
    c->close();
    delete c;
  }
};
using ConsumerPtr = std::unique_ptr<RdKafka::KafkaConsumer, ConsumerCloser>;

}  // namespace oncemq::testing
