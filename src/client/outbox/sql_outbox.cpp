#include "client/outbox/sql_outbox.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "client/outbox/outbox_codec.h"
#include "client/outbox/outbox_dialect.h"

namespace oncemq::client {

namespace {

constexpr size_t kMaxTopic = 249;  // Kafka's limit
constexpr size_t kMaxMsgId = 255;
constexpr size_t kMaxError = 4'000;
constexpr size_t kRowsPerInsert = 100;

constexpr std::string_view kColumnsHead =
    "id, msg_id, topic, status, attempts, last_error, created_ms, next_attempt_ms, lease_until_ms, claim, "
    "done_ms, partition_id, offset_id";

std::string IdList(std::span<const int64_t> ids) {
  std::string list;
  for (int64_t id : ids) {
    if (!list.empty()) list += ", ";
    list += std::to_string(id);
  }
  return list;
}

bool ParseInt(const std::optional<std::string>& text, int64_t* out) {
  if (!text) return false;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), *out);
  return ec == std::errc() && end == text->data() + text->size();
}

Status Corrupt(std::string_view what) {
  return Status::Corruption("outbox: " + std::string(what));
}

// A last error as every engine's text column takes it: printable ASCII, bounded.
std::string CleanError(std::string_view error) {
  std::string clean(error.substr(0, kMaxError));
  for (char& c : clean) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return clean;
}

std::optional<OutboxStatus> ParseStatus(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  for (OutboxStatus s : {OutboxStatus::kSending, OutboxStatus::kSent, OutboxStatus::kFailed}) {
    if (*text == OutboxStatusName(s)) return s;
  }
  return std::nullopt;
}

Status Validate(const OutgoingMessage& m) {
  if (m.topic.empty() || m.topic.size() > kMaxTopic) {
    return Status::InvalidArgument("outbox: a message needs a topic of 1 to 249 bytes");
  }
  if (m.msg_id.size() > kMaxMsgId) return Status::InvalidArgument("outbox: msg-id longer than 255 bytes");
  return Status::Ok();
}

class SqlOutbox final : public Outbox {
 public:
  explicit SqlOutbox(std::shared_ptr<SqlDatabase> database)
      : database_(std::move(database)), d_(DialectFor(database_->engine())) {}

  Status CreateSchema() {
    for (const std::string& statement : d_.schema) {
      if (Status s = database_->Execute(statement); !s.ok()) return s;
    }
    return Status::Ok();
  }

  SqlDatabase* database() override { return database_.get(); }

  Result<std::string> Send(SqlTransaction& tx, OutgoingMessage message) override {
    std::vector<OutgoingMessage> one;
    one.push_back(std::move(message));
    Result<std::vector<std::string>> ids = Send(tx, std::move(one));
    if (!ids.ok()) return ids.status();
    return std::move(ids->front());
  }

  Result<std::vector<std::string>> Send(SqlTransaction& tx, std::vector<OutgoingMessage> messages) override {
    if (tx.engine() != d_.engine) {
      return Status::InvalidArgument("outbox: the transaction is on another database engine than the outbox");
    }
    return Insert(tx, messages);
  }

  Result<std::vector<std::string>> Send(std::vector<OutgoingMessage> messages) override {
    Result<std::vector<std::string>> ids = std::vector<std::string>();
    Status s = database_->Transact([&](SqlTransaction& tx) {
      ids = Insert(tx, messages);
      return ids.status();
    });
    if (!s.ok()) return s;
    return ids;
  }

