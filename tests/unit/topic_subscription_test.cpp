#include "client/consumer/topic_subscription.h"

#include <gtest/gtest.h>

namespace oncemq::client {
namespace {

using Set = std::set<std::string>;

TEST(TopicSubscription, ANameIsMissingUntilListed) {
  EXPECT_EQ(UnlistedSubscriptions({"orders", "refunds"}, {"orders", "orders-eu"}), Set{"refunds"});
  EXPECT_EQ(UnlistedSubscriptions({"orders"}, {}), Set{"orders"});
  EXPECT_EQ(UnlistedSubscriptions({"orders"}, {"orders"}), Set{});
}

TEST(TopicSubscription, ANameIsNotAPrefixOrAPattern) {
  EXPECT_EQ(UnlistedSubscriptions({"orders", "a.c"}, {"orders-eu", "abc"}), (Set{"orders", "a.c"}));
}

TEST(TopicSubscription, APatternIsMissingUntilAListedTopicMatchesIt) {
  EXPECT_EQ(UnlistedSubscriptions({"^eu-.*"}, {"orders", "us-orders"}), Set{"^eu-.*"});
  EXPECT_EQ(UnlistedSubscriptions({"^eu-.*"}, {"orders", "eu-orders"}), Set{});
  EXPECT_EQ(UnlistedSubscriptions({"^(eu|us)-orders$"}, {"us-orders"}), Set{});
  EXPECT_EQ(UnlistedSubscriptions({"^(eu|us)-orders$"}, {"us-orders-old"}), Set{"^(eu|us)-orders$"});
}

TEST(TopicSubscription, APatternThatDoesNotCompileIsNeverMissing) {
  EXPECT_EQ(UnlistedSubscriptions({"^(unclosed", "orders"}, {}), Set{"orders"});
}

TEST(TopicSubscription, OnlyALeadingCaretMakesAPattern) {
  EXPECT_TRUE(IsTopicPattern("^orders"));
  EXPECT_FALSE(IsTopicPattern("orders^"));
  EXPECT_FALSE(IsTopicPattern(""));
}

}  // namespace
}  // namespace oncemq::client
