#include <spdlog/spdlog.h>

#include "broker/api_table.h"
#include "broker/broker.h"
#include "protocol/messages/admin.h"

namespace oncemq::broker {

namespace {

using protocol::ErrorCode;

ErrorCode CreateError(const Status& s, const protocol::CreatableTopic& topic) {
  switch (s.code()) {
    case StatusCode::kAlreadyExists: return ErrorCode::kTopicAlreadyExists;
    case StatusCode::kInvalidArgument:
      if (!IsValidTopicName(topic.name)) return ErrorCode::kInvalidTopic;
      if (topic.num_partitions == 0 || topic.num_partitions < -1 || topic.num_partitions > 10000) {
        return ErrorCode::kInvalidPartitions;
      }
      return ErrorCode::kInvalidConfig;
    case StatusCode::kUnsupported: return ErrorCode::kInvalidConfig;
    case StatusCode::kIoError: return ErrorCode::kKafkaStorageError;
    default: return ErrorCode::kUnknownServerError;
  }
}

protocol::TopicResult CreateOne(Broker& broker, const protocol::CreatableTopic& topic, bool validate_only) {
  protocol::TopicResult result{std::string(topic.name), ErrorCode::kNone, std::nullopt};
  if (topic.replication_factor != -1 && topic.replication_factor != 1) {
    result.error = ErrorCode::kInvalidReplicationFactor;
    result.message = "a single oncemq broker holds one replica; replication factor must be 1";
    return result;
  }
  if (topic.assignments > 0) {
    result.error = ErrorCode::kInvalidRequest;
    result.message = "manual replica assignment is not supported";
    return result;
  }
  std::map<std::string, std::string> overrides;
  for (const auto& c : topic.configs) {
    if (c.value) overrides[std::string(c.name)] = std::string(*c.value);
  }
  auto created =
      broker.topics().Create(result.name, topic.num_partitions, std::move(overrides), validate_only);
  if (!created.ok()) {
    result.error = CreateError(created.status(), topic);
    result.message = created.status().message();
  }
  return result;
}

void DescribeTopic(Broker& broker, const protocol::DescribeConfigsResource& res,
                   protocol::DescribeConfigsResult& out) {
  auto topic = broker.topics().Find(res.resource_name);
  if (!topic) {
    out.error = ErrorCode::kUnknownTopicOrPartition;
    out.message = "topic '" + out.resource_name + "' does not exist";
    return;
  }
  for (const auto& e : topic->config.Describe()) {
    if (res.keys && std::find(res.keys->begin(), res.keys->end(), e.name) == res.keys->end()) continue;
    out.configs.push_back(
        {e.name, e.value, false,
         e.is_override ? protocol::ConfigSource::kDynamicTopic : protocol::ConfigSource::kDefault});
  }
}

void DescribeBroker(Broker& broker, const protocol::DescribeConfigsResource& res,
                    protocol::DescribeConfigsResult& out) {
  const auto& c = broker.config();
  const auto& d = c.topic_defaults;
  std::vector<std::pair<std::string, std::string>> entries = {
      {"auto.create.topics.enable", c.auto_create_topics ? "true" : "false"},
      {"num.partitions", std::to_string(d.partitions)},
      {"log.dirs", c.data_dir.string()},
      {"log.flush.policy", d.log.flush.ToString()},
      {"log.retention.ms", std::to_string(d.log.retention_ms)},
      {"log.retention.bytes", std::to_string(d.log.retention_bytes)},
      {"log.segment.bytes", std::to_string(d.log.segment_bytes)},
      {"message.max.bytes", std::to_string(d.max_message_bytes)},
      {"socket.request.max.bytes", std::to_string(c.max_frame_bytes)},
  };
  for (auto& [name, value] : entries) {
    if (res.keys && std::find(res.keys->begin(), res.keys->end(), name) == res.keys->end()) continue;
    out.configs.push_back({name, value, true, protocol::ConfigSource::kStaticBroker});
  }
}

}  // namespace

Reply HandleCreateTopics(std::shared_ptr<Request> request) {
  protocol::Reader r = request->BodyReader();
  auto req = protocol::DecodeCreateTopicsRequest(r, request->version());
  if (!r.ok()) return Reply::Now({});
  protocol::CreateTopicsResponse resp;
  for (const auto& topic : req.topics)
    resp.topics.push_back(CreateOne(request->broker, topic, req.validate_only));
  protocol::Writer w = request->StartResponse();
  protocol::EncodeCreateTopicsResponse(w, resp, request->version());
  return Reply::Now(Request::Finish(w));
}

Reply HandleDeleteTopics(std::shared_ptr<Request> request) {
  protocol::Reader r = request->BodyReader();
  auto req = protocol::DecodeDeleteTopicsRequest(r, request->version());
  if (!r.ok()) return Reply::Now({});
  protocol::DeleteTopicsResponse resp;
  for (std::string_view name : req.names) {
    Status s = request->broker.topics().Delete(std::string(name));
    ErrorCode error = ErrorCode::kNone;
    if (s.code() == StatusCode::kNotFound)
      error = ErrorCode::kUnknownTopicOrPartition;
    else if (!s.ok())
      error = ErrorCode::kKafkaStorageError;
    resp.topics.push_back({std::string(name), error, std::nullopt});
  }
  protocol::Writer w = request->StartResponse();
  protocol::EncodeDeleteTopicsResponse(w, resp, request->version());
  return Reply::Now(Request::Finish(w));
}

Reply HandleDescribeConfigs(std::shared_ptr<Request> request) {
  protocol::Reader r = request->BodyReader();
  auto req = protocol::DecodeDescribeConfigsRequest(r, request->version());
  if (!r.ok()) return Reply::Now({});
  protocol::DescribeConfigsResponse resp;
  for (const auto& res : req.resources) {
    auto& out = resp.results.emplace_back();
    out.resource_type = res.resource_type;
    out.resource_name = std::string(res.resource_name);
    if (res.resource_type == static_cast<int8_t>(protocol::ConfigResourceType::kTopic)) {
      DescribeTopic(request->broker, res, out);
    } else if (res.resource_type == static_cast<int8_t>(protocol::ConfigResourceType::kBroker)) {
      DescribeBroker(request->broker, res, out);
    } else {
      out.error = ErrorCode::kInvalidRequest;
      out.message = "only TOPIC and BROKER resources are supported";
    }
  }
  protocol::Writer w = request->StartResponse();
  protocol::EncodeDescribeConfigsResponse(w, resp, request->version());
  return Reply::Now(Request::Finish(w));
}

}  // namespace oncemq::broker
