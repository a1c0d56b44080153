// The PostgreSQL dedup store on a real PostgreSQL server the suite starts itself (PostgresServer): the
// shared DedupStore conformance suite, then what only this store has — its behaviour when the server goes
// away or kills its connection, the round trips of a Claim batch, the connection pool, bytes that libpq's
// text protocol must carry unchanged, and the `?` placeholder rewriting. Without PostgreSQL installed these
// cases fail with a message saying so; they do not skip.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/stores/postgres_dedup_store.h"
#include "dedup_store_conformance.h"
#include "oncemq/dedup_store.h"
#include "oncemq/transactional_dedup_store.h"
#include "support/servers/postgres_server.h"
#include "transactional_store_conformance.h"

namespace oncemq::client::conformance {

namespace {

using oncemq::testing::PostgresServer;

// One PostgreSQL server for the whole test program, started by the first case that needs it and stopped
// after the suite that started it (AtSuiteEnd); a later suite starts another. Each case gets a database of
// its own.
class SharedPostgres {
 public:
  static PostgresServer* Get(std::string* error) {
    if (server_ == nullptr && start_error_.empty()) {
      auto server = std::make_unique<PostgresServer>();
      if (server->Start(&start_error_)) {
        server_ = std::move(server);
        AtSuiteEnd([] { server_.reset(); });
      }
    }
    *error = start_error_;
    return server_.get();
  }

  // A new empty database on the shared server; "" and *error on failure.
  static std::string NewDatabase(std::string* error) {
    PostgresServer* server = Get(error);
    if (server == nullptr) return "";
    static std::atomic<int> counter{0};
    const std::string name = "case_" + std::to_string(counter++);
    return server->CreateDatabase(name, error) ? name : "";
  }

 private:
  static inline std::unique_ptr<PostgresServer> server_;
  static inline std::string start_error_;
};

Result<std::unique_ptr<PostgresDedupStore>> OpenStore(
    const std::string& uri, int64_t skew_ms = 0, size_t pool_size = 4,
    std::chrono::milliseconds acquire_timeout = seconds(10)) {
  return PostgresDedupStore::Open({.uri = uri,
                                   .pool_size = pool_size,
                                   .acquire_timeout = acquire_timeout,
                                   .conflict_retries = 3,
                                   .clock_skew_ms = skew_ms});
}

class PostgresHarness : public StoreHarness {
 public:
  PostgresHarness() {
    database_ = SharedPostgres::NewDatabase(&error_);
    if (database_.empty()) return;
    store_ = Open();
  }
  std::string SetupError() const override {
    if (!error_.empty()) return "postgres: " + error_;
    return store_ == nullptr ? "postgres: the store did not open" : "";
  }
  DedupStore& store() override { return *store_; }
  void Advance(milliseconds by) override {
    skew_ms_ += by.count();
    store_->SetClockSkewForTesting(skew_ms_);
  }
  std::unique_ptr<DedupStore> OpenAnother() override { return Open(); }

 private:
  std::unique_ptr<PostgresDedupStore> Open() {
    std::string unused;
    Result<std::unique_ptr<PostgresDedupStore>> store =
        OpenStore(SharedPostgres::Get(&unused)->uri(database_), skew_ms_);
    if (!store.ok()) {
      error_ = store.status().ToString();
      return nullptr;
    }
    return std::move(store).value();
  }

