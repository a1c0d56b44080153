// SqlColumnValue: one column and the value to write into it, as the toolkit's SQL helpers take them
// (unique_insert.h, optimistic_update.h).
//
// `column` is an identifier the helper writes into its SQL text, so it is checked, never quoted: it must
// match [A-Za-z_][A-Za-z0-9_]* and be at most 63 characters long (PostgreSQL's limit), and it is not
// quoted, so a reserved word (order, group, …) cannot be used and the engine folds its case as usual.
// `value` travels as a `?` parameter, as text (std::nullopt is NULL), whatever it holds.
#pragma once

#include <string>

#include "oncemq/sql_transaction.h"

namespace oncemq {

struct SqlColumnValue {
  std::string column;
  SqlParam value;
};

}  // namespace oncemq
