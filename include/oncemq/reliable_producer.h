// ReliableProducer: a Kafka producer that tells its caller, once per message, whether the broker took it
// (DESIGN.md §3). Built on librdkafka, so it works against oncemq and any Kafka cluster alike; no
// librdkafka type appears here.
//
// What it guarantees:
// - enable.idempotence=true and acks=all, always (settings in kafka_config cannot turn them off): a retry
//   inside the client never duplicates or reorders a message, and an ack means every replica has it (on
//   oncemq: it is on disk).
// - Every message carries an `oncemq-msg-id` header: the caller's, or a new time-ordered id. A re-send of
//   the same message with the same id is dropped by oncemq's message-id window (dedup.window.ms), so a
//   caller that did not learn the outcome may send again without making a copy.
// - Each Send's callback runs exactly once: an ack (status OK, with partition and offset) or a nack (the
//   reason; kUnavailable when a retry may succeed — timed out, broker down — kInvalidArgument when it
//   cannot — too large, unknown topic with auto-creation off). A message with no answer within
//   `ack_timeout` is a nack (timed out): it may or may not have landed; send it again with the same id.
// Callbacks run inside Poll and Flush, on the thread that calls them.
// Thread safety: Send, Poll and Flush from one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "oncemq/status.h"

namespace oncemq {

struct OutgoingMessage {
  std::string topic;
  std::optional<std::string> key;  // nullopt: no key
  std::string payload;
  std::vector<std::pair<std::string, std::string>> headers;  // besides oncemq-msg-id
  std::string msg_id;                                        // empty: a new one is made
};

// A new time-ordered message id: 26 characters of Crockford base32 — 48 bits of milliseconds since the
// epoch, then 80 random bits. Ids made later sort later (to the millisecond); ids never repeat in practice.
std::string NewMessageId();

struct Confirmation {
  Status status;  // OK: acked
  std::string msg_id;
  int32_t partition = -1;  // acked: where it landed
  int64_t offset = -1;
};

using ConfirmCallback = std::function<void(const Confirmation&)>;

struct ReliableProducerOptions {
  std::string bootstrap_servers = "127.0.0.1:9092";
  std::map<std::string, std::string> kafka_config;  // more librdkafka settings ("linger.ms", …)
  std::chrono::milliseconds ack_timeout{30'000};    // librdkafka's message.timeout.ms
};

class ReliableProducer {
 public:
  static Result<std::unique_ptr<ReliableProducer>> Create(const ReliableProducerOptions& options);
  ~ReliableProducer();
  ReliableProducer(const ReliableProducer&) = delete;
  ReliableProducer& operator=(const ReliableProducer&) = delete;

  // Enqueues the message (filling msg_id if empty) and returns its id; `on_confirm` runs later, once. When
  // the local queue is full, waits (serving callbacks) up to ack_timeout for room. A message refused before
  // it was queued (too large for the client, unknown topic) gets its nack at once, inside Send.
  std::string Send(OutgoingMessage message, ConfirmCallback on_confirm);
  // Serves callbacks for up to `timeout`; returns how many ran.
  int Poll(std::chrono::milliseconds timeout);
  // Serves callbacks until none is pending or `timeout` passed; kUnavailable if some are still pending.
  Status Flush(std::chrono::milliseconds timeout);
  // Messages sent whose callback has not run yet.
  size_t pending() const;
  // True when the cluster answered a metadata request within `timeout`.
  bool Reachable(std::chrono::milliseconds timeout);

  class Impl;

 private:
  explicit ReliableProducer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace oncemq
