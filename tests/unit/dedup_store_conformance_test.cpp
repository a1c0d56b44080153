// One conformance suite for every DedupStore: each row of DESIGN.md §3's decision table and each guarantee
// of include/oncemq/dedup_store.h, run against the memory store, the SQLite store and the Redis store (on a
// real redis-server the suite starts itself; without redis-server installed those cases fail, not skip).
// Time is stepped through each store's test clock, never slept.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "client/stores/memory_dedup_store.h"
#include "client/stores/redis_dedup_store.h"
#include "client/stores/sqlite_dedup_store.h"
#include "dedup_store_conformance.h"
#include "oncemq/dedup_store.h"
#include "support/servers/redis_server.h"

namespace oncemq::client::conformance {

namespace {
std::vector<std::function<void()>>& SuiteResources() {
  static std::vector<std::function<void()>> stops;
  return stops;
}
}  // namespace

void AtSuiteEnd(std::function<void()> stop) {
  SuiteResources().push_back(std::move(stop));
}
void StopSuiteResources() {
  std::vector<std::function<void()>>& stops = SuiteResources();
  while (!stops.empty()) {
    std::function<void()> stop = std::move(stops.back());
    stops.pop_back();
    stop();
  }
}

namespace {

class MemoryHarness : public StoreHarness {
 public:
  MemoryHarness() : store_([this] { return now_.load(); }) {}
  DedupStore& store() override { return store_; }
  void Advance(milliseconds by) override { now_ += by.count(); }
  std::unique_ptr<DedupStore> OpenAnother() override { return nullptr; }

 private:
  std::atomic<int64_t> now_{1'700'000'000'000};
  MemoryDedupStore store_;
};

class SqliteHarness : public StoreHarness {
 public:
  SqliteHarness() {
    static std::atomic<int> counter{0};
    path_ = ::testing::TempDir() + "oncemq_dedup_" + std::to_string(::getpid()) + "_" +
            std::to_string(counter++) + ".db";
    Remove();
    store_ = Open();
  }
  ~SqliteHarness() override {
    store_.reset();
    Remove();
  }
  DedupStore& store() override { return *store_; }
  void Advance(milliseconds by) override {
    skew_ms_ += by.count();
    store_->SetClockSkewForTesting(skew_ms_);
  }
  std::unique_ptr<DedupStore> OpenAnother() override { return Open(); }

 private:
  std::unique_ptr<SqliteDedupStore> Open() {
    Result<std::unique_ptr<SqliteDedupStore>> store =
        SqliteDedupStore::Open({.path = path_, .clock_skew_ms = skew_ms_});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }
  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path_ + suffix).c_str());
  }

  std::string path_;
  int64_t skew_ms_ = 0;
  std::unique_ptr<SqliteDedupStore> store_;
};

// One redis-server for the whole suite, started by the first Redis case and stopped after the suite
// (AtSuiteEnd); each case starts from FLUSHALL.
class SharedRedis {
 public:
  static oncemq::testing::RedisServer* Get(std::string* error) {
    if (server_ == nullptr && start_error_.empty()) {
      auto server = std::make_unique<oncemq::testing::RedisServer>();
      if (server->Start(&start_error_)) {
        server_ = std::move(server);
        AtSuiteEnd([] { server_.reset(); });
      }
    }
    *error = start_error_;
    return server_.get();
  }
  static void Stop() { server_.reset(); }

 private:
  static inline std::unique_ptr<oncemq::testing::RedisServer> server_;
  static inline std::string start_error_;
};

class RedisHarness : public StoreHarness {
 public:
  RedisHarness() {
    server_ = SharedRedis::Get(&error_);
    if (server_ == nullptr) return;
    if (!server_->FlushAll(&error_)) return;
    store_ = Open();
  }
  std::string SetupError() const override {
    if (!error_.empty()) return "redis: " + error_;
    return store_ == nullptr ? "redis: the store did not open" : "";
  }
  DedupStore& store() override { return *store_; }
  void Advance(milliseconds by) override {
    skew_ms_ += by.count();
    store_->SetClockSkewForTesting(skew_ms_);
  }
  std::unique_ptr<DedupStore> OpenAnother() override { return Open(); }

 private:
  std::unique_ptr<RedisDedupStore> Open() {
    Result<std::unique_ptr<RedisDedupStore>> store =
        RedisDedupStore::Open({.uri = server_->uri(), .clock_skew_ms = skew_ms_});
    if (!store.ok()) {
      error_ = store.status().ToString();
      return nullptr;
    }
    return std::move(store).value();
  }

