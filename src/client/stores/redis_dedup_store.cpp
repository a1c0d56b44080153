#include "client/stores/redis_dedup_store.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <string_view>

#include "client/stores/dedup_rules.h"

namespace oncemq::client {

namespace {

constexpr const char* kHighWaterKey = "oncemq:dedup:token_high_water";
constexpr const char* kRecordPrefix = "oncemq:dedup:r:";

// Shared by every script. now_ms: the server's clock plus the test skew (ARGV[1] of every script).
// int: numbers are written as decimal integers, never in Lua's %.14g.
constexpr std::string_view kPrelude = R"lua(
local function now_ms(skew)
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(skew)
end
local function int(n) return string.format('%d', n) end
-- True if KEYS[i] is CONSUMING with exactly this token (the fencing check of Renew/Complete/Release).
local function owned(key, token)
  local f = redis.call('HMGET', key, 'state', 'token')
  return f[1] == 'CONSUMING' and f[2] == token
end
-- Complete of one record at store time `now`: 1 (done) or 0 (fenced). Redis deletes the record itself
-- `grace` ms after the retention ends, in its own (unskewed) time.
-- A CONSUMING record has no result field (every claim writes a new hash), so none needs deleting.
local function complete(key, now, skew, token, retention, grace, has_result, result)
  if not owned(key, token) then return 0 end
  local retain = now + tonumber(retention)
  if has_result == '1' then
    redis.call('HSET', key, 'state', 'CONSUMED', 'retain', int(retain), 'updated', int(now), 'result', result)
  else
    redis.call('HSET', key, 'state', 'CONSUMED', 'retain', int(retain), 'updated', int(now))
  end
  redis.call('PEXPIREAT', key, int(retain - tonumber(skew) + tonumber(grace)))
  return 1
end
)lua";

// Claim. KEYS[1] = the token high-water key, KEYS[1 + i] = request i's record key.
// ARGV[1] = skew, then per request four: owner, lease ms, has hash ('1'/'0'), hash.
// Returns {now, answer 1, answer 2, …}: a fresh claim of a key that had no record is answered with its
// token alone (an integer; the caller knows the rest: its own request and `now`), every other outcome with
// {outcome, state, owner, token, lease, retain, attempts, error, hash|nil, result|nil, updated}. Most keys
// of a batch are new, and the lean answer halves what the server encodes and the client parses.
// A port of dedup_rules.cpp: keep the two in step.
constexpr std::string_view kClaimScript = R"lua(
local now = now_ms(ARGV[1])
local now_text = int(now)
local states = {CONSUMING = true, CONSUMED = true, RELEASED = true}

-- Read every record, and check it, before writing anything: a script's error does not undo its writes.
local found = {}
for i = 2, #KEYS do
  local f = redis.call('HGETALL', KEYS[i])
  if #f > 0 then
    local r = {}
    for j = 1, #f, 2 do r[f[j]] = f[j + 1] end
    if not states[r.state] then return redis.error_reply('ONCEMQ_CORRUPT unknown state in ' .. KEYS[i]) end
    r.token = tonumber(r.token)
    r.lease = tonumber(r.lease)
    r.retain = tonumber(r.retain)
    r.attempts = tonumber(r.attempts)
    found[i] = r
  end
end

-- HashDiffers
local function hash_differs(f, q)
  return q.hash ~= nil and f.hash ~= nil and q.hash ~= f.hash
end

-- NewClaim: carried is a RELEASED or expired CONSUMING record whose attempts and error carry on.
local function new_claim(carried, f, q, new_key_token)
  local r = {state = 'CONSUMING', owner = q.owner, lease = now + q.lease, retain = 0, attempts = 0,
             error = '', hash = q.hash, updated = now}
  if f then r.token = f.token + 1 else r.token = new_key_token end
  if carried then
    r.attempts = carried.attempts
    r.error = carried.error
    if r.hash == nil then r.hash = carried.hash end
  end
  return r
end

-- DecideClaim
local function decide(f, q, new_key_token)
  if not f then return 'CLAIMED', new_claim(nil, nil, q, new_key_token) end
  local consumed_live = f.state == 'CONSUMED' and now < f.retain
  local consuming = f.state == 'CONSUMING'
  if (consumed_live or consuming) and hash_differs(f, q) then return 'PAYLOAD_MISMATCH', f end
  if consumed_live then return 'DUPLICATE', f end
  if consuming and now < f.lease then return 'IN_PROGRESS', f end
  local carried = f
  if f.state == 'CONSUMED' then carried = nil end
  local outcome = 'CLAIMED'
  if consuming then outcome = 'TAKEN_OVER' end
  return outcome, new_claim(carried, f, q, new_key_token)
end

-- Every claim writes a whole new hash (an old one is deleted first, with its expiry and result): so a
-- CONSUMING record never has a result field, which Complete relies on.
local lease_texts = {}
local function store(key, r, existed)
  if existed then redis.call('DEL', key) end
  local lease_text = lease_texts[r.lease]
  if not lease_text then
    lease_text = int(r.lease)
    lease_texts[r.lease] = lease_text
  end
  local attempts_text = '0'
  if r.attempts ~= 0 then attempts_text = int(r.attempts) end
  if r.hash ~= nil then
    redis.call('HSET', key, 'state', 'CONSUMING', 'owner', r.owner, 'token', int(r.token), 'lease', lease_text,
               'retain', '0', 'attempts', attempts_text, 'error', r.error, 'updated', now_text, 'hash', r.hash)
  else
    redis.call('HSET', key, 'state', 'CONSUMING', 'owner', r.owner, 'token', int(r.token), 'lease', lease_text,
               'retain', '0', 'attempts', attempts_text, 'error', r.error, 'updated', now_text)
  end
end

local high_water = tonumber(redis.call('GET', KEYS[1]) or '0')
local issued = high_water
local out = {now}
local claimed_here = {}  -- a key repeated in the batch sees the claim its first request made
for i = 2, #KEYS do
  local a = 2 + (i - 2) * 4
  local q = {owner = ARGV[a], lease = tonumber(ARGV[a + 1])}
  if ARGV[a + 2] == '1' then q.hash = ARGV[a + 3] end
  local f = claimed_here[KEYS[i]] or found[i]
  local outcome, r = decide(f, q, high_water + 1)
  if outcome == 'CLAIMED' or outcome == 'TAKEN_OVER' then
    store(KEYS[i], r, f ~= nil)
    claimed_here[KEYS[i]] = r
    if r.token > high_water then high_water = r.token end
  end
  if outcome == 'CLAIMED' and f == nil then
    out[#out + 1] = r.token
  else
    out[#out + 1] = {outcome, r.state, r.owner, int(r.token), int(r.lease), int(r.retain), int(r.attempts),
                     r.error, r.hash or false, r.result or false, int(r.updated)}
  end
end
if high_water > issued then redis.call('SET', KEYS[1], int(high_water)) end
return out
)lua";

// Renew. KEYS[1] = record; ARGV = skew, token, lease ms. Returns 1 (done) or 0 (fenced).
constexpr std::string_view kRenewScript = R"lua(
local now = now_ms(ARGV[1])
if not owned(KEYS[1], ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'lease', int(now + tonumber(ARGV[3])), 'updated', int(now))
return 1
)lua";

