// One conformance suite for every TransactionalDedupStore (include/oncemq/transactional_dedup_store.h): the
// business change and the CONSUMED record commit or roll back together; the decision table of DESIGN.md §3
// decides each run; concurrent runs of a key commit once; a process killed in its handler leaves nothing.
// Instantiated here for SQLite; the PostgreSQL and MariaDB stores instantiate it in their own files (see
// transactional_store_conformance.h). Time is stepped through the store's test clock, never slept.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/stores/sql_placeholders.h"
#include "client/stores/sqlite_dedup_store.h"
#include "transactional_store_conformance.h"

namespace oncemq::client::txconformance {

namespace {

class SqliteTxHarness : public TxStoreHarness {
 public:
  SqliteTxHarness() {
    static std::atomic<int> counter{0};
    path_ = ::testing::TempDir() + "oncemq_txdedup_" + std::to_string(::getpid()) + "_" +
            std::to_string(counter++) + ".db";
    Remove();
    store_ = Open();
    if (store_ == nullptr) return;
    if (sqlite3_open(path_.c_str(), &outside_) != SQLITE_OK) return;
    sqlite3_busy_timeout(outside_, 5'000);
  }
  ~SqliteTxHarness() override {
    store_.reset();
    sqlite3_close(outside_);
    Remove();
  }
  std::string SetupError() const override {
    if (store_ == nullptr) return "sqlite: the store did not open";
    return outside_ == nullptr ? "sqlite: the outside connection did not open" : "";
  }
  DedupStore& store() override { return *store_; }
  TransactionalDedupStore& tx_store() override { return *store_; }
  void Advance(milliseconds by) override {
    skew_ms_ += by.count();
    store_->SetClockSkewForTesting(skew_ms_);
  }
  TxStoreObject OpenAnother() override { return MakeTxStoreObject(Open()); }

  Status ExecOutside(const std::string& sql) override {
    char* message = nullptr;
    const int rc = sqlite3_exec(outside_, sql.c_str(), nullptr, nullptr, &message);
    const std::string text = message == nullptr ? "" : message;
    sqlite3_free(message);
    return rc == SQLITE_OK ? Status::Ok() : Status::IoError("sqlite outside: " + text);
  }

  Result<int64_t> QueryCountOutside(const std::string& sql) override {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(outside_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      return Status::IoError(std::string("sqlite outside: ") + sqlite3_errmsg(outside_));
    }
    const int rc = sqlite3_step(stmt);
    const int64_t count = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW) return Status::IoError(std::string("sqlite outside: ") + sqlite3_errmsg(outside_));
    return count;
  }

 private:
  std::unique_ptr<SqliteDedupStore> Open() {
    Result<std::unique_ptr<SqliteDedupStore>> store =
        SqliteDedupStore::Open({.path = path_, .clock_skew_ms = skew_ms_});
    if (!store.ok()) return nullptr;
    return std::move(store).value();
  }
  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path_ + suffix).c_str());
  }

  std::string path_;
  int64_t skew_ms_ = 0;
  std::unique_ptr<SqliteDedupStore> store_;
  sqlite3* outside_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(Sqlite, TransactionalStoreConformance,
                         ::testing::Values(TxStoreKind{"Sqlite",
                                                       [] { return std::make_unique<SqliteTxHarness>(); }}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace

TEST_P(TransactionalStoreConformance, CommittedRunWritesTheBusinessRowAndTheConsumedRecordTogether) {
  int calls = 0;
  const int64_t before = Now();
  std::optional<TransactionalResult> r = Run(TxReq("order-1"), Inserting("paid", &calls, "receipt-7"));
  const int64_t after = Now();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->outcome, TransactionalOutcome::kCommitted);
  EXPECT_EQ(calls, 1);
  EXPECT_GT(r->record.fencing_token, 0);
  EXPECT_EQ(r->record.state, DedupState::kConsumed);
  EXPECT_EQ(r->record.owner, "consumer-a");
  EXPECT_GE(r->record.retain_until_ms, before + 3'600'000);
  EXPECT_LE(r->record.retain_until_ms, after + 3'600'000);
  EXPECT_EQ(r->record.result, std::optional<std::string>("receipt-7"));
  EXPECT_EQ(BusinessRows("order-1"), 1);

  std::optional<DedupRecord> stored = Get("order-1");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, DedupState::kConsumed);
  EXPECT_EQ(stored->fencing_token, r->record.fencing_token);
  EXPECT_EQ(stored->retain_until_ms, r->record.retain_until_ms);
  EXPECT_EQ(stored->result, std::optional<std::string>("receipt-7"));
  EXPECT_EQ(stored->attempts, 0);
}

