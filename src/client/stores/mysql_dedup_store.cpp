#include "client/stores/mysql_dedup_store.h"

#include <mysqld_error.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <iterator>
#include <map>
#include <random>
#include <thread>
#include <tuple>
#include <utility>

#include "client/sql/mysql_sql.h"
#include "client/stores/dedup_rules.h"

namespace oncemq::client {

namespace {

constexpr size_t kMaxGroup = 255;
constexpr size_t kMaxKey = 1024;
constexpr size_t kMaxOwner = 255;
constexpr size_t kMaxHash = 255;
constexpr size_t kMaxError = 16 * 1024;
constexpr int kAttempts = 5;          // of a transaction that met a deadlock or lock wait timeout
constexpr size_t kSweepChunk = 1000;  // records deleted per Sweep transaction

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS oncemq_dedup(
  group_id VARBINARY(255) NOT NULL,
  dedup_key VARBINARY(1024) NOT NULL,
  state VARBINARY(16) NOT NULL,
  owner VARBINARY(255) NOT NULL,
  fencing_token BIGINT NOT NULL,
  lease_until_ms BIGINT NOT NULL,
  retain_until_ms BIGINT NOT NULL,
  attempts INT NOT NULL,
  last_error BLOB NOT NULL,
  payload_hash VARBINARY(255) NULL,
  result LONGBLOB NULL,
  updated_ms BIGINT NOT NULL,
  PRIMARY KEY(group_id, dedup_key),
  KEY oncemq_dedup_sweep(state, retain_until_ms)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC;
CREATE TABLE IF NOT EXISTS oncemq_dedup_meta(
  name VARBINARY(64) NOT NULL PRIMARY KEY,
  value BIGINT NOT NULL
) ENGINE=InnoDB;
INSERT IGNORE INTO oncemq_dedup_meta(name, value) VALUES('token_high_water', 0))sql";

constexpr const char* kColumns =
    "group_id, dedup_key, state, owner, fencing_token, lease_until_ms, retain_until_ms, attempts, "
    "last_error, payload_hash, result, updated_ms";

// Makes an INSERT overwrite every column of an existing row.
constexpr const char* kOverwrite =
    " ON DUPLICATE KEY UPDATE state = VALUES(state), owner = VALUES(owner), "
    "fencing_token = VALUES(fencing_token), lease_until_ms = VALUES(lease_until_ms), "
    "retain_until_ms = VALUES(retain_until_ms), attempts = VALUES(attempts), "
    "last_error = VALUES(last_error), payload_hash = VALUES(payload_hash), result = VALUES(result), "
    "updated_ms = VALUES(updated_ms)";

// The state of a placeholder row: inserted at the start of a claim transaction for a key without a
// record, always overwritten before that transaction commits.
constexpr std::string_view kPlaceholder = "";

using Key = std::pair<std::string, std::string>;  // (group, key)

Status Corrupt(const std::string& what) {
  return Status::Corruption("mysql dedup store: " + what);
}

bool Retriable(unsigned int error) {
  return error == ER_LOCK_DEADLOCK || error == ER_LOCK_WAIT_TIMEOUT;
}

void Backoff(int attempt) {
  thread_local std::minstd_rand random(
      static_cast<unsigned>(std::hash<std::thread::id>()(std::this_thread::get_id())));
  const int ceiling_ms = 2 << attempt;
  std::this_thread::sleep_for(std::chrono::milliseconds(1 + random() % ceiling_ms));
}

void RollbackQuietly(MysqlConnection& c) {
  if (!c.lost()) (void)c.Run("ROLLBACK");
}

std::string Hex(const std::optional<std::string>& bytes) {
  return bytes ? HexLiteral(*bytes) : std::string("NULL");
}

std::string Truncated(const std::string& text) {
  if (text.size() <= kMaxError) return text;
  size_t n = kMaxError;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;  // not inside a character
  return text.substr(0, n);
}

std::string WhereKey(const std::string& group, const std::string& key) {
  return "(group_id = " + HexLiteral(group) + " AND dedup_key = " + HexLiteral(key) + ")";
}

// A condition matching any of `keys` (non-empty): a row-constructor IN list, which MySQL and MariaDB turn
// into one primary-key range per key (no scan, so FOR UPDATE locks only these rows).
std::string WhereAnyKey(const std::vector<Key>& keys) {
  std::string out = "(group_id, dedup_key) IN (";
  for (size_t i = 0; i < keys.size(); ++i) {
    out += i == 0 ? "(" : ", (";
    out += HexLiteral(keys[i].first);
    out += ", ";
    out += HexLiteral(keys[i].second);
    out += ')';
  }
  return out + ")";
}

// The VALUES tuple of a record. `retain` and `updated` are SQL, so a commit can use the clock of its own
// statement.
std::string RecordTuple(const DedupRecord& r, const std::string& retain, const std::string& updated) {
  return "(" + HexLiteral(r.group) + ", " + HexLiteral(r.key) + ", '" + std::string(StateName(r.state)) +
         "', " + HexLiteral(r.owner) + ", " + std::to_string(r.fencing_token) + ", " +
         std::to_string(r.lease_until_ms) + ", " + retain + ", " + std::to_string(r.attempts) + ", " +
         HexLiteral(Truncated(r.last_error)) + ", " + Hex(r.payload_hash) + ", " + Hex(r.result) + ", " +
         updated + ")";
}

std::string RecordTuple(const DedupRecord& r) {
  return RecordTuple(r, std::to_string(r.retain_until_ms), std::to_string(r.updated_ms));
}

// One INSERT that writes every record, overwriting existing rows.
std::string UpsertSql(const std::vector<std::string>& tuples) {
  std::string sql = std::string("INSERT INTO oncemq_dedup(") + kColumns + ") VALUES ";
  for (size_t i = 0; i < tuples.size(); ++i) sql += (i == 0 ? "" : ", ") + tuples[i];
  return sql + kOverwrite;
}

// Placeholder rows for `keys` (sorted), inserted in key order; an existing row is left as it is. Either
// way the statement leaves this transaction holding each row's exclusive lock.
std::string LockSql(const std::vector<Key>& keys) {
  std::string sql = std::string("INSERT INTO oncemq_dedup(") + kColumns + ") VALUES ";
  for (size_t i = 0; i < keys.size(); ++i) {
    sql += (i == 0 ? "(" : ", (") + HexLiteral(keys[i].first) + ", " + HexLiteral(keys[i].second) + ", '" +
           std::string(kPlaceholder) + "', X'', 0, 0, 0, 0, X'', NULL, NULL, 0)";
  }
  return sql + " ON DUPLICATE KEY UPDATE fencing_token = fencing_token";
}

bool ParseInt(const std::optional<std::string>& text, int64_t* out) {
  if (!text) return false;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), *out);
  return ec == std::errc() && end == text->data() + text->size();
}

