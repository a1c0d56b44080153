#include "cli/demo/card_service.h"

#include <atomic>
#include <cstdio>
#include <fstream>
#include <random>
#include <thread>

#include "client/stores/open_dedup_store.h"
#include "oncemq/sql_database.h"
#include "oncemq/unique_insert.h"

namespace oncemq::cli::demo {

namespace {

constexpr char kCardsSchema[] =
    "CREATE TABLE IF NOT EXISTS cards(card_id VARCHAR(64) NOT NULL, payment_id VARCHAR(64) NOT NULL, "
    "customer VARCHAR(64) NOT NULL)";
constexpr char kUniqueCardsSchema[] =
    "CREATE TABLE IF NOT EXISTS cards(card_id VARCHAR(64) NOT NULL, payment_id VARCHAR(64) NOT NULL PRIMARY "
    "KEY, customer VARCHAR(64) NOT NULL)";

constexpr auto kStoreWaitBound = std::chrono::seconds(60);

bool IsSql(const std::string& uri) {
  return !uri.starts_with("redis://") && !uri.starts_with("memory:");
}

// A pause in one handler call of 50, so that some kills land while a handler runs.
void SometimesSlow() {
  thread_local std::mt19937 random{std::random_device{}()};
  if (random() % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

Status InsertCard(SqlTransaction& tx, std::string_view payment_id, std::string_view customer) {
  const SqlParam params[] = {"card-" + std::string(payment_id), std::string(payment_id),
                             std::string(customer)};
  return tx.Execute("INSERT INTO cards(card_id, payment_id, customer) VALUES(?, ?, ?)", params).status();
}

}  // namespace

std::string CardDatabaseUri(const std::string& dir, const std::string& store) {
  return !store.empty() && IsSql(store) ? store : "sqlite://" + dir + "/cards.db";
}

void WriteStats(const std::string& path, const ConsumerStats& s) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << "received " << s.received << " handled " << s.handled << " duplicates " << s.duplicates
        << " delayed " << s.delayed_in_progress << " failures " << s.handler_failures << " retried "
        << s.retried << "\n";
  }
  std::rename(temp.c_str(), path.c_str());
}

ConsumerStats ReadStats(const std::string& path) {
  ConsumerStats s;
  std::ifstream in(path);
  std::string name;
  uint64_t value = 0;
  while (in >> name >> value) {
    if (name == "received") s.received = value;
    if (name == "handled") s.handled = value;
    if (name == "duplicates") s.duplicates = value;
    if (name == "delayed") s.delayed_in_progress = value;
    if (name == "failures") s.handler_failures = value;
    if (name == "retried") s.retried = value;
  }
  return s;
}

namespace {

// Opens the card table's database (creating the table) and the dedup store into `options`.
Status OpenStores(const CardServiceOptions& o, const std::string& store_uri, bool transactional,
                  std::shared_ptr<SqlDatabase>* card_db, IdempotentConsumerOptions* options) {
  Result<std::shared_ptr<SqlDatabase>> cards = OpenSqlDatabase(CardDatabaseUri(o.dir, o.store));
  if (!cards.ok()) return cards.status();
  if (Status s = (*cards)->Execute(transactional ? kCardsSchema : kUniqueCardsSchema); !s.ok()) return s;
  *card_db = *cards;
  if (transactional) {
    auto store = client::OpenTransactionalStore(store_uri);
    if (!store.ok()) return store.status();
    options->transactional_store = *store;
    return Status::Ok();
  }
  auto store = client::OpenDedupStore(store_uri);
  if (!store.ok()) return store.status();
  options->store = std::shared_ptr<DedupStore>(std::move(*store));
  return Status::Ok();
}

// A service started while its store is down waits for it (a bounded while), as a supervised service
// would, instead of exiting at once.
Status OpenStoresWaiting(const CardServiceOptions& o, const std::string& store_uri, bool transactional,
                         std::shared_ptr<SqlDatabase>* card_db, IdempotentConsumerOptions* options) {
  const auto deadline = std::chrono::steady_clock::now() + kStoreWaitBound;
  for (bool said = false;; said = true) {
    Status s = OpenStores(o, store_uri, transactional, card_db, options);
    if (s.ok() || s.code() != StatusCode::kUnavailable || std::chrono::steady_clock::now() >= deadline)
      return s;
    if (!said) std::fprintf(stderr, "card service: waiting for the store: %s\n", s.ToString().c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace

int RunCardService(const CardServiceOptions& o) {
  const std::string store_uri = o.store.empty() ? "sqlite://" + o.dir + "/cards.db" : o.store;
  const bool transactional = IsSql(store_uri);
  IdempotentConsumerOptions options;
  std::shared_ptr<SqlDatabase> card_db;
  if (Status s = OpenStoresWaiting(o, store_uri, transactional, &card_db, &options); !s.ok()) {
    std::fprintf(stderr, "card service: %s\n", s.ToString().c_str());
    return 1;
  }
  options.bootstrap_servers = o.bootstrap;
  options.group = kCardsGroup;
  options.topics = {kPaymentsTopic};
  options.kafka_config = {{"session.timeout.ms", "3000"}, {"heartbeat.interval.ms", "300"}};
  options.retry.delays = {std::chrono::milliseconds(200), std::chrono::milliseconds(500),
                          std::chrono::seconds(1)};
  options.lease = std::chrono::seconds(5);
  if (o.key_by_offset) {
    options.key = BusinessKey::From([](const MessageView& m) -> std::optional<std::string> {
      return std::to_string(m.partition) + "@" + std::to_string(m.offset);
    });
  }
  auto handler = [card_db, transactional](const MessageView& m, HandlerContext& context) -> Status {
    SometimesSlow();
    const std::string customer(m.key.value_or("-"));
    const std::string payment_id(m.Header(headers::kMsgId).value_or(context.key));
    if (transactional) return InsertCard(*context.transaction, payment_id, customer);
    return card_db->Transact([&](SqlTransaction& tx) -> Status {
      const SqlColumnValue row[] = {
          {"card_id", "card-" + payment_id}, {"payment_id", payment_id}, {"customer", customer}};
      return InsertUnique(tx, "cards", row).status();
    });
  };
  auto consumer = IdempotentConsumer::Create(options, handler);
  if (!consumer.ok()) {
    std::fprintf(stderr, "card service: %s\n", consumer.status().ToString().c_str());
    return 1;
  }
  IdempotentConsumer::StopOnSignals();
  std::atomic<bool> done{false};
  std::thread reporter([&] {
    while (!done.load()) {
      WriteStats(o.stats_file, (*consumer)->stats());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  Status run = (*consumer)->Run();
  done.store(true);
  reporter.join();
  WriteStats(o.stats_file, (*consumer)->stats());
  if (!run.ok()) std::fprintf(stderr, "card service: %s\n", run.ToString().c_str());
  return run.ok() ? 0 : 1;
}

}  // namespace oncemq::cli::demo
