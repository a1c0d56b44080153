// PostgresDedupStore: a DedupStore, and a TransactionalDedupStore, in one PostgreSQL database (DESIGN.md §3),
// over libpq.
//
// Schema (created IF NOT EXISTS by Open, under an advisory lock so that concurrent Opens do not race):
// table oncemq_dedup, one row per (group_id, dedup_key) with the DedupRecord's fields (payload_hash and
// result as bytea), and oncemq_dedup_meta, whose row 'swept_token_high_water' keeps the largest fencing
// token Sweep ever deleted: a key without a row gets that + 1, so a key's tokens never repeat, even across
// Sweep.
//
// Claim: a whole batch is one transaction in two round trips, whatever its size. Round trip 1 (a libpq
// pipeline): BEGIN; one statement that inserts every key without a row directly as a claim (INSERT … ON
// CONFLICT DO NOTHING in key order, token = high-water mark + 1) and locks the rows that already existed
// (SELECT … FOR UPDATE in key order, skipped when every key was inserted) — so concurrent batches lock in one
// order and cannot deadlock, and a concurrent claim of the same key waits for this one; then read the store
// clock and the high-water mark. Each existing row is decided in C++ with dedup_rules.h (the same code as
// every other store, rather than a PL/pgSQL port of it), a key repeated in the batch seeing its first claim.
// Round trip 2: one UPDATE … FROM unnest(arrays) writes every changed row, then COMMIT (only COMMIT when
// every key was new). A key a concurrent transaction inserted or deleted during round trip 1 makes the
// transaction run again.
// Renew, Complete, Release and Sweep are one autocommit statement each (token-checked UPDATEs; Sweep a
// DELETE … LIMIT that raises the high-water mark in the same statement), and so is a whole CompleteBatch
// (one round trip: an UPDATE … FROM unnest(arrays) whose WHERE is the token check, joined in key order,
// answering the positions it completed). Get and NowMs are one SELECT.
//
// Time: the server's clock_timestamp() (not now(), which is the transaction's start), plus clock_skew_ms —
// never the client's clock. Claim reads it after the batch's row locks are held; the single-statement
// writes (Renew, Complete, Release, CompleteBatch) read it once as the statement starts, so a row lock they
// then wait for (a concurrent claim of the key) starts a retention or lease that much early.
// Connections: a pool of up to pool_size connections (PgPool, postgres_connection.h). Each call takes one
// for its duration, so calls from several threads run in parallel and a long RunOnce handler holds only
// its own; a call waits up to acquire_timeout for a free connection, then answers kUnavailable.
// Errors: a server that cannot be reached, or a connection lost mid-call, is kUnavailable; the lost
// connection is dropped and the next call opens a new one (an idle connection that heard from the server —
// its shutdown or the backend's termination — is never used). Reads (Get, NowMs) and a Claim whose COMMIT
// was not sent yet are retried once on a new connection; a write whose reply was lost is not retried (its
// outcome is unknown): kUnavailable. Serialization failures and deadlocks (40001, 40P01) run the
// transaction again, at most conflict_retries times, then kUnavailable. Text the server cannot store
// (invalid UTF-8) and group, key or owner containing NUL are kInvalidArgument; a row that cannot be parsed
// is kCorruption; other SQL errors kIoError.
// Thread safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "client/stores/postgres_connection.h"
#include "oncemq/dedup_store.h"
#include "oncemq/transactional_dedup_store.h"

namespace oncemq::client {

struct PostgresDedupStoreOptions {
  // A postgresql:// URI or a key=value conninfo string, passed to libpq as-is.
  std::string uri;
  // Connections kept open at most; each call uses one for its duration.
  size_t pool_size = 4;
  // How long a call waits for a free connection before it answers kUnavailable.
  std::chrono::milliseconds acquire_timeout{10'000};
  // How often a transaction that hit a serialization failure or deadlock runs again.
  int conflict_retries = 3;
  // Added to the server's clock. For tests only: they step time instead of sleeping.
  int64_t clock_skew_ms = 0;
};

class PostgresDedupStore final : public DedupStore, public TransactionalDedupStore {
 public:
  // Connects and creates the tables if missing; kUnavailable if the server cannot be reached, kIoError if
  // the tables cannot be created, kInvalidArgument for a pool size of 0.
  static Result<std::unique_ptr<PostgresDedupStore>> Open(const PostgresDedupStoreOptions& options);
  ~PostgresDedupStore() override = default;
  PostgresDedupStore(const PostgresDedupStore&) = delete;
  PostgresDedupStore& operator=(const PostgresDedupStore&) = delete;