// Complete. KEYS[1] = record; ARGV = skew, token, retention ms, expiry grace ms, has result, result.
constexpr std::string_view kCompleteScript = R"lua(
return complete(KEYS[1], now_ms(ARGV[1]), ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
)lua";

// CompleteBatch. KEYS[i] = request i's record key; ARGV[1] = skew, ARGV[2] = expiry grace ms, then per
// request four: token, retention ms, has result, result. Returns per request 1 (done) or 0 (fenced): the
// Complete script's logic applied in request order at one store time, so a key repeated in the batch is
// done by its first request with the current token, and its later repeats are fenced.
constexpr std::string_view kCompleteBatchScript = R"lua(
local now = now_ms(ARGV[1])
local now_text = int(now)
local expiry_shift = tonumber(ARGV[2]) - tonumber(ARGV[1])  -- grace, and back to the server's own clock
local texts = {}  -- retention ms → {retain, expire-at} as text: a batch mostly shares one retention
local out = {}
for i = 1, #KEYS do
  local a = 3 + (i - 1) * 4
  local key = KEYS[i]
  local f = redis.call('HMGET', key, 'state', 'token')
  if f[1] == 'CONSUMING' and f[2] == ARGV[a] then
    local t = texts[ARGV[a + 1]]
    if not t then
      local retain = now + tonumber(ARGV[a + 1])
      t = {int(retain), int(retain + expiry_shift)}
      texts[ARGV[a + 1]] = t
    end
    if ARGV[a + 2] == '1' then
      redis.call('HSET', key, 'state', 'CONSUMED', 'retain', t[1], 'updated', now_text, 'result', ARGV[a + 3])
    else
      redis.call('HSET', key, 'state', 'CONSUMED', 'retain', t[1], 'updated', now_text)
    end
    redis.call('PEXPIREAT', key, t[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
)lua";

// Release. KEYS[1] = record; ARGV = skew, token, error.
constexpr std::string_view kReleaseScript = R"lua(
local now = now_ms(ARGV[1])
if not owned(KEYS[1], ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'state', 'RELEASED', 'error', ARGV[3], 'updated', int(now))
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return 1
)lua";