TEST_P(TransactionalStoreConformance, HandlerSeesTheClaimedKeyAndItsToken) {
  DedupRecord seen;
  std::optional<TransactionalResult> r =
      Run(TxReq("order-1"), [&](SqlTransaction& tx, const DedupRecord& claim, std::optional<std::string>&) {
        seen = claim;
        return InsertBusinessRow(tx, claim.key, "paid");
      });
  ASSERT_TRUE(r);
  EXPECT_EQ(seen.group, kGroup);
  EXPECT_EQ(seen.key, "order-1");
  EXPECT_EQ(seen.owner, "consumer-a");
  EXPECT_EQ(seen.attempts, 0);
  EXPECT_GT(seen.fencing_token, 0);
  EXPECT_EQ(seen.fencing_token, r->record.fencing_token);
}

TEST_P(TransactionalStoreConformance, SecondRunOfAKeyIsDuplicateAndTheHandlerDoesNotRun) {
  int calls = 0;
  std::optional<TransactionalResult> first = Run(TxReq("order-1"), Inserting("paid", &calls, "receipt-7"));
  std::optional<TransactionalResult> second =
      Run(TxReq("order-1", "consumer-b"), Inserting("paid again", &calls));
  ASSERT_TRUE(first && second);
  EXPECT_EQ(second->outcome, TransactionalOutcome::kDuplicate);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(second->record.state, DedupState::kConsumed);
  EXPECT_EQ(second->record.fencing_token, first->record.fencing_token);
  EXPECT_EQ(second->record.result, std::optional<std::string>("receipt-7"));
  EXPECT_EQ(BusinessRows(), 1);
}

TEST_P(TransactionalStoreConformance, HandlerErrorRollsBackItsWritesAndRecordsTheAttempt) {
  std::optional<TransactionalResult> r =
      Run(TxReq("order-1"), [](SqlTransaction& tx, const DedupRecord& claim, std::optional<std::string>&) {
        if (Status s = InsertBusinessRow(tx, claim.key, "half done"); !s.ok()) return s;
        return Status::Unavailable("payment service down");
      });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->outcome, TransactionalOutcome::kHandlerFailed);
  EXPECT_EQ(r->handler_status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(r->handler_status.message(), "payment service down");
  EXPECT_EQ(r->record.state, DedupState::kReleased);
  EXPECT_EQ(r->record.attempts, 1);
  EXPECT_NE(r->record.last_error.find("payment service down"), std::string::npos) << r->record.last_error;
  EXPECT_EQ(BusinessRows(), 0);

  std::optional<DedupRecord> stored = Get("order-1");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, DedupState::kReleased);
  EXPECT_EQ(stored->attempts, 1);
  EXPECT_EQ(stored->last_error, r->record.last_error);
}

