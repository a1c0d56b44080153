// Outbox and OutboxRelay: a message is safe once something durable holds it (DESIGN.md §3). Send stores
// the message with status SENDING before anything goes on the wire — in the caller's own SQL transaction,
// so the business change and the message commit together or not at all. A relay then sends what is
// SENDING with a ReliableProducer and records the outcome:
//
// | event                               | outcome                                                        |
// |-------------------------------------|----------------------------------------------------------------|
// | ack                                 | SENT (partition, offset); deleted after `sent_retention`        |
// | nack, or no ack within ack_timeout  | compensation: SENDING again after a back-off, same msg-id       |
// | the relay died while sending        | the claim's lease expires; another relay (or this one) re-sends |
// | `max_attempts` sends without an ack | FAILED with the last error, kept for a person                   |
//
// A re-send keeps the message's oncemq-msg-id, so when the first copy had landed after all (only its ack
// was lost), oncemq's message-id window drops the second: the topic holds the message once. An attempt is
// counted when a relay claims a message (so a message that kills its relay also ends FAILED); a relay does
// not claim while the cluster does not answer, so an outage costs at most the attempt in flight.
//
// Several relays (threads or processes) may share one outbox: a claim takes rows with a lease, in one
// transaction that skips rows another relay holds, so no message is sent by two relays at once.
// Order: messages of one (topic, key) are sent one at a time, in the order their rows became visible (id
// order within a transaction, commit order across concurrent ones): a message is claimed only when no
// earlier message of its key is still SENDING. A FAILED message stops holding up later ones of its key;
// a person's Retry sends it after them. Messages without a key are not ordered.
//
// Storage: table `oncemq_outbox` (created if missing) in a SQLite, PostgreSQL or MySQL/MariaDB database;
// times come from the database's clock. Layout and statements: docs/outbox.md. Or Redis, where the rules
// above hold but for the caller's transaction: Send(messages) stores its list at once, Send(tx, …) is
// kUnsupported, a message is as durable as the server's persistence settings make it, and a claim looks
// at a bounded number of entries (docs/outbox.md, "Redis outbox").
// Thread safety: every method of Outbox may be called from any thread. OutboxRelay: Run on one thread,
// Stop and stats from any.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "oncemq/reliable_producer.h"
#include "oncemq/sql_database.h"
#include "oncemq/sql_transaction.h"
#include "oncemq/status.h"

namespace oncemq {

enum class OutboxStatus { kSending, kSent, kFailed };
std::string_view OutboxStatusName(OutboxStatus status);  // "SENDING", "SENT", "FAILED"

struct OutboxEntry {
  int64_t id = 0;  // the row's id: order of visibility within the outbox
  OutgoingMessage message;
  OutboxStatus status = OutboxStatus::kSending;
  int attempts = 0;  // sends so far
  std::string last_error;
  int64_t created_ms = 0;
  int64_t next_attempt_ms = 0;  // SENDING: not sent again before
  int64_t lease_until_ms = 0;   // a relay holds it until then
  std::string claim;            // the relay claim that holds or last held it
  int64_t done_ms = 0;          // when it became SENT or FAILED
  int32_t partition = -1;       // SENT: where it landed
  int64_t offset = -1;
};

// The relay's report of one claimed message.
struct SendOutcome {
  int64_t id = 0;
  Status status;  // OK: acked
  int32_t partition = -1;
  int64_t offset = -1;
};

struct OutboxCounts {
  int64_t sending = 0;
  int64_t sent = 0;
  int64_t failed = 0;
};

struct OutboxListFilter {
  std::optional<OutboxStatus> status;  // nullopt: all
  int64_t after_id = 0;                // ids greater than this
  size_t limit = 100;
};

class Outbox {
 public:
  // Opens the database (sqlite:///PATH, postgresql://…, mysql://…) and creates the table if missing; or a
  // Redis outbox (redis://HOST:PORT[/DB]; see docs/outbox.md).
  static Result<std::shared_ptr<Outbox>> Open(std::string_view uri, const SqlDatabaseOptions& options = {});
  // The same over a database the application opened already (to share its connections).
  static Result<std::shared_ptr<Outbox>> Open(std::shared_ptr<SqlDatabase> database);
  virtual ~Outbox() = default;

  // The outbox's SQL database; nullptr for a Redis outbox.
  virtual SqlDatabase* database() = 0;
  // Runs fn in one transaction of the outbox's database: its business writes and its Send(tx, …) calls
  // commit together (SqlDatabase::Transact's rules). kUnsupported for a Redis outbox.
  Status Transact(const std::function<Status(SqlTransaction&)>& fn) {
    SqlDatabase* db = database();
    return db != nullptr ? db->Transact(fn) : Status::Unsupported("outbox: Redis holds no SQL transaction");
  }

