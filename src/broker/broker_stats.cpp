#include "broker/broker_stats.h"

#include <fmt/format.h>

namespace oncemq::broker {

void LatencyHistogram::Observe(int64_t nanoseconds) {
  const double seconds = static_cast<double>(nanoseconds) / 1e9;
  size_t bucket = 0;
  while (bucket < kBounds.size() && seconds > kBounds[bucket]) ++bucket;
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(std::max<int64_t>(nanoseconds, 0)), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void LatencyHistogram::Render(std::string& out, std::string_view name, std::string_view labels) const {
  const std::string prefix = labels.empty() ? "" : std::string(labels) + ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{{}le=\"{}\"}} {}\n", name, prefix, kBounds[i], cumulative);
  }
  cumulative += buckets_[kBounds.size()].load(std::memory_order_relaxed);
  out += fmt::format("{}_bucket{{{}le=\"+Inf\"}} {}\n", name, prefix, cumulative);
  const std::string braces = labels.empty() ? "" : "{" + std::string(labels) + "}";
  out += fmt::format("{}_sum{} {}\n", name, braces, static_cast<double>(sum_ns_.load()) / 1e9);
  // The count is the buckets' total, so that it always equals the +Inf bucket of the same page.
  out += fmt::format("{}_count{} {}\n", name, braces, cumulative);
}

std::string_view ApiGroupName(ApiGroup group) {
  switch (group) {
    case ApiGroup::kProduce: return "produce";
    case ApiGroup::kFetch: return "fetch";
    case ApiGroup::kOther: return "other";
  }
  return "other";
}

ApiGroup ApiGroupOf(int16_t api_key) {
  if (api_key == 0) return ApiGroup::kProduce;
  if (api_key == 1) return ApiGroup::kFetch;
  return ApiGroup::kOther;
}

std::string BrokerStats::Render() const {
  std::string out =
      "# HELP oncemq_requests_total Requests received, by API (produce, fetch, other)\n"
      "# TYPE oncemq_requests_total counter\n";
  for (ApiGroup g : {ApiGroup::kProduce, ApiGroup::kFetch, ApiGroup::kOther}) {
    out += fmt::format("oncemq_requests_total{{api=\"{}\"}} {}\n", ApiGroupName(g),
                       apis[static_cast<size_t>(g)].requests.load());
  }
  out +=
      "# HELP oncemq_request_latency_seconds From a request's arrival to its answer written (acks=all "
      "produce: includes the fsync; fetch: includes the long-poll wait)\n"
      "# TYPE oncemq_request_latency_seconds histogram\n";
  for (ApiGroup g : {ApiGroup::kProduce, ApiGroup::kFetch, ApiGroup::kOther}) {
    apis[static_cast<size_t>(g)].latency.Render(out, "oncemq_request_latency_seconds",
                                                fmt::format("api=\"{}\"", ApiGroupName(g)));
  }
  out += fmt::format(
      "# HELP oncemq_fsyncs_total Partition flushes (fdatasync)\n# TYPE oncemq_fsyncs_total counter\n"
      "oncemq_fsyncs_total {}\n"
      "# HELP oncemq_fsync_produce_requests_total Produce requests whose answer a flush released; divided by "
      "oncemq_fsyncs_total, the group-commit size\n# TYPE oncemq_fsync_produce_requests_total counter\n"
      "oncemq_fsync_produce_requests_total {}\n"
      "# HELP oncemq_fsync_latency_seconds Time of one partition flush\n"
      "# TYPE oncemq_fsync_latency_seconds histogram\n",
      fsyncs.load(), fsync_produce_requests.load());
  fsync_latency.Render(out, "oncemq_fsync_latency_seconds", "");
  return out;
}

BrokerStats& Stats() {
  static BrokerStats stats;
  return stats;
}

}  // namespace oncemq::broker
