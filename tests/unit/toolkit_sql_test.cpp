// The toolkit's SQL helpers (InsertUnique, UpdateIfVersion, StateMachine) on every engine, through
// OpenSqlDatabase: a fresh SQLite file, or a fresh database on a PostgreSQL or MariaDB server the test
// program starts itself (sql_test_databases.h), for each case. An engine whose server is not installed or
// does not start is skipped, and the skip says why.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dedup_store_conformance.h"
#include "oncemq/optimistic_update.h"
#include "oncemq/sql_database.h"
#include "oncemq/state_machine.h"
#include "oncemq/unique_insert.h"
#include "sql_test_databases.h"

namespace oncemq {
namespace {

// Runs fn in a transaction of its own, committed if fn's result is OK.
template <typename T>
Result<T> InTransaction(SqlDatabase& db, const std::function<Result<T>(SqlTransaction&)>& fn) {
  std::optional<Result<T>> out;
  const Status s = db.Transact([&](SqlTransaction& tx) {
    out.emplace(fn(tx));
    return out->status();
  });
  if (!s.ok()) return s;
  return std::move(*out);
}

// Runs fn in transactions until one commits or fails for a reason other than kUnavailable (a deadlock or a
// serialization failure: SqlDatabase says to run it again).
template <typename T>
Result<T> InTransactionRetried(SqlDatabase& db, const std::function<Result<T>(SqlTransaction&)>& fn) {
  for (int attempt = 0;; ++attempt) {
    Result<T> r = InTransaction(db, fn);
    if (r.ok() || r.status().code() != StatusCode::kUnavailable || attempt == 20) return r;
  }
}

constexpr const char* kProcessedColumns =
    "msg_id VARCHAR(64) PRIMARY KEY, ref VARCHAR(64) UNIQUE, note VARCHAR(64) NOT NULL";
constexpr const char* kOrdersColumns =
    "id VARCHAR(64) PRIMARY KEY, state VARCHAR(32), version BIGINT NOT NULL, amount BIGINT";

class ToolkitSql : public ::testing::TestWithParam<SqlEngine> {
 protected:
  static void TearDownTestSuite() { client::conformance::StopSuiteResources(); }