  // Stores the message as SENDING in the caller's transaction, which must be on this outbox's database
  // (from Transact, or a transactional consumer's handler when its store is the same database); returns
  // its msg-id (the message's, or a new one). kInvalidArgument for a message without a topic, or a
  // transaction of another engine; kUnsupported on a Redis outbox.
  virtual Result<std::string> Send(SqlTransaction& tx, OutgoingMessage message) = 0;
  // The same for several messages (one statement per 100): their msg-ids in order.
  virtual Result<std::vector<std::string>> Send(SqlTransaction& tx,
                                                std::vector<OutgoingMessage> messages) = 0;
  // Stores the messages in one transaction of their own; returns their msg-ids in order.
  virtual Result<std::vector<std::string>> Send(std::vector<OutgoingMessage> messages) = 0;

  // For relays. Claims up to `limit` claimable messages (see the top of this file) for `lease` under the
  // name `claim` (unique per call), counting an attempt on each; in id order.
  virtual Result<std::vector<OutboxEntry>> Claim(const std::string& claim, std::chrono::milliseconds lease,
                                                 size_t limit) = 0;
  // Records the outcomes of a claim's sends: acked → SENT; otherwise SENDING again after
  // retry_backoff × 2^(attempts-1) (at most max_backoff), or FAILED once attempts reached max_attempts.
  // Only rows the claim still holds change (a row whose lease expired and was claimed again is left to its
  // new holder); returns how many rows went each way.
  struct RetryRule {
    int max_attempts = 3;
    std::chrono::milliseconds retry_backoff{1'000};
    std::chrono::milliseconds max_backoff{60'000};
  };
  struct Recorded {
    size_t sent = 0;
    size_t again = 0;  // SENDING again, after the back-off
    size_t failed = 0;
  };
  virtual Result<Recorded> Record(const std::string& claim, std::span<const SendOutcome> outcomes,
                                  const RetryRule& rule) = 0;
  // Deletes up to `limit` SENT messages older than `retention`; returns how many.
  virtual Result<size_t> Purge(std::chrono::milliseconds retention, size_t limit) = 0;

  // For people (and the oncemq command).
  virtual Result<std::vector<OutboxEntry>> List(const OutboxListFilter& filter) = 0;
  virtual Result<std::optional<OutboxEntry>> Get(int64_t id) = 0;
  virtual Result<OutboxCounts> Counts() = 0;
  // FAILED → SENDING with attempts 0, due now; false if the row is not FAILED.
  virtual Result<bool> Retry(int64_t id) = 0;
  // Deletes a FAILED message; false if the row is not FAILED.
  virtual Result<bool> Drop(int64_t id) = 0;
};

struct OutboxRelayOptions {
  ReliableProducerOptions producer;
  std::string name;  // this relay in claims; default host:pid:random
  size_t batch = 500;
  std::chrono::milliseconds lease{60'000};  // must exceed producer.ack_timeout
  Outbox::RetryRule retry;
  std::chrono::milliseconds idle_wait{100};  // between polls of an empty outbox
  std::chrono::milliseconds sent_retention{std::chrono::hours(24)};
};

struct OutboxRelayStats {
  uint64_t claimed = 0;
  uint64_t sent = 0;         // acked and recorded SENT
  uint64_t resends = 0;      // nacked or timed out: left SENDING for compensation
  uint64_t failed = 0;       // recorded FAILED
  uint64_t lost_claims = 0;  // outcomes not recorded: the claim's lease had passed to another relay
  uint64_t store_errors = 0;
  uint64_t unreachable = 0;  // rounds skipped because the cluster did not answer
  uint64_t purged = 0;
};

class OutboxRelay {
 public:
  static Result<std::unique_ptr<OutboxRelay>> Create(std::shared_ptr<Outbox> outbox,
                                                     OutboxRelayOptions options);
  ~OutboxRelay();
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  // One round: claim a batch, send it, wait for every answer (at most ack_timeout), record the outcomes.
  // Returns how many messages it claimed (0: nothing due, or the cluster did not answer).
  Result<size_t> RunOnce();
  // Rounds until Stop(); waits idle_wait when a round found nothing. Non-OK only for a fatal error.
  Status Run();
  void Stop();
  OutboxRelayStats stats() const;

  class Impl;

 private:
  explicit OutboxRelay(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace oncemq
