// SqlOutbox: the Outbox of include/oncemq/outbox.h in a SQL database, one text of SQL for every engine
// (outbox_dialect.h holds the differences). Statements and layout: docs/outbox.md.
#pragma once

#include <memory>

#include "oncemq/outbox.h"

namespace oncemq::client {

// Creates the table and its indexes if missing.
Result<std::shared_ptr<Outbox>> OpenSqlOutbox(std::shared_ptr<SqlDatabase> database);

}  // namespace oncemq::client
