// `oncemq demo`: the seeds' story, end to end, under faults (issue 7). A payment service takes N payments,
// each written with its outbox message in one SQLite transaction; a relay publishes them through a fault
// proxy that drops produce responses and cuts connections; a card service (two consumer processes in one
// group) issues one membership card per payment with the idempotent consumer, through a second proxy that
// loses offset commits. Meanwhile consumers are SIGKILLed (mid-handler, before their commits), the broker is
// SIGKILLed and restarted, and the upstream submits and publishes some payments twice. The report counts
// payments, cards, lost messages and duplicate cards — both must be 0 — and what each layer removed. Exit
// status 1 if an invariant broke.
#include <librdkafka/rdkafkacpp.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "chaos/fault_proxy.h"
#include "cli/commands.h"
#include "cli/demo/card_service.h"
#include "cli/demo/child_process.h"
#include "cli/demo/demo_broker.h"
#include "cli/demo/payment_service.h"
#include "client/consumer/rdkafka_config.h"
#include "common/clock.h"

namespace oncemq::cli {
namespace {

using demo::CardServiceOptions;
using std::chrono::milliseconds;

constexpr int16_t kProduceApi = 0;
constexpr int16_t kOffsetCommitApi = 8;
constexpr int kExitBroken = 1;
constexpr int kExitFailed = 2;
// A killed consumer's partitions wait for its session to time out (3 s) before the group moves them; kills
// much more often than that would only stall the group.
constexpr int64_t kConsumerKillEveryMs = 5'000;
constexpr int kBrokerRestarts = 2;
constexpr int kPartitions = 4;

struct DemoOptions {
  int64_t payments = 10'000;
  std::string dir;
  bool keep = false;
  std::string store;
  std::string bootstrap;
  bool faults = true;
  uint64_t seed = 0;
  int timeout_s = 900;
  int consumers = 2;
  int64_t rate = 500;        // payments per second; 0: as fast as the database takes them
  bool break_dedup = false;  // self-check: the broker's window off, the consumer keyed on offsets
};

// Everything the report says.
struct Outcome {
  int64_t payments = 0;
  int64_t cards = 0;
  int64_t lost = 0;        // payments without a card
  int64_t duplicates = 0;  // cards beyond the first of a payment
  int64_t orphans = 0;     // cards of no payment
  int64_t outbox_failed = 0;
  int64_t outbox_sending = 0;
  bool timed_out = false;
};

// One card-service process and its successive incarnations.
struct CardInstance {
  std::unique_ptr<demo::ChildProcess> process;
  int incarnation = 0;
  int64_t restart_at_ms = 0;  // 0: running
  std::string stats_path;
};

class Demo {
 public:
  explicit Demo(DemoOptions o) : o_(std::move(o)), random_(o_.seed != 0 ? o_.seed : std::random_device{}()) {}

  int Run() {
    if (Status s = Setup(); !s.ok()) return Fail(s);
    std::thread writer([this] { WritePayments(); });
    std::thread relay([this] { (void)relay_->Run(); });
    const int64_t deadline = SteadyMs() + o_.timeout_s * 1000LL;
    bool done = false;
    while (!done && SteadyMs() < deadline) {
      std::this_thread::sleep_for(milliseconds(250));
      Tick();
      done = Done();
    }
    stop_writer_ = true;
    writer.join();
    Shutdown();
    relay_->Stop();
    relay.join();
    Outcome outcome = Verify();
    outcome.timed_out = !done;
    PrintReport(outcome);
    const bool broken = outcome.lost > 0 || outcome.duplicates > 0 || outcome.orphans > 0 ||
                        outcome.outbox_failed > 0 || outcome.timed_out;
    Cleanup(broken);
    return broken ? kExitBroken : 0;
  }

