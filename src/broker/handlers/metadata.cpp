#include "protocol/messages/metadata.h"
#include "broker/api_table.h"
#include "broker/broker.h"

namespace oncemq::broker {

namespace {

protocol::MetadataTopic Describe(const Topic& topic, int32_t node_id) {
  protocol::MetadataTopic out;
  out.name = topic.name;
  for (const auto& p : topic.partitions) {
    out.partitions.push_back({protocol::ErrorCode::kNone, p->id().value(), node_id});
  }
  return out;
}

}  // namespace

Reply HandleMetadata(std::shared_ptr<Request> request) {
  protocol::Reader r = request->BodyReader();
  auto req = protocol::DecodeMetadataRequest(r, request->version());
  if (!r.ok()) return Reply::Now({});
  Broker& broker = request->broker;
  const int32_t node = broker.config().node_id;

  protocol::MetadataResponse resp;
  resp.brokers.push_back({node, broker.advertised_host(), broker.advertised_port()});
  resp.cluster_id = broker.config().cluster_id;
  resp.controller_id = node;
  if (!req.topics) {
    for (const auto& topic : broker.topics().List()) resp.topics.push_back(Describe(*topic, node));
  } else {
    for (std::string_view name : *req.topics) {
      auto topic = broker.FindOrCreateTopic(name, req.allow_auto_topic_creation);
      if (topic) {
        resp.topics.push_back(Describe(*topic, node));
      } else {
        protocol::MetadataTopic missing;
        missing.name = std::string(name);
        missing.error = IsValidTopicName(name) ? protocol::ErrorCode::kUnknownTopicOrPartition
                                               : protocol::ErrorCode::kInvalidTopic;
        resp.topics.push_back(std::move(missing));
      }
    }
  }
  protocol::Writer w = request->StartResponse();
  protocol::EncodeMetadataResponse(w, resp, request->version());
  return Reply::Now(Request::Finish(w));
}

}  // namespace oncemq::broker
