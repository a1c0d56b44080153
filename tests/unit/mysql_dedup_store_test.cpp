// The MySQL/MariaDB dedup store on a real MariaDB server the tests start themselves (MariadbServer): the
// shared DedupStore and TransactionalDedupStore conformance suites, then what only this store has —
// outages, killed connections, round trips per Claim batch, byte-exact keys, what a handler may do inside
// its transaction — and its URI and placeholder parsing. Without MariaDB installed the server cases fail
// (they do not skip), saying so.
#include <gtest/gtest.h>
#include <mysql.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/stores/mysql_connection.h"
#include "client/stores/mysql_dedup_store.h"
#include "dedup_store_conformance.h"
#include "oncemq/dedup_store.h"
#include "oncemq/transactional_dedup_store.h"
#include "support/servers/mariadb_server.h"
#include "transactional_store_conformance.h"

namespace oncemq::client::conformance {

namespace {

using oncemq::testing::MariadbServer;

// One MariaDB server for the whole suite, started by the first case that needs it and stopped after the
// suite (AtSuiteEnd); each case gets a database of its own.
class SharedMariadb {
 public:
  static MariadbServer* Get(std::string* error) {
    if (server_ == nullptr && start_error_.empty()) {
      auto server = std::make_unique<MariadbServer>();
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
  static inline std::unique_ptr<MariadbServer> server_;
  static inline std::string start_error_;
};

// A fresh database `oncemq_case_N` on `server`; dropped when destroyed.
class CaseDatabase {
 public:
  CaseDatabase(MariadbServer* server, std::string* error) : server_(server) {
    static std::atomic<int> counter{0};
    name_ = "oncemq_case_" + std::to_string(counter++);
    if (server_ == nullptr || !server_->CreateDatabase(name_, error)) server_ = nullptr;
  }
  ~CaseDatabase() {
    std::string ignored;
    if (server_ != nullptr) (void)server_->Run("DROP DATABASE IF EXISTS `" + name_ + "`", &ignored);
  }
  const std::string& name() const { return name_; }
  std::string uri() const { return server_ == nullptr ? "" : server_->uri(name_); }

 private:
  MariadbServer* server_;
  std::string name_;
};

Result<std::unique_ptr<MysqlDedupStore>> OpenStore(const std::string& uri, int64_t skew_ms = 0,
                                                   size_t pool_size = 4) {
  MysqlDedupStoreOptions options;
  options.uri = uri;
  options.clock_skew_ms = skew_ms;
  options.pool_size = pool_size;
  options.connection.connect_timeout = std::chrono::seconds(2);
  return MysqlDedupStore::Open(options);
}

class MysqlHarness : public StoreHarness {
 public:
  MysqlHarness() : server_(SharedMariadb::Get(&error_)), database_(server_, &error_) {
    if (error_.empty()) store_ = Open();
  }
  std::string SetupError() const override {
    if (!error_.empty()) return "mariadb: " + error_;
    return store_ == nullptr ? "mariadb: the store did not open" : "";
  }
  DedupStore& store() override { return *store_; }
  void Advance(milliseconds by) override {
    skew_ms_ += by.count();
    store_->SetClockSkewForTesting(skew_ms_);
  }
  std::unique_ptr<DedupStore> OpenAnother() override { return Open(); }

 private:
  std::unique_ptr<MysqlDedupStore> Open() {
    Result<std::unique_ptr<MysqlDedupStore>> store = OpenStore(database_.uri(), skew_ms_);
    if (!store.ok()) {
      error_ = store.status().ToString();
      return nullptr;
    }
    return std::move(store).value();
  }

  std::string error_;
  MariadbServer* server_;
  CaseDatabase database_;
  int64_t skew_ms_ = 0;
  std::unique_ptr<MysqlDedupStore> store_;
};

INSTANTIATE_TEST_SUITE_P(
    Mariadb, DedupStoreConformance,
    ::testing::Values(StoreKind{"Mariadb", [] { return std::unique_ptr<StoreHarness>(new MysqlHarness); }}),
    [](const ::testing::TestParamInfo<StoreKind>& info) { return std::string(info.param.name); });

// MariaDB only: a store on a database of its own on the shared server.
class MysqlDedupStoreTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { SharedMariadb::Stop(); }

  void SetUp() override {
    std::string error;
    server_ = SharedMariadb::Get(&error);
    ASSERT_NE(server_, nullptr) << error;
    database_ = std::make_unique<CaseDatabase>(server_, &error);
    ASSERT_EQ(error, "");
  }

  std::unique_ptr<MysqlDedupStore> MustOpen(size_t pool_size = 4) {
    Result<std::unique_ptr<MysqlDedupStore>> store = OpenStore(database_->uri(), 0, pool_size);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // The IDs of the connections the store's user has open to this case's database.
  std::vector<std::string> StoreConnections() {
    std::vector<std::vector<std::optional<std::string>>> rows;
    std::string error;
    EXPECT_TRUE(
        server_->Query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'oncemq' AND DB = '" +
                           database_->name() + "'",
                       &rows, &error))
        << error;
    std::vector<std::string> ids;
    for (const auto& row : rows) ids.push_back(row[0].value_or("0"));
    return ids;
  }

  // Kills every connection the store's user has open to this case's database and waits until the server
  // has dropped them (KILL returns before that); returns how many there were.
  int KillStoreConnections() {
    const std::vector<std::string> ids = StoreConnections();
    std::string error;
    for (const std::string& id : ids) EXPECT_TRUE(server_->Run("KILL CONNECTION " + id, &error)) << error;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!StoreConnections().empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE(StoreConnections().empty()) << "killed connections are still listed";
    return static_cast<int>(ids.size());
  }

  // A counter of SHOW GLOBAL STATUS (-1 if it cannot be read).
  int64_t GlobalStatus(const std::string& name) {
    std::vector<std::vector<std::optional<std::string>>> rows;
    std::string error;
    EXPECT_TRUE(server_->Query("SHOW GLOBAL STATUS LIKE '" + name + "'", &rows, &error)) << error;
    return rows.size() == 1 ? std::stoll(rows[0][1].value_or("0")) : -1;
  }

  MariadbServer* server_ = nullptr;
  std::unique_ptr<CaseDatabase> database_;
};

std::vector<ClaimRequest> Batch(const std::string& prefix, int n) {
  std::vector<ClaimRequest> batch;
  for (int i = 0; i < n; ++i) batch.push_back(Req(prefix + std::to_string(i)));
  return batch;
}

TEST_F(MysqlDedupStoreTest, ClaimCostsTwoRoundTripsWhateverTheBatchSize) {
  std::unique_ptr<MysqlDedupStore> store = MustOpen(1);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->NowMs().ok());  // the connection is open

