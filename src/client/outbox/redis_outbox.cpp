#include "client/outbox/redis_outbox.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include "client/outbox/outbox_codec.h"
#include "client/stores/redis_connection.h"

namespace oncemq::client {

namespace {

using ReplyPtr = RedisConnection::ReplyPtr;
// A change's reply may be lost, so it is never sent twice; a read may be.
constexpr RedisConnection::Retry kChange = RedisConnection::Retry::kNever;
constexpr RedisConnection::Retry kRead = RedisConnection::Retry::kReadOnly;

constexpr std::string_view kWho = "redis outbox";
constexpr std::string_view kPrefix = "oncemq:outbox:";
constexpr size_t kMaxTopic = 249;  // Kafka's limit
constexpr size_t kMaxMsgId = 255;
constexpr size_t kMaxClaimName = 255;
constexpr size_t kMaxError = 4'000;
constexpr size_t kMaxListLimit = size_t{1} << 40;  // what Redis takes as a LIMIT count, and more than enough

// Shared by every script. ARGV[1] is always the key prefix, so the key names are spelled once.
// int: numbers are written as decimal integers, never in Lua's %.14g.
// The claim order (outbox.h: one message per (topic, key) in flight, in id order): `ready` holds the
// SENDING rows without a key and the first SENDING row of each key (its head). enter_sending and
// leave_sending keep it so on every move into or out of SENDING.
constexpr std::string_view kPrelude = R"lua(
local P = ARGV[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function int(n) return string.format('%d', n) end
local function row_key(id) return P .. 'm:' .. id end
local function corrupt(what) return redis.error_reply('ONCEMQ_CORRUPT redis outbox: ' .. what) end

-- A row as the client parses it: {id, msg_id, topic, key, payload, headers, status, attempts, last_error,
-- created, next_attempt, lease_until, claim, done, partition, offset}, key nil for a message without
-- one; nil when there is no row `id`.
local function row_reply(id)
  local f = redis.call('HMGET', row_key(id), 'msg_id', 'topic', 'key', 'payload', 'headers', 'status',
                       'attempts', 'last_error', 'created', 'next_attempt', 'lease_until', 'claim', 'done',
                       'partition', 'offset')
  if not f[1] then return nil end
  local r = {id}
  for i = 1, #f do r[i + 1] = f[i] end
  return r
end

-- Makes the first SENDING row of the key claimable, and old_head, if it no longer is the first, not.
local function set_head(order_key, old_head)
  local first = redis.call('ZRANGE', P .. 'key:' .. order_key, 0, 0)[1]
  if old_head and old_head ~= first then redis.call('ZREM', P .. 'ready', old_head) end
  if first then redis.call('ZADD', P .. 'ready', first, first) end
end
local function enter_sending(id, order_key)
  redis.call('ZADD', P .. 'sending', id, id)
  if order_key == '' then
    redis.call('ZADD', P .. 'ready', id, id)
    return
  end
  local queue = P .. 'key:' .. order_key
  local old_head = redis.call('ZRANGE', queue, 0, 0)[1]
  redis.call('ZADD', queue, id, id)
  set_head(order_key, old_head)
end
local function leave_sending(id, order_key)
  redis.call('ZREM', P .. 'sending', id)
  redis.call('ZREM', P .. 'ready', id)
  if order_key ~= '' then
    redis.call('ZREM', P .. 'key:' .. order_key, id)
    set_head(order_key, nil)
  end
end
)lua";

// Send. ARGV[2…], seven per message: msg_id, topic, order_key ('' without a key), has key ('1'/'0'), key,
// payload, headers. A msg-id already stored (or earlier in the list) keeps its first message. Returns how
// many rows it stored. Nothing here can fail half-way, so the list is stored whole.
constexpr std::string_view kSendScript = R"lua(
local now = int(now_ms())
local stored = 0
for i = 2, #ARGV, 7 do
  local msgid_key = P .. 'msgid:' .. ARGV[i]
  if redis.call('EXISTS', msgid_key) == 0 then
    local id = int(redis.call('INCR', P .. 'seq'))
    local row = row_key(id)
    redis.call('HSET', row, 'msg_id', ARGV[i], 'topic', ARGV[i + 1], 'order_key', ARGV[i + 2],
               'payload', ARGV[i + 5], 'headers', ARGV[i + 6], 'status', 'SENDING', 'attempts', '0',
               'last_error', '', 'created', now, 'next_attempt', now, 'lease_until', '0', 'claim', '',
               'done', '0', 'partition', '-1', 'offset', '-1')
    if ARGV[i + 3] == '1' then redis.call('HSET', row, 'key', ARGV[i + 4]) end
    redis.call('SET', msgid_key, id)
    enter_sending(id, ARGV[i + 2])
    stored = stored + 1
  end
end
return stored
)lua";

// Claim. ARGV = prefix, claim, lease ms, limit, walk bound. Walks `ready` in id order, at most `bound`
// entries, taking due, unleased rows until it has `limit`; each taken row gets the claim, the lease and
// an attempt. Returns the taken rows (row_reply), in id order.
constexpr std::string_view kClaimScript = R"lua(
local claim, lease, limit, bound = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local now = now_ms()
local taken = {}
local seen = 0
while #taken < limit and seen < bound do
  local ids = redis.call('ZRANGE', P .. 'ready', seen, math.min(seen + 100, bound) - 1)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    seen = seen + 1
    local f = redis.call('HMGET', row_key(id), 'next_attempt', 'lease_until')
    local due, lease_until = tonumber(f[1]), tonumber(f[2])
    if not due or not lease_until then return corrupt('claimable row ' .. id .. ' is unreadable') end
    if due <= now and lease_until <= now then
      taken[#taken + 1] = id
      if #taken == limit then break end
    end
  end
end
local lease_text = int(now + lease)
local out = {}
for i, id in ipairs(taken) do
  redis.call('HSET', row_key(id), 'claim', claim, 'lease_until', lease_text)
  redis.call('HINCRBY', row_key(id), 'attempts', 1)
  out[i] = row_reply(id)
end
return out
)lua";

// Record. ARGV = prefix, claim, max attempts, retry back-off ms, max back-off ms, then five per outcome:
// id, acked ('1'/'0'), partition, offset, error. Only rows that are SENDING under this claim change, each
// once (the first outcome of an id counts). Returns {sent, again, failed}.
constexpr std::string_view kRecordScript = R"lua(
local claim, max_attempts = ARGV[2], tonumber(ARGV[3])
local backoff, max_backoff = tonumber(ARGV[4]), tonumber(ARGV[5])
local now = now_ms()
local now_text = int(now)
local function wait_after(attempts)
  local wait = backoff
  for _ = 2, attempts do
    if wait >= max_backoff then break end
    wait = wait * 2
  end
  return math.min(wait, max_backoff)
end

local held, seen = {}, {}
for i = 6, #ARGV, 5 do
  local id = ARGV[i]
  if not seen[id] then
    seen[id] = true
    local f = redis.call('HMGET', row_key(id), 'status', 'claim', 'attempts', 'order_key')
    if f[1] == 'SENDING' and f[2] == claim then
      local attempts = tonumber(f[3])
      if not attempts or not f[4] then return corrupt('row ' .. id .. ' is unreadable') end
      held[#held + 1] = {id = id, at = i, attempts = attempts, order_key = f[4]}
    end
  end
end

local sent, again, failed = 0, 0, 0
for _, h in ipairs(held) do
  local row = row_key(h.id)
  if ARGV[h.at + 1] == '1' then
    redis.call('HSET', row, 'status', 'SENT', 'done', now_text, 'lease_until', '0', 'last_error', '',
               'partition', ARGV[h.at + 2], 'offset', ARGV[h.at + 3])
    leave_sending(h.id, h.order_key)
    redis.call('ZADD', P .. 'sent', h.id, h.id)
    redis.call('ZADD', P .. 'sent_at', now_text, h.id)
    sent = sent + 1
  else
    local next_text = int(now + wait_after(h.attempts))
    if h.attempts >= max_attempts then
      redis.call('HSET', row, 'status', 'FAILED', 'next_attempt', next_text, 'done', now_text,
                 'last_error', ARGV[h.at + 4], 'lease_until', '0')
      leave_sending(h.id, h.order_key)
      redis.call('ZADD', P .. 'failed', h.id, h.id)
      failed = failed + 1
    else
      redis.call('HSET', row, 'next_attempt', next_text, 'done', '0', 'last_error', ARGV[h.at + 4],
                 'lease_until', '0')
      again = again + 1
    end
  end
end
return {sent, again, failed}
)lua";

// Deletes a row and its msg-id entry. Used by Purge and Drop.
constexpr std::string_view kDeleteHelper = R"lua(
local function delete_row(id, msg_id)
  local msgid_key = P .. 'msgid:' .. msg_id
  if redis.call('GET', msgid_key) == id then redis.call('DEL', msgid_key) end
  redis.call('DEL', row_key(id))
end
)lua";

