// IdempotentConsumer: a Kafka consumer-group member that makes a second delivery of a message harmless, so a
// handler's business effect happens once per business key (DESIGN.md §3). Works against oncemq and against
// any Kafka cluster: it is built on librdkafka, and no librdkafka type appears here.
//
// The application gives the topics, the group, a handler and where the business key is; the consumer owns
// the loop: poll, decide with the dedup store, run the handler, record the outcome, commit.
//
// What it guarantees:
// - Lease mode (a DedupStore): a key is claimed (owner, fencing token, lease) before its handler runs; a
//   CONSUMED key is skipped and counted; a key another consumer is running right now is delayed through
//   the first retry topic — never acknowledged as done, never dropped; an expired claim is taken over with
//   a larger token and the old owner's Complete is refused. Leases are renewed while handlers run.
// - Transactional mode (a TransactionalDedupStore): the handler gets the database transaction; the dedup
//   record commits or rolls back with the handler's own writes — no lease, an exactly-once effect.
// - Offsets are committed per partition only up to the highest offset below which every message is done:
//   handled, skipped as a duplicate, or durably (acks=all, delivery confirmed) moved to a retry or
//   dead-letter topic. A message still in doubt is never committed past.
// - A store that cannot answer fails closed: the message waits (its partition is paused, with back-off)
//   and is tried again; it is never handled without protection unless `fail_open` is set.
// - A failed handler: the claim is released (attempts and last error kept) and the message goes to
//   `<group>.retry.<level>` (level = failed attempts so far, capped at the number of levels) and, after
//   `max_attempts` failures or a non-retryable error, to `<group>.dlq`. A retry partition is paused until
//   its head message is due.
// - Stop() or, after StopOnSignals(), SIGTERM/SIGINT: fetching stops, the running handler finishes, claims
//   not yet run are given up (lease shortened, no attempt counted), done offsets are committed, the group
//   is left.
//
// Handler errors: a Status whose code says that retrying cannot help (kInvalidArgument, kCorruption,
// kUnsupported) sends the message straight to the dead-letter topic; any other error is retried.
// Thread safety: Run() on one thread; Stop() and stats() from any thread. Handlers run on Run()'s thread,
// one at a time, in offset order per partition.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "oncemq/dedup_store.h"
#include "oncemq/status.h"
#include "oncemq/transactional_dedup_store.h"

namespace oncemq {

// Header names the SDK writes and reads.
namespace headers {
inline constexpr std::string_view kMsgId = "oncemq-msg-id";
inline constexpr std::string_view kAttempt = "oncemq-attempt";       // failed attempts so far, decimal
inline constexpr std::string_view kDeliverAt = "oncemq-deliver-at";  // ms since the epoch, decimal
inline constexpr std::string_view kOriginTopic = "oncemq-origin-topic";
inline constexpr std::string_view kOriginPartition = "oncemq-origin-partition";
inline constexpr std::string_view kOriginOffset = "oncemq-origin-offset";
inline constexpr std::string_view kError = "oncemq-error";
}  // namespace headers

// One consumed message, valid only during the call it is passed to.
class MessageView {
 public:
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::optional<std::string_view> key;  // the record key; nullopt for a null key
  std::string_view payload;
  int64_t timestamp_ms = 0;

  // The value of the last header named `name`; nullopt if absent (or a null value).
  std::optional<std::string_view> Header(std::string_view name) const;

  const void* native = nullptr;  // the librdkafka message (rd_kafka_message_t); internal
};

// Where the business key of a message is.
class BusinessKey {
 public:
  using Function = std::function<std::optional<std::string>(const MessageView&)>;
  static BusinessKey FromHeader(std::string name);
  static BusinessKey FromRecordKey();
  // A field of a JSON payload: a JSON pointer ("/order/id") or a dotted path ("order.id"). Strings are used
  // as they are; numbers and booleans by their JSON text; anything else (absent, null, object) is no key.
  static BusinessKey FromJsonField(std::string path);
  static BusinessKey From(Function function);

  // The key, or nullopt when the message has none (it then goes to the dead-letter topic: a message whose
  // duplicates cannot be recognised must not be handled on faith).
  std::optional<std::string> Extract(const MessageView& message) const;
  std::string Describe() const;

