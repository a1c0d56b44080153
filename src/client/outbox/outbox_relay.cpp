#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <random>
#include <set>

#include "common/clock.h"
#include "oncemq/outbox.h"

namespace oncemq {

namespace {

constexpr std::chrono::milliseconds kReachableFor{1'000};  // a good metadata answer is trusted this long
constexpr std::chrono::milliseconds kProbeTimeout{2'000};
constexpr std::chrono::milliseconds kPurgeEvery{10'000};
constexpr size_t kPurgeLimit = 10'000;
constexpr int kRecordTries = 5;
constexpr size_t kMaxSuspects = 100'000;

std::string DefaultName() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::random_device random;
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + std::to_string(random() % 100000);
}

// What the sends of one round came to; shared with the callbacks, which may outlive a round only if
// librdkafka broke its promise to answer within message.timeout.ms.
struct RoundOutcomes {
  std::vector<SendOutcome> outcomes;
  size_t answered = 0;
};

}  // namespace

class OutboxRelay::Impl {
 public:
  Impl(std::shared_ptr<Outbox> outbox, OutboxRelayOptions options, std::unique_ptr<ReliableProducer> producer)
      : outbox_(std::move(outbox)), options_(std::move(options)), producer_(std::move(producer)) {}

  Result<size_t> RunOnce() {
    MaybePurge();
    if (!Reachable()) {
      ++stats_.unreachable;
      return size_t{0};
    }
    const std::string claim = options_.name + ":" + std::to_string(++rounds_);
    Result<std::vector<OutboxEntry>> claimed = outbox_->Claim(claim, options_.lease, options_.batch);
    if (!claimed.ok()) {
      ++stats_.store_errors;
      return claimed.status();
    }
    if (claimed->empty()) return size_t{0};
    stats_.claimed += claimed->size();
    auto round = SendAll(*claimed);
    Record(claim, *round);
    return claimed->size();
  }

  Status Run() {
    while (!stopping_.load()) {
      Result<size_t> n = RunOnce();
      if (n.ok() && *n > 0) continue;
      std::unique_lock lock(mu_);
      stop_cv_.wait_for(lock, options_.idle_wait, [&] { return stopping_.load(); });
    }
    return Status::Ok();
  }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_.store(true);
    }
    stop_cv_.notify_all();
  }

  OutboxRelayStats stats() const {
    return OutboxRelayStats{stats_.claimed.load(),     stats_.sent.load(),        stats_.resends.load(),
                            stats_.failed.load(),      stats_.lost_claims.load(), stats_.store_errors.load(),
                            stats_.unreachable.load(), stats_.purged.load()};
  }

 private:
  // Sends the round: first every message not under suspicion, together; then each suspect alone. A
  // broker refuses a whole produce request when one of its records is too large, so a message refused for
  // good (kInvalidArgument) may only have shared a request with the culprit; alone, it shows which it is.
  std::shared_ptr<RoundOutcomes> SendAll(std::vector<OutboxEntry>& claimed) {
    auto round = std::make_shared<RoundOutcomes>();
    round->outcomes.resize(claimed.size());
    std::vector<size_t> suspects;
    for (size_t i = 0; i < claimed.size(); ++i) {
      round->outcomes[i].id = claimed[i].id;
      round->outcomes[i].status = Status::Unavailable("no answer from the cluster");
      if (suspects_.contains(claimed[i].id)) {
        suspects.push_back(i);
      } else {
        SendOne(round, claimed[i], i);
      }
    }
    // librdkafka answers every message within ack_timeout (message.timeout.ms); the slack covers its timer.
    const auto bound = options_.producer.ack_timeout + std::chrono::seconds(5);
    (void)producer_->Flush(bound);
    const int64_t round_deadline = SteadyMs() + options_.lease.count() / 2;
    for (size_t i : suspects) {
      if (SteadyMs() >= round_deadline) {  // out of time before the lease: these wait for the next round
        round->outcomes[i].status = Status::Unavailable("not sent: the round ran out of time");
        continue;
      }
      SendOne(round, claimed[i], i);
      (void)producer_->Flush(bound);
    }
    for (const SendOutcome& o : round->outcomes) {
      if (o.status.code() == StatusCode::kInvalidArgument && suspects_.size() < kMaxSuspects) {
        suspects_.insert(o.id);
      } else {
        suspects_.erase(o.id);
      }
    }
    return round;
  }