// A token-checked UPDATE of one key's CONSUMING row.
std::string FencedUpdateSql(const std::string& set, const std::string& group, const std::string& key,
                            int64_t token) {
  return "UPDATE oncemq_dedup SET " + set + " WHERE " + WhereKey(group, key) +
         " AND fencing_token = " + std::to_string(token) + " AND state = 'CONSUMING'";
}

// A row of kColumns. A placeholder row is no record (nullopt) when `placeholder_ok`, else corruption.
Result<std::optional<DedupRecord>> ParseRecord(const SqlRow& row, bool placeholder_ok) {
  if (row.size() != 12 || !row[0] || !row[1] || !row[2]) return Corrupt("unexpected row shape");
  DedupRecord r;
  r.group = *row[0];
  r.key = *row[1];
  if (*row[2] == kPlaceholder && placeholder_ok) return std::optional<DedupRecord>();
  const std::optional<DedupState> state = ParseState(*row[2]);
  if (!state) return Corrupt("unknown state '" + *row[2] + "' of key " + r.key);
  r.state = *state;
  r.owner = row[3].value_or("");
  int64_t attempts = 0;
  const std::pair<int, int64_t*> numbers[] = {{4, &r.fencing_token},
                                              {5, &r.lease_until_ms},
                                              {6, &r.retain_until_ms},
                                              {7, &attempts},
                                              {11, &r.updated_ms}};
  for (const auto& [column, out] : numbers) {
    if (!ParseInt(row[column], out))
      return Corrupt("bad number in column " + std::to_string(column) + " of key " + r.key);
  }
  r.attempts = static_cast<int32_t>(attempts);
  r.last_error = row[8].value_or("");
  r.payload_hash = row[9];
  r.result = row[10];
  return std::optional<DedupRecord>(std::move(r));
}

