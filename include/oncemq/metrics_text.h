// The SDK's counters as Prometheus text (exposition format 0.0.4), for the application's own /metrics page:
// the SDK serves no HTTP itself. Names follow the broker's (docs/operations.md): `oncemq_consumer_…` for
// IdempotentConsumer::stats(), `oncemq_outbox_relay_…` for OutboxRelay::stats(), `oncemq_outbox_messages`
// for Outbox::Counts().
//
// `labels` are the label pairs that set one instance's series apart, written as they appear between the
// braces — `group="billing",instance="a"` — or "" for none. They are copied as given: the caller escapes
// values (`\\`, `\"`, `\n`) and keeps the names valid.
//
//   PrometheusText page;
//   page.Add(billing->stats(), R"(group="billing")");
//   page.Add(shipping->stats(), R"(group="shipping")");
//   page.Add(outbox->Counts().value(), R"(outbox="orders")");
//   response.body = page.Render();
//
// Thread safety: none; build a page on one thread (reading stats() is safe from any thread).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "oncemq/idempotent_consumer.h"
#include "oncemq/outbox.h"

namespace oncemq {

// One page of metric families. A family's HELP and TYPE lines appear once, followed by the samples of every
// instance added, so several consumers (or relays) share a page as the format requires.
class PrometheusText {
 public:
  PrometheusText();

  // oncemq_consumer_*_total counters and the oncemq_consumer_assigned_partitions gauge. Retries are one
  // series per level, oncemq_consumer_retried_total{level="N"} for N in 1 … retried_by_level.size() - 1.
  void Add(const ConsumerStats& stats, std::string_view labels);
  // oncemq_outbox_relay_*_total counters.
  void Add(const OutboxRelayStats& stats, std::string_view labels);
  // The gauge oncemq_outbox_messages{status="sending"|"sent"|"failed"}: alert on failed > 0.
  void Add(const OutboxCounts& counts, std::string_view labels);

  // The families that have samples, in a fixed order, each ending in a newline.
  std::string Render() const;

 private:
  void Sample(std::string_view family, std::string_view labels, std::string_view extra_label, uint64_t value);

  std::vector<std::string> samples_;  // per family of the table in metrics_text.cpp, its sample lines
};

// A page with one instance.
std::string FormatPrometheus(const ConsumerStats& stats, std::string_view labels);
std::string FormatPrometheus(const OutboxRelayStats& stats, std::string_view labels);
std::string FormatPrometheus(const OutboxCounts& counts, std::string_view labels);

}  // namespace oncemq
