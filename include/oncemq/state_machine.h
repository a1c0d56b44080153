// StateMachine: a guard for a row's state column. The transitions a row may take are declared once; each
// Transition moves one row from `from` to `to` in the caller's transaction, and a transition asked for
// again after the row already moved on (a redelivered message, a retried request) is a no-op, not an error.
//
// Transition(tx, table, id, from, to) — the rule, in order:
// 1. {from, to} is not declared: kRefused; nothing is read or written.
// 2. `UPDATE table SET state = to WHERE id = ? AND state = from` changed the row: kApplied.
// 3. Otherwise the row's state is read with a locking read (FOR UPDATE on PostgreSQL and MySQL; SQLite's
//    write transaction already excludes other writers), which also fixes it until the transaction ends:
//    - no row with this id: kNotFound;
//    - the state is `from` again (it changed and came back between the two statements): step 2 once more,
//      which now cannot miss: kApplied;
//    - the state is `to`, or a state reachable from `to` through declared transitions: kAlreadyLeft — this
//      transition happened already and the row may have moved on since; nothing is written;
//    - any other state (e.g. `cancelled` when asked paid → shipped, or a state before `from`): kRefused;
//      nothing is written. A NULL state reads as "".
// Cycles: with one that leads back to `from` (running → failed → pending), every state reachable from
// `from` is reachable from `to` too, so any state the row can have moved on to counts as already left —
// the guard cannot tell which path the row took. A state that is `from` itself is always step 2's.
// The caller must: keep the id unique (a primary key) and change the state column only through this guard
// (or code following the same rule). Names are checked identifiers (see sql_column_value.h); id and state
// values travel as `?` parameters, as text.
// Errors: kInvalidArgument for bad names or a statement the engine refuses; kUnavailable as
// SqlTransaction says (run the whole transaction again).
// Thread safety: immutable once created; any number of threads may share one (each with its own
// transaction).
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "oncemq/sql_transaction.h"
#include "oncemq/status.h"

namespace oncemq {

struct StateTransition {
  std::string from;
  std::string to;
};

struct StateTable {
  std::string table;  // optionally schema.table
  std::string id_column = "id";
  std::string state_column = "state";
};

enum class TransitionOutcome {
  kApplied,      // the row moved from `from` to `to`
  kAlreadyLeft,  // the row is at `to` or beyond it already: a no-op
  kRefused,      // not declared, or the row is in a state `to` does not lead to; nothing written
  kNotFound,     // no row with this id
};

struct TransitionResult {
  TransitionOutcome outcome;
  // kApplied: `to`; kAlreadyLeft and a refusal after reading the row: the state the row is in; else "".
  std::string state;
};

class StateMachine {
 public:
  // kInvalidArgument if there is no transition, a state name is empty, or a transition goes from a state to
  // itself.
  static Result<StateMachine> Create(const std::vector<StateTransition>& allowed);

  // True if {from, to} was declared.
  bool Allows(std::string_view from, std::string_view to) const;
  // True if `to` is `from` or can be reached from it through declared transitions.
  bool Reaches(std::string_view from, std::string_view to) const;

  Result<TransitionResult> Transition(SqlTransaction& tx, const StateTable& table, std::string_view id,
                                      std::string_view from, std::string_view to) const;

 private:
  using Graph = std::map<std::string, std::set<std::string>, std::less<>>;
  explicit StateMachine(Graph next) : next_(std::move(next)) {}

  Graph next_;  // state → the states it may go to
};

}  // namespace oncemq