Status CheckLimits(const std::string& group, const std::string& key, const std::string& owner,
                   const std::optional<std::string>& hash) {
  if (group.size() > kMaxGroup)
    return Status::InvalidArgument("mysql dedup store: group longer than 255 bytes");
  if (key.size() > kMaxKey) return Status::InvalidArgument("mysql dedup store: key longer than 1024 bytes");
  if (owner.size() > kMaxOwner)
    return Status::InvalidArgument("mysql dedup store: owner longer than 255 bytes");
  if (hash && hash->size() > kMaxHash) {
    return Status::InvalidArgument("mysql dedup store: payload hash longer than 255 bytes");
  }
  return Status::Ok();
}

Status ValidateRequest(const ClaimRequest& r) {
  if (Status s = ValidateClaim(r); !s.ok()) return s;
  return CheckLimits(r.group, r.key, r.owner, r.payload_hash);
}

// What RunOnce answers for a claim outcome that does not run the handler.
TransactionalOutcome NotRun(ClaimOutcome outcome) {
  switch (outcome) {
    case ClaimOutcome::kDuplicate: return TransactionalOutcome::kDuplicate;
    case ClaimOutcome::kPayloadMismatch: return TransactionalOutcome::kPayloadMismatch;
    default: return TransactionalOutcome::kInProgress;
  }
}

}  // namespace

// The rows of a claim transaction's keys, read under their locks, with the clock and high-water mark.
struct MysqlDedupStore::Locked {
  int64_t now_ms = 0;
  int64_t high_water = 0;
  std::map<Key, std::optional<DedupRecord>> rows;  // nullopt: no record (a placeholder)
};

MysqlDedupStore::MysqlDedupStore(MysqlEndpoint endpoint, const MysqlDedupStoreOptions& options)
    : clock_skew_ms_(options.clock_skew_ms),
      pool_(std::move(endpoint), options.connection, options.pool_size, options.pool_wait) {}

MysqlDedupStore::~MysqlDedupStore() = default;

Result<std::unique_ptr<MysqlDedupStore>> MysqlDedupStore::Open(const MysqlDedupStoreOptions& options) {
  Result<MysqlEndpoint> endpoint = ParseMysqlUri(options.uri);
  if (!endpoint.ok()) return endpoint.status();
  std::unique_ptr<MysqlDedupStore> store(new MysqlDedupStore(std::move(endpoint).value(), options));
  Result<MysqlPool::Lease> c = store->pool_.Acquire();
  if (!c.ok()) return c.status();
  Result<std::vector<StatementResult>> created = (*c)->Run(kSchema);
  if (!created.ok()) return created.status();
  return store;
}

std::string MysqlDedupStore::Now() const {
  return "(CAST(FLOOR(@@timestamp * 1000) AS SIGNED) + " + std::to_string(clock_skew_ms_.load()) + ")";
}

Result<std::vector<StatementResult>> MysqlDedupStore::Read(const std::string& sql) {
  for (int attempt = 0;; ++attempt) {
    Result<MysqlPool::Lease> c = pool_.Acquire();
    if (!c.ok()) return c.status();
    Result<std::vector<StatementResult>> r = (*c)->Run(sql);
    if (r.ok() || !(*c)->lost() || attempt == 1) return r;
  }
}

Result<int64_t> MysqlDedupStore::NowMs() {
  Result<std::vector<StatementResult>> r = Read("SELECT " + Now());
  if (!r.ok()) return r.status();
  int64_t now = 0;
  if (r->size() != 1 || (*r)[0].rows.size() != 1 || !ParseInt((*r)[0].rows[0][0], &now)) {
    return Corrupt("unexpected clock reply");
  }
  return now;
}