  const auto cost = [&](const std::vector<ClaimRequest>& batch, int64_t* questions) {
    const uint64_t before = store->RoundTripsForTesting();
    const int64_t questions_before = GlobalStatus("Questions");
    Result<std::vector<ClaimResult>> results = store->Claim(batch);
    EXPECT_TRUE(results.ok()) << results.status().ToString();
    EXPECT_EQ(results.ok() ? results->size() : 0, batch.size());
    *questions =
        GlobalStatus("Questions") - questions_before;  // includes the SHOW itself, the same each time
    return store->RoundTripsForTesting() - before;
  };
  int64_t questions_one = 0;
  int64_t questions_many = 0;
  EXPECT_EQ(cost(Batch("single-", 1), &questions_one), 2u);
  EXPECT_EQ(cost(Batch("many-", 300), &questions_many), 2u);
  // The server's own count of statements agrees: a batch of 300 runs no more statements than a batch of 1.
  EXPECT_EQ(questions_many, questions_one);
  // Renew, Complete and Release: one round trip each.
  Result<std::vector<ClaimResult>> claimed = store->Claim(Batch("single-", 1));
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ((*claimed)[0].outcome, ClaimOutcome::kInProgress);
  const int64_t token = (*claimed)[0].record.fencing_token;
  const uint64_t before = store->RoundTripsForTesting();
  ASSERT_TRUE(store->Renew(kGroup, "single-0", token, seconds(10)).ok());
  ASSERT_TRUE(store->Complete(kGroup, "single-0", token, seconds(10), std::nullopt).ok());
  EXPECT_EQ(store->RoundTripsForTesting() - before, 2u);
}

// Claims `n` fresh keys prefix0 … prefix<n-1> and returns their Complete requests (retention 1 h).
std::vector<CompleteRequest> ClaimForCompletion(DedupStore& store, const std::string& prefix, int n) {
  const std::vector<ClaimRequest> claims = Batch(prefix, n);
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

TEST_F(MysqlDedupStoreTest, CompleteBatchCostsOneRoundTripWhateverItsSize) {
  std::unique_ptr<MysqlDedupStore> store = MustOpen(1);
  ASSERT_NE(store, nullptr);
  const auto round_trips_of = [&](const std::vector<CompleteRequest>& batch, FencedOutcome want) {
    const uint64_t before = store->RoundTripsForTesting();
    Result<std::vector<FencedOutcome>> r = store->CompleteBatch(batch);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r.ok() ? *r : std::vector<FencedOutcome>(), std::vector<FencedOutcome>(batch.size(), want));
    return store->RoundTripsForTesting() - before;
  };
  const std::vector<CompleteRequest> one = ClaimForCompletion(*store, "single-", 1);
  const std::vector<CompleteRequest> many = ClaimForCompletion(*store, "order-", 500);

  EXPECT_EQ(round_trips_of(one, FencedOutcome::kOk), 1u);
  EXPECT_EQ(round_trips_of(many, FencedOutcome::kOk), 1u);
  EXPECT_EQ(round_trips_of(many, FencedOutcome::kFenced), 1u);  // all done already: nothing written
  for (const std::string key : {"order-0", "order-499"}) {
    Result<std::optional<DedupRecord>> done = store->Get(kGroup, key);
    ASSERT_TRUE(done.ok() && done->has_value()) << key;
    EXPECT_EQ((*done)->state, DedupState::kConsumed);
    EXPECT_EQ((*done)->result, "receipt-" + key.substr(6));
  }
}

TEST_F(MysqlDedupStoreTest, RepeatedKeyInACompleteBatchIsDoneByItsFirstValidRequest) {
  std::unique_ptr<MysqlDedupStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  const std::vector<CompleteRequest> claimed = ClaimForCompletion(*store, "order-", 2);
  ASSERT_EQ(claimed.size(), 2u);
  CompleteRequest stale = claimed[0];
  stale.token -= 1;
  stale.result = "stale";
  CompleteRequest again = claimed[0];
  again.result = "again";
  // Positions matter, not key order: order-1 comes first, and order-0's valid request follows a stale one.
  const std::vector<CompleteRequest> batch = {claimed[1], stale, claimed[0], again, claimed[1]};
  Result<std::vector<FencedOutcome>> outcomes = store->CompleteBatch(batch);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  EXPECT_EQ(*outcomes,
            (std::vector<FencedOutcome>{FencedOutcome::kOk, FencedOutcome::kFenced, FencedOutcome::kOk,
                                        FencedOutcome::kFenced, FencedOutcome::kFenced}));
  Result<std::optional<DedupRecord>> done = store->Get(kGroup, "order-0");
  ASSERT_TRUE(done.ok() && done->has_value());
  EXPECT_EQ((*done)->result, "receipt-0");
}

TEST_F(MysqlDedupStoreTest, RenewWithinTheSameMillisecondIsNotFenced) {
  // MySQL counts only changed rows unless CLIENT_FOUND_ROWS: a renewal that writes the same values must
  // still be kOk, not taken for a stale token.
  std::unique_ptr<MysqlDedupStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  const ClaimRequest request = Req("order-1");
  Result<std::vector<ClaimResult>> claimed = store->Claim(std::span(&request, 1));
  ASSERT_TRUE(claimed.ok());
  const int64_t token = (*claimed)[0].record.fencing_token;
  for (int i = 0; i < 50; ++i) {
    Result<FencedOutcome> renewed = store->Renew(kGroup, "order-1", token, seconds(10));
    ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
    ASSERT_EQ(*renewed, FencedOutcome::kOk) << "renewal " << i;
  }
}

TEST_F(MysqlDedupStoreTest, KeysAreComparedByteForByte) {
  std::unique_ptr<MysqlDedupStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  const std::string binary("\0\xff\x80 '\\\"?;", 9);
  const std::vector<ClaimRequest> batch = {Req("a"),        Req("a "),        Req("A"),
                                           Req("\xc3\xa4"), Req("a\xcc\x88"), Req(binary)};
  Result<std::vector<ClaimResult>> results = store->Claim(batch);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ((*results)[i].outcome, ClaimOutcome::kClaimed) << "key " << i;
    Result<std::optional<DedupRecord>> got = store->Get(kGroup, batch[i].key);
    ASSERT_TRUE(got.ok() && got->has_value()) << "key " << i;
    EXPECT_EQ((*got)->key, batch[i].key);
  }
  const std::string error("bank said \"no\" \xff\x00", 17);
  Result<FencedOutcome> released = store->Release(kGroup, binary, (*results)[5].record.fencing_token, error);
  ASSERT_TRUE(released.ok()) << released.status().ToString();
  EXPECT_EQ(*released, FencedOutcome::kOk);
  Result<std::optional<DedupRecord>> got = store->Get(kGroup, binary);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->last_error, error);
}

