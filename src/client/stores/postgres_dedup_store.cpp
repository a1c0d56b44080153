#include "client/stores/postgres_dedup_store.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <set>
#include <utility>

#include "client/sql/postgres_sql.h"
#include "client/stores/dedup_rules.h"
#include "client/stores/sql_placeholders.h"

namespace oncemq::client {

namespace {

using Params = std::vector<std::optional<std::string>>;
using KeyOf = std::pair<std::string, std::string>;  // (group, key)

constexpr std::string_view kPrefix = "postgres dedup store: ";

// Taken by Open around creating the tables: CREATE TABLE IF NOT EXISTS alone races with itself.
constexpr std::string_view kSchema[] = {
    "BEGIN",
    "SELECT pg_advisory_xact_lock(7957695029367898484)",  // a constant of ours
    R"sql(CREATE TABLE IF NOT EXISTS oncemq_dedup(
  group_id text NOT NULL,
  dedup_key text NOT NULL,
  state text NOT NULL,
  owner text NOT NULL,
  fencing_token bigint NOT NULL,
  lease_until_ms bigint NOT NULL,
  retain_until_ms bigint NOT NULL,
  attempts integer NOT NULL,
  last_error text NOT NULL,
  payload_hash bytea,
  result bytea,
  updated_ms bigint NOT NULL,
  PRIMARY KEY(group_id, dedup_key)))sql",
    "CREATE INDEX IF NOT EXISTS oncemq_dedup_sweep ON oncemq_dedup(retain_until_ms) WHERE state = 'CONSUMED'",
    "CREATE TABLE IF NOT EXISTS oncemq_dedup_meta(name text PRIMARY KEY, value bigint NOT NULL)",
    "COMMIT",
};

// The store clock in ms since the epoch, plus the test skew bound as parameter $n.
std::string NowExpr(int n) {
  return "(floor(extract(epoch from clock_timestamp()) * 1000)::bigint + $" + std::to_string(n) + "::bigint)";
}

// A record's columns, bytea as hex so that the text protocol carries them unchanged.
constexpr std::string_view kColumns =
    "group_id, dedup_key, state, owner, fencing_token, lease_until_ms, retain_until_ms, attempts, "
    "last_error, "
    "encode(payload_hash, 'hex'), encode(result, 'hex'), updated_ms";

// kColumns with names, for a CTE's select list.
constexpr std::string_view kClaimColumns =
    "group_id, dedup_key, state, owner, fencing_token, lease_until_ms, retain_until_ms, attempts, "
    "last_error, encode(payload_hash, 'hex') AS hash_hex, encode(result, 'hex') AS result_hex, updated_ms";

// Claim, round trip 1, in one statement: new keys are inserted as claims at once (token = the swept-token
// high-water mark + 1; a key repeated in the batch is inserted for its first request), and the rows that
// already existed are locked, in key order, for the caller to decide. The statement's snapshot does not see
// its own inserts, so each key comes back once: tagged true (inserted) or false (existing, locked). A key
// that comes back neither way was inserted or deleted by a concurrent transaction in between; the caller
// starts over. An inserted row answers only what the server chose — token, lease end and time; the rest is
// the key's first request (ClaimedRecord) — and when every key was inserted the existing rows are not
// looked for at all (a one-time filter). Parameters: per key group, key, owner, lease ms, hash as hex or
// NULL; $6 the skew.
std::string ClaimRowsSql() {
  return "WITH u AS (SELECT DISTINCT ON (g, k) g, k, owner, lease, hash FROM unnest($1::text[], $2::text[], "
         "$3::text[], $4::bigint[], $5::text[]) WITH ORDINALITY AS r(g, k, owner, lease, hash, pos) "
         "ORDER BY g, k, pos), "
         "n AS (SELECT " +
         NowExpr(6) +
         " AS now_ms, coalesce((SELECT value FROM oncemq_dedup_meta WHERE name = 'swept_token_high_water'), "
         "0) AS high_water), "
         "inserted AS (INSERT INTO oncemq_dedup(group_id, dedup_key, state, owner, fencing_token, "
         "lease_until_ms, retain_until_ms, attempts, last_error, payload_hash, result, updated_ms) "
         "SELECT u.g, u.k, 'CONSUMING', u.owner, n.high_water + 1, n.now_ms + u.lease, 0, 0, '', "
         "decode(u.hash, 'hex'), NULL, n.now_ms FROM u, n ORDER BY u.g COLLATE \"C\", u.k COLLATE \"C\" "
         "ON CONFLICT (group_id, dedup_key) DO NOTHING "
         "RETURNING group_id, dedup_key, fencing_token, lease_until_ms, updated_ms), "
         "existing AS (SELECT " +
         std::string(kClaimColumns) +
         " FROM oncemq_dedup WHERE (SELECT count(*) FROM inserted) < (SELECT count(*) FROM u) "
         "AND (group_id, dedup_key) IN (SELECT g, k FROM u) "
         "ORDER BY group_id COLLATE \"C\", dedup_key COLLATE \"C\" FOR UPDATE) "
         "SELECT group_id, dedup_key, NULL::text, NULL::text, fencing_token, lease_until_ms, NULL::bigint, "
         "NULL::integer, NULL::text, NULL::text, NULL::text, updated_ms, true FROM inserted "
         "UNION ALL SELECT *, false FROM existing";
}

