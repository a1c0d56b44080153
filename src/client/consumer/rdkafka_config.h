// librdkafka plumbing shared by the SDK's consumer and producers: building a configuration from a map, and
// creating topics that do not exist yet.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "oncemq/status.h"

namespace oncemq::client {

// A global configuration with every setting applied; kInvalidArgument names the first one refused.
// librdkafka's log lines and errors go to spdlog's default logger (librdkafka severities mapped to
// err/warn/info/debug), so the application's spdlog settings cover them too.
Result<std::unique_ptr<RdKafka::Conf>> MakeRdKafkaConf(const std::map<std::string, std::string>& settings);

// `settings` without librdkafka's consumer-only properties (group.id, session.timeout.ms, fetch.*, …), for
// the producer that shares a consumer's settings: librdkafka would warn about each (CONFWARN) on every start.
std::map<std::string, std::string> WithoutConsumerOnlySettings(std::map<std::string, std::string> settings);

// Whether a consumer with `settings` rebalances incrementally (COOPERATIVE): its
// partition.assignment.strategy names cooperative-sticky (librdkafka refuses a mix of eager and cooperative
// assignors). Read from the settings because rd_kafka_rebalance_protocol() waits on librdkafka's main
// thread, which a rebalance callback served inside close() can wait on for ever.
bool UsesCooperativeRebalance(const std::map<std::string, std::string>& settings);

// Creates those of `names` that do not exist, with `partitions` each; existing topics are left as they are.
// `configs` are set on the new topics; a cluster that refuses one (INVALID_CONFIG: Kafka does not know
// oncemq's own settings) gets the topics without them. kUnavailable when the cluster does not answer within
// `timeout`.
Status CreateMissingTopics(rd_kafka_t* handle, const std::vector<std::string>& names, int partitions,
                           std::chrono::milliseconds timeout,
                           const std::map<std::string, std::string>& configs = {});

}  // namespace oncemq::client
