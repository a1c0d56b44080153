// The toolkit's SQL helpers on a scripted SqlTransaction: what needs no database — which names are refused
// before any SQL runs, the state machine's graph, and the paths a real database reaches only under a race
// (a row that comes back to the expected state or version between the update and the locking read).
// toolkit_sql_test.cpp runs the same helpers on SQLite, PostgreSQL and MariaDB.
#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "oncemq/optimistic_update.h"
#include "oncemq/state_machine.h"
#include "oncemq/unique_insert.h"

namespace oncemq {
namespace {

// Answers each Execute and Query with the next scripted answer and records every statement; a statement
// beyond the script fails the test.
class ScriptedTransaction : public SqlTransaction {
 public:
  explicit ScriptedTransaction(SqlEngine engine = SqlEngine::kPostgres) : engine_(engine) {}

  std::deque<int64_t> changes;              // answers to Execute
  std::deque<std::vector<SqlRow>> results;  // answers to Query
  std::vector<std::string> statements;

  Result<int64_t> Execute(std::string_view sql, std::span<const SqlParam>) override {
    statements.emplace_back(sql);
    if (changes.empty()) {
      ADD_FAILURE() << "unexpected statement: " << sql;
      return Status::InvalidArgument("unscripted");
    }
    const int64_t n = changes.front();
    changes.pop_front();
    return n;
  }
  Result<std::vector<SqlRow>> Query(std::string_view sql, std::span<const SqlParam>) override {
    statements.emplace_back(sql);
    if (results.empty()) {
      ADD_FAILURE() << "unexpected query: " << sql;
      return Status::InvalidArgument("unscripted");
    }
    std::vector<SqlRow> rows = std::move(results.front());
    results.pop_front();
    return rows;
  }
  SqlEngine engine() const override { return engine_; }
  void* native_handle() override { return nullptr; }

