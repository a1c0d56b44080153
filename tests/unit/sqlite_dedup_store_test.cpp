// What only the SQLite dedup store has (the shared conformance suite covers the rest): the cost of a
// CompleteBatch in transactions, which is what fsyncs cost under synchronous=FULL, and a clock that is this
// machine's system clock.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/stores/sqlite_dedup_store.h"
#include "common/clock.h"
#include "oncemq/dedup_store.h"
#include "storage_test_util.h"

namespace oncemq::client {
namespace {

using std::chrono::seconds;

constexpr const char* kGroup = "billing";

class SqliteDedupStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<SqliteDedupStore>> opened =
        SqliteDedupStore::Open({.path = (dir_.path() / "dedup.db").string()});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
  }

  // Claims `n` fresh keys prefix0 … prefix<n-1> and returns their Complete requests.
  std::vector<CompleteRequest> ClaimKeys(const std::string& prefix, int n) {
    std::vector<ClaimRequest> claims;
    for (int i = 0; i < n; ++i) {
      claims.push_back({.group = kGroup,
                        .key = prefix + std::to_string(i),
                        .owner = "consumer-a",
                        .lease = seconds(10),
                        .payload_hash = std::nullopt});
    }
    Result<std::vector<ClaimResult>> claimed = store_->Claim(claims);
    EXPECT_TRUE(claimed.ok()) << claimed.status().ToString();
    std::vector<CompleteRequest> completes;
    for (size_t i = 0; claimed.ok() && i < claimed->size(); ++i) {
      EXPECT_EQ((*claimed)[i].outcome, ClaimOutcome::kClaimed);
      completes.push_back({.group = kGroup,
                           .key = claims[i].key,
                           .token = (*claimed)[i].record.fencing_token,
                           .retention = seconds(3600),
                           .result = "receipt-" + std::to_string(i)});
    }
    return completes;
  }

  storage::test::TempDir dir_;
  std::unique_ptr<SqliteDedupStore> store_;
};

// The store clock is the system clock's whole milliseconds, as the consumer's own WallMs(): a message due
// at T (a retry copy's oncemq-deliver-at) and handled at store time T' >= T agree on which came first. The
// julianday arithmetic it replaced read 1 ms early for about half of all instants.
TEST_F(SqliteDedupStoreTest, ClockIsTheSystemClocksWholeMilliseconds) {
  for (int i = 0; i < 2'000; ++i) {
    const int64_t before = WallMs();
    Result<int64_t> now = store_->NowMs();
    const int64_t after = WallMs();
    ASSERT_TRUE(now.ok()) << now.status().ToString();
    ASSERT_GE(*now, before) << "read " << i;
    ASSERT_LE(*now, after) << "read " << i;
  }
}

TEST_F(SqliteDedupStoreTest, CompleteBatchIsOneTransactionWhateverItsSize) {
  const std::vector<CompleteRequest> one = ClaimKeys("single-", 1);
  const std::vector<CompleteRequest> many = ClaimKeys("order-", 500);
  const auto commits_of = [&](const std::vector<CompleteRequest>& batch, FencedOutcome want) {
    const uint64_t before = store_->commits_for_testing();
    Result<std::vector<FencedOutcome>> outcomes = store_->CompleteBatch(batch);
    EXPECT_TRUE(outcomes.ok()) << outcomes.status().ToString();
    EXPECT_EQ(outcomes.ok() ? *outcomes : std::vector<FencedOutcome>(),
              std::vector<FencedOutcome>(batch.size(), want));
    return store_->commits_for_testing() - before;
  };

  EXPECT_EQ(commits_of(one, FencedOutcome::kOk), 1u);
  EXPECT_EQ(commits_of(many, FencedOutcome::kOk), 1u);
  EXPECT_EQ(commits_of(many, FencedOutcome::kFenced), 1u);  // all done already: nothing changes
  // The per-request default would have committed once per key.
  const uint64_t before = store_->commits_for_testing();
  ASSERT_TRUE(store_->Complete(kGroup, "order-0", many[0].token, seconds(1), std::nullopt).ok());
  EXPECT_EQ(store_->commits_for_testing() - before, 1u);
}

TEST_F(SqliteDedupStoreTest, CompleteBatchReadsTheClockOnce) {
  const std::vector<CompleteRequest> batch = ClaimKeys("order-", 200);
  Result<std::vector<FencedOutcome>> outcomes = store_->CompleteBatch(batch);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  std::optional<int64_t> updated;
  for (const CompleteRequest& r : batch) {
    Result<std::optional<DedupRecord>> record = store_->Get(kGroup, r.key);
    ASSERT_TRUE(record.ok() && record->has_value()) << r.key;
    EXPECT_EQ((*record)->state, DedupState::kConsumed);
    EXPECT_EQ((*record)->result, r.result);
    if (!updated) updated = (*record)->updated_ms;
    EXPECT_EQ((*record)->updated_ms, *updated) << r.key;
    EXPECT_EQ((*record)->retain_until_ms, *updated + 3'600'000) << r.key;
  }
}

TEST_F(SqliteDedupStoreTest, RepeatedKeyInACompleteBatchIsDoneByItsFirstValidRequest) {
  std::vector<CompleteRequest> claimed = ClaimKeys("order-", 1);
  ASSERT_EQ(claimed.size(), 1u);
  CompleteRequest stale = claimed[0];
  stale.token -= 1;
  stale.result = "stale";
  const std::vector<CompleteRequest> batch = {stale, claimed[0], claimed[0]};
  Result<std::vector<FencedOutcome>> outcomes = store_->CompleteBatch(batch);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  EXPECT_EQ(*outcomes,
            (std::vector<FencedOutcome>{FencedOutcome::kFenced, FencedOutcome::kOk, FencedOutcome::kFenced}));
  Result<std::optional<DedupRecord>> record = store_->Get(kGroup, "order-0");
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ((*record)->result, "receipt-0");
}

}  // namespace
}  // namespace oncemq::client
