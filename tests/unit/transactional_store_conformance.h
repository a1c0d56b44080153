// The TransactionalDedupStore conformance suite's fixture (include/oncemq/transactional_dedup_store.h),
// shared so that each SQL store's harness lives in its own file. To run the suite against a store:
//
//   class MyHarness : public txconformance::TxStoreHarness { ... };   // the contract is below
//   INSTANTIATE_TEST_SUITE_P(MyStore, TransactionalStoreConformance,
//                            ::testing::Values(txconformance::TxStoreKind{
//                                "MyStore", [] { return std::make_unique<MyHarness>(); }}),
//                            [](const auto& info) { return std::string(info.param.name); });
//
// in your own test file (inside namespace oncemq::client::txconformance, or with the names qualified), and
// every TEST_P of transactional_store_conformance_test.cpp runs against it. That file instantiates SQLite.
//
// The harness contract:
// - Each case makes a fresh harness; its store must hold no dedup records (a new database, or truncate the
//   store's tables in the constructor). The suite itself creates the business table kBusinessTable with
//   kCreateBusinessTable and empties it, through ExecOutside, before each case.
// - store() and tx_store() are the same object, seen through its two interfaces.
// - Advance(by) moves the store clock (the store's clock-skew option for tests) of store() and of every
//   object OpenAnother returns afterwards. The suite never sleeps to wait for time.
// - OpenAnother() opens a new store object on the same database with its own connection; an empty
//   TxStoreObject if it cannot. The suite calls it from the test's thread, hands the objects to other
//   threads, and also calls it in a child process right after fork() (that child must not touch the
//   parent's connections; it ends by SIGKILL, so nothing is closed or flushed there).
// - ExecOutside / QueryCountOutside run SQL on the harness's own autocommit connection, not on any store
//   object's. QueryCountOutside may be called while a handler's transaction is open and must not wait for
//   it (SQLite in WAL mode, PostgreSQL READ COMMITTED and InnoDB consistent reads all answer at once).
// - A harness that starts a server for the whole suite registers its stop with conformance::AtSuiteEnd
//   (dedup_store_conformance.h); the fixture runs those stops after the suite's last case.
// The suite's SQL is portable across SQLite, PostgreSQL and MariaDB, with `?` parameters; a store whose
// driver numbers its parameters can rewrite them with NumberPlaceholders
// (src/client/stores/sql_placeholders.h), which skips `?` inside literals, quoted identifiers and comments.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "dedup_store_conformance.h"
#include "oncemq/dedup_store.h"
#include "oncemq/status.h"
#include "oncemq/transactional_dedup_store.h"

namespace oncemq::client::txconformance {

using conformance::kGroup;
using std::chrono::milliseconds;
using std::chrono::seconds;

inline constexpr const char* kBusinessTable = "oncemq_test_business";
inline constexpr const char* kCreateBusinessTable =
    "CREATE TABLE IF NOT EXISTS oncemq_test_business (k VARCHAR(190) PRIMARY KEY, v TEXT)";

// One store object seen through both of its interfaces; owns it. Empty (no object) when it could not open.
struct TxStoreObject {
  std::unique_ptr<DedupStore> object;
  TransactionalDedupStore* tx = nullptr;  // the same object as `object`

