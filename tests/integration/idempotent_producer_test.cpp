// Issue 3, idempotent producer end to end: a librdkafka idempotent producer (acks=all) sends 200,000
// numbered messages over four partitions through a FaultProxy (src/chaos/fault_proxy.h) that loses
// Produce acknowledgements (the broker stored the batch, the client never hears so and re-sends it),
// cuts connections the moment the broker has answered, delays answers, and cuts InitProducerId
// answers. librdkafka re-sends with the same producer id, epoch and sequence numbers; the broker must
// answer each exact re-send with the original offset and append nothing.
//
// Judged afterwards, reading the log straight from the broker (no proxy) with an assign-based consumer:
//   - the producer never reached a fatal error and every delivery report is a success;
//   - every message is in the log exactly once (200,000 records, no duplicate, none missing);
//   - per partition the messages sit in send order;
//   - the offset each delivery report gave holds that very message (a re-send answered "success"
//     carries the original offset);
//   - the proxy really injected faults (so the test cannot pass by faulting nothing).
// The second test does the same while the broker is SIGKILLed and restarted on the same port twice,
// each time right after the proxy swallowed a Produce acknowledgement, so the restarted broker gets a
// re-send of a batch it stored before it died.
#include <gtest/gtest.h>

#include <unistd.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "chaos/fault_proxy.h"
#include "support/broker_process.h"
#include "support/rdkafka_util.h"

namespace oncemq::testing {
namespace {

using Clock = std::chrono::steady_clock;
using chaos::FaultAction;
using chaos::FaultCounters;
using chaos::FaultProxy;
using chaos::FaultRule;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kMessages = 200000;
constexpr int kPartitions = 4;
constexpr int16_t kProduceApi = 0;
constexpr int16_t kInitProducerIdApi = 22;
constexpr uint64_t kProxySeed = 0x0c3e3;
constexpr auto kProduceDeadline = seconds(300);
constexpr auto kReadDeadline = seconds(120);
const std::string kTopic = "idempotent";

int32_t PartitionOf(int i) {
  return i % kPartitions;
}
std::string Payload(int i) {
  return "idem-" + std::to_string(i) + "-0123456789abcdef";
}
// The message number back out of a payload; -1 if it is not one of ours.
int IndexOf(const std::string& payload) {
  if (payload.rfind("idem-", 0) != 0) return -1;
  char* end = nullptr;
  long i = std::strtol(payload.c_str() + 5, &end, 10);
  if (end == payload.c_str() + 5 || i < 0 || i >= kMessages || payload != Payload(static_cast<int>(i)))
    return -1;
  return static_cast<int>(i);
}

struct Delivery {
  bool reported = false;
  RdKafka::ErrorCode err = RdKafka::ERR_NO_ERROR;
  int32_t partition = -1;
  int64_t offset = -1;
};

// Called on the producer thread (from its poll/flush calls).
class DeliveryRecorder : public RdKafka::DeliveryReportCb {
 public:
  explicit DeliveryRecorder(std::vector<Delivery>* out) : out_(out) {}
  void dr_cb(RdKafka::Message& m) override {
    auto i = reinterpret_cast<intptr_t>(m.msg_opaque());
    Delivery& d = (*out_)[static_cast<size_t>(i)];
    if (d.reported) ++reported_twice;
    d.reported = true;
    d.err = m.err();
    d.partition = m.partition();
    d.offset = m.offset();
    if (m.err() == RdKafka::ERR_NO_ERROR) acked.fetch_add(1);
  }
  std::atomic<int64_t> acked{0};
  int64_t reported_twice = 0;

 private:
  std::vector<Delivery>* out_;
};

// Records every fatal error and the first few other errors librdkafka reports.
class ErrorRecorder : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& e) override {
    if (e.type() != RdKafka::Event::EVENT_ERROR) return;
    std::lock_guard<std::mutex> lock(mu_);
    std::string text = RdKafka::err2str(e.err()) + ": " + e.str();
    if (e.fatal() || e.err() == RdKafka::ERR__FATAL) {
      fatal_.push_back(text);
    } else if (errors_.size() < 20) {
      errors_.push_back(text);
    }
    ++count_;
  }
  std::vector<std::string> fatal() const {
    std::lock_guard<std::mutex> lock(mu_);
    return fatal_;
  }
  std::string Summary() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::string s = std::to_string(count_) + " error events";
    for (const auto& e : errors_) s += "\n  " + e;
    return s;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> fatal_;
  std::vector<std::string> errors_;
  int64_t count_ = 0;
};