TEST_P(TransactionalStoreConformance, RunAfterAFailureSeesTheAttemptCountAndCommits) {
  std::optional<TransactionalResult> failed =
      Run(TxReq("order-1"), [](SqlTransaction&, const DedupRecord&, std::optional<std::string>&) {
        return Status::Unavailable("payment service down");
      });
  int attempts_seen = -1;
  std::optional<TransactionalResult> retried =
      Run(TxReq("order-1"), [&](SqlTransaction& tx, const DedupRecord& claim, std::optional<std::string>&) {
        attempts_seen = claim.attempts;
        return InsertBusinessRow(tx, claim.key, "paid");
      });
  ASSERT_TRUE(failed && retried);
  EXPECT_EQ(attempts_seen, 1);
  EXPECT_EQ(retried->outcome, TransactionalOutcome::kCommitted);
  EXPECT_GT(retried->record.fencing_token, failed->record.fencing_token);
  EXPECT_EQ(BusinessRows("order-1"), 1);
  std::optional<DedupRecord> stored = Get("order-1");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, DedupState::kConsumed);
}

TEST_P(TransactionalStoreConformance, FailedStatementInTheHandlerRollsBackItsEarlierWrites) {
  std::optional<TransactionalResult> r =
      Run(TxReq("order-1"), [](SqlTransaction& tx, const DedupRecord&, std::optional<std::string>&) {
        if (Status s = InsertBusinessRow(tx, "row-a", "first"); !s.ok()) return s;
        return InsertBusinessRow(tx, "row-a", "same primary key");  // refused by the database
      });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->outcome, TransactionalOutcome::kHandlerFailed);
  EXPECT_FALSE(r->handler_status.ok());
  EXPECT_EQ(r->record.attempts, 1);
  EXPECT_EQ(BusinessRows(), 0);
}

TEST_P(TransactionalStoreConformance, ExecuteAndQueryBindParametersAndNull) {
  int64_t inserted = 0, updated = 0;
  std::vector<SqlRow> rows, nulls;
  std::optional<TransactionalResult> r =
      Run(TxReq("order-1"), [&](SqlTransaction& tx, const DedupRecord&, std::optional<std::string>&) {
        const std::string insert = "INSERT INTO oncemq_test_business (k, v) VALUES (?, ?), (?, ?), (?, ?)";
        const std::vector<SqlParam> values{"a", "1", "b", std::nullopt, "c", "3"};
        Result<int64_t> n = tx.Execute(insert, values);
        if (!n.ok()) return n.status();
        inserted = *n;
        const std::vector<SqlParam> update{"x", "a", "c"};
        n = tx.Execute("UPDATE oncemq_test_business SET v = ? WHERE k = ? OR k = ?", update);
        if (!n.ok()) return n.status();
        updated = *n;
        Result<std::vector<SqlRow>> q = tx.Query("SELECT k, v FROM oncemq_test_business ORDER BY k");
        if (!q.ok()) return q.status();
        rows = std::move(q).value();
        q = tx.Query("SELECT k FROM oncemq_test_business WHERE v IS NULL");
        if (!q.ok()) return q.status();
        nulls = std::move(q).value();
        return Status::Ok();
      });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->outcome, TransactionalOutcome::kCommitted) << r->handler_status.ToString();
  EXPECT_EQ(inserted, 3);
  EXPECT_EQ(updated, 2);
  const std::vector<SqlRow> expected{{"a", "x"}, {"b", std::nullopt}, {"c", "x"}};
  EXPECT_EQ(rows, expected);
  EXPECT_EQ(nulls, (std::vector<SqlRow>{{"b"}}));
  EXPECT_EQ(BusinessRows(), 3);
}

TEST_P(TransactionalStoreConformance, QuestionMarkInsideAStringLiteralIsNotAPlaceholder) {
  std::vector<SqlRow> rows;
  std::optional<TransactionalResult> r =
      Run(TxReq("order-1"), [&](SqlTransaction& tx, const DedupRecord&, std::optional<std::string>&) {
        const std::vector<SqlParam> key{"q1"};
        Result<int64_t> n =
            tx.Execute("INSERT INTO oncemq_test_business (k, v) VALUES (?, 'why? it''s ?')", key);
        if (!n.ok()) return n.status();
        Result<std::vector<SqlRow>> q =
            tx.Query("SELECT v FROM oncemq_test_business WHERE k = ? AND v <> '?'", key);
        if (!q.ok()) return q.status();
        rows = std::move(q).value();
        return Status::Ok();
      });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->outcome, TransactionalOutcome::kCommitted) << r->handler_status.ToString();
  EXPECT_EQ(rows, (std::vector<SqlRow>{{"why? it's ?"}}));
}

