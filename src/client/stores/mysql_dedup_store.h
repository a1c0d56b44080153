// MysqlDedupStore: a DedupStore, and its transactional mode, in a MySQL or MariaDB database (DESIGN.md §3),
// over libmariadb (the C connector).
//
// Schema (created IF NOT EXISTS by Open; InnoDB, ROW_FORMAT=DYNAMIC): oncemq_dedup holds one row per
// (group_id, dedup_key) — VARBINARY, so comparisons are byte-exact and the primary key stays within InnoDB's
// key length limit whatever the character set — with the columns of DedupRecord and an index on
// (state, retain_until_ms) for Sweep. oncemq_dedup_meta keeps one row, token_high_water: the largest
// fencing token Sweep ever deleted, so a key claimed again after its record was swept gets a larger token
// than any it had before. Limits, checked before anything is sent (kInvalidArgument): group and owner up to
// 255 bytes, key up to 1024, payload hash up to 255; a last error is cut to 16 KiB.
//
// Round trips: a Claim batch is two, whatever its size — [START TRANSACTION; INSERT … ON DUPLICATE KEY
// UPDATE (no-op) of a placeholder row for every distinct key, in key order, which takes each row's
// exclusive lock; SELECT the clock and high-water mark; SELECT … FOR UPDATE the rows in key order], then
// the decisions of dedup_rules.h in C++, then [one multi-row INSERT … ON DUPLICATE KEY UPDATE of every
// changed record; COMMIT]. Claims of one key are thus atomic across threads, processes and store objects,
// and a key repeated in a batch is decided once against the batch's own earlier claim. A deadlock (1213)
// or lock wait timeout (1205) retries the whole transaction, at most four times, then kUnavailable.
// Renew, Complete and Release are one token-checked UPDATE each (one round trip; the connection uses
// CLIENT_FOUND_ROWS, so a renewal that changes nothing within the same millisecond still counts as done).
// A CompleteBatch is one round trip whatever its size: [START TRANSACTION; Complete's UPDATE per request,
// in key order (a key's repeats in request order); COMMIT], retried like a Claim on 1213/1205.
// Time: the server's clock, @@timestamp (seconds since the epoch with microseconds, whatever the session's
// time zone), plus clock_skew_ms; read inside the statement or transaction that uses it.
// Connections: a pool of up to pool_size connections, opened on demand; a call holds one for its
// transaction only, so threads do not queue behind another's long transaction.
// Errors: a lost connection (server gone, killed, timed out) is kUnavailable and the connection is
// replaced on the next call. Reads (Get, NowMs) are then retried once on a new connection; a write whose
// reply was lost is not (its outcome is unknown). Other SQL errors are kIoError; a row that cannot be
// parsed is kCorruption.
// Transactional mode (RunOnce): see transactional_dedup_store.h. The claim is the Claim transaction above
// for one key, left open (the server's isolation level, REPEATABLE READ by default); the handler runs in
// it; then the CONSUMED record is written and committed in one round trip. A second RunOnce of the key
// waits on the row lock (up to lock_wait_timeout) and then sees kDuplicate, or runs if the first rolled
// back. The handler's SqlTransaction binds `?` in order as escaped literals ('…', or X'…' for bytes that
// are not UTF-8; so not where SQL wants a number literal, such as LIMIT) and takes one statement per call.
// It refuses COMMIT, ROLLBACK, BEGIN, START TRANSACTION and XA (kInvalidArgument; SAVEPOINT and ROLLBACK TO
// are fine); if the transaction ends anyway (a deadlock, a lost connection, DDL's implicit commit, the
// native handle), later statements are refused and the run fails. A statement's own error (syntax, a
// constraint, a missing table) is kInvalidArgument; deadlocks, lock wait timeouts and lost connections
// keep their retriable codes. Execute counts matched rows (CLIENT_FOUND_ROWS), as SQLite and PostgreSQL do.
// Thread safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "client/stores/mysql_connection.h"
#include "oncemq/dedup_store.h"
#include "oncemq/transactional_dedup_store.h"

