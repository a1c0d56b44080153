// RedisDedupStore: a DedupStore in one Redis server (DESIGN.md §3), over hiredis' synchronous API.
//
// Keys (docs/sdk.md): one hash per (group, key) at `oncemq:dedup:r:<len(group)>:<group>:<key>` — the group's
// byte length comes first, so a group or key containing ':' cannot make two pairs share a hash. Its fields
// mirror DedupRecord (state, owner, token, lease, retain, attempts, error, updated, and hash/result only
// when present). One string `oncemq:dedup:token_high_water` holds the largest fencing token ever issued.
//
// Atomicity: every transition is one Lua script (EVALSHA, falling back to EVAL on NOSCRIPT), so Redis runs
// it without interleaving: a whole Claim batch is one script call (one round trip), and Renew, Complete and
// Release are token-checked scripts; a CompleteBatch is one script call too, Complete's logic per key.
// The scripts port dedup_rules.cpp's decision table line by line.
// Time: `redis.call('TIME')` inside each script, plus clock_skew_ms (an ARGV) — never the client's clock.
// Fencing tokens: a key with a record gets its token + 1; a key without one gets the high-water mark + 1.
// Since the mark covers every token ever issued, tokens of a key keep growing even after its record was
// swept or expired by Redis itself.
// Retention: Complete sets PEXPIREAT to the retention end + expiry_grace, so Redis frees CONSUMED records
// on its own; Sweep deletes them earlier (SCAN over the record keys, bounded by its limit). A CONSUMED
// record past its retention is treated as gone either way.
// Errors (the connection is a RedisConnection): an I/O error reconnects. Reads (Get, NowMs, Sweep's SCAN)
// are then retried once; a write whose reply was lost is not (its outcome is unknown) and answers
// kUnavailable, as does a server that cannot be reached. A Redis error reply is kIoError; a record that
// cannot be parsed is kCorruption.
// Not for Redis Cluster: the scripts touch the high-water key besides the record keys.
// Thread safety: every method may be called from any thread; a mutex serialises use of the connection.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client/stores/redis_connection.h"
#include "oncemq/dedup_store.h"

namespace oncemq::client {

struct RedisDedupStoreOptions {
  std::string uri;  // redis://HOST:PORT[/DB]
  std::chrono::milliseconds connect_timeout{2'000};
  std::chrono::milliseconds io_timeout{5'000};
  // How long after its retention ends Redis itself deletes a CONSUMED record that Sweep did not.
  std::chrono::milliseconds expiry_grace{60'000};
  // Added to the server's clock. For tests only: they step time instead of sleeping.
  int64_t clock_skew_ms = 0;
};

class RedisDedupStore final : public DedupStore {
 public:
  // Connects and loads the scripts; kInvalidArgument for a bad URI, kUnavailable if unreachable.
  static Result<std::unique_ptr<RedisDedupStore>> Open(const RedisDedupStoreOptions& options);
  ~RedisDedupStore() override;
  RedisDedupStore(const RedisDedupStore&) = delete;
  RedisDedupStore& operator=(const RedisDedupStore&) = delete;

  // For tests: replaces options.clock_skew_ms.
  void SetClockSkewForTesting(int64_t skew_ms) { clock_skew_ms_.store(skew_ms); }

  Result<std::vector<ClaimResult>> Claim(std::span<const ClaimRequest> requests) override;
  Result<FencedOutcome> Renew(const std::string& group, const std::string& key, int64_t token,
                              std::chrono::milliseconds lease) override;
  Result<FencedOutcome> Complete(const std::string& group, const std::string& key, int64_t token,
                                 std::chrono::milliseconds retention,
                                 std::optional<std::string> result) override;
  // One script call (one round trip) for the whole batch, at one store time.
  Result<std::vector<FencedOutcome>> CompleteBatch(std::span<const CompleteRequest> requests) override;
  Result<FencedOutcome> Release(const std::string& group, const std::string& key, int64_t token,
                                const std::string& error) override;
  Result<std::optional<DedupRecord>> Get(const std::string& group, const std::string& key) override;
  Result<size_t> Sweep(size_t limit) override;
  Result<int64_t> NowMs() override;

  // The hash holding the record of (group, key).
  static std::string RecordKey(const std::string& group, const std::string& key);

 private:
  using ReplyPtr = RedisConnection::ReplyPtr;
  using Retry = RedisConnection::Retry;

  RedisDedupStore(std::unique_ptr<RedisConnection> connection, const RedisDedupStoreOptions& options);

  Result<FencedOutcome> FencedScript(int script, const std::string& group, const std::string& key,
                                     std::vector<std::string> args);

  const RedisDedupStoreOptions options_;
  std::atomic<int64_t> clock_skew_ms_;
  std::mutex mu_;
  const std::unique_ptr<RedisConnection> connection_;  // GUARDED_BY(mu_)
};

}  // namespace oncemq::client