// Produce faults: a few per cent of acknowledgements lost (the black-holed connection closes after
// 0.1–2.5 s, so with request.timeout.ms=1500 the client sees a timeout about half the time and a
// disconnect otherwise), a few per cent of connections cut as the answer arrives, some answers late.
// A third of InitProducerId answers are cut too: the producer must simply ask again.
void InstallFaults(FaultProxy& proxy) {
  FaultRule produce;
  produce.drop_response = 0.03;
  produce.cut = 0.03;
  produce.delay_probability = 0.05;
  produce.delay = milliseconds(40);
  produce.lost_ack_close_min = milliseconds(100);
  produce.lost_ack_close_max = milliseconds(2500);
  proxy.SetRule(kProduceApi, produce);
  FaultRule init;
  init.cut = 0.33;
  proxy.SetRule(kInitProducerIdApi, init);
}

class IdempotentProducerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<BrokerProcess>(
        std::vector<std::string>{"--partitions", std::to_string(kPartitions)});
    std::string error;
    ASSERT_TRUE(broker_->Start(&error)) << error;
    proxy_ = std::make_unique<FaultProxy>(broker_->host(), broker_->port(), kProxySeed);
    ASSERT_TRUE(proxy_->Start(&error)) << error;
  }
  void TearDown() override {
    if (proxy_) proxy_->Stop();
    if (HasFailure()) std::fprintf(stderr, "--- broker log tail ---\n%s\n", broker_->LogTail(8000).c_str());
  }

  // An idempotent producer bootstrapped through the proxy, with short timeouts so faults cause
  // retries quickly, small batches so there are many Produce requests to fault, and a message
  // timeout longer than the test so no message may expire.
  std::unique_ptr<RdKafka::Producer> MakeProducer(DeliveryRecorder* dr, ErrorRecorder* ev) {
    std::string error;
    auto conf = MakeRdKafkaConf({{"bootstrap.servers", proxy_->address()},
                                 {"enable.idempotence", "true"},
                                 {"acks", "all"},
                                 {"max.in.flight.requests.per.connection", "5"},
                                 {"linger.ms", "5"},
                                 {"batch.num.messages", "250"},
                                 {"message.timeout.ms", "900000"},
                                 {"request.timeout.ms", "1500"},
                                 {"socket.timeout.ms", "3000"},
                                 {"socket.connection.setup.timeout.ms", "3000"},
                                 {"retry.backoff.ms", "50"},
                                 {"reconnect.backoff.ms", "20"},
                                 {"reconnect.backoff.max.ms", "250"},
                                 {"log.connection.close", "false"}},
                                &error);
    EXPECT_NE(conf, nullptr) << error;
    if (conf == nullptr) return nullptr;
    EXPECT_EQ(conf->set("dr_cb", dr, error), RdKafka::Conf::CONF_OK) << error;
    EXPECT_EQ(conf->set("event_cb", ev, error), RdKafka::Conf::CONF_OK) << error;
    std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
    EXPECT_NE(producer, nullptr) << error;
    return producer;
  }

  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<FaultProxy> proxy_;

 public:
  // Sends messages 0..kMessages-1 in order and flushes. Runs on its own thread; returns "" or why it
  // stopped early.
  static std::string ProduceAll(RdKafka::Producer* producer, const std::atomic<bool>* stop,
                                Clock::time_point deadline) {
    for (int i = 0; i < kMessages; ++i) {
      std::string payload = Payload(i);
      std::string key = std::to_string(i);
      for (;;) {
        RdKafka::ErrorCode err = producer->produce(kTopic, PartitionOf(i), RdKafka::Producer::RK_MSG_COPY,
                                                   payload.data(), payload.size(), key.data(), key.size(), 0,
                                                   reinterpret_cast<void*>(static_cast<intptr_t>(i)));
        if (err == RdKafka::ERR_NO_ERROR) break;
        if (err != RdKafka::ERR__QUEUE_FULL)
          return "produce(" + std::to_string(i) + "): " + RdKafka::err2str(err);
        if (stop->load() || Clock::now() >= deadline)
          return "stopped while the queue was full at " + std::to_string(i);
        producer->poll(10);
      }
      producer->poll(0);
    }
    while (producer->outq_len() > 0 && !stop->load() && Clock::now() < deadline) producer->flush(200);
    if (producer->outq_len() > 0)
      return std::to_string(producer->outq_len()) + " messages still unacknowledged at the deadline";
    return "";
  }

 protected:
  // Reads every partition from offset 0 to its high watermark, straight from the broker.
  void ReadLog(std::vector<std::vector<std::string>>* log) {
    std::string error;
    auto conf = MakeRdKafkaConf({{"bootstrap.servers", broker_->address()},
                                 {"group.id", "idempotent-check-" + std::to_string(::getpid())},
                                 {"enable.auto.commit", "false"},
                                 {"enable.auto.offset.store", "false"},
                                 {"enable.partition.eof", "false"},
                                 {"auto.offset.reset", "error"}},
                                &error);
    ASSERT_NE(conf, nullptr) << error;
    ConsumerPtr consumer(RdKafka::KafkaConsumer::create(conf.get(), error));
    ASSERT_NE(consumer, nullptr) << error;
    std::vector<int64_t> high(kPartitions, 0);
    std::vector<std::pair<int32_t, int64_t>> starts;
    for (int32_t p = 0; p < kPartitions; ++p) {
      int64_t low = -1;
      RdKafka::ErrorCode err = consumer->query_watermark_offsets(kTopic, p, &low, &high[p], 10000);
      ASSERT_EQ(err, RdKafka::ERR_NO_ERROR)
          << "watermarks of partition " << p << ": " << RdKafka::err2str(err);
      ASSERT_EQ(low, 0) << "partition " << p;
      starts.emplace_back(p, 0);
    }
    ASSERT_EQ(AssignPartitions(*consumer, kTopic, starts), RdKafka::ERR_NO_ERROR);
    log->assign(kPartitions, {});
    auto done = [&] {
      for (int32_t p = 0; p < kPartitions; ++p)
        if (static_cast<int64_t>((*log)[p].size()) < high[p]) return false;
      return true;
    };
    auto deadline = Clock::now() + kReadDeadline;
    while (!done() && Clock::now() < deadline) {
      std::unique_ptr<RdKafka::Message> msg(consumer->consume(500));
      if (msg->err() == RdKafka::ERR__TIMED_OUT) continue;
      ASSERT_EQ(msg->err(), RdKafka::ERR_NO_ERROR) << "consume: " << msg->errstr();
      int32_t p = msg->partition();
      ASSERT_TRUE(p >= 0 && p < kPartitions) << "partition " << p;
      ASSERT_EQ(msg->offset(), static_cast<int64_t>((*log)[p].size()))
          << "partition " << p << ": offsets not dense";
      (*log)[p].emplace_back(static_cast<const char*>(msg->payload()), msg->len());
    }
    for (int32_t p = 0; p < kPartitions; ++p)
      ASSERT_EQ(static_cast<int64_t>((*log)[p].size()), high[p])
          << "partition " << p << " not read to its end";
  }

  // Exactly once, in send order per partition, at the offsets the delivery reports gave.
  static void CheckExactlyOnce(const std::vector<std::vector<std::string>>& log,
                               const std::vector<Delivery>& deliveries) {
    std::vector<int> copies(kMessages, 0);
    int64_t total = 0, foreign = 0, duplicates = 0, out_of_order = 0;
    for (int32_t p = 0; p < kPartitions; ++p) {
      int last = -1;
      for (size_t off = 0; off < log[p].size(); ++off) {
        ++total;
        int i = IndexOf(log[p][off]);
        if (i < 0 || PartitionOf(i) != p) {
          if (foreign++ < 5)
            ADD_FAILURE() << "partition " << p << " offset " << off << " holds '" << log[p][off] << "'";
          continue;
        }
        if (++copies[i] == 2 && duplicates++ < 10)
          ADD_FAILURE() << "message " << i << " is in partition " << p << " twice (again at offset " << off
                        << ")";
        if (i <= last && out_of_order++ < 10)
          ADD_FAILURE() << "partition " << p << " offset " << off << ": message " << i << " after message "
                        << last;
        last = std::max(last, i);
      }
    }
    int64_t missing = 0, failed = 0, misplaced = 0;
    for (int i = 0; i < kMessages; ++i) {
      if (copies[i] == 0 && missing++ < 10) ADD_FAILURE() << "message " << i << " is not in the log";
      const Delivery& d = deliveries[static_cast<size_t>(i)];
      if (!d.reported || d.err != RdKafka::ERR_NO_ERROR) {
        if (failed++ < 10)
          ADD_FAILURE() << "message " << i << ": "
                        << (d.reported ? "delivery failed: " + RdKafka::err2str(d.err)
                                       : std::string("no report"));
        continue;
      }
      const auto& part = log[PartitionOf(i)];
      bool at_offset = d.partition == PartitionOf(i) && d.offset >= 0 &&
                       d.offset < static_cast<int64_t>(part.size()) &&
                       part[static_cast<size_t>(d.offset)] == Payload(i);
      if (!at_offset && misplaced++ < 10)
        ADD_FAILURE() << "message " << i << " was reported at partition " << d.partition << " offset "
                      << d.offset << ", which does not hold it";
    }
    EXPECT_EQ(total, kMessages) << "records in the log";
    EXPECT_EQ(foreign, 0);
    EXPECT_EQ(duplicates, 0) << "messages stored more than once";
    EXPECT_EQ(out_of_order, 0) << "messages out of send order";
    EXPECT_EQ(missing, 0) << "messages missing from the log";
    EXPECT_EQ(failed, 0) << "messages without a successful delivery report";
    EXPECT_EQ(misplaced, 0) << "delivery reports whose offset does not hold the message";
  }
};

