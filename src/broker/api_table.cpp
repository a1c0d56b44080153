#include "broker/api_table.h"

namespace oncemq::broker {

using protocol::ApiKey;

Handler HandlerFor(ApiKey key) {
  switch (key) {
    case ApiKey::kProduce: return HandleProduce;
    case ApiKey::kFetch: return HandleFetch;
    case ApiKey::kListOffsets: return HandleListOffsets;
    case ApiKey::kMetadata: return HandleMetadata;
    case ApiKey::kApiVersions: return HandleApiVersions;
    case ApiKey::kCreateTopics: return HandleCreateTopics;
    case ApiKey::kDeleteTopics: return HandleDeleteTopics;
    case ApiKey::kDescribeConfigs: return HandleDescribeConfigs;
    case ApiKey::kInitProducerId: return HandleInitProducerId;
    case ApiKey::kOffsetCommit: return HandleOffsetCommit;
    case ApiKey::kOffsetFetch: return HandleOffsetFetch;
    case ApiKey::kFindCoordinator: return HandleFindCoordinator;
    case ApiKey::kJoinGroup: return HandleJoinGroup;
    case ApiKey::kHeartbeat: return HandleHeartbeat;
    case ApiKey::kLeaveGroup: return HandleLeaveGroup;
    case ApiKey::kSyncGroup: return HandleSyncGroup;
    case ApiKey::kDescribeGroups: return HandleDescribeGroups;
    case ApiKey::kListGroups: return HandleListGroups;
    case ApiKey::kDeleteGroups: return HandleDeleteGroups;
    default: return nullptr;
  }
}

}  // namespace oncemq::broker
