// SQLite plumbing shared by the SQLite dedup store and SqlDatabase: error mapping, text binding and
// reading, and the SqlTransaction that application code runs its statements through.
//
// Error mapping (SqliteStatusFor): SQLITE_BUSY/LOCKED → kUnavailable (the same call may succeed once the
// other writer is done), corruption → kCorruption, anything else → kIoError.
// Thread safety: none of its own; callers serialise use of a connection.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "oncemq/sql_transaction.h"
#include "oncemq/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace oncemq::client {

// An SQL expression for the current time in ms since the epoch, exactly the system clock's whole
// milliseconds (as WallMs()): 'now' is one value throughout a statement, so seconds and milliseconds
// agree. julianday('now') arithmetic is not exact: it came out 1 ms early for about half of all instants.
inline constexpr const char* kSqliteNowMs =
    "(CAST(strftime('%s', 'now') AS INTEGER) * 1000 + CAST(substr(strftime('%f', 'now'), 4) AS INTEGER))";

Status SqliteStatusFor(int code, const std::string& message);
void SqliteBindText(sqlite3_stmt* s, int index, std::string_view text);
std::string SqliteColumnText(sqlite3_stmt* s, int column);
std::optional<std::string> SqliteColumnBlob(sqlite3_stmt* s, int column);

// A SqlTransaction over `db`, on which the caller has begun a transaction and which it commits or rolls
// back after the returned object is gone. While it lives, BEGIN, COMMIT, ROLLBACK and END are refused
// (kInvalidArgument; an authorizer is installed on `db`); one statement per call; `?` parameters bound as
// text; a statement's own SQL, constraint or binding error is kInvalidArgument. After an error that made
// SQLite roll the transaction back, further statements are refused (kIoError).
// REQUIRES: `db` outlives the returned object, and a transaction is open on it.
std::unique_ptr<SqlTransaction> SqliteTransaction(sqlite3* db);

}  // namespace oncemq::client
