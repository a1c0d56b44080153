#include "client/consumer/route_producer.h"

#include <librdkafka/rdkafka.h>

#include <array>
#include <string_view>
#include <thread>

#include "client/consumer/rdkafka_config.h"

namespace oncemq::client {

void RouteProducer::Reports::dr_cb(RdKafka::Message& message) {
  auto* slot = static_cast<DeliverySlot*>(message.msg_opaque());
  if (slot == nullptr) return;
  --pending;
  if (message.err() == RdKafka::ERR_NO_ERROR) {
    slot->state = DeliverySlot::State::kDelivered;
  } else {
    slot->state = DeliverySlot::State::kFailed;
    slot->error = message.errstr();
  }
}

Result<std::unique_ptr<RouteProducer>> RouteProducer::Create(
    const std::string& bootstrap_servers, const std::map<std::string, std::string>& config) {
  std::unique_ptr<RouteProducer> producer(new RouteProducer());
  std::map<std::string, std::string> settings = WithoutConsumerOnlySettings(config);
  settings["bootstrap.servers"] = bootstrap_servers;
  settings["enable.idempotence"] = "true";
  settings["acks"] = "all";
  settings.try_emplace("linger.ms", "2");
  settings.try_emplace("message.timeout.ms", "30000");
  auto conf = MakeRdKafkaConf(settings);
  if (!conf.ok()) return conf.status();
  std::string error;
  if ((*conf)->set("dr_cb", &producer->reports_, error) != RdKafka::Conf::CONF_OK) {
    return Status::InvalidArgument("retry producer: " + error);
  }
  producer->message_timeout_ = std::chrono::milliseconds(std::stoll(settings["message.timeout.ms"]));
  producer->producer_.reset(RdKafka::Producer::create(conf->get(), error));
  if (!producer->producer_) return Status::InvalidArgument("retry producer: " + error);
  return producer;
}

RouteProducer::~RouteProducer() {
  if (producer_) producer_->flush(5'000);
}

Status RouteProducer::EnsureTopics(const std::vector<std::string>& names, int partitions,
                                   std::chrono::milliseconds timeout) {
  return CreateMissingTopics(producer_->c_ptr(), names, partitions, timeout, {{"dedup.window.ms", "0"}});
}

namespace {

bool Replaced(std::string_view name) {
  return name == headers::kAttempt || name == headers::kDeliverAt || name == headers::kError;
}

void AddHeader(RdKafka::Headers* headers, std::string_view name, const std::string& value) {
  headers->add(std::string(name), value.data(), value.size());
}

// The original's headers minus those the copy replaces, then the copy's own.
RdKafka::Headers* CopyHeaders(const MessageView& original, const Route& route) {
  RdKafka::Headers* headers = RdKafka::Headers::create();
  auto* message = static_cast<rd_kafka_message_t*>(const_cast<void*>(original.native));
  rd_kafka_headers_t* found = nullptr;
  bool has_origin = false;
  if (message != nullptr && rd_kafka_message_headers(message, &found) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0; rd_kafka_header_get_all(found, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      if (Replaced(name)) continue;
      has_origin = has_origin || std::string_view(name) == headers::kOriginTopic;
      headers->add(name, value, size);
    }
  }
  if (!has_origin) {
    AddHeader(headers, headers::kOriginTopic, std::string(original.topic));
    AddHeader(headers, headers::kOriginPartition, std::to_string(original.partition));
    AddHeader(headers, headers::kOriginOffset, std::to_string(original.offset));
  }
  AddHeader(headers, headers::kAttempt, std::to_string(route.attempts));
  AddHeader(headers, headers::kDeliverAt, std::to_string(route.deliver_at_ms));
  AddHeader(headers, headers::kError, route.error);
  return headers;
}

}  // namespace

void RouteProducer::Send(const MessageView& original, const Route& route, DeliverySlot* slot) {
  RdKafka::Headers* headers = CopyHeaders(original, route);
  const void* key = original.key ? original.key->data() : nullptr;
  const size_t key_size = original.key ? original.key->size() : 0;
  for (int tries = 0;; ++tries) {
    RdKafka::ErrorCode err = producer_->produce(
        route.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
        const_cast<char*>(original.payload.data()), original.payload.size(), key, key_size, 0, headers, slot);
    if (err == RdKafka::ERR_NO_ERROR) {  // the producer owns the headers now
      slot->state = DeliverySlot::State::kPending;
      ++reports_.pending;
      return;
    }
    if (err == RdKafka::ERR__QUEUE_FULL && tries < 100) {
      producer_->poll(50);
      continue;
    }
    delete headers;
    slot->state = DeliverySlot::State::kFailed;
    slot->error = RdKafka::err2str(err);
    return;
  }
}

void RouteProducer::AwaitAll() {
  const auto deadline = std::chrono::steady_clock::now() + message_timeout_ + std::chrono::seconds(5);
  while (reports_.pending > 0 && std::chrono::steady_clock::now() < deadline) producer_->poll(50);
  if (reports_.pending == 0) return;
  producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  while (reports_.pending > 0) producer_->poll(50);
}

}  // namespace oncemq::client