std::string ClockSql() {
  return "SELECT " + NowExpr(1) +
         ", coalesce((SELECT value FROM oncemq_dedup_meta WHERE name = 'swept_token_high_water'), 0)";
}

// Claim, round trip 2: every claimed row in one statement.
constexpr std::string_view kWriteClaims =
    "UPDATE oncemq_dedup AS d SET state = 'CONSUMING', owner = u.owner, fencing_token = u.token, "
    "lease_until_ms = u.lease, retain_until_ms = 0, attempts = u.attempts, last_error = u.error, "
    "payload_hash = decode(u.hash, 'hex'), result = NULL, updated_ms = $9::bigint "
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::int[], $7::text[], "
    "$8::text[]) AS u(g, k, owner, token, lease, attempts, error, hash) "
    "WHERE d.group_id = u.g AND d.dedup_key = u.k";

// The token-checked transitions: $1 group, $2 key, $3 token.
constexpr std::string_view kTokenChecked =
    " WHERE group_id = $1 AND dedup_key = $2 AND fencing_token = $3::bigint AND state = 'CONSUMING'";

std::string RenewSql() {
  return "UPDATE oncemq_dedup SET lease_until_ms = n.now_ms + $4::bigint, updated_ms = n.now_ms FROM "
         "(SELECT " +
         NowExpr(5) + ") AS n(now_ms)" + std::string(kTokenChecked);
}

std::string CompleteSql() {
  return "UPDATE oncemq_dedup SET state = 'CONSUMED', retain_until_ms = n.now_ms + $4::bigint, "
         "result = decode($5, 'hex'), updated_ms = n.now_ms FROM (SELECT " +
         NowExpr(6) + ") AS n(now_ms)" + std::string(kTokenChecked);
}

std::string ReleaseSql() {
  return "UPDATE oncemq_dedup SET state = 'RELEASED', attempts = attempts + 1, last_error = $4, "
         "updated_ms = n.now_ms FROM (SELECT " +
         NowExpr(5) + ") AS n(now_ms)" + std::string(kTokenChecked);
}

// CompleteBatch in one statement. $1..$5 are per request (group, key, token, retention ms, result as hex or
// NULL), $6 the skew. The UPDATE's own WHERE is the token check (the row's current token, on a CONSUMING
// row), so there is no separate locking pass: READ COMMITTED re-checks that WHERE on the newest version of
// a row another transaction changed meanwhile, exactly as Complete's single-row UPDATE does. Per key only the
// first request carrying each token takes part (DISTINCT ON … ORDER BY pos), so at most one request per row
// matches; a repeat of the key then finds it done, as a Complete after it would. The requests are sorted by
// key (bytewise, as Claim sorts) and joined by a nested loop over the primary key, so rows are written — and
// locked — in key order, as Claim locks them. Every row gets one store time; the answer is the 1-based
// positions of the requests that completed.
std::string CompleteBatchSql() {
  return "WITH n AS (SELECT " + NowExpr(6) +
         " AS now_ms) "
         "UPDATE oncemq_dedup AS d SET state = 'CONSUMED', retain_until_ms = n.now_ms + w.retention, "
         "result = decode(w.result, 'hex'), updated_ms = n.now_ms "
         "FROM (SELECT DISTINCT ON (g COLLATE \"C\", k COLLATE \"C\", token) g, k, token, retention, result, "
         "pos "
         "FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[]) "
         "WITH ORDINALITY AS u(g, k, token, retention, result, pos) "
         "ORDER BY g COLLATE \"C\", k COLLATE \"C\", token, pos) AS w, n "
         "WHERE d.group_id = w.g AND d.dedup_key = w.k AND d.fencing_token = w.token AND d.state = "
         "'CONSUMING' "
         "RETURNING w.pos";
}

// Deletes up to $2 expired CONSUMED rows (skipping rows a claim holds) and raises the high-water mark to
// their largest token, in one statement.
std::string SweepSql() {
  return "WITH victims AS (SELECT group_id, dedup_key FROM oncemq_dedup WHERE state = 'CONSUMED' AND "
         "retain_until_ms <= " +
         NowExpr(1) +
         " LIMIT $2::bigint FOR UPDATE SKIP LOCKED), "
         "gone AS (DELETE FROM oncemq_dedup AS d USING victims AS v "
         "WHERE d.group_id = v.group_id AND d.dedup_key = v.dedup_key RETURNING d.fencing_token), "
         "mark AS (INSERT INTO oncemq_dedup_meta(name, value) "
         "SELECT 'swept_token_high_water', max(fencing_token) FROM gone HAVING count(*) > 0 "
         "ON CONFLICT (name) DO UPDATE SET value = GREATEST(oncemq_dedup_meta.value, excluded.value)) "
         "SELECT count(*) FROM gone";
}