// Runs ProduceAll on a thread, calls `during` on this thread (with the acknowledged count), joins, and
// checks the producer's end state. `during` may kill and restart the broker.
void ProduceWhile(RdKafka::Producer* producer, DeliveryRecorder* dr, ErrorRecorder* ev,
                  const std::function<void(const std::atomic<int64_t>&)>& during) {
  std::atomic<bool> stop{false};
  std::string produce_error;
  auto deadline = Clock::now() + kProduceDeadline;
  std::thread producer_thread(
      [&] { produce_error = IdempotentProducerTest::ProduceAll(producer, &stop, deadline); });
  struct Joiner {
    std::atomic<bool>* stop;
    std::thread* t;
    ~Joiner() {
      stop->store(true);
      if (t->joinable()) t->join();
    }
  } joiner{&stop, &producer_thread};
  during(dr->acked);
  producer_thread.join();
  EXPECT_EQ(produce_error, "") << ev->Summary();
  std::string fatal_text;
  RdKafka::ErrorCode fatal = producer->fatal_error(fatal_text);
  EXPECT_EQ(fatal, RdKafka::ERR_NO_ERROR) << "the producer reached a fatal error: " << fatal_text;
  for (const auto& f : ev->fatal()) ADD_FAILURE() << "fatal error event: " << f;
  EXPECT_EQ(dr->reported_twice, 0) << "delivery reports for the same message more than once";
}

