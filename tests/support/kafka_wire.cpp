#include "support/kafka_wire.h"

#include <atomic>

namespace oncemq::testing {

namespace {

std::atomic<int32_t> next_correlation_id{1000};

int32_t NullableArray(protocol::Reader& r) {
  return r.ArrayCount();
}

}  // namespace

Bytes RequestPayload(int16_t api_key, int16_t api_version, int32_t correlation_id, ByteView body,
                     bool flexible_header, std::optional<std::string> client_id) {
  protocol::Writer w;
  w.Int16(api_key);
  w.Int16(api_version);
  w.Int32(correlation_id);
  w.NullableString(client_id ? std::optional<std::string_view>(*client_id) : std::nullopt);
  if (flexible_header) w.EmptyTaggedFields();
  w.Raw(body);
  return w.Take();
}

Bytes ApiVersionsV3Body(const std::string& software_name, const std::string& software_version) {
  protocol::Writer w;
  w.CompactString(software_name);
  w.CompactString(software_version);
  w.EmptyTaggedFields();
  return w.Take();
}

Bytes MetadataV4Body(const std::optional<std::vector<std::string>>& topics, bool allow_auto_create) {
  protocol::Writer w;
  if (!topics) {
    w.ArrayCount(-1);
  } else {
    w.ArrayCount(static_cast<int32_t>(topics->size()));
    for (const auto& t : *topics) w.String(t);
  }
  w.Bool(allow_auto_create);
  return w.Take();
}

Bytes ProduceV7Body(int16_t acks, int32_t timeout_ms, const std::vector<ProducePartition>& partitions) {
  protocol::Writer w;
  w.NullableString(std::nullopt);  // transactional_id
  w.Int16(acks);
  w.Int32(timeout_ms);
  // One topic_data element per run of consecutive entries of the same topic.
  WriteTopicArray(
      w, partitions, [](const ProducePartition& p) -> std::string_view { return p.topic; },
      [&w](const ProducePartition& p) {
        w.Int32(p.partition);
        if (p.records) {
          w.NullableBytes(ByteView(*p.records));
        } else {
          w.NullableBytes(std::nullopt);
        }
      });
  return w.Take();
}

Bytes FetchV11Body(const std::string& topic, int32_t partition, int64_t fetch_offset, int32_t max_wait_ms,
                   int32_t min_bytes, int32_t max_bytes) {
  protocol::Writer w;
  w.Int32(-1);  // replica_id
  w.Int32(max_wait_ms);
  w.Int32(min_bytes);
  w.Int32(max_bytes);
  w.Int8(0);    // isolation_level: read_uncommitted
  w.Int32(0);   // session_id
  w.Int32(-1);  // session_epoch
  w.ArrayCount(1);
  w.String(topic);
  w.ArrayCount(1);
  w.Int32(partition);
  w.Int32(-1);  // current_leader_epoch
  w.Int64(fetch_offset);
  w.Int64(-1);  // log_start_offset
  w.Int32(max_bytes);
  w.ArrayCount(0);  // forgotten_topics_data
  w.String("");     // rack_id
  return w.Take();
}

const ApiVersionRange* ApiVersionsResponse::Find(int16_t key) const {
  for (const auto& k : keys) {
    if (k.api_key == key) return &k;
  }
  return nullptr;
}

bool ParseApiVersionsV0(ByteView body, ApiVersionsResponse* out) {
  protocol::Reader r(body);
  out->error_code = r.Int16();
  int32_t n = r.ArrayCount(6);
  for (int32_t i = 0; i < n && r.ok(); ++i) {
    ApiVersionRange k{r.Int16(), r.Int16(), r.Int16()};
    out->keys.push_back(k);
  }
  return r.ok() && n >= 0 && r.remaining() == 0;
}

bool ParseApiVersionsV3(ByteView body, ApiVersionsResponse* out) {
  protocol::Reader r(body);
  out->error_code = r.Int16();
  int32_t n = r.CompactArrayCount(7);
  for (int32_t i = 0; i < n && r.ok(); ++i) {
    ApiVersionRange k{r.Int16(), r.Int16(), r.Int16()};
    r.SkipTaggedFields();
    out->keys.push_back(k);
  }
  r.Int32();  // throttle_time_ms
  r.SkipTaggedFields();
  return r.ok() && n >= 0 && r.remaining() == 0;
}

const MetadataResponse::Topic* MetadataResponse::Find(const std::string& name) const {
  for (const auto& t : topics) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

bool ParseMetadataV4(ByteView body, MetadataResponse* out) {
  protocol::Reader r(body);
  r.Int32();  // throttle_time_ms
  int32_t nb = r.ArrayCount(12);
  for (int32_t i = 0; i < nb && r.ok(); ++i) {
    MetadataResponse::Broker b;
    b.node_id = r.Int32();
    b.host = std::string(r.String());
    b.port = r.Int32();
    r.NullableString();  // rack
    out->brokers.push_back(std::move(b));
  }
  r.NullableString();  // cluster_id
  out->controller_id = r.Int32();
  int32_t nt = r.ArrayCount(9);
  for (int32_t i = 0; i < nt && r.ok(); ++i) {
    MetadataResponse::Topic t;
    t.error_code = r.Int16();
    t.name = std::string(r.String());
    r.Bool();  // is_internal
    int32_t np = r.ArrayCount(18);
    for (int32_t j = 0; j < np && r.ok(); ++j) {
      MetadataResponse::Partition p;
      p.error_code = r.Int16();
      p.index = r.Int32();
      p.leader = r.Int32();
      for (int arr = 0; arr < 2; ++arr) {  // replica_nodes, isr_nodes
        int32_t n = r.ArrayCount(4);
        for (int32_t k = 0; k < n && r.ok(); ++k) r.Int32();
      }
      t.partitions.push_back(p);
    }
    out->topics.push_back(std::move(t));
  }
  return r.ok() && nb >= 0 && nt >= 0 && r.remaining() == 0;
}

bool ParseProduceV7(ByteView body, std::vector<ProducePartitionResponse>* out) {
  protocol::Reader r(body);
  bool topics = ReadTopicArray(r, 30, [&](const std::string& topic) {
    ProducePartitionResponse p;
    p.topic = topic;
    p.partition = r.Int32();
    p.error_code = r.Int16();
    p.base_offset = r.Int64();
    p.log_append_time = r.Int64();
    p.log_start_offset = r.Int64();
    out->push_back(std::move(p));
  });
  r.Int32();  // throttle_time_ms
  return r.ok() && topics && r.remaining() == 0;
}

bool ParseFetchV11(ByteView body, FetchResponse* out) {
  protocol::Reader r(body);
  r.Int32();  // throttle_time_ms
  out->error_code = r.Int16();
  r.Int32();  // session_id
  bool topics = ReadTopicArray(r, 42, [&](const std::string& topic) {
    FetchPartitionResponse p;
    p.topic = topic;
    p.partition = r.Int32();
    p.error_code = r.Int16();
    p.high_watermark = r.Int64();
    p.last_stable_offset = r.Int64();
    p.log_start_offset = r.Int64();
    int32_t na = NullableArray(r);
    for (int32_t k = 0; k < na && r.ok(); ++k) {
      r.Int64();
      r.Int64();
    }
    r.Int32();  // preferred_read_replica
    auto records = r.NullableBytes();
    if (records) p.records.assign(records->begin(), records->end());
    out->partitions.push_back(std::move(p));
  });
  return r.ok() && topics && r.remaining() == 0;
}

std::string CallResult::Describe() const {
  if (!sent) return "request could not be sent (connection gone)";
  return std::string("read outcome: ") + ToString(outcome) + ", body " + std::to_string(body.size()) +
         " bytes";
}

CallResult Call(RawConnection& conn, int16_t api_key, int16_t api_version, ByteView body,
                milliseconds timeout, bool flexible_header) {
  CallResult result;
  int32_t corr = next_correlation_id.fetch_add(1);
  Bytes payload = RequestPayload(api_key, api_version, corr, body, flexible_header);
  result.sent = conn.SendFrame(payload);
  if (!result.sent) return result;
  Bytes frame;
  result.outcome = conn.ReadFrame(&frame, timeout);
  if (result.outcome != ReadOutcome::kFrame) return result;
  if (frame.size() < 4 || static_cast<int32_t>(LoadBe32(frame.data())) != corr) {
    result.outcome = ReadOutcome::kError;  // wrong or missing correlation id
    return result;
  }
  result.body.assign(frame.begin() + 4, frame.end());
  return result;
}

std::string CheckBrokerServes(const std::string& host, uint16_t port) {
  std::string error;
  auto conn = RawConnection::Connect(host, port, &error);
  if (!conn) return "a new connection was refused: " + error;
  CallResult av = Call(*conn, api::kApiVersions, 0, {});
  if (av.outcome != ReadOutcome::kFrame) return "ApiVersions v0 on a new connection: " + av.Describe();
  ApiVersionsResponse versions;
  if (!ParseApiVersionsV0(av.body, &versions)) return "ApiVersions v0 response does not parse";
  if (versions.error_code != 0) return "ApiVersions v0 error " + std::to_string(versions.error_code);
  for (int16_t key : {api::kProduce, api::kFetch, api::kMetadata, api::kApiVersions}) {
    if (versions.Find(key) == nullptr) return "ApiVersions v0 does not list api key " + std::to_string(key);
  }
  Bytes md_body = MetadataV4Body(std::vector<std::string>{}, false);
  CallResult md = Call(*conn, api::kMetadata, 4, md_body);
  if (md.outcome != ReadOutcome::kFrame) return "Metadata v4 on a new connection: " + md.Describe();
  MetadataResponse metadata;
  if (!ParseMetadataV4(md.body, &metadata)) return "Metadata v4 response does not parse";
  if (metadata.brokers.empty()) return "Metadata v4 lists no broker";
  return "";
}

}  // namespace oncemq::testing
