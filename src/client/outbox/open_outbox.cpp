// Outbox::Open: an outbox chosen by URI.
#include "client/outbox/redis_outbox.h"
#include "client/outbox/sql_outbox.h"
#include "oncemq/outbox.h"

namespace oncemq {

Result<std::shared_ptr<Outbox>> Outbox::Open(std::string_view uri, const SqlDatabaseOptions& options) {
  // A Redis outbox is one connection: the SQL pool and busy settings do not apply to it.
  if (uri.starts_with("redis://")) return client::OpenRedisOutbox(std::string(uri));
  Result<std::shared_ptr<SqlDatabase>> database = OpenSqlDatabase(uri, options);
  if (!database.ok()) return database.status();
  return client::OpenSqlOutbox(std::move(*database));
}

Result<std::shared_ptr<Outbox>> Outbox::Open(std::shared_ptr<SqlDatabase> database) {
  return client::OpenSqlOutbox(std::move(database));
}

}  // namespace oncemq
