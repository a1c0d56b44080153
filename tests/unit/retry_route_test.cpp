#include "client/consumer/retry_route.h"

#include <gtest/gtest.h>

namespace oncemq::client {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kNow = 1'700'000'000'000;

TEST(RetryRoute, RocketMqHasEighteenLevelsFromOneSecondToTwoHours) {
  std::vector<milliseconds> levels = RocketMqDelayLevels();
  ASSERT_EQ(levels.size(), 18u);
  EXPECT_EQ(levels.front(), milliseconds(1'000));
  EXPECT_EQ(levels[4], milliseconds(60'000));
  EXPECT_EQ(levels.back(), milliseconds(7'200'000));
  EXPECT_TRUE(std::is_sorted(levels.begin(), levels.end()));
}

TEST(RetryRoute, TopicNames) {
  EXPECT_EQ(RetryTopicName("billing", 3), "billing.retry.3");
  EXPECT_EQ(DeadLetterTopicName("billing"), "billing.dlq");
}

TEST(RetryRoute, EachFailureGoesOneLevelFurther) {
  RetryPolicy policy;
  for (int32_t previous = 0; previous < 15; ++previous) {
    Route route = RouteFailure("billing", policy, previous, Status::IoError("db down"), kNow);
    ASSERT_FALSE(route.dead_letter) << previous;
    EXPECT_EQ(route.level, previous + 1);
    EXPECT_EQ(route.topic, "billing.retry." + std::to_string(previous + 1));
    EXPECT_EQ(route.attempts, previous + 1);
    EXPECT_EQ(route.deliver_at_ms, kNow + policy.delays[previous].count());
    EXPECT_NE(route.error.find("db down"), std::string::npos);
  }
}

TEST(RetryRoute, MaxAttemptsEndsInTheDeadLetterTopic) {
  RetryPolicy policy;  // 16
  Route route = RouteFailure("billing", policy, 15, Status::IoError("db down"), kNow);
  EXPECT_TRUE(route.dead_letter);
  EXPECT_EQ(route.topic, "billing.dlq");
  EXPECT_EQ(route.attempts, 16);
}

TEST(RetryRoute, LevelIsCappedAtTheLastOneWhenAttemptsExceedLevels) {
  RetryPolicy policy{.delays = {milliseconds(10), milliseconds(20)}, .max_attempts = 5};
  Route route = RouteFailure("g", policy, 3, Status::IoError("x"), kNow);
  EXPECT_EQ(route.level, 2);
  EXPECT_EQ(route.attempts, 4);
  EXPECT_EQ(route.deliver_at_ms, kNow + 20);
}

TEST(RetryRoute, NonRetryableErrorsSkipTheRetries) {
  RetryPolicy policy;
  for (Status error : {Status::InvalidArgument("bad order"), Status::Corruption("garbled"),
                       Status::Unsupported("v9 event")}) {
    Route route = RouteFailure("billing", policy, 0, error, kNow);
    EXPECT_TRUE(route.dead_letter) << error.ToString();
    EXPECT_EQ(route.attempts, 1);
  }
  EXPECT_TRUE(IsRetryable(Status::Unavailable("later")));
  EXPECT_TRUE(IsRetryable(Status::IoError("later")));
}

TEST(RetryRoute, ConcurrentDuplicateGoesToLevelOneWithoutCountingAnAttempt) {
  RetryPolicy policy;
  Route route = RouteInProgress("billing", policy, 7, kNow);
  EXPECT_FALSE(route.dead_letter);
  EXPECT_EQ(route.level, 1);
  EXPECT_EQ(route.attempts, 7);
  EXPECT_EQ(route.deliver_at_ms, kNow + 1'000);
}

TEST(RetryRoute, HeaderNumbersParseStrictly) {
  EXPECT_EQ(ParseHeaderNumber(std::string_view("42"), 0), 42);
  EXPECT_EQ(ParseHeaderNumber(std::string_view("4x"), -1), -1);
  EXPECT_EQ(ParseHeaderNumber(std::string_view(""), -1), -1);
  EXPECT_EQ(ParseHeaderNumber(std::nullopt, 7), 7);
}

}  // namespace
}  // namespace oncemq::client
