#include "dedup_bench.h"

#include <fmt/core.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafkacpp.h>
#include <mysql.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "client/consumer/rdkafka_config.h"
#include "client/stores/mysql_connection.h"
#include "client/stores/open_dedup_store.h"
#include "oncemq/idempotent_consumer.h"

namespace oncemq::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kPollBatch = 500;  // the plain and seeds loops, and the oncemq batch mode
constexpr int kPollMs = 100;
constexpr int kFlushTimeoutMs = 120'000;
constexpr int kQueueFullRetries = 6'000;  // × 10 ms
constexpr auto kTopicTimeout = std::chrono::seconds(30);
constexpr int kSeedsLeaseMs = 30'000;
constexpr int64_t kSeedsRetentionMs = 7LL * 24 * 3600 * 1000;
constexpr std::string_view kSeedsTable = "oncemq_bench_seeds";

struct DedupBenchOptions {
  std::string bootstrap = "127.0.0.1:9092";
  uint64_t count = 200'000;
  size_t message_bytes = 100;
  std::vector<std::string> stores;
  std::vector<std::string> modes = {"seeds", "per-message", "batch"};  // plain always runs: it is the base
  int partitions = 1;
  double bound_s = 60;
};

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// Counts handled messages and times the first to the last. One thread.
class HandledCounter {
 public:
  explicit HandledCounter(uint64_t target) : target_(target) {}
  void Hit() {
    const Clock::time_point now = Clock::now();
    if (count_++ == 0) first_ = now;
    last_ = now;
  }
  bool Done() const { return count_ >= target_; }
  uint64_t count() const { return count_; }
  double elapsed_s() const { return std::chrono::duration<double>(last_ - first_).count(); }

 private:
  const uint64_t target_;
  uint64_t count_ = 0;
  Clock::time_point first_;
  Clock::time_point last_;
};

// Calls `stop` once `bound` has passed, unless disarmed first (by the destructor at the latest).
class Watchdog {
 public:
  Watchdog(std::function<void()> stop, Clock::duration bound)
      : thread_([this, stop = std::move(stop), deadline = Clock::now() + bound] {
          std::unique_lock lock(mu_);
          if (!disarmed_changed_.wait_until(lock, deadline, [this] { return disarmed_; })) stop();
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      disarmed_ = true;
    }
    disarmed_changed_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable disarmed_changed_;
  bool disarmed_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;     // last: it uses the members above
};

struct RunResult {
  std::string mode;
  std::string store;  // "" for plain
  uint64_t handled = 0;
  double elapsed_s = 0;  // first handled message to the last
  std::string error;     // the run failed
  std::string note;      // anything unexpected that did not fail it (duplicates, store retries)

  double msgs_per_s() const {
    return handled > 1 && elapsed_s > 0 ? static_cast<double>(handled) / elapsed_s : 0;
  }
  double us_per_msg() const { return msgs_per_s() > 0 ? 1e6 / msgs_per_s() : 0; }
};

void Finish(RunResult& result, const HandledCounter& counter) {
  result.handled = counter.count();
  result.elapsed_s = counter.elapsed_s();
}

// ---- Producing the topic.

class DeliveryCounter : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      ++acked;
    } else if (failed++ == 0) {
      first_error = message.errstr();
    }
  }
  uint64_t acked = 0;
  uint64_t failed = 0;
  std::string first_error;
};

Status ProduceOne(RdKafka::Producer& producer, const std::string& topic, std::string& payload,
                  const std::string& msg_id) {
  for (int tries = 0; tries < kQueueFullRetries; ++tries) {
    RdKafka::Headers* headers = RdKafka::Headers::create();
    headers->add(std::string(headers::kMsgId), msg_id.data(), msg_id.size());
    RdKafka::ErrorCode err =
        producer.produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, payload.data(),
                         payload.size(), nullptr, 0, 0, headers, nullptr);
    if (err == RdKafka::ERR_NO_ERROR) return Status::Ok();  // the producer owns the headers now
    delete headers;
    if (err != RdKafka::ERR__QUEUE_FULL) return Status::Unavailable("produce: " + RdKafka::err2str(err));
    producer.poll(10);
  }
  return Status::Unavailable("produce: the local queue stayed full for a minute");
}