 private:
  Status Setup() {
    if (Status s = MakeDir(); !s.ok()) return s;
    LogToFile();
    std::string bootstrap = o_.bootstrap;
    if (bootstrap.empty()) {
      broker_ = std::make_unique<demo::DemoBroker>(dir_, o_.break_dedup ? 0 : 3'600'000);
      if (Status s = broker_->Start(); !s.ok()) return s;
      bootstrap = broker_->address();
    }
    bootstrap_ = bootstrap;
    if (Status s = StartProxies(); !s.ok()) return s;
    auto payments = demo::PaymentService::Open(dir_);
    if (!payments.ok()) return payments.status();
    payments_ = std::move(*payments);
    if (Status s = StartRelay(); !s.ok()) return s;
    ReliableProducerOptions upstream;
    upstream.bootstrap_servers = bootstrap_;
    upstream.ack_timeout = std::chrono::seconds(10);
    auto producer = ReliableProducer::Create(upstream);
    if (!producer.ok()) return producer.status();
    upstream_ = std::move(*producer);
    if (Status s = CreatePaymentsTopic(); !s.ok()) return s;
    for (int i = 0; i < o_.consumers; ++i) cards_.emplace_back();
    for (size_t i = 0; i < cards_.size(); ++i) {
      if (Status s = StartCardService(i); !s.ok()) return s;
    }
    std::cout << "oncemq demo: " << o_.payments << " payments; broker " << bootstrap_ << "; data in " << dir_
              << (o_.faults ? "; faults on" : "; faults off") << "\n";
    return Status::Ok();
  }

  // Before the card service subscribes: a consumer subscribed to a topic that does not exist yet would see
  // it only at its next metadata refresh (minutes).
  Status CreatePaymentsTopic() {
    auto conf = client::MakeRdKafkaConf({{"bootstrap.servers", bootstrap_}});
    if (!conf.ok()) return conf.status();
    std::string error;
    std::unique_ptr<RdKafka::Producer> admin(RdKafka::Producer::create(conf->get(), error));
    if (admin == nullptr) return Status::IoError("demo: " + error);
    return client::CreateMissingTopics(admin->c_ptr(), {demo::kPaymentsTopic}, kPartitions,
                                       std::chrono::seconds(30));
  }

  // The terminal is for the progress line and the report: what the relay and its librdkafka say about the
  // faults (connections lost, brokers down) goes to DIR/demo.log, as the card services' lines go to theirs.
  void LogToFile() {
    try {
      auto logger = spdlog::basic_logger_mt("demo", dir_ + "/demo.log");
      logger->flush_on(spdlog::level::warn);
      spdlog::set_default_logger(logger);
    } catch (const spdlog::spdlog_ex& e) {
      std::cerr << "oncemq demo: logging to the terminal: " << e.what() << "\n";
    }
  }

  Status MakeDir() {
    if (o_.dir.empty()) {
      std::string pattern = std::filesystem::temp_directory_path().string() + "/oncemq-demo-XXXXXX";
      if (mkdtemp(pattern.data()) == nullptr)
        return Status::IoError("demo: cannot make a temporary directory");
      dir_ = pattern;
      remove_dir_ = !o_.keep;
      return Status::Ok();
    }
    dir_ = std::filesystem::absolute(o_.dir).string();
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) return Status::IoError("demo: cannot make " + dir_ + ": " + ec.message());
    if (std::filesystem::exists(dir_ + "/payments.db")) {
      return Status::InvalidArgument("demo: " + dir_ + " holds an earlier run; give an empty directory");
    }
    return Status::Ok();
  }