// Purge. ARGV = prefix, retention ms, limit. Deletes up to `limit` SENT rows done at least `retention`
// ago, oldest first; returns how many.
constexpr std::string_view kPurgeScript = R"lua(
local cutoff = int(now_ms() - tonumber(ARGV[2]))
local ids = redis.call('ZRANGEBYSCORE', P .. 'sent_at', '-inf', cutoff, 'LIMIT', 0, ARGV[3])
for _, id in ipairs(ids) do
  delete_row(id, redis.call('HGET', row_key(id), 'msg_id') or '')
  redis.call('ZREM', P .. 'sent', id)
  redis.call('ZREM', P .. 'sent_at', id)
end
return #ids
)lua";

// Retry. ARGV = prefix, id. FAILED → SENDING, attempts 0, due now; it joins its key's order again (as its
// head if no earlier row of the key is SENDING). Returns 1, or 0 if the row is not FAILED.
constexpr std::string_view kRetryScript = R"lua(
local id = ARGV[2]
local f = redis.call('HMGET', row_key(id), 'status', 'order_key')
if f[1] ~= 'FAILED' then return 0 end
if not f[2] then return corrupt('row ' .. id .. ' has no order key') end
redis.call('HSET', row_key(id), 'status', 'SENDING', 'attempts', '0', 'next_attempt', int(now_ms()),
           'lease_until', '0', 'claim', '', 'done', '0')
