#include "client/consumer/rdkafka_config.h"

#include <spdlog/spdlog.h>

#include <array>
#include <stdexcept>
#include <string_view>

namespace oncemq::client {

namespace {

// librdkafka's own log lines and errors, through the application's spdlog logger: one format, one level
// setting for everything the SDK says. Called from librdkafka's threads (spdlog's loggers are thread-safe).
class SpdlogEvents : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& event) override {
    if (event.type() == RdKafka::Event::EVENT_LOG) {
      spdlog::log(LevelOf(event.severity()), "librdkafka {}: {}", event.fac(), event.str());
    } else if (event.type() == RdKafka::Event::EVENT_ERROR) {
      spdlog::log(event.fatal() ? spdlog::level::err : spdlog::level::warn, "librdkafka: {}: {}",
                  RdKafka::err2str(event.err()), event.str());
    }
  }

 private:
  // Syslog severities, as librdkafka uses them.
  static spdlog::level::level_enum LevelOf(RdKafka::Event::Severity severity) {
    switch (severity) {
      case RdKafka::Event::EVENT_SEVERITY_EMERG:
      case RdKafka::Event::EVENT_SEVERITY_ALERT:
      case RdKafka::Event::EVENT_SEVERITY_CRITICAL:
      case RdKafka::Event::EVENT_SEVERITY_ERROR: return spdlog::level::err;
      case RdKafka::Event::EVENT_SEVERITY_WARNING: return spdlog::level::warn;
      case RdKafka::Event::EVENT_SEVERITY_NOTICE:
      case RdKafka::Event::EVENT_SEVERITY_INFO: return spdlog::level::info;
      case RdKafka::Event::EVENT_SEVERITY_DEBUG: return spdlog::level::debug;
    }
    return spdlog::level::info;
  }
};

SpdlogEvents spdlog_events;

}  // namespace

Result<std::unique_ptr<RdKafka::Conf>> MakeRdKafkaConf(const std::map<std::string, std::string>& settings) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  if (conf->set("event_cb", &spdlog_events, error) != RdKafka::Conf::CONF_OK) {
    throw std::logic_error("librdkafka refused event_cb: " + error);  // a build against a broken librdkafka
  }
  for (const auto& [name, value] : settings) {
    if (conf->set(name, value, error) != RdKafka::Conf::CONF_OK) {
      return Status::InvalidArgument("librdkafka setting " + name + "=" + value + ": " + error);
    }
  }
  return conf;
}

std::map<std::string, std::string> WithoutConsumerOnlySettings(std::map<std::string, std::string> settings) {
  // The global and topic properties librdkafka marks "C" (consumer only) in its CONFIGURATION.md.
  static constexpr std::array<std::string_view, 27> kConsumerOnly = {
      "group.id",
      "group.instance.id",
      "group.protocol",
      "group.protocol.type",
      "group.remote.assignor",
      "partition.assignment.strategy",
      "session.timeout.ms",
      "heartbeat.interval.ms",
      "coordinator.query.interval.ms",
      "max.poll.interval.ms",
      "enable.auto.commit",
      "auto.commit.interval.ms",
      "enable.auto.offset.store",
      "queued.min.messages",
      "queued.max.messages.kbytes",
      "fetch.wait.max.ms",
      "fetch.queue.backoff.ms",
      "fetch.message.max.bytes",
      "max.partition.fetch.bytes",
      "fetch.max.bytes",
      "fetch.min.bytes",
      "fetch.error.backoff.ms",
      "isolation.level",
      "enable.partition.eof",
      "check.crcs",
      "auto.offset.reset",
      "consume.callback.max.messages",
  };
  for (std::string_view name : kConsumerOnly) settings.erase(std::string(name));
  return settings;
}

