#include "oncemq/redis_lock.h"

#include <hiredis/hiredis.h>

#include <mutex>
#include <utility>
#include <vector>

#include "client/stores/redis_connection.h"

namespace oncemq {

namespace {

using client::RedisConnection;
using client::ReplyText;
using std::chrono::milliseconds;

constexpr const char* kWho = "redis lock";
constexpr const char* kLockPrefix = "oncemq:lock:";
constexpr const char* kCounterKey = "oncemq:lock_fencing_counter";

// Shared by every script. KEYS[1] is always the lock.
// lock_of: the lock's fields, nil when nobody holds it. A hash without a number in token or holds was not
// written by these scripts: the scripts refuse to touch it (ONCEMQ_CORRUPT) rather than guess.
constexpr std::string_view kPrelude = R"lua(
local function lock_of(key)
  local f = redis.call('HMGET', key, 'owner', 'token', 'holds')
  if not f[1] then return nil end
  return {owner = f[1], token = tonumber(f[2]), holds = tonumber(f[3])}
end
local lock = lock_of(KEYS[1])
if lock and (not lock.token or not lock.holds) then
  return redis.error_reply('ONCEMQ_CORRUPT ' .. KEYS[1] .. ' is not a lock')
end
)lua";

// Acquire. KEYS = lock, counter; ARGV = owner, ttl ms.
// Returns {outcome, owner, token, holds, ttl ms} of the holder after the call.
// A re-entry keeps the longer of the lease left and the ttl asked for (PTTL is -1 only for a lock that
// somehow lost its expiry: it gets one again).
constexpr std::string_view kAcquireScript = R"lua(
local ttl = tonumber(ARGV[2])
if not lock then
  local token = redis.call('INCR', KEYS[2])
  redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'token', token, 'holds', 1)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return {'ACQUIRED', ARGV[1], token, 1, ttl}
end
local left = redis.call('PTTL', KEYS[1])
if lock.owner ~= ARGV[1] then
  return {'HELD_BY_OTHER', lock.owner, lock.token, lock.holds, left}
end
local holds = redis.call('HINCRBY', KEYS[1], 'holds', 1)
if left < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
  left = ttl
end
return {'REENTERED', lock.owner, lock.token, holds, left}
)lua";

// Renew. KEYS = lock; ARGV = owner, ttl ms. Returns {outcome}.
constexpr std::string_view kRenewScript = R"lua(
if not lock then return {'NOT_HELD'} end
if lock.owner ~= ARGV[1] then return {'HELD_BY_OTHER'} end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {'RENEWED'}
)lua";

// Release. KEYS = lock; ARGV = owner. Returns {outcome, holds left}.
constexpr std::string_view kReleaseScript = R"lua(
if not lock then return {'NOT_HELD', 0} end
if lock.owner ~= ARGV[1] then return {'HELD_BY_OTHER', 0} end
if lock.holds <= 1 then
  redis.call('DEL', KEYS[1])
  return {'RELEASED', 0}
end
return {'STILL_HELD', redis.call('HINCRBY', KEYS[1], 'holds', -1)}
)lua";

// Holder. KEYS = lock. Returns {owner, token, holds, ttl ms}, or an empty array when nobody holds it: one
// script so that the fields and the lease are read at one moment.
constexpr std::string_view kHolderScript = R"lua(
if not lock then return {} end
return {lock.owner, lock.token, lock.holds, redis.call('PTTL', KEYS[1])}
)lua";

enum Script : size_t { kAcquire, kRenew, kRelease, kHolder, kScriptCount };

std::vector<std::string> ScriptTexts() {
  const std::string_view bodies[kScriptCount] = {kAcquireScript, kRenewScript, kReleaseScript, kHolderScript};
  std::vector<std::string> texts;
  for (std::string_view body : bodies) texts.push_back(std::string(kPrelude) + std::string(body));
  return texts;
}

Status Unexpected(std::string_view script) {
  return Status::Corruption(std::string(kWho) + ": unexpected reply to " + std::string(script));
}

Status CheckArguments(std::string_view name, std::string_view owner, milliseconds ttl) {
  if (name.empty()) return Status::InvalidArgument(std::string(kWho) + ": empty lock name");
  if (owner.empty()) return Status::InvalidArgument(std::string(kWho) + ": empty owner");
  if (ttl < milliseconds(1)) return Status::InvalidArgument(std::string(kWho) + ": ttl below 1 ms");
  return Status::Ok();
}

bool IsText(const redisReply* r) {
  return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

// {owner, token, holds, ttl} from four elements of an array reply, starting at `first`.
std::optional<LockHolder> ParseHolder(const redisReply* r, size_t first) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements < first + 4) return std::nullopt;
  redisReply* const* e = r->element + first;
  if (!IsText(e[0])) return std::nullopt;
  for (size_t i = 1; i < 4; ++i) {
    if (e[i]->type != REDIS_REPLY_INTEGER) return std::nullopt;
  }
  return LockHolder{.owner = ReplyText(e[0]),
                    .fencing_token = e[1]->integer,
                    .holds = e[2]->integer,
                    .ttl = milliseconds(e[3]->integer)};
}

