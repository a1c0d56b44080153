// SqlTransaction: an open transaction on one of the SQL databases the SDK supports (SQLite, PostgreSQL,
// MySQL/MariaDB), as the SDK hands it to application code: to a transactional consumer's handler, to
// Outbox::Transact, and to the toolkit's helpers. Whoever opened it commits or rolls it back; code that is
// given one only runs statements in it.
//
// Statements use `?` placeholders on every engine (the PostgreSQL side rewrites them to $1, $2, … outside
// quoted text); parameters and columns travel as text, std::nullopt binds and reads NULL. One statement per
// call; BEGIN, COMMIT and ROLLBACK are refused (savepoints are fine). A statement the engine refuses for
// the statement's own sake (syntax, constraint, unknown table) is kInvalidArgument; a lost connection, a
// deadlock or a busy database is kUnavailable (the whole transaction should be run again).
// Thread safety: none; valid only during the call it was passed to, on that call's thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "oncemq/status.h"

namespace oncemq {

using SqlParam = std::optional<std::string>;             // nullopt binds NULL
using SqlRow = std::vector<std::optional<std::string>>;  // text columns; nullopt is NULL

// Which database a transaction runs on, for code that must spell SQL per engine.
enum class SqlEngine { kSqlite, kPostgres, kMysql };

class SqlTransaction {
 public:
  virtual ~SqlTransaction() = default;
  // Runs a statement; returns the number of rows it changed (MySQL: matched).
  virtual Result<int64_t> Execute(std::string_view sql, std::span<const SqlParam> params = {}) = 0;
  // Runs a query; returns its rows as text.
  virtual Result<std::vector<SqlRow>> Query(std::string_view sql, std::span<const SqlParam> params = {}) = 0;
  virtual SqlEngine engine() const = 0;
  // The driver's connection (sqlite3*, PGconn*, MYSQL*) for anything the calls above cannot do. Do not
  // commit, roll back or close it.
  virtual void* native_handle() = 0;
};

}  // namespace oncemq
