#include "sql_test_databases.h"

#include <unistd.h>

#include <atomic>
#include <memory>

#include "dedup_store_conformance.h"
#include "support/servers/mariadb_server.h"
#include "support/servers/postgres_server.h"

namespace oncemq::testing {

namespace {

std::atomic<int> counter{0};

// One server of type S for the program, started on first use, stopped when the current suite ends.
template <typename S>
class SharedServer {
 public:
  static S* Get(std::string* error) {
    if (server_ == nullptr && start_error_.empty()) {
      auto server = std::make_unique<S>();
      if (server->Start(&start_error_)) {
        server_ = std::move(server);
        client::conformance::AtSuiteEnd([] { server_.reset(); });
      }
    }
    *error = start_error_;
    return server_.get();
  }

 private:
  static inline std::unique_ptr<S> server_;
  static inline std::string start_error_;
};

}  // namespace

RedisServer* EmptyTestRedis(std::string* error) {
  RedisServer* server = SharedServer<RedisServer>::Get(error);
  if (server == nullptr || !server->FlushAll(error)) return nullptr;
  return server;
}

std::string EngineName(SqlEngine engine) {
  switch (engine) {
    case SqlEngine::kSqlite: return "Sqlite";
    case SqlEngine::kPostgres: return "Postgres";
    case SqlEngine::kMysql: return "Mariadb";
  }
  return "?";
}

std::string NewTestDatabase(SqlEngine engine, std::string* error) {
  const std::string name = "oncemq_t" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  switch (engine) {
    case SqlEngine::kSqlite: {
      const std::string path = ::testing::TempDir() + name + ".db";
      for (const char* suffix : {"", "-wal", "-shm"}) unlink((path + suffix).c_str());
      return "sqlite://" + path;
    }
    case SqlEngine::kPostgres: {
      PostgresServer* server = SharedServer<PostgresServer>::Get(error);
      if (server == nullptr || !server->CreateDatabase(name, error)) return "";
      return server->uri(name);
    }
    case SqlEngine::kMysql: {
      MariadbServer* server = SharedServer<MariadbServer>::Get(error);
      if (server == nullptr || !server->CreateDatabase("oncemq_" + name, error)) return "";
      return server->uri("oncemq_" + name);
    }
  }
  return "";
}

}  // namespace oncemq::testing
