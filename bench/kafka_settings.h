// Client settings for the benchmarks, as librdkafka property names and values. Kept free of
// librdkafka types so that only the .cpp files that drive a client include librdkafka.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace oncemq::bench {

using KafkaSettings = std::vector<std::pair<std::string, std::string>>;

// Sets every property on a librdkafka configuration (RdKafka::Conf, which the caller includes).
// InvalidArgument names the first property librdkafka refused, with its reason.
template <typename Conf>
Status ApplySettings(Conf& conf, const KafkaSettings& settings) {
  std::string error;
  for (const auto& [name, value] : settings) {
    if (conf.set(name, value, error) != Conf::CONF_OK) {
      return Status::InvalidArgument(name + "=" + value + ": " + error);
    }
  }
  return Status::Ok();
}

}  // namespace oncemq::bench