Result<std::unique_ptr<RdKafka::Producer>> OpenProducer(const DedupBenchOptions& o,
                                                        DeliveryCounter& reports) {
  auto conf = client::MakeRdKafkaConf({{"bootstrap.servers", o.bootstrap},
                                       {"client.id", "oncemq-bench-dedup"},
                                       {"acks", "all"},
                                       {"linger.ms", "5"},
                                       {"batch.size", "1000000"},
                                       {"queue.buffering.max.messages", "1000000"}});
  if (!conf.ok()) return conf.status();
  std::string error;
  if ((*conf)->set("dr_cb", &reports, error) != RdKafka::Conf::CONF_OK) return Status::InvalidArgument(error);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf->get(), error));
  if (producer == nullptr) return Status::InvalidArgument("cannot create producer: " + error);
  return producer;
}

// Creates `topic` and fills it with o.count messages, every one acknowledged (acks=all).
Status ProduceTopic(const DedupBenchOptions& o, const std::string& topic) {
  DeliveryCounter reports;
  auto producer = OpenProducer(o, reports);
  if (!producer.ok()) return producer.status();
  if (Status created =
          client::CreateMissingTopics((*producer)->c_ptr(), {topic}, o.partitions, kTopicTimeout);
      !created.ok()) {
    return created;
  }
  std::string payload(o.message_bytes, 'x');
  for (uint64_t i = 0; i < o.count; ++i) {
    if (Status sent = ProduceOne(**producer, topic, payload, fmt::format("{}-{}", topic, i)); !sent.ok()) {
      return sent;
    }
    (*producer)->poll(0);
  }
  (*producer)->flush(kFlushTimeoutMs);
  if (reports.acked != o.count) {
    return Status::Unavailable(fmt::format("{} of {} messages acknowledged ({} failed{})", reports.acked,
                                           o.count, reports.failed,
                                           reports.first_error.empty() ? "" : ": " + reports.first_error));
  }
  return Status::Ok();
}

// ---- The seeds' per-message scheme: two round trips per message, written directly on each client library.

class SeedsClient {
 public:
  virtual ~SeedsClient() = default;
  // Before the handler: true if the key is now ours, false if it was seen before (skip it).
  virtual Result<bool> Claim(std::string_view key) = 0;
  // After the handler.
  virtual Status MarkDone(std::string_view key) = 0;
};

struct RedisReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;

// SET k NX PX lease, then SET k done PX retention.
class RedisSeeds final : public SeedsClient {
 public:
  static Result<std::unique_ptr<SeedsClient>> Open(std::string_view uri, const std::string& group) {
    std::string_view rest = uri.substr(std::string_view("redis://").size());
    const std::string_view authority = rest.substr(0, rest.find('/'));
    const size_t colon = authority.rfind(':');
    const std::string host(authority.substr(0, colon));
    const int port =
        colon == std::string_view::npos ? 6379 : std::atoi(std::string(authority.substr(colon + 1)).c_str());
    redisContext* context = redisConnectWithTimeout(host.c_str(), port, timeval{2, 0});
    auto client = std::unique_ptr<RedisSeeds>(new RedisSeeds(context, "oncemq:bench:seeds:" + group + ":"));
    if (context == nullptr || context->err != 0) {
      return Status::Unavailable("redis " + std::string(uri) + ": " +
                                 (context ? context->errstr : "no memory"));
    }
    redisSetTimeout(context, timeval{5, 0});
    if (const size_t slash = rest.find('/'); slash != std::string_view::npos && slash + 1 < rest.size()) {
      const std::string db(rest.substr(slash + 1));
      RedisReplyPtr reply(static_cast<redisReply*>(redisCommand(context, "SELECT %s", db.c_str())));
      if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) return Status::IoError("redis: SELECT " + db);
    }
    return std::unique_ptr<SeedsClient>(std::move(client));
  }
  ~RedisSeeds() override {
    if (context_ != nullptr) redisFree(context_);
  }

  Result<bool> Claim(std::string_view key) override {
    const std::string k = prefix_ + std::string(key);
    RedisReplyPtr reply(static_cast<redisReply*>(
        redisCommand(context_, "SET %b 1 NX PX %d", k.data(), k.size(), kSeedsLeaseMs)));
    if (reply == nullptr) return Status::Unavailable(std::string("redis: ") + context_->errstr);
    if (reply->type == REDIS_REPLY_NIL) return false;
    if (reply->type == REDIS_REPLY_STATUS) return true;
    return Status::IoError("redis: SET NX: " + std::string(reply->str, reply->len));
  }
  Status MarkDone(std::string_view key) override {
    const std::string k = prefix_ + std::string(key);
    RedisReplyPtr reply(static_cast<redisReply*>(redisCommand(
        context_, "SET %b done PX %lld", k.data(), k.size(), static_cast<long long>(kSeedsRetentionMs))));
    if (reply == nullptr) return Status::Unavailable(std::string("redis: ") + context_->errstr);
    if (reply->type != REDIS_REPLY_STATUS) return Status::IoError("redis: SET done failed");
    return Status::Ok();
  }

 private:
  RedisSeeds(redisContext* context, std::string prefix) : context_(context), prefix_(std::move(prefix)) {}
  redisContext* const context_;
  const std::string prefix_;
};

