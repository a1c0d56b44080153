#include "produce_bench.h"

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "kafka_settings.h"
#include "latency_histogram.h"

namespace oncemq::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kMetadataTimeoutMs = 10'000;
constexpr uint64_t kPollEveryMessages = 1024;  // serve delivery reports before they pile up

// The send time travels with the message as its opaque pointer, so measuring a message's latency
// needs no per-message bookkeeping on our side at all.
void* ToOpaque(Clock::time_point sent) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(sent.time_since_epoch().count()));
}
Clock::time_point FromOpaque(void* opaque) {
  return Clock::time_point(Clock::duration(static_cast<Clock::rep>(reinterpret_cast<uintptr_t>(opaque))));
}

double ToMillis(int64_t nanos) {
  return static_cast<double>(nanos) / 1e6;
}

// Counts delivery reports and records each acknowledged message's latency. librdkafka calls it from
// Producer::poll() and flush() on the sending thread, so no locking is needed.
class DeliveryTracker : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    Clock::time_point now = Clock::now();
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      CountFailure(message.errstr());
      return;
    }
    latencies_.Record(std::chrono::nanoseconds(now - FromOpaque(message.msg_opaque())).count());
    ++acked_;
    last_ack_ = now;
  }

  void CountFailure(const std::string& error) {
    if (failed_++ == 0) first_error_ = error;
  }

  uint64_t acked() const { return acked_; }
  uint64_t failed() const { return failed_; }
  const std::string& first_error() const { return first_error_; }
  Clock::time_point last_ack() const { return last_ack_; }
  const LatencyHistogram& latencies() const { return latencies_; }

 private:
  LatencyHistogram latencies_;
  uint64_t acked_ = 0;
  uint64_t failed_ = 0;
  std::string first_error_;
  Clock::time_point last_ack_;
};

KafkaSettings ProducerSettings(const ProduceOptions& options) {
  KafkaSettings settings = {
      {"bootstrap.servers", options.bootstrap},
      {"client.id", "oncemq-bench-produce"},
      {"acks", options.acks},
      {"enable.idempotence", options.idempotence ? "true" : "false"},
      {"linger.ms", std::to_string(options.linger_ms)},
      {"batch.size", std::to_string(options.batch_bytes)},
      // Room for a full second of the fastest expected rate, so the send loop rarely meets
      // QUEUE_FULL; the message count, not the byte bound, is the limit that matters here.
      {"queue.buffering.max.messages", "1000000"},
      {"queue.buffering.max.kbytes", "2097151"},
      {"batch.num.messages", "100000"},
      {"compression.type", "none"},
      // Small produce requests at low rates must not wait for Nagle's algorithm.
      {"socket.nagle.disable", "true"},
  };
  return settings;
}

// The producer, its topic handle and the tracker its configuration points at, in the order they
// must be destroyed (topic and producer before the tracker they call back into).
struct ProducerSession {
  std::unique_ptr<DeliveryTracker> tracker = std::make_unique<DeliveryTracker>();
  std::unique_ptr<RdKafka::Producer> producer;
  std::unique_ptr<RdKafka::Topic> topic;
  bool msg_ids = false;
  std::string msg_id_prefix;  // unique per run, so a window never sees one run's ids in another
  uint64_t next_msg_id = 0;

  ~ProducerSession() {
    topic.reset();
    producer.reset();
  }
};

