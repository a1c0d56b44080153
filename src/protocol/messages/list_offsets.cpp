#include "protocol/messages/list_offsets.h"

namespace oncemq::protocol {

ListOffsetsRequest DecodeListOffsetsRequest(Reader& r, int16_t version) {
  ListOffsetsRequest req;
  r.Int32();  // replica_id
  if (version >= 2) req.isolation_level = r.Int8();
  int32_t topics = r.ArrayCount(6);
  for (int32_t t = 0; t < topics && r.ok(); ++t) {
    ListOffsetsTopic& topic = req.topics.emplace_back();
    topic.name = r.String();
    int32_t partitions = r.ArrayCount(12);
    for (int32_t p = 0; p < partitions && r.ok(); ++p) {
      ListOffsetsPartition& part = topic.partitions.emplace_back();
      part.partition = r.Int32();
      part.timestamp = r.Int64();
      if (version == 0) r.Int32();  // max_num_offsets
    }
  }
  return req;
}

void EncodeListOffsetsResponse(Writer& w, const ListOffsetsResponse& resp, int16_t version) {
  if (version >= 2) w.Int32(0);  // throttle_time_ms
  w.ArrayCount(static_cast<int32_t>(resp.topics.size()));
  for (const auto& t : resp.topics) {
    w.String(t.name);
    w.ArrayCount(static_cast<int32_t>(t.partitions.size()));
    for (const auto& p : t.partitions) {
      w.Int32(p.partition);
      w.Int16(Code(p.error));
      if (version == 0) {
        bool found = p.error == ErrorCode::kNone && p.offset >= 0;
        w.ArrayCount(found ? 1 : 0);
        if (found) w.Int64(p.offset);
      } else {
        w.Int64(p.timestamp);
        w.Int64(p.offset);
      }
    }
  }
}

}  // namespace oncemq::protocol