// Sweep. KEYS = record keys from one SCAN page; ARGV = skew, limit. Deletes CONSUMED records whose
// retention ended, at most `limit`; returns how many. The high-water key already covers their tokens.
constexpr std::string_view kSweepScript = R"lua(
local now = now_ms(ARGV[1])
local limit = tonumber(ARGV[2])
local n = 0
for _, key in ipairs(KEYS) do
  if n >= limit then break end
  local f = redis.call('HMGET', key, 'state', 'retain')
  if f[1] == 'CONSUMED' and tonumber(f[2]) <= now then
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
)lua";

enum Script { kClaim, kRenew, kComplete, kCompleteBatch, kRelease, kSweep, kScriptCount };

// The scripts in Script order, each behind the shared prelude.
std::vector<std::string> ScriptTexts() {
  const std::string_view bodies[kScriptCount] = {kClaimScript,         kRenewScript,   kCompleteScript,
                                                 kCompleteBatchScript, kReleaseScript, kSweepScript};
  std::vector<std::string> texts;
  for (std::string_view body : bodies) texts.push_back(std::string(kPrelude) + std::string(body));
  return texts;
}

bool ParseInt(std::string_view text, int64_t* out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

Status Corrupt(const std::string& what) {
  return Status::Corruption("redis dedup store: " + what);
}

std::optional<ClaimOutcome> ParseOutcome(std::string_view name) {
  if (name == "CLAIMED") return ClaimOutcome::kClaimed;
  if (name == "TAKEN_OVER") return ClaimOutcome::kTakenOver;
  if (name == "DUPLICATE") return ClaimOutcome::kDuplicate;
  if (name == "IN_PROGRESS") return ClaimOutcome::kInProgress;
  if (name == "PAYLOAD_MISMATCH") return ClaimOutcome::kPayloadMismatch;
  return std::nullopt;
}

// A record from field → value pairs (a hash, or the claim script's answer).
struct Fields {
  std::optional<std::string> state, owner, token, lease, retain, attempts, error, hash, result, updated;
};

Result<DedupRecord> ToRecord(const Fields& f, const std::string& group, const std::string& key) {
  DedupRecord r;
  r.group = group;
  r.key = key;
  const std::optional<DedupState> state = f.state ? ParseState(*f.state) : std::nullopt;
  if (!state) return Corrupt("unknown state of key " + key);
  r.state = *state;
  r.owner = f.owner.value_or("");
  r.last_error = f.error.value_or("");
  r.payload_hash = f.hash;
  r.result = f.result;
  int64_t attempts = 0;
  const std::pair<const std::optional<std::string>*, int64_t*> numbers[] = {{&f.token, &r.fencing_token},
                                                                            {&f.lease, &r.lease_until_ms},
                                                                            {&f.retain, &r.retain_until_ms},
                                                                            {&f.attempts, &attempts},
                                                                            {&f.updated, &r.updated_ms}};
  for (const auto& [text, out] : numbers) {
    if (!*text || !ParseInt(**text, out)) return Corrupt("bad number in record of key " + key);
  }
  r.attempts = static_cast<int32_t>(attempts);
  return r;
}

// The record the claim script wrote for a key that had none, from the request and the script's answer.
DedupRecord FreshClaim(const ClaimRequest& request, int64_t token, int64_t now) {
  DedupRecord r;
  r.group = request.group;
  r.key = request.key;
  r.state = DedupState::kConsuming;
  r.owner = request.owner;
  r.fencing_token = token;
  r.lease_until_ms = now + request.lease.count();
  r.retain_until_ms = 0;
  r.attempts = 0;
  r.payload_hash = request.payload_hash;
  r.updated_ms = now;
  return r;
}

std::optional<std::string> Element(const redisReply* r) {
  if (r->type == REDIS_REPLY_NIL) return std::nullopt;
  return ReplyText(r);
}

}  // namespace

