// The pieces of the outbox's SQL that differ between SQLite, PostgreSQL and MySQL/MariaDB. Everything else
// (sql_outbox.cpp) is one text for all three.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "oncemq/sql_transaction.h"

namespace oncemq::client {

struct OutboxDialect {
  SqlEngine engine;
  std::string now;                  // the database clock, ms since the epoch
  std::string bytes_in;             // a byte parameter: "?" wrapped, e.g. decode(?, 'hex')
  bool bytes_in_hex = false;        // whether that parameter is sent as hex
  std::string insert_ignore;        // after VALUES: keep the existing row of a msg-id
  std::string skip_locked;          // after a SELECT that locks the rows it returns
  std::string claim_setting;        // run first in a claim transaction ("" for none)
  std::vector<std::string> schema;  // CREATE statements, each run on its own
  // A byte column, read back as hex (NULL stays NULL).
  std::string BytesOut(std::string_view column) const;
};

const OutboxDialect& DialectFor(SqlEngine engine);

}  // namespace oncemq::client
