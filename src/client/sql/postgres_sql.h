// PgTransaction: the SqlTransaction over a PostgreSQL connection with an open transaction, shared by the
// PostgreSQL dedup store's transactional mode and SqlDatabase.
//
// One statement per call; `?` is rewritten to $1, $2, … outside literals, quoted identifiers and comments
// (sql_placeholders.h); native_handle() is the PGconn*. It refuses (kInvalidArgument) a parameter count that
// differs from the placeholders, a NUL in a parameter (libpq sends C strings), statements that would end the
// transaction (BEGIN, COMMIT, ROLLBACK, END, ABORT, PREPARE TRANSACTION; savepoints are fine), and any
// statement once the transaction was ended through the native handle. Constraint and syntax errors
// (SQLSTATE classes 23, 42) are kInvalidArgument. worst_failure() tells the code that opened the
// transaction whether a statement lost the connection or met a conflict (serialization failure, deadlock).
// Thread safety: none; the thread that holds the connection uses it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "client/stores/postgres_connection.h"
#include "oncemq/sql_transaction.h"

namespace oncemq::client {

// Parses a whole decimal integer (a column or a command tag); false for anything else.
bool PgParseInt(const char* text, int64_t* out);

class PgTransaction final : public SqlTransaction {
 public:
  // REQUIRES: a transaction is open on `conn`, and `conn` outlives this object.
  explicit PgTransaction(PgConnection& conn) : conn_(conn) {}

  Result<int64_t> Execute(std::string_view sql, std::span<const SqlParam> params) override;
  Result<std::vector<SqlRow>> Query(std::string_view sql, std::span<const SqlParam> params) override;
  void* native_handle() override;
  SqlEngine engine() const override { return SqlEngine::kPostgres; }

  PgConnection::Failure worst_failure() const { return worst_; }

 private:
  Result<PgResult> Run(std::string_view sql, std::span<const SqlParam> params);
  Status Admissible(std::string_view sql, std::span<const SqlParam> params);

  PgConnection& conn_;
  PgConnection::Failure worst_ = PgConnection::Failure::kNone;
};

}  // namespace oncemq::client
