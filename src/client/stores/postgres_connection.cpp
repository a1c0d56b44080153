#include "client/stores/postgres_connection.h"

#include <libpq-fe.h>
#include <poll.h>

namespace oncemq::client {

namespace {

constexpr std::string_view kPrefix = "postgres dedup store: ";

// libpq prints notices (and a terminated backend's last words) to stderr by default; the store reports
// errors through its Statuses instead.
void IgnoreNotice(void* /*arg*/, const char* /*message*/) {}

std::string Trimmed(const char* message) {
  std::string m = message == nullptr ? "" : message;
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

// Parameters as libpq wants them: C strings, nullptr for NULL.
std::vector<const char*> ParamValues(std::span<const std::optional<std::string>> params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::optional<std::string>& p : params) values.push_back(p ? p->c_str() : nullptr);
  return values;
}

}  // namespace

void PgResultDeleter::operator()(pg_result* result) const {
  PQclear(result);
}

Result<std::unique_ptr<PgConnection>> PgConnection::Connect(const std::string& conninfo,
                                                            std::atomic<uint64_t>* round_trips) {
  // Defaults first: expand_dbname turns `conninfo` into parameters that override them.
  const char* const keywords[] = {"connect_timeout", "application_name", "client_encoding", "dbname",
                                  nullptr};
  const char* const values[] = {"5", "oncemq", "UTF8", conninfo.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) return Status::Unavailable(std::string(kPrefix) + "connect: out of memory");
  if (round_trips != nullptr) round_trips->fetch_add(1);
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string why = Trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    return Status::Unavailable(std::string(kPrefix) + "connect: " + why);
  }
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  return std::unique_ptr<PgConnection>(new PgConnection(conn, round_trips));
}

PgConnection::~PgConnection() {
  PQfinish(conn_);
}

bool PgConnection::broken() const {
  return lost_ || PQstatus(conn_) != CONNECTION_OK || PQtransactionStatus(conn_) != PQTRANS_IDLE ||
         PQpipelineStatus(conn_) != PQ_PIPELINE_OFF;
}

bool PgConnection::LooksAlive() {
  if (broken()) return false;
  pollfd p{.fd = PQsocket(conn_), .events = POLLIN, .revents = 0};
  return ::poll(&p, 1, 0) == 0;
}

Status PgConnection::Lost(std::string_view what) {
  lost_ = true;
  last_sqlstate_.clear();
  last_failure_ = Failure::kLost;
  return Status::Unavailable(std::string(kPrefix) + std::string(what) + ": " +
                             Trimmed(PQerrorMessage(conn_)));
}

Status PgConnection::Fail(const pg_result* result, std::string_view what) {
  if (PQstatus(conn_) != CONNECTION_OK) return Lost(what);
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const std::string sqlstate = state == nullptr ? "" : state;
  last_sqlstate_ = sqlstate;
  const std::string message = std::string(kPrefix) + std::string(what) + ": " +
                              Trimmed(PQresultErrorMessage(result)) +
                              (sqlstate.empty() ? "" : " [" + sqlstate + "]");
  const std::string_view cls = std::string_view(sqlstate).substr(0, 2);
  last_failure_ = Failure::kFinal;
  if (sqlstate == "40001" || sqlstate == "40P01") {
    last_failure_ = Failure::kConflict;
    return Status::Unavailable(message);
  }
  if (cls == "08" || cls == "53" || sqlstate.starts_with("57P")) {
    lost_ = lost_ || cls == "08" || sqlstate.starts_with("57P");
    last_failure_ = Failure::kLost;
    return Status::Unavailable(message);
  }
  if (cls == "22") return Status::InvalidArgument(message);
  if (cls == "XX") return Status::Corruption(message);
  return Status::IoError(message);
}

Result<PgResult> PgConnection::Exec(std::string_view sql,
                                    std::span<const std::optional<std::string>> params) {
  last_failure_ = Failure::kNone;
  const std::string text(sql);
  const std::vector<const char*> values = ParamValues(params);
  if (round_trips_ != nullptr) round_trips_->fetch_add(1);
  PgResult result(PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                               nullptr, nullptr, 0));
  if (result == nullptr) return Lost("exec");
  const ExecStatusType status = PQresultStatus(result.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  if (status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR) return Fail(result.get(), "exec");
  lost_ = true;  // COPY or another answer the store never asks for: do not reuse the connection
  last_failure_ = Failure::kFinal;
  return Status::IoError(std::string(kPrefix) + "exec: unexpected result " + PQresStatus(status));
}

