// TransactionalDedupStore: the transactional mode of the SQL stores (DESIGN.md §3). The dedup record of a
// (group, key) is written in the same database transaction as the handler's business change, so the two
// commit or roll back together: an exactly-once effect for handlers whose effect is in that database, with
// no lease — a consumer killed mid-handler leaves nothing behind, and the message simply runs again.
//
// Guarantees every implementation gives (checked by one conformance suite run against each SQL store):
// - RunOnce claims the key inside a transaction with the decision table of dedup_rules.h: a kConsumed record
//   within retention → kDuplicate (the handler does not run); a live lease-mode claim → kInProgress; a
//   differing payload hash → kPayloadMismatch; otherwise the handler runs and, when it returns OK, the record
//   is written CONSUMED (retention from the store's clock, a new fencing token) and the transaction commits.
// - Two RunOnce calls of one key at the same moment (threads, processes) never both commit: the second waits
//   on the database's lock of the key's row and then sees kDuplicate, or runs if the first rolled back.
// - A handler that returns an error, or a failed commit, rolls back everything the handler wrote; the
//   failure is then recorded (attempts + 1, last error, state kReleased) in a transaction of its own, and
//   RunOnce returns kHandlerFailed with the handler's error. A commit whose outcome is unknown (connection
//   lost during COMMIT) is kUnavailable: the caller must not assume either way and redelivers.
// - Store failures are non-OK Statuses (kUnavailable when retriable); callers fail closed.
// Thread safety: RunOnce may be called from any thread; a call holds one connection for its transaction.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "oncemq/dedup_store.h"
#include "oncemq/sql_transaction.h"
#include "oncemq/status.h"

namespace oncemq {

struct TransactionalRequest {
  std::string group;
  std::string key;
  std::string owner;  // the consumer instance, recorded on the row
  std::chrono::milliseconds retention{std::chrono::hours(24 * 7)};
  std::optional<std::string> payload_hash;
};

enum class TransactionalOutcome {
  kCommitted,        // the handler ran and its change committed with the CONSUMED record
  kDuplicate,        // already CONSUMED: the handler did not run
  kInProgress,       // a live lease-mode claim of another consumer: not done — redeliver later
  kPayloadMismatch,  // the recorded payload hash differs: an error, not a duplicate
  kHandlerFailed,    // the handler (or the commit) failed: rolled back, the attempt recorded
};

struct TransactionalResult {
  TransactionalOutcome outcome = TransactionalOutcome::kHandlerFailed;
  DedupRecord record;     // kCommitted: as written; kDuplicate/kInProgress/kPayloadMismatch: as found;
                          // kHandlerFailed: the recorded failure (attempts, last_error)
  Status handler_status;  // kHandlerFailed: why
};

// The handler receives the transaction and the claimed record (key, fencing token, attempts so far); an OK
// return commits, an error rolls back. `result`, if set by the handler, is kept on the CONSUMED record.
using TransactionalHandler =
    std::function<Status(SqlTransaction& tx, const DedupRecord& claim, std::optional<std::string>& result)>;

class TransactionalDedupStore {
 public:
  virtual ~TransactionalDedupStore() = default;
  virtual Result<TransactionalResult> RunOnce(const TransactionalRequest& request,
                                              const TransactionalHandler& handler) = 0;
};

}  // namespace oncemq