// INSERT … ON CONFLICT DO NOTHING, then UPDATE … SET state = 'done'; prepared once, autocommit.
class PostgresSeeds final : public SeedsClient {
 public:
  static Result<std::unique_ptr<SeedsClient>> Open(std::string_view uri, const std::string& group) {
    auto client =
        std::unique_ptr<PostgresSeeds>(new PostgresSeeds(PQconnectdb(std::string(uri).c_str()), group));
    if (PQstatus(client->conn_) != CONNECTION_OK) {
      return Status::Unavailable("postgresql: " + std::string(PQerrorMessage(client->conn_)));
    }
    const std::string table(kSeedsTable);
    const std::string create = "CREATE TABLE IF NOT EXISTS " + table +
                               " (group_id TEXT NOT NULL, msg_id TEXT NOT NULL, state TEXT NOT NULL,"
                               " PRIMARY KEY (group_id, msg_id))";
    if (Status s = client->Check(PQexec(client->conn_, create.c_str()), PGRES_COMMAND_OK); !s.ok()) return s;
    const std::string claim =
        "INSERT INTO " + table +
        " (group_id, msg_id, state) VALUES ($1, $2, 'processing') ON CONFLICT DO NOTHING";
    const std::string done = "UPDATE " + table + " SET state = 'done' WHERE group_id = $1 AND msg_id = $2";
    for (const auto& [name, sql] : {std::pair{"claim", claim}, std::pair{"done", done}}) {
      if (Status s = client->Check(PQprepare(client->conn_, name, sql.c_str(), 2, nullptr), PGRES_COMMAND_OK);
          !s.ok()) {
        return s;
      }
    }
    return std::unique_ptr<SeedsClient>(std::move(client));
  }
  ~PostgresSeeds() override { PQfinish(conn_); }

  Result<bool> Claim(std::string_view key) override {
    auto changed = Run("claim", key);
    if (!changed.ok()) return changed.status();
    return *changed == 1;
  }
  Status MarkDone(std::string_view key) override {
    auto changed = Run("done", key);
    return changed.ok() ? Status::Ok() : changed.status();
  }

 private:
  PostgresSeeds(PGconn* conn, std::string group) : conn_(conn), group_(std::move(group)) {}

  Status Check(PGresult* result, ExecStatusType expected) {
    const bool ok = PQresultStatus(result) == expected;
    Status status = ok ? Status::Ok() : Status::IoError("postgresql: " + std::string(PQerrorMessage(conn_)));
    PQclear(result);
    return status;
  }
  // Rows the statement changed.
  Result<int> Run(const char* statement, std::string_view key) {
    const std::string k(key);
    const char* values[] = {group_.c_str(), k.c_str()};
    PGresult* result = PQexecPrepared(conn_, statement, 2, values, nullptr, nullptr, 0);
    const int changed = std::atoi(PQcmdTuples(result));
    if (Status s = Check(result, PGRES_COMMAND_OK); !s.ok()) return s;
    return changed;
  }

  PGconn* const conn_;
  const std::string group_;
};

