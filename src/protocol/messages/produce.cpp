#include "protocol/messages/produce.h"

namespace oncemq::protocol {

ProduceRequest DecodeProduceRequest(Reader& r, int16_t version) {
  ProduceRequest req;
  if (version >= 3) req.transactional_id = r.NullableString();
  req.acks = r.Int16();
  req.timeout_ms = r.Int32();
  int32_t topics = r.ArrayCount(6);
  for (int32_t t = 0; t < topics && r.ok(); ++t) {
    ProduceTopicData& topic = req.topics.emplace_back();
    topic.name = r.String();
    int32_t partitions = r.ArrayCount(8);
    for (int32_t p = 0; p < partitions && r.ok(); ++p) {
      ProducePartitionData& part = topic.partitions.emplace_back();
      part.index = r.Int32();
      part.records = r.NullableBytes();
    }
  }
  return req;
}

void EncodeProduceResponse(Writer& w, const ProduceResponse& resp, int16_t version) {
  w.ArrayCount(static_cast<int32_t>(resp.topics.size()));
  for (const auto& t : resp.topics) {
    w.String(t.name);
    w.ArrayCount(static_cast<int32_t>(t.partitions.size()));
    for (const auto& p : t.partitions) {
      w.Int32(p.index);
      w.Int16(Code(p.error));
      w.Int64(p.base_offset);
      if (version >= 2) w.Int64(p.log_append_time_ms);
      if (version >= 5) w.Int64(p.log_start_offset);
    }
  }
  if (version >= 1) w.Int32(0);  // throttle_time_ms goes last in Produce
}

}  // namespace oncemq::protocol
