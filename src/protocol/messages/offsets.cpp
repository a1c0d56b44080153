#include "protocol/messages/offsets.h"

namespace oncemq::protocol {

namespace {

// Bytes of one OffsetCommit partition: index, offset, [v6+ leader epoch], [v1 timestamp], metadata.
size_t CommitPartitionSize(int16_t version) {
  return 4 + 8 + (version >= 6 ? 4 : 0) + (version == 1 ? 8 : 0) + 2;
}

void DecodeCommitPartitions(Reader& r, int16_t version, OffsetCommitTopic& topic) {
  int32_t partitions = r.NonNullArrayCount(CommitPartitionSize(version));
  for (int32_t i = 0; i < partitions && r.ok(); ++i) {
    OffsetCommitPartition& p = topic.partitions.emplace_back();
    p.partition = r.Int32();
    p.committed_offset = r.Int64();
    if (version >= 6) p.committed_leader_epoch = r.Int32();
    if (version == 1) p.commit_timestamp = r.Int64();
    p.metadata = r.NullableString();
  }
}

// Writes ARRAY(name STRING, ARRAY(partition)); encode_partition writes each partition element.
template <typename Topic, typename EncodePartition>
void EncodeTopics(Writer& w, const std::vector<Topic>& topics, EncodePartition encode_partition) {
  w.ArrayCount(static_cast<int32_t>(topics.size()));
  for (const auto& t : topics) {
    w.String(t.name);
    w.ArrayCount(static_cast<int32_t>(t.partitions.size()));
    for (const auto& p : t.partitions) encode_partition(p);
  }
}

}  // namespace

// ---- OffsetCommit ----

OffsetCommitRequest DecodeOffsetCommitRequest(Reader& r, int16_t version) {
  OffsetCommitRequest req;
  req.group_id = r.String();
  if (version >= 1) {
    req.generation_id = r.Int32();
    req.member_id = r.String();
  }
  if (version >= 7) req.group_instance_id = r.NullableString();
  if (version >= 2 && version <= 4) req.retention_time_ms = r.Int64();
  int32_t topics = r.NonNullArrayCount(6);  // name STRING + partitions ARRAY
  for (int32_t t = 0; t < topics && r.ok(); ++t) {
    OffsetCommitTopic& topic = req.topics.emplace_back();
    topic.name = r.String();
    DecodeCommitPartitions(r, version, topic);
  }
  return req;
}

void EncodeOffsetCommitResponse(Writer& w, const OffsetCommitResponse& resp, int16_t version) {
  if (version >= 3) w.Int32(0);  // throttle_time_ms
  EncodeTopics(w, resp.topics, [&w](const OffsetCommitPartitionResponse& p) {
    w.Int32(p.partition);
    w.Int16(Code(p.error));
  });
}

// ---- OffsetFetch ----

OffsetFetchRequest DecodeOffsetFetchRequest(Reader& r, int16_t version) {
  OffsetFetchRequest req;
  req.group_id = r.String();
  int32_t topics = r.ArrayCount(6);  // name STRING + partition_indexes ARRAY
  if (topics < 0) {
    if (version < 2) r.Fail();  // null means "all partitions" only from v2
    return req;
  }
  req.topics.emplace();
  for (int32_t t = 0; t < topics && r.ok(); ++t) {
    OffsetFetchTopic& topic = req.topics->emplace_back();
    topic.name = r.String();
    int32_t partitions = r.NonNullArrayCount(4);
    for (int32_t p = 0; p < partitions && r.ok(); ++p) topic.partitions.push_back(r.Int32());
  }
  return req;
}

void EncodeOffsetFetchResponse(Writer& w, const OffsetFetchResponse& resp, int16_t version) {
  if (version >= 3) w.Int32(0);  // throttle_time_ms
  EncodeTopics(w, resp.topics, [&w, version](const OffsetFetchPartitionResponse& p) {
    w.Int32(p.partition);
    w.Int64(p.committed_offset);
    if (version >= 5) w.Int32(p.committed_leader_epoch);
    w.NullableString(p.metadata);
    w.Int16(Code(p.error));
  });
  if (version >= 2) w.Int16(Code(resp.error));  // the top-level error comes last
}

}  // namespace oncemq::protocol