 private:
  SqlEngine engine_;
};

const std::vector<SqlColumnValue> kRow = {{"msg_id", "m-1"}, {"note", "n"}};

TEST(ToolkitRules, TableAndColumnNamesThatAreNotIdentifiersAreRefusedBeforeAnySql) {
  ScriptedTransaction tx;
  for (const char* table :
       {"", "processed; DROP TABLE x", "pro cessed", "1processed", "a.b.c", "a.", "\"q\""}) {
    EXPECT_EQ(InsertUnique(tx, table, kRow).status().code(), StatusCode::kInvalidArgument) << table;
  }
  const std::vector<SqlColumnValue> bad_column = {{"msg_id", "m-1"}, {"note) VALUES ('x'); --", "n"}};
  EXPECT_EQ(InsertUnique(tx, "processed", bad_column).status().code(), StatusCode::kInvalidArgument);
  const std::string too_long(64, 'a');
  EXPECT_EQ(InsertUnique(tx, too_long, kRow).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(tx.statements.empty());
}

TEST(ToolkitRules, SchemaQualifiedTableIsAccepted) {
  ScriptedTransaction tx;
  tx.changes = {1};
  Result<InsertOutcome> r = InsertUnique(tx, "billing.processed", kRow);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, InsertOutcome::kInserted);
}

TEST(ToolkitRules, InsertWithoutColumnsOrWithAColumnTwiceIsInvalid) {
  ScriptedTransaction tx;
  EXPECT_EQ(InsertUnique(tx, "processed", {}).status().code(), StatusCode::kInvalidArgument);
  const std::vector<SqlColumnValue> twice = {{"msg_id", "m-1"}, {"msg_id", "m-2"}};
  EXPECT_EQ(InsertUnique(tx, "processed", twice).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(tx.statements.empty());
}

TEST(ToolkitRules, UpdateThatSetsTheIdOrVersionColumnOrAColumnTwiceIsInvalid) {
  ScriptedTransaction tx;
  const VersionedTable orders{.table = "orders"};
  const std::vector<SqlColumnValue> sets_version = {{"version", "9"}};
  const std::vector<SqlColumnValue> sets_id = {{"id", "o-2"}};
  EXPECT_EQ(UpdateIfVersion(tx, orders, "o-1", 1, sets_version).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(UpdateIfVersion(tx, orders, "o-1", 1, sets_id).status().code(), StatusCode::kInvalidArgument);
  const std::vector<SqlColumnValue> sets_twice = {{"amount", "1"}, {"amount", "2"}};
  EXPECT_EQ(UpdateIfVersion(tx, orders, "o-1", 1, sets_twice).status().code(), StatusCode::kInvalidArgument);
  const VersionedTable bad{.table = "orders", .version_column = "version;"};
  EXPECT_EQ(UpdateIfVersion(tx, bad, "o-1", 1, {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(tx.statements.empty());
}

TEST(ToolkitRules, VersionThatIsNotANumberIsCorruption) {
  ScriptedTransaction tx;
  tx.changes = {0};
  tx.results = {{SqlRow{std::string("seven")}}};
  EXPECT_EQ(UpdateIfVersion(tx, {.table = "orders"}, "o-1", 1, {}).status().code(), StatusCode::kCorruption);
}

TEST(ToolkitRules, LockingReadIsForUpdateOnServerEnginesOnly) {
  for (const SqlEngine engine : {SqlEngine::kPostgres, SqlEngine::kMysql, SqlEngine::kSqlite}) {
    ScriptedTransaction tx(engine);
    tx.changes = {0};
    tx.results = {{SqlRow{std::string("5")}}};
    Result<UpdateResult> r = UpdateIfVersion(tx, {.table = "orders"}, "o-1", 1, {});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->outcome, UpdateOutcome::kConflict);
    ASSERT_EQ(tx.statements.size(), 2u);
    EXPECT_EQ(tx.statements[1].ends_with(" FOR UPDATE"), engine != SqlEngine::kSqlite) << tx.statements[1];
  }
}

TEST(ToolkitRules, VersionThatCameBackIsUpdatedOnTheLockedRow) {
  ScriptedTransaction tx;
  tx.changes = {0, 1};                        // missed, then hit after the locking read
  tx.results = {{SqlRow{std::string("1")}}};  // the expected version again
  Result<UpdateResult> r = UpdateIfVersion(tx, {.table = "orders"}, "o-1", 1, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, UpdateOutcome::kUpdated);
  EXPECT_EQ(r->version, 2);
}

TEST(ToolkitRules, StateThatCameBackToFromIsAppliedOnTheLockedRow) {
  Result<StateMachine> m = StateMachine::Create({{"pending", "running"}, {"running", "pending"}});
  ASSERT_TRUE(m.ok());
  ScriptedTransaction tx;
  tx.changes = {0, 1};
  tx.results = {{SqlRow{std::string("pending")}}};
  Result<TransitionResult> r = m->Transition(tx, {.table = "jobs"}, "j-1", "pending", "running");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, TransitionOutcome::kApplied);
}

TEST(ToolkitRules, UndeclaredTransitionRunsNoSql) {
  Result<StateMachine> m = StateMachine::Create({{"pending", "paid"}});
  ASSERT_TRUE(m.ok());
  ScriptedTransaction tx;
  Result<TransitionResult> r = m->Transition(tx, {.table = "orders"}, "o-1", "paid", "pending");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, TransitionOutcome::kRefused);
  EXPECT_TRUE(tx.statements.empty());
}

TEST(ToolkitRules, StateMachineNeedsTransitionsBetweenNamedDistinctStates) {
  EXPECT_EQ(StateMachine::Create({}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(StateMachine::Create({{"", "paid"}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(StateMachine::Create({{"pending", ""}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(StateMachine::Create({{"paid", "paid"}}).status().code(), StatusCode::kInvalidArgument);
}

TEST(ToolkitRules, ReachesFollowsDeclaredTransitionsThroughCycles) {
  Result<StateMachine> m = StateMachine::Create({{"pending", "running"},
                                                 {"running", "failed"},
                                                 {"failed", "pending"},
                                                 {"running", "done"},
                                                 {"x", "y"}});
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->Reaches("pending", "pending"));
  EXPECT_TRUE(m->Reaches("pending", "done"));
  EXPECT_TRUE(m->Reaches("failed", "done"));
  EXPECT_TRUE(m->Reaches("running", "pending"));
  EXPECT_FALSE(m->Reaches("done", "pending"));
  EXPECT_FALSE(m->Reaches("pending", "y"));
  EXPECT_TRUE(m->Allows("failed", "pending"));
  EXPECT_FALSE(m->Allows("pending", "done"));
}

TEST(ToolkitRules, ReachedStateAfterACycleIsAlreadyLeftAndAnUnreachableOneIsRefused) {
  // A failed job runs again; a pending one may be cancelled instead of run.
  Result<StateMachine> m = StateMachine::Create(
      {{"pending", "running"}, {"running", "failed"}, {"failed", "running"}, {"pending", "cancelled"}});
  ASSERT_TRUE(m.ok());
  ScriptedTransaction tx;
  tx.changes = {0, 0};
  tx.results = {{SqlRow{std::string("failed")}}, {SqlRow{std::string("cancelled")}}};
  Result<TransitionResult> left = m->Transition(tx, {.table = "jobs"}, "j-1", "pending", "running");
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->outcome, TransitionOutcome::kAlreadyLeft);
  EXPECT_EQ(left->state, "failed");
  Result<TransitionResult> refused = m->Transition(tx, {.table = "jobs"}, "j-1", "pending", "running");
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->outcome, TransitionOutcome::kRefused);
  EXPECT_EQ(refused->state, "cancelled");
}

}  // namespace
}  // namespace oncemq
