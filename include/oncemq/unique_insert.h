// InsertUnique: "do this once" with a unique key — insert a row unless a row with the same unique key is
// there already, and say which happened.
//
// The table needs a PRIMARY KEY or UNIQUE constraint on what makes an effect unique (a message id, a
// payment reference); the helper does not choose it. A conflict on any unique constraint of the table is
// kAlreadyExists; nothing is written then, and the caller's transaction carries on. Any other refusal
// (NOT NULL, CHECK, a foreign key, a wrong type) is an error Status as usual, never kAlreadyExists.
// SQL per engine: SQLite and PostgreSQL `INSERT … ON CONFLICT DO NOTHING`; MySQL/MariaDB a plain INSERT
// whose duplicate-key error (1062) is caught (MySQL undoes just the failed statement; INSERT IGNORE would
// also turn NOT NULL and truncation errors into silent writes).
// `table` is an identifier, optionally schema-qualified (`schema.table`), checked like a column (see
// sql_column_value.h); values travel as `?` parameters.
// Errors: kInvalidArgument for a bad table or column name, no columns, a column named twice, or a
// statement the engine refuses; kUnavailable as SqlTransaction says (run the whole transaction again).
// Thread safety: as the transaction's (one thread, during the call that was given it).
#pragma once

#include <span>
#include <string_view>

#include "oncemq/sql_column_value.h"
#include "oncemq/sql_transaction.h"
#include "oncemq/status.h"

namespace oncemq {

enum class InsertOutcome {
  kInserted,       // the row was written in the caller's transaction
  kAlreadyExists,  // a row with the same unique key exists; nothing was written
};

Result<InsertOutcome> InsertUnique(SqlTransaction& tx, std::string_view table,
                                   std::span<const SqlColumnValue> values);

}  // namespace oncemq
