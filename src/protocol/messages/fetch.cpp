#include "protocol/messages/fetch.h"

namespace oncemq::protocol {

FetchRequest DecodeFetchRequest(Reader& r, int16_t version) {
  FetchRequest req;
  r.Int32();  // replica_id: -1 from consumers
  req.max_wait_ms = r.Int32();
  req.min_bytes = r.Int32();
  if (version >= 3) req.max_bytes = r.Int32();
  if (version >= 4) req.isolation_level = r.Int8();
  if (version >= 7) {
    r.Int32();  // session_id
    r.Int32();  // session_epoch
  }
  int32_t topics = r.ArrayCount(6);
  for (int32_t t = 0; t < topics && r.ok(); ++t) {
    FetchTopic& topic = req.topics.emplace_back();
    topic.name = r.String();
    int32_t partitions = r.ArrayCount(16);
    for (int32_t p = 0; p < partitions && r.ok(); ++p) {
      FetchPartition& part = topic.partitions.emplace_back();
      part.partition = r.Int32();
      if (version >= 9) r.Int32();  // current_leader_epoch
      part.fetch_offset = r.Int64();
      if (version >= 5) r.Int64();  // log_start_offset (followers only)
      part.partition_max_bytes = r.Int32();
    }
  }
  if (version >= 7) {
    int32_t forgotten = r.ArrayCount(6);
    for (int32_t t = 0; t < forgotten && r.ok(); ++t) {
      r.String();
      int32_t partitions = r.ArrayCount(4);
      for (int32_t p = 0; p < partitions && r.ok(); ++p) r.Int32();
    }
  }
  if (version >= 11) r.String();  // rack_id
  return req;
}

void EncodeFetchResponse(Writer& w, const FetchResponse& resp, int16_t version) {
  if (version >= 1) w.Int32(0);  // throttle_time_ms goes first in Fetch
  if (version >= 7) {
    w.Int16(0);  // top-level error_code
    w.Int32(0);  // session_id: no sessions
  }
  w.ArrayCount(static_cast<int32_t>(resp.topics.size()));
  for (const auto& t : resp.topics) {
    w.String(t.name);
    w.ArrayCount(static_cast<int32_t>(t.partitions.size()));
    for (const auto& p : t.partitions) {
      w.Int32(p.partition);
      w.Int16(Code(p.error));
      w.Int64(p.high_watermark);
      w.Int64(p.high_watermark);  // last_stable_offset = high watermark: no transactions
      if (version >= 5) w.Int64(p.log_start_offset);
      w.ArrayCount(0);                 // aborted_transactions: none
      if (version >= 11) w.Int32(-1);  // preferred_read_replica: read from us
      w.NullableBytes(p.records);
    }
  }
}

}  // namespace oncemq::protocol
