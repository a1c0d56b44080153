#include "e2e_bench.h"

#include <fmt/core.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "kafka_settings.h"
#include "latency_histogram.h"

namespace oncemq::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct E2eOptions {
  std::string bootstrap = "127.0.0.1:9092";
  std::string topic = "oncemq-e2e";
  size_t message_bytes = 100;
  uint64_t rate = 10'000;
  double duration_s = 10;
  int linger_ms = 1;
  int join_timeout_s = 60;
  int drain_timeout_s = 30;
};

// The payload carries its send time (steady clock ns) and its sequence number.
constexpr size_t kStampBytes = 16;

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

template <typename Handle>
std::unique_ptr<Handle> Create(const KafkaSettings& settings, std::string& error) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  if (Status s = ApplySettings(*conf, settings); !s.ok()) {
    error = s.message();
    return nullptr;
  }
  return std::unique_ptr<Handle>(Handle::create(conf.get(), error));
}

// Sends `rate` messages per second on a fixed schedule until `stop_at`; returns how many were accepted.
uint64_t SendLoop(RdKafka::Producer& producer, const E2eOptions& o, Clock::time_point stop_at,
                  std::atomic<uint64_t>& failed) {
  std::vector<char> payload(std::max(o.message_bytes, kStampBytes), 'x');
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(1.0 / static_cast<double>(o.rate)));
  const Clock::time_point start = Clock::now();
  uint64_t sent = 0;
  for (Clock::time_point next = start; next < stop_at; next = start + interval * static_cast<int64_t>(sent)) {
    if (Clock::now() < next) {
      producer.poll(0);
      std::this_thread::sleep_until(next);
    }
    int64_t stamp = NowNanos();
    std::memcpy(payload.data(), &stamp, sizeof stamp);
    std::memcpy(payload.data() + 8, &sent, sizeof sent);
    RdKafka::ErrorCode err =
        producer.produce(o.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                         payload.data(), payload.size(), nullptr, 0, 0, nullptr);
    if (err == RdKafka::ERR__QUEUE_FULL) {
      producer.poll(10);
      continue;  // retried at once; the schedule catches up
    }
    if (err != RdKafka::ERR_NO_ERROR) failed.fetch_add(1);
    ++sent;
  }
  producer.flush(30'000);
  return sent;
}

bool WaitForAssignment(RdKafka::KafkaConsumer& consumer, int timeout_s) {
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while (Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer.consume(100));
    std::vector<RdKafka::TopicPartition*> assignment;
    consumer.assignment(assignment);
    const bool assigned = !assignment.empty();
    RdKafka::TopicPartition::destroy(assignment);
    if (assigned) return true;
  }
  return false;
}

bool WarmUp(RdKafka::Producer& producer, RdKafka::KafkaConsumer& consumer, const E2eOptions& o) {
  char one = 'w';
  if (producer.produce(o.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, &one, 1,
                       nullptr, 0, 0, nullptr) != RdKafka::ERR_NO_ERROR ||
      producer.flush(o.join_timeout_s * 1000) != RdKafka::ERR_NO_ERROR) {
    return false;
  }
  const auto deadline = Clock::now() + std::chrono::seconds(o.join_timeout_s);
  while (Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer.consume(100));
    if (m->err() == RdKafka::ERR_NO_ERROR && m->len() == 1) return true;
  }
  return false;
}