TEST_F(MysqlDedupStoreTest, OversizedKeyIsRejectedBeforeAnythingIsWritten) {
  std::unique_ptr<MysqlDedupStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  const std::vector<ClaimRequest> batch = {Req("fine"), Req(std::string(1025, 'k'))};
  Result<std::vector<ClaimResult>> results = store->Claim(batch);
  ASSERT_FALSE(results.ok());
  EXPECT_EQ(results.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(store->Get(kGroup, "fine")->has_value());
  const ClaimRequest longest = Req(std::string(1024, 'k'));
  Result<std::vector<ClaimResult>> ok = store->Claim(std::span(&longest, 1));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)[0].outcome, ClaimOutcome::kClaimed);
}

TEST_F(MysqlDedupStoreTest, OverlappingBatchesInOppositeOrdersNeverDeadlock) {
  // Batches take their rows' exclusive locks in key order whatever the order of their requests, and take
  // them exclusive from the start (INSERT … ON DUPLICATE KEY UPDATE; INSERT IGNORE would take shared locks
  // that two batches then both try to upgrade): InnoDB finds no deadlock to break, neither among new keys
  // (round 0) nor among existing rows (later rounds). Every key is claimed exactly once.
  constexpr int kThreads = 6;
  constexpr int kKeys = 60;
  constexpr int kRounds = 3;
  std::vector<std::unique_ptr<MysqlDedupStore>> stores;
  for (int t = 0; t < kThreads; ++t) stores.push_back(MustOpen(2));
  for (const auto& s : stores) ASSERT_NE(s, nullptr);
  const int64_t deadlocks_before = GlobalStatus("Innodb_deadlocks");
  ASSERT_GE(deadlocks_before, 0);
  int claimed = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<Result<std::vector<ClaimResult>>> results(kThreads, Status::Unavailable("not run"));
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::vector<ClaimRequest> batch = Batch("order-", kKeys);
        for (ClaimRequest& r : batch) r.owner = "consumer-" + std::to_string(t);
        if (t % 2 == 1) std::reverse(batch.begin(), batch.end());
        ready++;
        while (ready.load() < kThreads) std::this_thread::yield();
        results[t] = stores[t]->Claim(batch);
      });
    }
    for (std::thread& th : threads) th.join();
    for (const Result<std::vector<ClaimResult>>& r : results) {
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      for (const ClaimResult& c : r.value()) claimed += c.outcome == ClaimOutcome::kClaimed;
    }
  }
  EXPECT_EQ(claimed, kKeys);
  EXPECT_EQ(GlobalStatus("Innodb_deadlocks"), deadlocks_before);
}