Result<std::optional<DedupRecord>> MysqlDedupStore::Get(const std::string& group, const std::string& key) {
  Result<std::vector<StatementResult>> r =
      Read(std::string("SELECT ") + kColumns + " FROM oncemq_dedup WHERE " + WhereKey(group, key));
  if (!r.ok()) return r.status();
  if (r->size() != 1 || (*r)[0].rows.size() > 1) return Corrupt("unexpected reply to a record read");
  if ((*r)[0].rows.empty()) return std::optional<DedupRecord>();
  return ParseRecord((*r)[0].rows[0], /*placeholder_ok=*/false);
}

// Opens the transaction and locks the rows of every key of `requests` (see the header).
Result<MysqlDedupStore::Locked> MysqlDedupStore::LockRows(MysqlConnection& c,
                                                          std::span<const ClaimRequest> requests) {
  std::vector<Key> keys;
  for (const ClaimRequest& r : requests) keys.emplace_back(r.group, r.key);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  const std::string sql =
      "START TRANSACTION; " + LockSql(keys) + "; SELECT " + Now() +
      ", value FROM oncemq_dedup_meta WHERE name = 'token_high_water' LOCK IN SHARE MODE; "
      "SELECT " +
      kColumns + " FROM oncemq_dedup WHERE " + WhereAnyKey(keys) + " ORDER BY group_id, dedup_key FOR UPDATE";
  Result<std::vector<StatementResult>> r = c.Run(sql);
  if (!r.ok()) return r.status();
  if (r->size() != 4 || (*r)[2].rows.size() != 1 || (*r)[2].rows[0].size() != 2) {
    return Corrupt("the token high-water row is missing");
  }
  Locked locked;
  if (!ParseInt((*r)[2].rows[0][0], &locked.now_ms) || !ParseInt((*r)[2].rows[0][1], &locked.high_water)) {
    return Corrupt("bad clock or token high-water mark");
  }
  for (const SqlRow& row : (*r)[3].rows) {
    Result<std::optional<DedupRecord>> record = ParseRecord(row, /*placeholder_ok=*/true);
    if (!record.ok()) return record.status();
    locked.rows[{*row[0], *row[1]}] = std::move(record).value();
  }
  if (locked.rows.size() != keys.size()) return Corrupt("a locked row is missing");
  return locked;
}

Result<std::vector<ClaimResult>> MysqlDedupStore::ClaimOnce(MysqlConnection& c,
                                                            std::span<const ClaimRequest> requests) {
  Result<Locked> locked = LockRows(c, requests);
  if (!locked.ok()) return locked.status();
  std::vector<ClaimResult> results;
  std::map<Key, const DedupRecord*> changed;
  for (const ClaimRequest& request : requests) {
    std::optional<DedupRecord>& found = locked->rows[{request.group, request.key}];
    ClaimResult result = DecideClaim(found, request, locked->now_ms, locked->high_water + 1);
    if (result.outcome == ClaimOutcome::kClaimed || result.outcome == ClaimOutcome::kTakenOver) {
      found = result.record;
    }
    results.push_back(std::move(result));
  }
  for (const ClaimResult& result : results) {
    if (result.outcome == ClaimOutcome::kClaimed || result.outcome == ClaimOutcome::kTakenOver) {
      changed[{result.record.group, result.record.key}] = &result.record;
    }
  }
  std::vector<std::string> tuples;
  for (const auto& [key, record] : changed) tuples.push_back(RecordTuple(*record));
  Result<std::vector<StatementResult>> written =
      c.Run(tuples.empty() ? "COMMIT" : UpsertSql(tuples) + "; COMMIT");
  if (!written.ok()) return written.status();
  return results;
}

Result<std::vector<ClaimResult>> MysqlDedupStore::Claim(std::span<const ClaimRequest> requests) {
  for (const ClaimRequest& r : requests) {
    if (Status s = ValidateRequest(r); !s.ok()) return s;
  }
  if (requests.empty()) return std::vector<ClaimResult>();
  Result<MysqlPool::Lease> c = pool_.Acquire();
  if (!c.ok()) return c.status();
  for (int attempt = 0;; ++attempt) {
    Result<std::vector<ClaimResult>> results = ClaimOnce(**c, requests);
    if (results.ok()) return results;
    RollbackQuietly(**c);
    if (!Retriable((*c)->last_errno())) return results.status();
    if (attempt + 1 == kAttempts) {
      return Status::Unavailable("mysql dedup store: claim gave up after " + std::to_string(kAttempts) +
                                 " attempts: " + results.status().message());
    }
    Backoff(attempt);
  }
}

