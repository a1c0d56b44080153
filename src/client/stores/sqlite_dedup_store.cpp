#include "client/stores/sqlite_dedup_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/sql/sqlite_sql.h"
#include "client/stores/dedup_rules.h"

namespace oncemq::client {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS oncemq_dedup(
  group_id TEXT NOT NULL,
  dedup_key TEXT NOT NULL,
  state TEXT NOT NULL,
  owner TEXT NOT NULL,
  fencing_token INTEGER NOT NULL,
  lease_until_ms INTEGER NOT NULL,
  retain_until_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  payload_hash BLOB,
  result BLOB,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY(group_id, dedup_key));
CREATE INDEX IF NOT EXISTS oncemq_dedup_sweep ON oncemq_dedup(state, retain_until_ms);
CREATE TABLE IF NOT EXISTS oncemq_dedup_meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
)sql";

constexpr const char* kRecordColumns =
    "group_id, dedup_key, state, owner, fencing_token, lease_until_ms, retain_until_ms, attempts, "
    "last_error, payload_hash, result, updated_ms";

// The text of each cached statement, in the order of SqliteDedupStore::Stmt.
std::string StatementText(int which) {
  constexpr std::string_view kTokenChecked =
      " WHERE group_id = ?1 AND dedup_key = ?2 AND fencing_token = ?3 AND state = 'CONSUMING'";
  switch (which) {
    case 0: return std::string("SELECT ") + kSqliteNowMs;
    case 1: return "BEGIN IMMEDIATE";
    case 2: return "COMMIT";
    case 3: return "ROLLBACK";
    case 4:
      return std::string("SELECT ") + kRecordColumns +
             " FROM oncemq_dedup WHERE group_id = ?1 AND dedup_key = ?2";
    case 5:
      return std::string("INSERT OR REPLACE INTO oncemq_dedup(") + kRecordColumns +
             ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
    case 6:
      return "UPDATE oncemq_dedup SET lease_until_ms = ?4, updated_ms = ?5" + std::string(kTokenChecked);
    case 7:
      return "UPDATE oncemq_dedup SET state = 'CONSUMED', retain_until_ms = ?4, result = ?5, updated_ms = "
             "?6" +
             std::string(kTokenChecked);
    case 8:
      return "UPDATE oncemq_dedup SET state = 'RELEASED', attempts = attempts + 1, last_error = ?4, "
             "updated_ms = ?5" +
             std::string(kTokenChecked);
    case 9:
      return "SELECT rowid, fencing_token FROM oncemq_dedup WHERE state = 'CONSUMED' AND "
             "retain_until_ms <= ?1 LIMIT ?2";
    case 10: return "DELETE FROM oncemq_dedup WHERE rowid = ?1";
    case 11: return "SELECT value FROM oncemq_dedup_meta WHERE name = 'swept_token_high_water'";
    case 12:
      return "INSERT INTO oncemq_dedup_meta(name, value) VALUES('swept_token_high_water', ?1) "
             "ON CONFLICT(name) DO UPDATE SET value = MAX(value, excluded.value)";
  }
  return "";
}

void BindBlob(sqlite3_stmt* s, int index, const std::optional<std::string>& blob) {
  if (!blob) {
    sqlite3_bind_null(s, index);
  } else {
    sqlite3_bind_blob(s, index, blob->data(), static_cast<int>(blob->size()), SQLITE_TRANSIENT);
  }
}

bool IsClaim(ClaimOutcome outcome) {
  return outcome == ClaimOutcome::kClaimed || outcome == ClaimOutcome::kTakenOver;
}

// REQUIRES: !IsClaim(outcome).
TransactionalOutcome NotRunOutcome(ClaimOutcome outcome) {
  switch (outcome) {
    case ClaimOutcome::kDuplicate: return TransactionalOutcome::kDuplicate;
    case ClaimOutcome::kPayloadMismatch: return TransactionalOutcome::kPayloadMismatch;
    default: return TransactionalOutcome::kInProgress;
  }
}

// The claim a transactional run makes. It never writes a CONSUMING row, so the lease only satisfies
// ValidateClaim.
ClaimRequest ClaimFor(const TransactionalRequest& request) {
  return ClaimRequest{.group = request.group,
                      .key = request.key,
                      .owner = request.owner,
                      .lease = std::chrono::milliseconds(1),
                      .payload_hash = request.payload_hash};
}

