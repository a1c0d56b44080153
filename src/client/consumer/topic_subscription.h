// Which entries of a consumer's subscription the cluster does not list yet: pure logic over a topic list,
// no Kafka, so that every rule is a unit test.
//
// An entry is a topic name, or — as librdkafka reads a subscription — a pattern when it starts with '^'
// (POSIX extended regular expression). A name is missing until the cluster lists it; a pattern until a
// listed topic matches it. A pattern that does not compile is never missing: nothing could ever satisfy it,
// and librdkafka reports it on its own.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace oncemq::client {

bool IsTopicPattern(const std::string& subscription);

// The entries of `wanted` that `listed` (the names of the cluster's topics) does not satisfy.
std::set<std::string> UnlistedSubscriptions(const std::set<std::string>& wanted,
                                            const std::vector<std::string>& listed);

}  // namespace oncemq::client