int Run(const E2eOptions& o) {
  std::string error;
  const std::string group = fmt::format("oncemq-e2e-{}", NowNanos());
  auto consumer = Create<RdKafka::KafkaConsumer>({{"bootstrap.servers", o.bootstrap},
                                                  {"group.id", group},
                                                  {"auto.offset.reset", "latest"},
                                                  {"enable.auto.commit", "true"},
                                                  {"fetch.wait.max.ms", "100"}},
                                                 error);
  if (!consumer) {
    fmt::print(stderr, "oncemq bench e2e: consumer: {}\n", error);
    return 1;
  }
  auto producer = Create<RdKafka::Producer>({{"bootstrap.servers", o.bootstrap},
                                             {"enable.idempotence", "true"},
                                             {"acks", "all"},
                                             {"linger.ms", std::to_string(o.linger_ms)}},
                                            error);
  if (!producer) {
    fmt::print(stderr, "oncemq bench e2e: producer: {}\n", error);
    return 1;
  }
  if (consumer->subscribe({o.topic}) != RdKafka::ERR_NO_ERROR ||
      !WaitForAssignment(*consumer, o.join_timeout_s)) {
    fmt::print(stderr, "oncemq bench e2e: the consumer got no assignment for {} within {} s\n", o.topic,
               o.join_timeout_s);
    return 1;
  }
  // One short message first, so that neither the producer's id request nor the consumer's first offset
  // lookup and fetch are counted in the latency of the measured messages.
  if (!WarmUp(*producer, *consumer, o)) {
    fmt::print(stderr, "oncemq bench e2e: the warm-up message did not come back within {} s\n",
               o.join_timeout_s);
    return 1;
  }
  const Clock::time_point joined = Clock::now();

  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> sent{0};
  std::atomic<bool> sending{true};
  const Clock::time_point stop_at =
      joined + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration_s));
  std::thread sender([&] {
    sent = SendLoop(*producer, o, stop_at, failed);
    sending = false;
  });

  LatencyHistogram latency;
  std::vector<bool> seen;
  uint64_t received = 0, duplicates = 0;
  Clock::time_point drain_deadline = Clock::time_point::max();
  while (Clock::now() < drain_deadline) {
    if (!sending && drain_deadline == Clock::time_point::max()) {
      drain_deadline = Clock::now() + std::chrono::seconds(o.drain_timeout_s);
    }
    if (!sending && received >= sent) break;
    std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
    if (m->err() != RdKafka::ERR_NO_ERROR || m->len() < kStampBytes) continue;
    int64_t stamp;
    uint64_t seq;
    std::memcpy(&stamp, m->payload(), sizeof stamp);
    std::memcpy(&seq, static_cast<const char*>(m->payload()) + 8, sizeof seq);
    latency.Record(NowNanos() - stamp);
    if (seq >= seen.size()) seen.resize(seq + 1);
    if (seen[seq]) {
      ++duplicates;
      continue;
    }
    seen[seq] = true;
    ++received;
  }
  sender.join();
  consumer->close();

  auto ms = [&](double f) { return static_cast<double>(latency.PercentileNanos(f)) / 1e6; };
  fmt::print("e2e: {} of {} messages of {} B at {}/s through group {} ({} failed sends, {} duplicates)\n",
             received, sent.load(), o.message_bytes, o.rate, group, failed.load(), duplicates);
  fmt::print("  produce → consume latency: p50 {:.3f} ms, p99 {:.3f} ms, p99.9 {:.3f} ms, max {:.3f} ms\n",
             ms(0.5), ms(0.99), ms(0.999), static_cast<double>(latency.max_nanos()) / 1e6);
  fmt::print(
      "RESULT e2e size={} rate={} sent={} received={} duplicates={} p50_ms={:.3f} p99_ms={:.3f} "
      "p999_ms={:.3f} max_ms={:.3f}\n",
      o.message_bytes, o.rate, sent.load(), received, duplicates, ms(0.5), ms(0.99), ms(0.999),
      static_cast<double>(latency.max_nanos()) / 1e6);
  return received == sent && duplicates == 0 && failed == 0 ? 0 : 1;
}

}  // namespace

void AddE2eBench(CLI::App& bench) {
  auto o = std::make_shared<E2eOptions>();
  auto* cmd = bench.add_subcommand("e2e", "Measure produce-to-consume latency through a consumer group");
  cmd->add_option("--bootstrap", o->bootstrap, "Broker address HOST:PORT")->capture_default_str();
  cmd->add_option("--topic", o->topic, "Topic to use (it should exist)")->capture_default_str();
  cmd->add_option("--size", o->message_bytes, "Payload bytes per message (at least 16 are sent)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{10'000'000}));
  cmd->add_option("--rate", o->rate, "Messages per second on a fixed schedule")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}));
  cmd->add_option("--duration", o->duration_s, "Seconds of sending")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--linger-ms", o->linger_ms, "librdkafka linger.ms of the producer")->capture_default_str();
  cmd->callback([o] {
    if (int rc = Run(*o); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace oncemq::bench
