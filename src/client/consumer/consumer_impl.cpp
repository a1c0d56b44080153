// The loop, polling, holds, commits and rebalances of IdempotentConsumer::Impl; the per-message decisions
// are in consumer_decide.cpp.
#include "client/consumer/consumer_impl.h"

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <random>

#include "client/consumer/consumer_counters.h"
#include "client/consumer/rdkafka_config.h"
#include "client/consumer/topic_subscription.h"
#include "common/clock.h"

namespace oncemq {

class IdempotentConsumer::Impl::Rebalancer : public RdKafka::RebalanceCb {
 public:
  explicit Rebalancer(Impl* impl) : impl_(impl) {}
  void rebalance_cb(RdKafka::KafkaConsumer*, RdKafka::ErrorCode code,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    impl_->OnRebalance(code, partitions);
  }

 private:
  Impl* impl_;
};

// Asynchronous commit results, served inside consume() on Run()'s thread: a failed commit is sent again
// with the next one (otherwise a partition whose point does not move would stay uncommitted).
class IdempotentConsumer::Impl::CommitResults : public RdKafka::OffsetCommitCb {
 public:
  explicit CommitResults(Impl* impl) : impl_(impl) {}
  void offset_commit_cb(RdKafka::ErrorCode err, std::vector<RdKafka::TopicPartition*>& offsets) override {
    for (RdKafka::TopicPartition* tp : offsets) {
      const RdKafka::ErrorCode partition_err = err != RdKafka::ERR_NO_ERROR ? err : tp->err();
      if (partition_err == RdKafka::ERR_NO_ERROR || partition_err == RdKafka::ERR__NO_OFFSET) continue;
      spdlog::warn("idempotent consumer {}: commit of {}/{} failed: {}; sent again", impl_->options_.group,
                   tp->topic(), tp->partition(), RdKafka::err2str(partition_err));
      impl_->tracker_.Untake(client::PartitionId{tp->topic(), tp->partition()});
    }
  }