redis.call('ZREM', P .. 'failed', id)
enter_sending(id, f[2])
return 1
)lua";

// Drop. ARGV = prefix, id. Deletes a FAILED row; returns 1, or 0 if the row is not FAILED.
constexpr std::string_view kDropScript = R"lua(
local id = ARGV[2]
local f = redis.call('HMGET', row_key(id), 'status', 'msg_id')
if f[1] ~= 'FAILED' then return 0 end
delete_row(id, f[2] or '')
redis.call('ZREM', P .. 'failed', id)
return 1
)lua";

// List. ARGV = prefix, status ('' for all), after id, limit. Rows with ids above `after`, in id order, at
// most `limit`: the first `limit` of each status' index, merged.
constexpr std::string_view kListScript = R"lua(
local status, after, limit = ARGV[2], ARGV[3], tonumber(ARGV[4])
local indexes = {SENDING = 'sending', SENT = 'sent', FAILED = 'failed'}
local names = {'sending', 'sent', 'failed'}
if status ~= '' then names = {indexes[status]} end
local ids = {}
for _, name in ipairs(names) do
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. name, '(' .. after, '+inf', 'LIMIT', 0, ARGV[4])) do
    ids[#ids + 1] = tonumber(id)
  end
end
table.sort(ids)
local out = {}
for i = 1, math.min(limit, #ids) do
  local id = int(ids[i])
  out[i] = row_reply(id)
  if not out[i] then return corrupt('row ' .. id .. ' is indexed but missing') end
end
return out
)lua";

// Get. ARGV = prefix, id. The row, or an empty array.
constexpr std::string_view kGetScript = R"lua(
return row_reply(ARGV[2]) or {}
)lua";

// Counts. ARGV = prefix. {sending, sent, failed}, read at one moment.
constexpr std::string_view kCountsScript = R"lua(
return {redis.call('ZCARD', P .. 'sending'), redis.call('ZCARD', P .. 'sent'), redis.call('ZCARD', P .. 'failed')}
)lua";

