// IdempotentConsumer::Impl: the consumer loop behind include/oncemq/idempotent_consumer.h.
//
// One pass: hand back held messages whose time has come, poll a batch, decide it (one store round trip
// for the whole batch in lease mode), run the handlers in order, route failures to retry/dead-letter
// topics and wait until those copies are durable, then commit what DoneTracker says is done.
//
// Held messages. A message that cannot be finished now — a retry copy not yet due, a store that cannot
// answer, a copy the broker did not confirm — is kept in memory, in offset order, and its partition is
// paused, so later messages of that partition wait behind it and the commit point stays below it. Pausing
// keeps librdkafka's position after the last message handed to us, so resuming fetches exactly what comes
// after the held ones: no seek is needed. A revoked partition's held messages are dropped: the new owner
// fetches them again from the committed offset.
//
// Thread safety: Run() and everything it calls on one thread; Stop() and stats() from any thread.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/consumer/done_tracker.h"
#include "client/consumer/lease_renewer.h"
#include "client/consumer/retry_route.h"
#include "client/consumer/route_producer.h"
#include "oncemq/idempotent_consumer.h"

namespace oncemq {

class IdempotentConsumer::Impl {
 public:
  Impl(IdempotentConsumerOptions options, MessageHandler handler);
  ~Impl();
  Status Connect();
  Status Run();
  void Stop() { stop_.store(true); }
  ConsumerStats stats() const;

  // Called by librdkafka's rebalance callback, inside consume(), on Run()'s thread.
  void OnRebalance(RdKafka::ErrorCode code, std::vector<RdKafka::TopicPartition*>& partitions);

 private:
  using Clock = std::chrono::steady_clock;
  enum class Fate { kPending, kDone, kRouting, kHeld };

  // One consumed message on its way through a pass.
  struct Item {
    std::unique_ptr<RdKafka::Message> message;
    client::PartitionId partition;
    MessageView view;
    std::optional<std::string> key;
    int32_t attempts = 0;    // oncemq-attempt of the message (failed attempts so far)
    int64_t deliver_at = 0;  // oncemq-deliver-at, ms since the epoch; 0 when none
    std::optional<ClaimResult> claim;
    Fate fate = Fate::kPending;
    client::Route route;
    std::unique_ptr<client::DeliverySlot> slot;
  };
  struct Hold {
    std::map<int64_t, Item> items;  // by offset
    Clock::time_point ready_at;
  };
  struct Counters;

  bool Stopping() const;
  Item MakeItem(RdKafka::Message* message) const;
  std::vector<Item> PollBatch();
  std::chrono::milliseconds PollTimeout() const;
  void ReleaseDueHolds();
  void Process(std::vector<Item>& items);
  void Triage(Item& item, std::vector<Item*>& to_decide);
  void DecideLease(std::vector<Item*>& items);
  void RunLease(Item& item);
  void RunTransactional(Item& item);
  void RunUnprotected(Item& item);
  Status CallHandler(Item& item, HandlerContext& context);
  void AfterHandlerFailure(Item& item, const Status& error, int32_t previous_attempts);
  void RouteTo(Item& item, client::Route route);
  void FinishRoutes(std::vector<Item>& items);
  void FinishCompletes();
  void Done(Item& item);
  void HoldItem(Item&& item, Clock::time_point ready_at);
  void HoldForStore(Item&& item);
  void Abandon(Item& item);
  bool PartitionHeld(const client::PartitionId& partition) const { return holds_.contains(partition); }
  // Whether a message of `item`'s partition with a smaller offset waits in a hold: `item` must wait
  // behind it. A message held after `item` (a later retry copy not due yet) does not hold `item` back.
  bool HeldBehindEarlier(const Item& item) const;
  // Sleeps unless a stop is requested first; false if it was.
  bool SleepUnlessStopping(std::chrono::milliseconds duration);
  Status RetryStoreWrite(const std::function<Result<FencedOutcome>()>& write, FencedOutcome* outcome);
  void Pause(const client::PartitionId& partition);
  void Resume(const client::PartitionId& partition);
  void Commit(bool synchronous);
  void CommitPoints(const std::vector<std::pair<client::PartitionId, int64_t>>& points, bool synchronous);
  void MaybeSweep();
  void LookForMissingTopics();
  void Shutdown();
  void LeaveGroup();
  int64_t WallNowMs() const;
  std::chrono::milliseconds StoreBackoff();

  IdempotentConsumerOptions options_;
  MessageHandler handler_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<Counters> counters_;
  // Whether the group rebalances incrementally, from the configured assignors (rdkafka_config.h).
  bool cooperative_ = false;
  // Set once Shutdown() has committed everything done: a revoke then commits nothing.
  bool leaving_ = false;

  class Rebalancer;
  class CommitResults;
  std::unique_ptr<Rebalancer> rebalancer_;
  std::unique_ptr<CommitResults> commit_results_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::unique_ptr<client::RouteProducer> routes_;
  std::unique_ptr<client::LeaseRenewer> renewer_;
  client::DoneTracker tracker_;
  std::map<client::PartitionId, Hold> holds_;
  // Handled items of the current pass whose CONSUMED record is not written yet: written together, in one
  // CompleteBatch call, before the pass ends.
  std::vector<std::pair<Item*, CompleteRequest>> completing_;
  int store_failures_in_a_row_ = 0;
  Clock::time_point next_sweep_;
  // Source topics (names or ^patterns) the cluster did not list at the last look (LookForMissingTopics);
  // empty once all exist.
  std::set<std::string> missing_topics_;
  bool missing_topics_said_ = false;
  Clock::time_point next_topic_look_;
};

}  // namespace oncemq