  Status StartProxies() {
    const size_t colon = bootstrap_.rfind(':');
    if (colon == std::string::npos) return Status::InvalidArgument("demo: --bootstrap is HOST:PORT");
    const std::string host = bootstrap_.substr(0, colon);
    const auto port = static_cast<uint16_t>(std::stoi(bootstrap_.substr(colon + 1)));
    proxy_ = std::make_unique<chaos::FaultProxy>(host, port, random_());
    consumer_proxy_ = std::make_unique<chaos::FaultProxy>(host, port, random_());
    std::string error;
    if (!proxy_->Start(&error) || !consumer_proxy_->Start(&error)) {
      return Status::IoError("demo: fault proxy: " + error);
    }
    if (o_.faults) {
      // A swallowed response leaves its connection silent for longer than the ack time-out: the relay
      // cannot tell whether the broker stored the message, so it re-sends it (the lost-ack case).
      proxy_->SetRule(kProduceApi, chaos::FaultRule{.drop_response = 0.05,
                                                    .cut = 0.05,
                                                    .delay_probability = 0,
                                                    .delay = milliseconds(0),
                                                    .lost_ack_close_min = milliseconds(3500),
                                                    .lost_ack_close_max = milliseconds(4500)});
      // One of each whatever the dice say: every run shows the upper half's faults too.
      proxy_->ArmOnce(kProduceApi, chaos::FaultAction::kDropResponse);
      proxy_->ArmOnce(kProduceApi, chaos::FaultAction::kCut);
      // The card services' offset commits (the proxy carries their coordinator traffic too): the broker
      // stores a commit whose answer is lost, or the connection is cut right after it.
      consumer_proxy_->SetRule(kOffsetCommitApi, chaos::FaultRule{.drop_response = 0.05,
                                                                  .cut = 0.05,
                                                                  .lost_ack_close_min = milliseconds(300),
                                                                  .lost_ack_close_max = milliseconds(2000)});
      consumer_proxy_->ArmOnce(kOffsetCommitApi,
                               chaos::FaultAction::kDropResponse);  // one whatever the dice say
    }
    return Status::Ok();
  }

  Status StartRelay() {
    OutboxRelayOptions options;
    options.producer.bootstrap_servers = proxy_->address();
    options.producer.ack_timeout = std::chrono::seconds(3);
    options.lease = std::chrono::seconds(20);
    options.retry = {
        .max_attempts = 20, .retry_backoff = milliseconds(200), .max_backoff = std::chrono::seconds(2)};
    options.idle_wait = milliseconds(20);
    auto relay = OutboxRelay::Create(payments_->outbox(), options);
    if (!relay.ok()) return relay.status();
    relay_ = std::move(*relay);
    return Status::Ok();
  }

  Status StartCardService(size_t i) {
    CardInstance& c = cards_[i];
    ++c.incarnation;
    c.stats_path =
        dir_ + "/card-service-" + std::to_string(i) + "." + std::to_string(c.incarnation) + ".stats";
    std::vector<std::string> args = {"demo",         "card-service", "--dir",
                                     dir_,           "--bootstrap",  consumer_proxy_->address(),
                                     "--stats-file", c.stats_path};
    if (!o_.store.empty()) args.insert(args.end(), {"--store", o_.store});
    if (o_.break_dedup) args.push_back("--key-by-offset");
    c.process =
        std::make_unique<demo::ChildProcess>(args, dir_ + "/card-service-" + std::to_string(i) + ".log");
    c.restart_at_ms = 0;
    std::string error;
    if (!c.process->Start(&error)) return Status::IoError("demo: card service: " + error);
    return Status::Ok();
  }

  // The payment service's feed: every payment once, some submitted twice (absorbed by its unique key),
  // and some published again by the upstream straight to the bus (absorbed by the broker's window).
  void WritePayments() {
    const int64_t start = SteadyMs();
    for (int64_t n = 0; n < o_.payments && !stop_writer_; ++n) {
      if (o_.rate > 0) {
        const int64_t due = start + n * 1000 / o_.rate;
        if (due > SteadyMs()) std::this_thread::sleep_for(milliseconds(due - SteadyMs()));
      }
      TakeWithRetry(n);
      if (n % 40 == 7) TakeWithRetry(n);
      if (n % 50 == 3 && n >= 200) Republish(n - 200);
      upstream_->Poll(milliseconds(0));
    }
    (void)upstream_->Flush(std::chrono::seconds(30));
  }

  void TakeWithRetry(int64_t n) {
    while (!stop_writer_) {
      Status s = payments_->Take(n);
      if (s.ok()) return;
      std::this_thread::sleep_for(milliseconds(20));  // the database was busy: the same payment again
    }
  }

  void Republish(int64_t n) {
    upstream_->Send(demo::PaymentService::MessageOf(n), [this](const Confirmation& c) {
      if (c.status.ok()) ++republished_;
    });
  }

  void Tick() {
    if (broker_ != nullptr) (void)broker_->Scrape();
    if (o_.faults) InjectFaults();
    RestartDueCardServices();
    PrintProgress(false);
  }

