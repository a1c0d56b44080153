#include "client/sql/sqlite_sql.h"

#include <sqlite3.h>

#include <memory>
#include <string>
#include <utility>

namespace oncemq::client {

Status SqliteStatusFor(int code, const std::string& message) {
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return Status::Unavailable(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return Status::Corruption(message);
    default: return Status::IoError(message);
  }
}

void SqliteBindText(sqlite3_stmt* s, int index, std::string_view text) {
  sqlite3_bind_text(s, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

std::string SqliteColumnText(sqlite3_stmt* s, int column) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s, column));
  return text == nullptr ? std::string() : std::string(text, sqlite3_column_bytes(s, column));
}

std::optional<std::string> SqliteColumnBlob(sqlite3_stmt* s, int column) {
  if (sqlite3_column_type(s, column) == SQLITE_NULL) return std::nullopt;
  const auto* data = static_cast<const char*>(sqlite3_column_blob(s, column));
  return std::string(data == nullptr ? "" : data, sqlite3_column_bytes(s, column));
}

namespace {

// A handler statement's error: its own SQL, constraint or binding mistakes will fail again as they are.
Status HandlerStatusFor(sqlite3* db, const char* what) {
  const int code = sqlite3_extended_errcode(db);
  const std::string message = std::string("sqlite transaction: ") + what + ": " + sqlite3_errmsg(db);
  switch (code & 0xff) {
    case SQLITE_ERROR:
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG: return Status::InvalidArgument(message);
    default: return SqliteStatusFor(code, message);
  }
}

// Refuses BEGIN, COMMIT, ROLLBACK and END while installed (sqlite3_set_authorizer), and notes that it did.
class TransactionControlGuard {
 public:
  explicit TransactionControlGuard(sqlite3* db) : db_(db) { sqlite3_set_authorizer(db_, &Authorize, this); }
  ~TransactionControlGuard() { sqlite3_set_authorizer(db_, nullptr, nullptr); }
  TransactionControlGuard(const TransactionControlGuard&) = delete;
  TransactionControlGuard& operator=(const TransactionControlGuard&) = delete;

  // True once, after a statement was refused.
  bool TakeRefusal() { return std::exchange(refused_, false); }

 private:
  static int Authorize(void* self, int action, const char*, const char*, const char*, const char*) {
    if (action != SQLITE_TRANSACTION) return SQLITE_OK;
    static_cast<TransactionControlGuard*>(self)->refused_ = true;
    return SQLITE_DENY;
  }

  sqlite3* const db_;
  bool refused_ = false;
};

// The SqlTransaction over a connection with an open transaction.
class SqliteTransactionImpl final : public SqlTransaction {
 public:
  explicit SqliteTransactionImpl(sqlite3* db) : db_(db), guard_(db) {}

  Result<int64_t> Execute(std::string_view sql, std::span<const SqlParam> params) override {
    Result<StatementPtr> stmt = Prepare(sql, params);
    if (!stmt.ok()) return stmt.status();
    const int64_t before = sqlite3_total_changes64(db_);
    int rc;
    while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) return HandlerStatusFor(db_, "execute");
    // sqlite3_changes64 keeps the count of the last INSERT, UPDATE or DELETE; other statements change none.
    return sqlite3_total_changes64(db_) == before ? 0 : sqlite3_changes64(db_);
  }

  Result<std::vector<SqlRow>> Query(std::string_view sql, std::span<const SqlParam> params) override {
    Result<StatementPtr> stmt = Prepare(sql, params);
    if (!stmt.ok()) return stmt.status();
    std::vector<SqlRow> rows;
    int rc;
    while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) rows.push_back(Row(stmt->get()));
    if (rc != SQLITE_DONE) return HandlerStatusFor(db_, "query");
    return rows;
  }

  void* native_handle() override { return db_; }
  SqlEngine engine() const override { return SqlEngine::kSqlite; }

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
  };
  using StatementPtr = std::unique_ptr<sqlite3_stmt, Finalizer>;

  // One statement, compiled and bound. REQUIRES nothing of `sql`; refuses what the contract forbids.
  Result<StatementPtr> Prepare(std::string_view sql, std::span<const SqlParam> params) {
    if (sql.empty()) return Status::InvalidArgument("sqlite transaction: empty statement");
    if (sqlite3_get_autocommit(db_)) {
      return Status::IoError("sqlite transaction: rolled back by an earlier error; no more statements");
    }
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &raw, &tail);
    StatementPtr stmt(raw);
    if (guard_.TakeRefusal()) {
      return Status::InvalidArgument("sqlite transaction: a handler must not begin, commit or roll back");
    }
    if (rc != SQLITE_OK) return HandlerStatusFor(db_, "prepare");
    if (stmt == nullptr) return Status::InvalidArgument("sqlite transaction: empty statement");
    if (HasAnotherStatement(tail, sql.data() + sql.size())) {
      return Status::InvalidArgument("sqlite transaction: one statement per call");
    }
    if (Status s = Bind(stmt.get(), params); !s.ok()) return s;
    return stmt;
  }

  // Whether [tail, end) holds more than white space and comments (or does not compile).
  bool HasAnotherStatement(const char* tail, const char* end) {
    if (tail == nullptr || tail >= end) return false;
    sqlite3_stmt* next = nullptr;
    const int rc = sqlite3_prepare_v2(db_, tail, static_cast<int>(end - tail), &next, nullptr);
    sqlite3_finalize(next);
    (void)guard_.TakeRefusal();
    return rc != SQLITE_OK || next != nullptr;
  }

  static Status Bind(sqlite3_stmt* stmt, std::span<const SqlParam> params) {
    const int expected = sqlite3_bind_parameter_count(stmt);
    if (static_cast<size_t>(expected) != params.size()) {
      return Status::InvalidArgument("sqlite transaction: the statement takes " + std::to_string(expected) +
                                     " parameters, not " + std::to_string(params.size()));
    }
    for (size_t i = 0; i < params.size(); ++i) {
      const int index = static_cast<int>(i) + 1;
      if (params[i]) {
        SqliteBindText(stmt, index, *params[i]);
      } else {
        sqlite3_bind_null(stmt, index);
      }
    }
    return Status::Ok();
  }

  static SqlRow Row(sqlite3_stmt* stmt) {
    SqlRow row;
    const int columns = sqlite3_column_count(stmt);
    row.reserve(columns);
    for (int c = 0; c < columns; ++c) {
      if (sqlite3_column_type(stmt, c) == SQLITE_NULL) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(SqliteColumnText(stmt, c));
      }
    }
    return row;
  }

  sqlite3* const db_;
  TransactionControlGuard guard_;
};
}  // namespace

std::unique_ptr<SqlTransaction> SqliteTransaction(sqlite3* db) {
  return std::make_unique<SqliteTransactionImpl>(db);
}

}  // namespace oncemq::client
