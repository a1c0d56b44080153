// RouteProducer: writes the retry and dead-letter copies of messages, and tells which copies are durable.
//
// Producer settings: enable.idempotence=true, acks=all — a copy counts as moved only when the broker has
// acknowledged it durably; only then may the consumer commit past the original. A copy keeps the original
// key, payload and headers; the oncemq-attempt, oncemq-deliver-at and oncemq-error headers are replaced,
// and the oncemq-origin-* headers are set from the original unless it carries them already (a copy of a
// copy still names the first topic).
// Thread safety: one thread (the consumer loop) uses it; delivery reports run inside AwaitAll.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client/consumer/retry_route.h"
#include "oncemq/idempotent_consumer.h"
#include "oncemq/status.h"

namespace oncemq::client {

// The fate of one copy; written by the delivery report.
struct DeliverySlot {
  enum class State { kIdle, kPending, kDelivered, kFailed };
  State state = State::kIdle;
  std::string error;
};

class RouteProducer {
 public:
  static Result<std::unique_ptr<RouteProducer>> Create(const std::string& bootstrap_servers,
                                                       const std::map<std::string, std::string>& config);
  ~RouteProducer();

  // Creates the topics that do not exist yet (partitions each, replication 1 unless the cluster's default),
  // with oncemq's message-id window off on them (where the cluster is oncemq): the same message is copied
  // to a retry topic more than once by design (a concurrent duplicate, a replayed dead letter), and a
  // window would drop the later copy while acknowledging it — the message would be lost.
  Status EnsureTopics(const std::vector<std::string>& names, int partitions,
                      std::chrono::milliseconds timeout);

  // Enqueues the copy; `slot` (which must stay put until AwaitAll returns) becomes kPending, later
  // kDelivered or kFailed. A copy that could not even be enqueued is kFailed at once.
  void Send(const MessageView& original, const Route& route, DeliverySlot* slot);
  // Serves delivery reports until none is pending. librdkafka reports every message within
  // message.timeout.ms (30 s unless configured); should one still be missing a while after that, the
  // copies are purged, which reports them kFailed. So on return no slot is kPending any more.
  void AwaitAll();

 private:
  class Reports : public RdKafka::DeliveryReportCb {
   public:
    void dr_cb(RdKafka::Message& message) override;
    int pending = 0;
  };
  RouteProducer() = default;

  std::chrono::milliseconds message_timeout_{30'000};
  Reports reports_;
  std::unique_ptr<RdKafka::Producer> producer_;
};

}  // namespace oncemq::client