// RunOnce: the CONSUMED row written with the handler's change; the failure recorded after a rollback.
std::string WriteConsumedSql() {
  return "INSERT INTO oncemq_dedup(group_id, dedup_key, state, owner, fencing_token, lease_until_ms, "
         "retain_until_ms, attempts, last_error, payload_hash, result, updated_ms) "
         "SELECT $1, $2, 'CONSUMED', $3, $4::bigint, n.now_ms, n.now_ms + $5::bigint, $6::int, $7, "
         "decode($8, 'hex'), decode($9, 'hex'), n.now_ms FROM (SELECT " +
         NowExpr(10) +
         ") AS n(now_ms) "
         "ON CONFLICT (group_id, dedup_key) DO UPDATE SET state = excluded.state, owner = excluded.owner, "
         "fencing_token = excluded.fencing_token, lease_until_ms = excluded.lease_until_ms, "
         "retain_until_ms = excluded.retain_until_ms, attempts = excluded.attempts, "
         "last_error = excluded.last_error, payload_hash = excluded.payload_hash, result = excluded.result, "
         "updated_ms = excluded.updated_ms RETURNING " +
         std::string(kColumns);
}

// $1..$8 as in WriteConsumedSql without retention and result. Writes only if the row is still as the
// attempt found it ($9 its token, $10 its state; or no row at all when $9 is NULL): a consumer that claimed
// or consumed the key in between keeps its newer record.
std::string WriteFailureSql() {
  return "INSERT INTO oncemq_dedup AS d(group_id, dedup_key, state, owner, fencing_token, lease_until_ms, "
         "retain_until_ms, attempts, last_error, payload_hash, result, updated_ms) "
         "SELECT $1, $2, 'RELEASED', $3, $4::bigint, n.now_ms, 0, $5::int, $6, decode($7, 'hex'), NULL, "
         "n.now_ms FROM (SELECT " +
         NowExpr(8) +
         ") AS n(now_ms) "
         "ON CONFLICT (group_id, dedup_key) DO UPDATE SET state = excluded.state, owner = excluded.owner, "
         "fencing_token = excluded.fencing_token, lease_until_ms = excluded.lease_until_ms, "
         "retain_until_ms = 0, attempts = excluded.attempts, last_error = excluded.last_error, "
         "payload_hash = excluded.payload_hash, result = NULL, updated_ms = excluded.updated_ms "
         "WHERE d.fencing_token = $9::bigint AND d.state = $10 RETURNING " +
         std::string(kColumns);
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

std::optional<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, value, 16);
    if (ec != std::errc() || end != hex.data() + 2 * i + 2) return std::nullopt;
    out[i] = static_cast<char>(value);
  }
  return out;
}

std::optional<std::string> HexOrNull(const std::optional<std::string>& bytes) {
  if (!bytes) return std::nullopt;
  return HexEncode(*bytes);
}

// A PostgreSQL array literal of text elements (nullopt: NULL), each quoted and escaped.
std::string TextArray(const std::vector<std::optional<std::string>>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.push_back(',');
    if (!items[i]) {
      out += "NULL";
      continue;
    }
    out.push_back('"');
    for (char c : *items[i]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  return out + "}";
}

std::string IntArray(const std::vector<int64_t>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(items[i]);
  }
  return out + "}";
}

// libpq sends parameters as C strings: a NUL would cut a key short and make it another key.
Status CheckNoNul(std::string_view what, std::string_view text) {
  if (text.find('\0') == std::string_view::npos) return Status::Ok();
  return Status::InvalidArgument(std::string(kPrefix) + std::string(what) + " contains a NUL byte");
}

Status CheckKey(const std::string& group, const std::string& key) {
  if (Status s = CheckNoNul("group", group); !s.ok()) return s;
  return CheckNoNul("key", key);
}

Status Corrupt(const std::string& what) {
  return Status::Corruption(std::string(kPrefix) + what);
}

