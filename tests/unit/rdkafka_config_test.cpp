// librdkafka's log lines reach spdlog. The retry producer shares the consumer's librdkafka settings without
// the consumer-only ones, so that librdkafka does not warn (CONFWARN) about each of them whenever a consumer
// starts.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "client/consumer/rdkafka_config.h"

namespace oncemq::client {
namespace {

std::mutex warnings_mu;
std::vector<std::string> warnings;  // guarded by warnings_mu

void CaptureLog(const rd_kafka_t*, int, const char* facility, const char* message) {
  std::lock_guard lock(warnings_mu);
  if (std::string(facility) == "CONFWARN") warnings.emplace_back(message);
}

// The CONFWARN lines librdkafka logs when a producer is created with `settings`.
std::vector<std::string> ProducerWarnings(const std::map<std::string, std::string>& settings) {
  {
    std::lock_guard lock(warnings_mu);
    warnings.clear();
  }
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[256];
  for (const auto& [name, value] : settings) {
    EXPECT_EQ(rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof(error)), RD_KAFKA_CONF_OK)
        << name << ": " << error;
  }
  rd_kafka_conf_set(conf, "bootstrap.servers", "127.0.0.1:1", error, sizeof(error));
  rd_kafka_conf_set_log_cb(conf, CaptureLog);
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  EXPECT_NE(producer, nullptr) << error;
  if (producer != nullptr) rd_kafka_destroy(producer);
  std::lock_guard lock(warnings_mu);
  return warnings;
}

const std::map<std::string, std::string> kConsumerSettings = {
    {"session.timeout.ms", "3000"}, {"heartbeat.interval.ms", "300"},  {"max.poll.interval.ms", "60000"},
    {"fetch.wait.max.ms", "50"},    {"auto.offset.reset", "earliest"}, {"socket.timeout.ms", "5000"},
    {"client.id", "billing"}};

TEST(RdKafkaConfig, ConsumerSettingsGivenToAProducerAreWarnedAbout) {
  EXPECT_FALSE(ProducerWarnings(kConsumerSettings).empty())
      << "librdkafka no longer warns; the filter is moot";
}

TEST(RdKafkaConfig, TheFilteredSettingsGiveNoWarningAndKeepTheSharedOnes) {
  const std::map<std::string, std::string> filtered = WithoutConsumerOnlySettings(kConsumerSettings);
  EXPECT_TRUE(ProducerWarnings(filtered).empty());
  EXPECT_EQ(filtered,
            (std::map<std::string, std::string>{{"socket.timeout.ms", "5000"}, {"client.id", "billing"}}));
}

TEST(RdKafkaConfig, LibrdkafkaLogLinesGoThroughSpdlog) {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  {
    auto conf = MakeRdKafkaConf({{"bootstrap.servers", "127.0.0.1:1"}, {"session.timeout.ms", "3000"}});
    ASSERT_TRUE(conf.ok()) << conf.status().ToString();
    std::string error;
    std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf->get(), error));
    ASSERT_NE(producer, nullptr) << error;
  }
  spdlog::set_default_logger(previous);
  EXPECT_NE(captured.str().find("librdkafka CONFWARN: "), std::string::npos) << captured.str();
  EXPECT_NE(captured.str().find("session.timeout.ms"), std::string::npos) << captured.str();
}

TEST(RdKafkaConfig, CooperativeRebalanceOnlyWithTheCooperativeStickyAssignor) {
  EXPECT_FALSE(UsesCooperativeRebalance({}));  // librdkafka's default: range,roundrobin
  EXPECT_FALSE(UsesCooperativeRebalance({{"partition.assignment.strategy", "range,roundrobin"}}));
  EXPECT_FALSE(UsesCooperativeRebalance({{"partition.assignment.strategy", "sticky"}}));
  EXPECT_TRUE(UsesCooperativeRebalance({{"partition.assignment.strategy", "cooperative-sticky"}}));
  EXPECT_TRUE(UsesCooperativeRebalance({{"partition.assignment.strategy", " cooperative-sticky "}}));
  EXPECT_TRUE(UsesCooperativeRebalance({{"partition.assignment.strategy", "range, cooperative-sticky"}}));
  EXPECT_FALSE(UsesCooperativeRebalance({{"group.protocol.type", "cooperative-sticky"}}));
}

}  // namespace
}  // namespace oncemq::client