  void InjectFaults() {
    const int64_t now = SteadyMs();
    if (now - last_consumer_kill_ms_ > kConsumerKillEveryMs) {
      last_consumer_kill_ms_ = now;
      const size_t victim = random_() % cards_.size();
      if (cards_[victim].restart_at_ms == 0) {
        cards_[victim].process->Kill();
        finished_stats_.push_back(cards_[victim].stats_path);
        cards_[victim].restart_at_ms = now + 500;
        ++consumer_kills_;
      }
    }
    // The broker dies twice, a third and two thirds of the way through the messages.
    const auto sent = static_cast<int64_t>(relay_->stats().sent);
    const int64_t due_restarts = sent >= o_.payments * 2 / 3 ? kBrokerRestarts
                                 : sent >= o_.payments / 3   ? 1
                                                             : 0;
    if (broker_ != nullptr && broker_->restarts() < due_restarts) {
      broker_->Kill();
      std::this_thread::sleep_for(std::chrono::seconds(1));
      if (Status s = broker_->Restart(); !s.ok()) std::cerr << "\noncemq demo: " << s.message() << "\n";
    }
  }

  void RestartDueCardServices() {
    for (size_t i = 0; i < cards_.size(); ++i) {
      if (cards_[i].restart_at_ms != 0 && SteadyMs() >= cards_[i].restart_at_ms) (void)StartCardService(i);
    }
  }

  int64_t CountCards() {
    int64_t cards = 0;
    (void)card_db()->Transact([&](SqlTransaction& tx) -> Status {
      Result<std::vector<SqlRow>> rows = tx.Query("SELECT COUNT(DISTINCT payment_id) FROM cards");
      if (rows.ok() && !rows->empty() && (*rows)[0][0]) cards = std::stoll(*(*rows)[0][0]);
      return Status::Ok();
    });
    return cards;
  }

  SqlDatabase* card_db() {
    if (card_db_ == nullptr) {
      auto db = OpenSqlDatabase(demo::CardDatabaseUri(dir_, o_.store));
      if (db.ok()) card_db_ = *db;
    }
    return card_db_.get();
  }

  bool Done() {
    const int64_t taken = payments_->counters().taken.load();
    if (taken < o_.payments) return false;
    if (broker_ != nullptr && o_.faults && broker_->restarts() < kBrokerRestarts) return false;
    Result<OutboxCounts> counts = payments_->outbox()->Counts();
    if (!counts.ok() || counts->sending > 0) return false;
    return counts->failed > 0 || last_cards_ >= o_.payments;  // FAILED messages would never arrive
  }

