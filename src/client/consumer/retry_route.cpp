#include "client/consumer/retry_route.h"

#include <algorithm>
#include <charconv>

namespace oncemq {

std::vector<std::chrono::milliseconds> RocketMqDelayLevels() {
  using std::chrono::hours;
  using std::chrono::minutes;
  using std::chrono::seconds;
  return {seconds(1), seconds(5),  seconds(10), seconds(30), minutes(1), minutes(2),
          minutes(3), minutes(4),  minutes(5),  minutes(6),  minutes(7), minutes(8),
          minutes(9), minutes(10), minutes(20), minutes(30), hours(1),   hours(2)};
}

std::string RetryTopicName(std::string_view group, int level) {
  std::string name(group);
  name.append(".retry.").append(std::to_string(level));
  return name;
}

std::string DeadLetterTopicName(std::string_view group) {
  std::string name(group);
  name.append(".dlq");
  return name;
}

}  // namespace oncemq

namespace oncemq::client {

bool IsRetryable(const Status& handler_error) {
  switch (handler_error.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kCorruption:
    case StatusCode::kUnsupported: return false;
    default: return true;
  }
}

Route RouteToDeadLetter(std::string_view group, int32_t previous_attempts, std::string error,
                        int64_t now_ms) {
  return Route{.dead_letter = true,
               .topic = DeadLetterTopicName(group),
               .level = 0,
               .attempts = previous_attempts,
               .deliver_at_ms = now_ms,
               .error = std::move(error)};
}

namespace {

Route ToLevel(std::string_view group, const RetryPolicy& policy, int level, int32_t attempts,
              std::string error, int64_t now_ms) {
  level = std::clamp(level, 1, static_cast<int>(policy.delays.size()));
  return Route{.dead_letter = false,
               .topic = RetryTopicName(group, level),
               .level = level,
               .attempts = attempts,
               .deliver_at_ms = now_ms + policy.delays[level - 1].count(),
               .error = std::move(error)};
}

}  // namespace

Route RouteFailure(std::string_view group, const RetryPolicy& policy, int32_t previous_attempts,
                   const Status& error, int64_t now_ms) {
  const int32_t attempts = previous_attempts + 1;
  if (!IsRetryable(error) || attempts >= policy.max_attempts) {
    return RouteToDeadLetter(group, attempts, error.ToString(), now_ms);
  }
  return ToLevel(group, policy, attempts, attempts, error.ToString(), now_ms);
}

Route RouteInProgress(std::string_view group, const RetryPolicy& policy, int32_t previous_attempts,
                      int64_t now_ms) {
  return ToLevel(group, policy, 1, previous_attempts, "key in progress at another consumer", now_ms);
}

int64_t ParseHeaderNumber(std::optional<std::string_view> value, int64_t fallback) {
  if (!value) return fallback;
  int64_t parsed = 0;
  auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), parsed);
  if (ec != std::errc() || end != value->data() + value->size()) return fallback;
  return parsed;
}

}  // namespace oncemq::client
