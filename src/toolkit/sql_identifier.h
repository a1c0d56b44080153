// Identifiers the toolkit's SQL helpers write into SQL text, and the bits of SQL that differ per engine.
//
// The helpers never quote or escape a name: they refuse any that is not a plain identifier, so that no
// caller-supplied text can change a statement. Values never pass through here; they are `?` parameters.
#pragma once

#include <string>
#include <string_view>

#include <span>

#include "oncemq/sql_column_value.h"
#include "oncemq/sql_transaction.h"
#include "oncemq/status.h"

namespace oncemq::toolkit {

// OK if `name` matches [A-Za-z_][A-Za-z0-9_]* and has at most 63 characters; else kInvalidArgument naming
// `what` ("column", "id column", …).
Status CheckIdentifier(std::string_view name, std::string_view what);
// An identifier, or two joined by one '.' (schema.table).
Status CheckTableName(std::string_view name);
// Every column an identifier, none named twice; `context` begins the message ("unique insert into t").
Status CheckColumns(std::span<const SqlColumnValue> columns, std::string_view context);

// " FOR UPDATE" where a read must lock the row it reads (PostgreSQL, MySQL); "" for SQLite, whose write
// transaction already keeps every other writer out.
std::string_view LockingReadSuffix(SqlEngine engine);

}  // namespace oncemq::toolkit
