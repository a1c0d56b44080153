// Crash safety with real clients: a librdkafka producer (acks=all, idempotence off) keeps sending
// numbered messages while the broker is SIGKILLed and restarted on the same data dir several times,
// and a reader consumes all the while. Afterwards:
//   - every acknowledged message is in the log at the offset its delivery report gave;
//   - offsets are dense from 0 to the high watermark;
//   - per partition, acknowledged messages sit in send order;
//   - no offset ever returned two different messages (the reader's view across restarts agrees with
//     itself and with the final log).
// Duplicates are allowed here (a lost ack makes the producer re-send; idempotence is another issue);
// losses are not.
#include <gtest/gtest.h>

#include <unistd.h>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/broker_process.h"
#include "support/rdkafka_util.h"

namespace oncemq::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kPartitions = 2;
constexpr int kKills = 5;
constexpr int64_t kAcksBetweenKills = 3000;         // wait for this much progress before each kill...
constexpr auto kMaxWaitBetweenKills = seconds(20);  // ...but never longer than this
constexpr int64_t kMaxMessages = 2000000;           // hard bound on the producer loop
constexpr size_t kMaxOutstanding = 20000;           // producer pauses while this many are unacknowledged
const std::string kTopic = "crash";

std::string Payload(int64_t seq) {
  return "crash-" + std::to_string(seq) + "-payload-padding-0123456789abcdef";
}
int32_t PartitionOf(int64_t seq) {
  return static_cast<int32_t>(seq % kPartitions);
}

// Parses the sequence number back out of a payload; -1 if it is not one of ours.
int64_t SeqOf(const std::string& payload) {
  if (payload.rfind("crash-", 0) != 0) return -1;
  return std::strtoll(payload.c_str() + 6, nullptr, 10);
}

struct Delivery {
  bool reported = false;
  bool ok = false;
  int32_t partition = -1;
  int64_t offset = -1;
};

// Runs on the producer thread only (callbacks are served by that thread's poll/flush calls).
class DeliveryRecorder : public RdKafka::DeliveryReportCb {
 public:
  DeliveryRecorder(std::vector<Delivery>* out, std::atomic<int64_t>* acked) : out_(out), acked_(acked) {}
  void dr_cb(RdKafka::Message& m) override {
    auto seq = reinterpret_cast<intptr_t>(m.msg_opaque());
    Delivery& d = (*out_)[static_cast<size_t>(seq)];
    d.reported = true;
    d.ok = m.err() == RdKafka::ERR_NO_ERROR;
    d.partition = m.partition();
    d.offset = m.offset();
    if (d.ok) acked_->fetch_add(1);
  }

 private:
  std::vector<Delivery>* out_;
  std::atomic<int64_t>* acked_;
};

// What the continuous reader saw: per partition, offset -> payload, and every contradiction.
struct ReaderView {
  std::mutex mu;
  std::vector<std::map<int64_t, std::string>> seen{kPartitions};
  std::vector<std::string> contradictions;
  std::atomic<int64_t> records{0};
  int64_t errors = 0;
};

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<BrokerProcess>(
        std::vector<std::string>{"--partitions", std::to_string(kPartitions), "--flush", "always"});
    std::string error;
    ASSERT_TRUE(broker_->Start(&error)) << error;
  }
  void TearDown() override {
    if (HasFailure()) std::fprintf(stderr, "--- broker log tail ---\n%s\n", broker_->LogTail(8000).c_str());
  }

  std::map<std::string, std::string> ClientProps() const {
    return {{"bootstrap.servers", broker_->address()},
            {"reconnect.backoff.ms", "20"},
            {"reconnect.backoff.max.ms", "200"},
            {"socket.connection.setup.timeout.ms", "3000"},
            {"topic.metadata.refresh.interval.ms", "1000"},
            {"log.connection.close", "false"}};
  }

  std::unique_ptr<BrokerProcess> broker_;
};

void RunReader(RdKafka::KafkaConsumer* consumer, std::atomic<bool>* stop, ReaderView* view) {
  while (!stop->load()) {
    std::unique_ptr<RdKafka::Message> msg(consumer->consume(100));
    if (msg->err() == RdKafka::ERR__TIMED_OUT || msg->err() == RdKafka::ERR__PARTITION_EOF) continue;
    std::lock_guard<std::mutex> lock(view->mu);
    if (msg->err() != RdKafka::ERR_NO_ERROR) {
      ++view->errors;  // transport errors while the broker is down are expected
      continue;
    }
    int32_t p = msg->partition();
    if (p < 0 || p >= kPartitions) {
      view->contradictions.push_back("message from unexpected partition " + std::to_string(p));
      continue;
    }
    std::string payload(static_cast<const char*>(msg->payload()), msg->len());
    auto [it, inserted] = view->seen[static_cast<size_t>(p)].emplace(msg->offset(), payload);
    if (!inserted && it->second != payload) {
      view->contradictions.push_back("partition " + std::to_string(p) + " offset " +
                                     std::to_string(msg->offset()) + " returned '" + it->second +
                                     "' and later '" + payload + "'");
    }
    ++view->records;
  }
}