// sqlite3_commit_hook: counts the connection's commits (0: let the commit proceed).
int CountCommit(void* commits) {
  static_cast<std::atomic<uint64_t>*>(commits)->fetch_add(1);
  return 0;
}

Status ValidateRun(const TransactionalRequest& request) {
  if (request.retention.count() <= 0) return Status::InvalidArgument("dedup run: retention must be positive");
  return ValidateClaim(ClaimFor(request));
}

}  // namespace

// Rolls back unless committed.
class SqliteDedupStore::Transaction {
 public:
  explicit Transaction(SqliteDedupStore& store) : store_(store) {}
  ~Transaction() {
    if (open_) (void)store_.Exec(kRollback);
  }
  Status Begin() {
    Status s = store_.Exec(kBegin);
    open_ = s.ok();
    return s;
  }
  // On failure the transaction is either still open (rolled back later) or was ended by SQLite.
  Status Commit() {
    Status s = store_.Exec(kCommit);
    if (s.ok() || sqlite3_get_autocommit(store_.db_)) open_ = false;
    return s;
  }
  void Rollback() {
    if (open_) (void)store_.Exec(kRollback);
    open_ = false;
  }
  bool open() const { return open_; }

 private:
  SqliteDedupStore& store_;
  bool open_ = false;
};

void SqliteDedupStore::StmtDeleter::operator()(sqlite3_stmt* stmt) const {
  sqlite3_finalize(stmt);
}

SqliteDedupStore::SqliteDedupStore(sqlite3* db, int64_t clock_skew_ms)
    : db_(db), clock_skew_ms_(clock_skew_ms) {}

SqliteDedupStore::~SqliteDedupStore() {
  for (StmtPtr& s : stmts_) s.reset();
  sqlite3_close(db_);
}

Result<std::unique_ptr<SqliteDedupStore>> SqliteDedupStore::Open(const SqliteDedupStoreOptions& options) {
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(options.path.c_str(), &db, flags, nullptr);
  std::unique_ptr<SqliteDedupStore> store(new SqliteDedupStore(db, options.clock_skew_ms));
  if (rc != SQLITE_OK) return store->Error("open");
  sqlite3_busy_timeout(db, static_cast<int>(options.busy_timeout.count()));
  sqlite3_commit_hook(db, &CountCommit, &store->commits_);
  sqlite3_extended_result_codes(db, 1);
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", kSchema}) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return store->Error(sql);
  }
  if (Status s = store->Prepare(); !s.ok()) return s;
  return store;
}

Status SqliteDedupStore::Prepare() {
  std::lock_guard lock(mu_);
  for (int i = 0; i < kStmtCount; ++i) {
    const std::string sql = StatementText(i);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
      return Error("prepare");
    }
    stmts_[i].reset(stmt);
  }
  return Status::Ok();
}

Status SqliteDedupStore::Error(const char* what) const {
  const int code = db_ == nullptr ? SQLITE_NOMEM : sqlite3_extended_errcode(db_);
  const char* message = db_ == nullptr ? "out of memory" : sqlite3_errmsg(db_);
  return SqliteStatusFor(code, std::string("sqlite dedup store: ") + what + ": " + message);
}

sqlite3_stmt* SqliteDedupStore::Reset(Stmt which) {
  sqlite3_stmt* s = stmts_[which].get();
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return s;
}

Status SqliteDedupStore::Exec(Stmt which) {
  sqlite3_stmt* s = Reset(which);
  const int rc = sqlite3_step(s);
  Status status = rc == SQLITE_DONE ? Status::Ok() : Error("exec");
  sqlite3_reset(s);
  return status;
}

Result<int64_t> SqliteDedupStore::NowLocked() {
  sqlite3_stmt* s = Reset(kNow);
  if (sqlite3_step(s) != SQLITE_ROW) return Error("now");
  const int64_t now = sqlite3_column_int64(s, 0) + clock_skew_ms_.load();
  sqlite3_reset(s);
  return now;
}

Result<int64_t> SqliteDedupStore::NowMs() {
  std::lock_guard lock(mu_);
  return NowLocked();
}

