// SqliteDedupStore: a DedupStore in one SQLite file (the embedded default of DESIGN.md §3), and the same
// store's transactional mode (TransactionalDedupStore).
//
// Schema: table oncemq_dedup, one row per (group_id, dedup_key), plus oncemq_dedup_meta, which keeps the
// largest fencing token Sweep ever deleted so that a key claimed again after its record was swept gets a
// larger token than any it had before: a key's tokens never repeat, even across Sweep.
//
// Atomicity: each Claim batch is one BEGIN IMMEDIATE transaction, so claims are atomic across threads and
// across processes (or store objects) sharing the file; Renew, Complete and Release are single
// token-checked UPDATE statements, and a CompleteBatch runs Complete's UPDATE per request in one
// BEGIN IMMEDIATE transaction (one commit, one fsync, whatever its size). Times come from SQLite's clock,
// read once per operation (once per batch).
// Durability: WAL with synchronous=FULL — a commit is on disk when the call returns. With NORMAL a power
// loss could forget a Complete after the consumer committed its offset, and the key would later run again;
// the fsync per transaction is shared by every key of a Claim batch.
//
// Transactional mode (RunOnce): BEGIN IMMEDIATE on this object's connection, read the key's record, decide
// with DecideClaim. To run, the handler gets a SqlTransaction over the same connection (native_handle() is
// the sqlite3*; `?` parameters, std::nullopt binds NULL); on OK the CONSUMED record (the next token,
// retention from SQLite's clock at the write, the handler's result) is written in that transaction and it
// commits. On a handler error — or a failed write or COMMIT that left the transaction open — everything
// rolls back and the failure is recorded in a short transaction of its own: attempts + 1, last_error =
// the handler's Status::ToString(), state kReleased, with the next token — but only if the key is still
// claimable then (no one claimed or completed it meanwhile; otherwise nothing is written and the record
// returned is the one found). A COMMIT that fails after SQLite ended the transaction (an I/O error while
// syncing the WAL) may have reached the disk: kUnavailable, outcome unknown. No row is written before the
// commit, so a process killed in its handler leaves nothing behind; a lease-mode claim of the key is
// respected (kInProgress while live, taken over and fenced once expired).
// Handler rules: one statement per Execute/Query call; the parameter count must match (kInvalidArgument);
// BEGIN, COMMIT, ROLLBACK and END are refused (SAVEPOINTs are fine); after a statement error that made
// SQLite roll the transaction back, further statements are refused and the run fails.
//
// Errors: SQLITE_BUSY/LOCKED (after busy_timeout) → kUnavailable; corruption → kCorruption; else kIoError.
// A handler statement's SQL, constraint or binding error → kInvalidArgument.
// Thread safety: every method may be called from any thread; a mutex serialises use of the connection.
// RunOnce holds that mutex while its handler runs, so a handler must not call the same store object (it
// would deadlock); threads that want transactions in parallel use separate store objects (Open again) —
// SQLite admits one writer at a time, so they then queue on the database's write lock. That lock covers
// the whole file for as long as a handler runs: keep handlers short, since every other writer (Claim,
// Complete, RunOnce of other objects and processes) waits at most busy_timeout and then gets kUnavailable.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

#include "oncemq/dedup_store.h"
#include "oncemq/transactional_dedup_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace oncemq::client {

struct SqliteDedupStoreOptions {
  std::string path;  // created if missing
  std::chrono::milliseconds busy_timeout{5'000};
  // Added to the store's clock. For tests only: they step time instead of sleeping.
  int64_t clock_skew_ms = 0;
};

class SqliteDedupStore final : public DedupStore, public TransactionalDedupStore {
 public:
  // Opens (and if needed creates) the database; kIoError / kCorruption if it cannot.
  static Result<std::unique_ptr<SqliteDedupStore>> Open(const SqliteDedupStoreOptions& options);
  ~SqliteDedupStore() override;
  SqliteDedupStore(const SqliteDedupStore&) = delete;
  SqliteDedupStore& operator=(const SqliteDedupStore&) = delete;