std::string RedisDedupStore::RecordKey(const std::string& group, const std::string& key) {
  return kRecordPrefix + std::to_string(group.size()) + ":" + group + ":" + key;
}

RedisDedupStore::RedisDedupStore(std::unique_ptr<RedisConnection> connection,
                                 const RedisDedupStoreOptions& options)
    : options_(options), clock_skew_ms_(options.clock_skew_ms), connection_(std::move(connection)) {}

RedisDedupStore::~RedisDedupStore() = default;

Result<std::unique_ptr<RedisDedupStore>> RedisDedupStore::Open(const RedisDedupStoreOptions& options) {
  constexpr std::string_view kWho = "redis dedup store";
  Result<RedisEndpoint> endpoint = ParseRedisUri(options.uri, kWho);
  if (!endpoint.ok()) return endpoint.status();
  Result<std::unique_ptr<RedisConnection>> connection =
      RedisConnection::Open(std::move(endpoint).value(), {.who = std::string(kWho),
                                                          .connect_timeout = options.connect_timeout,
                                                          .io_timeout = options.io_timeout,
                                                          .scripts = ScriptTexts()});
  if (!connection.ok()) return connection.status();
  return std::unique_ptr<RedisDedupStore>(new RedisDedupStore(std::move(connection).value(), options));
}

Result<int64_t> RedisDedupStore::NowMs() {
  std::lock_guard lock(mu_);
  Result<ReplyPtr> reply = connection_->Command({"TIME"}, Retry::kReadOnly);
  if (!reply.ok()) return reply.status();
  const redisReply* r = reply->get();
  int64_t seconds = 0;
  int64_t micros = 0;
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !ParseInt(ReplyText(r->element[0]), &seconds) ||
      !ParseInt(ReplyText(r->element[1]), &micros)) {
    return Corrupt("unexpected TIME reply");
  }
  return seconds * 1000 + micros / 1000 + clock_skew_ms_.load();
}