  void PrintProgress(bool final) {
    const int64_t now = SteadyMs();
    const bool tty = isatty(STDOUT_FILENO);
    if (!final && !tty && now - last_progress_ms_ < 5'000) return;
    last_progress_ms_ = now;
    last_cards_ = card_db() != nullptr ? CountCards() : 0;
    const chaos::FaultCounters f = proxy_->Counters();
    std::cout << (tty ? "\r" : "") << "payments " << payments_->counters().taken.load() << "/" << o_.payments
              << "  sent " << relay_->stats().sent << "  cards " << last_cards_ << "  | faults: lost acks "
              << f.lost_acks << ", cuts " << f.cuts << ", commits lost " << CommitFaults()
              << ", consumer kills " << consumer_kills_ << ", broker restarts "
              << (broker_ != nullptr ? broker_->restarts() : 0) << (tty && !final ? "   " : "\n")
              << std::flush;
  }

  void Shutdown() {
    for (CardInstance& c : cards_) {
      if (c.restart_at_ms == 0) c.process->Terminate(std::chrono::seconds(30));
      finished_stats_.push_back(c.stats_path);
    }
    if (broker_ != nullptr) broker_->Stop();
    PrintProgress(true);
    proxy_->Stop();
    consumer_proxy_->Stop();
  }

  Outcome Verify() {
    Outcome out;
    std::set<std::string> paid;
    (void)payments_->outbox()->Transact([&](SqlTransaction& tx) -> Status {
      Result<std::vector<SqlRow>> rows = tx.Query("SELECT payment_id FROM payments");
      if (rows.ok()) {
        for (const SqlRow& r : *rows) paid.insert(r[0].value_or(""));
      }
      return rows.status();
    });
    std::map<std::string, int64_t> cards_of;
    (void)card_db()->Transact([&](SqlTransaction& tx) -> Status {
      Result<std::vector<SqlRow>> rows =
          tx.Query("SELECT payment_id, COUNT(*) FROM cards GROUP BY payment_id");
      if (rows.ok()) {
        for (const SqlRow& r : *rows) cards_of[r[0].value_or("")] = std::stoll(r[1].value_or("0"));
      }
      return rows.status();
    });
    out.payments = static_cast<int64_t>(paid.size());
    for (const std::string& id : paid) out.lost += cards_of.contains(id) ? 0 : 1;
    for (const auto& [id, n] : cards_of) {
      out.cards += n;
      out.duplicates += n - 1;
      out.orphans += paid.contains(id) ? 0 : 1;
    }
    Result<OutboxCounts> counts = payments_->outbox()->Counts();
    if (counts.ok()) {
      out.outbox_failed = counts->failed;
      out.outbox_sending = counts->sending;
    }
    return out;
  }

  void PrintReport(const Outcome& out) {
    ConsumerStats consumers;
    for (const std::string& path : finished_stats_) {
      const ConsumerStats s = demo::ReadStats(path);
      consumers.duplicates += s.duplicates;
      consumers.delayed_in_progress += s.delayed_in_progress;
    }
    const chaos::FaultCounters f = proxy_->Counters();
    auto line = [](std::string_view name, const std::string& value, std::string_view why) {
      std::cout << "  " << name << std::string(26 - name.size(), ' ') << value << "  " << why << "\n";
    };
    std::cout << "\nresult\n";
    line("payments", std::to_string(out.payments), "taken, each with its outbox message");
    line("cards", std::to_string(out.cards), "issued by the card service");
    line("messages lost", std::to_string(out.lost), "payments without a card (must be 0)");
    line("duplicate cards", std::to_string(out.duplicates), "cards beyond one per payment (must be 0)");
    if (out.orphans > 0) line("cards of no payment", std::to_string(out.orphans), "(must be 0)");
    line("outbox FAILED", std::to_string(out.outbox_failed), "messages the relay gave up on (must be 0)");
    std::cout << "duplicates removed, per layer\n";
    line("payment service", std::to_string(payments_->counters().resubmissions_absorbed.load()),
         "payments submitted twice, absorbed by the unique payment id");
    const bool own_broker = broker_ != nullptr;
    const demo::BrokerDuplicates broker = own_broker ? broker_->totals() : demo::BrokerDuplicates{};
    line("broker sequence numbers", own_broker ? ">= " + std::to_string(broker.sequence) : "n/a",
         "producer retries after cut connections");
    line("broker msg-id window", own_broker ? ">= " + std::to_string(broker.msg_id) : "n/a",
         "relay re-sends after lost acks, upstream re-publications");
    line("consumer dedup", ">= " + std::to_string(consumers.duplicates),
         "re-deliveries after consumer kills and broker restarts");
    std::cout << "faults injected\n";
    line("produce acks lost", std::to_string(f.lost_acks), "responses swallowed by the fault proxy");
    line("connections cut", std::to_string(f.cuts), "after the broker answered");
    line("offset commits lost", std::to_string(CommitFaults()), "answers swallowed or connections cut");
    line("consumers killed", std::to_string(consumer_kills_), "SIGKILL, at random moments");
    line("broker restarts", std::to_string(own_broker ? broker_->restarts() : 0),
         "SIGKILL, then started again");
    line("upstream re-publications", std::to_string(republished_.load()),
         "acknowledged copies of sent payments");
    line("relay re-sends", std::to_string(relay_->stats().resends), "compensation after nacks and time-outs");
    if (out.timed_out) std::cout << "the run did not finish within " << o_.timeout_s << " s\n";
    const bool broken =
        out.lost > 0 || out.duplicates > 0 || out.orphans > 0 || out.outbox_failed > 0 || out.timed_out;
    std::cout << (broken ? "verdict: BROKEN — the promise did not hold; data kept in " + dir_ + "\n"
                         : "verdict: every payment has exactly one card\n");
  }

  int64_t CommitFaults() const {
    const chaos::FaultCounters c = consumer_proxy_->Counters();
    auto it = c.faults_by_api.find(kOffsetCommitApi);
    return it == c.faults_by_api.end() ? 0 : it->second;
  }

  void Cleanup(bool broken) {
    if (!remove_dir_ || broken) return;
    relay_.reset();
    payments_.reset();
    card_db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  int Fail(const Status& s) {
    std::cerr << "oncemq demo: " << s.message() << "\n";
    return kExitFailed;
  }

  const DemoOptions o_;
  std::mt19937_64 random_;
  std::string dir_;
  bool remove_dir_ = false;
  std::string bootstrap_;
  std::unique_ptr<demo::DemoBroker> broker_;
  std::unique_ptr<chaos::FaultProxy> proxy_;           // the relay's way to the broker
  std::unique_ptr<chaos::FaultProxy> consumer_proxy_;  // the card services' way
  std::unique_ptr<demo::PaymentService> payments_;
  std::unique_ptr<OutboxRelay> relay_;
  std::unique_ptr<ReliableProducer> upstream_;
  std::shared_ptr<SqlDatabase> card_db_;
  std::vector<CardInstance> cards_;
  std::vector<std::string> finished_stats_;
  std::atomic<bool> stop_writer_{false};
  std::atomic<int64_t> republished_{0};
  int64_t consumer_kills_ = 0;
  int64_t last_consumer_kill_ms_ = 0;
  int64_t last_progress_ms_ = 0;
  int64_t last_cards_ = 0;
};

}  // namespace

void AddDemoCommands(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<DemoOptions>();
  CLI::App* demo = app.add_subcommand(
      "demo",
      "The promise under faults: payments → outbox → broker → idempotent card service, with a report");
  demo->add_option("--payments", o->payments, "Payments to take")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000'000));
  demo->add_option("--dir", o->dir,
                   "Directory for the broker's and services' data (default: a temporary one)");
  demo->add_flag("--keep", o->keep, "Keep the temporary directory");
  demo->add_option(
      "--store", o->store,
      "The card service's dedup store: sqlite:///PATH (default, in --dir), redis://…, postgresql://…, "
      "mysql://…");
  demo->add_option("--bootstrap", o->bootstrap,
                   "Use this broker (HOST:PORT) instead of starting one (no broker kills)");
  demo->add_option("--faults", o->faults, "Inject faults (true/false)")->capture_default_str();
  demo->add_option("--seed", o->seed, "Seed of the fault choices (0: random)");
  demo->add_option("--timeout", o->timeout_s, "Seconds after which the run is declared broken")
      ->capture_default_str();
  demo->add_flag(
      "--break-dedup", o->break_dedup,
      "Self-check: turn the msg-id window off and key the consumer's dedup on offsets; the run must "
      "then report duplicate cards and exit 1");
  demo->add_option("--rate", o->rate, "Payments per second (0: as fast as possible)")->capture_default_str();
  demo->add_option("--consumers", o->consumers, "Card-service processes")
      ->capture_default_str()
      ->check(CLI::Range(1, 8));
  demo->callback([o, exit_code, demo] {
    if (demo->get_subcommands().empty()) *exit_code = Demo(*o).Run();
  });

  auto c = std::make_shared<CardServiceOptions>();
  CLI::App* card =
      demo->add_subcommand("card-service", "The demo's card service (started by the demo itself)");
  card->group("");  // internal: not listed in --help
  card->add_option("--dir", c->dir)->required();
  card->add_option("--bootstrap", c->bootstrap)->required();
  card->add_option("--store", c->store);
  card->add_option("--stats-file", c->stats_file)->required();
  card->add_flag("--key-by-offset", c->key_by_offset);
  card->callback([c, exit_code] { *exit_code = demo::RunCardService(*c); });
}

}  // namespace oncemq::cli