Result<int64_t> SqliteDedupStore::SweptHighWaterLocked() {
  sqlite3_stmt* s = Reset(kReadHighWater);
  const int rc = sqlite3_step(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error("read high water");
  const int64_t high_water = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  sqlite3_reset(s);
  return high_water;
}

Result<std::optional<DedupRecord>> SqliteDedupStore::SelectLocked(const std::string& group,
                                                                  const std::string& key) {
  sqlite3_stmt* s = Reset(kSelect);
  SqliteBindText(s, 1, group);
  SqliteBindText(s, 2, key);
  const int rc = sqlite3_step(s);
  if (rc == SQLITE_DONE) return std::optional<DedupRecord>();
  if (rc != SQLITE_ROW) return Error("select");
  DedupRecord r;
  r.group = SqliteColumnText(s, 0);
  r.key = SqliteColumnText(s, 1);
  const std::optional<DedupState> state = ParseState(SqliteColumnText(s, 2));
  if (!state) return Status::Corruption("sqlite dedup store: unknown state of key " + key);
  r.state = *state;
  r.owner = SqliteColumnText(s, 3);
  r.fencing_token = sqlite3_column_int64(s, 4);
  r.lease_until_ms = sqlite3_column_int64(s, 5);
  r.retain_until_ms = sqlite3_column_int64(s, 6);
  r.attempts = sqlite3_column_int(s, 7);
  r.last_error = SqliteColumnText(s, 8);
  r.payload_hash = SqliteColumnBlob(s, 9);
  r.result = SqliteColumnBlob(s, 10);
  r.updated_ms = sqlite3_column_int64(s, 11);
  sqlite3_reset(s);
  return std::optional<DedupRecord>(std::move(r));
}

Status SqliteDedupStore::UpsertLocked(const DedupRecord& r) {
  sqlite3_stmt* s = Reset(kUpsert);
  SqliteBindText(s, 1, r.group);
  SqliteBindText(s, 2, r.key);
  SqliteBindText(s, 3, StateName(r.state));
  SqliteBindText(s, 4, r.owner);
  sqlite3_bind_int64(s, 5, r.fencing_token);
  sqlite3_bind_int64(s, 6, r.lease_until_ms);
  sqlite3_bind_int64(s, 7, r.retain_until_ms);
  sqlite3_bind_int(s, 8, r.attempts);
  SqliteBindText(s, 9, r.last_error);
  BindBlob(s, 10, r.payload_hash);
  BindBlob(s, 11, r.result);
  sqlite3_bind_int64(s, 12, r.updated_ms);
  const int rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc == SQLITE_DONE ? Status::Ok() : Error("upsert");
}

Result<std::vector<ClaimResult>> SqliteDedupStore::Claim(std::span<const ClaimRequest> requests) {
  for (const ClaimRequest& r : requests) {
    if (Status s = ValidateClaim(r); !s.ok()) return s;
  }
  std::lock_guard lock(mu_);
  Transaction txn(*this);
  if (Status s = txn.Begin(); !s.ok()) return s;
  Result<int64_t> now = NowLocked();
  if (!now.ok()) return now.status();
  Result<int64_t> high_water = SweptHighWaterLocked();
  if (!high_water.ok()) return high_water.status();
  std::vector<ClaimResult> results;
  results.reserve(requests.size());
  for (const ClaimRequest& r : requests) {
    Result<std::optional<DedupRecord>> found = SelectLocked(r.group, r.key);
    if (!found.ok()) return found.status();
    ClaimResult result = DecideClaim(*found, r, *now, *high_water + 1);
    if (result.outcome == ClaimOutcome::kClaimed || result.outcome == ClaimOutcome::kTakenOver) {
      if (Status s = UpsertLocked(result.record); !s.ok()) return s;
    }
    results.push_back(std::move(result));
  }
  if (Status s = txn.Commit(); !s.ok()) return s;
  return results;
}

Result<FencedOutcome> SqliteDedupStore::UpdateLocked(sqlite3_stmt* s) {
  const int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) return Error("update");
  return sqlite3_changes(db_) == 1 ? FencedOutcome::kOk : FencedOutcome::kFenced;
}