namespace {

template <auto kDestroy>
struct Deleter {
  template <typename T>
  void operator()(T* object) const {
    kDestroy(object);
  }
};
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, Deleter<rd_kafka_queue_destroy>>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, Deleter<rd_kafka_event_destroy>>;
using OptionsPtr = std::unique_ptr<rd_kafka_AdminOptions_t, Deleter<rd_kafka_AdminOptions_destroy>>;
using NewTopicPtr = std::unique_ptr<rd_kafka_NewTopic_t, Deleter<rd_kafka_NewTopic_destroy>>;

// One CreateTopics call; the names it refused for a configuration are added to `refused_config`.
Status CreateTopicsOnce(rd_kafka_t* handle, const std::vector<std::string>& names, int partitions,
                        std::chrono::milliseconds timeout, const std::map<std::string, std::string>& configs,
                        std::vector<std::string>& refused_config) {
  std::array<char, 512> error{};
  std::vector<NewTopicPtr> owned;
  std::vector<rd_kafka_NewTopic_t*> topics;
  for (const std::string& name : names) {
    owned.emplace_back(rd_kafka_NewTopic_new(name.c_str(), partitions, -1, error.data(), error.size()));
    if (owned.back() == nullptr) return Status::InvalidArgument("topic " + name + ": " + error.data());
    for (const auto& [key, value] : configs) {
      if (rd_kafka_NewTopic_set_config(owned.back().get(), key.c_str(), value.c_str()) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        return Status::InvalidArgument("topic " + name + ": cannot set " + key);
      }
    }
    topics.push_back(owned.back().get());
  }
  OptionsPtr options(rd_kafka_AdminOptions_new(handle, RD_KAFKA_ADMIN_OP_CREATETOPICS));
  const int timeout_ms = static_cast<int>(timeout.count());
  rd_kafka_AdminOptions_set_request_timeout(options.get(), timeout_ms, error.data(), error.size());
  rd_kafka_AdminOptions_set_operation_timeout(options.get(), timeout_ms, error.data(), error.size());
  QueuePtr queue(rd_kafka_queue_new(handle));
  rd_kafka_CreateTopics(handle, topics.data(), topics.size(), options.get(), queue.get());
  EventPtr event(rd_kafka_queue_poll(queue.get(), timeout_ms + 1'000));
  if (event == nullptr) return Status::Unavailable("creating topics: no answer from the cluster in time");
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Unavailable(std::string("creating topics: ") + rd_kafka_event_error_string(event.get()));
  }
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event.get()), &count);
  for (size_t i = 0; i < count; ++i) {
    rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) continue;
    if (err == RD_KAFKA_RESP_ERR_INVALID_CONFIG && !configs.empty()) {
      refused_config.emplace_back(rd_kafka_topic_result_name(results[i]));
      continue;
    }
    const char* detail = rd_kafka_topic_result_error_string(results[i]);
    return Status::Unavailable(std::string("creating topic ") + rd_kafka_topic_result_name(results[i]) +
                               ": " + (detail != nullptr ? detail : rd_kafka_err2str(err)));
  }
  return Status::Ok();
}

}  // namespace

Status CreateMissingTopics(rd_kafka_t* handle, const std::vector<std::string>& names, int partitions,
                           std::chrono::milliseconds timeout,
                           const std::map<std::string, std::string>& configs) {
  if (names.empty()) return Status::Ok();
  std::vector<std::string> refused_config;
  if (Status s = CreateTopicsOnce(handle, names, partitions, timeout, configs, refused_config); !s.ok()) {
    return s;
  }
  if (refused_config.empty()) return Status::Ok();
  std::vector<std::string> unused;
  return CreateTopicsOnce(handle, refused_config, partitions, timeout, {}, unused);
}

bool UsesCooperativeRebalance(const std::map<std::string, std::string>& settings) {
  auto strategy = settings.find("partition.assignment.strategy");
  if (strategy == settings.end()) return false;  // librdkafka's default: range,roundrobin
  std::string_view rest = strategy->second;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view name = rest.substr(0, comma);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (name == "cooperative-sticky") return true;
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return false;
}

}  // namespace oncemq::client
