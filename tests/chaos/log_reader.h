// Reading a topic back whole for the chaos suite's checks: every partition from its start to its end,
// straight from the broker (never through a fault proxy), each record's msg-id and headers kept.
// Thread safety: none needed; each call opens and closes its own librdkafka consumer.
#pragma once

#include <map>
#include <string>

#include "chaos/invariants.h"

namespace oncemq::chaos_test {

struct LoggedRecord {
  std::string msg_id;                          // the oncemq-msg-id header ("" if none)
  std::map<std::string, std::string> headers;  // the last value of each header
};

using TopicRead = std::map<PartitionOffset, LoggedRecord>;

// Reads `topic` at the broker `address` to the end of every partition, within `bound_ms`. A topic that
// does not exist reads as empty (it is not created). On a read that did not reach every end, returns false
// and sets *error; *read then holds what was read.
bool ReadTopic(const std::string& address, const std::string& topic, TopicRead* read, std::string* error,
               int bound_ms = 60'000);

// The msg-ids of a read, by position.
LogRead MsgIds(const TopicRead& read);

}  // namespace oncemq::chaos_test
