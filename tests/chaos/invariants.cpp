#include "chaos/invariants.h"

#include <set>
#include <string>

namespace oncemq::chaos_test {

namespace {

std::string Where(const PartitionOffset& at) {
  return std::to_string(at.first) + "@" + std::to_string(at.second);
}

}  // namespace

std::vector<std::string> AckedAreDelivered(const std::vector<Ack>& acks, const LogRead& final_read) {
  std::set<std::string> present;
  for (const auto& [at, msg_id] : final_read) present.insert(msg_id);
  std::vector<std::string> violations;
  for (const Ack& ack : acks) {
    const PartitionOffset at{ack.partition, ack.offset};
    if (!present.contains(ack.msg_id)) {
      violations.push_back("acked " + ack.msg_id + " (at " + Where(at) + ") is not in the log");
      continue;
    }
    auto found = final_read.find(at);
    if (found != final_read.end() && found->second != ack.msg_id) {
      violations.push_back("acked " + ack.msg_id + " at " + Where(at) + " but the log holds " +
                           found->second);
    }
  }
  return violations;
}

std::vector<std::string> NoOffsetHoldsTwo(const std::vector<LogRead>& reads) {
  std::vector<std::string> violations;
  std::map<PartitionOffset, std::string> first_seen;
  for (size_t r = 0; r < reads.size(); ++r) {
    for (const auto& [at, msg_id] : reads[r]) {
      auto [it, fresh] = first_seen.try_emplace(at, msg_id);
      if (!fresh && it->second != msg_id) {
        violations.push_back(Where(at) + " held " + it->second + ", then " + msg_id + " (read " +
                             std::to_string(r) + ")");
      }
    }
  }
  return violations;
}

std::vector<std::string> CommitsSkipNothing(const std::set<PartitionOffset>& processed,
                                            const std::map<int32_t, int64_t>& committed, const LogRead& log) {
  std::vector<std::string> violations;
  for (const auto& [at, msg_id] : log) {
    auto c = committed.find(at.first);
    if (c == committed.end() || at.second >= c->second) continue;  // not committed past
    if (!processed.contains(at)) {
      violations.push_back("committed past " + Where(at) + " (" + msg_id + ") which no member processed");
    }
  }
  return violations;
}

std::vector<std::string> EffectsOnce(const std::map<std::string, int>& effects,
                                     const std::set<std::string>& expected) {
  std::vector<std::string> violations;
  for (const std::string& key : expected) {
    auto it = effects.find(key);
    const int n = it == effects.end() ? 0 : it->second;
    if (n != 1) violations.push_back(key + " had " + std::to_string(n) + " effects");
  }
  for (const auto& [key, n] : effects) {
    if (!expected.contains(key)) violations.push_back(key + " had an effect but was never sent");
  }
  return violations;
}

}  // namespace oncemq::chaos_test
