#include "oncemq/state_machine.h"

#include <deque>
#include <optional>
#include <utility>

#include "toolkit/sql_identifier.h"

namespace oncemq {

namespace {

Status CheckNames(const StateTable& t) {
  if (Status s = toolkit::CheckTableName(t.table); !s.ok()) return s;
  if (Status s = toolkit::CheckIdentifier(t.id_column, "id column"); !s.ok()) return s;
  return toolkit::CheckIdentifier(t.state_column, "state column");
}

// 1 if the row moved from `from` to `to`, 0 if it was not in `from` (or is not there).
Result<int64_t> ConditionalUpdate(SqlTransaction& tx, const StateTable& t, std::string_view id,
                                  std::string_view from, std::string_view to) {
  const std::string sql = "UPDATE " + t.table + " SET " + t.state_column + " = ? WHERE " + t.id_column +
                          " = ? AND " + t.state_column + " = ?";
  const SqlParam params[] = {std::string(to), std::string(id), std::string(from)};
  return tx.Execute(sql, params);
}

// The row's state under a locking read: nullopt when there is no row, "" for a NULL state.
Result<std::optional<std::string>> LockedState(SqlTransaction& tx, const StateTable& t, std::string_view id) {
  const std::string sql = "SELECT " + t.state_column + " FROM " + t.table + " WHERE " + t.id_column + " = ?" +
                          std::string(toolkit::LockingReadSuffix(tx.engine()));
  const SqlParam params[] = {std::string(id)};
  Result<std::vector<SqlRow>> rows = tx.Query(sql, params);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<std::string>();
  const SqlRow& row = rows->front();
  return std::optional<std::string>(row.empty() ? "" : row[0].value_or(""));
}

}  // namespace

Result<StateMachine> StateMachine::Create(const std::vector<StateTransition>& allowed) {
  if (allowed.empty()) return Status::InvalidArgument("state machine: no transition declared");
  Graph next;
  for (const StateTransition& t : allowed) {
    if (t.from.empty() || t.to.empty()) return Status::InvalidArgument("state machine: empty state name");
    if (t.from == t.to) {
      return Status::InvalidArgument("state machine: transition from " + t.from + " to itself");
    }
    next[t.from].insert(t.to);
  }
  return StateMachine(std::move(next));
}

bool StateMachine::Allows(std::string_view from, std::string_view to) const {
  const auto it = next_.find(from);
  return it != next_.end() && it->second.contains(std::string(to));
}

bool StateMachine::Reaches(std::string_view from, std::string_view to) const {
  // Breadth-first over the declared graph; `seen` stops at cycles.
  std::set<std::string, std::less<>> seen = {std::string(from)};
  std::deque<std::string> frontier = {std::string(from)};
  while (!frontier.empty()) {
    const std::string state = std::move(frontier.front());
    frontier.pop_front();
    if (state == to) return true;
    const auto it = next_.find(state);
    if (it == next_.end()) continue;
    for (const std::string& n : it->second) {
      if (seen.insert(n).second) frontier.push_back(n);
    }
  }
  return false;
}

Result<TransitionResult> StateMachine::Transition(SqlTransaction& tx, const StateTable& table,
                                                  std::string_view id, std::string_view from,
                                                  std::string_view to) const {
  if (Status s = CheckNames(table); !s.ok()) return s;
  if (!Allows(from, to)) return TransitionResult{TransitionOutcome::kRefused, ""};
  // The second round runs only when the locking read found `from` again; the read holds the row now, so
  // the update cannot miss it.
  for (int round = 0; round < 2; ++round) {
    Result<int64_t> changed = ConditionalUpdate(tx, table, id, from, to);
    if (!changed.ok()) return changed.status();
    if (*changed > 0) return TransitionResult{TransitionOutcome::kApplied, std::string(to)};
    Result<std::optional<std::string>> current = LockedState(tx, table, id);
    if (!current.ok()) return current.status();
    if (!current->has_value()) return TransitionResult{TransitionOutcome::kNotFound, ""};
    const std::string& state = **current;
    if (state == from) continue;
    const TransitionOutcome outcome =
        Reaches(to, state) ? TransitionOutcome::kAlreadyLeft : TransitionOutcome::kRefused;
    return TransitionResult{outcome, state};
  }
  return Status::Unavailable("state machine: the state of " + std::string(id) + " in " + table.table +
                             " kept changing; run again");
}

}  // namespace oncemq
