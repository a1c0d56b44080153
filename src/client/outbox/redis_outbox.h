// RedisOutbox: the Outbox of include/oncemq/outbox.h in one Redis server, for services whose business
// data does not live in a SQL database. The SQL outbox's rules hold unchanged (sql_outbox.cpp is the
// reference); what differs:
// - No transaction with the business change: database() is nullptr, Send(tx, …) and Transact answer
//   kUnsupported. Send(messages) stores the whole list at once or not at all (one Lua script).
// - Durability is Redis's: a stored message survives a crash only as far as the server's persistence
//   settings promise (appendonly yes + appendfsync always keep every acknowledged Send).
// - A claim walks the claimable-order index (below) for at most ClaimWalkBound(limit) entries, so a claim
//   costs the same however large the backlog; entries skipped because they are leased or not yet due
//   count towards the bound, so a claim behind more of them than that finds nothing this round.
//
// Keys (docs/outbox.md, "Redis outbox"), all under `oncemq:outbox:`:
//   seq                   INCR counter: row ids, in the order Send stored them
//   m:<id>                hash: the row (msg_id, topic, key when present, payload, headers, order_key,
//                         status, attempts, last_error, created, next_attempt, lease_until, claim, done,
//                         partition, offset)
//   msgid:<msg-id>        the id of the row holding that msg-id (a second Send of it stores nothing)
//   sending, sent, failed zsets of the rows in each status, scored by id (List, Counts)
//   sent_at               zset of SENT rows scored by done time (Purge)
//   key:<order_key>       zset of the SENDING ids of one (topic, key), by id: its first is the key's head
//   ready                 zset by id of the SENDING rows a claim may take once due and unleased: those
//                         without a key, and the head of each key — so later messages of a key cost a
//                         claim nothing while an earlier one is SENDING
// Atomicity: every change is one Lua script (EVALSHA, EVAL after NOSCRIPT); a script reads and checks
// everything before its first write, since Redis does not undo a failing script's writes. Times come
// from `redis.call('TIME')` inside the scripts, never the client's clock. Not for Redis Cluster: a
// script touches keys it discovers as it runs.
// Errors (RedisConnection's rules): unreachable → kUnavailable; a change whose reply was lost →
// kUnavailable, outcome unknown (a re-sent Send is then safe only with msg-ids the caller chose); reads
// are retried once on a new connection; data the scripts cannot read → kCorruption.
// Thread safety: every method may be called from any thread; a mutex serialises use of the connection.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "oncemq/outbox.h"

namespace oncemq::client {

// URI redis://HOST[:PORT][/DB]. Connects at once: kInvalidArgument for a bad URI, kUnavailable if the
// server cannot be reached.
Result<std::shared_ptr<Outbox>> OpenRedisOutbox(const std::string& uri);

// How many entries of the claimable-order index one Claim(…, limit) looks at, at most.
constexpr size_t ClaimWalkBound(size_t limit) {
  constexpr size_t kLargest = size_t{1} << 40;  // far beyond any batch; keeps the sum from overflowing
  return (limit < kLargest ? limit : kLargest) * 4 + 1'000;
}

}  // namespace oncemq::client
