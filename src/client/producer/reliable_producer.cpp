#include "oncemq/reliable_producer.h"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <string_view>

#include "client/consumer/rdkafka_config.h"
#include "common/clock.h"
#include "oncemq/idempotent_consumer.h"

namespace oncemq {

namespace {

// What a message waiting for its answer carries through librdkafka (its msg_opaque).
struct PendingSend {
  std::string msg_id;
  ConfirmCallback on_confirm;
};

// Errors that sending the same message again cannot cure.
bool Permanent(RdKafka::ErrorCode err) {
  switch (err) {
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
    case RdKafka::ERR_RECORD_LIST_TOO_LARGE:
    case RdKafka::ERR_INVALID_RECORD:
    case RdKafka::ERR_INVALID_MSG_SIZE:
    case RdKafka::ERR_TOPIC_EXCEPTION:
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR__INVALID_ARG: return true;
    default: return false;
  }
}

Status StatusOf(RdKafka::ErrorCode err) {
  std::string message =
      "produce: " + RdKafka::err2str(err) + " (" + std::to_string(static_cast<int>(err)) + ")";
  return Permanent(err) ? Status::InvalidArgument(std::move(message))
                        : Status::Unavailable(std::move(message));
}

void Confirm(PendingSend& send, Status status, int32_t partition, int64_t offset) {
  send.on_confirm(Confirmation{std::move(status), send.msg_id, partition, offset});
}

}  // namespace

class ReliableProducer::Impl : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    std::unique_ptr<PendingSend> send(static_cast<PendingSend*>(message.msg_opaque()));
    if (send == nullptr) return;
    --pending_;
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      Confirm(*send, Status::Ok(), message.partition(), message.offset());
    } else {
      Confirm(*send, StatusOf(message.err()), -1, -1);
    }
  }

  Status Init(const ReliableProducerOptions& options) {
    std::map<std::string, std::string> settings = options.kafka_config;
    settings["bootstrap.servers"] = options.bootstrap_servers;
    settings["enable.idempotence"] = "true";
    settings["acks"] = "all";
    settings["message.timeout.ms"] = std::to_string(options.ack_timeout.count());
    settings.try_emplace("linger.ms", "2");
    ack_timeout_ = options.ack_timeout;
    auto conf = client::MakeRdKafkaConf(settings);
    if (!conf.ok()) return conf.status();
    std::string error;
    if ((*conf)->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(this), error) !=
        RdKafka::Conf::CONF_OK) {
      return Status::InvalidArgument("reliable producer: " + error);
    }
    producer_.reset(RdKafka::Producer::create(conf->get(), error));
    if (!producer_) return Status::InvalidArgument("reliable producer: " + error);
    return Status::Ok();
  }

  std::string Send(OutgoingMessage m, ConfirmCallback on_confirm) {
    auto send = std::make_unique<PendingSend>(PendingSend{IdOf(m), std::move(on_confirm)});
    RdKafka::Headers* headers = HeadersOf(m, send->msg_id);
    const void* key = m.key ? m.key->data() : nullptr;
    const size_t key_size = m.key ? m.key->size() : 0;
    const int64_t deadline = SteadyMs() + ack_timeout_.count();
    for (;;) {
      const RdKafka::ErrorCode err =
          producer_->produce(m.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                             m.payload.data(), m.payload.size(), key, key_size, 0, headers, send.get());
      if (err == RdKafka::ERR_NO_ERROR) {  // librdkafka owns the headers and the pending send now
        ++pending_;
        return send.release()->msg_id;
      }
      if (err == RdKafka::ERR__QUEUE_FULL && SteadyMs() < deadline) {
        producer_->poll(10);
        continue;
      }
      delete headers;
      std::string id = send->msg_id;
      Confirm(*send, StatusOf(err), -1, -1);
      return id;
    }
  }

  int Poll(std::chrono::milliseconds timeout) { return producer_->poll(static_cast<int>(timeout.count())); }

  Status Flush(std::chrono::milliseconds timeout) {
    const int64_t deadline = SteadyMs() + timeout.count();
    while (pending_ > 0) {
      const int64_t left = deadline - SteadyMs();
      if (left <= 0) break;
      producer_->poll(static_cast<int>(std::min<int64_t>(left, 50)));
    }
    if (pending_ == 0) return Status::Ok();
    return Status::Unavailable("reliable producer: " + std::to_string(pending_) +
                               " messages still unanswered");
  }

  size_t pending() const { return pending_; }

  bool Reachable(std::chrono::milliseconds timeout) {
    RdKafka::Metadata* metadata = nullptr;
    const RdKafka::ErrorCode err =
        producer_->metadata(false, nullptr, &metadata, static_cast<int>(timeout.count()));
    delete metadata;
    return err == RdKafka::ERR_NO_ERROR;
  }

  // Answers every message still waiting (each gets its nack through dr_cb) and stops.
  void Close() {
    if (!producer_) return;
    (void)Flush(ack_timeout_ + std::chrono::seconds(5));
    producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
    while (pending_ > 0) producer_->poll(50);
    producer_.reset();
  }

 private:
  static std::string IdOf(const OutgoingMessage& m) {
    for (const auto& [name, value] : m.headers) {
      if (name == headers::kMsgId && !value.empty()) return value;
    }
    return m.msg_id.empty() ? NewMessageId() : m.msg_id;
  }

  static RdKafka::Headers* HeadersOf(const OutgoingMessage& m, const std::string& msg_id) {
    RdKafka::Headers* headers = RdKafka::Headers::create();
    for (const auto& [name, value] : m.headers) {
      if (name != headers::kMsgId) headers->add(name, value.data(), value.size());
    }
    headers->add(std::string(headers::kMsgId), msg_id.data(), msg_id.size());
    return headers;
  }

  std::chrono::milliseconds ack_timeout_{30'000};
  size_t pending_ = 0;
  std::unique_ptr<RdKafka::Producer> producer_;
};

Result<std::unique_ptr<ReliableProducer>> ReliableProducer::Create(const ReliableProducerOptions& options) {
  if (options.ack_timeout.count() <= 0)
    return Status::InvalidArgument("reliable producer: ack_timeout must be positive");
  auto impl = std::make_unique<Impl>();
  if (Status s = impl->Init(options); !s.ok()) return s;
  return std::unique_ptr<ReliableProducer>(new ReliableProducer(std::move(impl)));
}

ReliableProducer::ReliableProducer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ReliableProducer::~ReliableProducer() {
  impl_->Close();
}

std::string ReliableProducer::Send(OutgoingMessage message, ConfirmCallback on_confirm) {
  return impl_->Send(std::move(message), std::move(on_confirm));
}
int ReliableProducer::Poll(std::chrono::milliseconds timeout) {
  return impl_->Poll(timeout);
}
Status ReliableProducer::Flush(std::chrono::milliseconds timeout) {
  return impl_->Flush(timeout);
}
size_t ReliableProducer::pending() const {
  return impl_->pending();
}
bool ReliableProducer::Reachable(std::chrono::milliseconds timeout) {
  return impl_->Reachable(timeout);
}

}  // namespace oncemq