Result<FencedOutcome> SqliteDedupStore::Renew(const std::string& group, const std::string& key, int64_t token,
                                              std::chrono::milliseconds lease) {
  std::lock_guard lock(mu_);
  Result<int64_t> now = NowLocked();
  if (!now.ok()) return now.status();
  sqlite3_stmt* s = Reset(kRenew);
  SqliteBindText(s, 1, group);
  SqliteBindText(s, 2, key);
  sqlite3_bind_int64(s, 3, token);
  sqlite3_bind_int64(s, 4, *now + lease.count());
  sqlite3_bind_int64(s, 5, *now);
  return UpdateLocked(s);
}

Result<FencedOutcome> SqliteDedupStore::CompleteLocked(const CompleteRequest& request, int64_t now_ms) {
  sqlite3_stmt* s = Reset(kComplete);
  SqliteBindText(s, 1, request.group);
  SqliteBindText(s, 2, request.key);
  sqlite3_bind_int64(s, 3, request.token);
  sqlite3_bind_int64(s, 4, now_ms + request.retention.count());
  BindBlob(s, 5, request.result);
  sqlite3_bind_int64(s, 6, now_ms);
  return UpdateLocked(s);
}

Result<FencedOutcome> SqliteDedupStore::Complete(const std::string& group, const std::string& key,
                                                 int64_t token, std::chrono::milliseconds retention,
                                                 std::optional<std::string> result) {
  const CompleteRequest request{
      .group = group, .key = key, .token = token, .retention = retention, .result = std::move(result)};
  std::lock_guard lock(mu_);
  Result<int64_t> now = NowLocked();
  if (!now.ok()) return now.status();
  return CompleteLocked(request, *now);
}

Result<std::vector<FencedOutcome>> SqliteDedupStore::CompleteBatch(
    std::span<const CompleteRequest> requests) {
  std::vector<FencedOutcome> outcomes;
  if (requests.empty()) return outcomes;
  outcomes.reserve(requests.size());
  std::lock_guard lock(mu_);
  Transaction txn(*this);
  if (Status s = txn.Begin(); !s.ok()) return s;
  Result<int64_t> now = NowLocked();
  if (!now.ok()) return now.status();
  // In request order: a repeat of a key sees its earlier request's Complete (no longer CONSUMING: kFenced).
  for (const CompleteRequest& r : requests) {
    Result<FencedOutcome> outcome = CompleteLocked(r, *now);
    if (!outcome.ok()) return outcome.status();
    outcomes.push_back(*outcome);
  }
  if (Status s = txn.Commit(); !s.ok()) return s;
  return outcomes;
}

Result<FencedOutcome> SqliteDedupStore::Release(const std::string& group, const std::string& key,
                                                int64_t token, const std::string& error) {
  std::lock_guard lock(mu_);
  Result<int64_t> now = NowLocked();
  if (!now.ok()) return now.status();
  sqlite3_stmt* s = Reset(kRelease);
  SqliteBindText(s, 1, group);
  SqliteBindText(s, 2, key);
  sqlite3_bind_int64(s, 3, token);
  SqliteBindText(s, 4, error);
  sqlite3_bind_int64(s, 5, *now);
  return UpdateLocked(s);
}

Result<std::optional<DedupRecord>> SqliteDedupStore::Get(const std::string& group, const std::string& key) {
  std::lock_guard lock(mu_);
  return SelectLocked(group, key);
}

Result<size_t> SqliteDedupStore::Sweep(size_t limit) {
  std::lock_guard lock(mu_);
  Transaction txn(*this);
  if (Status s = txn.Begin(); !s.ok()) return s;
  Result<int64_t> now = NowLocked();
  if (!now.ok()) return now.status();
  std::vector<int64_t> rowids;
  int64_t high_water = 0;
  sqlite3_stmt* s = Reset(kSweepSelect);
  sqlite3_bind_int64(s, 1, *now);
  sqlite3_bind_int64(s, 2, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    rowids.push_back(sqlite3_column_int64(s, 0));
    high_water = std::max<int64_t>(high_water, sqlite3_column_int64(s, 1));
  }
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) return Error("sweep select");
  for (int64_t rowid : rowids) {
    sqlite3_stmt* d = Reset(kDelete);
    sqlite3_bind_int64(d, 1, rowid);
    rc = sqlite3_step(d);
    sqlite3_reset(d);
    if (rc != SQLITE_DONE) return Error("sweep delete");
  }
  if (!rowids.empty()) {
    sqlite3_stmt* w = Reset(kWriteHighWater);
    sqlite3_bind_int64(w, 1, high_water);
    rc = sqlite3_step(w);
    sqlite3_reset(w);
    if (rc != SQLITE_DONE) return Error("sweep high water");
  }
  if (Status st = txn.Commit(); !st.ok()) return st;
  return rowids.size();
}

