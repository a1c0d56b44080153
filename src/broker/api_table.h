// Handlers, one per API family under broker/handlers/. Which APIs and versions are served is
// protocol::SupportedApis(); HandlerFor maps each of those keys to its handler.
#pragma once

#include "broker/request.h"
#include "protocol/api.h"

namespace oncemq::broker {

// nullptr for a key the broker does not serve. Every key in protocol::SupportedApis() has a handler
// (checked by a unit test).
Handler HandlerFor(protocol::ApiKey key);

Reply HandleApiVersions(std::shared_ptr<Request> request);
Reply HandleMetadata(std::shared_ptr<Request> request);
Reply HandleProduce(std::shared_ptr<Request> request);
Reply HandleFetch(std::shared_ptr<Request> request);
Reply HandleListOffsets(std::shared_ptr<Request> request);
Reply HandleCreateTopics(std::shared_ptr<Request> request);
Reply HandleDeleteTopics(std::shared_ptr<Request> request);
Reply HandleDescribeConfigs(std::shared_ptr<Request> request);
Reply HandleInitProducerId(std::shared_ptr<Request> request);
Reply HandleFindCoordinator(std::shared_ptr<Request> request);
Reply HandleJoinGroup(std::shared_ptr<Request> request);
Reply HandleSyncGroup(std::shared_ptr<Request> request);
Reply HandleHeartbeat(std::shared_ptr<Request> request);
Reply HandleLeaveGroup(std::shared_ptr<Request> request);
Reply HandleDescribeGroups(std::shared_ptr<Request> request);
Reply HandleListGroups(std::shared_ptr<Request> request);
Reply HandleDeleteGroups(std::shared_ptr<Request> request);
Reply HandleOffsetCommit(std::shared_ptr<Request> request);
Reply HandleOffsetFetch(std::shared_ptr<Request> request);

}  // namespace oncemq::broker