 private:
  Impl* impl_;
};

namespace {

constexpr auto kMissingTopicLookEvery = std::chrono::seconds(3);
constexpr int kMissingTopicLookTimeoutMs = 2'000;
constexpr auto kLeaveBound = std::chrono::seconds(10);  // the revoke normally comes within a heartbeat
constexpr int kLeavePollMs = 50;

std::string DefaultOwner() {
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  std::random_device random;
  return std::string(host.data()) + ":" + std::to_string(getpid()) + ":" +
         std::to_string(random() % 1'000'000);
}

std::vector<std::string> RouteTopics(const IdempotentConsumerOptions& options) {
  std::vector<std::string> topics;
  for (size_t level = 1; level <= options.retry.delays.size(); ++level) {
    topics.push_back(RetryTopicName(options.group, static_cast<int>(level)));
  }
  topics.push_back(DeadLetterTopicName(options.group));
  return topics;
}

Status Validate(const IdempotentConsumerOptions& options) {
  if (options.group.empty()) return Status::InvalidArgument("idempotent consumer: no group");
  if (options.topics.empty()) return Status::InvalidArgument("idempotent consumer: no topics");
  if ((options.store == nullptr) == (options.transactional_store == nullptr)) {
    return Status::InvalidArgument("idempotent consumer: give exactly one of store and transactional_store");
  }
  if (options.retry.delays.empty()) return Status::InvalidArgument("idempotent consumer: no retry delays");
  if (options.retry.max_attempts < 1) return Status::InvalidArgument("idempotent consumer: max_attempts < 1");
  if (options.lease.count() < 3) return Status::InvalidArgument("idempotent consumer: lease too short");
  if (options.max_batch == 0) return Status::InvalidArgument("idempotent consumer: max_batch is 0");
  if (options.key.Describe().starts_with("invalid")) {
    return Status::InvalidArgument("idempotent consumer: " + options.key.Describe());
  }
  return Status::Ok();
}

// A process-wide stop for StopOnSignals: a signal handler may only touch a lock-free atomic.
std::atomic<bool> g_signal_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void OnStopSignal(int) {
  g_signal_stop.store(true);
}

}  // namespace

IdempotentConsumer::Impl::Impl(IdempotentConsumerOptions options, MessageHandler handler)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      counters_(std::make_unique<Counters>(options_.retry.delays.size())) {
  if (options_.owner.empty()) options_.owner = DefaultOwner();
}

IdempotentConsumer::Impl::~Impl() {
  renewer_.reset();
  if (consumer_) consumer_->close();
}

Status IdempotentConsumer::Impl::Connect() {
  if (Status valid = Validate(options_); !valid.ok()) return valid;
  auto routes = client::RouteProducer::Create(options_.bootstrap_servers, options_.kafka_config);
  if (!routes.ok()) return routes.status();
  routes_ = std::move(*routes);
  if (Status created = routes_->EnsureTopics(RouteTopics(options_), options_.retry_topic_partitions,
                                             std::chrono::seconds(30));
      !created.ok()) {
    return created;
  }

  std::map<std::string, std::string> settings = options_.kafka_config;
  settings["bootstrap.servers"] = options_.bootstrap_servers;
  settings["group.id"] = options_.group;
  settings["enable.auto.commit"] = "false";
  settings["enable.auto.offset.store"] = "false";
  settings.try_emplace("auto.offset.reset", "earliest");
  auto conf = client::MakeRdKafkaConf(settings);
  if (!conf.ok()) return conf.status();
  cooperative_ = client::UsesCooperativeRebalance(settings);
  rebalancer_ = std::make_unique<Rebalancer>(this);
  std::string error;
  if ((*conf)->set("rebalance_cb", rebalancer_.get(), error) != RdKafka::Conf::CONF_OK) {
    return Status::InvalidArgument("consumer: " + error);
  }
  commit_results_ = std::make_unique<CommitResults>(this);
  if ((*conf)->set("offset_commit_cb", commit_results_.get(), error) != RdKafka::Conf::CONF_OK) {
    return Status::InvalidArgument("consumer: " + error);
  }
  consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), error));
  if (!consumer_) return Status::InvalidArgument("consumer: " + error);

  std::vector<std::string> topics = options_.topics;
  for (size_t level = 1; level <= options_.retry.delays.size(); ++level) {
    topics.push_back(RetryTopicName(options_.group, static_cast<int>(level)));
  }
  if (RdKafka::ErrorCode err = consumer_->subscribe(topics); err != RdKafka::ERR_NO_ERROR) {
    return Status::InvalidArgument("subscribe: " + RdKafka::err2str(err));
  }
  if (options_.store)
    renewer_ = std::make_unique<client::LeaseRenewer>(*options_.store, options_.group, options_.lease);
  next_sweep_ = Clock::now() + std::chrono::minutes(1);
  missing_topics_.insert(options_.topics.begin(), options_.topics.end());
  next_topic_look_ = Clock::now();
  return Status::Ok();
}

bool IdempotentConsumer::Impl::Stopping() const {
  return stop_.load() || g_signal_stop.load();
}

Status IdempotentConsumer::Impl::Run() {
  while (!Stopping()) {
    ReleaseDueHolds();
    std::vector<Item> batch = PollBatch();
    if (!batch.empty()) {
      ++counters_->batches;
      Process(batch);
    }
    Commit(/*synchronous=*/false);
    MaybeSweep();
    LookForMissingTopics();
  }
  Shutdown();
  return Status::Ok();
}

void IdempotentConsumer::Impl::Shutdown() {
  Commit(/*synchronous=*/true);
  leaving_ = true;  // every done message is committed: a revoke from here on only gives partitions up
  holds_.clear();
  renewer_.reset();
  LeaveGroup();
  consumer_->close();
}