Status CheckTopicIsServed(RdKafka::Producer& producer, RdKafka::Topic& topic, const std::string& bootstrap) {
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode err = producer.metadata(false, &topic, &raw, kMetadataTimeoutMs);
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (err != RdKafka::ERR_NO_ERROR) {
    return Status::Unavailable("no metadata for topic '" + topic.name() + "' from " + bootstrap + ": " +
                               RdKafka::err2str(err));
  }
  for (const RdKafka::TopicMetadata* entry : *metadata->topics()) {
    if (entry->topic() == topic.name() && entry->err() != RdKafka::ERR_NO_ERROR) {
      return Status::NotFound("topic '" + topic.name() + "': " + RdKafka::err2str(entry->err()));
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<ProducerSession>> OpenProducer(const ProduceOptions& options) {
  auto session = std::make_unique<ProducerSession>();
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  if (Status status = ApplySettings(*conf, ProducerSettings(options)); !status.ok()) return status;
  std::string error;
  if (conf->set("dr_cb", session->tracker.get(), error) != RdKafka::Conf::CONF_OK) {
    return Status::InvalidArgument("dr_cb: " + error);
  }
  session->producer.reset(RdKafka::Producer::create(conf.get(), error));
  if (session->producer == nullptr) return Status::InvalidArgument("cannot create producer: " + error);
  session->topic.reset(RdKafka::Topic::create(session->producer.get(), options.topic, nullptr, error));
  if (session->topic == nullptr) return Status::InvalidArgument("cannot open topic: " + error);
  if (Status status = CheckTopicIsServed(*session->producer, *session->topic, options.bootstrap);
      !status.ok())
    return status;
  session->msg_ids = options.msg_ids;
  session->msg_id_prefix =
      "bench-" + std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) + "-";
  return session;
}

// Decides when the next message may go and when sending must stop.
class SendSchedule {
 public:
  SendSchedule(const ProduceOptions& options, Clock::time_point start)
      : start_(start),
        count_limit_(options.count),
        deadline_(options.duration_s > 0 ? start + std::chrono::duration_cast<Clock::duration>(
                                                       std::chrono::duration<double>(options.duration_s))
                                         : Clock::time_point::max()),
        interval_(options.rate > 0
                      ? std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(1.0 / static_cast<double>(options.rate)))
                      : Clock::duration::zero()) {}

  bool Done(uint64_t sent, Clock::time_point now) const {
    return (count_limit_ > 0 && sent >= count_limit_) || now >= deadline_;
  }
  bool paced() const { return interval_ > Clock::duration::zero(); }
  // When message number `index` is due. Latency is counted from here, not from the moment it was
  // actually handed over, so that time spent behind schedule is not hidden (coordinated omission).
  Clock::time_point DueTime(uint64_t index) const { return start_ + interval_ * static_cast<int64_t>(index); }
  Clock::time_point deadline() const { return deadline_; }

 private:
  Clock::time_point start_;
  uint64_t count_limit_;
  Clock::time_point deadline_;
  Clock::duration interval_;
};

// Hands one message to librdkafka, polling for delivery reports while its queue is full.
// Returns false when librdkafka refused the message for another reason.
// As SendOne, with a unique oncemq-msg-id header (a per-message allocation the SDK pays too).
bool SendWithMsgId(ProducerSession& session, std::vector<char>& payload, Clock::time_point sent_at) {
  std::string id = session.msg_id_prefix + std::to_string(session.next_msg_id++);
  while (true) {
    RdKafka::Headers* headers = RdKafka::Headers::create();
    headers->add("oncemq-msg-id", id);
    RdKafka::ErrorCode err = session.producer->produce(
        session.topic->name(), RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, payload.data(),
        payload.size(), nullptr, 0, 0, headers, ToOpaque(sent_at));
    if (err == RdKafka::ERR_NO_ERROR) return true;  // librdkafka owns the headers now
    delete headers;
    if (err != RdKafka::ERR__QUEUE_FULL) {
      session.tracker->CountFailure(RdKafka::err2str(err));
      return false;
    }
    session.producer->poll(1);
  }
}

bool SendOne(ProducerSession& session, std::vector<char>& payload, Clock::time_point sent_at) {
  if (session.msg_ids) return SendWithMsgId(session, payload, sent_at);
  while (true) {
    // RK_MSG_COPY: `payload` dies when SendAll returns, before the final flush has sent every batch;
    // without the copy librdkafka would send (and CRC) freed memory.
    RdKafka::ErrorCode err = session.producer->produce(session.topic.get(), RdKafka::Topic::PARTITION_UA,
                                                       RdKafka::Producer::RK_MSG_COPY, payload.data(),
                                                       payload.size(), nullptr, 0, ToOpaque(sent_at));
    if (err == RdKafka::ERR_NO_ERROR) return true;
    if (err != RdKafka::ERR__QUEUE_FULL) {
      session.tracker->CountFailure(RdKafka::err2str(err));
      return false;
    }
    session.producer->poll(1);
  }
}

uint64_t SendAll(const ProduceOptions& options, ProducerSession& session, Clock::time_point start) {
  std::vector<char> payload(options.message_bytes, 'x');
  SendSchedule schedule(options, start);
  uint64_t sent = 0;
  for (Clock::time_point now = start; !schedule.Done(sent, now); now = Clock::now()) {
    Clock::time_point sent_at = now;
    if (schedule.paced()) {
      sent_at = schedule.DueTime(sent);
      if (sent_at > now) {
        session.producer->poll(0);
        std::this_thread::sleep_until(std::min(sent_at, schedule.deadline()));
        continue;
      }
    }
    if (!SendOne(session, payload, sent_at)) break;
    if (++sent % kPollEveryMessages == 0) session.producer->poll(0);
  }
  return sent;
}

ProduceReport Summarize(const ProduceOptions& options, const DeliveryTracker& tracker, uint64_t sent,
                        Clock::time_point start) {
  ProduceReport report;
  report.sent = sent;
  report.acked = tracker.acked();
  report.failed = tracker.failed();
  report.first_error = tracker.first_error();
  report.undelivered = sent - std::min(sent, report.acked + report.failed);
  report.elapsed_s = report.acked > 0 ? std::chrono::duration<double>(tracker.last_ack() - start).count() : 0;
  if (report.elapsed_s > 0) {
    report.msgs_per_s = static_cast<double>(report.acked) / report.elapsed_s;
    report.mb_per_s = report.msgs_per_s * static_cast<double>(options.message_bytes) / 1e6;
  }
  const LatencyHistogram& latencies = tracker.latencies();
  report.p50_ms = ToMillis(latencies.PercentileNanos(0.50));
  report.p99_ms = ToMillis(latencies.PercentileNanos(0.99));
  report.p999_ms = ToMillis(latencies.PercentileNanos(0.999));
  report.max_ms = ToMillis(latencies.max_nanos());
  return report;
}

}  // namespace

Result<ProduceReport> RunProduceBench(const ProduceOptions& options) {
  if (options.count == 0 && options.duration_s <= 0) {
    return Status::InvalidArgument("give --count or --duration, or both");
  }
  auto session = OpenProducer(options);
  if (!session.ok()) return session.status();
  Clock::time_point start = Clock::now();
  uint64_t sent = SendAll(options, **session, start);
  RdKafka::Producer& producer = *(*session)->producer;
  producer.flush(options.flush_timeout_ms);
  ProduceReport report = Summarize(options, *(*session)->tracker, sent, start);
  // A fatal error (e.g. the broker lacks idempotence support) reaches delivery reports only as
  // "Local: Fatal error"; the producer alone knows the reason.
  if (std::string reason; producer.fatal_error(reason) != RdKafka::ERR_NO_ERROR) report.first_error = reason;
  return report;
}

}  // namespace oncemq::bench