  std::string database_;
  std::string error_;
  int64_t skew_ms_ = 0;
  std::unique_ptr<PostgresDedupStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Postgres, DedupStoreConformance,
                         ::testing::Values(StoreKind{
                             "Postgres", [] { return std::unique_ptr<StoreHarness>(new PostgresHarness); }}),
                         [](const ::testing::TestParamInfo<StoreKind>& info) {
                           return std::string(info.param.name);
                         });

// A libpq connection of the test's own, to hold locks and look at the server from outside the store.
struct PgConnCloser {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using TestConn = std::unique_ptr<PGconn, PgConnCloser>;

TestConn Connect(const std::string& uri) {
  TestConn conn(PQconnectdb(uri.c_str()));
  EXPECT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());
  return conn;
}

// Runs `sql` on `conn`; the first column of the first row ("" if none). A failed statement fails the test.
std::string Exec(PGconn* conn, const std::string& sql) {
  PGresult* r = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(r);
  EXPECT_TRUE(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
      << sql << ": " << PQresultErrorMessage(r);
  std::string first = PQntuples(r) > 0 && PQnfields(r) > 0 ? PQgetvalue(r, 0, 0) : "";
  PQclear(r);
  return first;
}

// Polls `sql` until it answers `want` or 10 s pass; true if it did.
bool WaitFor(PGconn* conn, const std::string& sql, const std::string& want) {
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Exec(conn, sql) == want) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return false;
}

ClaimResult MustClaim(DedupStore& store, const ClaimRequest& request) {
  Result<std::vector<ClaimResult>> r = store.Claim(std::span(&request, 1));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() && r->size() == 1 ? (*r)[0] : ClaimResult{};
}

class PostgresDedupStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    database_ = SharedPostgres::NewDatabase(&error);
    ASSERT_NE(database_, "") << error;
    server_ = SharedPostgres::Get(&error);
  }
  static void TearDownTestSuite() { StopSuiteResources(); }

  std::string uri() const { return server_->uri(database_); }

  PostgresServer* server_ = nullptr;
  std::string database_;
};

TEST_F(PostgresDedupStoreTest, ClaimOfABatchCostsTwoRoundTripsWhateverItsSize) {
  Result<std::unique_ptr<PostgresDedupStore>> opened = OpenStore(uri());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  PostgresDedupStore& store = **opened;
  const auto round_trips_of = [&](const std::vector<ClaimRequest>& batch) {
    const uint64_t before = store.round_trips_for_testing();
    Result<std::vector<ClaimResult>> r = store.Claim(batch);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r.ok() ? r->size() : 0u, batch.size());
    return store.round_trips_for_testing() - before;
  };
  std::vector<ClaimRequest> one = {Req("single")};
  std::vector<ClaimRequest> many;
  for (int i = 0; i < 500; ++i) many.push_back(Req("order-" + std::to_string(i)));

  EXPECT_EQ(round_trips_of(one), 2u);   // the pool's connection already exists (Open made it)
  EXPECT_EQ(round_trips_of(many), 2u);  // 500 new keys
  EXPECT_EQ(round_trips_of(many), 2u);  // 500 live claims: all in progress, nothing written
  Result<std::optional<DedupRecord>> last = store.Get(kGroup, "order-499");
  ASSERT_TRUE(last.ok());
  ASSERT_TRUE(last->has_value());
  EXPECT_EQ((*last)->state, DedupState::kConsuming);
}

// Claims `n` fresh keys prefix0 … prefix<n-1> and returns their Complete requests (retention 1 h).
std::vector<CompleteRequest> ClaimForCompletion(DedupStore& store, const std::string& prefix, int n) {
  std::vector<ClaimRequest> claims;
  for (int i = 0; i < n; ++i) claims.push_back(Req(prefix + std::to_string(i)));
  Result<std::vector<ClaimResult>> claimed = store.Claim(claims);
  EXPECT_TRUE(claimed.ok()) << claimed.status().ToString();
  std::vector<CompleteRequest> batch;
  for (size_t i = 0; claimed.ok() && i < claimed->size(); ++i) {
    EXPECT_EQ((*claimed)[i].outcome, ClaimOutcome::kClaimed);
    batch.push_back({.group = kGroup,
                     .key = claims[i].key,
                     .token = (*claimed)[i].record.fencing_token,
                     .retention = seconds(3600),
                     .result = "receipt-" + std::to_string(i)});
  }
  return batch;
}