  explicit operator bool() const { return object != nullptr && tx != nullptr; }
  DedupStore& dedup() { return *object; }
};

// REQUIRES: Store implements DedupStore and TransactionalDedupStore. nullptr gives an empty object.
template <typename Store>
TxStoreObject MakeTxStoreObject(std::unique_ptr<Store> store) {
  TransactionalDedupStore* tx = store.get();
  return TxStoreObject{std::move(store), tx};
}

// A transactional store under test, its clock, a way to open more objects on its database, and a
// connection of its own for setup and counting (see the contract at the top of this file).
class TxStoreHarness {
 public:
  virtual ~TxStoreHarness() = default;
  // Why the store could not be set up; empty when it is ready.
  virtual std::string SetupError() const { return ""; }
  virtual DedupStore& store() = 0;
  virtual TransactionalDedupStore& tx_store() = 0;
  // Moves the clock of store() and of objects OpenAnother returns afterwards forward.
  virtual void Advance(milliseconds by) = 0;
  // A new store object (a new connection) on the same database.
  virtual TxStoreObject OpenAnother() = 0;
  // Runs a statement outside any RunOnce, on the harness's own autocommit connection.
  virtual Status ExecOutside(const std::string& sql) = 0;
  // Runs a query on that connection; returns the first column of its first row as an integer.
  virtual Result<int64_t> QueryCountOutside(const std::string& sql) = 0;
};

struct TxStoreKind {
  const char* name;
  std::function<std::unique_ptr<TxStoreHarness>()> make;
};

inline void PrintTo(const TxStoreKind& kind, std::ostream* os) {
  *os << kind.name;
}

inline TransactionalRequest TxReq(const std::string& key, const std::string& owner = "consumer-a",
                                  milliseconds retention = seconds(3600),
                                  std::optional<std::string> hash = std::nullopt) {
  return TransactionalRequest{
      .group = kGroup, .key = key, .owner = owner, .retention = retention, .payload_hash = std::move(hash)};
}

// Inserts (k, v) into the business table; an error unless exactly one row changed.
inline Status InsertBusinessRow(SqlTransaction& tx, const std::string& k, const std::string& v) {
  const std::vector<SqlParam> params{k, v};
  Result<int64_t> changed = tx.Execute("INSERT INTO oncemq_test_business (k, v) VALUES (?, ?)", params);
  if (!changed.ok()) return changed.status();
  if (*changed != 1) return Status::Corruption("insert changed " + std::to_string(*changed) + " rows");
  return Status::Ok();
}

class TransactionalStoreConformance : public ::testing::TestWithParam<TxStoreKind> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    ASSERT_EQ(harness_->SetupError(), "");
    ASSERT_TRUE(harness_->ExecOutside(kCreateBusinessTable).ok());
    ASSERT_TRUE(harness_->ExecOutside("DELETE FROM oncemq_test_business").ok());
  }
  // Stops what harnesses started for the whole suite (servers), after its last case.
  static void TearDownTestSuite() { conformance::StopSuiteResources(); }

  DedupStore& store() { return harness_->store(); }
  TransactionalDedupStore& tx_store() { return harness_->tx_store(); }

  // RunOnce on `on` (default: the harness's store); a failed call is a test failure and gives nullopt.
  std::optional<TransactionalResult> Run(const TransactionalRequest& request,
                                         const TransactionalHandler& handler,
                                         TransactionalDedupStore* on = nullptr) {
    Result<TransactionalResult> result = (on != nullptr ? *on : tx_store()).RunOnce(request, handler);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    if (!result.ok()) return std::nullopt;
    return std::move(result).value();
  }

  // A handler that counts its calls, inserts the business row (key, value) and keeps `result`.
  TransactionalHandler Inserting(const std::string& value, int* calls,
                                 std::optional<std::string> result = std::nullopt) {
    return [value, calls, result](SqlTransaction& tx, const DedupRecord& claim,
                                  std::optional<std::string>& out) {
      ++*calls;
      out = result;
      return InsertBusinessRow(tx, claim.key, value);
    };
  }

  // Rows of the business table (all of them, or those of key `k`); -1 if the count failed.
  int64_t BusinessRows(const std::string& k = "") {
    std::string sql = "SELECT COUNT(*) FROM oncemq_test_business";
    if (!k.empty()) sql += " WHERE k = '" + k + "'";  // test keys hold no quotes
    Result<int64_t> count = harness_->QueryCountOutside(sql);
    EXPECT_TRUE(count.ok()) << count.status().ToString();
    return count.ok() ? *count : -1;
  }

  std::optional<DedupRecord> Get(const std::string& key) {
    Result<std::optional<DedupRecord>> record = store().Get(kGroup, key);
    EXPECT_TRUE(record.ok()) << record.status().ToString();
    return record.ok() ? *record : std::nullopt;
  }

  int64_t Now() {
    Result<int64_t> now = store().NowMs();
    EXPECT_TRUE(now.ok()) << now.status().ToString();
    return now.ok() ? *now : 0;
  }

  std::unique_ptr<TxStoreHarness> harness_;
};

}  // namespace oncemq::client::txconformance
