#include "latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace oncemq::bench {

// Values below kSubBuckets get one bucket each. A larger value is shifted right until it has
// kSubBucketBits + 1 significant bits; the shift picks the group and the remaining low bits the
// sub-bucket within it.
int LatencyHistogram::BucketOf(uint64_t value) {
  if (value < kSubBuckets) return static_cast<int>(value);
  int shift = std::bit_width(value) - (kSubBucketBits + 1);
  return (shift + 1) * kSubBuckets + static_cast<int>((value >> shift) - kSubBuckets);
}

int64_t LatencyHistogram::UpperBoundOf(int bucket) {
  int group = bucket / kSubBuckets;
  int sub_bucket = bucket % kSubBuckets;
  if (group == 0) return sub_bucket;
  int shift = group - 1;
  uint64_t low = static_cast<uint64_t>(kSubBuckets + sub_bucket) << shift;
  return static_cast<int64_t>(low + ((uint64_t{1} << shift) - 1));
}

void LatencyHistogram::Record(int64_t nanos) {
  nanos = std::max<int64_t>(nanos, 0);
  ++counts_[BucketOf(static_cast<uint64_t>(nanos))];
  ++count_;
  max_ = std::max(max_, nanos);
}

int64_t LatencyHistogram::PercentileNanos(double fraction) const {
  if (count_ == 0) return 0;
  auto wanted = static_cast<uint64_t>(std::ceil(fraction * static_cast<double>(count_)));
  wanted = std::clamp<uint64_t>(wanted, 1, count_);
  uint64_t seen = 0;
  for (int bucket = 0; bucket < kBucketCount; ++bucket) {
    seen += counts_[bucket];
    if (seen >= wanted) return std::min(UpperBoundOf(bucket), max_);
  }
  return max_;
}

}  // namespace oncemq::bench
