#include "client/sql/sqlite_database.h"

#include <sqlite3.h>

#include <mutex>

#include "client/sql/sqlite_sql.h"

namespace oncemq::client {

namespace {

class SqliteDatabase final : public SqlDatabase {
 public:
  explicit SqliteDatabase(sqlite3* db) : db_(db) {}
  ~SqliteDatabase() override { sqlite3_close(db_); }

  SqlEngine engine() const override { return SqlEngine::kSqlite; }

  Status Transact(const std::function<Status(SqlTransaction&)>& fn) override {
    std::lock_guard lock(mu_);
    if (Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    Status outcome;
    {
      std::unique_ptr<SqlTransaction> tx = SqliteTransaction(db_);
      outcome = fn(*tx);
    }
    if (outcome.ok() && sqlite3_get_autocommit(db_)) {
      return Status::IoError("sqlite: the transaction was rolled back by an error its code did not return");
    }
    if (!outcome.ok()) {
      RollbackIfOpen();
      return outcome;
    }
    if (Status s = Exec("COMMIT"); !s.ok()) {
      // A COMMIT that ended the transaction anyway failed while syncing: it may be on disk.
      if (sqlite3_get_autocommit(db_)) return Status::Unavailable(s.message() + " (commit outcome unknown)");
      RollbackIfOpen();
      return s;
    }
    return Status::Ok();
  }

  Status Execute(std::string_view sql) override {
    std::lock_guard lock(mu_);
    Status outcome = Exec(std::string(sql).c_str());
    RollbackIfOpen();  // autocommit: a transaction the SQL opened would hold the write lock
    return outcome;
  }

  Status Exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK) return Status::Ok();
    return SqliteStatusFor(sqlite3_extended_errcode(db_),
                           std::string("sqlite: ") + sql + ": " + sqlite3_errmsg(db_));
  }

 private:
  void RollbackIfOpen() {
    if (!sqlite3_get_autocommit(db_)) (void)Exec("ROLLBACK");
  }

  sqlite3* const db_;
  std::mutex mu_;
};

}  // namespace

Result<std::shared_ptr<SqlDatabase>> OpenSqliteDatabase(const std::string& path,
                                                        const SqlDatabaseOptions& options) {
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  auto database = std::make_shared<SqliteDatabase>(db);
  if (rc != SQLITE_OK) {
    return SqliteStatusFor(rc, "sqlite: open " + path + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
  }
  sqlite3_busy_timeout(db, static_cast<int>(options.busy_timeout.count()));
  sqlite3_extended_result_codes(db, 1);
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"}) {
    if (Status s = database->Exec(sql); !s.ok()) return s;
  }
  return std::shared_ptr<SqlDatabase>(std::move(database));
}

}  // namespace oncemq::client
