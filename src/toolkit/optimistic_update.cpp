#include "oncemq/optimistic_update.h"

#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include "toolkit/sql_identifier.h"

namespace oncemq {

namespace {

Status CheckNames(const VersionedTable& t, std::span<const SqlColumnValue> set) {
  if (Status s = toolkit::CheckTableName(t.table); !s.ok()) return s;
  if (Status s = toolkit::CheckIdentifier(t.id_column, "id column"); !s.ok()) return s;
  if (Status s = toolkit::CheckIdentifier(t.version_column, "version column"); !s.ok()) return s;
  if (Status s = toolkit::CheckColumns(set, "optimistic update of " + t.table); !s.ok()) return s;
  for (const SqlColumnValue& v : set) {
    if (v.column == t.id_column || v.column == t.version_column) {
      return Status::InvalidArgument("optimistic update of " + t.table + ": set must not name " + v.column);
    }
  }
  return Status::Ok();
}

// UPDATE t SET c1 = ?, …, version = version + 1 WHERE id = ? AND version = ?
std::string UpdateSql(const VersionedTable& t, std::span<const SqlColumnValue> set) {
  std::string sql = "UPDATE " + t.table + " SET ";
  for (const SqlColumnValue& v : set) sql += v.column + " = ?, ";
  sql += t.version_column + " = " + t.version_column + " + 1 WHERE " + t.id_column + " = ? AND " +
         t.version_column + " = ?";
  return sql;
}

std::optional<int64_t> ParseVersion(std::string_view text) {
  int64_t version = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return version;
}

// The row's version under a locking read; nullopt when there is no row.
Result<std::optional<int64_t>> CurrentVersion(SqlTransaction& tx, const VersionedTable& t,
                                              std::string_view id) {
  const std::string sql = "SELECT " + t.version_column + " FROM " + t.table + " WHERE " + t.id_column +
                          " = ?" + std::string(toolkit::LockingReadSuffix(tx.engine()));
  const SqlParam params[] = {std::string(id)};
  Result<std::vector<SqlRow>> rows = tx.Query(sql, params);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<int64_t>();
  const std::optional<std::string> text = (*rows)[0].empty() ? std::nullopt : (*rows)[0][0];
  const std::optional<int64_t> version = text ? ParseVersion(*text) : std::nullopt;
  if (!version) {
    return Status::Corruption("optimistic update of " + t.table + ": version of " + std::string(id) +
                              " is not an integer: " + text.value_or("NULL"));
  }
  return version;
}

}  // namespace

Result<UpdateResult> UpdateIfVersion(SqlTransaction& tx, const VersionedTable& table, std::string_view id,
                                     int64_t expected_version, std::span<const SqlColumnValue> set) {
  if (Status s = CheckNames(table, set); !s.ok()) return s;
  std::vector<SqlParam> params;
  params.reserve(set.size() + 2);
  for (const SqlColumnValue& v : set) params.push_back(v.value);
  params.push_back(std::string(id));
  params.push_back(std::to_string(expected_version));
  const std::string sql = UpdateSql(table, set);
  // The second round runs only when the locking read found the expected version again (the row was
  // deleted and written anew between the two statements); the read holds the row now, so it cannot miss.
  for (int round = 0; round < 2; ++round) {
    // Rows changed, or on MySQL rows matched: the same here, since the version always changes.
    Result<int64_t> changed = tx.Execute(sql, params);
    if (!changed.ok()) return changed.status();
    if (*changed > 0) return UpdateResult{UpdateOutcome::kUpdated, expected_version + 1};
    Result<std::optional<int64_t>> current = CurrentVersion(tx, table, id);
    if (!current.ok()) return current.status();
    if (!current->has_value()) return UpdateResult{UpdateOutcome::kNotFound, 0};
    if (**current != expected_version) return UpdateResult{UpdateOutcome::kConflict, **current};
  }
  return Status::Unavailable("optimistic update of " + table.table + ": the row kept changing; run again");
}

}  // namespace oncemq