enum Script : size_t { kSend, kClaim, kRecord, kPurge, kRetry, kDrop, kList, kGet, kCounts, kScriptCount };

// The scripts in Script order, each behind the shared prelude (and the delete helper).
std::vector<std::string> ScriptTexts() {
  const std::string_view bodies[kScriptCount] = {kSendScript,  kClaimScript, kRecordScript,
                                                 kPurgeScript, kRetryScript, kDropScript,
                                                 kListScript,  kGetScript,   kCountsScript};
  std::vector<std::string> texts;
  for (std::string_view body : bodies) {
    texts.push_back(std::string(kPrelude) + std::string(kDeleteHelper) + std::string(body));
  }
  return texts;
}

Status Corrupt(std::string_view what) {
  return Status::Corruption(std::string(kWho) + ": " + std::string(what));
}

bool ParseInt(std::string_view text, int64_t* out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool IsText(const redisReply* r) {
  return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

std::optional<OutboxStatus> ParseStatus(std::string_view text) {
  for (OutboxStatus s : {OutboxStatus::kSending, OutboxStatus::kSent, OutboxStatus::kFailed}) {
    if (text == OutboxStatusName(s)) return s;
  }
  return std::nullopt;
}

Status Validate(const OutgoingMessage& m) {
  if (m.topic.empty() || m.topic.size() > kMaxTopic) {
    return Status::InvalidArgument(std::string(kWho) + ": a message needs a topic of 1 to 249 bytes");
  }
  if (m.msg_id.size() > kMaxMsgId) {
    return Status::InvalidArgument(std::string(kWho) + ": msg-id longer than 255 bytes");
  }
  return Status::Ok();
}

// The SQL outbox keeps last errors as printable ASCII of at most 4000 bytes; so does this one, so that
// both list the same.
std::string PrintableError(std::string_view error) {
  std::string clean(error.substr(0, kMaxError));
  for (char& c : clean) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return clean;
}

// The numeric fields of a row reply: element index → where it goes.
Status ParseNumbers(redisReply* const* f, OutboxEntry& e) {
  int64_t attempts = 0;
  int64_t partition = 0;
  const std::pair<size_t, int64_t*> numbers[] = {{0, &e.id},
                                                 {7, &attempts},
                                                 {9, &e.created_ms},
                                                 {10, &e.next_attempt_ms},
                                                 {11, &e.lease_until_ms},
                                                 {13, &e.done_ms},
                                                 {14, &partition},
                                                 {15, &e.offset}};
  for (const auto& [index, out] : numbers) {
    if (!ParseInt(ReplyText(f[index]), out)) return Corrupt("bad number in a row");
  }
  e.attempts = static_cast<int>(attempts);
  e.partition = static_cast<int32_t>(partition);
  return Status::Ok();
}

// A row from the scripts' row_reply: 16 elements, every one text but the key, which is nil without one.
Result<OutboxEntry> ParseRow(const redisReply* r) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 16) return Corrupt("unexpected row reply");
  redisReply* const* f = r->element;
  for (size_t i = 0; i < 16; ++i) {
    if (i != 3 && !IsText(f[i])) return Corrupt("row with a missing field");
  }
  if (f[3]->type != REDIS_REPLY_NIL && !IsText(f[3])) return Corrupt("row with a bad key");
  OutboxEntry e;
  if (Status s = ParseNumbers(f, e); !s.ok()) return s;
  const std::optional<OutboxStatus> status = ParseStatus(ReplyText(f[6]));
  if (!status) return Corrupt("row with an unknown status");
  e.status = *status;
  e.message.msg_id = ReplyText(f[1]);
  e.message.topic = ReplyText(f[2]);
  if (f[3]->type != REDIS_REPLY_NIL) e.message.key = ReplyText(f[3]);
  e.message.payload = ReplyText(f[4]);
  Result<HeaderList> headers = DecodeHeaders(ReplyText(f[5]));
  if (!headers.ok()) return headers.status();
  e.message.headers = std::move(*headers);
  e.last_error = ReplyText(f[8]);
  e.claim = ReplyText(f[12]);
  return e;
}