// Row `row` of a result with kColumns. nullopt for a placeholder ('NEW': no record).
Result<std::optional<DedupRecord>> ParseRecord(const PGresult* result, int row) {
  if (PQnfields(result) < 12) return Corrupt("unexpected column count");  // the claim's has a 13th
  const auto text = [&](int column) { return std::string(PQgetvalue(result, row, column)); };
  const auto bytes = [&](int column) -> std::optional<std::optional<std::string>> {
    if (PQgetisnull(result, row, column)) return std::optional<std::string>();
    std::optional<std::string> decoded = HexDecode(PQgetvalue(result, row, column));
    if (!decoded) return std::nullopt;
    return decoded;
  };
  DedupRecord r;
  r.group = text(0);
  r.key = text(1);
  const std::string state = text(2);
  if (state == "NEW") return std::optional<DedupRecord>();
  const std::optional<DedupState> parsed = ParseState(state);
  if (!parsed) return Corrupt("unknown state '" + state + "' of key " + r.key);
  r.state = *parsed;
  r.owner = text(3);
  r.last_error = text(8);
  int64_t attempts = 0;
  const std::pair<int, int64_t*> numbers[] = {{4, &r.fencing_token},
                                              {5, &r.lease_until_ms},
                                              {6, &r.retain_until_ms},
                                              {7, &attempts},
                                              {11, &r.updated_ms}};
  for (const auto& [column, out] : numbers) {
    if (PQgetisnull(result, row, column) || !PgParseInt(PQgetvalue(result, row, column), out)) {
      return Corrupt("bad number in the record of key " + r.key);
    }
  }
  r.attempts = static_cast<int32_t>(attempts);
  std::optional<std::optional<std::string>> hash = bytes(9);
  std::optional<std::optional<std::string>> kept = bytes(10);
  if (!hash || !kept) return Corrupt("bad bytea in the record of key " + r.key);
  r.payload_hash = std::move(*hash);
  r.result = std::move(*kept);
  return std::optional<DedupRecord>(std::move(r));
}

// The record a claim's insert wrote for `request` (the key's first request in its batch): the row answers
// only what the server chose — columns 4 (token), 5 (lease end) and 11 (store time) of ClaimRowsSql.
Result<std::optional<DedupRecord>> ClaimedRecord(const ClaimRequest& request, const PGresult* result,
                                                 int row) {
  DedupRecord r;
  r.group = request.group;
  r.key = request.key;
  r.state = DedupState::kConsuming;
  r.owner = request.owner;
  r.payload_hash = request.payload_hash;
  const std::pair<int, int64_t*> numbers[] = {
      {4, &r.fencing_token}, {5, &r.lease_until_ms}, {11, &r.updated_ms}};
  for (const auto& [column, out] : numbers) {
    if (PQgetisnull(result, row, column) || !PgParseInt(PQgetvalue(result, row, column), out)) {
      return Corrupt("bad number in the claim of key " + r.key);
    }
  }
  return std::optional<DedupRecord>(std::move(r));
}

Result<int64_t> ChangedRows(const PGresult* result) {
  int64_t changed = 0;
  if (!PgParseInt(PQcmdTuples(const_cast<PGresult*>(result)), &changed)) return Corrupt("bad row count");
  return changed;
}

// Text the server accepts for a text column: invalid UTF-8 and NUL bytes become '?'. Used for last_error,
// which must be recordable whatever the handler put in it.
std::string StorableText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool valid = len != 0 && c != 0 && i + len <= text.size();
    for (size_t j = 1; valid && j < len; ++j) valid = (static_cast<unsigned char>(text[i + j]) >> 6) == 0x2;
    if (valid && len > 1) {  // reject overlong forms, surrogates and code points past U+10FFFF
      const auto c1 = static_cast<unsigned char>(text[i + 1]);
      valid = !(c < 0xc2) && !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0) &&
              !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90) && c <= 0xf4;
    }
    if (!valid) {
      out.push_back('?');
      ++i;
      continue;
    }
    out.append(text.substr(i, len));
    i += len;
  }
  return out;
}

bool Claims(ClaimOutcome outcome) {
  return outcome == ClaimOutcome::kClaimed || outcome == ClaimOutcome::kTakenOver;
}

}  // namespace

// The rows of a transaction's keys after round trip 1, with the clock read once the locks were held.
struct PostgresDedupStore::Locked {
  int64_t now_ms = 0;
  int64_t high_water = 0;
  std::map<KeyOf, std::optional<DedupRecord>> rows;  // every requested key; nullopt: no record
  std::set<KeyOf> inserted;                          // keys whose row this transaction inserted as a claim
};

PostgresDedupStore::PostgresDedupStore(const PostgresDedupStoreOptions& options)
    : options_(options),
      clock_skew_ms_(options.clock_skew_ms),
      pool_({.conninfo = options.uri, .size = options.pool_size, .acquire_timeout = options.acquire_timeout},
            &round_trips_) {}

Result<std::unique_ptr<PostgresDedupStore>> PostgresDedupStore::Open(
    const PostgresDedupStoreOptions& options) {
  if (options.pool_size == 0)
    return Status::InvalidArgument(std::string(kPrefix) + "pool size must be positive");
  std::unique_ptr<PostgresDedupStore> store(new PostgresDedupStore(options));
  std::vector<PgStatement> schema;
  for (std::string_view sql : kSchema) schema.push_back({std::string(sql), {}});
  Result<bool> created = store->Run<bool>(OnLost::kRetryOnce, [&](PgConnection& conn) -> Result<bool> {
    Result<std::vector<PgResult>> done = conn.Pipeline(schema);
    if (!done.ok()) return done.status();
    return true;
  });
  if (!created.ok()) return created.status();
  return store;
}

