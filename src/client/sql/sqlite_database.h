// The SQLite SqlDatabase (include/oncemq/sql_database.h): one connection, WAL with synchronous=FULL (a
// commit is on disk when Transact returns), transactions serialised by a mutex and across processes by
// SQLite's write lock (BEGIN IMMEDIATE waits up to busy_timeout, then kUnavailable).
#pragma once

#include <memory>
#include <string>

#include "oncemq/sql_database.h"

namespace oncemq::client {

Result<std::shared_ptr<SqlDatabase>> OpenSqliteDatabase(const std::string& path,
                                                        const SqlDatabaseOptions& options);

}  // namespace oncemq::client