TEST_F(IdempotentProducerTest, LostAcksAndCutConnectionsStoreEachMessageOnceInOrder) {
  InstallFaults(*proxy_);
  std::vector<Delivery> deliveries(kMessages);
  DeliveryRecorder dr(&deliveries);
  ErrorRecorder ev;
  auto producer = MakeProducer(&dr, &ev);
  ASSERT_NE(producer, nullptr);
  auto start = Clock::now();
  ProduceWhile(producer.get(), &dr, &ev, [](const std::atomic<int64_t>&) {});
  auto produce_ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  producer.reset();
  FaultCounters faults = proxy_->Counters();
  std::printf("idempotent producer: %d messages in %lld ms through the proxy: %s\n", kMessages,
              static_cast<long long>(produce_ms), faults.ToString().c_str());
  std::printf("producer errors: %s\n", ev.Summary().c_str());
  EXPECT_GT(faults.lost_acks, 0) << "the proxy lost no acknowledgement; the test proved nothing";
  EXPECT_GT(faults.cuts, 0) << "the proxy cut no connection; the test proved nothing";
  EXPECT_GT(faults.faults_by_api[kProduceApi], 0);
  EXPECT_GT(faults.metadata_rewrites, 0) << "the client never learned the proxy's address";

  std::vector<std::vector<std::string>> log;
  ASSERT_NO_FATAL_FAILURE(ReadLog(&log));
  CheckExactlyOnce(log, deliveries);
}