template <typename T, typename Attempt>
Result<T> PostgresDedupStore::Run(OnLost on_lost, const Attempt& attempt) {
  bool may_retry_lost = on_lost == OnLost::kRetryOnce;
  for (int conflicts = 0;;) {
    Result<PgPool::Lease> lease = pool_.Acquire();
    if (!lease.ok()) return lease.status();
    Result<T> result = attempt(**lease);
    if (result.ok()) return result;
    switch ((*lease)->last_failure()) {
      case PgConnection::Failure::kConflict:
        if (conflicts++ < options_.conflict_retries) continue;
        return Status::Unavailable(result.status().message() + " (still conflicting after " +
                                   std::to_string(options_.conflict_retries) + " retries)");
      case PgConnection::Failure::kLost:
        if (may_retry_lost) {
          may_retry_lost = false;
          continue;
        }
        return result;
      default: return result;
    }
  }
}

Result<PostgresDedupStore::Locked> PostgresDedupStore::LockKeys(PgConnection& conn,
                                                                std::span<const ClaimRequest> requests) {
  std::vector<std::optional<std::string>> groups, keys, owners, leases, hashes;
  for (const ClaimRequest& r : requests) {
    groups.emplace_back(r.group);
    keys.emplace_back(r.key);
    owners.emplace_back(r.owner);
    leases.emplace_back(std::to_string(r.lease.count()));
    hashes.push_back(HexOrNull(r.payload_hash));
  }
  static const std::string claim_rows = ClaimRowsSql();
  const PgStatement statements[] = {
      {"BEGIN", {}},
      {claim_rows,
       {TextArray(groups), TextArray(keys), TextArray(owners), TextArray(leases), TextArray(hashes), Skew()}},
      // After the locks: a Sweep that committed meanwhile has raised the high-water mark (see ClaimOnce).
      {ClockSql(), {Skew()}},
  };
  Result<std::vector<PgResult>> results = conn.Pipeline(statements);
  if (!results.ok()) return results.status();
  Locked locked;
  // Each key's first request: the one its insert was made for.
  std::map<std::pair<std::string_view, std::string_view>, const ClaimRequest*> first;
  for (const ClaimRequest& r : requests) {
    first.try_emplace(std::pair<std::string_view, std::string_view>(r.group, r.key), &r);
    locked.rows.emplace(KeyOf(r.group, r.key), std::nullopt);
  }
  const PGresult* rows = (*results)[1].get();
  if (PQnfields(rows) != 13) {
    conn.RollbackIfOpen();
    return Corrupt("unexpected column count");
  }
  for (int i = 0; i < PQntuples(rows); ++i) {
    const KeyOf key(PQgetvalue(rows, i, 0), PQgetvalue(rows, i, 1));
    const bool inserted = std::string_view(PQgetvalue(rows, i, 12)) == "t";
    const auto request = first.find(std::pair<std::string_view, std::string_view>(key.first, key.second));
    Result<std::optional<DedupRecord>> record = Corrupt("the claim answered a key it was not asked for");
    if (!inserted) {
      record = ParseRecord(rows, i);
    } else if (request != first.end()) {
      record = ClaimedRecord(*request->second, rows, i);
    }
    if (!record.ok()) {
      conn.RollbackIfOpen();
      return record.status();
    }
    if (inserted) locked.inserted.insert(key);
    locked.rows[key] = std::move(*record);
  }
  if (static_cast<size_t>(PQntuples(rows)) != locked.rows.size())
    return conn.Conflict("a key's row appeared or vanished during the claim");
  const PGresult* clock = (*results)[2].get();
  if (PQntuples(clock) != 1 || !PgParseInt(PQgetvalue(clock, 0, 0), &locked.now_ms) ||
      !PgParseInt(PQgetvalue(clock, 0, 1), &locked.high_water)) {
    conn.RollbackIfOpen();
    return Corrupt("bad clock or high-water mark");
  }
  return locked;
}

Result<std::vector<ClaimResult>> PostgresDedupStore::Claim(std::span<const ClaimRequest> requests) {
  for (const ClaimRequest& r : requests) {
    if (Status s = ValidateClaim(r); !s.ok()) return s;
    if (Status s = CheckKey(r.group, r.key); !s.ok()) return s;
    if (Status s = CheckNoNul("owner", r.owner); !s.ok()) return s;
  }
  if (requests.empty()) return std::vector<ClaimResult>();
  return Run<std::vector<ClaimResult>>(OnLost::kRetryOnce,
                                       [&](PgConnection& conn) { return ClaimOnce(conn, requests); });
}