TEST_F(PostgresDedupStoreTest, CompleteBatchCostsOneRoundTripWhateverItsSize) {
  Result<std::unique_ptr<PostgresDedupStore>> opened = OpenStore(uri());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  PostgresDedupStore& store = **opened;
  const auto round_trips_of = [&](const std::vector<CompleteRequest>& batch, FencedOutcome want) {
    const uint64_t before = store.round_trips_for_testing();
    Result<std::vector<FencedOutcome>> r = store.CompleteBatch(batch);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r.ok() ? *r : std::vector<FencedOutcome>(), std::vector<FencedOutcome>(batch.size(), want));
    return store.round_trips_for_testing() - before;
  };
  const std::vector<CompleteRequest> one = ClaimForCompletion(store, "single-", 1);
  const std::vector<CompleteRequest> many = ClaimForCompletion(store, "order-", 500);

  EXPECT_EQ(round_trips_of(one, FencedOutcome::kOk), 1u);
  EXPECT_EQ(round_trips_of(many, FencedOutcome::kOk), 1u);
  EXPECT_EQ(round_trips_of(many, FencedOutcome::kFenced), 1u);  // all done already: nothing written
  for (const std::string key : {"order-0", "order-499"}) {
    Result<std::optional<DedupRecord>> done = store.Get(kGroup, key);
    ASSERT_TRUE(done.ok() && done->has_value()) << key;
    EXPECT_EQ((*done)->state, DedupState::kConsumed);
    EXPECT_EQ((*done)->result, "receipt-" + key.substr(6));
  }
}

TEST_F(PostgresDedupStoreTest, RepeatedKeyInACompleteBatchIsDoneByItsFirstValidRequest) {
  Result<std::unique_ptr<PostgresDedupStore>> opened = OpenStore(uri());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  PostgresDedupStore& store = **opened;
  const std::vector<CompleteRequest> claimed = ClaimForCompletion(store, "order-", 2);
  ASSERT_EQ(claimed.size(), 2u);
  CompleteRequest stale = claimed[0];
  stale.token -= 1;
  stale.result = "stale";
  CompleteRequest again = claimed[0];
  again.result = "again";
  // Positions matter, not key order: order-1 comes first, and order-0's valid request follows a stale one.
  const std::vector<CompleteRequest> batch = {claimed[1], stale, claimed[0], again, claimed[1]};
  Result<std::vector<FencedOutcome>> outcomes = store.CompleteBatch(batch);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  EXPECT_EQ(*outcomes,
            (std::vector<FencedOutcome>{FencedOutcome::kOk, FencedOutcome::kFenced, FencedOutcome::kOk,
                                        FencedOutcome::kFenced, FencedOutcome::kFenced}));
  Result<std::optional<DedupRecord>> done = store.Get(kGroup, "order-0");
  ASSERT_TRUE(done.ok() && done->has_value());
  EXPECT_EQ((*done)->result, "receipt-0");
}