// Leaves the group before close(): unsubscribe, then serve the revoke on this thread (it comes out of
// consume()) until nothing is assigned, for at most kLeaveBound. close() then has no assignment to take apart
// and no callback of ours runs inside it. librdkafka 2.0 can abort in close() when the application acts on
// the group while it terminates (librdkafka issues 4027, 4792: rd_kafka_cgrp_terminated's assertion); a
// message fetched meanwhile is not handled and not committed, so the next owner gets it.
void IdempotentConsumer::Impl::LeaveGroup() {
  if (consumer_->unsubscribe() != RdKafka::ERR_NO_ERROR) return;
  const auto deadline = Clock::now() + kLeaveBound;
  // OnRebalance keeps assigned_partitions; asking librdkafka (assignment()) would wait on its main thread.
  while (counters_->assigned_partitions.load() > 0 && Clock::now() < deadline) {
    delete consumer_->consume(kLeavePollMs);
  }
}

int64_t IdempotentConsumer::Impl::WallNowMs() const {
  return WallMs();
}

IdempotentConsumer::Impl::Item IdempotentConsumer::Impl::MakeItem(RdKafka::Message* message) const {
  Item item;
  item.message.reset(message);
  item.partition = client::PartitionId{message->topic_name(), message->partition()};
  MessageView& view = item.view;
  // librdkafka's topic name lives as long as the message, wherever the Item is moved.
  view.topic = rd_kafka_topic_name(message->c_ptr()->rkt);
  view.partition = message->partition();
  view.offset = message->offset();
  if (message->key_pointer() != nullptr) {
    view.key = std::string_view(static_cast<const char*>(message->key_pointer()), message->key_len());
  }
  view.payload = std::string_view(static_cast<const char*>(message->payload()), message->len());
  view.timestamp_ms = message->timestamp().timestamp;
  view.native = message->c_ptr();
  item.attempts = static_cast<int32_t>(client::ParseHeaderNumber(view.Header(headers::kAttempt), 0));
  item.deliver_at = client::ParseHeaderNumber(view.Header(headers::kDeliverAt), 0);
  return item;
}

std::chrono::milliseconds IdempotentConsumer::Impl::PollTimeout() const {
  auto timeout = options_.poll_timeout;
  const auto now = Clock::now();
  for (const auto& [partition, hold] : holds_) {
    auto until = std::chrono::duration_cast<std::chrono::milliseconds>(hold.ready_at - now);
    timeout = std::min(timeout, std::max(until, std::chrono::milliseconds(0)));
  }
  return timeout;
}

std::vector<IdempotentConsumer::Impl::Item> IdempotentConsumer::Impl::PollBatch() {
  std::vector<Item> batch;
  int timeout_ms = static_cast<int>(PollTimeout().count());
  while (batch.size() < options_.max_batch) {
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(batch.empty() ? timeout_ms : 0));
    if (!message) break;
    if (message->err() == RdKafka::ERR__TIMED_OUT) break;
    if (message->err() != RdKafka::ERR_NO_ERROR) {
      if (message->err() != RdKafka::ERR__PARTITION_EOF) {
        spdlog::warn("idempotent consumer {}: {}", options_.group, message->errstr());
      }
      if (batch.empty()) break;
      continue;
    }
    ++counters_->received;
    batch.push_back(MakeItem(message.release()));
  }
  return batch;
}

void IdempotentConsumer::Impl::ReleaseDueHolds() {
  const auto now = Clock::now();
  std::vector<Item> due;
  std::vector<client::PartitionId> released;
  for (auto& [partition, hold] : holds_) {
    if (hold.ready_at > now) continue;
    for (auto& [offset, item] : hold.items) due.push_back(std::move(item));
    released.push_back(partition);
  }
  for (const client::PartitionId& partition : released) holds_.erase(partition);
  if (due.empty()) return;
  for (Item& item : due) item.fate = Fate::kPending;
  Process(due);
  // Partitions whose messages all went through may fetch again.
  for (const client::PartitionId& partition : released) {
    if (!PartitionHeld(partition)) Resume(partition);
  }
}