Result<std::vector<ClaimResult>> PostgresDedupStore::ClaimOnce(PgConnection& conn,
                                                               std::span<const ClaimRequest> requests) {
  Result<Locked> locked = LockKeys(conn, requests);
  if (!locked.ok()) return locked.status();
  std::vector<ClaimResult> results;
  std::vector<const DedupRecord*> changed;
  for (const ClaimRequest& r : requests) {
    const KeyOf key(r.group, r.key);
    std::optional<DedupRecord>& row = locked->rows[key];
    if (locked->inserted.erase(key) > 0) {  // our new claim, made for the key's first request
      ClaimResult result{ClaimOutcome::kClaimed, *row};
      // The key was swept by a Sweep that committed while the insert waited: its tokens must go on
      // growing, so the claim takes one above the mark that Sweep left.
      if (result.record.fencing_token <= locked->high_water) {
        result.record.fencing_token = locked->high_water + 1;
        row = result.record;
        changed.push_back(&*row);
      }
      results.push_back(std::move(result));
      continue;
    }
    ClaimResult result = DecideClaim(row, r, locked->now_ms, locked->high_water + 1);
    if (Claims(result.outcome)) {
      row = result.record;  // a repeat of the key in this batch sees this claim
      changed.push_back(&*row);
    }
    results.push_back(std::move(result));
  }
  std::vector<PgStatement> statements;
  if (!changed.empty()) {
    std::vector<std::optional<std::string>> groups, keys, owners, errors, hashes;
    std::vector<int64_t> tokens, leases, attempts;
    for (const DedupRecord* r : changed) {
      groups.emplace_back(r->group);
      keys.emplace_back(r->key);
      owners.emplace_back(r->owner);
      errors.emplace_back(r->last_error);
      hashes.push_back(HexOrNull(r->payload_hash));
      tokens.push_back(r->fencing_token);
      leases.push_back(r->lease_until_ms);
      attempts.push_back(r->attempts);
    }
    statements.push_back(
        {std::string(kWriteClaims),
         {TextArray(groups), TextArray(keys), TextArray(owners), IntArray(tokens), IntArray(leases),
          IntArray(attempts), TextArray(errors), TextArray(hashes), std::to_string(locked->now_ms)}});
  }
  statements.push_back({"COMMIT", {}});
  Result<std::vector<PgResult>> written = conn.Pipeline(statements);
  if (!written.ok() && conn.last_failure() == PgConnection::Failure::kLost) {
    conn.MarkFailureFinal();
    return Status::Unavailable(written.status().message() + " (the claim's outcome is unknown)");
  }
  if (!written.ok()) return written.status();
  return results;
}

Result<FencedOutcome> PostgresDedupStore::FencedUpdate(const char* sql, Params params) {
  return Run<FencedOutcome>(OnLost::kNeverRetry, [&](PgConnection& conn) -> Result<FencedOutcome> {
    Result<PgResult> result = conn.Exec(sql, params);
    if (!result.ok() && conn.last_failure() == PgConnection::Failure::kLost) {
      return Status::Unavailable(result.status().message() + " (outcome unknown)");
    }
    if (!result.ok()) return result.status();
    Result<int64_t> changed = ChangedRows(result->get());
    if (!changed.ok()) return changed.status();
    return *changed == 1 ? FencedOutcome::kOk : FencedOutcome::kFenced;
  });
}

Result<FencedOutcome> PostgresDedupStore::Renew(const std::string& group, const std::string& key,
                                                int64_t token, std::chrono::milliseconds lease) {
  if (Status s = CheckKey(group, key); !s.ok()) return s;
  static const std::string sql = RenewSql();
  return FencedUpdate(sql.c_str(),
                      {group, key, std::to_string(token), std::to_string(lease.count()), Skew()});
}

Result<FencedOutcome> PostgresDedupStore::Complete(const std::string& group, const std::string& key,
                                                   int64_t token, std::chrono::milliseconds retention,
                                                   std::optional<std::string> result) {
  if (Status s = CheckKey(group, key); !s.ok()) return s;
  static const std::string sql = CompleteSql();
  return FencedUpdate(sql.c_str(), {group, key, std::to_string(token), std::to_string(retention.count()),
                                    HexOrNull(result), Skew()});
}

