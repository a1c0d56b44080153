#include <string>

#include "client/sql/server_databases.h"
#include "client/sql/sqlite_database.h"
#include "oncemq/sql_database.h"

namespace oncemq {

Result<std::shared_ptr<SqlDatabase>> OpenSqlDatabase(std::string_view uri,
                                                     const SqlDatabaseOptions& options) {
  std::string_view rest = uri;
  for (std::string_view prefix : {"sqlite://", "sqlite:"}) {
    if (!rest.starts_with(prefix)) continue;
    rest.remove_prefix(prefix.size());
    if (rest.empty()) return Status::InvalidArgument("database URI '" + std::string(uri) + "' names no file");
    return client::OpenSqliteDatabase(std::string(rest), options);
  }
  if (uri.starts_with("postgresql://") || uri.starts_with("postgres://")) {
    return client::OpenPostgresDatabase(std::string(uri), options);
  }
  if (uri.starts_with("mysql://")) return client::OpenMysqlDatabase(std::string(uri), options);
  if (uri.starts_with("mariadb://"))
    return client::OpenMysqlDatabase("mysql://" + std::string(uri.substr(10)), options);
  return Status::InvalidArgument("database URI '" + std::string(uri) +
                                 "' is not one of sqlite:///PATH, postgresql://USER@HOST:PORT/DB, "
                                 "mysql://USER[:PASS]@HOST[:PORT]/DB");
}

}  // namespace oncemq
