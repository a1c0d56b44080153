#include "client/stores/open_dedup_store.h"

#include <string>

#include "client/stores/memory_dedup_store.h"
#include "client/stores/mysql_dedup_store.h"
#include "client/stores/postgres_dedup_store.h"
#include "client/stores/redis_dedup_store.h"
#include "client/stores/sqlite_dedup_store.h"

namespace oncemq::client {

namespace {

bool Consume(std::string_view& s, std::string_view prefix) {
  if (!s.starts_with(prefix)) return false;
  s.remove_prefix(prefix.size());
  return true;
}

}  // namespace

Result<std::unique_ptr<DedupStore>> OpenDedupStore(std::string_view uri) {
  std::string_view rest = uri;
  if (rest == "memory:" || rest == "memory://") return std::unique_ptr<DedupStore>(new MemoryDedupStore());
  if (Consume(rest, "sqlite://") || Consume(rest, "sqlite:")) {
    if (rest.empty()) return Status::InvalidArgument("store URI '" + std::string(uri) + "' names no file");
    SqliteDedupStoreOptions options;
    options.path = std::string(rest);
    auto store = SqliteDedupStore::Open(options);
    if (!store.ok()) return store.status();
    return std::unique_ptr<DedupStore>(std::move(*store));
  }
  if (uri.starts_with("redis://")) {
    RedisDedupStoreOptions options;
    options.uri = std::string(uri);
    auto store = RedisDedupStore::Open(options);
    if (!store.ok()) return store.status();
    return std::unique_ptr<DedupStore>(std::move(*store));
  }
  if (uri.starts_with("postgresql://") || uri.starts_with("postgres://")) {
    PostgresDedupStoreOptions options;
    options.uri = std::string(uri);
    auto store = PostgresDedupStore::Open(options);
    if (!store.ok()) return store.status();
    return std::unique_ptr<DedupStore>(std::move(*store));
  }
  if (uri.starts_with("mysql://") || uri.starts_with("mariadb://")) {
    MysqlDedupStoreOptions options;
    options.uri = uri.starts_with("mariadb://") ? "mysql://" + std::string(uri.substr(10)) : std::string(uri);
    auto store = MysqlDedupStore::Open(options);
    if (!store.ok()) return store.status();
    return std::unique_ptr<DedupStore>(std::move(*store));
  }
  return Status::InvalidArgument("store URI '" + std::string(uri) +
                                 "' is not one of memory:, sqlite:///PATH, redis://HOST:PORT[/DB], "
                                 "postgresql://USER@HOST:PORT/DB, mysql://USER[:PASS]@HOST[:PORT]/DB");
}

Result<std::shared_ptr<TransactionalDedupStore>> OpenTransactionalStore(std::string_view uri) {
  if (uri.starts_with("memory:") || uri.starts_with("redis://")) {
    return Status::Unsupported("store URI '" + std::string(uri) +
                               "': transactional mode needs an SQL store (sqlite, postgresql, mysql)");
  }
  auto store = OpenDedupStore(uri);
  if (!store.ok()) return store.status();
  std::shared_ptr<DedupStore> shared(std::move(*store));
  auto transactional = std::dynamic_pointer_cast<TransactionalDedupStore>(shared);
  if (transactional == nullptr) {
    return Status::Unsupported("store URI '" + std::string(uri) +
                               "': transactional mode needs an SQL store (sqlite, postgresql, mysql)");
  }
  return transactional;
}

}  // namespace oncemq::client