bool IdempotentConsumer::Impl::HeldBehindEarlier(const Item& item) const {
  auto hold = holds_.find(item.partition);
  return hold != holds_.end() && !hold->second.items.empty() &&
         hold->second.items.begin()->first < item.view.offset;
}

void IdempotentConsumer::Impl::HoldItem(Item&& item, Clock::time_point ready_at) {
  const bool newly_held = !PartitionHeld(item.partition);
  Hold& hold = holds_[item.partition];
  if (newly_held) {
    hold.ready_at = ready_at;
    Pause(item.partition);
  } else {
    hold.ready_at = std::min(hold.ready_at, ready_at);
  }
  item.fate = Fate::kHeld;
  const int64_t offset = item.view.offset;
  hold.items.emplace(offset, std::move(item));
}

void IdempotentConsumer::Impl::Pause(const client::PartitionId& partition) {
  std::unique_ptr<RdKafka::TopicPartition> tp(
      RdKafka::TopicPartition::create(partition.topic, partition.partition));
  std::vector<RdKafka::TopicPartition*> list{tp.get()};
  consumer_->pause(list);
}

void IdempotentConsumer::Impl::Resume(const client::PartitionId& partition) {
  std::unique_ptr<RdKafka::TopicPartition> tp(
      RdKafka::TopicPartition::create(partition.topic, partition.partition));
  std::vector<RdKafka::TopicPartition*> list{tp.get()};
  consumer_->resume(list);
}

void IdempotentConsumer::Impl::Commit(bool synchronous) {
  if (synchronous) {
    CommitPoints(tracker_.AllCommitPoints(), true);
    tracker_.TakeAdvanced();
  } else {
    CommitPoints(tracker_.TakeAdvanced(), false);
  }
}

void IdempotentConsumer::Impl::CommitPoints(
    const std::vector<std::pair<client::PartitionId, int64_t>>& points, bool synchronous) {
  if (points.empty()) return;
  std::vector<std::unique_ptr<RdKafka::TopicPartition>> owned;
  std::vector<RdKafka::TopicPartition*> offsets;
  for (const auto& [partition, offset] : points) {
    owned.emplace_back(RdKafka::TopicPartition::create(partition.topic, partition.partition, offset));
    offsets.push_back(owned.back().get());
  }
  RdKafka::ErrorCode err = synchronous ? consumer_->commitSync(offsets) : consumer_->commitAsync(offsets);
  if (err != RdKafka::ERR_NO_ERROR) {
    spdlog::warn("idempotent consumer {}: commit failed: {}", options_.group, RdKafka::err2str(err));
    return;
  }
  ++counters_->commits;
}

// Runs inside consume() (and inside close() if the group still changes then): only calls that librdkafka
// answers on this thread — no rebalance_protocol(), which waits on its main thread (see cooperative_).
void IdempotentConsumer::Impl::OnRebalance(RdKafka::ErrorCode code,
                                           std::vector<RdKafka::TopicPartition*>& partitions) {
  if (code == RdKafka::ERR__ASSIGN_PARTITIONS) {
    ++counters_->rebalances;
    if (cooperative_) {
      delete consumer_->incremental_assign(partitions);
      counters_->assigned_partitions += partitions.size();
    } else {
      consumer_->assign(partitions);
      counters_->assigned_partitions = partitions.size();
    }
    return;
  }
  // Revoked (or lost): commit what is done unless the partitions are already someone else's, then forget
  // them; held messages are fetched again by the next owner from the committed offset. A held partition is
  // paused, and librdkafka keeps a partition's pause across unassign and a later assign: resumed here, a
  // partition given back to this member would never be fetched again (the hold that would resume it is gone).
  std::vector<std::pair<client::PartitionId, int64_t>> points;
  for (RdKafka::TopicPartition* tp : partitions) {
    client::PartitionId partition{tp->topic(), tp->partition()};
    if (auto point = tracker_.CommitPoint(partition)) points.emplace_back(partition, *point);
    tracker_.Forget(partition);
    if (PartitionHeld(partition)) Resume(partition);
    holds_.erase(partition);
  }
  if (!leaving_ && !consumer_->assignment_lost()) CommitPoints(points, /*synchronous=*/true);
  if (cooperative_) {
    delete consumer_->incremental_unassign(partitions);
    counters_->assigned_partitions -= std::min<uint64_t>(counters_->assigned_partitions, partitions.size());
  } else {
    consumer_->unassign();
    counters_->assigned_partitions = 0;
  }
}

