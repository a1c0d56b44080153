// PgConnection and PgPool: the libpq plumbing under PostgresDedupStore — one connection with its error
// mapping and pipelining, and a small pool of them.
//
// Round trips: Exec sends one statement and waits for its answer; Pipeline sends several statements (libpq
// pipeline mode) and a single Sync, so the server runs them in order and the client waits once. Every call
// adds one to the round-trip counter the pool was given, so tests can check that a batch costs a constant
// number of round trips. Pipelines run in blocking mode: the statements are sent before any result is read,
// which is safe while one pipeline's statements fit in the socket buffers (kilobytes per thousand keys).
//
// Errors (Status codes, and Failure for the caller's retry decision):
//   the connection is lost or cannot be made, SQLSTATE class 08, 57P0x (server shutting down or the backend
//   terminated), 53xxx (too many connections, out of memory)      → kUnavailable, Failure::kLost
//   40001 serialization failure, 40P01 deadlock                   → kUnavailable, Failure::kConflict
//   class 22 (bad data: text not valid in the server encoding)     → kInvalidArgument
//   class XX (internal error, data corrupted)                      → kCorruption
//   any other SQL error                                            → kIoError
// A connection that lost its server is broken() for good; the pool drops it instead of reusing it.
// Thread safety: a PgConnection is used by one thread at a time (the pool hands it out exclusively);
// PgPool may be used from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "oncemq/status.h"

struct pg_conn;
struct pg_result;

namespace oncemq::client {

struct PgResultDeleter {
  void operator()(pg_result* result) const;
};
using PgResult = std::unique_ptr<pg_result, PgResultDeleter>;

// One statement and its parameters, all sent as text; nullopt binds NULL.
struct PgStatement {
  std::string sql;
  std::vector<std::optional<std::string>> params;
};

class PgConnection {
 public:
  // What the last failed call allows the caller to do.
  enum class Failure {
    kNone,
    kFinal,     // an error retrying would repeat
    kConflict,  // serialization failure or deadlock: the transaction was rolled back; run it again
    kLost,      // the connection is gone; whatever was in flight has an unknown outcome
  };

  // Connects with `conninfo` (a postgresql:// URI or key=value string, given to libpq as-is, after
  // defaults connect_timeout=5, application_name=oncemq and client_encoding=UTF8 that it may override).
  // kUnavailable if the server cannot be reached.
  static Result<std::unique_ptr<PgConnection>> Connect(const std::string& conninfo,
                                                       std::atomic<uint64_t>* round_trips);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // One statement, one round trip. Returns its result (rows or a command tag); an SQL error is a Status.
  Result<PgResult> Exec(std::string_view sql, std::span<const std::optional<std::string>> params = {});
  // Several statements, one round trip. On success one result per statement, in order; otherwise the first
  // error (the statements after a failed one do not run).
  Result<std::vector<PgResult>> Pipeline(std::span<const PgStatement> statements);
  // Rolls back an open (or failed) transaction; a no-op when none is open. Breaks the connection if even
  // that fails, so it is never reused mid-transaction.
  void RollbackIfOpen();

  Failure last_failure() const { return last_failure_; }
  // The SQLSTATE of the last failed statement ("" if it had none, e.g. a lost connection).
  const std::string& last_sqlstate() const { return last_sqlstate_; }
  // After a failure whose outcome the caller has reported as unknown: never retry it.
  void MarkFailureFinal() { last_failure_ = Failure::kFinal; }
  // A conflict the caller detected itself: rolls back and answers kUnavailable with Failure::kConflict.
  Status Conflict(std::string_view what);
  // True when the connection cannot be used again (lost, or left mid-transaction).
  bool broken() const;
  // False if the connection is broken or anything arrived on it while idle (the server's goodbye when it
  // shut down or terminated the backend, or the end of the stream): an idle connection is never spoken to.
  bool LooksAlive();
  pg_conn* native() { return conn_; }

 private:
  PgConnection(pg_conn* conn, std::atomic<uint64_t>* round_trips) : conn_(conn), round_trips_(round_trips) {}
  Status Fail(const pg_result* result, std::string_view what);  // sets last_failure_
  Status Lost(std::string_view what);                           // the connection failed (no result)

  pg_conn* const conn_;
  std::atomic<uint64_t>* const round_trips_;
  Failure last_failure_ = Failure::kNone;
  std::string last_sqlstate_;
  bool lost_ = false;
};

// A bounded pool of connections to one server. Acquire hands out an idle connection that still looks
// alive, or opens a new one while fewer than `size` exist, or waits (up to acquire_timeout) for one to come
// back; so concurrent callers each get their own connection and a long transaction on one does not hold up
// the others. A connection that is broken when it comes back is closed; the next Acquire opens a fresh one,
// which is how the store reconnects after the server went away.
class PgPool {
 public:
  struct Options {
    std::string conninfo;
    size_t size = 4;
    std::chrono::milliseconds acquire_timeout{10'000};
  };

  // Exclusive use of one connection until destroyed (or moved from).
  class Lease {
   public:
    Lease(PgPool* pool, std::unique_ptr<PgConnection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    PgConnection& operator*() { return *conn_; }
    PgConnection* operator->() { return conn_.get(); }

   private:
    PgPool* pool_;
    std::unique_ptr<PgConnection> conn_;
  };

  PgPool(Options options, std::atomic<uint64_t>* round_trips)
      : options_(std::move(options)), round_trips_(round_trips) {}
  // REQUIRES: every Lease has been destroyed.
  ~PgPool() = default;
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // kUnavailable when no connection can be made, or none comes free within acquire_timeout.
  Result<Lease> Acquire();

 private:
  void Return(std::unique_ptr<PgConnection> conn);
  std::unique_ptr<PgConnection> TakeIdle();  // a live idle connection, or nullptr; closes dead ones

  const Options options_;
  std::atomic<uint64_t>* const round_trips_;
  std::mutex mu_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<PgConnection>> idle_;  // GUARDED_BY(mu_)
  size_t open_ = 0;                                  // GUARDED_BY(mu_); idle + leased + being opened
};

}  // namespace oncemq::client
