#include "client/sql/postgres_sql.h"

#include <libpq-fe.h>

#include <cctype>
#include <charconv>
#include <string>

#include "client/stores/sql_placeholders.h"

namespace oncemq::client {

namespace {

constexpr std::string_view kPrefix = "postgres transaction: ";

Status Corrupt(const std::string& what) {
  return Status::Corruption(std::string(kPrefix) + what);
}

Status CheckNoNul(std::string_view what, std::string_view text) {
  if (text.find('\0') == std::string_view::npos) return Status::Ok();
  return Status::InvalidArgument(std::string(kPrefix) + std::string(what) + " contains a NUL byte");
}

// The statement's first `words` keywords, upper-cased, after leading blanks and comments.
std::vector<std::string> LeadingWords(std::string_view sql, size_t words) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < sql.size() && out.size() < words) {
    if (std::isspace(static_cast<unsigned char>(sql[i]))) {
      ++i;
    } else if (sql.compare(i, 2, "--") == 0) {
      i = std::min(sql.find('\n', i), sql.size());
    } else if (sql.compare(i, 2, "/*") == 0) {
      const size_t end = sql.find("*/", i + 2);  // nesting does not matter before the first keyword
      i = end == std::string_view::npos ? sql.size() : end + 2;
    } else if (std::isalpha(static_cast<unsigned char>(sql[i]))) {
      std::string word;
      for (; i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])); ++i) {
        word.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i]))));
      }
      out.push_back(std::move(word));
    } else {
      break;
    }
  }
  return out;
}

// True for statements that would end the handler's transaction: BEGIN, START, COMMIT, END, ABORT,
// ROLLBACK (but not ROLLBACK TO a savepoint) and PREPARE TRANSACTION.
bool EndsTransaction(std::string_view sql) {
  const std::vector<std::string> w = LeadingWords(sql, 2);
  if (w.empty()) return false;
  const std::string& first = w[0];
  const std::string second = w.size() > 1 ? w[1] : "";
  if (first == "ROLLBACK") return second != "TO";
  if (first == "PREPARE") return second == "TRANSACTION";
  return first == "BEGIN" || first == "START" || first == "COMMIT" || first == "END" || first == "ABORT";
}

}  // namespace

bool PgParseInt(const char* text, int64_t* out) {
  const std::string_view t(text);
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), *out);
  return ec == std::errc() && end == t.data() + t.size();
}

Result<int64_t> PgTransaction::Execute(std::string_view sql, std::span<const SqlParam> params) {
  Result<PgResult> result = Run(sql, params);
  if (!result.ok()) return result.status();
  const char* changed = PQcmdTuples(result->get());
  int64_t n = 0;  // statements without a row count (CREATE, SET, …) changed none
  if (*changed != '\0' && !PgParseInt(changed, &n)) return Corrupt("bad row count");
  return n;
}

Result<std::vector<SqlRow>> PgTransaction::Query(std::string_view sql, std::span<const SqlParam> params) {
  Result<PgResult> result = Run(sql, params);
  if (!result.ok()) return result.status();
  const PGresult* r = result->get();
  std::vector<SqlRow> rows(static_cast<size_t>(PQntuples(r)));
  for (int i = 0; i < PQntuples(r); ++i) {
    for (int c = 0; c < PQnfields(r); ++c) {
      rows[i].push_back(PQgetisnull(r, i, c) ? std::nullopt : SqlParam(PQgetvalue(r, i, c)));
    }
  }
  return rows;
}

void* PgTransaction::native_handle() {
  return conn_.native();
}

Result<PgResult> PgTransaction::Run(std::string_view sql, std::span<const SqlParam> params) {
  if (Status s = Admissible(sql, params); !s.ok()) return s;
  Result<PgResult> result = conn_.Exec(NumberPlaceholders(sql), params);
  if (result.ok()) return result;
  const PgConnection::Failure f = conn_.last_failure();
  if (f == PgConnection::Failure::kLost) worst_ = f;
  if (f == PgConnection::Failure::kConflict && worst_ != PgConnection::Failure::kLost) worst_ = f;
  // The handler's own mistakes (constraint violations, syntax, unknown tables): retrying fails again.
  const std::string_view cls = std::string_view(conn_.last_sqlstate()).substr(0, 2);
  if (f == PgConnection::Failure::kFinal && (cls == "23" || cls == "42")) {
    return Status::InvalidArgument(result.status().message());
  }
  return result;
}

// kInvalidArgument for what the contract forbids: a placeholder count that differs from the parameters,
// a NUL in a parameter, ending the transaction, or a statement after it was ended behind our back.
Status PgTransaction::Admissible(std::string_view sql, std::span<const SqlParam> params) {
  const size_t placeholders = FindPlaceholders(sql, SqlDialect::kPostgres).size();
  if (placeholders != params.size()) {
    return Status::InvalidArgument(std::string(kPrefix) + "statement has " + std::to_string(placeholders) +
                                   " placeholders but " + std::to_string(params.size()) + " parameters");
  }
  for (const SqlParam& p : params) {
    if (p) {
      if (Status s = CheckNoNul("parameter", *p); !s.ok()) return s;
    }
  }
  if (EndsTransaction(sql)) {
    return Status::InvalidArgument(
        std::string(kPrefix) +
        "only the code that opened the transaction may begin, commit or roll it back "
        "(savepoints are fine): " +
        std::string(sql));
  }
  const PGTransactionStatusType status = PQtransactionStatus(conn_.native());
  if (status != PQTRANS_INTRANS && status != PQTRANS_INERROR && PQstatus(conn_.native()) == CONNECTION_OK) {
    return Status::InvalidArgument(std::string(kPrefix) +
                                   "the transaction was ended through the native handle");
  }
  return Status::Ok();
}

}  // namespace oncemq::client