TEST_F(MysqlDedupStoreTest, KilledConnectionRecoversForReadsAndFailsClosedForWrites) {
  std::unique_ptr<MysqlDedupStore> store = MustOpen(1);
  ASSERT_NE(store, nullptr);
  const ClaimRequest request = Req("order-1");
  Result<std::vector<ClaimResult>> claimed = store->Claim(std::span(&request, 1));
  ASSERT_TRUE(claimed.ok()) << claimed.status().ToString();
  const int64_t token = (*claimed)[0].record.fencing_token;

  // A read on a killed connection is retried once on a new one.
  ASSERT_EQ(KillStoreConnections(), 1);
  Result<std::optional<DedupRecord>> got = store->Get(kGroup, "order-1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->fencing_token, token);

  // A write is not: its outcome would be unknown. kUnavailable, and the next call reconnects.
  ASSERT_EQ(KillStoreConnections(), 1);
  Result<FencedOutcome> lost = store->Complete(kGroup, "order-1", token, seconds(60), std::nullopt);
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), StatusCode::kUnavailable) << lost.status().ToString();
  ASSERT_EQ(KillStoreConnections(), 0);
  Result<FencedOutcome> done = store->Complete(kGroup, "order-1", token, seconds(60), std::nullopt);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(*done, FencedOutcome::kOk);

  // The same for a Claim batch.
  ASSERT_EQ(KillStoreConnections(), 1);
  Result<std::vector<ClaimResult>> lost_claim = store->Claim(std::span(&request, 1));
  ASSERT_FALSE(lost_claim.ok());
  EXPECT_EQ(lost_claim.status().code(), StatusCode::kUnavailable);
  Result<std::vector<ClaimResult>> dup = store->Claim(std::span(&request, 1));
  ASSERT_TRUE(dup.ok()) << dup.status().ToString();
  EXPECT_EQ((*dup)[0].outcome, ClaimOutcome::kDuplicate);
}

