// The DedupStore conformance suite's fixture, shared so that each store's harness can live in its own file:
// a file defines a StoreHarness for its store and instantiates the suite with
//   INSTANTIATE_TEST_SUITE_P(MyStore, DedupStoreConformance, ::testing::Values(StoreKind{"MyStore", make}),
//   ...)
// and every case of dedup_store_conformance_test.cpp runs against it. A harness that starts a server for
// the whole suite registers its stop with AtSuiteEnd.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "oncemq/dedup_store.h"

namespace oncemq::client::conformance {

using std::chrono::milliseconds;
using std::chrono::seconds;

inline constexpr const char* kGroup = "billing";

// A store under test, its clock, and (where the store has such a thing) a second store object on the
// same data.
class StoreHarness {
 public:
  virtual ~StoreHarness() = default;
  // Why the store could not be set up; empty when it is ready.
  virtual std::string SetupError() const { return ""; }
  virtual DedupStore& store() = 0;
  // Moves the store's clock forward.
  virtual void Advance(milliseconds by) = 0;
  // Another store object sharing the data (SQLite: a second connection to the file); nullptr if none.
  virtual std::unique_ptr<DedupStore> OpenAnother() = 0;
};

struct StoreKind {
  const char* name;
  std::function<std::unique_ptr<StoreHarness>()> make;
};

// Runs `stop` once after the suite's last case (in reverse order of registration).
void AtSuiteEnd(std::function<void()> stop);
void StopSuiteResources();

inline void PrintTo(const StoreKind& kind, std::ostream* os) {
  *os << kind.name;
}

inline ClaimRequest Req(const std::string& key, const std::string& owner = "consumer-a",
                        milliseconds lease = seconds(10), std::optional<std::string> hash = std::nullopt) {
  return ClaimRequest{.group = kGroup, .key = key, .owner = owner, .lease = lease, .payload_hash = hash};
}

class DedupStoreConformance : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    ASSERT_EQ(harness_->SetupError(), "");
  }
  // Stops what harnesses started for the whole suite (servers), after its last case.
  static void TearDownTestSuite() { StopSuiteResources(); }

  DedupStore& store() { return harness_->store(); }

  ClaimResult ClaimOne(const ClaimRequest& request) {
    Result<std::vector<ClaimResult>> results = store().Claim(std::span(&request, 1));
    EXPECT_TRUE(results.ok()) << results.status().ToString();
    if (!results.ok() || results->size() != 1) {
      ADD_FAILURE() << "expected one result";
      return {};
    }
    return (*results)[0];
  }

  DedupRecord MustGet(const std::string& key) {
    Result<std::optional<DedupRecord>> record = store().Get(kGroup, key);
    EXPECT_TRUE(record.ok()) << record.status().ToString();
    if (!record.ok() || !record->has_value()) {
      ADD_FAILURE() << "no record of " << key;
      return {};
    }
    return **record;
  }

  bool Exists(const std::string& key) {
    Result<std::optional<DedupRecord>> record = store().Get(kGroup, key);
    EXPECT_TRUE(record.ok());
    return record.ok() && record->has_value();
  }

  int64_t Now() {
    Result<int64_t> now = store().NowMs();
    EXPECT_TRUE(now.ok());
    return now.ok() ? *now : 0;
  }

  FencedOutcome Complete(const std::string& key, int64_t token, milliseconds retention = seconds(3600),
                         std::optional<std::string> result = std::nullopt) {
    Result<FencedOutcome> outcome = store().Complete(kGroup, key, token, retention, std::move(result));
    EXPECT_TRUE(outcome.ok()) << outcome.status().ToString();
    return outcome.ok() ? *outcome : FencedOutcome::kFenced;
  }
  FencedOutcome Renew(const std::string& key, int64_t token, milliseconds lease) {
    Result<FencedOutcome> outcome = store().Renew(kGroup, key, token, lease);
    EXPECT_TRUE(outcome.ok()) << outcome.status().ToString();
    return outcome.ok() ? *outcome : FencedOutcome::kOk;
  }
  FencedOutcome Release(const std::string& key, int64_t token, const std::string& error) {
    Result<FencedOutcome> outcome = store().Release(kGroup, key, token, error);
    EXPECT_TRUE(outcome.ok()) << outcome.status().ToString();
    return outcome.ok() ? *outcome : FencedOutcome::kOk;
  }
  size_t Sweep(size_t limit) {
    Result<size_t> swept = store().Sweep(limit);
    EXPECT_TRUE(swept.ok()) << swept.status().ToString();
    return swept.ok() ? *swept : 0;
  }

  std::unique_ptr<StoreHarness> harness_;
};

}  // namespace oncemq::client::conformance