  oncemq::testing::RedisServer* server_ = nullptr;
  std::string error_;
  int64_t skew_ms_ = 0;
  std::unique_ptr<RedisDedupStore> store_;
};

TEST_P(DedupStoreConformance, ClaimOfNewKeyIsClaimedWithTokenAndStoreClockLease) {
  const int64_t before = Now();
  ClaimResult r = ClaimOne(Req("order-1", "consumer-a", seconds(10)));
  const int64_t after = Now();
  EXPECT_EQ(r.outcome, ClaimOutcome::kClaimed);
  EXPECT_GT(r.record.fencing_token, 0);
  EXPECT_EQ(r.record.state, DedupState::kConsuming);
  EXPECT_EQ(r.record.owner, "consumer-a");
  EXPECT_GE(r.record.lease_until_ms, before + 10'000);
  EXPECT_LE(r.record.lease_until_ms, after + 10'000);

  DedupRecord stored = MustGet("order-1");
  EXPECT_EQ(stored.group, kGroup);
  EXPECT_EQ(stored.key, "order-1");
  EXPECT_EQ(stored.state, DedupState::kConsuming);
  EXPECT_EQ(stored.owner, "consumer-a");
  EXPECT_EQ(stored.fencing_token, r.record.fencing_token);
  EXPECT_EQ(stored.lease_until_ms, r.record.lease_until_ms);
  EXPECT_EQ(stored.attempts, 0);
}

// A store may answer a claim without reading the record back (Redis answers a fresh claim with its token
// alone): every field of the answer must still be what the store holds.
void ExpectSameRecord(const DedupRecord& answered, const DedupRecord& stored) {
  EXPECT_EQ(answered.group, stored.group);
  EXPECT_EQ(answered.key, stored.key);
  EXPECT_EQ(answered.state, stored.state);
  EXPECT_EQ(answered.owner, stored.owner);
  EXPECT_EQ(answered.fencing_token, stored.fencing_token);
  EXPECT_EQ(answered.lease_until_ms, stored.lease_until_ms);
  EXPECT_EQ(answered.retain_until_ms, stored.retain_until_ms);
  EXPECT_EQ(answered.attempts, stored.attempts);
  EXPECT_EQ(answered.last_error, stored.last_error);
  EXPECT_EQ(answered.payload_hash, stored.payload_hash);
  EXPECT_EQ(answered.result, stored.result);
  EXPECT_EQ(answered.updated_ms, stored.updated_ms);
}

TEST_P(DedupStoreConformance, ClaimAnswerIsTheRecordTheStoreHolds) {
  std::vector<ClaimRequest> batch = {Req("fresh-hashed", "consumer-a", seconds(10), "hash-1"),
                                     Req("fresh-plain", "consumer-a", seconds(20))};
  Result<std::vector<ClaimResult>> claimed = store().Claim(batch);
  ASSERT_TRUE(claimed.ok()) << claimed.status().ToString();
  ASSERT_EQ(claimed->size(), 2u);
  ExpectSameRecord((*claimed)[0].record, MustGet("fresh-hashed"));
  ExpectSameRecord((*claimed)[1].record, MustGet("fresh-plain"));

  // A claim after a failure carries attempts and the error; a take-over keeps them too.
  ASSERT_EQ(Release("fresh-plain", (*claimed)[1].record.fencing_token, "boom"), FencedOutcome::kOk);
  ClaimResult again = ClaimOne(Req("fresh-plain", "consumer-b", seconds(10)));
  ASSERT_EQ(again.outcome, ClaimOutcome::kClaimed);
  ExpectSameRecord(again.record, MustGet("fresh-plain"));
  harness_->Advance(milliseconds(10'001));
  ClaimResult taken = ClaimOne(Req("fresh-plain", "consumer-c"));
  ASSERT_EQ(taken.outcome, ClaimOutcome::kTakenOver);
  ExpectSameRecord(taken.record, MustGet("fresh-plain"));
}

TEST_P(DedupStoreConformance, GetOfUnknownKeyIsEmpty) {
  Result<std::optional<DedupRecord>> record = store().Get(kGroup, "never-seen");
  ASSERT_TRUE(record.ok());
  EXPECT_FALSE(record->has_value());
}

TEST_P(DedupStoreConformance, GroupsAreSeparate) {
  ClaimResult a = ClaimOne(Req("order-1"));
  ClaimRequest other = Req("order-1", "consumer-b");
  other.group = "shipping";
  EXPECT_EQ(a.outcome, ClaimOutcome::kClaimed);
  EXPECT_EQ(ClaimOne(other).outcome, ClaimOutcome::kClaimed);
}

TEST_P(DedupStoreConformance, ClaimOfConsumedKeyIsDuplicateWithResult) {
  ClaimResult claim = ClaimOne(Req("order-1"));
  const int64_t before = Now();
  ASSERT_EQ(Complete("order-1", claim.record.fencing_token, seconds(3600), "receipt-7"), FencedOutcome::kOk);

  ClaimResult dup = ClaimOne(Req("order-1", "consumer-b"));
  EXPECT_EQ(dup.outcome, ClaimOutcome::kDuplicate);
  EXPECT_EQ(dup.record.state, DedupState::kConsumed);
  EXPECT_EQ(dup.record.result, std::optional<std::string>("receipt-7"));
  EXPECT_EQ(dup.record.fencing_token, claim.record.fencing_token);
  EXPECT_GE(dup.record.retain_until_ms, before + 3'600'000);

  DedupRecord stored = MustGet("order-1");
  EXPECT_EQ(stored.state, DedupState::kConsumed);
  EXPECT_EQ(stored.result, std::optional<std::string>("receipt-7"));
}

TEST_P(DedupStoreConformance, ClaimOfLiveClaimByAnotherOwnerIsInProgress) {
  ClaimResult first = ClaimOne(Req("order-1", "consumer-a"));
  ClaimResult second = ClaimOne(Req("order-1", "consumer-b"));
  EXPECT_EQ(second.outcome, ClaimOutcome::kInProgress);
  EXPECT_EQ(second.record.owner, "consumer-a");
  EXPECT_EQ(second.record.fencing_token, first.record.fencing_token);
  EXPECT_EQ(MustGet("order-1").owner, "consumer-a");
}

TEST_P(DedupStoreConformance, ClaimOfLiveClaimBySameOwnerIsInProgress) {
  ClaimResult first = ClaimOne(Req("order-1", "consumer-a"));
  ClaimResult second = ClaimOne(Req("order-1", "consumer-a"));
  EXPECT_EQ(second.outcome, ClaimOutcome::kInProgress);
  EXPECT_EQ(second.record.fencing_token, first.record.fencing_token);
  EXPECT_EQ(MustGet("order-1").fencing_token, first.record.fencing_token);
}

TEST_P(DedupStoreConformance, ClaimOfExpiredLeaseIsTakenOverWithLargerToken) {
  ClaimResult first = ClaimOne(Req("order-1", "consumer-a", seconds(10)));
  harness_->Advance(milliseconds(10'001));
  ClaimResult second = ClaimOne(Req("order-1", "consumer-b"));
  EXPECT_EQ(second.outcome, ClaimOutcome::kTakenOver);
  EXPECT_GT(second.record.fencing_token, first.record.fencing_token);
  EXPECT_EQ(second.record.owner, "consumer-b");
  EXPECT_EQ(MustGet("order-1").fencing_token, second.record.fencing_token);
}

TEST_P(DedupStoreConformance, FencedOwnerCannotCompleteRenewOrRelease) {
  ClaimResult old_claim = ClaimOne(Req("order-1", "consumer-a", seconds(10)));
  harness_->Advance(milliseconds(10'001));
  ClaimResult new_claim = ClaimOne(Req("order-1", "consumer-b", seconds(10)));
  ASSERT_EQ(new_claim.outcome, ClaimOutcome::kTakenOver);
  const DedupRecord before = MustGet("order-1");
  const int64_t stale = old_claim.record.fencing_token;

  EXPECT_EQ(Complete("order-1", stale, seconds(3600), "stale"), FencedOutcome::kFenced);
  EXPECT_EQ(Renew("order-1", stale, seconds(600)), FencedOutcome::kFenced);
  EXPECT_EQ(Release("order-1", stale, "stale failure"), FencedOutcome::kFenced);

  const DedupRecord after = MustGet("order-1");
  EXPECT_EQ(after.state, DedupState::kConsuming);
  EXPECT_EQ(after.owner, "consumer-b");
  EXPECT_EQ(after.fencing_token, before.fencing_token);
  EXPECT_EQ(after.lease_until_ms, before.lease_until_ms);
  EXPECT_EQ(after.attempts, before.attempts);
  EXPECT_EQ(after.last_error, before.last_error);
  EXPECT_EQ(after.result, std::nullopt);
  EXPECT_EQ(after.updated_ms, before.updated_ms);

  EXPECT_EQ(Complete("order-1", new_claim.record.fencing_token), FencedOutcome::kOk);
}

TEST_P(DedupStoreConformance, CompleteBatchAnswersEachKeyAsCompleteWould) {
  ClaimResult a = ClaimOne(Req("order-a", "consumer-a", seconds(10)));
  ClaimResult stale_b = ClaimOne(Req("order-b", "consumer-a", seconds(10)));
  ClaimResult c = ClaimOne(Req("order-c", "consumer-a", seconds(60)));
  harness_->Advance(milliseconds(10'001));
  ClaimResult new_b = ClaimOne(Req("order-b", "consumer-b", seconds(10)));
  ASSERT_EQ(new_b.outcome, ClaimOutcome::kTakenOver);
  const int64_t retain_from = Now();

  const std::vector<CompleteRequest> batch = {
      {.group = kGroup,
       .key = "order-a",
       .token = a.record.fencing_token,
       .retention = seconds(3600),
       .result = "receipt-a"},
      {.group = kGroup,
       .key = "order-b",
       .token = stale_b.record.fencing_token,
       .retention = seconds(3600),
       .result = "stale"},
      {.group = kGroup, .key = "ghost", .token = 1, .retention = seconds(3600), .result = std::nullopt},
      {.group = kGroup,
       .key = "order-c",
       .token = c.record.fencing_token,
       .retention = seconds(60),
       .result = std::nullopt},
      {.group = kGroup,
       .key = "order-a",
       .token = a.record.fencing_token,
       .retention = seconds(3600),
       .result = "again"},
  };
  Result<std::vector<FencedOutcome>> outcomes = store().CompleteBatch(batch);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  EXPECT_EQ(*outcomes,
            (std::vector<FencedOutcome>{FencedOutcome::kOk, FencedOutcome::kFenced, FencedOutcome::kFenced,
                                        FencedOutcome::kOk, FencedOutcome::kFenced}));

  const DedupRecord done_a = MustGet("order-a");
  EXPECT_EQ(done_a.state, DedupState::kConsumed);
  EXPECT_EQ(done_a.result, "receipt-a");
  EXPECT_GE(done_a.retain_until_ms, retain_from + 3'600'000);
  const DedupRecord done_c = MustGet("order-c");
  EXPECT_EQ(done_c.state, DedupState::kConsumed);
  EXPECT_GE(done_c.retain_until_ms, retain_from + 60'000);
  EXPECT_LT(done_c.retain_until_ms, retain_from + 3'600'000);
  const DedupRecord b = MustGet("order-b");
  EXPECT_EQ(b.state, DedupState::kConsuming);
  EXPECT_EQ(b.owner, "consumer-b");
  EXPECT_FALSE(Exists("ghost"));
  EXPECT_EQ(ClaimOne(Req("order-a")).outcome, ClaimOutcome::kDuplicate);

  Result<std::vector<FencedOutcome>> empty = store().CompleteBatch({});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST_P(DedupStoreConformance, TokenOfUnknownKeyIsFenced) {
  EXPECT_EQ(Complete("ghost", 1), FencedOutcome::kFenced);
  EXPECT_EQ(Renew("ghost", 1, seconds(10)), FencedOutcome::kFenced);
  EXPECT_EQ(Release("ghost", 1, "x"), FencedOutcome::kFenced);
  EXPECT_FALSE(Exists("ghost"));
}

TEST_P(DedupStoreConformance, CompletedClaimCannotBeReleasedOrCompletedAgain) {
  ClaimResult claim = ClaimOne(Req("order-1"));
  ASSERT_EQ(Complete("order-1", claim.record.fencing_token, seconds(3600), "first"), FencedOutcome::kOk);
  EXPECT_EQ(Release("order-1", claim.record.fencing_token, "late"), FencedOutcome::kFenced);
  EXPECT_EQ(Complete("order-1", claim.record.fencing_token, seconds(3600), "second"), FencedOutcome::kFenced);
  DedupRecord stored = MustGet("order-1");
  EXPECT_EQ(stored.state, DedupState::kConsumed);
  EXPECT_EQ(stored.result, std::optional<std::string>("first"));
  EXPECT_EQ(stored.attempts, 0);
}

TEST_P(DedupStoreConformance, ReleaseKeepsAttemptsAndLastErrorForTheNextClaim) {
  ClaimResult first = ClaimOne(Req("order-1", "consumer-a"));
  ASSERT_EQ(Release("order-1", first.record.fencing_token, "timeout calling bank"), FencedOutcome::kOk);
  DedupRecord released = MustGet("order-1");
  EXPECT_EQ(released.state, DedupState::kReleased);
  EXPECT_EQ(released.attempts, 1);
  EXPECT_EQ(released.last_error, "timeout calling bank");

  ClaimResult second = ClaimOne(Req("order-1", "consumer-b"));
  EXPECT_EQ(second.outcome, ClaimOutcome::kClaimed);
  EXPECT_GT(second.record.fencing_token, first.record.fencing_token);
  EXPECT_EQ(second.record.attempts, 1);
  EXPECT_EQ(second.record.last_error, "timeout calling bank");
  EXPECT_EQ(second.record.owner, "consumer-b");

  ASSERT_EQ(Release("order-1", second.record.fencing_token, "bank said no"), FencedOutcome::kOk);
  DedupRecord again = MustGet("order-1");
  EXPECT_EQ(again.attempts, 2);
  EXPECT_EQ(again.last_error, "bank said no");
}

TEST_P(DedupStoreConformance, RenewExtendsTheLease) {
  ClaimResult claim = ClaimOne(Req("order-1", "consumer-a", seconds(10)));
  harness_->Advance(seconds(5));
  ASSERT_EQ(Renew("order-1", claim.record.fencing_token, seconds(10)), FencedOutcome::kOk);
  harness_->Advance(seconds(7));  // past the first lease's end, before the renewed one's
  EXPECT_EQ(ClaimOne(Req("order-1", "consumer-b")).outcome, ClaimOutcome::kInProgress);
  harness_->Advance(seconds(4));  // past the renewed end
  EXPECT_EQ(ClaimOne(Req("order-1", "consumer-b")).outcome, ClaimOutcome::kTakenOver);
}

TEST_P(DedupStoreConformance, PayloadHashMismatchIsAnErrorNotADuplicate) {
  ClaimResult claim = ClaimOne(Req("order-1", "consumer-a", seconds(10), "hash-1"));
  ASSERT_EQ(claim.outcome, ClaimOutcome::kClaimed);
  EXPECT_EQ(claim.record.payload_hash, std::optional<std::string>("hash-1"));
  EXPECT_EQ(ClaimOne(Req("order-1", "consumer-b", seconds(10), "hash-2")).outcome,
            ClaimOutcome::kPayloadMismatch);
  EXPECT_EQ(ClaimOne(Req("order-1", "consumer-b", seconds(10), "hash-1")).outcome, ClaimOutcome::kInProgress);

  ASSERT_EQ(Complete("order-1", claim.record.fencing_token), FencedOutcome::kOk);
  EXPECT_EQ(ClaimOne(Req("order-1", "consumer-b", seconds(10), "hash-2")).outcome,
            ClaimOutcome::kPayloadMismatch);
  EXPECT_EQ(ClaimOne(Req("order-1", "consumer-b", seconds(10), "hash-1")).outcome, ClaimOutcome::kDuplicate);
  EXPECT_EQ(ClaimOne(Req("order-1", "consumer-b")).outcome, ClaimOutcome::kDuplicate);
  EXPECT_EQ(MustGet("order-1").payload_hash, std::optional<std::string>("hash-1"));
}

TEST_P(DedupStoreConformance, KeyRepeatedInOneBatchIsClaimedOnce) {
  const std::vector<ClaimRequest> batch = {Req("order-1", "consumer-a"), Req("order-2", "consumer-a"),
                                           Req("order-1", "consumer-a")};
  Result<std::vector<ClaimResult>> results = store().Claim(batch);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->size(), 3u);
  EXPECT_EQ((*results)[0].outcome, ClaimOutcome::kClaimed);
  EXPECT_EQ((*results)[1].outcome, ClaimOutcome::kClaimed);
  EXPECT_EQ((*results)[1].record.key, "order-2");
  EXPECT_EQ((*results)[2].outcome, ClaimOutcome::kInProgress);
  EXPECT_EQ((*results)[2].record.fencing_token, (*results)[0].record.fencing_token);
  EXPECT_EQ(MustGet("order-1").fencing_token, (*results)[0].record.fencing_token);
}

TEST_P(DedupStoreConformance, BatchAnswersEachRowOfTheTableInOrder) {
  ClaimResult done = ClaimOne(Req("done"));
  ASSERT_EQ(Complete("done", done.record.fencing_token), FencedOutcome::kOk);
  ClaimOne(Req("expiring", "consumer-a", seconds(1)));
  harness_->Advance(seconds(2));
  ClaimOne(Req("busy", "consumer-a", seconds(60)));
  const std::vector<ClaimRequest> batch = {Req("done", "consumer-b"), Req("busy", "consumer-b"),
                                           Req("expiring", "consumer-b"), Req("fresh", "consumer-b")};
  Result<std::vector<ClaimResult>> results = store().Claim(batch);
  ASSERT_TRUE(results.ok());
  ASSERT_EQ(results->size(), 4u);
  EXPECT_EQ((*results)[0].outcome, ClaimOutcome::kDuplicate);
  EXPECT_EQ((*results)[1].outcome, ClaimOutcome::kInProgress);
  EXPECT_EQ((*results)[2].outcome, ClaimOutcome::kTakenOver);
  EXPECT_EQ((*results)[3].outcome, ClaimOutcome::kClaimed);
}

TEST_P(DedupStoreConformance, InvalidClaimIsRejectedAndChangesNothing) {
  const std::vector<ClaimRequest> batch = {Req("order-1"), Req("")};
  Result<std::vector<ClaimResult>> results = store().Claim(batch);
  ASSERT_FALSE(results.ok());
  EXPECT_EQ(results.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(Exists("order-1"));
}

TEST_P(DedupStoreConformance, SweepDeletesOnlyConsumedRecordsPastRetention) {
  ClaimResult old_done = ClaimOne(Req("old-done"));
  ASSERT_EQ(Complete("old-done", old_done.record.fencing_token, seconds(1)), FencedOutcome::kOk);
  ClaimResult kept_done = ClaimOne(Req("kept-done"));
  ASSERT_EQ(Complete("kept-done", kept_done.record.fencing_token, seconds(3600)), FencedOutcome::kOk);
  ClaimOne(Req("expired-claim", "consumer-a", seconds(1)));
  ClaimResult failed = ClaimOne(Req("released"));
  ASSERT_EQ(Release("released", failed.record.fencing_token, "x"), FencedOutcome::kOk);
  harness_->Advance(seconds(2));

  EXPECT_EQ(Sweep(100), 1u);
  EXPECT_FALSE(Exists("old-done"));
  EXPECT_TRUE(Exists("kept-done"));
  EXPECT_TRUE(Exists("expired-claim"));
  EXPECT_TRUE(Exists("released"));
  EXPECT_EQ(Sweep(100), 0u);
}

TEST_P(DedupStoreConformance, SweepRespectsTheLimit) {
  for (int i = 0; i < 5; ++i) {
    const std::string key = "order-" + std::to_string(i);
    ClaimResult claim = ClaimOne(Req(key));
    ASSERT_EQ(Complete(key, claim.record.fencing_token, seconds(1)), FencedOutcome::kOk);
  }
  harness_->Advance(seconds(2));
  EXPECT_EQ(Sweep(2), 2u);
  EXPECT_EQ(Sweep(0), 0u);
  EXPECT_EQ(Sweep(10), 3u);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(Exists("order-" + std::to_string(i)));
}

TEST_P(DedupStoreConformance, ConsumedRecordPastRetentionIsClaimedAfresh) {
  ClaimResult first = ClaimOne(Req("order-1"));
  ASSERT_EQ(Release("order-1", first.record.fencing_token, "x"), FencedOutcome::kOk);
  ClaimResult second = ClaimOne(Req("order-1"));
  ASSERT_EQ(Complete("order-1", second.record.fencing_token, seconds(1)), FencedOutcome::kOk);
  harness_->Advance(seconds(2));
  ClaimResult third = ClaimOne(Req("order-1", "consumer-b"));
  EXPECT_EQ(third.outcome, ClaimOutcome::kClaimed);
  EXPECT_GT(third.record.fencing_token, second.record.fencing_token);
  EXPECT_EQ(third.record.attempts, 0);
  EXPECT_EQ(third.record.result, std::nullopt);
}

TEST_P(DedupStoreConformance, TokensOfAKeyKeepGrowingAfterSweep) {
  ClaimResult first = ClaimOne(Req("order-1", "consumer-a", seconds(1)));
  harness_->Advance(seconds(2));
  ClaimResult second = ClaimOne(Req("order-1", "consumer-a", seconds(1)));
  ASSERT_EQ(second.outcome, ClaimOutcome::kTakenOver);
  ASSERT_EQ(Complete("order-1", second.record.fencing_token, seconds(1)), FencedOutcome::kOk);
  harness_->Advance(seconds(2));
  ASSERT_EQ(Sweep(10), 1u);
  ClaimResult third = ClaimOne(Req("order-1"));
  EXPECT_EQ(third.outcome, ClaimOutcome::kClaimed);
  EXPECT_GT(third.record.fencing_token, second.record.fencing_token);
  // The first owner, fenced long ago, still cannot touch the new claim.
  EXPECT_EQ(Complete("order-1", first.record.fencing_token), FencedOutcome::kFenced);
  EXPECT_EQ(Complete("order-1", second.record.fencing_token), FencedOutcome::kFenced);
}

TEST_P(DedupStoreConformance, ConcurrentClaimsOfAFreshKeyGiveExactlyOneClaim) {
  constexpr int kThreads = 8;
  constexpr int kKeys = 40;
  std::unique_ptr<DedupStore> another = harness_->OpenAnother();
  std::vector<std::vector<ClaimOutcome>> outcomes(kThreads, std::vector<ClaimOutcome>(kKeys));
  std::atomic<int> ready{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    DedupStore& s = (another != nullptr && t % 2 == 1) ? *another : store();
    threads.emplace_back([&, t] {
      ready++;
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int k = 0; k < kKeys; ++k) {
        const ClaimRequest request = Req("order-" + std::to_string(k), "consumer-" + std::to_string(t));
        Result<std::vector<ClaimResult>> r = s.Claim(std::span(&request, 1));
        if (!r.ok() || r->size() != 1) {
          errors++;
          continue;
        }
        outcomes[t][k] = (*r)[0].outcome;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  ASSERT_EQ(errors.load(), 0);
  for (int k = 0; k < kKeys; ++k) {
    int claimed = 0;
    int in_progress = 0;
    for (int t = 0; t < kThreads; ++t) {
      claimed += outcomes[t][k] == ClaimOutcome::kClaimed;
      in_progress += outcomes[t][k] == ClaimOutcome::kInProgress;
    }
    EXPECT_EQ(claimed, 1) << "key " << k;
    EXPECT_EQ(in_progress, kThreads - 1) << "key " << k;
  }
}

// Redis only: the store survives what a server does to its clients.
class RedisDedupStoreTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { SharedRedis::Stop(); }
};

TEST_F(RedisDedupStoreTest, LostScriptCacheAndDroppedConnectionsAreSurvived) {
  std::string error;
  oncemq::testing::RedisServer* server = SharedRedis::Get(&error);
  ASSERT_NE(server, nullptr) << error;
  ASSERT_TRUE(server->FlushAll(&error)) << error;
  Result<std::unique_ptr<RedisDedupStore>> store = RedisDedupStore::Open({.uri = server->uri()});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  RedisDedupStore& s = **store;

  // SCRIPT FLUSH (or a restart) empties the script cache: EVALSHA fails with NOSCRIPT and EVAL takes over.
  ASSERT_TRUE(server->Run("SCRIPT FLUSH", &error)) << error;
  const ClaimRequest request = Req("order-1");
  Result<std::vector<ClaimResult>> claimed = s.Claim(std::span(&request, 1));
  ASSERT_TRUE(claimed.ok()) << claimed.status().ToString();
  ASSERT_EQ((*claimed)[0].outcome, ClaimOutcome::kClaimed);
  const int64_t token = (*claimed)[0].record.fencing_token;

  // A read whose connection was dropped is retried once on a new one.
  ASSERT_TRUE(server->Run("CLIENT KILL TYPE normal SKIPME yes", &error)) << error;
  Result<std::optional<DedupRecord>> got = s.Get(kGroup, "order-1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(got->has_value());

  // A write whose reply was lost is not retried (its outcome would be unknown): kUnavailable, and the
  // next call reconnects.
  ASSERT_TRUE(server->Run("CLIENT KILL TYPE normal SKIPME yes", &error)) << error;
  Result<FencedOutcome> lost = s.Complete(kGroup, "order-1", token, seconds(60), std::nullopt);
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), StatusCode::kUnavailable);
  Result<FencedOutcome> done = s.Complete(kGroup, "order-1", token, seconds(60), std::nullopt);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(*done, FencedOutcome::kOk);
}

// How often the server ran each script command so far (INFO commandstats, on a connection of the test's
// own): cmdstat_evalsha and cmdstat_eval calls; -1 each if the server could not be asked.
std::pair<int64_t, int64_t> ScriptCalls(const oncemq::testing::RedisServer& server) {
  redisContext* c = redisConnect("127.0.0.1", server.port());
  if (c == nullptr || c->err != 0) {
    if (c != nullptr) redisFree(c);
    return {-1, -1};
  }
  auto* reply = static_cast<redisReply*>(redisCommand(c, "INFO commandstats"));
  std::pair<int64_t, int64_t> calls = {-1, -1};
  if (reply != nullptr && reply->type == REDIS_REPLY_STRING) {
    const std::string info(reply->str, reply->len);
    const auto count = [&](const std::string& command) -> int64_t {
      const std::string field = "cmdstat_" + command + ":calls=";
      const size_t at = info.find(field);
      return at == std::string::npos ? 0 : std::stoll(info.substr(at + field.size()));
    };
    calls = {count("evalsha"), count("eval")};
  }
  if (reply != nullptr) freeReplyObject(reply);
  redisFree(c);
  return calls;
}

TEST_F(RedisDedupStoreTest, CompleteBatchIsOneScriptCallWhateverItsSize) {
  std::string error;
  oncemq::testing::RedisServer* server = SharedRedis::Get(&error);
  ASSERT_NE(server, nullptr) << error;
  ASSERT_TRUE(server->FlushAll(&error)) << error;
  Result<std::unique_ptr<RedisDedupStore>> store = RedisDedupStore::Open({.uri = server->uri()});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  RedisDedupStore& s = **store;
  const auto claim = [&](const std::string& prefix, int n) {
    std::vector<ClaimRequest> claims;
    for (int i = 0; i < n; ++i) claims.push_back(Req(prefix + std::to_string(i)));
    Result<std::vector<ClaimResult>> claimed = s.Claim(claims);
    EXPECT_TRUE(claimed.ok()) << claimed.status().ToString();
    std::vector<CompleteRequest> batch;
    for (size_t i = 0; claimed.ok() && i < claimed->size(); ++i) {
      batch.push_back({.group = kGroup,
                       .key = claims[i].key,
                       .token = (*claimed)[i].record.fencing_token,
                       .retention = seconds(3600),
                       .result = "receipt"});
    }
    return batch;
  };
  // Script calls of one CompleteBatch: {EVALSHA, EVAL} deltas.
  const auto calls_of = [&](const std::vector<CompleteRequest>& batch, FencedOutcome want) {
    const std::pair<int64_t, int64_t> before = ScriptCalls(*server);
    Result<std::vector<FencedOutcome>> outcomes = s.CompleteBatch(batch);
    const std::pair<int64_t, int64_t> after = ScriptCalls(*server);
    EXPECT_TRUE(outcomes.ok()) << outcomes.status().ToString();
    EXPECT_EQ(outcomes.ok() ? *outcomes : std::vector<FencedOutcome>(),
              std::vector<FencedOutcome>(batch.size(), want));
    EXPECT_GE(before.first, 0) << "INFO commandstats could not be read";
    return std::pair<int64_t, int64_t>{after.first - before.first, after.second - before.second};
  };
  const std::vector<CompleteRequest> one = claim("single-", 1);
  const std::vector<CompleteRequest> many = claim("order-", 500);

  EXPECT_EQ(calls_of(one, FencedOutcome::kOk), (std::pair<int64_t, int64_t>{1, 0}));
  EXPECT_EQ(calls_of(many, FencedOutcome::kOk), (std::pair<int64_t, int64_t>{1, 0}));
  EXPECT_EQ(calls_of(many, FencedOutcome::kFenced), (std::pair<int64_t, int64_t>{1, 0}));
  Result<std::optional<DedupRecord>> last = s.Get(kGroup, "order-499");
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ((*last)->state, DedupState::kConsumed);
  EXPECT_EQ((*last)->result, "receipt");

  // A lost script cache: EVALSHA fails with NOSCRIPT and EVAL takes over.
  ASSERT_TRUE(server->Run("SCRIPT FLUSH", &error)) << error;
  const std::vector<CompleteRequest> later = claim("later-", 3);
  ASSERT_TRUE(server->Run("SCRIPT FLUSH", &error)) << error;
  EXPECT_EQ(calls_of(later, FencedOutcome::kOk).second, 1);
}

INSTANTIATE_TEST_SUITE_P(
    Stores, DedupStoreConformance,
    ::testing::Values(StoreKind{"Memory", [] { return std::unique_ptr<StoreHarness>(new MemoryHarness); }},
                      StoreKind{"Sqlite", [] { return std::unique_ptr<StoreHarness>(new SqliteHarness); }},
                      StoreKind{"Redis", [] { return std::unique_ptr<StoreHarness>(new RedisHarness); }}),
    [](const ::testing::TestParamInfo<StoreKind>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace oncemq::client::conformance
