#include "client/sql/server_databases.h"

#include <libpq-fe.h>

#include <atomic>

#include "client/sql/mysql_sql.h"
#include "client/sql/postgres_sql.h"
#include "client/stores/mysql_connection.h"
#include "client/stores/postgres_connection.h"

namespace oncemq::client {

namespace {

constexpr std::chrono::milliseconds kAcquireTimeout{10'000};

Status CommitUnknown(const Status& s) {
  return Status::Unavailable(s.message() + " (commit outcome unknown)");
}

constexpr std::string_view kExecuteLock = "SELECT pg_advisory_lock(8029464472927159372)";  // "oncemqDL"
constexpr std::string_view kExecuteUnlock = "SELECT pg_advisory_unlock(8029464472927159372)";

class PostgresDatabase final : public SqlDatabase {
 public:
  PostgresDatabase(const std::string& uri, size_t pool_size)
      : pool_({.conninfo = uri, .size = pool_size, .acquire_timeout = kAcquireTimeout}, &round_trips_) {}

  SqlEngine engine() const override { return SqlEngine::kPostgres; }

  Status Transact(const std::function<Status(SqlTransaction&)>& fn) override {
    Result<PgPool::Lease> lease = pool_.Acquire();
    if (!lease.ok()) return lease.status();
    PgConnection& conn = **lease;
    if (Result<PgResult> begun = conn.Exec("BEGIN"); !begun.ok()) return begun.status();
    PgTransaction tx(conn);
    Status outcome = fn(tx);
    if (tx.worst_failure() == PgConnection::Failure::kLost || PQstatus(conn.native()) != CONNECTION_OK) {
      return Status::Unavailable("postgres: the connection was lost during the transaction");
    }
    if (tx.worst_failure() == PgConnection::Failure::kConflict)
      return conn.Conflict("conflict in the transaction");
    // COMMIT of a transaction in which a statement failed would quietly roll it back.
    if (outcome.ok() && PQtransactionStatus(conn.native()) != PQTRANS_INTRANS) {
      outcome = Status::IoError("postgres: a statement of the transaction failed; rolled back");
    }
    if (!outcome.ok()) {
      conn.RollbackIfOpen();
      return outcome;
    }
    Result<PgResult> committed = conn.Exec("COMMIT");
    if (committed.ok()) return Status::Ok();
    if (conn.last_failure() == PgConnection::Failure::kLost) return CommitUnknown(committed.status());
    conn.RollbackIfOpen();
    return committed.status();
  }

  // Under a session advisory lock that every process's Execute takes: PostgreSQL's CREATE … IF NOT EXISTS
  // races with itself (of two creators at once, one fails on a unique index of the catalog), and services
  // that start together create their tables together. A session lock rather than a transaction, so that
  // statements that cannot run in one still can; a lost connection releases it with the session. (A
  // transaction the SQL opened is rolled back when the pool takes the connection back.)
  Status Execute(std::string_view sql) override {
    Result<PgPool::Lease> lease = pool_.Acquire();
    if (!lease.ok()) return lease.status();
    PgConnection& conn = **lease;
    if (Result<PgResult> locked = conn.Exec(kExecuteLock); !locked.ok()) return locked.status();
    Status outcome = conn.Exec(sql).status();
    if (Result<PgResult> unlocked = conn.Exec(kExecuteUnlock); !unlocked.ok() && outcome.ok()) {
      return unlocked.status();
    }
    return outcome;
  }

 private:
  std::atomic<uint64_t> round_trips_{0};
  PgPool pool_;
};

class MysqlDatabase final : public SqlDatabase {
 public:
  MysqlDatabase(MysqlEndpoint endpoint, size_t pool_size)
      : pool_(std::move(endpoint), MysqlOptions{}, pool_size, kAcquireTimeout) {}

  SqlEngine engine() const override { return SqlEngine::kMysql; }

  Status Transact(const std::function<Status(SqlTransaction&)>& fn) override {
    Result<MysqlPool::Lease> lease = pool_.Acquire();
    if (!lease.ok()) return lease.status();
    MysqlConnection& conn = **lease;
    if (auto begun = conn.Run("START TRANSACTION"); !begun.ok()) return begun.status();
    MysqlTransaction tx(conn);
    Status outcome = fn(tx);
    if (outcome.ok()) outcome = tx.broken();
    if (!outcome.ok()) {
      if (!conn.lost()) (void)conn.Run("ROLLBACK");
      return outcome;
    }
    auto committed = conn.Run("COMMIT");
    if (committed.ok()) return Status::Ok();
    if (conn.lost()) return CommitUnknown(committed.status());
    (void)conn.Run("ROLLBACK");
    return committed.status();
  }

  Status Execute(std::string_view sql) override {
    Result<MysqlPool::Lease> lease = pool_.Acquire();
    if (!lease.ok()) return lease.status();
    return (*lease)->Run(sql).status();
  }

 private:
  MysqlPool pool_;
};

}  // namespace

Result<std::shared_ptr<SqlDatabase>> OpenPostgresDatabase(const std::string& uri,
                                                          const SqlDatabaseOptions& options) {
  if (options.pool_size == 0) return Status::InvalidArgument("postgres: pool size must be positive");
  auto database = std::make_shared<PostgresDatabase>(uri, options.pool_size);
  // Connect now, so that a wrong address is reported by Open rather than by the first transaction.
  if (Status s = database->Transact([](SqlTransaction&) { return Status::Ok(); }); !s.ok()) return s;
  return std::shared_ptr<SqlDatabase>(std::move(database));
}

Result<std::shared_ptr<SqlDatabase>> OpenMysqlDatabase(const std::string& uri,
                                                       const SqlDatabaseOptions& options) {
  if (options.pool_size == 0) return Status::InvalidArgument("mysql: pool size must be positive");
  Result<MysqlEndpoint> endpoint = ParseMysqlUri(uri);
  if (!endpoint.ok()) return endpoint.status();
  auto database = std::make_shared<MysqlDatabase>(std::move(*endpoint), options.pool_size);
  if (Status s = database->Transact([](SqlTransaction&) { return Status::Ok(); }); !s.ok()) return s;
  return std::shared_ptr<SqlDatabase>(std::move(database));
}

}  // namespace oncemq::client
