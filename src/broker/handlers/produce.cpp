#include <spdlog/spdlog.h>

#include "broker/api_table.h"
#include "broker/batch_validation.h"
#include "broker/broker.h"
#include "protocol/batch_header.h"
#include "protocol/messages/produce.h"

namespace oncemq::broker {

namespace {

using protocol::ErrorCode;

// A partition whose acks=all answer waits for its batch to be durable.
struct PendingDurable {
  std::shared_ptr<Topic> topic;  // keeps the partition alive while we wait
  Partition* partition;
  Offset end;
  size_t topic_index;
  size_t partition_index;
};

// Validates one partition's batch and hands it to the partition (sequence checks, append).
Partition::ProduceOutcome ProduceOne(const Topic& topic, Partition& partition, ByteView records,
                                     int16_t version) {
  Partition::ProduceOutcome outcome;
  outcome.error = ValidateProduceBatch(records, topic.config.max_message_bytes(), version);
  if (outcome.error != ErrorCode::kNone) {
    spdlog::warn("refused a {}-byte batch for {}/{}: {}", records.size(), topic.name, partition.id().value(),
                 protocol::ErrorName(outcome.error));
    return outcome;
  }
  // The frame belongs to this request; rewriting the base offset in place avoids copying the batch.
  MutableByteView batch(const_cast<uint8_t*>(records.data()), records.size());
  auto header = protocol::BatchHeader::Parse(records);
  return partition.Produce(batch, *header);
}

asio::awaitable<Bytes> AwaitDurableThenAnswer(std::shared_ptr<Request> request,
                                              protocol::ProduceResponse resp,
                                              std::vector<PendingDurable> pending,
                                              std::chrono::steady_clock::time_point deadline) {
  for (auto& p : pending) {
    Status status = co_await p.partition->AwaitDurable(p.end, deadline);
    if (!status.ok()) {
      auto& out = resp.topics[p.topic_index].partitions[p.partition_index];
      out.error = ToKafkaError(status);
      out.base_offset = -1;
    }
  }
  protocol::Writer w = request->StartResponse();
  protocol::EncodeProduceResponse(w, resp, request->version());
  co_return Request::Finish(w);
}

}  // namespace

Reply HandleProduce(std::shared_ptr<Request> request) {
  protocol::Reader r = request->BodyReader();
  auto req = protocol::DecodeProduceRequest(r, request->version());
  if (!r.ok()) return Reply::Now({});
  Broker& broker = request->broker;
  const bool acks_valid = req.acks == -1 || req.acks == 0 || req.acks == 1;

  protocol::ProduceResponse resp;
  std::vector<PendingDurable> pending;
  for (size_t t = 0; t < req.topics.size(); ++t) {
    const auto& topic_data = req.topics[t];
    auto& topic_out = resp.topics.emplace_back();
    topic_out.name = topic_data.name;
    auto topic = broker.topics().Find(topic_data.name);
    for (size_t p = 0; p < topic_data.partitions.size(); ++p) {
      const auto& part = topic_data.partitions[p];
      auto& out = topic_out.partitions.emplace_back();
      out.index = part.index;
      Partition* partition = topic ? topic->partition(part.index) : nullptr;
      if (!acks_valid) {
        out.error = ErrorCode::kInvalidRequiredAcks;
      } else if (req.transactional_id) {
        out.error = ErrorCode::kTransactionalIdAuthorizationFailed;  // transactions are not supported
      } else if (partition == nullptr) {
        out.error = ErrorCode::kUnknownTopicOrPartition;
      } else {
        auto outcome = ProduceOne(*topic, *partition, part.records.value_or(ByteView{}), request->version());
        out.error = outcome.error;
        if (outcome.error == ErrorCode::kNone) {
          out.base_offset = outcome.base.value();
          out.log_start_offset = partition->log().log_start().value();
          if (req.acks == -1) pending.push_back({topic, partition, outcome.durable_end, t, p});
        }
      }
    }
  }
  if (req.acks == 0) return Reply::None();
  if (!pending.empty()) {
    auto timeout = std::chrono::milliseconds(req.timeout_ms > 0 ? req.timeout_ms : 30'000);
    return Reply::Later(AwaitDurableThenAnswer(request, std::move(resp), std::move(pending),
                                               std::chrono::steady_clock::now() + timeout));
  }
  protocol::Writer w = request->StartResponse();
  protocol::EncodeProduceResponse(w, resp, request->version());
  return Reply::Now(Request::Finish(w));
}

}  // namespace oncemq::broker
