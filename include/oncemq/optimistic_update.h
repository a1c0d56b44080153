// UpdateIfVersion: an optimistic update (compare-and-set on a version column). The caller read a row and
// its version, decided what to write, and now writes it only if nobody changed the row since:
//   UPDATE table SET c1 = ?, …, version = version + 1 WHERE id = ? AND version = ?
// A changed row is kConflict — an answer, not an error: read the row again and decide again.
//
// What it guarantees, in the caller's transaction: kUpdated means the row had `expected_version` and now has
// expected_version + 1 with the new values; kConflict means the row exists with another version (reported)
// and nothing was written; kNotFound means no row has that id. To tell the two apart it reads the row
// with a locking read (FOR UPDATE on PostgreSQL and MySQL; SQLite's write transaction already excludes
// other writers), so the version it reports is the one a retry in this transaction would see.
// The caller must: have an integer version column that only this helper (or code following the same rule)
// changes, and keep `id` unique (a primary key).
// Names (the table, optionally `schema.table`; the id, version and set columns) are checked identifiers
// (see sql_column_value.h); values travel as `?` parameters. `set` must not name the id or version column,
// nor any column twice; it may be empty (the version alone moves: "touch").
// Errors: kInvalidArgument for bad names or a statement the engine refuses; kUnavailable as
// SqlTransaction says (run the whole transaction again); kCorruption for a version that is not a number.
// Thread safety: as the transaction's (one thread, during the call that was given it).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "oncemq/sql_column_value.h"
#include "oncemq/sql_transaction.h"
#include "oncemq/status.h"

namespace oncemq {

struct VersionedTable {
  std::string table;
  std::string id_column = "id";
  std::string version_column = "version";
};

enum class UpdateOutcome {
  kUpdated,   // written; version is the new one
  kConflict,  // the row has another version (reported); nothing written
  kNotFound,  // no row with this id; nothing written
};

struct UpdateResult {
  UpdateOutcome outcome;
  int64_t version = 0;  // kUpdated: the row's new version; kConflict: its current one; kNotFound: 0
};

Result<UpdateResult> UpdateIfVersion(SqlTransaction& tx, const VersionedTable& table, std::string_view id,
                                     int64_t expected_version, std::span<const SqlColumnValue> set);

}  // namespace oncemq