Result<std::vector<OutboxEntry>> ParseRows(const redisReply* r) {
  if (r->type != REDIS_REPLY_ARRAY) return Corrupt("unexpected rows reply");
  std::vector<OutboxEntry> entries;
  entries.reserve(r->elements);
  for (size_t i = 0; i < r->elements; ++i) {
    Result<OutboxEntry> e = ParseRow(r->element[i]);
    if (!e.ok()) return e.status();
    entries.push_back(std::move(*e));
  }
  return entries;
}

// The integers of an array reply of `n` integers.
Result<std::vector<int64_t>> Integers(const redisReply* r, size_t n) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements != n) return Corrupt("unexpected reply");
  std::vector<int64_t> values;
  for (size_t i = 0; i < n; ++i) {
    if (r->element[i]->type != REDIS_REPLY_INTEGER) return Corrupt("unexpected reply");
    values.push_back(r->element[i]->integer);
  }
  return values;
}

class RedisOutbox final : public Outbox {
 public:
  explicit RedisOutbox(std::unique_ptr<RedisConnection> connection) : connection_(std::move(connection)) {}

  SqlDatabase* database() override { return nullptr; }

  Result<std::string> Send(SqlTransaction&, OutgoingMessage) override { return NoTransaction(); }
  Result<std::vector<std::string>> Send(SqlTransaction&, std::vector<OutgoingMessage>) override {
    return NoTransaction();
  }

  Result<std::vector<std::string>> Send(std::vector<OutgoingMessage> messages) override {
    std::vector<std::string> ids;
    std::vector<std::string> args;
    args.reserve(1 + 7 * messages.size());
    args.emplace_back(kPrefix);
    for (OutgoingMessage& m : messages) {
      if (Status s = Validate(m); !s.ok()) return s;
      if (m.msg_id.empty()) m.msg_id = NewMessageId();
      ids.push_back(m.msg_id);
      const std::optional<std::string> order_key = OrderKey(m.topic, m.key);
      args.insert(args.end(), {m.msg_id, std::move(m.topic), order_key.value_or(""), m.key ? "1" : "0",
                               m.key.value_or(""), std::move(m.payload), EncodeHeaders(m.headers)});
    }
    if (messages.empty()) return ids;
    Result<ReplyPtr> reply = Run(kSend, std::move(args), kChange);
    if (!reply.ok()) return reply.status();
    if ((*reply)->type != REDIS_REPLY_INTEGER) return Corrupt("unexpected send reply");
    return ids;
  }

  Result<std::vector<OutboxEntry>> Claim(const std::string& claim, std::chrono::milliseconds lease,
                                         size_t limit) override {
    if (claim.empty() || claim.size() > kMaxClaimName) {
      return Status::InvalidArgument(std::string(kWho) + ": claim name of 1 to 255 bytes");
    }
    if (lease.count() <= 0 || limit == 0) {
      return Status::InvalidArgument(std::string(kWho) + ": lease and limit must be positive");
    }
    const size_t capped = std::min(limit, kMaxListLimit);
    Result<ReplyPtr> reply = Run(kClaim,
                                 {std::string(kPrefix), claim, std::to_string(lease.count()),
                                  std::to_string(capped), std::to_string(ClaimWalkBound(capped))},
                                 kChange);
    if (!reply.ok()) return reply.status();
    return ParseRows(reply->get());
  }

  Result<Recorded> Record(const std::string& claim, std::span<const SendOutcome> outcomes,
                          const RetryRule& rule) override {
    if (outcomes.empty()) return Recorded{};
    if (rule.max_attempts < 1) {
      return Status::InvalidArgument(std::string(kWho) + ": max_attempts must be at least 1");
    }
    std::vector<std::string> args = {std::string(kPrefix), claim, std::to_string(rule.max_attempts),
                                     std::to_string(rule.retry_backoff.count()),
                                     std::to_string(rule.max_backoff.count())};
    args.reserve(args.size() + 5 * outcomes.size());
    for (const SendOutcome& o : outcomes) {
      args.insert(args.end(), {std::to_string(o.id), o.status.ok() ? "1" : "0", std::to_string(o.partition),
                               std::to_string(o.offset), PrintableError(o.status.message())});
    }
    Result<ReplyPtr> reply = Run(kRecord, std::move(args), kChange);
    if (!reply.ok()) return reply.status();
    Result<std::vector<int64_t>> n = Integers(reply->get(), 3);
    if (!n.ok()) return n.status();
    return Recorded{.sent = static_cast<size_t>((*n)[0]),
                    .again = static_cast<size_t>((*n)[1]),
                    .failed = static_cast<size_t>((*n)[2])};
  }