TEST_P(TransactionalStoreConformance, WrongNumberOfParametersIsAnError) {
  Status too_few, too_many;
  std::optional<TransactionalResult> r =
      Run(TxReq("order-1"), [&](SqlTransaction& tx, const DedupRecord&, std::optional<std::string>&) {
        const std::vector<SqlParam> one{"a"};
        const std::vector<SqlParam> three{"a", "b", "c"};
        too_few = tx.Execute("INSERT INTO oncemq_test_business (k, v) VALUES (?, ?)", one).status();
        too_many = tx.Execute("INSERT INTO oncemq_test_business (k, v) VALUES (?, ?)", three).status();
        return Status::Ok();
      });
  ASSERT_TRUE(r);
  EXPECT_FALSE(too_few.ok());
  EXPECT_FALSE(too_many.ok());
  EXPECT_EQ(BusinessRows(), 0);
}

TEST_P(TransactionalStoreConformance, BusinessRowIsInvisibleOutsideUntilTheCommit) {
  int64_t seen_outside = -1;
  std::optional<TransactionalResult> r =
      Run(TxReq("order-1"), [&](SqlTransaction& tx, const DedupRecord& claim, std::optional<std::string>&) {
        if (Status s = InsertBusinessRow(tx, claim.key, "paid"); !s.ok()) return s;
        seen_outside = BusinessRows();
        return Status::Ok();
      });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->outcome, TransactionalOutcome::kCommitted);
  EXPECT_EQ(seen_outside, 0);
  EXPECT_EQ(BusinessRows(), 1);
}

TEST_P(TransactionalStoreConformance, LiveLeaseModeClaimMakesTheRunInProgressWithoutRunningTheHandler) {
  const ClaimRequest lease = conformance::Req("order-1", "consumer-b", seconds(10));
  Result<std::vector<ClaimResult>> claimed = store().Claim(std::span(&lease, 1));
  ASSERT_TRUE(claimed.ok()) << claimed.status().ToString();
  int calls = 0;
  std::optional<TransactionalResult> r = Run(TxReq("order-1"), Inserting("paid", &calls));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->outcome, TransactionalOutcome::kInProgress);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(r->record.owner, "consumer-b");
  EXPECT_EQ(r->record.fencing_token, (*claimed)[0].record.fencing_token);
  EXPECT_EQ(BusinessRows(), 0);
  std::optional<DedupRecord> stored = Get("order-1");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, DedupState::kConsuming);
  EXPECT_EQ(stored->owner, "consumer-b");
}

TEST_P(TransactionalStoreConformance, ExpiredLeaseIsTakenOverAndTheOldOwnerIsFenced) {
  const ClaimRequest lease = conformance::Req("order-1", "consumer-b", seconds(10));
  Result<std::vector<ClaimResult>> claimed = store().Claim(std::span(&lease, 1));
  ASSERT_TRUE(claimed.ok()) << claimed.status().ToString();
  const int64_t old_token = (*claimed)[0].record.fencing_token;
  harness_->Advance(milliseconds(10'001));
  int calls = 0;
  std::optional<TransactionalResult> r = Run(TxReq("order-1"), Inserting("paid", &calls));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->outcome, TransactionalOutcome::kCommitted);
  EXPECT_EQ(calls, 1);
  EXPECT_GT(r->record.fencing_token, old_token);

  Result<FencedOutcome> late = store().Complete(kGroup, "order-1", old_token, seconds(60), "late");
  ASSERT_TRUE(late.ok()) << late.status().ToString();
  EXPECT_EQ(*late, FencedOutcome::kFenced);
  std::optional<DedupRecord> stored = Get("order-1");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, DedupState::kConsumed);
  EXPECT_EQ(stored->fencing_token, r->record.fencing_token);
  EXPECT_EQ(stored->owner, "consumer-a");
  EXPECT_EQ(BusinessRows(), 1);
}