Result<std::vector<FencedOutcome>> PostgresDedupStore::CompleteBatch(
    std::span<const CompleteRequest> requests) {
  std::vector<FencedOutcome> outcomes(requests.size(), FencedOutcome::kFenced);
  if (requests.empty()) return outcomes;
  std::vector<std::optional<std::string>> groups, keys, results;
  std::vector<int64_t> tokens, retentions;
  for (const CompleteRequest& r : requests) {
    if (Status s = CheckKey(r.group, r.key); !s.ok()) return s;
    groups.emplace_back(r.group);
    keys.emplace_back(r.key);
    tokens.push_back(r.token);
    retentions.push_back(r.retention.count());
    results.push_back(HexOrNull(r.result));
  }
  static const std::string sql = CompleteBatchSql();
  const Params params = {TextArray(groups),    TextArray(keys),    IntArray(tokens),
                         IntArray(retentions), TextArray(results), Skew()};
  Result<PgResult> done = Run<PgResult>(OnLost::kNeverRetry, [&](PgConnection& conn) -> Result<PgResult> {
    Result<PgResult> result = conn.Exec(sql, params);
    if (!result.ok() && conn.last_failure() == PgConnection::Failure::kLost) {
      return Status::Unavailable(result.status().message() + " (outcome unknown)");
    }
    return result;
  });
  if (!done.ok()) return done.status();
  const PGresult* rows = done->get();
  for (int i = 0; i < PQntuples(rows); ++i) {
    int64_t pos = 0;
    if (!PgParseInt(PQgetvalue(rows, i, 0), &pos) || pos < 1 || static_cast<size_t>(pos) > requests.size() ||
        outcomes[pos - 1] == FencedOutcome::kOk) {
      return Corrupt("bad position in the complete batch's answer");
    }
    outcomes[pos - 1] = FencedOutcome::kOk;
  }
  return outcomes;
}

Result<FencedOutcome> PostgresDedupStore::Release(const std::string& group, const std::string& key,
                                                  int64_t token, const std::string& error) {
  if (Status s = CheckKey(group, key); !s.ok()) return s;
  static const std::string sql = ReleaseSql();
  return FencedUpdate(sql.c_str(), {group, key, std::to_string(token), StorableText(error), Skew()});
}

Result<std::optional<DedupRecord>> PostgresDedupStore::Get(const std::string& group, const std::string& key) {
  if (Status s = CheckKey(group, key); !s.ok()) return s;
  static const std::string sql =
      "SELECT " + std::string(kColumns) + " FROM oncemq_dedup WHERE group_id = $1 AND dedup_key = $2";
  const Params params = {group, key};
  return Run<std::optional<DedupRecord>>(OnLost::kRetryOnce,
                                         [&](PgConnection& conn) -> Result<std::optional<DedupRecord>> {
                                           Result<PgResult> result = conn.Exec(sql, params);
                                           if (!result.ok()) return result.status();
                                           if (PQntuples(result->get()) == 0)
                                             return std::optional<DedupRecord>();
                                           return ParseRecord(result->get(), 0);
                                         });
}

Result<size_t> PostgresDedupStore::Sweep(size_t limit) {
  static const std::string sql = SweepSql();
  const Params params = {Skew(), std::to_string(std::min<size_t>(limit, INT64_MAX))};
  return Run<size_t>(OnLost::kNeverRetry, [&](PgConnection& conn) -> Result<size_t> {
    Result<PgResult> result = conn.Exec(sql, params);
    if (!result.ok()) return result.status();
    int64_t swept = 0;
    if (PQntuples(result->get()) != 1 || !PgParseInt(PQgetvalue(result->get(), 0, 0), &swept)) {
      return Corrupt("bad sweep count");
    }
    return static_cast<size_t>(swept);
  });
}

Result<int64_t> PostgresDedupStore::NowMs() {
  static const std::string sql = "SELECT " + NowExpr(1);
  const Params params = {Skew()};
  return Run<int64_t>(OnLost::kRetryOnce, [&](PgConnection& conn) -> Result<int64_t> {
    Result<PgResult> result = conn.Exec(sql, params);
    if (!result.ok()) return result.status();
    int64_t now = 0;
    if (PQntuples(result->get()) != 1 || !PgParseInt(PQgetvalue(result->get(), 0, 0), &now)) {
      return Corrupt("bad clock");
    }
    return now;
  });
}

Result<TransactionalResult> PostgresDedupStore::RunOnce(const TransactionalRequest& request,
                                                        const TransactionalHandler& handler) {
  ClaimRequest claim;
  claim.group = request.group;
  claim.key = request.key;
  claim.owner = request.owner;
  if (Status s = ValidateClaim(claim); !s.ok()) return s;
  if (Status s = CheckKey(request.group, request.key); !s.ok()) return s;
  if (Status s = CheckNoNul("owner", request.owner); !s.ok()) return s;
  if (request.retention.count() <= 0) {
    return Status::InvalidArgument(std::string(kPrefix) + "retention must be positive");
  }
  return Run<TransactionalResult>(OnLost::kRetryOnce,
                                  [&](PgConnection& conn) { return RunOnceAttempt(conn, request, handler); });
}