void IdempotentConsumer::Impl::MaybeSweep() {
  if (Clock::now() < next_sweep_) return;
  next_sweep_ = Clock::now() + std::chrono::minutes(1);
  DedupStore* store = options_.store.get();
  if (store == nullptr) store = dynamic_cast<DedupStore*>(options_.transactional_store.get());
  if (store == nullptr) return;
  Result<size_t> swept = store->Sweep(1'000);
  if (!swept.ok())
    spdlog::warn("idempotent consumer {}: sweep: {}", options_.group, swept.status().ToString());
}

// librdkafka notices a subscribed topic created after the subscription only at its next periodic metadata
// refresh (topic.metadata.refresh.interval.ms, 5 minutes by default), so a consumer started before its
// producers would idle that long. While a source topic is missing, the consumer asks for the cluster's
// topics every few seconds; an answer that lists it updates librdkafka's cache and the group rebalances.
void IdempotentConsumer::Impl::LookForMissingTopics() {
  if (missing_topics_.empty() || Clock::now() < next_topic_look_) return;
  next_topic_look_ = Clock::now() + kMissingTopicLookEvery;
  RdKafka::Metadata* raw = nullptr;
  if (consumer_->metadata(/*all_topics=*/true, nullptr, &raw, kMissingTopicLookTimeoutMs) !=
      RdKafka::ERR_NO_ERROR) {
    return;  // the cluster does not answer now: look again later
  }
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  std::vector<std::string> listed;
  for (const RdKafka::TopicMetadata* topic : *metadata->topics()) {
    if (topic->err() == RdKafka::ERR_NO_ERROR && !topic->partitions()->empty())
      listed.push_back(topic->topic());
  }
  missing_topics_ = client::UnlistedSubscriptions(missing_topics_, listed);
  if (!missing_topics_.empty() && !missing_topics_said_) {
    missing_topics_said_ = true;
    const std::string& first = *missing_topics_.begin();
    if (client::IsTopicPattern(first)) {
      spdlog::warn("idempotent consumer {}: no topic matches {} (yet); consuming each once it exists",
                   options_.group, first);
    } else {
      spdlog::warn("idempotent consumer {}: topic {} does not exist (yet); consuming it once it does",
                   options_.group, first);
    }
  }
}

std::chrono::milliseconds IdempotentConsumer::Impl::StoreBackoff() {
  const int exponent = std::min(store_failures_in_a_row_, 10);
  ++store_failures_in_a_row_;
  return std::min(options_.max_store_backoff, std::chrono::milliseconds(50) * (1 << exponent));
}

ConsumerStats IdempotentConsumer::Impl::stats() const {
  return counters_->Snapshot();
}

// The public face.

IdempotentConsumer::IdempotentConsumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
IdempotentConsumer::~IdempotentConsumer() = default;

Result<std::unique_ptr<IdempotentConsumer>> IdempotentConsumer::Create(IdempotentConsumerOptions options,
                                                                       MessageHandler handler) {
  auto impl = std::make_unique<Impl>(std::move(options), std::move(handler));
  if (Status connected = impl->Connect(); !connected.ok()) return connected;
  return std::unique_ptr<IdempotentConsumer>(new IdempotentConsumer(std::move(impl)));
}

Status IdempotentConsumer::Run() {
  return impl_->Run();
}

void IdempotentConsumer::Stop() {
  impl_->Stop();
}

void IdempotentConsumer::StopOnSignals() {
  g_signal_stop.store(false);
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

ConsumerStats IdempotentConsumer::stats() const {
  return impl_->stats();
}

}  // namespace oncemq