namespace oncemq::client {

struct MysqlDedupStoreOptions {
  std::string uri;  // mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE
  MysqlOptions connection;
  size_t pool_size = 4;
  // How long a call waits for a pooled connection while all are in use (then kUnavailable).
  std::chrono::milliseconds pool_wait{30'000};
  // Added to the server's clock. For tests only: they step time instead of sleeping.
  int64_t clock_skew_ms = 0;
};

class MysqlDedupStore final : public DedupStore, public TransactionalDedupStore {
 public:
  // Connects and creates the tables if missing; kInvalidArgument for a bad URI, kUnavailable if the server
  // cannot be reached, kIoError if it refuses.
  static Result<std::unique_ptr<MysqlDedupStore>> Open(const MysqlDedupStoreOptions& options);
  ~MysqlDedupStore() override;
  MysqlDedupStore(const MysqlDedupStore&) = delete;
  MysqlDedupStore& operator=(const MysqlDedupStore&) = delete;

  // For tests: replaces options.clock_skew_ms.
  void SetClockSkewForTesting(int64_t skew_ms) { clock_skew_ms_.store(skew_ms); }
  // For tests: the statements batches sent so far (each one round trip), over all connections.
  uint64_t RoundTripsForTesting() const { return pool_.round_trips(); }

  Result<std::vector<ClaimResult>> Claim(std::span<const ClaimRequest> requests) override;
  Result<FencedOutcome> Renew(const std::string& group, const std::string& key, int64_t token,
                              std::chrono::milliseconds lease) override;
  Result<FencedOutcome> Complete(const std::string& group, const std::string& key, int64_t token,
                                 std::chrono::milliseconds retention,
                                 std::optional<std::string> result) override;
  // One transaction, one round trip, for the whole batch; see the top of this file.
  Result<std::vector<FencedOutcome>> CompleteBatch(std::span<const CompleteRequest> requests) override;
  Result<FencedOutcome> Release(const std::string& group, const std::string& key, int64_t token,
                                const std::string& error) override;
  Result<std::optional<DedupRecord>> Get(const std::string& group, const std::string& key) override;
  Result<size_t> Sweep(size_t limit) override;
  Result<int64_t> NowMs() override;

  Result<TransactionalResult> RunOnce(const TransactionalRequest& request,
                                      const TransactionalHandler& handler) override;

 private:
  struct Locked;  // rows read under lock at the start of a claim transaction
  class Transaction;

  MysqlDedupStore(MysqlEndpoint endpoint, const MysqlDedupStoreOptions& options);

  std::string Now() const;  // SQL for the store's clock in ms, skew included
  Result<std::vector<StatementResult>> Read(const std::string& sql);  // retried once on a lost connection
  Result<FencedOutcome> FencedUpdate(const std::string& set, const std::string& group, const std::string& key,
                                     int64_t token);
  // Complete's SET clause.
  std::string CompleteSet(std::chrono::milliseconds retention,
                          const std::optional<std::string>& result) const;
  Result<std::vector<FencedOutcome>> CompleteBatchOnce(MysqlConnection& c,
                                                       std::span<const CompleteRequest> requests);
  Result<Locked> LockRows(MysqlConnection& c, std::span<const ClaimRequest> requests);
  Result<std::vector<ClaimResult>> ClaimOnce(MysqlConnection& c, std::span<const ClaimRequest> requests);
  Result<size_t> SweepOnce(MysqlConnection& c, size_t limit);
  Result<TransactionalResult> CommitConsumed(MysqlConnection& c, const TransactionalRequest& request,
                                             DedupRecord claim, std::optional<std::string> result);
  Result<TransactionalResult> RecordFailure(const TransactionalRequest& request, const DedupRecord& claim,
                                            const std::optional<DedupRecord>& found, const Status& why);

  std::atomic<int64_t> clock_skew_ms_;
  MysqlPool pool_;
};

}  // namespace oncemq::client