Result<TransactionalResult> PostgresDedupStore::RunOnceAttempt(PgConnection& conn,
                                                               const TransactionalRequest& request,
                                                               const TransactionalHandler& handler) {
  const ClaimRequest claim_request{.group = request.group,
                                   .key = request.key,
                                   .owner = request.owner,
                                   .lease = request.retention,
                                   .payload_hash = request.payload_hash};
  Result<Locked> locked = LockKeys(conn, std::span(&claim_request, 1));
  if (!locked.ok()) return locked.status();
  // A row LockKeys inserted is this attempt's own claim: the key had no record.
  const std::optional<DedupRecord> found =
      locked->inserted.empty() ? locked->rows.begin()->second : std::nullopt;
  ClaimResult decided = DecideClaim(found, claim_request, locked->now_ms, locked->high_water + 1);
  if (!Claims(decided.outcome)) {
    conn.RollbackIfOpen();  // drops nothing but the row lock: the key had a row
    const TransactionalOutcome outcome =
        decided.outcome == ClaimOutcome::kDuplicate    ? TransactionalOutcome::kDuplicate
        : decided.outcome == ClaimOutcome::kInProgress ? TransactionalOutcome::kInProgress
                                                       : TransactionalOutcome::kPayloadMismatch;
    return TransactionalResult{.outcome = outcome, .record = std::move(decided.record), .handler_status = {}};
  }
  DedupRecord claim = std::move(decided.record);
  claim.lease_until_ms = 0;  // transactional mode has no lease
  std::optional<std::string> kept;
  PgTransaction tx(conn);
  Status handled = handler(tx, claim, kept);
  // From here on the handler ran: a lost connection is never retried (the caller redelivers).
  if (tx.worst_failure() == PgConnection::Failure::kLost || PQstatus(conn.native()) != CONNECTION_OK) {
    conn.MarkFailureFinal();
    return Status::Unavailable(std::string(kPrefix) +
                               "the connection was lost during the handler: " + handled.message());
  }
  if (tx.worst_failure() == PgConnection::Failure::kConflict) return conn.Conflict("conflict in the handler");
  if (!handled.ok()) {
    conn.RollbackIfOpen();
    return RecordFailure(conn, found, std::move(claim), std::move(handled));
  }
  if (PQtransactionStatus(conn.native()) != PQTRANS_INTRANS) {
    conn.RollbackIfOpen();
    return RecordFailure(
        conn, found, std::move(claim),
        Status::InvalidArgument(std::string(kPrefix) +
                                "the handler ended the transaction or ignored an SQL error"));
  }
  static const std::string write_sql = WriteConsumedSql();
  const PgStatement statements[] = {
      {write_sql,
       {claim.group, claim.key, claim.owner, std::to_string(claim.fencing_token),
        std::to_string(request.retention.count()), std::to_string(claim.attempts), claim.last_error,
        HexOrNull(claim.payload_hash), HexOrNull(kept), Skew()}},
      {"COMMIT", {}}};
  Result<std::vector<PgResult>> committed = conn.Pipeline(statements);
  if (!committed.ok()) {
    switch (conn.last_failure()) {
      case PgConnection::Failure::kLost:
        conn.MarkFailureFinal();
        return Status::Unavailable(committed.status().message() + " (the commit's outcome is unknown)");
      case PgConnection::Failure::kConflict: return committed.status();  // Run runs the attempt again
      default: return RecordFailure(conn, found, std::move(claim), committed.status());
    }
  }
  Result<std::optional<DedupRecord>> written = ParseRecord((*committed)[0].get(), 0);
  if (!written.ok()) return written.status();
  if (!written->has_value()) return Corrupt("the consumed record was not written");
  return TransactionalResult{
      .outcome = TransactionalOutcome::kCommitted, .record = std::move(**written), .handler_status = {}};
}

Result<TransactionalResult> PostgresDedupStore::RecordFailure(PgConnection& conn,
                                                              const std::optional<DedupRecord>& found,
                                                              DedupRecord claim, Status why) {
  claim.state = DedupState::kReleased;
  claim.attempts += 1;
  claim.last_error = StorableText(why.message());
  static const std::string sql = WriteFailureSql();
  const Params params = {
      claim.group,
      claim.key,
      claim.owner,
      std::to_string(claim.fencing_token),
      std::to_string(claim.attempts),
      claim.last_error,
      HexOrNull(claim.payload_hash),
      Skew(),
      found ? std::optional<std::string>(std::to_string(found->fencing_token)) : std::nullopt,
      found ? std::optional<std::string>(StateName(found->state)) : std::nullopt};
  Result<PgResult> result = conn.Exec(sql, params);
  if (!result.ok()) {
    conn.MarkFailureFinal();  // the handler ran: the caller redelivers rather than this running it again
    return Status(result.status().code(),
                  result.status().message() + " (recording the handler's failure: " + why.message() + ")");
  }
  if (PQntuples(result->get()) == 1) {
    Result<std::optional<DedupRecord>> written = ParseRecord(result->get(), 0);
    if (!written.ok()) return written.status();
    if (written->has_value()) claim = std::move(**written);
  }
  return TransactionalResult{.outcome = TransactionalOutcome::kHandlerFailed,
                             .record = std::move(claim),
                             .handler_status = std::move(why)};
}

}  // namespace oncemq::client
