// BrokerStats: the broker-wide counters of the metrics page that no partition owns — requests per API and
// how long each took from its arrival to its answer written, and fsyncs with their latency and the acks=all
// produce answers (one per partition of a request) each one released — the group-commit size is
// fsync_produce_requests ÷ fsyncs.
//
// One instance per process (Stats()): connections and the flusher record into it without plumbing, as a
// Prometheus client library's default registry does. Every record is a few relaxed atomic increments; the
// metrics page reads them without locking, so a page may show a request counted but not yet in its
// histogram — never the reverse of what happened.
// Thread safety: any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace oncemq::broker {

// Nanoseconds of a monotonic clock, for the latencies below.
inline int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class LatencyHistogram {
 public:
  // Upper bounds of the buckets, in seconds (Prometheus `le`); one more bucket holds the rest (+Inf).
  static constexpr std::array<double, 16> kBounds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  void Observe(int64_t nanoseconds);
  // Appends the `_bucket`, `_sum` and `_count` lines of `name` with `labels` (e.g. `api="produce"`, or "").
  void Render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};  // not cumulative; +Inf last
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

// The APIs with a family of their own; everything else is counted as kOther.
enum class ApiGroup { kProduce = 0, kFetch = 1, kOther = 2 };
std::string_view ApiGroupName(ApiGroup group);
ApiGroup ApiGroupOf(int16_t api_key);

struct BrokerStats {
  struct Api {
    std::atomic<uint64_t> requests{0};
    LatencyHistogram latency;
  };
  std::array<Api, 3> apis;
  std::atomic<uint64_t> fsyncs{0};
  std::atomic<uint64_t> fsync_produce_requests{
      0};  // produce requests whose acks=all answer an fsync released
  LatencyHistogram fsync_latency;

  // The families above in Prometheus text.
  std::string Render() const;
};

BrokerStats& Stats();

}  // namespace oncemq::broker
