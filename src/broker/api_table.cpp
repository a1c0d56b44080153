#include "broker/api_table.h"

namespace oncemq::broker {

using protocol::ApiKey;

namespace {
// Every version advertised here is one the decoder implements (kafka-protocol.md §3.2). Maxima stay at or
// below each API's last non-flexible version, except ApiVersions v3, which librdkafka sends first.
constexpr ApiEntry kApis[] = {
    {ApiKey::kProduce, 3, 7, 9, HandleProduce},
    {ApiKey::kFetch, 4, 11, 12, HandleFetch},
    {ApiKey::kListOffsets, 0, 3, 6, HandleListOffsets},
    {ApiKey::kMetadata, 0, 6, 9, HandleMetadata},
    {ApiKey::kApiVersions, 0, 3, 3, HandleApiVersions},
    {ApiKey::kCreateTopics, 0, 4, 5, HandleCreateTopics},
    {ApiKey::kDeleteTopics, 0, 3, 4, HandleDeleteTopics},
    {ApiKey::kDescribeConfigs, 0, 2, 4, HandleDescribeConfigs},
};
}  // namespace

std::span<const ApiEntry> ApiTable() {
  return kApis;
}

const ApiEntry* FindApi(int16_t api_key) {
  for (const auto& api : kApis) {
    if (static_cast<int16_t>(api.key) == api_key) return &api;
  }
  return nullptr;
}

}  // namespace oncemq::broker
