// The PostgreSQL and MySQL/MariaDB SqlDatabases (include/oncemq/sql_database.h): a pool of connections;
// each Transact runs on a connection of its own, so transactions of different threads run in parallel.
// Isolation is the server's default (PostgreSQL READ COMMITTED, InnoDB REPEATABLE READ).
#pragma once

#include <memory>
#include <string>

#include "oncemq/sql_database.h"

namespace oncemq::client {

Result<std::shared_ptr<SqlDatabase>> OpenPostgresDatabase(const std::string& uri,
                                                          const SqlDatabaseOptions& options);
Result<std::shared_ptr<SqlDatabase>> OpenMysqlDatabase(const std::string& uri,
                                                       const SqlDatabaseOptions& options);

}  // namespace oncemq::client
