// The one table of APIs: each Kafka API the broker serves, its version range, the first flexible version,
// and its handler. Dispatch and the ApiVersions answer both read this table, so they cannot disagree.
#pragma once

#include <cstdint>
#include <span>

#include "broker/request.h"
#include "protocol/api.h"

namespace oncemq::broker {

struct ApiEntry {
  protocol::ApiKey key;
  int16_t min_version;
  int16_t max_version;
  int16_t first_flexible_version;  // request header v2 / flexible body from here (beyond max = never)
  Handler handler;

  bool Supports(int16_t v) const { return v >= min_version && v <= max_version; }
  bool Flexible(int16_t v) const { return v >= first_flexible_version; }
};

std::span<const ApiEntry> ApiTable();
const ApiEntry* FindApi(int16_t api_key);

// Handlers, one file per API family under broker/handlers/.
Reply HandleApiVersions(std::shared_ptr<Request> request);
Reply HandleMetadata(std::shared_ptr<Request> request);
Reply HandleProduce(std::shared_ptr<Request> request);
Reply HandleFetch(std::shared_ptr<Request> request);
Reply HandleListOffsets(std::shared_ptr<Request> request);
Reply HandleCreateTopics(std::shared_ptr<Request> request);
Reply HandleDeleteTopics(std::shared_ptr<Request> request);
Reply HandleDescribeConfigs(std::shared_ptr<Request> request);

}  // namespace oncemq::broker