Result<std::vector<ClaimResult>> RedisDedupStore::Claim(std::span<const ClaimRequest> requests) {
  for (const ClaimRequest& r : requests) {
    if (Status s = ValidateClaim(r); !s.ok()) return s;
  }
  if (requests.empty()) return std::vector<ClaimResult>();
  std::vector<std::string> keys = {kHighWaterKey};
  std::vector<std::string> args = {std::to_string(clock_skew_ms_.load())};
  for (const ClaimRequest& r : requests) {
    keys.push_back(RecordKey(r.group, r.key));
    args.insert(args.end(), {r.owner, std::to_string(r.lease.count()), r.payload_hash ? "1" : "0",
                             r.payload_hash.value_or("")});
  }
  std::lock_guard lock(mu_);
  Result<ReplyPtr> reply = connection_->Script(kClaim, keys, args, Retry::kNever);
  if (!reply.ok()) return reply.status();
  const redisReply* r = reply->get();
  if (r->type != REDIS_REPLY_ARRAY || r->elements != requests.size() + 1 ||
      r->element[0]->type != REDIS_REPLY_INTEGER) {
    return Corrupt("unexpected claim reply");
  }
  const int64_t now = r->element[0]->integer;
  std::vector<ClaimResult> results;
  results.reserve(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    const redisReply* e = r->element[i + 1];
    if (e->type == REDIS_REPLY_INTEGER) {
      results.push_back({ClaimOutcome::kClaimed, FreshClaim(requests[i], e->integer, now)});
      continue;
    }
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 11) return Corrupt("unexpected claim reply");
    std::optional<std::string> v[11];
    for (size_t j = 0; j < 11; ++j) v[j] = Element(e->element[j]);
    const std::optional<ClaimOutcome> outcome = ParseOutcome(v[0].value_or(""));
    if (!outcome) return Corrupt("unknown claim outcome");
    const Fields fields{v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10]};
    Result<DedupRecord> record = ToRecord(fields, requests[i].group, requests[i].key);
    if (!record.ok()) return record.status();
    results.push_back({*outcome, std::move(record).value()});
  }
  return results;
}

Result<FencedOutcome> RedisDedupStore::FencedScript(int script, const std::string& group,
                                                    const std::string& key, std::vector<std::string> args) {
  args.insert(args.begin(), std::to_string(clock_skew_ms_.load()));
  std::lock_guard lock(mu_);
  Result<ReplyPtr> reply = connection_->Script(script, {RecordKey(group, key)}, args, Retry::kNever);
  if (!reply.ok()) return reply.status();
  if ((*reply)->type != REDIS_REPLY_INTEGER) return Corrupt("unexpected script reply");
  return (*reply)->integer == 1 ? FencedOutcome::kOk : FencedOutcome::kFenced;
}

Result<FencedOutcome> RedisDedupStore::Renew(const std::string& group, const std::string& key, int64_t token,
                                             std::chrono::milliseconds lease) {
  return FencedScript(kRenew, group, key, {std::to_string(token), std::to_string(lease.count())});
}

Result<FencedOutcome> RedisDedupStore::Complete(const std::string& group, const std::string& key,
                                                int64_t token, std::chrono::milliseconds retention,
                                                std::optional<std::string> result) {
  return FencedScript(
      kComplete, group, key,
      {std::to_string(token), std::to_string(retention.count()),
       std::to_string(options_.expiry_grace.count()), result ? "1" : "0", result.value_or("")});
}

