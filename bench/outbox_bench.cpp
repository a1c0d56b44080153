#include "outbox_bench.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "oncemq/outbox.h"

namespace oncemq::bench {
namespace {

struct OutboxBenchOptions {
  std::string bootstrap = "127.0.0.1:9092";
  std::vector<std::string> databases;
  uint64_t count = 100'000;
  size_t message_bytes = 100;
  size_t per_transaction = 1;
  size_t relay_batch = 500;
  double bound_s = 120;
};

struct RunResult {
  std::string mode;
  std::string database;
  uint64_t messages = 0;
  double seconds = 0;
  double enqueue_seconds = 0;
  std::string error;
  double rate() const { return seconds > 0 ? messages / seconds : 0; }
  double enqueue_rate() const { return enqueue_seconds > 0 ? messages / enqueue_seconds : 0; }
};

RunResult Started(std::string mode, std::string database) {
  RunResult r;
  r.mode = std::move(mode);
  r.database = std::move(database);
  return r;
}

RunResult Failed(std::string mode, std::string database, std::string error) {
  RunResult r = Started(std::move(mode), std::move(database));
  r.error = std::move(error);
  return r;
}

double Since(int64_t start_ms) {
  return (SteadyMs() - start_ms) / 1000.0;
}

std::string Topic(std::string_view mode, size_t run) {
  return fmt::format("bench-outbox-{}-{}-{}", mode, getpid(), run);
}

OutgoingMessage Message(const std::string& topic, uint64_t n, const std::string& payload) {
  return OutgoingMessage{topic, std::to_string(n), payload, {}, ""};
}

RunResult RunPlain(const OutboxBenchOptions& o) {
  RunResult r = Started("plain", "-");
  ReliableProducerOptions options;
  options.bootstrap_servers = o.bootstrap;
  auto producer = ReliableProducer::Create(options);
  if (!producer.ok()) return Failed("plain", "-", producer.status().message());
  const std::string topic = Topic("plain", 0);
  const std::string payload(o.message_bytes, 'x');
  uint64_t acked = 0;
  uint64_t failed = 0;
  const int64_t start = SteadyMs();
  for (uint64_t n = 0; n < o.count; ++n) {
    (*producer)->Send(Message(topic, n, payload),
                      [&](const Confirmation& c) { (c.status.ok() ? acked : failed)++; });
    if (n % 1000 == 0) (*producer)->Poll(std::chrono::milliseconds(0));
  }
  Status flushed = (*producer)->Flush(std::chrono::milliseconds(static_cast<int64_t>(o.bound_s * 1000)));
  r.seconds = Since(start);
  r.messages = acked;
  if (!flushed.ok() || failed > 0)
    r.error = fmt::format("{} acked, {} failed: {}", acked, failed, flushed.message());
  return r;
}

// Empties the outbox table of a server database, so that counts start at zero. A Redis outbox has no
// table to empty: it must hold nothing SENDING, which this run's relay would send and count; what an
// earlier run left SENT or FAILED is never sent again, so it does not change the figures.
Status Empty(Outbox& outbox) {
  if (outbox.database() == nullptr) {
    Result<OutboxCounts> counts = outbox.Counts();
    if (!counts.ok()) return counts.status();
    if (counts->sending == 0) return Status::Ok();
    return Status::InvalidArgument(fmt::format(
        "the Redis outbox holds {} SENDING messages; give it a database of its own (redis://HOST:PORT/DB)",
        counts->sending));
  }
  return outbox.Transact([](SqlTransaction& tx) { return tx.Execute("DELETE FROM oncemq_outbox").status(); });
}

// Stores one writer transaction's messages: with the caller's transaction where the outbox has a SQL
// database (as a service would, beside its business change), else in one Send of their own (Redis).
Status Store(Outbox& outbox, std::vector<OutgoingMessage> messages) {
  if (outbox.database() == nullptr) return outbox.Send(std::move(messages)).status();
  return outbox.Transact(
      [&](SqlTransaction& tx) -> Status { return outbox.Send(tx, std::move(messages)).status(); });
}

std::string SqlitePathFor(const std::string& uri, size_t run) {
  std::string_view path = uri;
  path.remove_prefix(path.starts_with("sqlite://") ? 9 : 7);
  return fmt::format("{}.run{}", path, run);
}

void RemoveSqlite(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) unlink((path + suffix).c_str());
}

RunResult RunOutbox(const OutboxBenchOptions& o, const std::string& database, size_t run) {
  RunResult r = Started("outbox", database);
  const bool sqlite = database.starts_with("sqlite:");
  const std::string path = sqlite ? SqlitePathFor(database, run) : "";
  if (sqlite) RemoveSqlite(path);
  auto outbox = Outbox::Open(sqlite ? "sqlite://" + path : database);
  if (!outbox.ok()) return Failed("outbox", database, outbox.status().message());
  if (!sqlite) {
    if (Status s = Empty(**outbox); !s.ok()) return Failed("outbox", database, s.message());
  }
  OutboxRelayOptions options;
  options.producer.bootstrap_servers = o.bootstrap;
  options.batch = o.relay_batch;
  options.idle_wait = std::chrono::milliseconds(1);
  auto relay = OutboxRelay::Create(*outbox, options);
  if (!relay.ok()) return Failed("outbox", database, relay.status().message());

  const std::string topic = Topic("outbox", run);
  const std::string payload(o.message_bytes, 'x');
  std::atomic<bool> writing_failed{false};
  std::string write_error;
  const int64_t start = SteadyMs();
  std::thread relay_thread([&] { (void)(*relay)->Run(); });
  for (uint64_t first = 0; first < o.count && !writing_failed; first += o.per_transaction) {
    const uint64_t end = std::min<uint64_t>(o.count, first + o.per_transaction);
    std::vector<OutgoingMessage> messages;
    for (uint64_t n = first; n < end; ++n) messages.push_back(Message(topic, n, payload));
    Status s = Store(**outbox, std::move(messages));
    if (!s.ok()) {
      write_error = s.message();
      writing_failed = true;
    }
  }
  r.enqueue_seconds = Since(start);
  const int64_t deadline = start + static_cast<int64_t>(o.bound_s * 1000);
  while (!writing_failed && (*relay)->stats().sent < o.count && SteadyMs() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  r.seconds = Since(start);
  r.messages = (*relay)->stats().sent;
  (*relay)->Stop();
  relay_thread.join();
  if (writing_failed) r.error = "enqueue: " + write_error;
  if (r.error.empty() && r.messages < o.count) {
    r.error = fmt::format("only {} of {} SENT within {} s", r.messages, o.count, o.bound_s);
  }
  if (sqlite) RemoveSqlite(path);
  return r;
}

void Print(const std::vector<RunResult>& runs) {
  const double plain = runs.front().rate();
  fmt::print("{:<8} {:<48} {:>10} {:>10} {:>12} {:>14} {:>9}\n", "mode", "database", "messages", "seconds",
             "msgs/s", "enqueue msg/s", "overhead");
  for (const RunResult& r : runs) {
    const std::string overhead =
        r.mode == "plain" || r.rate() == 0 ? "-" : fmt::format("{:.2f}x", plain / r.rate());
    fmt::print("{:<8} {:<48} {:>10} {:>10.2f} {:>12.0f} {:>14.0f} {:>9}{}\n", r.mode,
               r.database.substr(0, 48), r.messages, r.seconds, r.rate(), r.enqueue_rate(), overhead,
               r.error.empty() ? "" : "  ERROR: " + r.error);
  }
  for (const RunResult& r : runs) {
    fmt::print(
        "RESULT outbox mode={} database={} messages={} seconds={:.3f} msgs_per_s={:.0f} "
        "enqueue_msgs_per_s={:.0f}\n",
        r.mode, r.database, r.messages, r.seconds, r.rate(), r.enqueue_rate());
  }
}

int Run(const OutboxBenchOptions& o) {
  std::vector<RunResult> runs;
  runs.push_back(RunPlain(o));
  for (size_t i = 0; i < o.databases.size(); ++i) runs.push_back(RunOutbox(o, o.databases[i], i + 1));
  Print(runs);
  for (const RunResult& r : runs) {
    if (!r.error.empty()) return 1;
  }
  return 0;
}

}  // namespace

void AddOutboxBench(CLI::App& bench) {
  auto o = std::make_shared<OutboxBenchOptions>();
  auto* cmd = bench.add_subcommand("outbox",
                                   "Outbox throughput, enqueue to SENT, against a plain idempotent producer");
  cmd->add_option("--bootstrap", o->bootstrap, "Broker address HOST:PORT")->capture_default_str();
  cmd->add_option("--outboxes", o->databases,
                  "Outbox databases, comma-separated (sqlite:///PATH gets a new file per run; a server "
                  "database's oncemq_outbox table is emptied; a redis://HOST:PORT/DB outbox must hold "
                  "nothing SENDING)")
      ->required()
      ->delimiter(',');
  cmd->add_option("--count", o->count, "Messages per run")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}));
  cmd->add_option("--size", o->message_bytes, "Payload bytes per message")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1'000'000}));
  cmd->add_option("--per-transaction", o->per_transaction, "Messages the writer stores per transaction")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{100'000}));
  cmd->add_option("--relay-batch", o->relay_batch, "Messages the relay claims per round")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{100'000}));
  cmd->add_option("--duration-bound", o->bound_s, "Seconds after which a run stops, sent or not")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->callback([o] {
    if (int rc = Run(*o); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace oncemq::bench
