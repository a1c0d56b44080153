#include "protocol/messages/list_offsets.h"
#include "broker/api_table.h"
#include "broker/broker.h"

namespace oncemq::broker {

namespace {

using protocol::ErrorCode;

void Resolve(const Partition& partition, int64_t timestamp, protocol::ListOffsetsPartitionResponse& out) {
  const auto& log = partition.log();
  if (timestamp == protocol::kEarliestTimestamp) {
    out.offset = log.log_start().value();
    return;
  }
  if (timestamp == protocol::kLatestTimestamp) {
    out.offset = log.high_watermark().value();
    return;
  }
  auto found = log.OffsetForTimestamp(timestamp);
  if (!found.ok()) {
    out.error = ErrorCode::kKafkaStorageError;
  } else if (found->has_value()) {
    out.offset = (*found)->value();
    out.timestamp = timestamp;
  }
}

}  // namespace

Reply HandleListOffsets(std::shared_ptr<Request> request) {
  protocol::Reader r = request->BodyReader();
  auto req = protocol::DecodeListOffsetsRequest(r, request->version());
  if (!r.ok()) return Reply::Now({});
  protocol::ListOffsetsResponse resp;
  for (const auto& topic_req : req.topics) {
    auto& topic_out = resp.topics.emplace_back();
    topic_out.name = topic_req.name;
    auto topic = request->broker.topics().Find(topic_req.name);
    for (const auto& part : topic_req.partitions) {
      auto& out = topic_out.partitions.emplace_back();
      out.partition = part.partition;
      Partition* partition = topic ? topic->partition(part.partition) : nullptr;
      if (partition == nullptr) {
        out.error = ErrorCode::kUnknownTopicOrPartition;
        continue;
      }
      Resolve(*partition, part.timestamp, out);
    }
  }
  protocol::Writer w = request->StartResponse();
  protocol::EncodeListOffsetsResponse(w, resp, request->version());
  return Reply::Now(Request::Finish(w));
}

}  // namespace oncemq::broker
