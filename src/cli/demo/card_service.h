// The demo's card service: an idempotent consumer that issues one membership card per payment. It runs as
// a child process (`oncemq demo card-service …`) so that the demo can SIGKILL it mid-handler.
//
// With an SQL store (the default SQLite file, or PostgreSQL/MySQL) it runs in transactional mode: the card
// row and the dedup record commit together, so a killed handler leaves nothing and the card table itself
// shows whether any payment got two cards (payment_id is deliberately not unique). With a Redis store it
// runs in lease mode and writes cards to the SQLite card table with a unique payment_id (InsertUnique):
// lease mode alone would re-run a handler killed after its write.
// Started while its store is down, it waits for the store (up to a minute) rather than exit at once.
// Every 200 ms it writes its consumer counters to its stats file (replaced atomically), so the demo can
// count what this incarnation deduplicated even after killing it (at most 200 ms of counts are lost).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "oncemq/idempotent_consumer.h"
#include "oncemq/status.h"

namespace oncemq::cli::demo {

inline constexpr char kPaymentsTopic[] = "payments";
inline constexpr char kCardsGroup[] = "card-service";

struct CardServiceOptions {
  std::string dir;        // the demo's directory: cards.db, stats files
  std::string bootstrap;  // the broker
  std::string store;      // dedup store URI; default sqlite://DIR/cards.db
  std::string stats_file;
  // The self-check's deliberate mistake: dedup keyed on the delivery (partition@offset) instead of the
  // payment's msg-id, so two copies of a payment at two offsets both get a card.
  bool key_by_offset = false;
};

// The card table's database (where cards are counted): the store itself when it is SQL, else DIR/cards.db.
std::string CardDatabaseUri(const std::string& dir, const std::string& store);

// The child's main: consumes until SIGTERM; 0 on a clean stop.
int RunCardService(const CardServiceOptions& options);

// Writes `stats` to `path` as one line of "name value" pairs, atomically.
void WriteStats(const std::string& path, const ConsumerStats& stats);
// Reads a stats file; zeros for a missing or unreadable one.
ConsumerStats ReadStats(const std::string& path);

}  // namespace oncemq::cli::demo