  // For tests: replaces options.clock_skew_ms.
  void SetClockSkewForTesting(int64_t skew_ms) { clock_skew_ms_.store(skew_ms); }
  // For tests: transactions this object's connection committed so far (an autocommit statement counts one).
  uint64_t commits_for_testing() const { return commits_.load(); }

  Result<std::vector<ClaimResult>> Claim(std::span<const ClaimRequest> requests) override;
  Result<FencedOutcome> Renew(const std::string& group, const std::string& key, int64_t token,
                              std::chrono::milliseconds lease) override;
  Result<FencedOutcome> Complete(const std::string& group, const std::string& key, int64_t token,
                                 std::chrono::milliseconds retention,
                                 std::optional<std::string> result) override;
  // One BEGIN IMMEDIATE transaction for the whole batch, with the clock read once (see the top of this file).
  Result<std::vector<FencedOutcome>> CompleteBatch(std::span<const CompleteRequest> requests) override;
  Result<FencedOutcome> Release(const std::string& group, const std::string& key, int64_t token,
                                const std::string& error) override;
  Result<std::optional<DedupRecord>> Get(const std::string& group, const std::string& key) override;
  Result<size_t> Sweep(size_t limit) override;
  Result<int64_t> NowMs() override;

  // The transactional mode; see the top of this file. kInvalidArgument for an empty group, key or owner or
  // a retention that is not positive (the handler does not run).
  Result<TransactionalResult> RunOnce(const TransactionalRequest& request,
                                      const TransactionalHandler& handler) override;

 private:
  enum Stmt {
    kNow,
    kBegin,
    kCommit,
    kRollback,
    kSelect,
    kUpsert,
    kRenew,
    kComplete,
    kRelease,
    kSweepSelect,
    kDelete,
    kReadHighWater,
    kWriteHighWater,
    kStmtCount
  };
  struct StmtDeleter {
    void operator()(sqlite3_stmt* stmt) const;
  };
  using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtDeleter>;
  class Transaction;

  SqliteDedupStore(sqlite3* db, int64_t clock_skew_ms);
  Status Prepare();
  Status Error(const char* what) const;  // the connection's last error as a Status

  // All below REQUIRES: mu_ held.
  sqlite3_stmt* Reset(Stmt which);  // the cached statement, reset and unbound
  Status Exec(Stmt which);          // runs a statement that returns no rows
  Result<int64_t> NowLocked();
  Result<int64_t> SweptHighWaterLocked();
  Result<std::optional<DedupRecord>> SelectLocked(const std::string& group, const std::string& key);
  Status UpsertLocked(const DedupRecord& record);
  Result<FencedOutcome> UpdateLocked(sqlite3_stmt* stmt);  // a bound token-checked UPDATE
  // Complete's UPDATE of `request` at store time `now_ms`.
  Result<FencedOutcome> CompleteLocked(const CompleteRequest& request, int64_t now_ms);
  // The key's record and the decision of `claim` against it, at the store's time now.
  Result<ClaimResult> DecideLocked(const ClaimRequest& claim);
  // Runs the handler in the open transaction, then writes `claim` CONSUMED; returns the record written.
  Result<DedupRecord> RunHandlerLocked(const TransactionalHandler& handler, const DedupRecord& claim,
                                       std::chrono::milliseconds retention);
  // After the run's rollback: records the failed attempt if the key is still claimable by `claim`.
  Result<DedupRecord> RecordFailureLocked(const ClaimRequest& claim, const Status& failure);

  sqlite3* const db_;
  std::atomic<int64_t> clock_skew_ms_;
  std::atomic<uint64_t> commits_{0};
  std::mutex mu_;
  StmtPtr stmts_[kStmtCount];  // GUARDED_BY(mu_)
};

}  // namespace oncemq::client
