#include "protocol/supported_apis.h"

namespace oncemq::protocol {

namespace {
// clang-format off
constexpr ApiSupport kApis[] = {
    {ApiKey::kProduce, 3, 7, 9},
    {ApiKey::kFetch, 4, 11, 12},
    {ApiKey::kListOffsets, 0, 3, 6},
    {ApiKey::kMetadata, 0, 6, 9},
    {ApiKey::kOffsetCommit, 0, 7, 8},
    {ApiKey::kOffsetFetch, 0, 5, 6},
    {ApiKey::kFindCoordinator, 0, 2, 3},
    {ApiKey::kJoinGroup, 0, 5, 6},
    {ApiKey::kHeartbeat, 0, 3, 4},
    {ApiKey::kLeaveGroup, 0, 2, 4},
    {ApiKey::kSyncGroup, 0, 3, 4},
    {ApiKey::kDescribeGroups, 0, 4, 5},
    {ApiKey::kListGroups, 0, 2, 3},
    {ApiKey::kApiVersions, 0, 3, 3},
    {ApiKey::kCreateTopics, 0, 4, 5},
    {ApiKey::kDeleteTopics, 0, 3, 4},
    {ApiKey::kInitProducerId, 0, 1, 2},
    {ApiKey::kDescribeConfigs, 0, 2, 4},
    {ApiKey::kDeleteGroups, 0, 1, 2},
};
// clang-format on
}  // namespace

std::span<const ApiSupport> SupportedApis() {
  return kApis;
}

const ApiSupport* FindSupportedApi(int16_t api_key) {
  for (const auto& api : kApis) {
    if (static_cast<int16_t>(api.key) == api_key) return &api;
  }
  return nullptr;
}

}  // namespace oncemq::protocol