// INSERT IGNORE, then UPDATE … SET state = 'done'; text protocol, autocommit.
class MysqlSeeds final : public SeedsClient {
 public:
  static Result<std::unique_ptr<SeedsClient>> Open(std::string_view uri, const std::string& group) {
    const std::string normalised =
        uri.starts_with("mariadb://") ? "mysql://" + std::string(uri.substr(10)) : std::string(uri);
    auto endpoint = client::ParseMysqlUri(normalised);
    if (!endpoint.ok()) return endpoint.status();
    auto client = std::unique_ptr<MysqlSeeds>(new MysqlSeeds(mysql_init(nullptr)));
    if (client->mysql_ == nullptr) return Status::ResourceExhausted("mysql_init");
    const unsigned int connect_timeout = 5, io_timeout = 30;
    mysql_options(client->mysql_, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_options(client->mysql_, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
    mysql_options(client->mysql_, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
    mysql_options(client->mysql_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    const client::MysqlEndpoint& e = *endpoint;
    if (mysql_real_connect(client->mysql_, e.host.c_str(), e.user.c_str(),
                           e.password ? e.password->c_str() : nullptr, e.database.c_str(),
                           static_cast<unsigned int>(e.port), nullptr, 0) == nullptr) {
      return Status::Unavailable("mysql: " + std::string(mysql_error(client->mysql_)));
    }
    const std::string table(kSeedsTable);
    if (Status s = client
                       ->Run("CREATE TABLE IF NOT EXISTS " + table +
                             " (group_id VARCHAR(191) NOT NULL, msg_id VARCHAR(191) NOT NULL,"
                             " state VARCHAR(16) NOT NULL, PRIMARY KEY (group_id, msg_id)) ENGINE=InnoDB")
                       .status();
        !s.ok()) {
      return s;
    }
    client->claim_prefix_ =
        "INSERT IGNORE INTO " + table + " (group_id, msg_id, state) VALUES (" + client->Quote(group) + ", ";
    client->done_prefix_ =
        "UPDATE " + table + " SET state = 'done' WHERE group_id = " + client->Quote(group) + " AND msg_id = ";
    return std::unique_ptr<SeedsClient>(std::move(client));
  }
  ~MysqlSeeds() override {
    if (mysql_ != nullptr) mysql_close(mysql_);
  }

  Result<bool> Claim(std::string_view key) override {
    auto changed = Run(claim_prefix_ + Quote(key) + ", 'processing')");
    if (!changed.ok()) return changed.status();
    return *changed == 1;
  }
  Status MarkDone(std::string_view key) override { return Run(done_prefix_ + Quote(key)).status(); }

 private:
  explicit MysqlSeeds(MYSQL* mysql) : mysql_(mysql) {}

  std::string Quote(std::string_view text) {
    std::string out(text.size() * 2 + 1, '\0');
    out.resize(mysql_real_escape_string(mysql_, out.data(), text.data(), text.size()));
    return "'" + out + "'";
  }
  // Rows the statement changed.
  Result<uint64_t> Run(const std::string& sql) {
    if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) {
      return Status::IoError(fmt::format("mysql: {} ({})", mysql_error(mysql_), mysql_errno(mysql_)));
    }
    return static_cast<uint64_t>(mysql_affected_rows(mysql_));
  }

  MYSQL* const mysql_;
  std::string claim_prefix_;
  std::string done_prefix_;
};

// The SQL scheme on an SQLite file, with the store's own durability: WAL, synchronous=FULL.
class SqliteSeeds final : public SeedsClient {
 public:
  static Result<std::unique_ptr<SeedsClient>> Open(const std::string& path, const std::string& group) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    auto client = std::unique_ptr<SqliteSeeds>(new SqliteSeeds(db, group));
    if (rc != SQLITE_OK) return client->Error("open " + path);
    sqlite3_busy_timeout(db, 5'000);
    const std::string table(kSeedsTable);
    const std::string setup =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE IF NOT EXISTS " + table +
        " (group_id TEXT NOT NULL, msg_id TEXT NOT NULL, state TEXT NOT NULL,"
        " PRIMARY KEY (group_id, msg_id))";
    if (sqlite3_exec(db, setup.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
      return client->Error("setup");
    const std::string claim = "INSERT INTO " + table +
                              " (group_id, msg_id, state) VALUES (?, ?, 'processing') ON CONFLICT DO NOTHING";
    const std::string done = "UPDATE " + table + " SET state = 'done' WHERE group_id = ? AND msg_id = ?";
    if (sqlite3_prepare_v2(db, claim.c_str(), -1, &client->claim_, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(db, done.c_str(), -1, &client->done_, nullptr) != SQLITE_OK) {
      return client->Error("prepare");
    }
    return std::unique_ptr<SeedsClient>(std::move(client));
  }
  ~SqliteSeeds() override {
    sqlite3_finalize(claim_);
    sqlite3_finalize(done_);
    sqlite3_close(db_);
  }

  Result<bool> Claim(std::string_view key) override {
    auto changed = Run(claim_, key);
    if (!changed.ok()) return changed.status();
    return *changed == 1;
  }
  Status MarkDone(std::string_view key) override { return Run(done_, key).status(); }

 private:
  SqliteSeeds(sqlite3* db, std::string group) : db_(db), group_(std::move(group)) {}

  Status Error(std::string_view what) const {
    return Status::IoError(fmt::format("sqlite: {}: {}", what, db_ ? sqlite3_errmsg(db_) : "no memory"));
  }
  Result<int> Run(sqlite3_stmt* statement, std::string_view key) {
    sqlite3_bind_text(statement, 1, group_.data(), static_cast<int>(group_.size()), SQLITE_STATIC);
    sqlite3_bind_text(statement, 2, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    const int rc = sqlite3_step(statement);
    sqlite3_reset(statement);
    if (rc != SQLITE_DONE) return Error("step");
    return sqlite3_changes(db_);
  }

  sqlite3* const db_;
  const std::string group_;
  sqlite3_stmt* claim_ = nullptr;
  sqlite3_stmt* done_ = nullptr;
};

// ---- Stores by URI.

// The SQLite file a sqlite: URI names, or nullopt for another kind of URI.
std::optional<std::string> SqlitePath(std::string_view uri) {
  if (uri.starts_with("sqlite://")) return std::string(uri.substr(9));
  if (uri.starts_with("sqlite:")) return std::string(uri.substr(7));
  return std::nullopt;
}

std::string StoreLabel(std::string_view uri) {
  if (uri.starts_with("sqlite:")) return "sqlite";
  if (uri.starts_with("redis://")) return "redis";
  if (uri.starts_with("postgres")) return "postgresql";
  if (uri.starts_with("mysql://") || uri.starts_with("mariadb://")) return "mysql";
  return std::string(uri.substr(0, uri.find(':')));
}

// One run's store: its own SQLite file (removed when done), or the shared server (the group keeps it apart).
class RunStore {
 public:
  RunStore(std::string_view uri, const std::string& tag) : uri_(uri) {
    if (auto path = SqlitePath(uri)) {
      path_ = *path + "." + tag;
      uri_ = "sqlite:" + path_;
    }
  }
  ~RunStore() {
    if (path_.empty()) return;
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"})
      std::filesystem::remove(path_ + suffix, ignored);
  }
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;

  const std::string& uri() const { return uri_; }
  Result<std::unique_ptr<SeedsClient>> OpenSeeds(const std::string& group) const {
    if (!path_.empty()) return SqliteSeeds::Open(path_, group);
    if (uri_.starts_with("redis://")) return RedisSeeds::Open(uri_, group);
    if (uri_.starts_with("postgres")) return PostgresSeeds::Open(uri_, group);
    if (uri_.starts_with("mysql://") || uri_.starts_with("mariadb://")) return MysqlSeeds::Open(uri_, group);
    return Status::InvalidArgument("no seeds scheme for store URI " + uri_);
  }

 private:
  std::string uri_;
  std::string path_;  // SQLite only
};

// ---- The plain and seeds loop: a KafkaConsumer, poll batches of up to 500, commitAsync after each.

Result<std::unique_ptr<RdKafka::KafkaConsumer>> Subscribe(const DedupBenchOptions& o,
                                                          const std::string& topic,
                                                          const std::string& group) {
  auto conf = client::MakeRdKafkaConf({{"bootstrap.servers", o.bootstrap},
                                       {"client.id", "oncemq-bench-dedup"},
                                       {"group.id", group},
                                       {"enable.auto.commit", "false"},
                                       {"auto.offset.reset", "earliest"}});
  if (!conf.ok()) return conf.status();
  std::string error;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf->get(), error));
  if (consumer == nullptr) return Status::InvalidArgument("cannot create consumer: " + error);
  if (RdKafka::ErrorCode err = consumer->subscribe({topic}); err != RdKafka::ERR_NO_ERROR) {
    return Status::InvalidArgument("subscribe: " + RdKafka::err2str(err));
  }
  return consumer;
}

std::vector<std::unique_ptr<RdKafka::Message>> PollBatch(RdKafka::KafkaConsumer& consumer) {
  std::vector<std::unique_ptr<RdKafka::Message>> batch;
  while (batch.size() < kPollBatch) {
    std::unique_ptr<RdKafka::Message> message(consumer.consume(batch.empty() ? kPollMs : 0));
    if (message->err() == RdKafka::ERR__TIMED_OUT) break;
    if (message->err() != RdKafka::ERR_NO_ERROR) continue;  // a passing event: the loop is bounded anyway
    batch.push_back(std::move(message));
  }
  return batch;
}

// The message owns its headers.
std::string MsgId(RdKafka::Message& message) {
  RdKafka::Headers* headers = message.headers();
  if (headers == nullptr) return "";
  RdKafka::Headers::Header header = headers->get_last(std::string(headers::kMsgId));
  if (header.err() != RdKafka::ERR_NO_ERROR || header.value() == nullptr) return "";
  return std::string(static_cast<const char*>(header.value()), header.value_size());
}

// The seeds' scheme for one message: claim, handle (count), mark done; a repeat is skipped.
Status HandleWithSeeds(SeedsClient& seeds, RdKafka::Message& message, HandledCounter& counter,
                       uint64_t& repeats) {
  const std::string key = MsgId(message);
  if (key.empty()) return Status::InvalidArgument("a message without an oncemq-msg-id header");
  auto claimed = seeds.Claim(key);
  if (!claimed.ok()) return claimed.status();
  if (!*claimed) {
    ++repeats;
    return Status::Ok();
  }
  counter.Hit();
  return seeds.MarkDone(key);
}

// `seeds` nullptr: plain consumption.
RunResult RunKafkaLoop(const DedupBenchOptions& o, const std::string& topic, const std::string& group,
                       SeedsClient* seeds, RunResult result) {
  auto consumer = Subscribe(o, topic, group);
  if (!consumer.ok()) {
    result.error = consumer.status().message();
    return result;
  }
  HandledCounter counter(o.count);
  uint64_t repeats = 0;
  const Clock::time_point deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.bound_s));
  while (!counter.Done() && result.error.empty() && Clock::now() < deadline) {
    std::vector<std::unique_ptr<RdKafka::Message>> batch = PollBatch(**consumer);
    for (size_t i = 0; i < batch.size() && result.error.empty(); ++i) {
      if (seeds == nullptr) {
        counter.Hit();
      } else if (Status s = HandleWithSeeds(*seeds, *batch[i], counter, repeats); !s.ok()) {
        result.error = s.message();
      }
    }
    if (!batch.empty()) (*consumer)->commitAsync();
  }
  (*consumer)->close();
  Finish(result, counter);
  if (repeats > 0) result.note = fmt::format("{} keys found already claimed", repeats);
  return result;
}

// ---- The oncemq modes: IdempotentConsumer with max_batch 1 or 500.

std::string Unexpected(const ConsumerStats& s) {
  std::string note;
  auto add = [&](uint64_t n, std::string_view what) {
    if (n > 0) note += fmt::format("{}{} {}", note.empty() ? "" : ", ", n, what);
  };
  add(s.duplicates, "duplicates");
  add(s.delayed_in_progress, "delayed in progress");
  add(s.store_failures, "store failures (retried)");
  add(s.fenced, "fenced");
  add(s.dead_lettered, "dead-lettered");
  add(s.handler_failures, "handler failures");
  return note;
}

RunResult RunOncemq(const DedupBenchOptions& o, const std::string& topic, const std::string& group,
                    const RunStore& store, size_t max_batch, RunResult result) {
  auto opened = client::OpenDedupStore(store.uri());
  if (!opened.ok()) {
    result.error = opened.status().message();
    return result;
  }
  IdempotentConsumerOptions options;
  options.bootstrap_servers = o.bootstrap;
  options.group = group;
  options.topics = {topic};
  options.store = std::shared_ptr<DedupStore>(std::move(*opened));
  options.max_batch = max_batch;
  HandledCounter counter(o.count);
  IdempotentConsumer* running = nullptr;
  auto consumer = IdempotentConsumer::Create(std::move(options), [&](const MessageView&, HandlerContext&) {
    counter.Hit();
    if (counter.Done()) running->Stop();
    return Status::Ok();
  });
  if (!consumer.ok()) {
    result.error = consumer.status().message();
    return result;
  }
  running = consumer->get();
  Status ran;
  {
    Watchdog watchdog([running] { running->Stop(); },
                      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.bound_s)));
    ran = running->Run();
  }
  if (!ran.ok()) result.error = ran.message();
  Finish(result, counter);
  const ConsumerStats stats = running->stats();
  result.note = Unexpected(stats);
  if (stats.batches > 0) {
    result.note +=
        fmt::format("{}{:.1f} messages per poll batch, {} commits", result.note.empty() ? "" : "; ",
                    static_cast<double>(stats.received) / static_cast<double>(stats.batches), stats.commits);
  }
  return result;
}

// ---- The report.

const RunResult* Find(const std::vector<RunResult>& runs, std::string_view mode, std::string_view store) {
  for (const RunResult& r : runs) {
    if (r.mode == mode && r.store == store) return &r;
  }
  return nullptr;
}

std::string Ratio(double numerator, double denominator) {
  return numerator > 0 && denominator > 0 ? fmt::format("{:.2f}×", numerator / denominator) : "-";
}

void PrintTable(const DedupBenchOptions& o, const std::vector<RunResult>& runs) {
  const double plain = runs.front().msgs_per_s();
  fmt::print("\n| {:<11} | {:<10} | {:>9} | {:>9} | {:>8} | {:>8} | {:>9} | {:>8} |\n", "mode", "store",
             "handled", "msg/s", "µs/msg", "÷ plain", "overhead", "÷ seeds");
  fmt::print(
      "|-------------|------------|-----------|-----------|----------|----------|-----------|----------|\n");
  for (const RunResult& r : runs) {
    const RunResult* seeds = Find(runs, "seeds", r.store);
    const bool vs_seeds = seeds != nullptr && r.mode != "seeds" && r.mode != "plain";
    const std::string overhead =
        r.msgs_per_s() > 0 && plain > 0 ? fmt::format("{:+.0f}%", (plain / r.msgs_per_s() - 1) * 100) : "-";
    fmt::print("| {:<11} | {:<10} | {:>9} | {:>9.0f} | {:>8.1f} | {:>8} | {:>9} | {:>8} |\n", r.mode,
               r.store.empty() ? "-" : r.store,
               r.handled == o.count ? std::to_string(r.handled) : fmt::format("{}*", r.handled),
               r.msgs_per_s(), r.us_per_msg(), Ratio(r.msgs_per_s(), plain), overhead,
               vs_seeds ? Ratio(r.msgs_per_s(), seeds->msgs_per_s()) : "");
  }
  fmt::print(
      "÷ plain: msg/s over plain msg/s; overhead: µs/msg over plain µs/msg − 1; ÷ seeds: msg/s over the same "
      "store's seeds msg/s; * fewer than {} handled within the bound (the rate is that of those handled)\n",
      o.count);
  for (const RunResult& r : runs) {
    if (!r.error.empty()) fmt::print("  {} {}: FAILED: {}\n", r.mode, r.store, r.error);
    if (!r.note.empty()) fmt::print("  {} {}: {}\n", r.mode, r.store, r.note);
  }
}

std::string Verdict(const RunResult& plain, const RunResult* seeds, const RunResult* batch) {
  if (batch == nullptr || !batch->error.empty() || batch->msgs_per_s() <= 0)
    return "not measured (the batch run failed)";
  const std::string& store = batch->store;
  const std::string shortfall = batch->handled < plain.handled ? " (batch run cut short by the bound)" : "";
  if (store == "redis" || store == "postgresql") {
    if (seeds == nullptr || seeds->msgs_per_s() <= 0) return "not measured (the seeds run failed)";
    const double speedup = batch->msgs_per_s() / seeds->msgs_per_s();
    return fmt::format("batch {:.0f} msg/s ÷ seeds {:.0f} msg/s = {:.2f}× (target ≥ 5×): {}{}",
                       batch->msgs_per_s(), seeds->msgs_per_s(), speedup, speedup >= 5 ? "MET" : "MISSED",
                       shortfall);
  }
  if (store == "sqlite") {
    const double overhead = plain.msgs_per_s() / batch->msgs_per_s() - 1;
    return fmt::format(
        "overhead = batch µs/msg ÷ plain µs/msg − 1 = {:.1f} ÷ {:.1f} − 1 = {:.0f}% (target < 30%, i.e. "
        "batch msg/s "
        "≥ plain msg/s ÷ 1.3 = {:.0f}; measured {:.0f}): {}{}",
        batch->us_per_msg(), plain.us_per_msg(), overhead * 100, plain.msgs_per_s() / 1.3,
        batch->msgs_per_s(), overhead < 0.30 ? "MET" : "MISSED", shortfall);
  }
  return fmt::format("no target in issue 5 (batch ÷ seeds = {})",
                     seeds ? Ratio(batch->msgs_per_s(), seeds->msgs_per_s()) : "-");
}

void PrintVerdicts(const DedupBenchOptions& o, const std::vector<RunResult>& runs) {
  fmt::print("\n");
  for (const std::string& uri : o.stores) {
    const std::string store = StoreLabel(uri);
    fmt::print("target {}: {}\n", store,
               Verdict(runs.front(), Find(runs, "seeds", store), Find(runs, "batch", store)));
  }
  for (const RunResult& r : runs) {
    fmt::print(
        "RESULT dedup mode={} store={} handled={} seconds={:.3f} msgs_per_s={:.0f} us_per_msg={:.2f} ok={}\n",
        r.mode, r.store.empty() ? "none" : r.store, r.handled, r.elapsed_s, r.msgs_per_s(), r.us_per_msg(),
        r.error.empty() && r.handled == o.count ? 1 : 0);
  }
}

// ---- The run.

RunResult Labelled(std::string mode, std::string store) {
  RunResult r;
  r.mode = std::move(mode);
  r.store = std::move(store);
  return r;
}

void Progress(const RunResult& r) {
  fmt::print("  {:<11} {:<10} {:>9} handled in {:>7.2f} s: {:>8.0f} msg/s{}\n", r.mode,
             r.store.empty() ? "-" : r.store, r.handled, r.elapsed_s, r.msgs_per_s(),
             r.error.empty() ? "" : "  FAILED: " + r.error);
  std::fflush(stdout);
}

void RunStoreModes(const DedupBenchOptions& o, const std::string& topic, const std::string& uri, int index,
                   std::vector<RunResult>& runs) {
  const std::string label = StoreLabel(uri);
  const std::string base = fmt::format("{}-{}{}", topic, label, index);
  auto wanted = [&](std::string_view mode) {
    return std::find(o.modes.begin(), o.modes.end(), mode) != o.modes.end();
  };
  if (wanted("seeds")) {
    RunStore store(uri, "seeds");
    const std::string group = base + "-seeds";
    auto seeds = store.OpenSeeds(group);
    RunResult r = Labelled("seeds", label);
    if (seeds.ok()) {
      r = RunKafkaLoop(o, topic, group, seeds->get(), std::move(r));
    } else {
      r.error = seeds.status().message();
    }
    Progress(runs.emplace_back(std::move(r)));
  }
  for (const auto& [mode, max_batch] :
       {std::pair{"per-message", size_t{1}}, std::pair{"batch", kPollBatch}}) {
    if (!wanted(mode)) continue;
    RunStore store(uri, mode);
    Progress(
        runs.emplace_back(RunOncemq(o, topic, base + "-" + mode, store, max_batch, Labelled(mode, label))));
  }
}

int Run(const DedupBenchOptions& o) {
  const std::string topic = fmt::format("oncemq-dedup-bench-{}", NowNanos());
  const Clock::time_point start = Clock::now();
  if (Status produced = ProduceTopic(o, topic); !produced.ok()) {
    fmt::print(stderr, "oncemq bench dedup: producing {}: {}\n", topic, produced.message());
    return 1;
  }
  fmt::print(
      "dedup: {} messages of {} B with unique oncemq-msg-id headers in {} ({} partition(s)), produced in "
      "{:.2f} s; each run bounded to {} s\n",
      o.count, o.message_bytes, topic, o.partitions,
      std::chrono::duration<double>(Clock::now() - start).count(), o.bound_s);
  std::vector<RunResult> runs;
  Progress(runs.emplace_back(RunKafkaLoop(o, topic, topic + "-plain", nullptr, Labelled("plain", ""))));
  for (size_t i = 0; i < o.stores.size(); ++i)
    RunStoreModes(o, topic, o.stores[i], static_cast<int>(i), runs);
  PrintTable(o, runs);
  PrintVerdicts(o, runs);
  for (const RunResult& r : runs) {
    if (!r.error.empty()) return 1;
  }
  return 0;
}

}  // namespace