Result<FencedOutcome> MysqlDedupStore::FencedUpdate(const std::string& set, const std::string& group,
                                                    const std::string& key, int64_t token) {
  const std::string sql = FencedUpdateSql(set, group, key, token);
  Result<MysqlPool::Lease> c = pool_.Acquire();
  if (!c.ok()) return c.status();
  Result<std::vector<StatementResult>> r = (*c)->Run(sql);
  if (!r.ok()) {
    if ((*c)->lost()) return Status::Unavailable(r.status().message() + " (outcome unknown)");
    return r.status();
  }
  return (*r)[0].affected_rows == 1 ? FencedOutcome::kOk : FencedOutcome::kFenced;
}

Result<FencedOutcome> MysqlDedupStore::Renew(const std::string& group, const std::string& key, int64_t token,
                                             std::chrono::milliseconds lease) {
  const std::string now = Now();
  return FencedUpdate(
      "lease_until_ms = " + now + " + " + std::to_string(lease.count()) + ", updated_ms = " + now, group, key,
      token);
}

std::string MysqlDedupStore::CompleteSet(std::chrono::milliseconds retention,
                                         const std::optional<std::string>& result) const {
  const std::string now = Now();
  return "state = 'CONSUMED', retain_until_ms = " + now + " + " + std::to_string(retention.count()) +
         ", result = " + Hex(result) + ", updated_ms = " + now;
}

Result<FencedOutcome> MysqlDedupStore::Complete(const std::string& group, const std::string& key,
                                                int64_t token, std::chrono::milliseconds retention,
                                                std::optional<std::string> result) {
  return FencedUpdate(CompleteSet(retention, result), group, key, token);
}

// One transaction of Complete's UPDATEs: the rows are locked in key order, as Claim locks them, so the two
// cannot deadlock; a key's requests keep their order, so its first one with the current token completes it
// and later repeats are fenced. CLIENT_FOUND_ROWS makes each UPDATE's count its outcome.
Result<std::vector<FencedOutcome>> MysqlDedupStore::CompleteBatchOnce(
    MysqlConnection& c, std::span<const CompleteRequest> requests) {
  std::vector<size_t> order(requests.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::tie(requests[a].group, requests[a].key) < std::tie(requests[b].group, requests[b].key);
  });
  std::string sql = "START TRANSACTION";
  for (size_t i : order) {
    const CompleteRequest& r = requests[i];
    sql += "; " + FencedUpdateSql(CompleteSet(r.retention, r.result), r.group, r.key, r.token);
  }
  Result<std::vector<StatementResult>> done = c.Run(sql + "; COMMIT");
  if (!done.ok()) return done.status();
  if (done->size() != requests.size() + 2) return Corrupt("unexpected reply to a complete batch");
  std::vector<FencedOutcome> outcomes(requests.size());
  for (size_t n = 0; n < order.size(); ++n) {
    outcomes[order[n]] = (*done)[n + 1].affected_rows == 1 ? FencedOutcome::kOk : FencedOutcome::kFenced;
  }
  return outcomes;
}

Result<std::vector<FencedOutcome>> MysqlDedupStore::CompleteBatch(std::span<const CompleteRequest> requests) {
  if (requests.empty()) return std::vector<FencedOutcome>();
  Result<MysqlPool::Lease> c = pool_.Acquire();
  if (!c.ok()) return c.status();
  for (int attempt = 0;; ++attempt) {
    Result<std::vector<FencedOutcome>> outcomes = CompleteBatchOnce(**c, requests);
    if (outcomes.ok()) return outcomes;
    if ((*c)->lost()) return Status::Unavailable(outcomes.status().message() + " (outcome unknown)");
    RollbackQuietly(**c);
    if (!Retriable((*c)->last_errno())) return outcomes.status();
    if (attempt + 1 == kAttempts) {
      return Status::Unavailable("mysql dedup store: complete batch gave up after " +
                                 std::to_string(kAttempts) + " attempts: " + outcomes.status().message());
    }
    Backoff(attempt);
  }
}

