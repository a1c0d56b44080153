#include "oncemq/metrics_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdlib>

namespace oncemq {

namespace {

struct Family {
  std::string_view name;
  std::string_view type;
  std::string_view help;
};

// Every family, in page order. Help texts say what one count is; docs/operations.md says what to watch.
constexpr std::array kFamilies = {
    Family{"oncemq_consumer_received_total", "counter", "Messages polled from source and retry topics"},
    Family{"oncemq_consumer_claimed_total", "counter",
           "Claims the dedup store granted: new keys, keys claimed again for a retry, expired leases taken "
           "over"},
    Family{"oncemq_consumer_handled_total", "counter", "Handler succeeded and the outcome is recorded"},
    Family{"oncemq_consumer_duplicates_total", "counter", "Messages skipped: their key was already consumed"},
    Family{"oncemq_consumer_delayed_in_progress_total", "counter",
           "Messages whose key another owner was running: sent to retry level 1"},
    Family{"oncemq_consumer_handler_failures_total", "counter", "Handler calls that returned an error"},
    Family{"oncemq_consumer_retried_total", "counter", "Copies confirmed on a retry topic, by retry level"},
    Family{"oncemq_consumer_dead_lettered_total", "counter", "Copies confirmed on the dead-letter topic"},
    Family{"oncemq_consumer_store_failures_total", "counter",
           "Dedup store calls that failed (messages waited)"},
    Family{"oncemq_consumer_fenced_total", "counter", "Claims taken over before this member completed them"},
    Family{"oncemq_consumer_unprotected_total", "counter",
           "Messages handled without the store (fail_open while it was down)"},
    Family{"oncemq_consumer_commits_total", "counter", "Offset commits sent"},
    Family{"oncemq_consumer_batches_total", "counter", "Polls that returned messages"},
    Family{"oncemq_consumer_rebalances_total", "counter", "Partition assignments received from the group"},
    Family{"oncemq_consumer_assigned_partitions", "gauge", "Partitions this member owns (source and retry)"},
    Family{"oncemq_outbox_relay_claimed_total", "counter", "Outbox messages claimed for sending"},
    Family{"oncemq_outbox_relay_sent_total", "counter", "Outbox messages acknowledged and recorded SENT"},
    Family{"oncemq_outbox_relay_resends_total", "counter",
           "Sends not acknowledged in time: left SENDING to be sent again"},
    Family{"oncemq_outbox_relay_failed_total", "counter", "Outbox messages recorded FAILED"},
    Family{"oncemq_outbox_relay_lost_claims_total", "counter",
           "Outcomes not recorded: the claim had passed to another relay"},
    Family{"oncemq_outbox_relay_store_errors_total", "counter", "Outbox store calls that failed"},
    Family{"oncemq_outbox_relay_unreachable_rounds_total", "counter",
           "Rounds skipped: the cluster did not answer"},
    Family{"oncemq_outbox_relay_purged_total", "counter", "SENT messages deleted after their retention"},
    Family{"oncemq_outbox_messages", "gauge", "Outbox messages by status (sending, sent, failed)"},
};

size_t FamilyIndex(std::string_view name) {
  for (size_t i = 0; i < kFamilies.size(); ++i) {
    if (kFamilies[i].name == name) return i;
  }
  std::abort();  // a name missing from the table is a programming error
}

uint64_t NonNegative(int64_t value) {
  return static_cast<uint64_t>(std::max<int64_t>(value, 0));
}

}  // namespace

PrometheusText::PrometheusText() : samples_(kFamilies.size()) {}

void PrometheusText::Sample(std::string_view family, std::string_view labels, std::string_view extra_label,
                            uint64_t value) {
  std::string& out = samples_[FamilyIndex(family)];
  const std::string_view comma = !labels.empty() && !extra_label.empty() ? "," : "";
  if (labels.empty() && extra_label.empty()) {
    out += fmt::format("{} {}\n", family, value);
  } else {
    out += fmt::format("{}{{{}{}{}}} {}\n", family, labels, comma, extra_label, value);
  }
}

void PrometheusText::Add(const ConsumerStats& stats, std::string_view labels) {
  Sample("oncemq_consumer_received_total", labels, "", stats.received);
  Sample("oncemq_consumer_claimed_total", labels, "", stats.claimed);
  Sample("oncemq_consumer_handled_total", labels, "", stats.handled);
  Sample("oncemq_consumer_duplicates_total", labels, "", stats.duplicates);
  Sample("oncemq_consumer_delayed_in_progress_total", labels, "", stats.delayed_in_progress);
  Sample("oncemq_consumer_handler_failures_total", labels, "", stats.handler_failures);
  for (size_t level = 1; level < stats.retried_by_level.size(); ++level) {
    Sample("oncemq_consumer_retried_total", labels, fmt::format("level=\"{}\"", level),
           stats.retried_by_level[level]);
  }
  Sample("oncemq_consumer_dead_lettered_total", labels, "", stats.dead_lettered);
  Sample("oncemq_consumer_store_failures_total", labels, "", stats.store_failures);
  Sample("oncemq_consumer_fenced_total", labels, "", stats.fenced);
  Sample("oncemq_consumer_unprotected_total", labels, "", stats.unprotected);
  Sample("oncemq_consumer_commits_total", labels, "", stats.commits);
  Sample("oncemq_consumer_batches_total", labels, "", stats.batches);
  Sample("oncemq_consumer_rebalances_total", labels, "", stats.rebalances);
  Sample("oncemq_consumer_assigned_partitions", labels, "", stats.assigned_partitions);
}

void PrometheusText::Add(const OutboxRelayStats& stats, std::string_view labels) {
  Sample("oncemq_outbox_relay_claimed_total", labels, "", stats.claimed);
  Sample("oncemq_outbox_relay_sent_total", labels, "", stats.sent);
  Sample("oncemq_outbox_relay_resends_total", labels, "", stats.resends);
  Sample("oncemq_outbox_relay_failed_total", labels, "", stats.failed);
  Sample("oncemq_outbox_relay_lost_claims_total", labels, "", stats.lost_claims);
  Sample("oncemq_outbox_relay_store_errors_total", labels, "", stats.store_errors);
  Sample("oncemq_outbox_relay_unreachable_rounds_total", labels, "", stats.unreachable);
  Sample("oncemq_outbox_relay_purged_total", labels, "", stats.purged);
}

void PrometheusText::Add(const OutboxCounts& counts, std::string_view labels) {
  Sample("oncemq_outbox_messages", labels, "status=\"sending\"", NonNegative(counts.sending));
  Sample("oncemq_outbox_messages", labels, "status=\"sent\"", NonNegative(counts.sent));
  Sample("oncemq_outbox_messages", labels, "status=\"failed\"", NonNegative(counts.failed));
}

std::string PrometheusText::Render() const {
  std::string out;
  for (size_t i = 0; i < kFamilies.size(); ++i) {
    if (samples_[i].empty()) continue;
    const Family& family = kFamilies[i];
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", family.name, family.help, family.name, family.type);
    out += samples_[i];
  }
  return out;
}

std::string FormatPrometheus(const ConsumerStats& stats, std::string_view labels) {
  PrometheusText page;
  page.Add(stats, labels);
  return page.Render();
}

std::string FormatPrometheus(const OutboxRelayStats& stats, std::string_view labels) {
  PrometheusText page;
  page.Add(stats, labels);
  return page.Render();
}

std::string FormatPrometheus(const OutboxCounts& counts, std::string_view labels) {
  PrometheusText page;
  page.Add(counts, labels);
  return page.Render();
}

}  // namespace oncemq