TEST_F(IdempotentProducerTest, SigkillAndRestartMidStreamStillStoreEachMessageOnceInOrder) {
  constexpr int kKills = 2;
  InstallFaults(*proxy_);
  std::vector<Delivery> deliveries(kMessages);
  DeliveryRecorder dr(&deliveries);
  ErrorRecorder ev;
  auto producer = MakeProducer(&dr, &ev);
  ASSERT_NE(producer, nullptr);
  const uint16_t port = broker_->port();
  std::vector<int64_t> acked_at_kill;
  int kills_after_lost_ack = 0;
  std::string kill_error;
  ProduceWhile(producer.get(), &dr, &ev, [&](const std::atomic<int64_t>& acked) {
    for (int k = 1; k <= kKills; ++k) {
      // Kill at about k/(kKills+1) of the stream (bounded wait: the kill happens regardless).
      int64_t target = int64_t{kMessages} * k / (kKills + 1);
      auto deadline = Clock::now() + seconds(120);
      while (acked.load() < target && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(5));
      // Then lose the next Produce acknowledgement and kill at once: the broker dies holding a batch
      // the producer will re-send to the restarted broker, which must know it from its rebuilt state.
      int64_t lost_before = proxy_->Counters().lost_acks;
      proxy_->ArmOnce(kProduceApi, FaultAction::kDropResponse);
      auto lost_deadline = Clock::now() + seconds(30);
      while (proxy_->Counters().lost_acks == lost_before && Clock::now() < lost_deadline) {
        std::this_thread::sleep_for(milliseconds(1));
      }
      if (proxy_->Counters().lost_acks > lost_before) ++kills_after_lost_ack;
      acked_at_kill.push_back(acked.load());
      if (!broker_->Kill()) {
        kill_error = "broker was not running before kill " + std::to_string(k);
        return;
      }
      std::string error;
      if (!broker_->Restart(&error)) {
        kill_error = "restart " + std::to_string(k) + " failed: " + error;
        return;
      }
      if (broker_->port() != port) {
        kill_error =
            "broker came back on port " + std::to_string(broker_->port()) + ", not " + std::to_string(port);
        return;
      }
    }
  });
  ASSERT_EQ(kill_error, "");
  producer.reset();
  FaultCounters faults = proxy_->Counters();
  std::printf("idempotent producer with %d SIGKILLs: acknowledged at kills:", kKills);
  for (int64_t a : acked_at_kill) std::printf(" %lld", static_cast<long long>(a));
  std::printf("; proxy: %s\nproducer errors: %s\n", faults.ToString().c_str(), ev.Summary().c_str());
  EXPECT_EQ(kills_after_lost_ack, kKills) << "some kills did not follow a lost acknowledgement";
  for (size_t k = 0; k < acked_at_kill.size(); ++k) {
    EXPECT_LT(acked_at_kill[k], kMessages) << "kill " << k + 1 << " came after the stream had ended";
  }
  EXPECT_GT(faults.lost_acks, 0) << "the proxy lost no acknowledgement; the test proved nothing";
  EXPECT_GT(faults.cuts, 0) << "the proxy cut no connection; the test proved nothing";

  std::vector<std::vector<std::string>> log;
  ASSERT_NO_FATAL_FAILURE(ReadLog(&log));
  CheckExactlyOnce(log, deliveries);
}

}  // namespace
}  // namespace oncemq::testing
