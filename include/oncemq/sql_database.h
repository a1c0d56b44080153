// SqlDatabase: a connection (pool) to one SQL database — SQLite, PostgreSQL or MySQL/MariaDB — that runs
// application code in transactions. The outbox and the toolkit are written against it, so the same code
// serves every engine; an application uses it to put its business change and its outbox message in one
// transaction (Outbox::Transact does exactly that).
//
// URIs: sqlite:///ABSOLUTE/PATH (sqlite:relative/path too; created if missing; WAL, synchronous=FULL),
// postgresql://USER@HOST:PORT/DB (postgres:// too; any libpq URI), mysql://USER[:PASSWORD]@HOST[:PORT]/DB
// (mariadb:// too). kInvalidArgument names what is wrong with a URI; kUnavailable if the server cannot be
// reached.
//
// Transact(fn): BEGIN (SQLite: BEGIN IMMEDIATE, so the write lock is taken up front and a busy database is
// reported at once instead of at the first write), runs fn with the open transaction, COMMIT if fn returned
// OK, otherwise ROLLBACK and fn's Status is returned. A deadlock or serialization failure rolls back and
// is returned as kUnavailable (run it again); a COMMIT whose outcome is unknown (the connection was lost
// during it) is kUnavailable too, with a message saying so — the caller must not assume either way.
// Thread safety: every method may be called from any thread. SQLite serialises transactions on one
// connection (fn must not call Transact on the same object: it would deadlock); the server engines hand
// each concurrent Transact its own pooled connection.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "oncemq/sql_transaction.h"
#include "oncemq/status.h"

namespace oncemq {

class SqlDatabase {
 public:
  virtual ~SqlDatabase() = default;
  virtual SqlEngine engine() const = 0;
  virtual Status Transact(const std::function<Status(SqlTransaction&)>& fn) = 0;
  // Runs one statement on its own, outside any transaction (autocommit): for DDL, which MySQL would
  // otherwise commit implicitly in the middle of a transaction. A transaction the SQL opens (BEGIN) is
  // rolled back at once, never left open on a connection. Services that start together may each
  // run the same CREATE … IF NOT EXISTS: that is safe on every engine (PostgreSQL's races with itself, so
  // there every Execute of every process runs under one advisory lock).
  virtual Status Execute(std::string_view sql) = 0;
};

struct SqlDatabaseOptions {
  size_t pool_size = 4;                           // server engines: connections opened at most
  std::chrono::milliseconds busy_timeout{5'000};  // SQLite: how long to wait for the write lock
};

Result<std::shared_ptr<SqlDatabase>> OpenSqlDatabase(std::string_view uri,
                                                     const SqlDatabaseOptions& options = {});

}  // namespace oncemq
