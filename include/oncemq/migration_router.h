// MigrationRouter: consumes one logical stream from two clusters at once — the old one and the new one a
// team is moving to — so the move happens without stopping, and each message's business effect still
// happens once (DESIGN.md §3; the seeds' Kafka → new-cluster recipe). Producers write every message to
// both clusters with the same oncemq-msg-id while the move is on.
//
// Per side (kOld, kNew) it runs an IdempotentConsumer (its own options: bootstrap, group, topics, dedup
// store, retries). Which side handles a message is decided once, by the first side that sees it:
// - route: the new side if the record key is in the allow-list, else the new side if
//   hash(msg-id) mod 100 < the cut-over percentage, else the old side (hash: 64-bit FNV-1a of the msg-id);
// - the side then takes the message's lock for the routed side (RedisLock `router:<name>:<msg-id>`, owner
//   the side's name, leased for lock_ttl) — or, if a side took it already, learns which. The lock's holder
//   is the message's side for good: that side runs the handler (again, after a failure: the lock is
//   reentrant for its owner, and the side's own retry topics bring the message back); the other side skips
//   it (counted) and moves on. So moving the percentage while both sides run never makes a message run on
//   both sides, nor on neither, as long as each side consumes every message within lock_ttl.
// - a consume switch per side: a side switched off stops consuming (it leaves its group; its offsets stay
//   committed) and its messages wait for it — a message routed to it while it is off is handled when it is
//   switched on again.
// - the lock store failing (Redis down) fails closed: the message is retried through the side's retry
//   topics, never handled without its lock.
// Thread safety: Run on one thread (it runs one thread per switched-on side); every other method from any
// thread. The handler runs on the side's thread, so two calls may run at once (one per side).
#pragma once

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "oncemq/idempotent_consumer.h"
#include "oncemq/status.h"

namespace oncemq {

enum class MigrationSide { kOld = 0, kNew = 1 };
std::string_view MigrationSideName(MigrationSide side);  // "old", "new"

struct MigrationRouterOptions {
  std::string name = "migration";  // names the locks of this stream
  IdempotentConsumerOptions old_side;
  IdempotentConsumerOptions new_side;
  bool consume_old = true;
  bool consume_new = true;
  int percent = 0;                   // 0–100: share of msg-ids routed to the new side
  std::set<std::string> allow_list;  // record keys always routed to the new side
  std::string lock_uri;              // redis://HOST:PORT[/DB]
  std::chrono::milliseconds lock_ttl{std::chrono::hours(24 * 7)};  // longer than the sides' lag apart
};

struct MigrationSideStats {
  uint64_t handled = 0;        // handler ran and succeeded here
  uint64_t failed = 0;         // handler failed here (the side's consumer retries it)
  uint64_t left_to_other = 0;  // the message belongs to the other side: skipped here
  uint64_t lock_errors = 0;    // the lock store did not answer: retried later
  ConsumerStats consumer;
};

struct MigrationRouterStats {
  MigrationSideStats old_side;
  MigrationSideStats new_side;
};

class MigrationRouter {
 public:
  // The handler sees the message and the side it runs on.
  using Handler =
      std::function<Status(MigrationSide side, const MessageView& message, HandlerContext& context)>;

  static Result<std::unique_ptr<MigrationRouter>> Create(MigrationRouterOptions options, Handler handler);
  ~MigrationRouter();
  MigrationRouter(const MigrationRouter&) = delete;
  MigrationRouter& operator=(const MigrationRouter&) = delete;

  // Runs until Stop(). Non-OK for a fatal error of a side.
  Status Run();
  void Stop();

  void SetPercent(int percent);  // clamped to 0–100; applies to messages not yet routed
  void AllowKey(std::string key);
  void SetConsume(MigrationSide side, bool on);

  MigrationRouterStats stats() const;

  // The routing rule, for tests and tools.
  static MigrationSide Route(std::string_view msg_id, const std::optional<std::string_view>& key, int percent,
                             const std::set<std::string>& allow_list);

  class Impl;

 private:
  explicit MigrationRouter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace oncemq
