// The invariants the chaos suite guards (issue 7), as checks over what a run observed. Each returns the
// violations it found, in words, so a failing run says what broke; none assumes the system under test is
// right — every check is shown catching a broken input in invariants_test.cpp.
//
//   AckedAreDelivered      every acknowledged produce is in the log (its msg-id is there), and the offset
//                          its ack named never holds another message. (The ack of a record the msg-id
//                          window dropped from a partly duplicate batch names the record's slot in that
//                          batch, left empty — a produce answer carries one base offset per batch — while
//                          the record itself is at its first copy's offset: docs/dedup.md.)
//   NoOffsetHoldsTwo       reads of the log taken at different moments (across broker restarts) never
//                          show two different messages at one (partition, offset)
//   CommitsSkipNothing     every offset a consumer group committed past was processed by some member
//   EffectsOnce            every expected business key has exactly one effect, and no effect has no key
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace oncemq::chaos_test {

using PartitionOffset = std::pair<int32_t, int64_t>;

struct Ack {
  std::string msg_id;
  int32_t partition = 0;
  int64_t offset = 0;
};

// One read of a topic: (partition, offset) → msg-id of the record there.
using LogRead = std::map<PartitionOffset, std::string>;

std::vector<std::string> AckedAreDelivered(const std::vector<Ack>& acks, const LogRead& final_read);
std::vector<std::string> NoOffsetHoldsTwo(const std::vector<LogRead>& reads);
// `processed`: the offsets any member handled (or skipped as a duplicate); `committed`: the group's committed
// offset per partition (the next offset to read); `log`: what the log holds.
std::vector<std::string> CommitsSkipNothing(const std::set<PartitionOffset>& processed,
                                            const std::map<int32_t, int64_t>& committed, const LogRead& log);
std::vector<std::string> EffectsOnce(const std::map<std::string, int>& effects,
                                     const std::set<std::string>& expected);

}  // namespace oncemq::chaos_test
