#include "client/consumer/done_tracker.h"

#include <gtest/gtest.h>

namespace oncemq::client {
namespace {

const PartitionId kOrders{"orders", 0};
const PartitionId kOther{"orders", 1};

TEST(DoneTracker, NothingToCommitBeforeAnythingIsDone) {
  DoneTracker tracker;
  tracker.Track(kOrders, 10);
  EXPECT_EQ(tracker.CommitPoint(kOrders), std::nullopt);
  EXPECT_TRUE(tracker.TakeAdvanced().empty());
  EXPECT_EQ(tracker.PendingCount(), 1u);
}

TEST(DoneTracker, CommitPointStopsBelowTheFirstMessageInDoubt) {
  DoneTracker tracker;
  for (int64_t offset = 10; offset < 15; ++offset) tracker.Track(kOrders, offset);
  tracker.MarkDone(kOrders, 10);
  tracker.MarkDone(kOrders, 12);
  tracker.MarkDone(kOrders, 13);
  EXPECT_EQ(tracker.CommitPoint(kOrders), 11);  // 11 is in doubt: never past it
  tracker.MarkDone(kOrders, 11);
  EXPECT_EQ(tracker.CommitPoint(kOrders), 14);  // 14 still in doubt
  tracker.MarkDone(kOrders, 14);
  EXPECT_EQ(tracker.CommitPoint(kOrders), 15);
  EXPECT_EQ(tracker.PendingCount(), 0u);
}

TEST(DoneTracker, OffsetGapsFromCompactionOrTransactionsDoNotBlock) {
  DoneTracker tracker;
  tracker.Track(kOrders, 3);
  tracker.Track(kOrders, 7);
  tracker.MarkDone(kOrders, 3);
  tracker.MarkDone(kOrders, 7);
  EXPECT_EQ(tracker.CommitPoint(kOrders), 8);
}

TEST(DoneTracker, PartitionsAreIndependent) {
  DoneTracker tracker;
  tracker.Track(kOrders, 0);
  tracker.Track(kOther, 0);
  tracker.MarkDone(kOther, 0);
  EXPECT_EQ(tracker.CommitPoint(kOrders), std::nullopt);
  EXPECT_EQ(tracker.CommitPoint(kOther), 1);
}

TEST(DoneTracker, TakeAdvancedReturnsEachMoveOnce) {
  DoneTracker tracker;
  tracker.Track(kOrders, 0);
  tracker.Track(kOrders, 1);
  tracker.MarkDone(kOrders, 0);
  auto first = tracker.TakeAdvanced();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].second, 1);
  EXPECT_TRUE(tracker.TakeAdvanced().empty());
  tracker.MarkDone(kOrders, 1);
  auto second = tracker.TakeAdvanced();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].second, 2);
  EXPECT_EQ(tracker.AllCommitPoints().size(), 1u);
}

TEST(DoneTracker, UntakenPointIsReturnedAgain) {
  DoneTracker tracker;
  tracker.Track(kOrders, 0);
  tracker.MarkDone(kOrders, 0);
  ASSERT_EQ(tracker.TakeAdvanced().size(), 1u);
  tracker.Untake(kOrders);  // that commit failed
  auto again = tracker.TakeAdvanced();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].second, 1);
}

TEST(DoneTracker, ForgottenPartitionIgnoresLateResults) {
  DoneTracker tracker;
  tracker.Track(kOrders, 5);
  tracker.Forget(kOrders);
  tracker.MarkDone(kOrders, 5);
  EXPECT_EQ(tracker.CommitPoint(kOrders), std::nullopt);
  EXPECT_TRUE(tracker.AllCommitPoints().empty());
}

TEST(DoneTracker, TrackingAgainAfterAHoldKeepsOneEntry) {
  DoneTracker tracker;
  tracker.Track(kOrders, 5);
  tracker.Track(kOrders, 5);  // a held message is processed again
  tracker.MarkDone(kOrders, 5);
  EXPECT_EQ(tracker.CommitPoint(kOrders), 6);
  EXPECT_EQ(tracker.PendingCount(), 0u);
}

}  // namespace
}  // namespace oncemq::client
