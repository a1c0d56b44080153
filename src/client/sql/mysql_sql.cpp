#include "client/sql/mysql_sql.h"

#include <mysqld_error.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <string>
#include <utility>

namespace oncemq::client {

namespace {

// The first word of a statement, upper-cased, after leading blanks and comments; "ROLLBACK TO" (a
// savepoint, which ends no transaction) counts as a word of its own.
std::string LeadingWord(std::string_view sql) {
  size_t i = 0;
  while (i < sql.size()) {
    if (std::isspace(static_cast<unsigned char>(sql[i]))) {
      ++i;
    } else if (sql.substr(i, 2) == "/*") {
      const size_t end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? sql.size() : end + 2;
    } else if (sql[i] == '#' || sql.substr(i, 3) == "-- ") {
      const size_t end = sql.find('\n', i);
      i = end == std::string_view::npos ? sql.size() : end + 1;
    } else {
      break;
    }
  }
  std::string word;
  std::string rest;
  for (; i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])); ++i) {
    word.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i]))));
  }
  for (; i < sql.size() && rest.size() < 6; ++i) {
    if (!std::isspace(static_cast<unsigned char>(sql[i]))) {
      rest.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i]))));
    }
  }
  if (word == "ROLLBACK" && (rest.starts_with("TO") || rest.starts_with("WORKTO"))) return "ROLLBACK TO";
  return word;
}

// A handler statement's error: what the statement itself got wrong (syntax, a constraint, a missing
// table) is kInvalidArgument — running it again fails again; a lost connection, a deadlock, a lock wait
// timeout or a busy server keep their retriable codes.
Status HandlerStatementError(const Status& s, unsigned int error) {
  static constexpr unsigned int kTransient[] = {
      ER_LOCK_DEADLOCK,     ER_LOCK_WAIT_TIMEOUT, ER_CON_COUNT_ERROR, ER_OUT_OF_RESOURCES, ER_DISK_FULL,
      ER_QUERY_INTERRUPTED, ER_STATEMENT_TIMEOUT, ER_SERVER_SHUTDOWN, ER_CONNECTION_KILLED};
  const bool server_error = error >= 1000 && error < 2000;
  if (!server_error ||
      std::find(std::begin(kTransient), std::end(kTransient), error) != std::end(kTransient)) {
    return s;
  }
  return Status::InvalidArgument(s.message());
}

}  // namespace

Result<int64_t> MysqlTransaction::Execute(std::string_view sql, std::span<const SqlParam> params) {
  Result<StatementResult> r = Run(sql, params);
  if (!r.ok()) return r.status();
  return r->has_rows ? static_cast<int64_t>(r->rows.size()) : r->affected_rows;
}

Result<std::vector<SqlRow>> MysqlTransaction::Query(std::string_view sql, std::span<const SqlParam> params) {
  Result<StatementResult> r = Run(sql, params);
  if (!r.ok()) return r.status();
  return std::move(r->rows);
}

void* MysqlTransaction::native_handle() {
  return c_.native();
}

Status MysqlTransaction::broken() const {
  if (!broken_.ok()) return broken_;
  if (c_.in_transaction()) return Status::Ok();
  return Status::IoError(
      "mysql transaction: ended early (a statement that commits implicitly, or the native handle)");
}

Result<StatementResult> MysqlTransaction::Run(std::string_view sql, std::span<const SqlParam> params) {
  if (Status s = broken(); !s.ok()) return s;
  const std::string word = LeadingWord(sql);
  for (const char* control : {"COMMIT", "ROLLBACK", "BEGIN", "START", "XA"}) {
    if (word == control) {
      return Status::InvalidArgument("mysql transaction: the code that opened it commits or rolls back: " +
                                     std::string(sql));
    }
  }
  Result<std::string> bound =
      BindPlaceholders(sql, params, [this](std::string_view t) { return c_.Quote(t); });
  if (!bound.ok()) return bound.status();
  Result<std::vector<StatementResult>> results = c_.Run(*bound);
  if (!results.ok()) {
    if (c_.lost() || c_.last_errno() == ER_LOCK_DEADLOCK) broken_ = results.status();
    return HandlerStatementError(results.status(), c_.last_errno());
  }
  // A CALL may answer with several results: its first result set (or its final status) stands for all.
  for (StatementResult& r : *results) {
    if (r.has_rows) return std::move(r);
  }
  return std::move(results->back());
}

}  // namespace oncemq::client
