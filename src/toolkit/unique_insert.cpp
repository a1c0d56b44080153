#include "oncemq/unique_insert.h"

#include <mysql.h>
#include <mysqld_error.h>

#include <string>
#include <vector>

#include "toolkit/sql_identifier.h"

namespace oncemq {

namespace {

Status CheckNames(std::string_view table, std::span<const SqlColumnValue> values) {
  if (Status s = toolkit::CheckTableName(table); !s.ok()) return s;
  const std::string context = "unique insert into " + std::string(table);
  if (values.empty()) return Status::InvalidArgument(context + ": no columns");
  return toolkit::CheckColumns(values, context);
}

// INSERT INTO table (c1, c2) VALUES (?, ?), and the engine's way to skip a row whose unique key exists.
std::string InsertSql(SqlEngine engine, std::string_view table, std::span<const SqlColumnValue> values) {
  std::string columns;
  std::string placeholders;
  for (const SqlColumnValue& v : values) {
    if (!columns.empty()) {
      columns += ", ";
      placeholders += ", ";
    }
    columns += v.column;
    placeholders += "?";
  }
  std::string sql = "INSERT INTO " + std::string(table) + " (" + columns + ") VALUES (" + placeholders + ")";
  // MySQL has no DO NOTHING; a duplicate there fails the statement alone, and DuplicateKeyOnMysql sees it.
  if (engine != SqlEngine::kMysql) sql += " ON CONFLICT DO NOTHING";
  return sql;
}

// True if the statement that just failed on this MySQL transaction failed on a duplicate key: "Duplicate
// entry … for key …", in either of its two forms.
bool DuplicateKeyOnMysql(SqlTransaction& tx) {
  auto* mysql = static_cast<MYSQL*>(tx.native_handle());
  if (mysql == nullptr) return false;
  const unsigned int error = mysql_errno(mysql);
  return error == ER_DUP_ENTRY || error == ER_DUP_ENTRY_WITH_KEY_NAME;
}

}  // namespace

Result<InsertOutcome> InsertUnique(SqlTransaction& tx, std::string_view table,
                                   std::span<const SqlColumnValue> values) {
  if (Status s = CheckNames(table, values); !s.ok()) return s;
  std::vector<SqlParam> params;
  params.reserve(values.size());
  for (const SqlColumnValue& v : values) params.push_back(v.value);
  Result<int64_t> changed = tx.Execute(InsertSql(tx.engine(), table, values), params);
  if (!changed.ok()) {
    const bool duplicate = tx.engine() == SqlEngine::kMysql &&
                           changed.status().code() == StatusCode::kInvalidArgument && DuplicateKeyOnMysql(tx);
    if (duplicate) return InsertOutcome::kAlreadyExists;
    return changed.status();
  }
  return *changed == 0 ? InsertOutcome::kAlreadyExists : InsertOutcome::kInserted;
}

}  // namespace oncemq
