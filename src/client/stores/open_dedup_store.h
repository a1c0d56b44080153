// OpenDedupStore: a dedup store chosen by URI, as the consumer, the CLI and the demo name them (issue 5):
//   memory:                     in this process only (tests)
//   sqlite:///ABSOLUTE/PATH     sqlite:relative/path also accepted; the file is created if missing
//   redis://HOST:PORT[/DB]
//   postgresql://USER@HOST:PORT/DB  (postgres:// too; any libpq URI)
//   mysql://USER[:PASSWORD]@HOST[:PORT]/DB  (MySQL or MariaDB; mariadb:// too)
// kInvalidArgument names what is wrong with a URI. Errors opening the store itself are the store's own.
#pragma once

#include <memory>
#include <string_view>

#include "oncemq/dedup_store.h"
#include "oncemq/transactional_dedup_store.h"

namespace oncemq::client {

Result<std::unique_ptr<DedupStore>> OpenDedupStore(std::string_view uri);

// The SQL stores (sqlite, postgresql, mysql) in transactional mode; kUnsupported for memory: and redis://,
// which cannot hold a handler's business change.
Result<std::shared_ptr<TransactionalDedupStore>> OpenTransactionalStore(std::string_view uri);

}  // namespace oncemq::client