Result<std::vector<PgResult>> PgConnection::Pipeline(std::span<const PgStatement> statements) {
  last_failure_ = Failure::kNone;
  if (PQenterPipelineMode(conn_) != 1) return Lost("enter pipeline mode");
  for (const PgStatement& s : statements) {
    const std::vector<const char*> values = ParamValues(s.params);
    if (PQsendQueryParams(conn_, s.sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                          nullptr, nullptr, 0) != 1) {
      return Lost("pipeline send");
    }
  }
  if (round_trips_ != nullptr) round_trips_->fetch_add(1);
  if (PQpipelineSync(conn_) != 1) return Lost("pipeline sync");
  std::vector<PgResult> results;
  Status first_error;
  for (size_t i = 0; i < statements.size(); ++i) {
    PgResult result(PQgetResult(conn_));
    if (result == nullptr) return Lost("pipeline result");
    const ExecStatusType status = PQresultStatus(result.get());
    if (status == PGRES_FATAL_ERROR) {
      Status error = Fail(result.get(), "pipeline");
      if (last_failure_ == Failure::kLost) return error;
      if (first_error.ok()) first_error = std::move(error);
    } else if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_PIPELINE_ABORTED) {
      lost_ = true;
      return Status::IoError(std::string(kPrefix) + "pipeline: unexpected result " + PQresStatus(status));
    }
    results.push_back(std::move(result));
    if (PgResult end(PQgetResult(conn_)); end != nullptr) return Lost("pipeline: extra result");
  }
  PgResult sync(PQgetResult(conn_));
  if (sync == nullptr || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) return Lost("pipeline: no sync");
  if (PQexitPipelineMode(conn_) != 1) return Lost("exit pipeline mode");
  if (!first_error.ok()) {
    const Failure failure = last_failure_;
    RollbackIfOpen();
    last_failure_ = failure;  // a conflict was rolled back by the server, even if our ROLLBACK failed
    return first_error;
  }
  return results;
}

void PgConnection::RollbackIfOpen() {
  const PGTransactionStatusType status = PQtransactionStatus(conn_);
  if (status != PQTRANS_INTRANS && status != PQTRANS_INERROR) return;
  if (Result<PgResult> r = Exec("ROLLBACK"); !r.ok()) lost_ = true;
}

Status PgConnection::Conflict(std::string_view what) {
  RollbackIfOpen();
  last_failure_ = Failure::kConflict;
  return Status::Unavailable(std::string(kPrefix) + std::string(what));
}

PgPool::Lease::~Lease() {
  if (conn_ != nullptr) pool_->Return(std::move(conn_));
}

std::unique_ptr<PgConnection> PgPool::TakeIdle() {
  std::vector<std::unique_ptr<PgConnection>> dead;  // closed outside the lock
  std::unique_ptr<PgConnection> live;
  {
    std::lock_guard lock(mu_);
    while (!idle_.empty() && live == nullptr) {
      std::unique_ptr<PgConnection> c = std::move(idle_.back());
      idle_.pop_back();
      if (c->LooksAlive()) {
        live = std::move(c);
      } else {
        dead.push_back(std::move(c));
        --open_;
      }
    }
  }
  if (!dead.empty()) returned_.notify_all();
  return live;
}

Result<PgPool::Lease> PgPool::Acquire() {
  const auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
  for (;;) {
    if (std::unique_ptr<PgConnection> idle = TakeIdle(); idle != nullptr) return Lease(this, std::move(idle));
    std::unique_lock lock(mu_);
    if (!idle_.empty()) continue;
    if (open_ < options_.size) {
      ++open_;
      lock.unlock();
      Result<std::unique_ptr<PgConnection>> conn = PgConnection::Connect(options_.conninfo, round_trips_);
      if (conn.ok()) return Lease(this, std::move(conn).value());
      lock.lock();
      --open_;
      returned_.notify_one();
      return conn.status();
    }
    if (returned_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.size) {
      return Status::Unavailable(std::string(kPrefix) + "all " + std::to_string(options_.size) +
                                 " connections stayed busy for " +
                                 std::to_string(options_.acquire_timeout.count()) + " ms");
    }
  }
}

void PgPool::Return(std::unique_ptr<PgConnection> conn) {
  if (conn->broken()) conn->RollbackIfOpen();
  if (conn->broken()) {
    conn.reset();  // PQfinish: the server ends whatever the connection left open
    std::lock_guard lock(mu_);
    --open_;
  } else {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(conn));
  }
  returned_.notify_one();
}

}  // namespace oncemq::client