 private:
  explicit BusinessKey(Function function, std::string description)
      : function_(std::move(function)), description_(std::move(description)) {}
  Function function_;
  std::string description_;
};

struct HandlerContext {
  std::string_view key;
  int64_t fencing_token = 0;  // pass downstream as an idempotency key; 0 when unprotected (fail_open)
  int32_t attempt = 1;        // 1 on the first try
  SqlTransaction* transaction = nullptr;  // transactional mode: the open transaction; else nullptr
  std::optional<std::string> result;      // set to keep a result on the CONSUMED record
};

using MessageHandler = std::function<Status(const MessageView& message, HandlerContext& context)>;

// RocketMQ's 18 delay levels: 1s 5s 10s 30s 1m 2m … 10m 20m 30m 1h 2h.
std::vector<std::chrono::milliseconds> RocketMqDelayLevels();

struct RetryPolicy {
  std::vector<std::chrono::milliseconds> delays = RocketMqDelayLevels();  // level n waits delays[n-1]
  int max_attempts = 16;  // failed attempts after which the message is dead-lettered
};

// `<group>.retry.<level>` (level from 1) and `<group>.dlq`.
std::string RetryTopicName(std::string_view group, int level);
std::string DeadLetterTopicName(std::string_view group);

struct IdempotentConsumerOptions {
  std::string bootstrap_servers = "127.0.0.1:9092";
  std::string group;
  // Topic names, or patterns: an entry starting with '^' is a POSIX extended regular expression, as
  // librdkafka reads it. A consumer started before a topic (or any match of a pattern) exists begins on it
  // within seconds once it appears; topics matching a pattern that appear later join at librdkafka's metadata
  // refresh (topic.metadata.refresh.interval.ms in kafka_config).
  std::vector<std::string> topics;
  // Extra librdkafka settings for the consumer and the retry producer (e.g. "session.timeout.ms").
  std::map<std::string, std::string> kafka_config;

  BusinessKey key = BusinessKey::FromHeader(std::string(headers::kMsgId));
  // Exactly one of the two: a DedupStore (lease mode) or a TransactionalDedupStore (transactional mode).
  std::shared_ptr<DedupStore> store;
  std::shared_ptr<TransactionalDedupStore> transactional_store;

  std::string owner;  // this instance's name in the store; default host:pid:random
  std::chrono::milliseconds lease{30'000};
  std::chrono::milliseconds retention{std::chrono::hours(24 * 7)};
  bool hash_payload = false;  // same key with other content → dead-letter, not duplicate
  bool fail_open = false;     // store down: run handlers unprotected instead of waiting (opt-out)
  RetryPolicy retry;
  int retry_topic_partitions = 1;  // partitions of retry and dead-letter topics this consumer creates
  size_t max_batch = 500;          // messages decided together (one store round trip in lease mode)
  std::chrono::milliseconds poll_timeout{100};
  std::chrono::milliseconds max_store_backoff{5'000};
};

// Counters since Create(); each only grows, except assigned_partitions. Exported as Prometheus text by
// oncemq/metrics_text.h.
struct ConsumerStats {
  uint64_t received = 0;
  // Claims the store granted this member — lease mode: kClaimed and kTakenOver answers; transactional
  // mode: each run of the handler inside a claim's transaction. A key claimed again (for a retry, after
  // shutdown gave it up, a transaction the store ran again) counts again; a duplicate, or a key in
  // progress elsewhere, never counts.
  uint64_t claimed = 0;
  uint64_t handled = 0;              // handler succeeded and the outcome is recorded
  uint64_t duplicates = 0;           // skipped: already consumed
  uint64_t delayed_in_progress = 0;  // another owner was running the key: sent to retry level 1
  uint64_t handler_failures = 0;
  uint64_t retried = 0;  // copies confirmed on a retry topic
  // retried_by_level[n]: copies confirmed on `<group>.retry.<n>`, for n from 1 to the number of retry
  // delays; [0] is always 0. Sums to `retried`. Empty only in a default-constructed ConsumerStats.
  std::vector<uint64_t> retried_by_level;
  uint64_t dead_lettered = 0;   // copies confirmed on the dead-letter topic
  uint64_t store_failures = 0;  // store calls that failed (the messages waited)
  uint64_t fenced = 0;          // our claim was taken over before we could complete it
  uint64_t unprotected = 0;     // handled without the store (fail_open)
  uint64_t commits = 0;
  uint64_t batches = 0;     // polls that returned messages: received ÷ batches is the average batch size
  uint64_t rebalances = 0;  // assignments received from the group (a join, or a rebalance that kept us in)
  uint64_t assigned_partitions = 0;  // partitions this member owns now (source and retry topics)
};

class IdempotentConsumer {
 public:
  // Validates the options and connects (creating the retry and dead-letter topics if missing).
  static Result<std::unique_ptr<IdempotentConsumer>> Create(IdempotentConsumerOptions options,
                                                            MessageHandler handler);
  ~IdempotentConsumer();
  IdempotentConsumer(const IdempotentConsumer&) = delete;
  IdempotentConsumer& operator=(const IdempotentConsumer&) = delete;

  // Consumes until Stop(); returns after the final commit and leaving the group. Non-OK only for a fatal
  // client error.
  Status Run();
  // Asks Run() to stop; returns at once. Any thread; also safe after Run() returned.
  void Stop();
  // Makes SIGTERM and SIGINT call Stop() on every consumer of this process (their earlier handlers are
  // replaced).
  static void StopOnSignals();

  ConsumerStats stats() const;

  class Impl;

 private:
  explicit IdempotentConsumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace oncemq
