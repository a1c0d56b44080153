#include "protocol/messages/metadata.h"

namespace oncemq::protocol {

MetadataRequest DecodeMetadataRequest(Reader& r, int16_t version) {
  MetadataRequest req;
  int32_t n = r.ArrayCount(2);
  if (n >= 0 && !(version == 0 && n == 0)) {
    req.topics.emplace();
    req.topics->reserve(static_cast<size_t>(n));
    for (int32_t i = 0; i < n && r.ok(); ++i) req.topics->push_back(r.String());
  }
  if (version >= 4) req.allow_auto_topic_creation = r.Bool();
  return req;
}

namespace {
void EncodePartition(Writer& w, const MetadataPartition& p, int16_t version) {
  w.Int16(Code(p.error));
  w.Int32(p.partition_index);
  w.Int32(p.leader_id);
  w.ArrayCount(1);  // replica_nodes: just the leader on a single node
  w.Int32(p.leader_id);
  w.ArrayCount(1);  // isr_nodes
  w.Int32(p.leader_id);
  if (version >= 5) w.ArrayCount(0);  // offline_replicas
}
}  // namespace

void EncodeMetadataResponse(Writer& w, const MetadataResponse& resp, int16_t version) {
  if (version >= 3) w.Int32(0);  // throttle_time_ms
  w.ArrayCount(static_cast<int32_t>(resp.brokers.size()));
  for (const auto& b : resp.brokers) {
    w.Int32(b.node_id);
    w.String(b.host);
    w.Int32(b.port);
    if (version >= 1) w.NullableString(std::nullopt);  // rack
  }
  if (version >= 2) w.NullableString(resp.cluster_id);
  if (version >= 1) w.Int32(resp.controller_id);
  w.ArrayCount(static_cast<int32_t>(resp.topics.size()));
  for (const auto& t : resp.topics) {
    w.Int16(Code(t.error));
    w.String(t.name);
    if (version >= 1) w.Bool(false);  // is_internal
    w.ArrayCount(static_cast<int32_t>(t.partitions.size()));
    for (const auto& p : t.partitions) EncodePartition(w, p, version);
  }
}

}  // namespace oncemq::protocol
