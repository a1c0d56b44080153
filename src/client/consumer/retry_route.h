// Where a message goes when it is not done here and now (DESIGN.md §3, retries and dead letters): pure rules,
// no Kafka and no clock, so that every row is a unit test.
//
// - A handler failure is the message's (previous + 1)-th failed attempt. With attempts left and a retryable
//   error it goes to retry level min(attempts, number of levels), due `delays[level - 1]` from now; at
//   `max_attempts`, or for an error retrying cannot fix, to the dead-letter topic.
// - A key some other owner is running right now ("concurrent duplicate") goes to retry level 1 without
//   counting an attempt: it is not a failure, and it must come back to be checked again, never be dropped.
// - A message without a business key, or whose payload differs from the one recorded for its key, goes
//   straight to the dead-letter topic.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "oncemq/idempotent_consumer.h"
#include "oncemq/status.h"

namespace oncemq::client {

struct Route {
  bool dead_letter = false;
  std::string topic;
  int level = 0;              // retry level from 1; 0 for the dead-letter topic
  int32_t attempts = 0;       // the oncemq-attempt header of the copy
  int64_t deliver_at_ms = 0;  // the oncemq-deliver-at header of the copy (wall clock)
  std::string error;          // the oncemq-error header of the copy
};

// False for errors that say the same input fails again: kInvalidArgument, kCorruption, kUnsupported.
bool IsRetryable(const Status& handler_error);

// REQUIRES: policy.delays is not empty; previous_attempts >= 0.
Route RouteFailure(std::string_view group, const RetryPolicy& policy, int32_t previous_attempts,
                   const Status& error, int64_t now_ms);
Route RouteInProgress(std::string_view group, const RetryPolicy& policy, int32_t previous_attempts,
                      int64_t now_ms);
Route RouteToDeadLetter(std::string_view group, int32_t previous_attempts, std::string error, int64_t now_ms);

// The decimal value of a header, or `fallback` when absent or not a number.
int64_t ParseHeaderNumber(std::optional<std::string_view> value, int64_t fallback);

}  // namespace oncemq::client
