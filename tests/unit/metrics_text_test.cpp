// The SDK's counters as Prometheus text (include/oncemq/metrics_text.h): exact lines for given stats.
#include "oncemq/metrics_text.h"

#include <gtest/gtest.h>

#include <string>

namespace oncemq {
namespace {

ConsumerStats SomeConsumerStats() {
  return ConsumerStats{.received = 12,
                       .claimed = 9,
                       .handled = 6,
                       .duplicates = 2,
                       .delayed_in_progress = 1,
                       .handler_failures = 3,
                       .retried = 4,
                       .retried_by_level = {0, 3, 1},
                       .dead_lettered = 1,
                       .store_failures = 5,
                       .fenced = 0,
                       .unprotected = 0,
                       .commits = 7,
                       .batches = 3,
                       .rebalances = 6,
                       .assigned_partitions = 2};
}

TEST(MetricsTextTest, ConsumerStatsRenderOneSamplePerCounterAndOnePerRetryLevel) {
  const std::string page = FormatPrometheus(SomeConsumerStats(), R"(group="billing")");
  EXPECT_EQ(
      page,
      "# HELP oncemq_consumer_received_total Messages polled from source and retry topics\n"
      "# TYPE oncemq_consumer_received_total counter\n"
      "oncemq_consumer_received_total{group=\"billing\"} 12\n"
      "# HELP oncemq_consumer_claimed_total Claims the dedup store granted: new keys, keys claimed again "
      "for a retry, expired leases taken over\n"
      "# TYPE oncemq_consumer_claimed_total counter\n"
      "oncemq_consumer_claimed_total{group=\"billing\"} 9\n"
      "# HELP oncemq_consumer_handled_total Handler succeeded and the outcome is recorded\n"
      "# TYPE oncemq_consumer_handled_total counter\n"
      "oncemq_consumer_handled_total{group=\"billing\"} 6\n"
      "# HELP oncemq_consumer_duplicates_total Messages skipped: their key was already consumed\n"
      "# TYPE oncemq_consumer_duplicates_total counter\n"
      "oncemq_consumer_duplicates_total{group=\"billing\"} 2\n"
      "# HELP oncemq_consumer_delayed_in_progress_total Messages whose key another owner was running: "
      "sent to retry level 1\n"
      "# TYPE oncemq_consumer_delayed_in_progress_total counter\n"
      "oncemq_consumer_delayed_in_progress_total{group=\"billing\"} 1\n"
      "# HELP oncemq_consumer_handler_failures_total Handler calls that returned an error\n"
      "# TYPE oncemq_consumer_handler_failures_total counter\n"
      "oncemq_consumer_handler_failures_total{group=\"billing\"} 3\n"
      "# HELP oncemq_consumer_retried_total Copies confirmed on a retry topic, by retry level\n"
      "# TYPE oncemq_consumer_retried_total counter\n"
      "oncemq_consumer_retried_total{group=\"billing\",level=\"1\"} 3\n"
      "oncemq_consumer_retried_total{group=\"billing\",level=\"2\"} 1\n"
      "# HELP oncemq_consumer_dead_lettered_total Copies confirmed on the dead-letter topic\n"
      "# TYPE oncemq_consumer_dead_lettered_total counter\n"
      "oncemq_consumer_dead_lettered_total{group=\"billing\"} 1\n"
      "# HELP oncemq_consumer_store_failures_total Dedup store calls that failed (messages waited)\n"
      "# TYPE oncemq_consumer_store_failures_total counter\n"
      "oncemq_consumer_store_failures_total{group=\"billing\"} 5\n"
      "# HELP oncemq_consumer_fenced_total Claims taken over before this member completed them\n"
      "# TYPE oncemq_consumer_fenced_total counter\n"
      "oncemq_consumer_fenced_total{group=\"billing\"} 0\n"
      "# HELP oncemq_consumer_unprotected_total Messages handled without the store (fail_open while it "
      "was down)\n"
      "# TYPE oncemq_consumer_unprotected_total counter\n"
      "oncemq_consumer_unprotected_total{group=\"billing\"} 0\n"
      "# HELP oncemq_consumer_commits_total Offset commits sent\n"
      "# TYPE oncemq_consumer_commits_total counter\n"
      "oncemq_consumer_commits_total{group=\"billing\"} 7\n"
      "# HELP oncemq_consumer_batches_total Polls that returned messages\n"
      "# TYPE oncemq_consumer_batches_total counter\n"
      "oncemq_consumer_batches_total{group=\"billing\"} 3\n"
      "# HELP oncemq_consumer_rebalances_total Partition assignments received from the group\n"
      "# TYPE oncemq_consumer_rebalances_total counter\n"
      "oncemq_consumer_rebalances_total{group=\"billing\"} 6\n"
      "# HELP oncemq_consumer_assigned_partitions Partitions this member owns (source and retry)\n"
      "# TYPE oncemq_consumer_assigned_partitions gauge\n"
      "oncemq_consumer_assigned_partitions{group=\"billing\"} 2\n");
}

TEST(MetricsTextTest, EmptyLabelsLeaveOutTheBraces) {
  ConsumerStats stats;
  stats.retried_by_level = {0, 5};
  const std::string page = FormatPrometheus(stats, "");
  EXPECT_NE(page.find("\noncemq_consumer_received_total 0\n"), std::string::npos) << page;
  EXPECT_NE(page.find("\noncemq_consumer_retried_total{level=\"1\"} 5\n"), std::string::npos) << page;
  EXPECT_EQ(page.find("{}"), std::string::npos) << page;
  EXPECT_EQ(page.find("{,"), std::string::npos) << page;
}

TEST(MetricsTextTest, OutboxRelayStatsAndCounts) {
  const OutboxRelayStats relay{.claimed = 10,
                               .sent = 8,
                               .resends = 2,
                               .failed = 1,
                               .lost_claims = 0,
                               .store_errors = 3,
                               .unreachable = 4,
                               .purged = 6};
  EXPECT_EQ(
      FormatPrometheus(relay, R"(outbox="orders")"),
      "# HELP oncemq_outbox_relay_claimed_total Outbox messages claimed for sending\n"
      "# TYPE oncemq_outbox_relay_claimed_total counter\n"
      "oncemq_outbox_relay_claimed_total{outbox=\"orders\"} 10\n"
      "# HELP oncemq_outbox_relay_sent_total Outbox messages acknowledged and recorded SENT\n"
      "# TYPE oncemq_outbox_relay_sent_total counter\n"
      "oncemq_outbox_relay_sent_total{outbox=\"orders\"} 8\n"
      "# HELP oncemq_outbox_relay_resends_total Sends not acknowledged in time: left SENDING to be sent "
      "again\n"
      "# TYPE oncemq_outbox_relay_resends_total counter\n"
      "oncemq_outbox_relay_resends_total{outbox=\"orders\"} 2\n"
      "# HELP oncemq_outbox_relay_failed_total Outbox messages recorded FAILED\n"
      "# TYPE oncemq_outbox_relay_failed_total counter\n"
      "oncemq_outbox_relay_failed_total{outbox=\"orders\"} 1\n"
      "# HELP oncemq_outbox_relay_lost_claims_total Outcomes not recorded: the claim had passed to "
      "another relay\n"
      "# TYPE oncemq_outbox_relay_lost_claims_total counter\n"
      "oncemq_outbox_relay_lost_claims_total{outbox=\"orders\"} 0\n"
      "# HELP oncemq_outbox_relay_store_errors_total Outbox store calls that failed\n"
      "# TYPE oncemq_outbox_relay_store_errors_total counter\n"
      "oncemq_outbox_relay_store_errors_total{outbox=\"orders\"} 3\n"
      "# HELP oncemq_outbox_relay_unreachable_rounds_total Rounds skipped: the cluster did not answer\n"
      "# TYPE oncemq_outbox_relay_unreachable_rounds_total counter\n"
      "oncemq_outbox_relay_unreachable_rounds_total{outbox=\"orders\"} 4\n"
      "# HELP oncemq_outbox_relay_purged_total SENT messages deleted after their retention\n"
      "# TYPE oncemq_outbox_relay_purged_total counter\n"
      "oncemq_outbox_relay_purged_total{outbox=\"orders\"} 6\n");
  EXPECT_EQ(FormatPrometheus(OutboxCounts{.sending = 3, .sent = 40, .failed = 1}, R"(outbox="orders")"),
            "# HELP oncemq_outbox_messages Outbox messages by status (sending, sent, failed)\n"
            "# TYPE oncemq_outbox_messages gauge\n"
            "oncemq_outbox_messages{outbox=\"orders\",status=\"sending\"} 3\n"
            "oncemq_outbox_messages{outbox=\"orders\",status=\"sent\"} 40\n"
            "oncemq_outbox_messages{outbox=\"orders\",status=\"failed\"} 1\n");
}

// Several instances on one page: each family's HELP and TYPE once, then the samples in the order added.
TEST(MetricsTextTest, SeveralInstancesShareEachFamilyHeader) {
  PrometheusText page;
  ConsumerStats billing = SomeConsumerStats();
  ConsumerStats shipping;
  shipping.handled = 40;
  shipping.retried_by_level = {0, 0, 0};
  page.Add(billing, R"(group="billing")");
  page.Add(shipping, R"(group="shipping")");
  page.Add(OutboxCounts{.sending = 0, .sent = 0, .failed = 2}, "");
  const std::string text = page.Render();
  const std::string handled =
      "# HELP oncemq_consumer_handled_total Handler succeeded and the outcome is recorded\n"
      "# TYPE oncemq_consumer_handled_total counter\n"
      "oncemq_consumer_handled_total{group=\"billing\"} 6\n"
      "oncemq_consumer_handled_total{group=\"shipping\"} 40\n"
      "# HELP";
  EXPECT_NE(text.find(handled), std::string::npos) << text;
  const std::string retried =
      "# TYPE oncemq_consumer_retried_total counter\n"
      "oncemq_consumer_retried_total{group=\"billing\",level=\"1\"} 3\n"
      "oncemq_consumer_retried_total{group=\"billing\",level=\"2\"} 1\n"
      "oncemq_consumer_retried_total{group=\"shipping\",level=\"1\"} 0\n"
      "oncemq_consumer_retried_total{group=\"shipping\",level=\"2\"} 0\n"
      "# HELP";
  EXPECT_NE(text.find(retried), std::string::npos) << text;
  size_t type_lines = 0;
  for (size_t at = text.find("# TYPE "); at != std::string::npos; at = text.find("# TYPE ", at + 1))
    ++type_lines;
  EXPECT_EQ(type_lines, 16u);  // 15 consumer families and the outbox gauge; no relay family was added
  EXPECT_TRUE(text.ends_with("oncemq_outbox_messages{status=\"failed\"} 2\n")) << text;
}

}  // namespace
}  // namespace oncemq
