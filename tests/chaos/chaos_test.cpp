// The chaos suite's producer half (issue 7): an idempotent ReliableProducer sends through the fault proxy,
// which drops produce responses and cuts connections, while the broker is SIGKILLed and restarted again
// and again; a message nacked or unanswered is sent again with the same msg-id until it is acknowledged.
// After every restart the log is read back whole. The invariants (chaos/invariants.h):
//   - every acknowledged produce is in the log, at the offset its ack named, with its msg-id;
//   - no (partition, offset) ever shows two different messages across the reads;
//   - every message sent was acknowledged in the end, and the log holds each msg-id once.
// Bounded: kMessages messages and kMinKills broker kills, or kBound, whichever comes first (a slow restart
// must not end a run with too few kills); ONCEMQ_CHAOS_SOAK_SECONDS=N instead keeps sending (and killing)
// for N seconds (tests/chaos/soak.sh).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "chaos/fault_proxy.h"
#include "chaos/invariants.h"
#include "chaos/log_reader.h"
#include "chaos/soak.h"
#include "oncemq/reliable_producer.h"
#include "support/broker_process.h"

namespace oncemq::chaos_test {
namespace {

using oncemq::testing::BrokerProcess;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr char kTopic[] = "chaos";
constexpr int kPartitions = 3;
constexpr int kMessages = 6'000;
constexpr int64_t kRatePerSecond = 500;  // so that the broker dies several times while messages flow
constexpr auto kBound = seconds(240);
constexpr auto kKillEvery = seconds(2);
constexpr int kMinKills = 3;  // a run with fewer proves too little: it goes on until this many
constexpr int16_t kProduceApi = 0;

// The whole topic as it is now: every partition from its start to its end.
LogRead ReadAll(const std::string& address) {
  TopicRead read;
  std::string error;
  EXPECT_TRUE(ReadTopic(address, kTopic, &read, &error)) << error;
  return MsgIds(read);
}

class ProducerHalf {
 public:
  ProducerHalf(const std::string& bootstrap) {
    ReliableProducerOptions options;
    options.bootstrap_servers = bootstrap;
    options.ack_timeout = seconds(4);
    auto producer = ReliableProducer::Create(options);
    EXPECT_TRUE(producer.ok()) << producer.status().ToString();
    if (producer.ok()) producer_ = std::move(*producer);
  }

  // Sends message n (or re-sends it); its ack is recorded, a nack queues it again.
  void Send(int n) {
    const std::string id = "m-" + std::to_string(n);
    sent_.insert(id);
    producer_->Send(
        OutgoingMessage{kTopic, "k" + std::to_string(n % 17), "payload " + std::to_string(n), {}, id},
        [this, n](const Confirmation& c) {
          if (c.status.ok()) {
            acks_.push_back(Ack{c.msg_id, c.partition, c.offset});
            acked_.insert(c.msg_id);
          } else {
            again_.push_back(n);
          }
        });
  }

  void Serve(milliseconds wait) {
    producer_->Poll(wait);
    while (!again_.empty()) {
      const int n = again_.front();
      again_.pop_front();
      ++resends_;
      Send(n);
    }
  }

  bool Settled() const {
    return producer_->pending() == 0 && again_.empty() && acked_.size() == sent_.size();
  }
  const std::vector<Ack>& acks() const { return acks_; }
  size_t sent() const { return sent_.size(); }
  size_t resends() const { return resends_; }

 private:
  std::unique_ptr<ReliableProducer> producer_;
  std::set<std::string> sent_;
  std::set<std::string> acked_;
  std::vector<Ack> acks_;
  std::deque<int> again_;
  size_t resends_ = 0;
};

TEST(ChaosTest, AcknowledgedProducesSurviveLostAcksCutConnectionsAndBrokerKills) {
  BrokerProcess broker({"--dedup-window-ms", "3600000", "--partitions", std::to_string(kPartitions)});
  std::string error;
  ASSERT_TRUE(broker.Start(&error)) << error;
  chaos::FaultProxy proxy("127.0.0.1", broker.port(), /*seed=*/std::random_device{}());
  ASSERT_TRUE(proxy.Start(&error)) << error;
  proxy.SetRule(kProduceApi, chaos::FaultRule{.drop_response = 0.05,
                                              .cut = 0.05,
                                              .delay_probability = 0.05,
                                              .delay = milliseconds(300),
                                              .lost_ack_close_min = milliseconds(500),
                                              .lost_ack_close_max = milliseconds(6000)});
  ProducerHalf producer(proxy.address());

  std::vector<LogRead> reads;
  const int64_t soak = SoakSeconds();
  const auto end = Clock::now() + (soak > 0 ? seconds(soak) : kBound);
  auto next_kill = Clock::now() + kKillEvery;
  int kills = 0;
  int n = 0;
  const auto start = Clock::now();
  while (Clock::now() < end && (soak > 0 || n < kMessages || kills < kMinKills)) {
    const auto elapsed_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
    while (n < elapsed_ms * kRatePerSecond / 1000 && (soak > 0 || n < kMessages)) producer.Send(n++);
    producer.Serve(milliseconds(10));
    if (Clock::now() >= next_kill) {
      ASSERT_TRUE(broker.Kill());
      ++kills;
      ASSERT_TRUE(broker.Restart(&error)) << error;
      proxy.SetUpstream("127.0.0.1", broker.port());
      reads.push_back(ReadAll(broker.address()));
      next_kill = Clock::now() + kKillEvery;
    }
  }
  const auto settle_end = Clock::now() + seconds(120);
  while (!producer.Settled() && Clock::now() < settle_end) producer.Serve(milliseconds(50));
  ASSERT_TRUE(producer.Settled()) << "not every message was acknowledged in the end";
  const LogRead final_read = ReadAll(broker.address());
  reads.push_back(final_read);

  std::vector<std::string> violations = AckedAreDelivered(producer.acks(), final_read);
  for (std::string& v : NoOffsetHoldsTwo(reads)) violations.push_back(std::move(v));
  std::map<std::string, int> copies;
  for (const auto& [at, msg_id] : final_read) ++copies[msg_id];
  for (const auto& [msg_id, count] : copies) {
    if (count != 1) violations.push_back(msg_id + " is in the log " + std::to_string(count) + " times");
  }
  if (copies.size() != producer.sent()) {
    violations.push_back(std::to_string(producer.sent()) + " sent, " + std::to_string(copies.size()) +
                         " in the log");
  }
  for (size_t i = 0; i < violations.size() && i < 20; ++i) ADD_FAILURE() << violations[i];
  EXPECT_TRUE(violations.empty()) << violations.size() << " violations";
  EXPECT_GE(kills, kMinKills) << "too few broker kills to mean anything";
  const chaos::FaultCounters faults = proxy.Counters();
  std::printf(
      "chaos: %zu messages, %d broker kills, %zu re-sends, %lld lost acks, %lld cuts, %zu log reads\n",
      producer.sent(), kills, producer.resends(), static_cast<long long>(faults.lost_acks),
      static_cast<long long>(faults.cuts), reads.size());
}

}  // namespace
}  // namespace oncemq::chaos_test