TEST_F(CrashTest, AcknowledgedMessagesSurviveRepeatedSigkill) {
  std::string error;
  std::vector<Delivery> deliveries;
  deliveries.reserve(static_cast<size_t>(kMaxMessages));  // the producer thread writes, no reallocation
  std::atomic<int64_t> acked{0};
  std::atomic<int64_t> sent{0};
  std::atomic<bool> stop_producer{false};
  DeliveryRecorder recorder(&deliveries, &acked);
  ReaderView view;

  auto pprops = ClientProps();
  pprops.insert({{"acks", "all"},
                 {"enable.idempotence", "false"},
                 // Without idempotence, more than one request in flight lets a retry overtake a later
                 // batch; one in flight keeps the client's own order so the test judges the broker.
                 {"max.in.flight.requests.per.connection", "1"},
                 {"linger.ms", "2"},
                 {"request.timeout.ms", "5000"},
                 {"message.timeout.ms", "15000"},
                 {"retry.backoff.ms", "50"}});
  auto pconf = MakeRdKafkaConf(pprops, &error);
  ASSERT_NE(pconf, nullptr) << error;
  ASSERT_EQ(pconf->set("dr_cb", &recorder, error), RdKafka::Conf::CONF_OK) << error;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(pconf.get(), error));
  ASSERT_NE(producer, nullptr) << error;

  ConsumerPtr reader;  // created once the topic exists; outlives the reader thread
  // Threads are stopped and joined on every way out of this test, including failed ASSERTs.
  std::atomic<bool> stop_reader{false};
  std::thread producer_thread, reader_thread;
  auto stop_threads = [&] {
    stop_producer.store(true);
    stop_reader.store(true);
    if (producer_thread.joinable()) producer_thread.join();
    if (reader_thread.joinable()) reader_thread.join();
  };
  struct Joiner {
    std::function<void()> f;
    ~Joiner() { f(); }
  } joiner{stop_threads};

  producer_thread = std::thread([&] {
    for (int64_t seq = 0; seq < kMaxMessages && !stop_producer.load(); ++seq) {
      std::string payload = Payload(seq);
      std::string key = std::to_string(seq);
      deliveries.emplace_back();
      for (;;) {
        while (producer->outq_len() > static_cast<int>(kMaxOutstanding) && !stop_producer.load())
          producer->poll(10);
        RdKafka::ErrorCode err = producer->produce(kTopic, PartitionOf(seq), RdKafka::Producer::RK_MSG_COPY,
                                                   payload.data(), payload.size(), key.data(), key.size(), 0,
                                                   reinterpret_cast<void*>(static_cast<intptr_t>(seq)));
        if (err == RdKafka::ERR_NO_ERROR) break;
        if (err != RdKafka::ERR__QUEUE_FULL || stop_producer.load()) {
          deliveries.pop_back();
          return;
        }
        producer->poll(10);
      }
      sent.store(seq + 1);
      producer->poll(0);
    }
  });

  // Waits until `target` messages are acknowledged or `limit` passes; returns whether reached.
  auto wait_acked = [&](int64_t target, Clock::duration limit) {
    auto deadline = Clock::now() + limit;
    while (acked.load() < target && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(5));
    return acked.load() >= target;
  };

  // Start reading once the producer has created the topic, so the reader runs across every restart.
  ASSERT_TRUE(wait_acked(1, seconds(30))) << "no message was acknowledged within 30 s of starting";
  auto rprops = ClientProps();
  rprops.insert({{"group.id", "crash-reader-" + std::to_string(::getpid())},
                 {"enable.auto.commit", "false"},
                 {"enable.auto.offset.store", "false"},
                 {"auto.offset.reset", "earliest"},
                 {"fetch.wait.max.ms", "100"}});
  auto rconf = MakeRdKafkaConf(rprops, &error);
  ASSERT_NE(rconf, nullptr) << error;
  reader.reset(RdKafka::KafkaConsumer::create(rconf.get(), error));
  ASSERT_NE(reader, nullptr) << error;
  ASSERT_EQ(AssignPartitions(*reader, kTopic, {{0, 0}, {1, 0}}), RdKafka::ERR_NO_ERROR);

  reader_thread = std::thread(RunReader, reader.get(), &stop_reader, &view);

  const uint16_t port = broker_->port();
  std::vector<int64_t> acked_at_kill;
  std::vector<int64_t> read_at_kill;
  for (int k = 0; k < kKills; ++k) {
    // Progress on both sides before each kill (bounded): the producer is acknowledged and the
    // reader has consumed something since the last restart.
    int64_t read_before = view.records.load();
    auto deadline = Clock::now() + kMaxWaitBetweenKills;
    wait_acked(acked.load() + kAcksBetweenKills, kMaxWaitBetweenKills);
    while (view.records.load() == read_before && Clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    acked_at_kill.push_back(acked.load());
    read_at_kill.push_back(view.records.load());
    ASSERT_TRUE(broker_->Kill()) << "broker was not running before kill " << k << "\n" << broker_->LogTail();
    bool restarted = broker_->Restart(&error);
    ASSERT_TRUE(restarted) << "restart " << k << " failed: " << error;
    ASSERT_EQ(broker_->port(), port) << "broker came back on another port; clients cannot follow";
  }
  // The broker must take writes again after the last recovery.
  int64_t before_final = acked.load();
  bool progressed = wait_acked(before_final + kAcksBetweenKills, seconds(60));
  stop_producer.store(true);
  producer_thread.join();
  auto flush_deadline = Clock::now() + seconds(30);
  while (producer->outq_len() > 0 && Clock::now() < flush_deadline) producer->flush(500);
  EXPECT_TRUE(progressed) << "after the last restart only " << acked.load() - before_final
                          << " messages were acknowledged in 60 s";
  EXPECT_EQ(producer->outq_len(), 0) << "producer still has undelivered messages after 30 s";

  // Stop the reader; the fresh consumer below reads everything.
  stop_reader.store(true);
  reader_thread.join();

  // --- read the whole log back with a fresh consumer ---
  std::vector<int64_t> low(kPartitions, -1), high(kPartitions, -1);
  auto fprops = ClientProps();
  fprops.insert({{"group.id", "crash-final-" + std::to_string(::getpid())},
                 {"enable.auto.commit", "false"},
                 {"enable.auto.offset.store", "false"},
                 {"auto.offset.reset", "error"}});
  auto fconf = MakeRdKafkaConf(fprops, &error);
  ASSERT_NE(fconf, nullptr) << error;
  ConsumerPtr final_reader(RdKafka::KafkaConsumer::create(fconf.get(), error));
  ASSERT_NE(final_reader, nullptr) << error;
  for (int32_t p = 0; p < kPartitions; ++p) {
    RdKafka::ErrorCode err = final_reader->query_watermark_offsets(kTopic, p, &low[p], &high[p], 10000);
    ASSERT_EQ(err, RdKafka::ERR_NO_ERROR) << "watermarks of partition " << p << ": " << RdKafka::err2str(err);
    ASSERT_EQ(low[p], 0) << "partition " << p << ": nothing may be deleted (no retention configured)";
  }
  ASSERT_EQ(AssignPartitions(*final_reader, kTopic, {{0, 0}, {1, 0}}), RdKafka::ERR_NO_ERROR);
  std::vector<std::vector<std::string>> log(kPartitions);
  auto read_deadline = Clock::now() + seconds(90);
  auto done = [&] {
    for (int32_t p = 0; p < kPartitions; ++p) {
      if (static_cast<int64_t>(log[p].size()) < high[p]) return false;
    }
    return true;
  };
  while (!done() && Clock::now() < read_deadline) {
    std::unique_ptr<RdKafka::Message> msg(final_reader->consume(500));
    if (msg->err() == RdKafka::ERR__TIMED_OUT || msg->err() == RdKafka::ERR__PARTITION_EOF) continue;
    ASSERT_EQ(msg->err(), RdKafka::ERR_NO_ERROR) << "final read: " << msg->errstr();
    int32_t p = msg->partition();
    ASSERT_TRUE(p >= 0 && p < kPartitions);
    ASSERT_EQ(msg->offset(), static_cast<int64_t>(log[p].size()))
        << "partition " << p << ": offsets must be dense (gap or repeat in the log)";
    log[p].emplace_back(static_cast<const char*>(msg->payload()), msg->len());
  }
  for (int32_t p = 0; p < kPartitions; ++p) {
    ASSERT_EQ(static_cast<int64_t>(log[p].size()), high[p])
        << "partition " << p << " not read to its end in 90 s";
  }

  // --- every acknowledged message at its reported offset, in send order per partition ---
  int64_t acked_total = 0, failed = 0, lost = 0, misplaced = 0, out_of_order = 0;
  std::vector<int64_t> last_offset(kPartitions, -1);
  for (size_t seq = 0; seq < deliveries.size(); ++seq) {
    const Delivery& d = deliveries[seq];
    if (!d.reported || !d.ok) {
      ++failed;
      continue;
    }
    ++acked_total;
    int32_t p = d.partition;
    ASSERT_EQ(p, PartitionOf(static_cast<int64_t>(seq)));
    if (d.offset < 0 || d.offset >= high[p]) {
      if (lost++ < 5) {
        ADD_FAILURE() << "acknowledged message " << seq << " at partition " << p << " offset " << d.offset
                      << " is beyond the high watermark " << high[p] << " (lost)";
      }
      continue;
    }
    const std::string& at = log[p][static_cast<size_t>(d.offset)];
    if (at != Payload(static_cast<int64_t>(seq))) {
      if (misplaced++ < 5) {
        ADD_FAILURE() << "acknowledged message " << seq << " reported at partition " << p << " offset "
                      << d.offset << " but that offset holds '" << at << "'";
      }
    }
    if (d.offset <= last_offset[p]) {
      if (out_of_order++ < 5) {
        ADD_FAILURE() << "partition " << p << ": message " << seq << " acknowledged at offset " << d.offset
                      << ", not after the previous acknowledged message's offset " << last_offset[p];
      }
    }
    last_offset[p] = d.offset;
  }
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(misplaced, 0);
  EXPECT_EQ(out_of_order, 0);
  EXPECT_GT(acked_total, kKills * kAcksBetweenKills / 2) << "too little was acknowledged to mean anything";

  // Everything in the log is one of ours.
  int64_t log_total = 0, duplicates = 0;
  std::vector<bool> in_log(deliveries.size(), false);
  for (int32_t p = 0; p < kPartitions; ++p) {
    for (size_t off = 0; off < log[p].size(); ++off) {
      int64_t seq = SeqOf(log[p][off]);
      ASSERT_TRUE(seq >= 0 && static_cast<size_t>(seq) < deliveries.size() && PartitionOf(seq) == p)
          << "partition " << p << " offset " << off << " holds a foreign payload '" << log[p][off] << "'";
      ASSERT_EQ(log[p][off], Payload(seq)) << "partition " << p << " offset " << off << " is damaged";
      if (in_log[static_cast<size_t>(seq)]) ++duplicates;
      in_log[static_cast<size_t>(seq)] = true;
      ++log_total;
    }
  }

  // --- the continuous reader never saw an offset change its message ---
  {
    std::lock_guard<std::mutex> lock(view.mu);
    for (const auto& c : view.contradictions) ADD_FAILURE() << "reader: " << c;
    int64_t disagreements = 0;
    for (int32_t p = 0; p < kPartitions; ++p) {
      for (const auto& [off, payload] : view.seen[p]) {
        bool agrees =
            off < static_cast<int64_t>(log[p].size()) && log[p][static_cast<size_t>(off)] == payload;
        if (!agrees && disagreements++ < 5) {
          ADD_FAILURE() << "reader saw partition " << p << " offset " << off << " = '" << payload
                        << "' during the run, but the final log "
                        << (off < static_cast<int64_t>(log[p].size())
                                ? "holds '" + log[p][static_cast<size_t>(off)] + "'"
                                : std::string("ends before it"));
        }
      }
    }
    EXPECT_EQ(disagreements, 0);
    EXPECT_GT(view.records.load(), 0) << "the continuous reader never received a record";
    std::printf(
        "crash test: sent %lld, acknowledged %lld, failed/unreported %lld, in log %lld (%lld duplicates), "
        "reader saw %lld records with %lld transient errors; acks at kills:",
        static_cast<long long>(sent.load()), static_cast<long long>(acked_total),
        static_cast<long long>(failed), static_cast<long long>(log_total), static_cast<long long>(duplicates),
        static_cast<long long>(view.records.load()), static_cast<long long>(view.errors));
    for (int64_t a : acked_at_kill) std::printf(" %lld", static_cast<long long>(a));
    std::printf("; reader records at kills:");
    for (int64_t r : read_at_kill) std::printf(" %lld", static_cast<long long>(r));
    std::printf("\n");
  }

  // No SIGTERM here: this test is about SIGKILL, and a clean exit with consumers attached is
  // shutdown_test's subject. The fixture's BrokerProcess SIGKILLs the broker.
}

}  // namespace
}  // namespace oncemq::testing