TEST_F(MysqlDedupStoreTest, NowIsTheServerClockWhateverTheSessionTimeZone) {
  std::string error;
  ASSERT_TRUE(server_->Run("SET GLOBAL time_zone = '-07:00'", &error)) << error;
  std::unique_ptr<MysqlDedupStore> store = MustOpen();
  ASSERT_TRUE(server_->Run("SET GLOBAL time_zone = SYSTEM", &error)) << error;
  ASSERT_NE(store, nullptr);
  const int64_t local = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  Result<int64_t> now = store->NowMs();
  ASSERT_TRUE(now.ok()) << now.status().ToString();
  EXPECT_NEAR(static_cast<double>(*now), static_cast<double>(local), 5'000.0);  // the same machine
}

// A server of its own: this test takes it away.
TEST(MysqlDedupStoreOutageTest, StoppedServerIsUnavailableAndTheSameStoreWorksAfterRestart) {
  MariadbServer server;
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << error;
  Result<std::unique_ptr<MysqlDedupStore>> opened = OpenStore(server.uri(), 0, 2);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  MysqlDedupStore& store = **opened;
  const ClaimRequest request = Req("order-1");
  Result<std::vector<ClaimResult>> claimed = store.Claim(std::span(&request, 1));
  ASSERT_TRUE(claimed.ok()) << claimed.status().ToString();
  const int64_t token = (*claimed)[0].record.fencing_token;

  server.Stop();
  const auto expect_unavailable = [](const Status& s, const char* what) {
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << what << ": " << s.ToString();
  };
  expect_unavailable(store.Claim(std::span(&request, 1)).status(), "claim");
  expect_unavailable(store.Get(kGroup, "order-1").status(), "get");
  expect_unavailable(store.NowMs().status(), "now");
  expect_unavailable(store.Complete(kGroup, "order-1", token, seconds(60), std::nullopt).status(),
                     "complete");
  expect_unavailable(store.Sweep(10).status(), "sweep");

  ASSERT_TRUE(server.Restart(&error)) << error;
  Result<std::optional<DedupRecord>> got = store.Get(kGroup, "order-1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->state, DedupState::kConsuming);
  EXPECT_EQ((*got)->fencing_token, token);
  Result<FencedOutcome> done = store.Complete(kGroup, "order-1", token, seconds(60), std::nullopt);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(*done, FencedOutcome::kOk);
  Result<std::vector<ClaimResult>> dup = store.Claim(std::span(&request, 1));
  ASSERT_TRUE(dup.ok()) << dup.status().ToString();
  EXPECT_EQ((*dup)[0].outcome, ClaimOutcome::kDuplicate);
}

TEST(MysqlDedupStoreOpenTest, UnreachableServerIsUnavailableAndBadUriIsInvalid) {
  Result<std::unique_ptr<MysqlDedupStore>> unreachable = OpenStore("mysql://u:p@127.0.0.1:1/db");
  ASSERT_FALSE(unreachable.ok());
  EXPECT_EQ(unreachable.status().code(), StatusCode::kUnavailable) << unreachable.status().ToString();
  Result<std::unique_ptr<MysqlDedupStore>> bad = OpenStore("mysql://127.0.0.1/db");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(MysqlUriTest, ParsesUserPasswordHostPortAndDatabase) {
  Result<MysqlEndpoint> e = ParseMysqlUri("mysql://app:s%40cret:x@db.example:3307/orders");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->user, "app");
  EXPECT_EQ(e->password, std::optional<std::string>("s@cret:x"));
  EXPECT_EQ(e->host, "db.example");
  EXPECT_EQ(e->port, 3307);
  EXPECT_EQ(e->database, "orders");

  Result<MysqlEndpoint> defaults = ParseMysqlUri("mysql://app@[::1]/orders");
  ASSERT_TRUE(defaults.ok()) << defaults.status().ToString();
  EXPECT_EQ(defaults->password, std::nullopt);
  EXPECT_EQ(defaults->host, "::1");
  EXPECT_EQ(defaults->port, 3306);

  for (const char* bad :
       {"postgresql://a@h/d", "mysql://a@h", "mysql://a@h/", "mysql://h:1/d", "mysql://a@h:x/d",
        "mysql://a@h:70000/d", "mysql://a@h/d?ssl=1", "mysql://a%zz@h/d", "mysql://a@/d"}) {
    Result<MysqlEndpoint> r = ParseMysqlUri(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(MysqlPlaceholderTest, BindsInOrderOutsideQuotedTextAndComments) {
  const auto quote = [](std::string_view t) { return "<" + std::string(t) + ">"; };
  const std::vector<SqlParam> params = {"a", std::nullopt, "c"};
  Result<std::string> bound = BindPlaceholders(
      "SELECT ?, '?', \"?\", `?`, 'it''s ?', 'x\\'?' /* ? */ FROM t # ?\nWHERE a = ? -- ?\n AND b = ?;  ",
      params, quote);
  ASSERT_TRUE(bound.ok()) << bound.status().ToString();
  EXPECT_EQ(*bound,
            "SELECT <a>, '?', \"?\", `?`, 'it''s ?', 'x\\'?' /* ? */ FROM t # ?\nWHERE a = NULL -- ?\n AND b "
            "= <c>");

  EXPECT_EQ(BindPlaceholders("SELECT ?", {}, quote).status().code(), StatusCode::kInvalidArgument);
  const std::vector<SqlParam> one = {"x"};
  EXPECT_EQ(BindPlaceholders("SELECT 1", one, quote).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(BindPlaceholders("SELECT ?; DROP TABLE t", one, quote).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(BindPlaceholders("SELECT ';' -- ;\n", {}, quote).ok());
  Result<std::string> trailing = BindPlaceholders("SELECT 1;  -- done\n /* really */ ", {}, quote);
  ASSERT_TRUE(trailing.ok()) << trailing.status().ToString();
  EXPECT_EQ(*trailing, "SELECT 1");
  EXPECT_EQ(BindPlaceholders("SELECT 1; -- done\n SELECT 2", {}, quote).status().code(),
            StatusCode::kInvalidArgument);
  // MySQL's "--" starts a comment only before a blank: a--1 is a minus a negative one.
  const std::vector<SqlParam> two = {"x", "y"};
  Result<std::string> minus = BindPlaceholders("SELECT ?--1, ?", two, quote);
  ASSERT_TRUE(minus.ok()) << minus.status().ToString();
  EXPECT_EQ(*minus, "SELECT <x>--1, <y>");
}

}  // namespace
}  // namespace oncemq::client::conformance

namespace oncemq::client::txconformance {

namespace {

using oncemq::testing::MariadbServer;

// The transactional suite's harness: a database of its own on the shared server, and an autocommit
// connection of the harness's own for setup and counting.
class MysqlTxHarness : public TxStoreHarness {
 public:
  MysqlTxHarness() : server_(conformance::SharedMariadb::Get(&error_)), database_(server_, &error_) {
    if (!error_.empty()) return;
    store_ = Open();
    Result<MysqlEndpoint> endpoint = ParseMysqlUri(database_.uri());
    if (!endpoint.ok()) {
      error_ = endpoint.status().ToString();
      return;
    }
    Result<std::unique_ptr<MysqlConnection>> outside = MysqlConnection::Connect(*endpoint, {}, &round_trips_);
    if (!outside.ok()) {
      error_ = outside.status().ToString();
      return;
    }
    outside_ = std::move(outside).value();
  }
  std::string SetupError() const override {
    if (!error_.empty()) return "mariadb: " + error_;
    return store_ == nullptr ? "mariadb: the store did not open" : "";
  }
  DedupStore& store() override { return *store_; }
  TransactionalDedupStore& tx_store() override { return *store_; }
  void Advance(milliseconds by) override {
    skew_ms_ += by.count();
    store_->SetClockSkewForTesting(skew_ms_);
  }
  TxStoreObject OpenAnother() override { return MakeTxStoreObject(Open()); }
  Status ExecOutside(const std::string& sql) override { return outside_->Run(sql).status(); }
  Result<int64_t> QueryCountOutside(const std::string& sql) override {
    Result<std::vector<StatementResult>> r = outside_->Run(sql);
    if (!r.ok()) return r.status();
    if (r->size() != 1 || (*r)[0].rows.size() != 1 || (*r)[0].rows[0].empty() || !(*r)[0].rows[0][0]) {
      return Status::Corruption("expected one number from: " + sql);
    }
    return std::stoll(*(*r)[0].rows[0][0]);
  }
  MariadbServer* server() { return server_; }

 private:
  std::unique_ptr<MysqlDedupStore> Open() {
    Result<std::unique_ptr<MysqlDedupStore>> store = conformance::OpenStore(database_.uri(), skew_ms_);
    if (!store.ok()) {
      error_ = store.status().ToString();
      return nullptr;
    }
    return std::move(store).value();
  }

  std::string error_;
  MariadbServer* server_;
  conformance::CaseDatabase database_;
  int64_t skew_ms_ = 0;
  std::atomic<uint64_t> round_trips_{0};
  std::unique_ptr<MysqlDedupStore> store_;
  std::unique_ptr<MysqlConnection> outside_;
};

INSTANTIATE_TEST_SUITE_P(Mariadb, TransactionalStoreConformance,
                         ::testing::Values(TxStoreKind{"Mariadb",
                                                       [] { return std::make_unique<MysqlTxHarness>(); }}),
                         [](const auto& info) { return std::string(info.param.name); });

// MariaDB only: what a handler may do inside its transaction, and what happens when the connection goes.
class MysqlTransactionalTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { conformance::SharedMariadb::Stop(); }
  void SetUp() override {
    ASSERT_EQ(harness_.SetupError(), "");
    ASSERT_TRUE(harness_.ExecOutside(kCreateBusinessTable).ok());
  }
  Result<TransactionalResult> Run(const TransactionalHandler& handler, const std::string& key = "order-1") {
    return harness_.tx_store().RunOnce(TxReq(key), handler);
  }
  int64_t BusinessRows() {
    Result<int64_t> count = harness_.QueryCountOutside("SELECT COUNT(*) FROM oncemq_test_business");
    EXPECT_TRUE(count.ok()) << count.status().ToString();
    return count.ok() ? *count : -1;
  }
  MysqlTxHarness harness_;
};

TEST_F(MysqlTransactionalTest, HandlerCannotEndTheTransactionButMayUseSavepoints) {
  std::vector<Status> refused;
  Status savepoints;
  Result<TransactionalResult> r =
      Run([&](SqlTransaction& tx, const DedupRecord&, std::optional<std::string>&) {
        for (const char* sql :
             {"COMMIT", " rollback work", "/* c */ BEGIN", "START TRANSACTION", "XA START 'x'"}) {
          refused.push_back(tx.Execute(sql).status());
        }
        savepoints = tx.Execute("SAVEPOINT inner_work").status();
        if (savepoints.ok()) savepoints = InsertBusinessRow(tx, "row-undone", "undone");
        if (savepoints.ok()) savepoints = tx.Execute("ROLLBACK TO SAVEPOINT inner_work").status();
        if (savepoints.ok()) savepoints = InsertBusinessRow(tx, "row-kept", "kept");
        return savepoints;
      });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(refused.size(), 5u);
  for (const Status& s : refused) EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_TRUE(savepoints.ok()) << savepoints.ToString();
  EXPECT_EQ(r->outcome, TransactionalOutcome::kCommitted);
  EXPECT_EQ(BusinessRows(), 1);
}

// A handler that ends the transaction behind the store's back (through the native handle) must not get the
// CONSUMED record committed alone, nor its later statements committed one by one.
TEST_F(MysqlTransactionalTest, TransactionEndedThroughTheNativeHandleFailsTheRun) {
  Status after_rollback;
  Result<TransactionalResult> r =
      Run([&](SqlTransaction& tx, const DedupRecord& claim, std::optional<std::string>&) {
        if (Status s = InsertBusinessRow(tx, claim.key, "lost"); !s.ok()) return s;
        mysql_query(static_cast<MYSQL*>(tx.native_handle()), "ROLLBACK");
        after_rollback = InsertBusinessRow(tx, "order-1-later", "autocommitted?");
        return Status::Ok();
      });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(after_rollback.ok());
  EXPECT_EQ(r->outcome, TransactionalOutcome::kHandlerFailed);
  EXPECT_EQ(r->record.state, DedupState::kReleased);
  EXPECT_EQ(r->record.attempts, 1);
  EXPECT_EQ(BusinessRows(), 0);
}

TEST_F(MysqlTransactionalTest, OneStatementPerCallAndStatementErrorsAreInvalidArgument) {
  Status two, trailing, duplicate, no_table;
  Result<TransactionalResult> r =
      Run([&](SqlTransaction& tx, const DedupRecord&, std::optional<std::string>&) {
        two =
            tx.Execute("INSERT INTO oncemq_test_business (k) VALUES ('a'); DELETE FROM oncemq_test_business")
                .status();
        trailing = tx.Execute("INSERT INTO oncemq_test_business (k) VALUES ('b');  ").status();
        duplicate = InsertBusinessRow(tx, "b", "again");
        no_table = tx.Execute("INSERT INTO no_such_table VALUES (1)").status();
        return Status::Ok();
      });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(two.code(), StatusCode::kInvalidArgument) << two.ToString();
  EXPECT_TRUE(trailing.ok()) << trailing.ToString();
  EXPECT_EQ(duplicate.code(), StatusCode::kInvalidArgument) << duplicate.ToString();
  EXPECT_EQ(no_table.code(), StatusCode::kInvalidArgument) << no_table.ToString();
  EXPECT_EQ(r->outcome, TransactionalOutcome::kCommitted);
  EXPECT_EQ(BusinessRows(), 1);
}

// The second run of a key waits on the first's row lock; when the first rolls back, the second runs.
TEST_F(MysqlTransactionalTest, SecondRunWaitsForTheFirstAndRunsWhenItRollsBack) {
  TxStoreObject other = harness_.OpenAnother();
  ASSERT_TRUE(other);
  std::atomic<bool> first_inside{false};
  std::atomic<bool> first_done{false};
  std::atomic<bool> second_ran_before_first_ended{false};
  std::thread first([&] {
    Result<TransactionalResult> r =
        Run([&](SqlTransaction& tx, const DedupRecord& claim, std::optional<std::string>&) {
          if (Status s = InsertBusinessRow(tx, claim.key, "first"); !s.ok()) return s;
          first_inside = true;
          std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the second run is waiting by now
          first_done = true;
          return Status::Unavailable("first attempt fails");
        });
    EXPECT_TRUE(r.ok() && r->outcome == TransactionalOutcome::kHandlerFailed);
  });
  while (!first_inside) std::this_thread::yield();
  Result<TransactionalResult> second =
      other.tx->RunOnce(TxReq("order-1", "consumer-b"),
                        [&](SqlTransaction& tx, const DedupRecord& claim, std::optional<std::string>&) {
                          second_ran_before_first_ended = !first_done;
                          return InsertBusinessRow(tx, claim.key, "second");
                        });
  first.join();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->outcome, TransactionalOutcome::kCommitted);
  EXPECT_FALSE(second_ran_before_first_ended);
  EXPECT_EQ(BusinessRows(), 1);
  Result<std::optional<DedupRecord>> stored = harness_.store().Get(kGroup, "order-1");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->state, DedupState::kConsumed);
  EXPECT_EQ((*stored)->owner, "consumer-b");
}

// The connection dies before the commit's reply arrives: the outcome is unknown to the store, so RunOnce
// answers kUnavailable (redeliver) — neither kCommitted nor a recorded failure. Here the server had rolled
// back, so nothing is kept and the next run commits.
TEST_F(MysqlTransactionalTest, ConnectionLostBeforeTheCommitReplyIsUnavailable) {
  Result<TransactionalResult> r =
      Run([&](SqlTransaction& tx, const DedupRecord& claim, std::optional<std::string>&) {
        Result<std::vector<SqlRow>> id = tx.Query("SELECT CONNECTION_ID()");
        if (!id.ok()) return id.status();
        if (Status s = InsertBusinessRow(tx, claim.key, "lost"); !s.ok()) return s;
        std::string error;
        if (!harness_.server()->Run("KILL CONNECTION " + (*id)[0][0].value_or("0"), &error)) {
          return Status::IoError(error);
        }
        return Status::Ok();
      });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_EQ(BusinessRows(), 0);
  Result<std::optional<DedupRecord>> stored = harness_.store().Get(kGroup, "order-1");
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_FALSE(stored->has_value());
  int calls = 0;
  Result<TransactionalResult> again =
      Run([&](SqlTransaction& tx, const DedupRecord& claim, std::optional<std::string>&) {
        ++calls;
        return InsertBusinessRow(tx, claim.key, "paid");
      });
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->outcome, TransactionalOutcome::kCommitted);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(BusinessRows(), 1);
}

}  // namespace
}  // namespace oncemq::client::txconformance