Result<FencedOutcome> MysqlDedupStore::Release(const std::string& group, const std::string& key,
                                               int64_t token, const std::string& error) {
  return FencedUpdate("state = 'RELEASED', attempts = attempts + 1, last_error = " +
                          HexLiteral(Truncated(error)) + ", updated_ms = " + Now(),
                      group, key, token);
}

// Deletes up to `limit` (≤ kSweepChunk) swept records in one READ COMMITTED transaction (no gap locks).
Result<size_t> MysqlDedupStore::SweepOnce(MysqlConnection& c, size_t limit) {
  Result<std::vector<StatementResult>> r = c.Run(
      "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION; "
      "SELECT group_id, dedup_key, fencing_token FROM oncemq_dedup WHERE state = 'CONSUMED' AND "
      "retain_until_ms <= " +
      Now() + " LIMIT " + std::to_string(limit) + " FOR UPDATE");
  if (!r.ok()) return r.status();
  std::vector<Key> keys;
  int64_t high_water = 0;
  for (const SqlRow& row : r->back().rows) {
    int64_t token = 0;
    if (row.size() != 3 || !row[0] || !row[1] || !ParseInt(row[2], &token))
      return Corrupt("bad row in sweep");
    keys.emplace_back(*row[0], *row[1]);
    high_water = std::max(high_water, token);
  }
  if (keys.empty()) {
    Result<std::vector<StatementResult>> done = c.Run("COMMIT");
    return done.ok() ? Result<size_t>(size_t{0}) : Result<size_t>(done.status());
  }
  Result<std::vector<StatementResult>> deleted =
      c.Run("DELETE FROM oncemq_dedup WHERE state = 'CONSUMED' AND (" + WhereAnyKey(keys) +
            "); UPDATE oncemq_dedup_meta SET value = GREATEST(value, " + std::to_string(high_water) +
            ") WHERE name = 'token_high_water'; COMMIT");
  if (!deleted.ok()) return deleted.status();
  return static_cast<size_t>((*deleted)[0].affected_rows);
}

Result<size_t> MysqlDedupStore::Sweep(size_t limit) {
  size_t swept = 0;
  Result<MysqlPool::Lease> c = pool_.Acquire();
  if (!c.ok()) return c.status();
  for (int attempt = 0; swept < limit;) {
    const size_t chunk = std::min(limit - swept, kSweepChunk);
    Result<size_t> n = SweepOnce(**c, chunk);
    if (!n.ok()) {
      RollbackQuietly(**c);
      if (!Retriable((*c)->last_errno()) || ++attempt == kAttempts) return n.status();
      Backoff(attempt);
      continue;
    }
    swept += *n;
    if (*n < chunk) break;
  }
  return swept;
}

// --- Transactional mode ---

Result<TransactionalResult> MysqlDedupStore::CommitConsumed(MysqlConnection& c,
                                                            const TransactionalRequest& request,
                                                            DedupRecord claim,
                                                            std::optional<std::string> result) {
  claim.state = DedupState::kConsumed;
  claim.lease_until_ms = 0;
  claim.result = std::move(result);
  const std::string now = Now();
  const std::string sql =
      UpsertSql({RecordTuple(claim, now + " + " + std::to_string(request.retention.count()), now)}) +
      "; SELECT retain_until_ms, updated_ms FROM oncemq_dedup WHERE " + WhereKey(claim.group, claim.key) +
      "; COMMIT";
  Result<std::vector<StatementResult>> r = c.Run(sql);
  if (!r.ok()) return r.status();
  if (r->size() != 3 || (*r)[1].rows.size() != 1 || (*r)[1].rows[0].size() != 2 ||
      !ParseInt((*r)[1].rows[0][0], &claim.retain_until_ms) ||
      !ParseInt((*r)[1].rows[0][1], &claim.updated_ms)) {
    return Corrupt("unexpected reply to the transactional commit");
  }
  return TransactionalResult{TransactionalOutcome::kCommitted, std::move(claim), Status::Ok()};
}