  void SetUp() override {
    std::string error;
    const std::string uri = testing::NewTestDatabase(GetParam(), &error);
    ASSERT_FALSE(uri.empty()) << testing::EngineName(GetParam()) << " is not available: " << error;
    uri_ = uri;
    Result<std::shared_ptr<SqlDatabase>> db = OpenSqlDatabase(uri);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    // DDL outside any transaction: MySQL would commit one implicitly.
    for (const std::string& table : {std::string("processed (") + kProcessedColumns + ")",
                                     std::string("orders (") + kOrdersColumns + ")"}) {
      const Status s = db_->Execute("CREATE TABLE " + table);
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
  }

  SqlDatabase& db() { return *db_; }

  Result<InsertOutcome> Insert(std::vector<SqlColumnValue> values) {
    return InTransaction<InsertOutcome>(
        db(), [&](SqlTransaction& tx) { return InsertUnique(tx, "processed", values); });
  }
  // Insert's outcome; a failed Insert fails the test and answers nullopt.
  std::optional<InsertOutcome> MustInsert(std::vector<SqlColumnValue> values) {
    Result<InsertOutcome> r = Insert(std::move(values));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::optional(r.value()) : std::nullopt;
  }
  Result<UpdateResult> Update(const std::string& id, int64_t expected, std::vector<SqlColumnValue> set) {
    return InTransaction<UpdateResult>(
        db(), [&](SqlTransaction& tx) { return UpdateIfVersion(tx, orders_, id, expected, set); });
  }
  Result<TransitionResult> Move(const StateMachine& machine, const std::string& id, const std::string& from,
                                const std::string& to) {
    return InTransaction<TransitionResult>(
        db(), [&](SqlTransaction& tx) { return machine.Transition(tx, order_states_, id, from, to); });
  }

  // The rows of a query, each as its columns joined by '|' (NULL as "NULL").
  std::vector<std::string> Rows(const std::string& sql) {
    Result<std::vector<SqlRow>> rows =
        InTransaction<std::vector<SqlRow>>(db(), [&](SqlTransaction& tx) { return tx.Query(sql); });
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    std::vector<std::string> out;
    if (!rows.ok()) return out;
    for (const SqlRow& row : *rows) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) line += (i == 0 ? "" : "|") + row[i].value_or("NULL");
      out.push_back(line);
    }
    return out;
  }
  void AddOrder(const std::string& id, const std::string& state, int64_t version, int64_t amount) {
    const Status s = db().Transact([&](SqlTransaction& tx) {
      const SqlParam params[] = {id, state, std::to_string(version), std::to_string(amount)};
      return tx.Execute("INSERT INTO orders (id, state, version, amount) VALUES (?, ?, ?, ?)", params)
          .status();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::string Order(const std::string& id) {
    const std::vector<std::string> rows =
        Rows("SELECT state, version, amount FROM orders WHERE id = '" + id + "'");
    return rows.empty() ? "" : rows[0];
  }

  std::string uri_;
  std::shared_ptr<SqlDatabase> db_;
  const VersionedTable orders_{.table = "orders"};
  const StateTable order_states_{.table = "orders"};
};

// --- InsertUnique ---

TEST_P(ToolkitSql, FirstInsertOfAKeyIsInsertedAndWritesTheRow) {
  Result<InsertOutcome> r = Insert({{"msg_id", "m-1"}, {"ref", "r-1"}, {"note", "first"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, InsertOutcome::kInserted);
  EXPECT_EQ(Rows("SELECT msg_id, ref, note FROM processed"), std::vector<std::string>{"m-1|r-1|first"});
}

TEST_P(ToolkitSql, SecondInsertOfAKeyIsAlreadyExistsAndKeepsTheFirstRow) {
  ASSERT_EQ(MustInsert({{"msg_id", "m-1"}, {"note", "first"}}), InsertOutcome::kInserted);
  Result<InsertOutcome> r = Insert({{"msg_id", "m-1"}, {"note", "second"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, InsertOutcome::kAlreadyExists);
  EXPECT_EQ(Rows("SELECT msg_id, note FROM processed"), std::vector<std::string>{"m-1|first"});
}

TEST_P(ToolkitSql, ConflictOnAnyUniqueColumnIsAlreadyExists) {
  ASSERT_EQ(MustInsert({{"msg_id", "m-1"}, {"ref", "r-1"}, {"note", "first"}}), InsertOutcome::kInserted);
  Result<InsertOutcome> r = Insert({{"msg_id", "m-2"}, {"ref", "r-1"}, {"note", "second"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, InsertOutcome::kAlreadyExists);
  EXPECT_EQ(Rows("SELECT msg_id FROM processed"), std::vector<std::string>{"m-1"});
}

TEST_P(ToolkitSql, DuplicateLeavesTheCallersTransactionUsable) {
  ASSERT_EQ(MustInsert({{"msg_id", "m-1"}, {"note", "first"}}), InsertOutcome::kInserted);
  const Status s = db().Transact([&](SqlTransaction& tx) {
    Result<InsertOutcome> dup =
        InsertUnique(tx, "processed", std::vector<SqlColumnValue>{{"msg_id", "m-1"}, {"note", "again"}});
    if (!dup.ok()) return dup.status();
    EXPECT_EQ(*dup, InsertOutcome::kAlreadyExists);
    Result<InsertOutcome> other =
        InsertUnique(tx, "processed", std::vector<SqlColumnValue>{{"msg_id", "m-2"}, {"note", "other"}});
    if (!other.ok()) return other.status();
    EXPECT_EQ(*other, InsertOutcome::kInserted);
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Rows("SELECT msg_id, note FROM processed ORDER BY msg_id"),
            (std::vector<std::string>{"m-1|first", "m-2|other"}));
}

TEST_P(ToolkitSql, OtherConstraintViolationIsAnErrorNotAlreadyExists) {
  Result<InsertOutcome> r = Insert({{"msg_id", "m-1"}, {"note", std::nullopt}});  // note is NOT NULL
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_TRUE(Rows("SELECT msg_id FROM processed").empty());
}

TEST_P(ToolkitSql, ValuesTravelAsParametersNotAsSql) {
  const std::string hostile = "x'); DELETE FROM processed; --";
  ASSERT_EQ(MustInsert({{"msg_id", "m-1"}, {"note", "first"}}), InsertOutcome::kInserted);
  ASSERT_EQ(MustInsert({{"msg_id", hostile}, {"note", hostile}}), InsertOutcome::kInserted);
  EXPECT_EQ(Rows("SELECT COUNT(*) FROM processed"), std::vector<std::string>{"2"});
}

TEST_P(ToolkitSql, ConcurrentInsertsOfOneKeyInsertItOnce) {
  constexpr int kThreads = 4;
  std::atomic<int> inserted{0};
  std::atomic<int> already{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::vector<SqlColumnValue> row = {{"msg_id", "m-1"}, {"note", "thread " + std::to_string(t)}};
      Result<InsertOutcome> r = InTransactionRetried<InsertOutcome>(
          db(), [&](SqlTransaction& tx) { return InsertUnique(tx, "processed", row); });
      if (!r.ok()) {
        ADD_FAILURE() << r.status().ToString();
        ++failed;
      } else if (*r == InsertOutcome::kInserted) {
        ++inserted;
      } else {
        ++already;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(inserted.load(), 1);
  EXPECT_EQ(already.load(), kThreads - 1);
  EXPECT_EQ(Rows("SELECT COUNT(*) FROM processed"), std::vector<std::string>{"1"});
}

// --- SqlDatabase::Execute ---

// Services that start together each create the tables they need. On PostgreSQL, CREATE TABLE IF NOT
// EXISTS alone races with itself (the loser fails on pg_type's unique index: two card services of the
// pipeline chaos test did); Execute must make it safe on every engine.
TEST_P(ToolkitSql, ConcurrentCreateTableIfNotExistsSucceedsEverywhere) {
  constexpr int kThreads = 4;  // the pool's size: each runs on a connection of its own
  constexpr int kTables = 25;
  std::barrier round(kThreads);
  std::mutex mu;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kTables; ++i) {
        round.arrive_and_wait();
        const Status s = db().Execute("CREATE TABLE IF NOT EXISTS race_" + std::to_string(i) +
                                      " (id BIGINT PRIMARY KEY, note VARCHAR(64))");
        if (!s.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          failures.push_back(s.ToString());
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.size(), 0u) << "first: " << (failures.empty() ? "" : failures.front());
  EXPECT_EQ(Rows("SELECT COUNT(*) FROM race_24"), std::vector<std::string>{"0"});
}

// Execute is autocommit: SQL that opens a transaction must not leave it open on a connection, where the
// next statements would silently never commit. On PostgreSQL a failure inside it would also keep
// Execute's lock with that connection, and every later Execute of every process would wait for it.
TEST_P(ToolkitSql, ExecuteLeavesNoTransactionOpen) {
  Result<std::shared_ptr<SqlDatabase>> one = OpenSqlDatabase(uri_, {.pool_size = 1});
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  SqlDatabase& single = **one;  // one connection: every Execute below runs on it
  auto insert = [&](const std::string& id) {
    return single.Execute("INSERT INTO processed (msg_id, note) VALUES ('" + id + "', 'x')");
  };
  ASSERT_TRUE(single.Execute("BEGIN").ok());
  ASSERT_TRUE(insert("after-begin").ok());
  // Seen from another connection: committed, not left in an open transaction.
  EXPECT_EQ(Rows("SELECT COUNT(*) FROM processed"), std::vector<std::string>{"1"});

  ASSERT_TRUE(single.Execute("BEGIN").ok());
  EXPECT_FALSE(insert("after-begin").ok());  // a duplicate key: fails inside the transaction
  if (GetParam() == SqlEngine::kPostgres) {
    EXPECT_EQ(Rows("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"),
              std::vector<std::string>{"0"});
  }
  EXPECT_TRUE(insert("after-the-failure").ok());
  EXPECT_EQ(Rows("SELECT COUNT(*) FROM processed"), std::vector<std::string>{"2"});
}

// --- UpdateIfVersion ---

TEST_P(ToolkitSql, UpdateAtTheExpectedVersionWritesAndBumpsTheVersion) {
  AddOrder("o-1", "pending", 1, 100);
  Result<UpdateResult> r = Update("o-1", 1, {{"amount", "250"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, UpdateOutcome::kUpdated);
  EXPECT_EQ(r->version, 2);
  EXPECT_EQ(Order("o-1"), "pending|2|250");
}

TEST_P(ToolkitSql, UpdateAtAStaleVersionIsAConflictThatReportsTheCurrentVersionAndWritesNothing) {
  AddOrder("o-1", "pending", 7, 100);
  Result<UpdateResult> r = Update("o-1", 6, {{"amount", "250"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, UpdateOutcome::kConflict);
  EXPECT_EQ(r->version, 7);
  EXPECT_EQ(Order("o-1"), "pending|7|100");
}

TEST_P(ToolkitSql, UpdateOfAMissingRowIsNotFound) {
  AddOrder("o-1", "pending", 1, 100);
  Result<UpdateResult> r = Update("o-2", 1, {{"amount", "250"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, UpdateOutcome::kNotFound);
  EXPECT_EQ(Order("o-1"), "pending|1|100");
}

TEST_P(ToolkitSql, UpdateWithNothingToSetMovesTheVersionAlone) {
  AddOrder("o-1", "pending", 1, 100);
  Result<UpdateResult> r = Update("o-1", 1, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, UpdateOutcome::kUpdated);
  EXPECT_EQ(Order("o-1"), "pending|2|100");
}

TEST_P(ToolkitSql, UpdateCanWriteNull) {
  AddOrder("o-1", "pending", 1, 100);
  Result<UpdateResult> r = Update("o-1", 1, {{"amount", std::nullopt}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->outcome, UpdateOutcome::kUpdated);
  EXPECT_EQ(Order("o-1"), "pending|2|NULL");
}

TEST_P(ToolkitSql, ConcurrentUpdatesFromOneVersionLetExactlyOneWin) {
  AddOrder("o-1", "pending", 1, 100);
  constexpr int kThreads = 4;
  std::atomic<int> updated{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::vector<SqlColumnValue> set = {{"amount", std::to_string(1000 + t)}};
      Result<UpdateResult> r = InTransactionRetried<UpdateResult>(
          db(), [&](SqlTransaction& tx) { return UpdateIfVersion(tx, orders_, "o-1", 1, set); });
      if (!r.ok()) {
        ADD_FAILURE() << r.status().ToString();
      } else if (r->outcome == UpdateOutcome::kUpdated) {
        ++updated;
      } else if (r->outcome == UpdateOutcome::kConflict && r->version == 2) {
        ++conflicts;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(updated.load(), 1);
  EXPECT_EQ(conflicts.load(), kThreads - 1);
  EXPECT_EQ(Rows("SELECT version FROM orders WHERE id = 'o-1'"), std::vector<std::string>{"2"});
}

// --- StateMachine ---

// pending → paid → shipped → delivered; pending → cancelled.
StateMachine OrderMachine() {
  Result<StateMachine> m = StateMachine::Create(
      {{"pending", "paid"}, {"paid", "shipped"}, {"shipped", "delivered"}, {"pending", "cancelled"}});
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return std::move(m).value();
}

TEST_P(ToolkitSql, DeclaredTransitionFromTheCurrentStateIsApplied) {
  AddOrder("o-1", "pending", 1, 100);
  Result<TransitionResult> r = Move(OrderMachine(), "o-1", "pending", "paid");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, TransitionOutcome::kApplied);
  EXPECT_EQ(r->state, "paid");
  EXPECT_EQ(Order("o-1"), "paid|1|100");
}

TEST_P(ToolkitSql, RepeatedTransitionIsAlreadyLeftAndWritesNothing) {
  AddOrder("o-1", "paid", 1, 100);
  Result<TransitionResult> r = Move(OrderMachine(), "o-1", "pending", "paid");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, TransitionOutcome::kAlreadyLeft);
  EXPECT_EQ(r->state, "paid");
  EXPECT_EQ(Order("o-1"), "paid|1|100");
}

TEST_P(ToolkitSql, TransitionFromAStateLeftLongAgoIsAlreadyLeft) {
  AddOrder("o-1", "delivered", 1, 100);
  Result<TransitionResult> r = Move(OrderMachine(), "o-1", "pending", "paid");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, TransitionOutcome::kAlreadyLeft);
  EXPECT_EQ(r->state, "delivered");
  EXPECT_EQ(Order("o-1"), "delivered|1|100");
}

TEST_P(ToolkitSql, TransitionIntoABranchTheRowDidNotTakeIsRefused) {
  AddOrder("o-1", "cancelled", 1, 100);
  Result<TransitionResult> r = Move(OrderMachine(), "o-1", "pending", "paid");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, TransitionOutcome::kRefused);
  EXPECT_EQ(r->state, "cancelled");
  EXPECT_EQ(Order("o-1"), "cancelled|1|100");
}

TEST_P(ToolkitSql, TransitionFromAStateNotYetReachedIsRefused) {
  AddOrder("o-1", "pending", 1, 100);
  Result<TransitionResult> r = Move(OrderMachine(), "o-1", "paid", "shipped");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, TransitionOutcome::kRefused);
  EXPECT_EQ(r->state, "pending");
  EXPECT_EQ(Order("o-1"), "pending|1|100");
}

TEST_P(ToolkitSql, UndeclaredTransitionIsRefusedAndLeavesTheRowAlone) {
  AddOrder("o-1", "pending", 1, 100);
  Result<TransitionResult> r = Move(OrderMachine(), "o-1", "pending", "shipped");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, TransitionOutcome::kRefused);
  EXPECT_EQ(Order("o-1"), "pending|1|100");
}

TEST_P(ToolkitSql, TransitionOfAMissingRowIsNotFound) {
  Result<TransitionResult> r = Move(OrderMachine(), "o-1", "pending", "paid");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, TransitionOutcome::kNotFound);
}

TEST_P(ToolkitSql, NullStateIsRefused) {
  const Status s = db().Transact([&](SqlTransaction& tx) {
    return tx.Execute("INSERT INTO orders (id, state, version) VALUES ('o-1', NULL, 1)").status();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  Result<TransitionResult> r = Move(OrderMachine(), "o-1", "pending", "paid");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, TransitionOutcome::kRefused);
  EXPECT_EQ(r->state, "");
}

TEST_P(ToolkitSql, ConcurrentSameTransitionIsAppliedOnceAndAlreadyLeftForTheRest) {
  AddOrder("o-1", "pending", 1, 100);
  const StateMachine machine = OrderMachine();
  constexpr int kThreads = 4;
  std::atomic<int> applied{0};
  std::atomic<int> already{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      Result<TransitionResult> r = InTransactionRetried<TransitionResult>(db(), [&](SqlTransaction& tx) {
        return machine.Transition(tx, order_states_, "o-1", "pending", "paid");
      });
      if (!r.ok()) {
        ADD_FAILURE() << r.status().ToString();
      } else if (r->outcome == TransitionOutcome::kApplied) {
        ++applied;
      } else if (r->outcome == TransitionOutcome::kAlreadyLeft) {
        ++already;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(applied.load(), 1);
  EXPECT_EQ(already.load(), kThreads - 1);
  EXPECT_EQ(Order("o-1"), "paid|1|100");
}

INSTANTIATE_TEST_SUITE_P(Engines, ToolkitSql,
                         ::testing::Values(SqlEngine::kSqlite, SqlEngine::kPostgres, SqlEngine::kMysql),
                         [](const ::testing::TestParamInfo<SqlEngine>& info) {
                           return testing::EngineName(info.param);
                         });

}  // namespace
}  // namespace oncemq