TEST_P(TransactionalStoreConformance, LeaseModeReleaseCarriesItsAttemptsIntoTheRun) {
  const ClaimRequest lease = conformance::Req("order-1", "consumer-b");
  Result<std::vector<ClaimResult>> claimed = store().Claim(std::span(&lease, 1));
  ASSERT_TRUE(claimed.ok()) << claimed.status().ToString();
  Result<FencedOutcome> released =
      store().Release(kGroup, "order-1", (*claimed)[0].record.fencing_token, "timeout");
  ASSERT_TRUE(released.ok() && *released == FencedOutcome::kOk);
  int attempts_seen = -1;
  std::optional<TransactionalResult> r =
      Run(TxReq("order-1"), [&](SqlTransaction& tx, const DedupRecord& claim, std::optional<std::string>&) {
        attempts_seen = claim.attempts;
        return InsertBusinessRow(tx, claim.key, "paid");
      });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->outcome, TransactionalOutcome::kCommitted);
  EXPECT_EQ(attempts_seen, 1);
  EXPECT_GT(r->record.fencing_token, (*claimed)[0].record.fencing_token);
}

TEST_P(TransactionalStoreConformance, LeaseModeClaimOfACommittedKeyIsDuplicate) {
  int calls = 0;
  ASSERT_TRUE(Run(TxReq("order-1"), Inserting("paid", &calls)));
  const ClaimRequest lease = conformance::Req("order-1", "consumer-b");
  Result<std::vector<ClaimResult>> claimed = store().Claim(std::span(&lease, 1));
  ASSERT_TRUE(claimed.ok()) << claimed.status().ToString();
  EXPECT_EQ((*claimed)[0].outcome, ClaimOutcome::kDuplicate);
}

TEST_P(TransactionalStoreConformance, PayloadHashMismatchIsAnErrorNotADuplicate) {
  int calls = 0;
  ASSERT_TRUE(Run(TxReq("order-1", "consumer-a", seconds(3600), "hash-1"), Inserting("paid", &calls)));
  std::optional<TransactionalResult> other =
      Run(TxReq("order-1", "consumer-b", seconds(3600), "hash-2"), Inserting("paid", &calls));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->outcome, TransactionalOutcome::kPayloadMismatch);
  EXPECT_EQ(other->record.payload_hash, std::optional<std::string>("hash-1"));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(BusinessRows(), 1);
}

TEST_P(TransactionalStoreConformance, SameHashAfterCommitIsDuplicate) {
  int calls = 0;
  ASSERT_TRUE(Run(TxReq("order-1", "consumer-a", seconds(3600), "hash-1"), Inserting("paid", &calls)));
  std::optional<TransactionalResult> again =
      Run(TxReq("order-1", "consumer-b", seconds(3600), "hash-1"), Inserting("paid", &calls));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->outcome, TransactionalOutcome::kDuplicate);
  EXPECT_EQ(calls, 1);
}