Result<std::vector<FencedOutcome>> RedisDedupStore::CompleteBatch(std::span<const CompleteRequest> requests) {
  std::vector<FencedOutcome> outcomes;
  if (requests.empty()) return outcomes;
  std::vector<std::string> keys;
  std::vector<std::string> args = {std::to_string(clock_skew_ms_.load()),
                                   std::to_string(options_.expiry_grace.count())};
  keys.reserve(requests.size());
  args.reserve(2 + 4 * requests.size());
  for (const CompleteRequest& r : requests) {
    keys.push_back(RecordKey(r.group, r.key));
    args.insert(args.end(), {std::to_string(r.token), std::to_string(r.retention.count()),
                             r.result ? "1" : "0", r.result.value_or("")});
  }
  std::lock_guard lock(mu_);
  Result<ReplyPtr> reply = connection_->Script(kCompleteBatch, keys, args, Retry::kNever);
  if (!reply.ok()) return reply.status();
  const redisReply* r = reply->get();
  if (r->type != REDIS_REPLY_ARRAY || r->elements != requests.size()) {
    return Corrupt("unexpected complete batch reply");
  }
  outcomes.reserve(requests.size());
  for (size_t i = 0; i < r->elements; ++i) {
    if (r->element[i]->type != REDIS_REPLY_INTEGER) return Corrupt("unexpected complete batch reply");
    outcomes.push_back(r->element[i]->integer == 1 ? FencedOutcome::kOk : FencedOutcome::kFenced);
  }
  return outcomes;
}

Result<FencedOutcome> RedisDedupStore::Release(const std::string& group, const std::string& key,
                                               int64_t token, const std::string& error) {
  return FencedScript(kRelease, group, key, {std::to_string(token), error});
}

Result<std::optional<DedupRecord>> RedisDedupStore::Get(const std::string& group, const std::string& key) {
  std::lock_guard lock(mu_);
  Result<ReplyPtr> reply = connection_->Command({"HGETALL", RecordKey(group, key)}, Retry::kReadOnly);
  if (!reply.ok()) return reply.status();
  const redisReply* r = reply->get();
  if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) return Corrupt("unexpected HGETALL reply");
  if (r->elements == 0) return std::optional<DedupRecord>();
  Fields f;
  std::pair<std::string_view, std::optional<std::string>*> names[] = {
      {"state", &f.state},   {"owner", &f.owner},       {"token", &f.token}, {"lease", &f.lease},
      {"retain", &f.retain}, {"attempts", &f.attempts}, {"error", &f.error}, {"hash", &f.hash},
      {"result", &f.result}, {"updated", &f.updated}};
  for (size_t i = 0; i < r->elements; i += 2) {
    const std::string name = ReplyText(r->element[i]);
    for (auto& [n, out] : names) {
      if (n == name) *out = ReplyText(r->element[i + 1]);
    }
  }
  Result<DedupRecord> record = ToRecord(f, group, key);
  if (!record.ok()) return record.status();
  return std::optional<DedupRecord>(std::move(record).value());
}

Result<size_t> RedisDedupStore::Sweep(size_t limit) {
  std::lock_guard lock(mu_);
  size_t swept = 0;
  std::string cursor = "0";
  while (swept < limit) {
    Result<ReplyPtr> page = connection_->Command(
        {"SCAN", cursor, "MATCH", std::string(kRecordPrefix) + "*", "COUNT", "100"}, Retry::kReadOnly);
    if (!page.ok()) return page.status();
    const redisReply* p = page->get();
    if (p->type != REDIS_REPLY_ARRAY || p->elements != 2 || p->element[1]->type != REDIS_REPLY_ARRAY) {
      return Corrupt("unexpected SCAN reply");
    }
    cursor = ReplyText(p->element[0]);
    std::vector<std::string> keys;
    for (size_t i = 0; i < p->element[1]->elements; ++i) keys.push_back(ReplyText(p->element[1]->element[i]));
    if (!keys.empty()) {
      const std::vector<std::string> args = {std::to_string(clock_skew_ms_.load()),
                                             std::to_string(limit - swept)};
      Result<ReplyPtr> n = connection_->Script(kSweep, keys, args, Retry::kNever);
      if (!n.ok()) return n.status();
      if ((*n)->type != REDIS_REPLY_INTEGER) return Corrupt("unexpected sweep reply");
      swept += static_cast<size_t>((*n)->integer);
    }
    if (cursor == "0") break;
  }
  return swept;
}

}  // namespace oncemq::client
