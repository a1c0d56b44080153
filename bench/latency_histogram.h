// LatencyHistogram: percentiles of many durations in fixed memory.
//
// Values are grouped by power of two and each power of two is split into 64 equal sub-buckets, so a
// reported percentile overstates the true value by at most 1/64 (1.6%), from a nanosecond up to
// centuries. Record() is O(1) and never allocates, which keeps the measurement from disturbing the
// per-message hot path it measures. Thread safety: none; one thread records and reads.
#pragma once

#include <array>
#include <cstdint>

namespace oncemq::bench {

class LatencyHistogram {
 public:
  // REQUIRES: nanos >= 0 (a negative duration is recorded as 0).
  void Record(int64_t nanos);

  uint64_t count() const { return count_; }
  int64_t max_nanos() const { return max_; }
  // The smallest recorded bucket bound below which `fraction` (0..1] of the values lie; 0 when empty.
  int64_t PercentileNanos(double fraction) const;

 private:
  static constexpr int kSubBucketBits = 6;
  static constexpr int kSubBuckets = 1 << kSubBucketBits;
  static constexpr int kBucketCount = (64 - kSubBucketBits + 1) * kSubBuckets;

  static int BucketOf(uint64_t value);
  static int64_t UpperBoundOf(int bucket);

  std::array<uint64_t, kBucketCount> counts_{};
  uint64_t count_ = 0;
  int64_t max_ = 0;
};

}  // namespace oncemq::bench
