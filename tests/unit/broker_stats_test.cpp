// The latency histogram of the metrics page: an observation lands in the first bucket whose bound it does
// not exceed, the rendered buckets are cumulative, and _count equals the +Inf bucket.
#include <gtest/gtest.h>

#include <string>

#include "broker/broker_stats.h"

namespace oncemq::broker {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(LatencyHistogramTest, ObservationsLandInTheFirstBucketTheyDoNotExceedAndRenderCumulatively) {
  LatencyHistogram h;
  h.Observe(100'000);         // 0.1 ms: exactly the first bound
  h.Observe(100'001);         // just above it
  h.Observe(3'000'000);       // 3 ms
  h.Observe(60'000'000'000);  // 60 s: beyond every bound
  std::string out;
  h.Render(out, "x_seconds", "api=\"produce\"");
  EXPECT_TRUE(Has(out, "x_seconds_bucket{api=\"produce\",le=\"0.0001\"} 1")) << out;
  EXPECT_TRUE(Has(out, "x_seconds_bucket{api=\"produce\",le=\"0.00025\"} 2")) << out;
  EXPECT_TRUE(Has(out, "x_seconds_bucket{api=\"produce\",le=\"0.0025\"} 2")) << out;
  EXPECT_TRUE(Has(out, "x_seconds_bucket{api=\"produce\",le=\"0.005\"} 3")) << out;
  EXPECT_TRUE(Has(out, "x_seconds_bucket{api=\"produce\",le=\"10\"} 3")) << out;
  EXPECT_TRUE(Has(out, "x_seconds_bucket{api=\"produce\",le=\"+Inf\"} 4")) << out;
  EXPECT_TRUE(Has(out, "x_seconds_count{api=\"produce\"} 4")) << out;
  EXPECT_TRUE(Has(out, "x_seconds_sum{api=\"produce\"} 60.003200001")) << out;
}

TEST(LatencyHistogramTest, UnlabelledHistogramHasNoEmptyBraces) {
  LatencyHistogram h;
  h.Observe(1'000);
  std::string out;
  h.Render(out, "y_seconds", "");
  EXPECT_TRUE(Has(out, "y_seconds_bucket{le=\"0.0001\"} 1")) << out;
  EXPECT_TRUE(Has(out, "y_seconds_count 1")) << out;
}

TEST(LatencyHistogramTest, ApiKeysMapToTheirGroups) {
  EXPECT_EQ(ApiGroupOf(0), ApiGroup::kProduce);
  EXPECT_EQ(ApiGroupOf(1), ApiGroup::kFetch);
  EXPECT_EQ(ApiGroupOf(3), ApiGroup::kOther);
  EXPECT_EQ(ApiGroupName(ApiGroup::kFetch), "fetch");
}

}  // namespace
}  // namespace oncemq::broker
