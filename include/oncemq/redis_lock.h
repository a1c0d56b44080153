// RedisLock: named, leased, reentrant locks in one Redis server, each held by an owner (a string the
// caller picks: a process, a consumer, a side of a migration) and handed out with a fencing token.
//
// Guarantees
// - At most one owner holds a name at a time, for as long as its lease (ttl) lasts. The lease runs on the
//   Redis server's clock (PEXPIRE/PTTL); the client's clock is never read. When it runs out, Redis drops
//   the lock by itself and the next Acquire by anyone succeeds.
// - Reentrant: Acquire by the owner that holds the name succeeds again (kReentered), with the same fencing
//   token, and counts one more hold; Release counts down, and the lock is gone when the count reaches 0.
//   A re-entry never shortens the lease: it becomes the longer of what was left and the ttl asked for.
// - Fencing tokens come from one counter for all names (INCR), so a later holder of a name always has a
//   larger token than every earlier holder, also after a lease ran out. Pass the token to what the lock
//   protects, and have it refuse a token smaller than the largest it has seen: that stops a holder whose
//   lease ran out (a long GC pause, a lost network) from writing after the next holder began.
// - Only the owner can renew or release; anyone else is told who holds the name (or that nobody does).
// - Every operation is one Lua script, so Redis runs it without interleaving.
//
// Keys (Redis): the lock of `name` is the hash `oncemq:lock:<name>`, with fields owner, token and holds,
//   and the lease as its expiry; the counter is the string `oncemq:lock_fencing_counter`, never expired
//   (one counter, not one per name: a per-name counter would have to outlive its lock to keep tokens
//   growing, leaving one key behind for every name ever locked).
//   Not for Redis Cluster: a script touches the counter besides the lock.
//
// The caller must: pick owners that are unique among the contenders, keep ttl well above the time the work
// takes (or Renew every ttl/3), and treat a lost lease (Renew or Release answering kHeldByOther or
// kNotHeld) as "another owner may be running now".
// Errors: kInvalidArgument for an empty name or owner or a ttl < 1 ms; kUnavailable when Redis cannot be
// reached or the reply to a change was lost (its outcome is then unknown: Holder tells whether the lock is
// yours, and an Acquire that did succeed counts a hold that must be released); kIoError for an error reply.
// Thread safety: every method may be called from any thread; one connection, used by one call at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "oncemq/status.h"

namespace oncemq {

struct RedisLockOptions {
  std::string uri;  // redis://HOST[:PORT][/DB]
  std::chrono::milliseconds connect_timeout{2'000};
  std::chrono::milliseconds io_timeout{5'000};
};

// Who holds a lock, as Redis saw it during the call.
struct LockHolder {
  std::string owner;
  int64_t fencing_token = 0;
  int64_t holds = 0;                // Acquires by the owner not yet released (1 when not re-entered)
  std::chrono::milliseconds ttl{};  // lease left
};

enum class AcquireOutcome {
  kAcquired,     // the name was free; the caller holds it now with a new token
  kReentered,    // the caller held it already; same token, one more hold
  kHeldByOther,  // another owner holds it; nothing changed
};

struct AcquireResult {
  AcquireOutcome outcome;
  LockHolder holder;  // after the call: the caller (acquired, reentered) or the other owner
};

enum class RenewOutcome {
  kRenewed,      // the lease is now exactly the ttl asked for
  kHeldByOther,  // the caller's lease ran out and another owner took the name
  kNotHeld,      // nobody holds the name (the caller's lease ran out, or it was never taken)
};

enum class ReleaseOutcome {
  kReleased,     // the last hold was released; the name is free
  kStillHeld,    // a re-entered hold was released; the caller still holds the name
  kHeldByOther,  // not the caller's to release; nothing changed
  kNotHeld,      // nobody holds the name; nothing changed
};

struct ReleaseResult {
  ReleaseOutcome outcome;
  int64_t holds_left = 0;  // kStillHeld: the caller's holds after this release
};

class RedisLock {
 public:
  // Connects; kInvalidArgument for a bad URI, kUnavailable if the server cannot be reached.
  static Result<std::unique_ptr<RedisLock>> Open(const RedisLockOptions& options);
  ~RedisLock();
  RedisLock(const RedisLock&) = delete;
  RedisLock& operator=(const RedisLock&) = delete;

  // Takes `name` for `owner` for `ttl`, or enters it again if `owner` holds it.
  Result<AcquireResult> Acquire(std::string_view name, std::string_view owner, std::chrono::milliseconds ttl);
  // Sets the lease of a lock `owner` holds to `ttl` from now (whatever its holds count).
  Result<RenewOutcome> Renew(std::string_view name, std::string_view owner, std::chrono::milliseconds ttl);
  // Releases one hold of `owner`.
  Result<ReleaseResult> Release(std::string_view name, std::string_view owner);
  // Who holds `name` now; nullopt if nobody does. Changes nothing.
  Result<std::optional<LockHolder>> Holder(std::string_view name);

  // The Redis key of the lock of `name`.
  static std::string LockKey(std::string_view name);

 private:
  class Impl;
  explicit RedisLock(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace oncemq