  Result<std::vector<OutboxEntry>> Claim(const std::string& claim, std::chrono::milliseconds lease,
                                         size_t limit) override {
    if (claim.empty() || claim.size() > 255)
      return Status::InvalidArgument("outbox: claim name of 1 to 255 bytes");
    if (lease.count() <= 0 || limit == 0)
      return Status::InvalidArgument("outbox: lease and limit must be positive");
    std::vector<OutboxEntry> entries;
    Status s = database_->Transact([&](SqlTransaction& tx) -> Status {
      entries.clear();
      if (!d_.claim_setting.empty()) {
        if (Result<int64_t> set = tx.Execute(d_.claim_setting); !set.ok()) return set.status();
      }
      Result<int64_t> now = Now(tx);
      if (!now.ok()) return now.status();
      Result<std::vector<int64_t>> candidates = Ids(tx, CandidatesSql(*now, limit));
      if (!candidates.ok() || candidates->empty()) return candidates.status();
      Result<std::vector<int64_t>> locked = Ids(tx, LockSql(*candidates, *now));
      if (!locked.ok() || locked->empty()) return locked.status();
      const std::string take =
          "UPDATE oncemq_outbox SET claim = ?, lease_until_ms = " + std::to_string(*now + lease.count()) +
          ", attempts = attempts + 1 WHERE id IN (" + IdList(*locked) + ")";
      const SqlParam params[] = {claim};
      if (Result<int64_t> n = tx.Execute(take, params); !n.ok()) return n.status();
      Result<std::vector<OutboxEntry>> read = Read(tx, "id IN (" + IdList(*locked) + ") ORDER BY id", {});
      if (!read.ok()) return read.status();
      entries = std::move(*read);
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return entries;
  }

  Result<Recorded> Record(const std::string& claim, std::span<const SendOutcome> outcomes,
                          const RetryRule& rule) override {
    if (outcomes.empty()) return Recorded{};
    if (rule.max_attempts < 1) return Status::InvalidArgument("outbox: max_attempts must be at least 1");
    Recorded recorded;
    Status s = database_->Transact([&](SqlTransaction& tx) -> Status {
      recorded = Recorded{};
      Result<int64_t> now = Now(tx);
      if (!now.ok()) return now.status();
      std::vector<const SendOutcome*> acked;
      std::vector<const SendOutcome*> nacked;
      for (const SendOutcome& o : outcomes) (o.status.ok() ? acked : nacked).push_back(&o);
      Result<size_t> sent = RecordSent(tx, claim, acked, *now);
      if (!sent.ok()) return sent.status();
      recorded.sent = *sent;
      return RecordUnsent(tx, claim, nacked, *now, rule, recorded);
    });
    if (!s.ok()) return s;
    return recorded;
  }

  Result<size_t> Purge(std::chrono::milliseconds retention, size_t limit) override {
    size_t purged = 0;
    Status s = database_->Transact([&](SqlTransaction& tx) -> Status {
      Result<int64_t> now = Now(tx);
      if (!now.ok()) return now.status();
      Result<std::vector<int64_t>> ids = Ids(
          tx, "SELECT id FROM oncemq_outbox WHERE status = 'SENT' AND done_ms <= " +
                  std::to_string(*now - retention.count()) + " ORDER BY id LIMIT " + std::to_string(limit));
      if (!ids.ok() || ids->empty()) return ids.status();
      Result<int64_t> n = tx.Execute("DELETE FROM oncemq_outbox WHERE id IN (" + IdList(*ids) + ")");
      if (!n.ok()) return n.status();
      purged = static_cast<size_t>(*n);
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return purged;
  }

  Result<std::vector<OutboxEntry>> List(const OutboxListFilter& filter) override {
    std::string where = "id > " + std::to_string(filter.after_id);
    std::vector<SqlParam> params;
    if (filter.status) {
      where += " AND status = ?";
      params.emplace_back(std::string(OutboxStatusName(*filter.status)));
    }
    where += " ORDER BY id LIMIT " + std::to_string(filter.limit);
    std::vector<OutboxEntry> entries;
    Status s = database_->Transact([&](SqlTransaction& tx) -> Status {
      Result<std::vector<OutboxEntry>> read = Read(tx, where, params);
      if (!read.ok()) return read.status();
      entries = std::move(*read);
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return entries;
  }

  Result<std::optional<OutboxEntry>> Get(int64_t id) override {
    Result<std::vector<OutboxEntry>> found = List({.status = std::nullopt, .after_id = id - 1, .limit = 1});
    if (!found.ok()) return found.status();
    if (found->empty() || found->front().id != id) return std::optional<OutboxEntry>();
    return std::optional<OutboxEntry>(std::move(found->front()));
  }

  Result<OutboxCounts> Counts() override {
    OutboxCounts counts;
    Status s = database_->Transact([&](SqlTransaction& tx) -> Status {
      Result<std::vector<SqlRow>> rows =
          tx.Query("SELECT status, COUNT(*) FROM oncemq_outbox GROUP BY status");
      if (!rows.ok()) return rows.status();
      for (const SqlRow& row : *rows) {
        int64_t n = 0;
        const std::optional<OutboxStatus> status = row.size() == 2 ? ParseStatus(row[0]) : std::nullopt;
        if (!status || !ParseInt(row[1], &n)) return Corrupt("bad status count");
        if (*status == OutboxStatus::kSending) counts.sending = n;
        if (*status == OutboxStatus::kSent) counts.sent = n;
        if (*status == OutboxStatus::kFailed) counts.failed = n;
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return counts;
  }

  Result<bool> Retry(int64_t id) override {
    return ChangeFailed(
        "UPDATE oncemq_outbox SET status = 'SENDING', attempts = 0, next_attempt_ms = " + d_.now +
        ", lease_until_ms = 0, claim = '', done_ms = 0 WHERE id = " + std::to_string(id) +
        " AND status = 'FAILED'");
  }

  Result<bool> Drop(int64_t id) override {
    return ChangeFailed("DELETE FROM oncemq_outbox WHERE id = " + std::to_string(id) +
                        " AND status = 'FAILED'");
  }

 private:
  Result<std::vector<std::string>> Insert(SqlTransaction& tx, std::vector<OutgoingMessage>& messages) {
    std::vector<std::string> ids;
    for (OutgoingMessage& m : messages) {
      if (Status s = Validate(m); !s.ok()) return s;
      if (m.msg_id.empty()) m.msg_id = NewMessageId();
      ids.push_back(m.msg_id);
    }
    for (size_t first = 0; first < messages.size(); first += kRowsPerInsert) {
      const size_t n = std::min(kRowsPerInsert, messages.size() - first);
      std::vector<SqlParam> params;
      std::string sql =
          "INSERT INTO oncemq_outbox(msg_id, topic, order_key, msg_key, payload, headers, status, attempts, "
          "last_error, claim, lease_until_ms, next_attempt_ms, created_ms, done_ms, partition_id, offset_id) "
          "VALUES ";
      for (size_t i = first; i < first + n; ++i) {
        if (i > first) sql += ", ";
        sql += "(?, ?, ?, " + d_.bytes_in + ", " + d_.bytes_in + ", " + d_.bytes_in +
               ", 'SENDING', 0, '', '', 0, " + d_.now + ", " + d_.now + ", 0, -1, -1)";
        AppendParams(messages[i], params);
      }
      sql += d_.insert_ignore;
      if (Result<int64_t> r = tx.Execute(sql, params); !r.ok()) return r.status();
    }
    return ids;
  }

  void AppendParams(const OutgoingMessage& m, std::vector<SqlParam>& params) const {
    auto bytes = [&](const std::string& b) { return d_.bytes_in_hex ? ToHex(b) : b; };
    params.emplace_back(m.msg_id);
    params.emplace_back(m.topic);
    params.emplace_back(OrderKey(m.topic, m.key));
    params.emplace_back(m.key ? SqlParam(bytes(*m.key)) : std::nullopt);
    params.emplace_back(bytes(m.payload));
    params.emplace_back(bytes(EncodeHeaders(m.headers)));
  }

  Result<int64_t> Now(SqlTransaction& tx) {
    Result<std::vector<SqlRow>> rows = tx.Query("SELECT " + d_.now);
    if (!rows.ok()) return rows.status();
    int64_t now = 0;
    if (rows->size() != 1 || rows->front().size() != 1 || !ParseInt(rows->front()[0], &now)) {
      return Corrupt("bad clock reply");
    }
    return now;
  }

  // Due, unleased SENDING rows with no earlier SENDING row of their order key, oldest first. Status only
  // moves on from SENDING (until a person's Retry), so an unlocked read of the earlier rows is safe.
  // "ORDER BY status, id" is the (status, id) index's own order: a planner with stale statistics would
  // otherwise walk the primary key through every SENT row to find the first SENDING one.
  std::string CandidatesSql(int64_t now, size_t limit) const {
    const std::string t = std::to_string(now);
    return "SELECT o.id FROM oncemq_outbox o WHERE o.status = 'SENDING' AND o.next_attempt_ms <= " + t +
           " AND o.lease_until_ms <= " + t +
           " AND (o.order_key IS NULL OR NOT EXISTS (SELECT 1 FROM oncemq_outbox p WHERE p.order_key = "
           "o.order_key AND p.status = 'SENDING' AND p.id < o.id)) ORDER BY o.status, o.id LIMIT " +
           std::to_string(limit);
  }

  // The candidates still claimable, locked; those another relay is claiming right now are skipped.
  std::string LockSql(std::span<const int64_t> ids, int64_t now) const {
    return "SELECT id FROM oncemq_outbox WHERE id IN (" + IdList(ids) +
           ") AND status = 'SENDING' AND lease_until_ms <= " + std::to_string(now) + " ORDER BY id" +
           d_.skip_locked;
  }

  Result<std::vector<int64_t>> Ids(SqlTransaction& tx, const std::string& sql) {
    Result<std::vector<SqlRow>> rows = tx.Query(sql);
    if (!rows.ok()) return rows.status();
    std::vector<int64_t> ids;
    for (const SqlRow& row : *rows) {
      int64_t id = 0;
      if (row.empty() || !ParseInt(row[0], &id)) return Corrupt("bad id");
      ids.push_back(id);
    }
    return ids;
  }

  Result<std::vector<OutboxEntry>> Read(SqlTransaction& tx, const std::string& where,
                                        std::span<const SqlParam> params) {
    const std::string sql = "SELECT " + std::string(kColumnsHead) + ", " + d_.BytesOut("msg_key") + ", " +
                            d_.BytesOut("payload") + ", " + d_.BytesOut("headers") +
                            " FROM oncemq_outbox WHERE " + where;
    Result<std::vector<SqlRow>> rows = tx.Query(sql, params);
    if (!rows.ok()) return rows.status();
    std::vector<OutboxEntry> entries;
    for (const SqlRow& row : *rows) {
      Result<OutboxEntry> e = ParseEntry(row);
      if (!e.ok()) return e.status();
      entries.push_back(std::move(*e));
    }
    return entries;
  }

  static Result<OutboxEntry> ParseEntry(const SqlRow& row) {
    if (row.size() != 16) return Corrupt("unexpected column count");
    OutboxEntry e;
    int64_t attempts = 0;
    int64_t partition = 0;
    const std::optional<OutboxStatus> status = ParseStatus(row[3]);
    if (!ParseInt(row[0], &e.id) || !row[1] || !row[2] || !status || !ParseInt(row[4], &attempts) ||
        !ParseInt(row[6], &e.created_ms) || !ParseInt(row[7], &e.next_attempt_ms) ||
        !ParseInt(row[8], &e.lease_until_ms) || !ParseInt(row[10], &e.done_ms) ||
        !ParseInt(row[11], &partition) || !ParseInt(row[12], &e.offset)) {
      return Corrupt("bad row");
    }
    e.message.msg_id = *row[1];
    e.message.topic = *row[2];
    e.status = *status;
    e.attempts = static_cast<int>(attempts);
    e.last_error = row[5].value_or("");
    e.claim = row[9].value_or("");
    e.partition = static_cast<int32_t>(partition);
    if (row[13]) {
      std::optional<std::string> key = FromHex(*row[13]);
      if (!key) return Corrupt("bad key bytes");
      e.message.key = std::move(*key);
    }
    std::optional<std::string> payload = row[14] ? FromHex(*row[14]) : std::nullopt;
    std::optional<std::string> headers = row[15] ? FromHex(*row[15]) : std::nullopt;
    if (!payload || !headers) return Corrupt("bad payload or headers bytes");
    e.message.payload = std::move(*payload);
    Result<HeaderList> decoded = DecodeHeaders(*headers);
    if (!decoded.ok()) return decoded.status();
    e.message.headers = std::move(*decoded);
    return e;
  }

  Result<size_t> RecordSent(SqlTransaction& tx, const std::string& claim,
                            std::span<const SendOutcome* const> acked, int64_t now) {
    if (acked.empty()) return size_t{0};
    std::vector<int64_t> ids;
    std::string partitions = "CASE id";
    std::string offsets = "CASE id";
    for (const SendOutcome* o : acked) {
      ids.push_back(o->id);
      partitions += " WHEN " + std::to_string(o->id) + " THEN " + std::to_string(o->partition);
      offsets += " WHEN " + std::to_string(o->id) + " THEN " + std::to_string(o->offset);
    }
    const std::string sql = "UPDATE oncemq_outbox SET status = 'SENT', done_ms = " + std::to_string(now) +
                            ", lease_until_ms = 0, last_error = '', partition_id = " + partitions +
                            " END, offset_id = " + offsets +
                            " END WHERE claim = ? AND status = 'SENDING' AND id IN (" + IdList(ids) + ")";
    const SqlParam params[] = {claim};
    Result<int64_t> n = tx.Execute(sql, params);
    if (!n.ok()) return n.status();
    return static_cast<size_t>(*n);
  }

  // Nacked rows the claim still holds: SENDING again after a back-off, or FAILED at max_attempts.
  Status RecordUnsent(SqlTransaction& tx, const std::string& claim,
                      std::span<const SendOutcome* const> nacked, int64_t now, const RetryRule& rule,
                      Recorded& recorded) {
    if (nacked.empty()) return Status::Ok();
    std::vector<int64_t> ids;
    for (const SendOutcome* o : nacked) ids.push_back(o->id);
    const SqlParam claim_param[] = {claim};
    Result<std::vector<SqlRow>> held = tx.Query(
        "SELECT id, attempts FROM oncemq_outbox WHERE claim = ? AND status = "
        "'SENDING' AND id IN (" +
            IdList(ids) + ")" + d_.skip_locked,
        claim_param);
    if (!held.ok()) return held.status();
    std::map<int64_t, int64_t> attempts;
    for (const SqlRow& row : *held) {
      int64_t id = 0;
      int64_t a = 0;
      if (row.size() != 2 || !ParseInt(row[0], &id) || !ParseInt(row[1], &a)) return Corrupt("bad attempts");
      attempts[id] = a;
    }
    if (attempts.empty()) return Status::Ok();
    std::string status = "CASE id";
    std::string next = "CASE id";
    std::string error = "CASE id";
    std::string done = "CASE id";
    std::vector<SqlParam> params;
    std::vector<int64_t> kept;
    for (const SendOutcome* o : nacked) {
      auto it = attempts.find(o->id);
      if (it == attempts.end()) continue;
      kept.push_back(o->id);
      const std::string when = " WHEN " + std::to_string(o->id) + " THEN ";
      const bool failed = it->second >= rule.max_attempts;
      status += when + (failed ? "'FAILED'" : "'SENDING'");
      (failed ? recorded.failed : recorded.again) += 1;
      next += when + std::to_string(now + Backoff(rule, it->second).count());
      done += when + (failed ? std::to_string(now) : "0");
      error += when + "?";
      params.emplace_back(CleanError(o->status.message()));
    }
    params.emplace_back(claim);
    const std::string sql =
        "UPDATE oncemq_outbox SET status = " + status + " END, next_attempt_ms = " + next +
        " END, done_ms = " + done + " END, last_error = " + error +
        " END, lease_until_ms = 0 WHERE claim = ? AND status = 'SENDING' AND id IN (" + IdList(kept) + ")";
    Result<int64_t> n = tx.Execute(sql, params);
    if (!n.ok()) return n.status();
    // The SELECT above locked the rows (SQLite: the whole database), so each one changed.
    if (static_cast<size_t>(*n) != kept.size()) return Corrupt("recorded rows changed under their lock");
    return Status::Ok();
  }

  static std::chrono::milliseconds Backoff(const RetryRule& rule, int64_t attempts) {
    auto wait = rule.retry_backoff;
    for (int64_t i = 1; i < attempts && wait < rule.max_backoff; ++i) wait *= 2;
    return std::min(wait, rule.max_backoff);
  }

  Result<bool> ChangeFailed(const std::string& sql) {
    bool changed = false;
    Status s = database_->Transact([&](SqlTransaction& tx) -> Status {
      Result<int64_t> n = tx.Execute(sql);
      if (!n.ok()) return n.status();
      changed = *n > 0;
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return changed;
  }

  const std::shared_ptr<SqlDatabase> database_;
  const OutboxDialect& d_;
};

}  // namespace

Result<std::shared_ptr<Outbox>> OpenSqlOutbox(std::shared_ptr<SqlDatabase> database) {
  if (database == nullptr) return Status::InvalidArgument("outbox: no database");
  auto outbox = std::make_shared<SqlOutbox>(std::move(database));
  if (Status s = outbox->CreateSchema(); !s.ok()) return s;
  return std::shared_ptr<Outbox>(std::move(outbox));
}

}  // namespace oncemq::client

namespace oncemq {

std::string_view OutboxStatusName(OutboxStatus status) {
  switch (status) {
    case OutboxStatus::kSending: return "SENDING";
    case OutboxStatus::kSent: return "SENT";
    case OutboxStatus::kFailed: return "FAILED";
  }
  return "?";
}

}  // namespace oncemq