void AddDedupBench(CLI::App& bench) {
  auto o = std::make_shared<DedupBenchOptions>();
  auto* cmd = bench.add_subcommand(
      "dedup",
      "Consume-and-handle throughput: plain, the seeds' per-message scheme, oncemq per message and batched");
  cmd->add_option("--bootstrap", o->bootstrap, "Broker address HOST:PORT")->capture_default_str();
  cmd->add_option("--count", o->count, "Messages to produce and to handle in each run")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{2}, uint64_t{100'000'000}));
  cmd->add_option("--size", o->message_bytes, "Payload bytes per message")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1'000'000}));
  cmd->add_option("--stores", o->stores,
                  "Dedup store URIs, comma-separated (sqlite:///PATH gets a new file per run)")
      ->required()
      ->delimiter(',');
  cmd->add_option("--modes", o->modes, "Which of seeds,per-message,batch to run after plain")
      ->capture_default_str()
      ->delimiter(',')
      ->check(CLI::IsMember({"seeds", "per-message", "batch"}));
  cmd->add_option("--partitions", o->partitions, "Partitions of the benchmark topic")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  cmd->add_option("--duration-bound", o->bound_s, "Seconds after which a run stops, handled or not")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->callback([o] {
    if (int rc = Run(*o); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace oncemq::bench
