#include "protocol/messages/admin.h"

namespace oncemq::protocol {

CreateTopicsRequest DecodeCreateTopicsRequest(Reader& r, int16_t version) {
  CreateTopicsRequest req;
  int32_t topics = r.ArrayCount(12);
  for (int32_t t = 0; t < topics && r.ok(); ++t) {
    CreatableTopic& topic = req.topics.emplace_back();
    topic.name = r.String();
    topic.num_partitions = r.Int32();
    topic.replication_factor = r.Int16();
    int32_t assignments = r.ArrayCount(8);
    topic.assignments = assignments > 0 ? assignments : 0;
    for (int32_t a = 0; a < assignments && r.ok(); ++a) {
      r.Int32();  // partition_index
      int32_t brokers = r.ArrayCount(4);
      for (int32_t b = 0; b < brokers && r.ok(); ++b) r.Int32();
    }
    int32_t configs = r.ArrayCount(4);
    for (int32_t c = 0; c < configs && r.ok(); ++c) {
      CreatableTopicConfig& config = topic.configs.emplace_back();
      config.name = r.String();
      config.value = r.NullableString();
    }
  }
  req.timeout_ms = r.Int32();
  if (version >= 1) req.validate_only = r.Bool();
  return req;
}

void EncodeCreateTopicsResponse(Writer& w, const CreateTopicsResponse& resp, int16_t version) {
  if (version >= 2) w.Int32(0);  // throttle_time_ms
  w.ArrayCount(static_cast<int32_t>(resp.topics.size()));
  for (const auto& t : resp.topics) {
    w.String(t.name);
    w.Int16(Code(t.error));
    if (version >= 1) w.NullableString(t.message);
  }
}

DeleteTopicsRequest DecodeDeleteTopicsRequest(Reader& r, int16_t /*version*/) {
  DeleteTopicsRequest req;
  int32_t n = r.ArrayCount(2);
  for (int32_t i = 0; i < n && r.ok(); ++i) req.names.push_back(r.String());
  req.timeout_ms = r.Int32();
  return req;
}

void EncodeDeleteTopicsResponse(Writer& w, const DeleteTopicsResponse& resp, int16_t version) {
  if (version >= 1) w.Int32(0);  // throttle_time_ms
  w.ArrayCount(static_cast<int32_t>(resp.topics.size()));
  for (const auto& t : resp.topics) {
    w.String(t.name);
    w.Int16(Code(t.error));
  }
}

DescribeConfigsRequest DecodeDescribeConfigsRequest(Reader& r, int16_t version) {
  DescribeConfigsRequest req;
  int32_t n = r.ArrayCount(7);
  for (int32_t i = 0; i < n && r.ok(); ++i) {
    DescribeConfigsResource& res = req.resources.emplace_back();
    res.resource_type = r.Int8();
    res.resource_name = r.String();
    int32_t keys = r.ArrayCount(2);
    if (keys >= 0) {
      res.keys.emplace();
      for (int32_t k = 0; k < keys && r.ok(); ++k) res.keys->push_back(r.String());
    }
  }
  if (version >= 1) r.Bool();  // include_synonyms: we never have synonyms to report
  return req;
}

void EncodeDescribeConfigsResponse(Writer& w, const DescribeConfigsResponse& resp, int16_t version) {
  w.Int32(0);  // throttle_time_ms
  w.ArrayCount(static_cast<int32_t>(resp.results.size()));
  for (const auto& res : resp.results) {
    w.Int16(Code(res.error));
    w.NullableString(res.message);
    w.Int8(res.resource_type);
    w.String(res.resource_name);
    w.ArrayCount(static_cast<int32_t>(res.configs.size()));
    for (const auto& c : res.configs) {
      w.String(c.name);
      w.NullableString(c.value);
      w.Bool(c.read_only);
      if (version == 0) {
        w.Bool(c.source == ConfigSource::kDefault);
      } else {
        w.Int8(static_cast<int8_t>(c.source));
      }
      w.Bool(false);                      // is_sensitive
      if (version >= 1) w.ArrayCount(0);  // synonyms
    }
  }
}

}  // namespace oncemq::protocol