  // For tests: replaces options.clock_skew_ms.
  void SetClockSkewForTesting(int64_t skew_ms) { clock_skew_ms_.store(skew_ms); }
  // For tests: round trips to the server so far (one per statement or pipeline; a new connection counts one).
  uint64_t round_trips_for_testing() const { return round_trips_.load(); }

  Result<std::vector<ClaimResult>> Claim(std::span<const ClaimRequest> requests) override;
  Result<FencedOutcome> Renew(const std::string& group, const std::string& key, int64_t token,
                              std::chrono::milliseconds lease) override;
  Result<FencedOutcome> Complete(const std::string& group, const std::string& key, int64_t token,
                                 std::chrono::milliseconds retention,
                                 std::optional<std::string> result) override;
  // One statement (one round trip) for the whole batch, at one store time; see the top of this file.
  Result<std::vector<FencedOutcome>> CompleteBatch(std::span<const CompleteRequest> requests) override;
  Result<FencedOutcome> Release(const std::string& group, const std::string& key, int64_t token,
                                const std::string& error) override;
  Result<std::optional<DedupRecord>> Get(const std::string& group, const std::string& key) override;
  Result<size_t> Sweep(size_t limit) override;
  Result<int64_t> NowMs() override;

  // The handler's SqlTransaction takes one statement per call and rewrites `?` to $1, $2, … outside
  // literals, quoted identifiers and comments (sql_placeholders.h); native_handle() is the PGconn*. It
  // refuses (kInvalidArgument) a parameter count that differs from the placeholders, statements that would
  // end the transaction (BEGIN, COMMIT, ROLLBACK, END, ABORT, PREPARE TRANSACTION; savepoints are fine), and
  // any statement once the transaction was ended through the native handle — such a run fails. The
  // handler's constraint and syntax errors (SQLSTATE classes 23, 42) are kInvalidArgument. A serialization
  // failure or deadlock in the handler's statements or at COMMIT rolls back and runs the whole RunOnce
  // again (the handler too), at most conflict_retries times, then kUnavailable.
  Result<TransactionalResult> RunOnce(const TransactionalRequest& request,
                                      const TransactionalHandler& handler) override;

 private:
  // Whether an attempt that lost its connection may run again on a new one.
  enum class OnLost { kRetryOnce, kNeverRetry };
  struct Locked;  // a transaction's view of its keys after round trip 1

  explicit PostgresDedupStore(const PostgresDedupStoreOptions& options);
  std::string Skew() const { return std::to_string(clock_skew_ms_.load()); }

  // Runs `attempt` on a pooled connection, again after a conflict (bounded) or, with kRetryOnce, after a
  // lost connection.
  template <typename T, typename Attempt>
  Result<T> Run(OnLost on_lost, const Attempt& attempt);

  Result<std::vector<ClaimResult>> ClaimOnce(PgConnection& conn, std::span<const ClaimRequest> requests);
  Result<Locked> LockKeys(PgConnection& conn, std::span<const ClaimRequest> requests);
  Result<FencedOutcome> FencedUpdate(const char* sql, std::vector<std::optional<std::string>> params);
  Result<TransactionalResult> RunOnceAttempt(PgConnection& conn, const TransactionalRequest& request,
                                             const TransactionalHandler& handler);
  Result<TransactionalResult> RecordFailure(PgConnection& conn, const std::optional<DedupRecord>& found,
                                            DedupRecord claim, Status why);

  const PostgresDedupStoreOptions options_;
  std::atomic<int64_t> clock_skew_ms_;
  std::atomic<uint64_t> round_trips_{0};
  PgPool pool_;
};

}  // namespace oncemq::client