  void SendOne(const std::shared_ptr<RoundOutcomes>& round, OutboxEntry& entry, size_t i) {
    producer_->Send(std::move(entry.message), [round, i](const Confirmation& c) {
      SendOutcome& o = round->outcomes[i];
      o.status = c.status;
      o.partition = c.partition;
      o.offset = c.offset;
      ++round->answered;
    });
  }

  void Record(const std::string& claim, const RoundOutcomes& round) {
    if (round.answered < round.outcomes.size()) last_failure_ms_ = SteadyMs();
    for (int attempt = 1; attempt <= kRecordTries; ++attempt) {
      Result<Outbox::Recorded> recorded = outbox_->Record(claim, round.outcomes, options_.retry);
      if (recorded.ok()) {
        const size_t changed = recorded->sent + recorded->again + recorded->failed;
        if (recorded->again + recorded->failed > 0) last_failure_ms_ = SteadyMs();
        stats_.lost_claims += round.outcomes.size() - changed;
        stats_.sent += recorded->sent;
        stats_.resends += recorded->again;
        stats_.failed += recorded->failed;
        return;
      }
      ++stats_.store_errors;
      std::unique_lock lock(mu_);
      stop_cv_.wait_for(lock, std::chrono::milliseconds(100 * attempt), [&] { return stopping_.load(); });
    }
    // Not recorded: the claim's lease runs out and the messages are sent again (same msg-ids).
  }

  bool Reachable() {
    const int64_t now = SteadyMs();
    const bool recent_failure = now - last_failure_ms_ < kReachableFor.count();
    if (!recent_failure && now - last_reachable_ms_ < kReachableFor.count()) return true;
    if (!producer_->Reachable(kProbeTimeout)) return false;
    last_reachable_ms_ = SteadyMs();
    last_failure_ms_ = 0;
    return true;
  }

  void MaybePurge() {
    const int64_t now = SteadyMs();
    if (now - last_purge_ms_ < kPurgeEvery.count()) return;
    last_purge_ms_ = now;
    Result<size_t> purged = outbox_->Purge(options_.sent_retention, kPurgeLimit);
    if (purged.ok()) {
      stats_.purged += *purged;
    } else {
      ++stats_.store_errors;
    }
  }

  struct Counters {
    std::atomic<uint64_t> claimed{0}, sent{0}, resends{0}, failed{0}, lost_claims{0}, store_errors{0},
        unreachable{0}, purged{0};
  };

  const std::shared_ptr<Outbox> outbox_;
  const OutboxRelayOptions options_;
  std::unique_ptr<ReliableProducer> producer_;
  uint64_t rounds_ = 0;
  std::set<int64_t> suspects_;  // ids last refused for good: sent alone next time
  int64_t last_reachable_ms_ = -kReachableFor.count();
  int64_t last_failure_ms_ = -kReachableFor.count();
  int64_t last_purge_ms_ = -kPurgeEvery.count();
  Counters stats_;
  std::mutex mu_;
  std::condition_variable stop_cv_;
  std::atomic<bool> stopping_{false};
};

Result<std::unique_ptr<OutboxRelay>> OutboxRelay::Create(std::shared_ptr<Outbox> outbox,
                                                         OutboxRelayOptions options) {
  if (outbox == nullptr) return Status::InvalidArgument("outbox relay: no outbox");
  if (options.batch == 0) return Status::InvalidArgument("outbox relay: batch must be positive");
  if (options.lease <= options.producer.ack_timeout + std::chrono::seconds(5)) {
    return Status::InvalidArgument("outbox relay: the lease must exceed ack_timeout by more than 5 s");
  }
  if (options.name.empty()) options.name = DefaultName();
  Result<std::unique_ptr<ReliableProducer>> producer = ReliableProducer::Create(options.producer);
  if (!producer.ok()) return producer.status();
  auto impl = std::make_unique<Impl>(std::move(outbox), std::move(options), std::move(*producer));
  return std::unique_ptr<OutboxRelay>(new OutboxRelay(std::move(impl)));
}

OutboxRelay::OutboxRelay(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OutboxRelay::~OutboxRelay() = default;
Result<size_t> OutboxRelay::RunOnce() {
  return impl_->RunOnce();
}
Status OutboxRelay::Run() {
  return impl_->Run();
}
void OutboxRelay::Stop() {
  impl_->Stop();
}
OutboxRelayStats OutboxRelay::stats() const {
  return impl_->stats();
}

}  // namespace oncemq