TEST_F(PostgresDedupStoreTest, StoppedServerAnswersUnavailableAndTheSameStoreWorksAfterRestart) {
  // A server of its own: this case takes it away.
  PostgresServer server;
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << error;
  Result<std::unique_ptr<PostgresDedupStore>> opened = OpenStore(server.uri(), 0, 4, seconds(2));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  PostgresDedupStore& store = **opened;
  const ClaimResult claim = MustClaim(store, Req("order-1"));
  ASSERT_EQ(claim.outcome, ClaimOutcome::kClaimed);

  server.Stop();
  const ClaimRequest other = Req("order-2");
  Result<std::vector<ClaimResult>> claimed = store.Claim(std::span(&other, 1));
  ASSERT_FALSE(claimed.ok());
  EXPECT_EQ(claimed.status().code(), StatusCode::kUnavailable) << claimed.status().ToString();
  Result<std::optional<DedupRecord>> got = store.Get(kGroup, "order-1");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  Result<FencedOutcome> completed =
      store.Complete(kGroup, "order-1", claim.record.fencing_token, seconds(60), {});
  ASSERT_FALSE(completed.ok());
  EXPECT_EQ(completed.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(store.NowMs().status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(store.Sweep(10).status().code(), StatusCode::kUnavailable);

  ASSERT_TRUE(server.Restart(&error)) << error;
  completed = store.Complete(kGroup, "order-1", claim.record.fencing_token, seconds(60), {});
  ASSERT_TRUE(completed.ok()) << completed.status().ToString();
  EXPECT_EQ(*completed, FencedOutcome::kOk);
  EXPECT_EQ(MustClaim(store, Req("order-1", "consumer-b")).outcome, ClaimOutcome::kDuplicate);
  EXPECT_EQ(MustClaim(store, other).outcome, ClaimOutcome::kClaimed);
}

// The backend pid of the store's only connection (application_name oncemq) in `database`.
std::string StoreBackend(PGconn* conn, const std::string& database) {
  return Exec(conn, "SELECT pid FROM pg_stat_activity WHERE application_name = 'oncemq' AND datname = '" +
                        database + "'");
}

TEST_F(PostgresDedupStoreTest, ReadOnATerminatedConnectionRecoversAndALostWriteIsUnavailable) {
  Result<std::unique_ptr<PostgresDedupStore>> opened = OpenStore(uri(), 0, /*pool_size=*/1);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  PostgresDedupStore& store = **opened;
  const ClaimResult claim = MustClaim(store, Req("order-1"));
  ASSERT_EQ(claim.outcome, ClaimOutcome::kClaimed);
  TestConn admin = Connect(uri());

  // Idle connection terminated: the store notices before using it, and the read runs on a new one.
  std::string pid = StoreBackend(admin.get(), database_);
  ASSERT_NE(pid, "");
  Exec(admin.get(), "SELECT pg_terminate_backend(" + pid + ")");
  ASSERT_TRUE(WaitFor(admin.get(), "SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid, "0"));
  Result<std::optional<DedupRecord>> got = store.Get(kGroup, "order-1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->fencing_token, claim.record.fencing_token);

  // A write in flight whose connection is terminated: its outcome is unknown, so kUnavailable, not retried.
  TestConn locker = Connect(uri());
  Exec(locker.get(), "BEGIN");
  Exec(locker.get(), "SELECT 1 FROM oncemq_dedup WHERE dedup_key = 'order-1' FOR UPDATE");
  pid = StoreBackend(admin.get(), database_);
  ASSERT_NE(pid, "");
  std::future<Result<FencedOutcome>> write = std::async(std::launch::async, [&] {
    return store.Complete(kGroup, "order-1", claim.record.fencing_token, seconds(60), "receipt");
  });
  ASSERT_TRUE(
      WaitFor(admin.get(), "SELECT wait_event_type FROM pg_stat_activity WHERE pid = " + pid, "Lock"));
  Exec(admin.get(), "SELECT pg_terminate_backend(" + pid + ")");
  // A store that retried the write would now wait on the lock again.
  const bool answered = write.wait_for(seconds(5)) == std::future_status::ready;
  Exec(locker.get(), "ROLLBACK");
  ASSERT_TRUE(answered) << "the lost write was retried";
  Result<FencedOutcome> lost = write.get();
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), StatusCode::kUnavailable) << lost.status().ToString();

  // The next call opens a new connection; the lost write did not happen.
  got = store.Get(kGroup, "order-1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ((*got)->state, DedupState::kConsuming);
  Result<FencedOutcome> done =
      store.Complete(kGroup, "order-1", claim.record.fencing_token, seconds(60), "receipt");
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(*done, FencedOutcome::kOk);
}

TEST_F(PostgresDedupStoreTest, ACallDoesNotWaitBehindAnotherThreadsTransaction) {
  Result<std::unique_ptr<PostgresDedupStore>> opened =
      OpenStore(uri(), 0, /*pool_size=*/2, milliseconds(300));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  PostgresDedupStore& store = **opened;
  std::promise<void> entered;
  std::promise<void> finish;
  std::shared_future<void> may_finish = finish.get_future().share();
  std::future<Result<TransactionalResult>> busy = std::async(std::launch::async, [&] {
    return store.RunOnce(TransactionalRequest{.group = kGroup,
                                              .key = "slow",
                                              .owner = "consumer-a",
                                              .retention = seconds(60),
                                              .payload_hash = std::nullopt},
                         [&](SqlTransaction&, const DedupRecord&, std::optional<std::string>&) {
                           entered.set_value();
                           may_finish.wait();
                           return Status::Ok();
                         });
  });
  entered.get_future().wait();
  // The handler's transaction holds one connection; the second serves this thread at once.
  EXPECT_EQ(MustClaim(store, Req("fast")).outcome, ClaimOutcome::kClaimed);
  // With both connections busy, a call waits for acquire_timeout and answers kUnavailable.
  std::promise<void> entered_again;
  std::future<Result<TransactionalResult>> second = std::async(std::launch::async, [&] {
    return store.RunOnce(TransactionalRequest{.group = kGroup,
                                              .key = "slow-2",
                                              .owner = "consumer-a",
                                              .retention = seconds(60),
                                              .payload_hash = std::nullopt},
                         [&](SqlTransaction&, const DedupRecord&, std::optional<std::string>&) {
                           entered_again.set_value();
                           may_finish.wait();
                           return Status::Ok();
                         });
  });
  entered_again.get_future().wait();
  const ClaimRequest starved = Req("starved");
  Result<std::vector<ClaimResult>> r = store.Claim(std::span(&starved, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  finish.set_value();
  for (auto* f : {&busy, &second}) {
    Result<TransactionalResult> done = f->get();
    ASSERT_TRUE(done.ok()) << done.status().ToString();
    EXPECT_EQ(done->outcome, TransactionalOutcome::kCommitted);
  }
  EXPECT_EQ(MustClaim(store, starved).outcome, ClaimOutcome::kClaimed);
}

TEST_F(PostgresDedupStoreTest, ArbitraryBytesSurviveAndNulInKeysIsRejected) {
  Result<std::unique_ptr<PostgresDedupStore>> opened = OpenStore(uri());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  PostgresDedupStore& store = **opened;
  const std::string hash("\x00\xff\x01\"{}\\,", 9);
  const std::string result("\xde\xad\x00\xbe\xef", 5);
  const std::string key = "quote\" back\\slash {brace}, comma 'single' ünïcode";
  const ClaimResult claim = MustClaim(store, Req(key, "consumer-a", seconds(10), hash));
  ASSERT_EQ(claim.outcome, ClaimOutcome::kClaimed);
  EXPECT_EQ(claim.record.key, key);
  Result<FencedOutcome> completed =
      store.Complete(kGroup, key, claim.record.fencing_token, seconds(60), result);
  ASSERT_TRUE(completed.ok()) << completed.status().ToString();
  ASSERT_EQ(*completed, FencedOutcome::kOk);
  Result<std::optional<DedupRecord>> got = store.Get(kGroup, key);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->payload_hash, std::optional<std::string>(hash));
  EXPECT_EQ((*got)->result, std::optional<std::string>(result));

  // An error text that is not valid UTF-8 is still recorded (bad bytes become '?').
  const ClaimResult second = MustClaim(store, Req("order-2"));
  Result<FencedOutcome> released =
      store.Release(kGroup, "order-2", second.record.fencing_token, std::string("bad \xff\x00 byte", 11));
  ASSERT_TRUE(released.ok()) << released.status().ToString();
  got = store.Get(kGroup, "order-2");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->last_error, "bad ?? byte");

  // A NUL would cut the key short in libpq's text protocol and make it another key.
  const ClaimRequest nul = Req(std::string("order-1\0evil", 12));
  Result<std::vector<ClaimResult>> rejected = store.Claim(std::span(&nul, 1));
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Get(kGroup, std::string("x\0y", 3)).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(PostgresDedupStoreTest, StoresOpenedTogetherOnAnEmptyDatabaseAllCreateTheTables) {
  std::vector<std::future<Status>> opens;
  for (int i = 0; i < 4; ++i) {
    opens.push_back(std::async(std::launch::async, [&] { return OpenStore(uri()).status(); }));
  }
  for (auto& f : opens) {
    const Status s = f.get();
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
}

}  // namespace
}  // namespace oncemq::client::conformance

namespace oncemq::client::txconformance {

namespace {

using conformance::OpenStore;
using conformance::SharedPostgres;

// The transactional suite's harness: a fresh database per case, store objects on it sharing one test
// clock, and an autocommit libpq connection of its own for the suite's setup and counting.
class PostgresTxHarness : public TxStoreHarness {
 public:
  PostgresTxHarness() {
    const std::string database = SharedPostgres::NewDatabase(&error_);
    if (database.empty()) return;
    uri_ = SharedPostgres::Get(&error_)->uri(database);
    store_ = Open();
    outside_.reset(PQconnectdb(uri_.c_str()));
    if (PQstatus(outside_.get()) != CONNECTION_OK) error_ = PQerrorMessage(outside_.get());
  }
  std::string SetupError() const override {
    if (!error_.empty()) return "postgres: " + error_;
    return store_ == nullptr ? "postgres: the store did not open" : "";
  }
  DedupStore& store() override { return *store_; }
  TransactionalDedupStore& tx_store() override { return *store_; }
  void Advance(milliseconds by) override {
    skew_ms_ += by.count();
    store_->SetClockSkewForTesting(skew_ms_);
  }
  // Also called in a forked child: it opens new connections and touches none of the parent's.
  TxStoreObject OpenAnother() override { return MakeTxStoreObject(Open()); }

  Status ExecOutside(const std::string& sql) override {
    Result<std::string> first = Outside(sql);
    return first.ok() ? Status::Ok() : first.status();
  }
  Result<int64_t> QueryCountOutside(const std::string& sql) override {
    Result<std::string> first = Outside(sql);
    if (!first.ok()) return first.status();
    return static_cast<int64_t>(std::stoll(*first));
  }
  const std::string& uri() const { return uri_; }

 private:
  std::unique_ptr<PostgresDedupStore> Open() {
    Result<std::unique_ptr<PostgresDedupStore>> store = OpenStore(uri_, skew_ms_);
    if (!store.ok()) {
      error_ = store.status().ToString();
      return nullptr;
    }
    return std::move(store).value();
  }
  // Runs `sql` on the outside connection; the first column of its first row ("0" if it has none).
  Result<std::string> Outside(const std::string& sql) {
    PGresult* r = PQexec(outside_.get(), sql.c_str());
    const ExecStatusType status = PQresultStatus(r);
    const bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
    std::string first = ok && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "0";
    const std::string error = ok ? "" : PQresultErrorMessage(r);
    PQclear(r);
    if (!ok) return Status::IoError("postgres outside: " + error);
    return first;
  }

  std::string uri_;
  std::string error_;
  int64_t skew_ms_ = 0;
  std::unique_ptr<PostgresDedupStore> store_;
  conformance::TestConn outside_;
};

INSTANTIATE_TEST_SUITE_P(Postgres, TransactionalStoreConformance,
                         ::testing::Values(TxStoreKind{"Postgres",
                                                       [] { return std::make_unique<PostgresTxHarness>(); }}),
                         [](const auto& info) { return std::string(info.param.name); });

// What the PostgreSQL store adds to the transactional contract.
class TransactionalPostgres : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(harness_.SetupError(), "");
    ASSERT_TRUE(harness_.ExecOutside(kCreateBusinessTable).ok());
  }
  static void TearDownTestSuite() { conformance::StopSuiteResources(); }
  Result<TransactionalResult> Run(const TransactionalHandler& handler) {
    return harness_.tx_store().RunOnce(TxReq("order-1"), handler);
  }
  int64_t BusinessRows() {
    Result<int64_t> n = harness_.QueryCountOutside("SELECT count(*) FROM oncemq_test_business");
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? *n : -1;
  }
  PostgresTxHarness harness_;
};

TEST_F(TransactionalPostgres, HandlerCannotEndTheTransactionButMayUseSavepoints) {
  std::vector<Status> refused;
  Status savepoints;
  Result<TransactionalResult> r =
      Run([&](SqlTransaction& tx, const DedupRecord&, std::optional<std::string>&) {
        for (const char* sql : {"COMMIT", " end", "ROLLBACK", "BEGIN", "/* x */ abort", "START TRANSACTION",
                                "PREPARE TRANSACTION 'x'", "-- c\ncommit and chain"}) {
          refused.push_back(tx.Execute(sql).status());
        }
        savepoints = tx.Execute("SAVEPOINT inner_work").status();
        if (savepoints.ok()) savepoints = InsertBusinessRow(tx, "row-a", "undone");
        if (savepoints.ok()) savepoints = tx.Execute("ROLLBACK TO SAVEPOINT inner_work").status();
        if (savepoints.ok()) savepoints = InsertBusinessRow(tx, "row-b", "kept");
        return savepoints;
      });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(refused.size(), 8u);
  for (const Status& s : refused) EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_TRUE(savepoints.ok()) << savepoints.ToString();
  EXPECT_EQ(r->outcome, TransactionalOutcome::kCommitted);
  EXPECT_EQ(BusinessRows(), 1);
}

TEST_F(TransactionalPostgres, TransactionEndedThroughTheNativeHandleFailsTheRun) {
  Status after_rollback;
  Result<TransactionalResult> r =
      Run([&](SqlTransaction& tx, const DedupRecord& claim, std::optional<std::string>&) {
        if (Status s = InsertBusinessRow(tx, claim.key, "lost"); !s.ok()) return s;
        PQclear(PQexec(static_cast<PGconn*>(tx.native_handle()), "ROLLBACK"));
        after_rollback = InsertBusinessRow(tx, "order-1-later", "autocommitted?");
        return Status::Ok();
      });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(after_rollback.code(), StatusCode::kInvalidArgument) << after_rollback.ToString();
  EXPECT_EQ(r->outcome, TransactionalOutcome::kHandlerFailed);
  EXPECT_EQ(r->record.state, DedupState::kReleased);
  EXPECT_EQ(BusinessRows(), 0);
}

TEST_F(TransactionalPostgres, HandlerStatementErrorsAreInvalidArgumentAndFailTheRun) {
  Status constraint, syntax;
  Result<TransactionalResult> r =
      Run([&](SqlTransaction& tx, const DedupRecord&, std::optional<std::string>&) {
        constraint = InsertBusinessRow(tx, "a", "1");
        if (constraint.ok()) constraint = InsertBusinessRow(tx, "a", "2");
        syntax = tx.Execute("SAVEPOINT s").status();  // refused too: the transaction is aborted
        return Status::Ok();                          // the handler ignores the errors
      });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(constraint.code(), StatusCode::kInvalidArgument) << constraint.ToString();
  EXPECT_FALSE(syntax.ok());
  EXPECT_EQ(r->outcome, TransactionalOutcome::kHandlerFailed);
  EXPECT_EQ(BusinessRows(), 0);
}

// A serialization failure (here raised on purpose) rolls back and runs the handler again.
TEST_F(TransactionalPostgres, SerializationFailureRunsTheHandlerAgainBoundedly) {
  int calls = 0;
  Result<TransactionalResult> r =
      Run([&](SqlTransaction& tx, const DedupRecord& claim, std::optional<std::string>&) {
        if (++calls == 1) {
          Status s = tx.Execute("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40001'; END $$").status();
          EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
          return s;
        }
        return InsertBusinessRow(tx, claim.key, "paid");
      });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, TransactionalOutcome::kCommitted);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(r->record.attempts, 0);  // a conflict is not a failed attempt

  calls = 0;
  Result<TransactionalResult> forever = harness_.tx_store().RunOnce(
      TxReq("order-2"), [&](SqlTransaction& tx, const DedupRecord&, std::optional<std::string>&) {
        ++calls;
        return tx.Execute("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40P01'; END $$").status();
      });
  ASSERT_FALSE(forever.ok());
  EXPECT_EQ(forever.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(calls, 4);  // the first run and conflict_retries (3) more
  EXPECT_EQ(BusinessRows(), 1);
}

TEST_F(TransactionalPostgres, NativeHandleIsTheStoreConnectionInsideTheTransaction) {
  PGTransactionStatusType status = PQTRANS_UNKNOWN;
  Result<TransactionalResult> r =
      Run([&](SqlTransaction& tx, const DedupRecord&, std::optional<std::string>&) {
        status = PQtransactionStatus(static_cast<PGconn*>(tx.native_handle()));
        return Status::Ok();
      });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(status, PQTRANS_INTRANS);
}

}  // namespace
}  // namespace oncemq::client::txconformance