TEST_P(TransactionalStoreConformance, ConsumedRecordPastRetentionRunsAgainWithALargerToken) {
  int calls = 0;
  std::optional<TransactionalResult> first =
      Run(TxReq("order-1", "consumer-a", seconds(60)), Inserting("paid", &calls));
  harness_->Advance(milliseconds(60'001));
  std::optional<TransactionalResult> second =
      Run(TxReq("order-1"), [&](SqlTransaction& tx, const DedupRecord&, std::optional<std::string>&) {
        ++calls;
        return InsertBusinessRow(tx, "order-1-again", "paid");
      });
  ASSERT_TRUE(first && second);
  EXPECT_EQ(second->outcome, TransactionalOutcome::kCommitted);
  EXPECT_EQ(calls, 2);
  EXPECT_GT(second->record.fencing_token, first->record.fencing_token);
}

TEST_P(TransactionalStoreConformance, GroupsAreSeparate) {
  int calls = 0;
  TransactionalRequest shipping = TxReq("order-1");
  shipping.group = "shipping";
  std::optional<TransactionalResult> a = Run(TxReq("order-1"), Inserting("paid", &calls));
  std::optional<TransactionalResult> b =
      Run(shipping, [&](SqlTransaction& tx, const DedupRecord&, std::optional<std::string>&) {
        ++calls;
        return InsertBusinessRow(tx, "order-1-shipped", "shipped");
      });
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->outcome, TransactionalOutcome::kCommitted);
  EXPECT_EQ(b->outcome, TransactionalOutcome::kCommitted);
  EXPECT_EQ(calls, 2);
}

TEST_P(TransactionalStoreConformance, InvalidRequestIsRejectedWithoutRunningTheHandler) {
  int calls = 0;
  for (TransactionalRequest bad : {TxReq(""), TxReq("order-1", ""), TxReq("order-1", "a", milliseconds(0))}) {
    Result<TransactionalResult> r = tx_store().RunOnce(bad, Inserting("paid", &calls));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
  TransactionalRequest no_group = TxReq("order-1");
  no_group.group = "";
  Result<TransactionalResult> r = tx_store().RunOnce(no_group, Inserting("paid", &calls));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(BusinessRows(), 0);
}

// Every thread runs every key, each from a store object of its own, starting at a different key so that
// they collide. Exactly one run of each key commits; every other run waits for it and sees kDuplicate.
TEST_P(TransactionalStoreConformance, ConcurrentRunsOfTheSameKeysCommitEachKeyExactlyOnce) {
  constexpr int kThreads = 4;
  constexpr int kKeys = 12;
  std::vector<TxStoreObject> objects;
  for (int t = 0; t < kThreads; ++t) {
    objects.push_back(harness_->OpenAnother());
    ASSERT_TRUE(objects.back());
  }
  std::vector<std::vector<Result<TransactionalResult>>> results(kThreads);
  std::atomic<int> handler_runs{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kKeys; ++i) {
        const std::string key = "order-" + std::to_string((i + t * 3) % kKeys);
        results[t].push_back(objects[t].tx->RunOnce(
            TxReq(key, "consumer-" + std::to_string(t)),
            [&handler_runs, t](SqlTransaction& tx, const DedupRecord& claim, std::optional<std::string>&) {
              ++handler_runs;
              return InsertBusinessRow(tx, claim.key, "thread-" + std::to_string(t));
            }));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::map<std::string, int> committed;
  int duplicates = 0;
  for (const auto& per_thread : results) {
    for (const Result<TransactionalResult>& r : per_thread) {
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      if (r->outcome == TransactionalOutcome::kCommitted) {
        ++committed[r->record.key];
      } else if (r->outcome == TransactionalOutcome::kDuplicate) {
        ++duplicates;
      } else {
        ADD_FAILURE() << "unexpected outcome " << static_cast<int>(r->outcome);
      }
    }
  }
  EXPECT_EQ(committed.size(), static_cast<size_t>(kKeys));
  for (const auto& [key, times] : committed) EXPECT_EQ(times, 1) << key;
  EXPECT_EQ(duplicates, (kThreads - 1) * kKeys);
  EXPECT_EQ(handler_runs.load(), kKeys);
  EXPECT_EQ(BusinessRows(), kKeys);
}

// The child opens its own store object, inserts the business row in its handler, tells the parent through
// a pipe, and is killed there. Nothing of its transaction survives: no business row, no dedup record.
TEST_P(TransactionalStoreConformance, ProcessKilledInItsHandlerLeavesNothingAndTheKeyRunsAgain) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    TxStoreObject own = harness_->OpenAnother();
    if (own) {
      (void)own.tx->RunOnce(TxReq("order-1", "doomed"),
                            [&](SqlTransaction& tx, const DedupRecord& claim, std::optional<std::string>&) {
                              if (InsertBusinessRow(tx, claim.key, "half done").ok()) {
                                const char inserted = 'i';
                                [[maybe_unused]] const ssize_t n = ::write(pipe_fds[1], &inserted, 1);
                              }
                              ::raise(SIGKILL);
                              return Status::Ok();
                            });
    }
    ::raise(SIGKILL);
  }
  ::close(pipe_fds[1]);
  char got = 0;
  const ssize_t n = ::read(pipe_fds[0], &got, 1);
  ::close(pipe_fds[0]);
  int wait_status = 0;
  ASSERT_EQ(::waitpid(child, &wait_status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL);
  ASSERT_EQ(n, 1) << "the child did not reach its handler's insert";
  EXPECT_EQ(got, 'i');

  EXPECT_EQ(BusinessRows(), 0);
  EXPECT_FALSE(Get("order-1").has_value());
  int calls = 0;
  std::optional<TransactionalResult> r = Run(TxReq("order-1"), Inserting("paid", &calls));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->outcome, TransactionalOutcome::kCommitted);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(BusinessRows("order-1"), 1);
}

// What the SQLite store adds to the contract: the handler cannot end the transaction, one statement per
// call, and the native handle is the store's own connection inside the open transaction.
class TransactionalSqlite : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(harness_.SetupError(), "");
    ASSERT_TRUE(harness_.ExecOutside(kCreateBusinessTable).ok());
  }
  Result<TransactionalResult> Run(const TransactionalHandler& handler) {
    return harness_.tx_store().RunOnce(TxReq("order-1"), handler);
  }
  int64_t BusinessRows() {
    Result<int64_t> count = harness_.QueryCountOutside("SELECT COUNT(*) FROM oncemq_test_business");
    EXPECT_TRUE(count.ok()) << count.status().ToString();
    return count.ok() ? count.value() : -1;
  }
  SqliteTxHarness harness_;
};