Result<TransactionalResult> MysqlDedupStore::RunOnce(const TransactionalRequest& request,
                                                     const TransactionalHandler& handler) {
  const ClaimRequest q{.group = request.group,
                       .key = request.key,
                       .owner = request.owner,
                       .lease = std::chrono::milliseconds(1),
                       .payload_hash = request.payload_hash};
  if (Status s = ValidateRequest(q); !s.ok()) return s;
  if (request.retention.count() <= 0)
    return Status::InvalidArgument("mysql dedup store: retention must be positive");
  std::optional<Result<MysqlPool::Lease>> c(pool_.Acquire());
  if (!c->ok()) return c->status();
  MysqlConnection& conn = ***c;
  Result<Locked> locked = Status::Unavailable("not tried");
  for (int attempt = 0;; ++attempt) {
    locked = LockRows(conn, std::span(&q, 1));
    if (locked.ok()) break;
    RollbackQuietly(conn);
    if (!Retriable(conn.last_errno()) || attempt + 1 == kAttempts) return locked.status();
    Backoff(attempt);
  }
  const std::optional<DedupRecord> found = locked->rows.begin()->second;
  ClaimResult decided = DecideClaim(found, q, locked->now_ms, locked->high_water + 1);
  if (decided.outcome != ClaimOutcome::kClaimed && decided.outcome != ClaimOutcome::kTakenOver) {
    RollbackQuietly(conn);
    return TransactionalResult{NotRun(decided.outcome), std::move(decided.record), Status::Ok()};
  }
  DedupRecord claim = std::move(decided.record);
  claim.lease_until_ms = 0;  // no lease in transactional mode: the row lock stands for it
  MysqlTransaction tx(conn);
  std::optional<std::string> result;
  Status failed = handler(tx, claim, result);
  if (failed.ok()) failed = tx.broken();
  if (failed.ok()) {
    Result<TransactionalResult> committed = CommitConsumed(conn, request, claim, std::move(result));
    if (committed.ok() || conn.lost()) {
      if (!committed.ok())
        return Status::Unavailable(committed.status().message() + " (commit outcome unknown)");
      return committed;
    }
    failed = committed.status();
  }
  RollbackQuietly(conn);
  c.reset();  // RecordFailure takes a connection of its own
  return RecordFailure(request, claim, found, failed);
}

// Records a failed RunOnce attempt (attempts + 1, last error, kReleased) unless the key's row changed since
// the attempt read it (another consumer moved on).
Result<TransactionalResult> MysqlDedupStore::RecordFailure(const TransactionalRequest& request,
                                                           const DedupRecord& claim,
                                                           const std::optional<DedupRecord>& found,
                                                           const Status& why) {
  const ClaimRequest q{.group = request.group,
                       .key = request.key,
                       .owner = request.owner,
                       .lease = std::chrono::milliseconds(1),
                       .payload_hash = request.payload_hash};
  Result<MysqlPool::Lease> c = pool_.Acquire();
  const std::string context = " (while recording the handler's failure: " + why.ToString() + ")";
  if (!c.ok()) return Status(c.status().code(), c.status().message() + context);
  for (int attempt = 0;; ++attempt) {
    Result<Locked> locked = LockRows(**c, std::span(&q, 1));
    Status s = locked.status();
    if (locked.ok()) {
      const std::optional<DedupRecord>& now_found = locked->rows.begin()->second;
      const bool changed = now_found && (!found || found->state != now_found->state ||
                                         found->fencing_token != now_found->fencing_token);
      if (changed) {
        RollbackQuietly(**c);
        return TransactionalResult{TransactionalOutcome::kHandlerFailed, *now_found, why};
      }
      DedupRecord failed = claim;
      failed.state = DedupState::kReleased;
      failed.attempts = claim.attempts + 1;
      failed.last_error = Truncated(why.message());
      failed.result = std::nullopt;
      failed.retain_until_ms = 0;
      failed.updated_ms = locked->now_ms;
      Result<std::vector<StatementResult>> written = (*c)->Run(UpsertSql({RecordTuple(failed)}) + "; COMMIT");
      if (written.ok())
        return TransactionalResult{TransactionalOutcome::kHandlerFailed, std::move(failed), why};
      s = written.status();
    }
    RollbackQuietly(**c);
    if (!Retriable((*c)->last_errno()) || attempt + 1 == kAttempts) {
      return Status(s.code(), s.message() + context);
    }
    Backoff(attempt);
  }
}

}  // namespace oncemq::client