// The outcome word that begins every script's answer but Holder's; "" if there is none.
std::string OutcomeWord(const redisReply* r) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements == 0 || !IsText(r->element[0])) return "";
  return ReplyText(r->element[0]);
}

}  // namespace

class RedisLock::Impl {
 public:
  explicit Impl(std::unique_ptr<RedisConnection> connection) : connection_(std::move(connection)) {}

  Result<RedisConnection::ReplyPtr> Run(Script script, std::vector<std::string> keys,
                                        std::vector<std::string> args, RedisConnection::Retry retry) {
    std::lock_guard lock(mu_);
    return connection_->Script(script, keys, args, retry);
  }

 private:
  std::mutex mu_;
  const std::unique_ptr<RedisConnection> connection_;  // GUARDED_BY(mu_)
};

RedisLock::RedisLock(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RedisLock::~RedisLock() = default;

std::string RedisLock::LockKey(std::string_view name) {
  return kLockPrefix + std::string(name);
}

Result<std::unique_ptr<RedisLock>> RedisLock::Open(const RedisLockOptions& options) {
  Result<client::RedisEndpoint> endpoint = client::ParseRedisUri(options.uri, kWho);
  if (!endpoint.ok()) return endpoint.status();
  Result<std::unique_ptr<RedisConnection>> connection =
      RedisConnection::Open(std::move(endpoint).value(), {.who = kWho,
                                                          .connect_timeout = options.connect_timeout,
                                                          .io_timeout = options.io_timeout,
                                                          .scripts = ScriptTexts()});
  if (!connection.ok()) return connection.status();
  return std::unique_ptr<RedisLock>(new RedisLock(std::make_unique<Impl>(std::move(connection).value())));
}

Result<AcquireResult> RedisLock::Acquire(std::string_view name, std::string_view owner, milliseconds ttl) {
  if (Status s = CheckArguments(name, owner, ttl); !s.ok()) return s;
  Result<RedisConnection::ReplyPtr> reply =
      impl_->Run(kAcquire, {LockKey(name), kCounterKey}, {std::string(owner), std::to_string(ttl.count())},
                 RedisConnection::Retry::kNever);
  if (!reply.ok()) return reply.status();
  const std::string word = OutcomeWord(reply->get());
  const std::optional<LockHolder> holder = ParseHolder(reply->get(), 1);
  if (!holder) return Unexpected("acquire");
  if (word == "ACQUIRED") return AcquireResult{AcquireOutcome::kAcquired, *holder};
  if (word == "REENTERED") return AcquireResult{AcquireOutcome::kReentered, *holder};
  if (word == "HELD_BY_OTHER") return AcquireResult{AcquireOutcome::kHeldByOther, *holder};
  return Unexpected("acquire");
}

Result<RenewOutcome> RedisLock::Renew(std::string_view name, std::string_view owner, milliseconds ttl) {
  if (Status s = CheckArguments(name, owner, ttl); !s.ok()) return s;
  Result<RedisConnection::ReplyPtr> reply =
      impl_->Run(kRenew, {LockKey(name)}, {std::string(owner), std::to_string(ttl.count())},
                 RedisConnection::Retry::kNever);
  if (!reply.ok()) return reply.status();
  const std::string word = OutcomeWord(reply->get());
  if (word == "RENEWED") return RenewOutcome::kRenewed;
  if (word == "HELD_BY_OTHER") return RenewOutcome::kHeldByOther;
  if (word == "NOT_HELD") return RenewOutcome::kNotHeld;
  return Unexpected("renew");
}

Result<ReleaseResult> RedisLock::Release(std::string_view name, std::string_view owner) {
  if (Status s = CheckArguments(name, owner, milliseconds(1)); !s.ok()) return s;
  Result<RedisConnection::ReplyPtr> reply =
      impl_->Run(kRelease, {LockKey(name)}, {std::string(owner)}, RedisConnection::Retry::kNever);
  if (!reply.ok()) return reply.status();
  const redisReply* r = reply->get();
  const std::string word = OutcomeWord(r);
  if (r->elements != 2 || r->element[1]->type != REDIS_REPLY_INTEGER) return Unexpected("release");
  const int64_t holds_left = r->element[1]->integer;
  if (word == "RELEASED") return ReleaseResult{ReleaseOutcome::kReleased, 0};
  if (word == "STILL_HELD") return ReleaseResult{ReleaseOutcome::kStillHeld, holds_left};
  if (word == "HELD_BY_OTHER") return ReleaseResult{ReleaseOutcome::kHeldByOther, 0};
  if (word == "NOT_HELD") return ReleaseResult{ReleaseOutcome::kNotHeld, 0};
  return Unexpected("release");
}

Result<std::optional<LockHolder>> RedisLock::Holder(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument(std::string(kWho) + ": empty lock name");
  Result<RedisConnection::ReplyPtr> reply =
      impl_->Run(kHolder, {LockKey(name)}, {}, RedisConnection::Retry::kReadOnly);
  if (!reply.ok()) return reply.status();
  const redisReply* r = reply->get();
  if (r->type == REDIS_REPLY_ARRAY && r->elements == 0) return std::optional<LockHolder>();
  std::optional<LockHolder> holder = ParseHolder(r, 0);
  if (!holder) return Unexpected("holder");
  return holder;
}

}  // namespace oncemq