  Result<size_t> Purge(std::chrono::milliseconds retention, size_t limit) override {
    if (limit == 0) return size_t{0};
    Result<ReplyPtr> reply = Run(kPurge,
                                 {std::string(kPrefix), std::to_string(retention.count()),
                                  std::to_string(std::min(limit, kMaxListLimit))},
                                 kChange);
    if (!reply.ok()) return reply.status();
    if ((*reply)->type != REDIS_REPLY_INTEGER) return Corrupt("unexpected purge reply");
    return static_cast<size_t>((*reply)->integer);
  }

  Result<std::vector<OutboxEntry>> List(const OutboxListFilter& filter) override {
    if (filter.limit == 0) return std::vector<OutboxEntry>();
    const std::string status = filter.status ? std::string(OutboxStatusName(*filter.status)) : "";
    Result<ReplyPtr> reply = Run(kList,
                                 {std::string(kPrefix), status, std::to_string(filter.after_id),
                                  std::to_string(std::min(filter.limit, kMaxListLimit))},
                                 kRead);
    if (!reply.ok()) return reply.status();
    return ParseRows(reply->get());
  }

  Result<std::optional<OutboxEntry>> Get(int64_t id) override {
    Result<ReplyPtr> reply = Run(kGet, {std::string(kPrefix), std::to_string(id)}, kRead);
    if (!reply.ok()) return reply.status();
    const redisReply* r = reply->get();
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 0) return std::optional<OutboxEntry>();
    Result<OutboxEntry> e = ParseRow(r);
    if (!e.ok()) return e.status();
    return std::optional<OutboxEntry>(std::move(*e));
  }

  Result<OutboxCounts> Counts() override {
    Result<ReplyPtr> reply = Run(kCounts, {std::string(kPrefix)}, kRead);
    if (!reply.ok()) return reply.status();
    Result<std::vector<int64_t>> n = Integers(reply->get(), 3);
    if (!n.ok()) return n.status();
    return OutboxCounts{.sending = (*n)[0], .sent = (*n)[1], .failed = (*n)[2]};
  }

  Result<bool> Retry(int64_t id) override { return ChangeFailed(kRetry, id); }
  Result<bool> Drop(int64_t id) override { return ChangeFailed(kDrop, id); }

 private:
  static Status NoTransaction() {
    return Status::Unsupported(std::string(kWho) +
                               ": Redis holds no SQL transaction; use Send(messages) instead");
  }

  Result<ReplyPtr> Run(Script script, std::vector<std::string> args, RedisConnection::Retry retry) {
    std::lock_guard lock(mu_);
    return connection_->Script(script, {}, args, retry);
  }

  // Retry or Drop: 1 if the row was FAILED and changed.
  Result<bool> ChangeFailed(Script script, int64_t id) {
    Result<ReplyPtr> reply = Run(script, {std::string(kPrefix), std::to_string(id)}, kChange);
    if (!reply.ok()) return reply.status();
    if ((*reply)->type != REDIS_REPLY_INTEGER) return Corrupt("unexpected reply");
    return (*reply)->integer == 1;
  }

  std::mutex mu_;
  const std::unique_ptr<RedisConnection> connection_;  // GUARDED_BY(mu_)
};

}  // namespace

Result<std::shared_ptr<Outbox>> OpenRedisOutbox(const std::string& uri) {
  Result<RedisEndpoint> endpoint = ParseRedisUri(uri, kWho);
  if (!endpoint.ok()) return endpoint.status();
  Result<std::unique_ptr<RedisConnection>> connection = RedisConnection::Open(
      std::move(endpoint).value(), {.who = std::string(kWho), .scripts = ScriptTexts()});
  if (!connection.ok()) return connection.status();
  return std::shared_ptr<Outbox>(std::make_shared<RedisOutbox>(std::move(connection).value()));
}

}  // namespace oncemq::client