TEST_F(TransactionalSqlite, HandlerCannotBeginCommitOrRollBackButMayUseSavepoints) {
  std::vector<Status> refused;
  Status savepoints;
  Result<TransactionalResult> r =
      Run([&](SqlTransaction& tx, const DedupRecord&, std::optional<std::string>&) {
        for (const char* sql : {"COMMIT", "END", "ROLLBACK", "BEGIN"})
          refused.push_back(tx.Execute(sql).status());
        savepoints = tx.Execute("SAVEPOINT inner_work").status();
        if (savepoints.ok()) savepoints = InsertBusinessRow(tx, "row-a", "kept");
        if (savepoints.ok()) savepoints = tx.Execute("RELEASE inner_work").status();
        return savepoints;
      });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(refused.size(), 4u);
  for (const Status& s : refused) EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_TRUE(savepoints.ok()) << savepoints.ToString();
  EXPECT_EQ(r->outcome, TransactionalOutcome::kCommitted);
  EXPECT_EQ(BusinessRows(), 1);
}

TEST_F(TransactionalSqlite, ExecuteTakesOneStatementPerCall) {
  Status two, trailing;
  Result<TransactionalResult> r =
      Run([&](SqlTransaction& tx, const DedupRecord&, std::optional<std::string>&) {
        two =
            tx.Execute("INSERT INTO oncemq_test_business (k) VALUES ('a'); DELETE FROM oncemq_test_business")
                .status();
        trailing = tx.Execute("INSERT INTO oncemq_test_business (k) VALUES ('b');  -- done\n").status();
        return Status::Ok();
      });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(two.code(), StatusCode::kInvalidArgument) << two.ToString();
  EXPECT_TRUE(trailing.ok()) << trailing.ToString();
  EXPECT_EQ(BusinessRows(), 1);
}