Result<ClaimResult> SqliteDedupStore::DecideLocked(const ClaimRequest& claim) {
  Result<int64_t> now = NowLocked();
  if (!now.ok()) return now.status();
  Result<int64_t> high_water = SweptHighWaterLocked();
  if (!high_water.ok()) return high_water.status();
  Result<std::optional<DedupRecord>> found = SelectLocked(claim.group, claim.key);
  if (!found.ok()) return found.status();
  return DecideClaim(*found, claim, *now, *high_water + 1);
}

Result<DedupRecord> SqliteDedupStore::RunHandlerLocked(const TransactionalHandler& handler,
                                                       const DedupRecord& claim,
                                                       std::chrono::milliseconds retention) {
  std::optional<std::string> result;
  {
    std::unique_ptr<SqlTransaction> tx = SqliteTransaction(db_);
    if (Status s = handler(*tx, claim, result); !s.ok()) return s;
  }
  if (sqlite3_get_autocommit(db_)) {
    return Status::IoError("sqlite dedup store: the handler's transaction was rolled back by an error");
  }
  Result<int64_t> now = NowLocked();
  if (!now.ok()) return now.status();
  DedupRecord consumed = claim;
  consumed.state = DedupState::kConsumed;
  consumed.lease_until_ms = *now;  // no lease in this mode
  consumed.retain_until_ms = *now + retention.count();
  consumed.result = std::move(result);
  consumed.updated_ms = *now;
  if (Status s = UpsertLocked(consumed); !s.ok()) return s;
  return consumed;
}

Result<DedupRecord> SqliteDedupStore::RecordFailureLocked(const ClaimRequest& claim, const Status& failure) {
  Transaction txn(*this);
  if (Status s = txn.Begin(); !s.ok()) return s;
  Result<ClaimResult> decided = DecideLocked(claim);
  if (!decided.ok()) return decided.status();
  if (!IsClaim(decided->outcome)) return decided->record;  // someone else's now: leave it alone
  DedupRecord failed = decided->record;
  failed.state = DedupState::kReleased;
  failed.lease_until_ms = failed.updated_ms;
  failed.attempts += 1;
  failed.last_error = failure.ToString();
  if (Status s = UpsertLocked(failed); !s.ok()) return s;
  if (Status s = txn.Commit(); !s.ok()) return s;
  return failed;
}

Result<TransactionalResult> SqliteDedupStore::RunOnce(const TransactionalRequest& request,
                                                      const TransactionalHandler& handler) {
  if (Status s = ValidateRun(request); !s.ok()) return s;
  const ClaimRequest claim = ClaimFor(request);
  std::lock_guard lock(mu_);
  Transaction txn(*this);
  if (Status s = txn.Begin(); !s.ok()) return s;
  Result<ClaimResult> decided = DecideLocked(claim);
  if (!decided.ok()) return decided.status();
  if (!IsClaim(decided->outcome)) {
    return TransactionalResult{.outcome = NotRunOutcome(decided->outcome),
                               .record = decided->record,
                               .handler_status = Status::Ok()};
  }
  Result<DedupRecord> consumed = RunHandlerLocked(handler, decided->record, request.retention);
  Status failure = consumed.status();
  if (consumed.ok()) {
    failure = txn.Commit();
    if (failure.ok()) {
      return TransactionalResult{
          .outcome = TransactionalOutcome::kCommitted, .record = *consumed, .handler_status = Status::Ok()};
    }
    if (!txn.open()) {  // SQLite ended it: an I/O error while syncing may still have made it durable
      return Status::Unavailable("sqlite dedup store: commit outcome unknown: " + failure.message());
    }
  }
  txn.Rollback();
  Result<DedupRecord> recorded = RecordFailureLocked(claim, failure);
  if (!recorded.ok()) return recorded.status();
  return TransactionalResult{
      .outcome = TransactionalOutcome::kHandlerFailed, .record = *recorded, .handler_status = failure};
}

}  // namespace oncemq::client
