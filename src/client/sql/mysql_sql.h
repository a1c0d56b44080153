// MysqlTransaction: the SqlTransaction over a MySQL/MariaDB connection with an open transaction, shared by
// the MySQL dedup store's transactional mode and SqlDatabase.
//
// It refuses to end the transaction (COMMIT, ROLLBACK, BEGIN, START TRANSACTION, XA: kInvalidArgument).
// Once the transaction has ended anyway — a deadlock rolled it back, the connection was lost, a statement
// committed implicitly (DDL), or the native handle ended it — every later statement is refused, so none
// runs outside it, and broken() tells the code that opened it not to commit. A statement's own mistake
// (syntax, a constraint, a missing table) is kInvalidArgument; a lost connection, a deadlock, a lock wait
// timeout or a busy server keep their retriable codes.
// Thread safety: none; the thread that holds the connection uses it.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "client/stores/mysql_connection.h"
#include "oncemq/sql_transaction.h"

namespace oncemq::client {

class MysqlTransaction final : public SqlTransaction {
 public:
  // REQUIRES: a transaction is open on `c`, and `c` outlives this object.
  explicit MysqlTransaction(MysqlConnection& c) : c_(c) {}

  Result<int64_t> Execute(std::string_view sql, std::span<const SqlParam> params) override;
  Result<std::vector<SqlRow>> Query(std::string_view sql, std::span<const SqlParam> params) override;
  void* native_handle() override;
  SqlEngine engine() const override { return SqlEngine::kMysql; }

  // Not OK once the transaction ended behind the back of the code that opened it.
  Status broken() const;

 private:
  Result<StatementResult> Run(std::string_view sql, std::span<const SqlParam> params);

  MysqlConnection& c_;
  Status broken_;
};

}  // namespace oncemq::client
