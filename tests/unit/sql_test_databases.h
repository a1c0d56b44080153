// Throwaway databases for tests that run against every SQL engine: a fresh SQLite file, or a fresh database
// on a PostgreSQL or MariaDB server that the test program starts on 127.0.0.1 the first time one is asked
// for, and stops after the suite that started it (AtSuiteEnd; the suite's TearDownTestSuite must call
// StopSuiteResources()). The same for a redis-server, for suites that run on Redis too.
#pragma once

#include <string>

#include "oncemq/sql_transaction.h"
#include "support/servers/redis_server.h"

namespace oncemq::testing {

// The URI of a new empty database of `engine`; "" with *error set if it could not be made (the server is
// not installed or did not start).
std::string NewTestDatabase(SqlEngine engine, std::string* error);

std::string EngineName(SqlEngine engine);

// The program's shared redis-server, emptied (FLUSHALL) for the caller; nullptr with *error set if it
// could not be started or emptied.
RedisServer* EmptyTestRedis(std::string* error);

}  // namespace oncemq::testing