TEST_F(TransactionalSqlite, StatementErrorsOfTheHandlerAreInvalidArgument) {
  Status constraint, syntax;
  Result<TransactionalResult> r =
      Run([&](SqlTransaction& tx, const DedupRecord&, std::optional<std::string>&) {
        constraint = InsertBusinessRow(tx, "a", "1");
        if (constraint.ok()) constraint = InsertBusinessRow(tx, "a", "2");
        syntax = tx.Execute("INSERT INTO no_such_table VALUES (1)").status();
        return Status::Ok();
      });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(constraint.code(), StatusCode::kInvalidArgument) << constraint.ToString();
  EXPECT_EQ(syntax.code(), StatusCode::kInvalidArgument) << syntax.ToString();
}

TEST_F(TransactionalSqlite, NativeHandleIsTheStoreConnectionInsideTheTransaction) {
  bool in_transaction = false;
  Result<TransactionalResult> r =
      Run([&](SqlTransaction& tx, const DedupRecord&, std::optional<std::string>&) {
        auto* db = static_cast<sqlite3*>(tx.native_handle());
        in_transaction = db != nullptr && sqlite3_get_autocommit(db) == 0;
        return Status::Ok();
      });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(in_transaction);
}

// A handler that ends the transaction behind the store's back (through the native handle) must not get the
// CONSUMED record committed alone, nor its later statements committed one by one.
TEST_F(TransactionalSqlite, TransactionEndedThroughTheNativeHandleFailsTheRun) {
  Status after_rollback;
  Result<TransactionalResult> r =
      Run([&](SqlTransaction& tx, const DedupRecord& claim, std::optional<std::string>&) {
        if (Status s = InsertBusinessRow(tx, claim.key, "lost"); !s.ok()) return s;
        auto* db = static_cast<sqlite3*>(tx.native_handle());
        sqlite3_set_authorizer(db, nullptr, nullptr);
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        after_rollback = InsertBusinessRow(tx, "order-1-later", "autocommitted?");
        return Status::Ok();
      });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(after_rollback.ok());
  EXPECT_EQ(r->outcome, TransactionalOutcome::kHandlerFailed);
  EXPECT_EQ(r->record.state, DedupState::kReleased);
  EXPECT_EQ(BusinessRows(), 0);
}

// The placeholder scanner that the PostgreSQL store uses to rewrite `?` to $n.
TEST(TransactionalSqlPlaceholders, QuestionMarksOutsideQuotesAndCommentsAreNumbered) {
  EXPECT_EQ(NumberPlaceholders("INSERT INTO t (k, v) VALUES (?, ?)"), "INSERT INTO t (k, v) VALUES ($1, $2)");
  EXPECT_EQ(NumberPlaceholders("SELECT '?', \"a?\", ? -- why?\n, /* ? /* ? */ ? */ ?"),
            "SELECT '?', \"a?\", $1 -- why?\n, /* ? /* ? */ ? */ $2");
  EXPECT_EQ(NumberPlaceholders("SELECT 'it''s ?', E'\\' ?', ?"), "SELECT 'it''s ?', E'\\' ?', $1");
  EXPECT_EQ(NumberPlaceholders("SELECT $$ ? $$, $tag$ ?$$ $tag$, ?"), "SELECT $$ ? $$, $tag$ ?$$ $tag$, $1");
  EXPECT_EQ(NumberPlaceholders("SELECT a$b, ? FROM t WHERE x = '\\' AND y = ?"),
            "SELECT a$b, $1 FROM t WHERE x = '\\' AND y = $2");
  EXPECT_EQ(NumberPlaceholders("SELECT 'unterminated ?"), "SELECT 'unterminated ?");
}

TEST(TransactionalSqlPlaceholders, MysqlDialectKnowsBackslashesBackticksAndHashComments) {
  EXPECT_EQ(FindPlaceholders("SELECT 'it\\'s ?', `a?`, ? # why?\n, ?", SqlDialect::kMysql),
            (std::vector<size_t>{24, 35}));
  EXPECT_EQ(FindPlaceholders("SELECT $$ ? $$", SqlDialect::kMysql), (std::vector<size_t>{10}));
}

}  // namespace oncemq::client::txconformance
