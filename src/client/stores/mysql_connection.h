// The MySQL/MariaDB plumbing under MysqlDedupStore, over libmariadb's text protocol: the URI, one
// connection that sends several statements in one round trip, a small pool, and `?` placeholder binding.
//
// Error mapping (MysqlErrorStatus), used by everything here:
// - the connection is gone (2002, 2003, 2005, 2006, 2013, 2014, 2055; 1053 server shutdown; 1927 killed)
//   → kUnavailable, and the connection is marked lost: the pool closes it instead of reusing it;
// - a deadlock (1213) or lock wait timeout (1205) → kUnavailable: the same call may succeed;
// - any other server or client error → kIoError.
// Every message names the error number, so callers can tell 1213 from 2013 (MysqlConnection::last_errno).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "oncemq/status.h"
#include "oncemq/transactional_dedup_store.h"

struct st_mysql;

namespace oncemq::client {

struct MysqlEndpoint {
  std::string host;
  int port = 3306;
  std::string user;
  std::optional<std::string> password;
  std::string database;
};

// Parses mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE. USER and PASSWORD may be percent-encoded (%40 for
// '@'). kInvalidArgument, naming the problem, for anything else.
Result<MysqlEndpoint> ParseMysqlUri(std::string_view uri);

// True if `error` (a MySQL error number) means the connection is gone.
bool IsConnectionLoss(unsigned int error);

// Substitutes each `?` of `sql` outside quoted text ('…', "…", `…`) and comments (-- …, # …, /* … */) with
// params[i] quoted by `quote` (or NULL for nullopt). kInvalidArgument if the counts differ, or if `sql`
// holds more than one statement (a ';' outside quoted text and comments, other than at the end).
Result<std::string> BindPlaceholders(std::string_view sql, std::span<const SqlParam> params,
                                     const std::function<std::string(std::string_view)>& quote);

// X'…': a literal for bytes that is independent of every character set.
std::string HexLiteral(std::string_view bytes);

struct MysqlOptions {
  std::chrono::milliseconds connect_timeout{5'000};
  // Bounds each wait for a reply; must exceed lock_wait_timeout.
  std::chrono::milliseconds io_timeout{60'000};
  // The session's innodb_lock_wait_timeout (whole seconds): how long a statement waits for a row lock.
  std::chrono::seconds lock_wait_timeout{20};
};

// The results of one statement of a batch.
struct StatementResult {
  bool has_rows = false;
  std::vector<SqlRow> rows;   // has_rows: every row, columns as text
  int64_t affected_rows = 0;  // !has_rows: rows matched (CLIENT_FOUND_ROWS), not only rows changed
};

// One connection, with CLIENT_MULTI_STATEMENTS (several statements per round trip), CLIENT_FOUND_ROWS
// (an UPDATE that matched a row but changed nothing still counts it), utf8mb4, no automatic reconnect.
// Thread safety: none; one thread uses a connection at a time (the pool hands it out).
class MysqlConnection {
 public:
  // kUnavailable if the server cannot be reached, kIoError if it refuses (access denied, no database).
  static Result<std::unique_ptr<MysqlConnection>> Connect(const MysqlEndpoint& endpoint,
                                                          const MysqlOptions& options,
                                                          std::atomic<uint64_t>* round_trips);
  ~MysqlConnection();
  MysqlConnection(const MysqlConnection&) = delete;
  MysqlConnection& operator=(const MysqlConnection&) = delete;

  // Sends `sql` — one statement or several separated by ';' — in one round trip and reads every result,
  // in order. The server stops at the first failing statement (the rest do not run); its error is the
  // returned Status and last_errno(). Afterwards the connection is ready for the next call (or lost()).
  Result<std::vector<StatementResult>> Run(std::string_view sql);

  // A string literal '…' escaped for this connection (utf8mb4), or X'…' when `text` is not valid UTF-8.
  std::string Quote(std::string_view text);

  unsigned int last_errno() const { return last_errno_; }
  bool lost() const { return lost_; }
  // True while the server says a transaction is open on this connection.
  bool in_transaction() const;
  st_mysql* native() { return mysql_; }

 private:
  explicit MysqlConnection(st_mysql* mysql, std::atomic<uint64_t>* round_trips)
      : mysql_(mysql), round_trips_(round_trips) {}
  Status Fail(std::string_view what);  // records the connection's error and maps it
  Result<StatementResult> ReadResult();
  void Drain();  // reads and drops whatever results are still pending

  st_mysql* const mysql_;
  std::atomic<uint64_t>* const round_trips_;
  unsigned int last_errno_ = 0;
  bool lost_ = false;
};

// Up to `max_size` connections, opened on demand. Acquire() hands out an idle one or opens one, waiting
// (up to `wait`) while all are in use. A connection that was lost is closed on return, and so is every
// idle one, since a lost connection usually means the server went away and took the others too.
// Thread safety: every method may be called from any thread.
class MysqlPool {
 public:
  class Lease;

  MysqlPool(MysqlEndpoint endpoint, MysqlOptions options, size_t max_size, std::chrono::milliseconds wait);
  ~MysqlPool();

  Result<Lease> Acquire();
  uint64_t round_trips() const { return round_trips_.load(); }

 private:
  void Return(std::unique_ptr<MysqlConnection> connection);

  const MysqlEndpoint endpoint_;
  const MysqlOptions options_;
  const size_t max_size_;
  const std::chrono::milliseconds wait_;
  std::atomic<uint64_t> round_trips_{0};
  std::mutex mu_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<MysqlConnection>> idle_;  // GUARDED_BY(mu_)
  size_t open_ = 0;                                     // GUARDED_BY(mu_): idle plus handed out
};

// A connection handed out by the pool; returns it when destroyed.
class MysqlPool::Lease {
 public:
  Lease(MysqlPool* pool, std::unique_ptr<MysqlConnection> connection)
      : pool_(pool), connection_(std::move(connection)) {}
  Lease(Lease&& other) noexcept = default;
  Lease& operator=(Lease&&) = delete;
  ~Lease() {
    if (connection_ != nullptr) pool_->Return(std::move(connection_));
  }
  MysqlConnection* operator->() { return connection_.get(); }
  MysqlConnection& operator*() { return *connection_; }

 private:
  MysqlPool* pool_;
  std::unique_ptr<MysqlConnection> connection_;
};

}  // namespace oncemq::client
