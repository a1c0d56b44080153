// Consumer groups against the real broker with real librdkafka consumers (kafka-protocol.md §7):
//   1. members joining and leaving: every partition is owned by exactly one member at every moment,
//      and with synchronous commits (also in the revoke callback) every message is consumed exactly
//      once across all rebalances;
//   2. a member killed with SIGKILL: after its session times out its partitions move to the survivor,
//      which gets again exactly the messages the dead member had not committed;
//   3. the broker killed with SIGKILL right after a commit was acknowledged: after a restart the
//      committed offsets are all there and a consumer resumes exactly at them;
//   4. bad group requests on the raw wire get Kafka's error codes, and the broker keeps serving.
// Every wait is a bounded poll on a condition; nothing asserts on elapsed time.
//
// Case 2 runs the member to be killed as a separate process: this binary re-executed with
// `--group-member-helper` (see HelperMain), which reports what it consumed and committed in a file.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/broker_process.h"
#include "support/group_wire.h"
#include "support/kafka_wire.h"
#include "support/raw_client.h"
#include "support/rdkafka_util.h"

namespace oncemq::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

constexpr auto kBound = seconds(60);  // the overall bound on every wait for a condition
constexpr char kHelperFlag[] = "--group-member-helper";

// Brokers for these tests let members use short sessions and form the first generation at once.
std::vector<std::string> GroupBrokerArgs(int partitions) {
  return {"--partitions",
          std::to_string(partitions),
          "--group-initial-rebalance-delay-ms",
          "0",
          "--group-min-session-timeout-ms",
          "1000"};
}

// Polls `done` every 20 ms until it holds or `bound` passes. True if it held.
bool WaitFor(const std::function<bool()>& done, Clock::duration bound = kBound) {
  auto deadline = Clock::now() + bound;
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

std::string Payload(int64_t seq) {
  return "cg-" + std::to_string(seq);
}

std::string Join(const std::set<int32_t>& partitions) {
  std::string out;
  for (int32_t p : partitions) out += (out.empty() ? "" : ",") + std::to_string(p);
  return "{" + out + "}";
}

// ---------------------------------------------------------------------------------------------------
// Producing numbered messages.

struct Produced {
  int32_t partition = -1;
  int64_t offset = -1;
  std::string payload;
};

class DeliveryRecorder : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    if (m.err() != RdKafka::ERR_NO_ERROR) {
      ++failed;
      return;
    }
    delivered.push_back(
        {m.partition(), m.offset(), std::string(static_cast<const char*>(m.payload()), m.len())});
  }
  std::vector<Produced> delivered;
  int failed = 0;
};

// Produces messages first..first+count-1 (message i to partition i % partitions) with acks=all and
// waits for every delivery report. Appends them to *out; returns "" or what went wrong.
std::string ProduceNumbered(const std::string& address, const std::string& topic, int partitions,
                            int64_t first, int64_t count, std::vector<Produced>* out) {
  std::string error;
  DeliveryRecorder recorder;
  auto conf = MakeRdKafkaConf({{"bootstrap.servers", address}, {"acks", "all"}, {"linger.ms", "5"}}, &error);
  if (conf == nullptr) return error;
  if (conf->set("dr_cb", &recorder, error) != RdKafka::Conf::CONF_OK) return error;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  if (producer == nullptr) return "producer: " + error;
  for (int64_t i = first; i < first + count; ++i) {
    std::string payload = Payload(i);
    RdKafka::ErrorCode err =
        producer->produce(topic, static_cast<int32_t>(i % partitions), RdKafka::Producer::RK_MSG_COPY,
                          payload.data(), payload.size(), nullptr, 0, 0, nullptr);
    if (err != RdKafka::ERR_NO_ERROR) return "produce: " + RdKafka::err2str(err);
    producer->poll(0);
  }
  auto deadline = Clock::now() + kBound;
  while (producer->outq_len() > 0 && Clock::now() < deadline) producer->flush(200);
  if (producer->outq_len() > 0) return "messages still unacknowledged after the bound";
  if (recorder.failed > 0) return std::to_string(recorder.failed) + " deliveries failed";
  out->insert(out->end(), recorder.delivered.begin(), recorder.delivered.end());
  return "";
}

// Creates `topic` through a Metadata request that allows auto-creation; returns its partition count.
int EnsureTopic(const BrokerProcess& broker, const std::string& topic, std::string* error) {
  auto conn = RawConnection::Connect(broker.host(), broker.port(), error);
  if (!conn) return -1;
  CallResult md = Call(*conn, api::kMetadata, 4, MetadataV4Body(std::vector<std::string>{topic}, true));
  MetadataResponse metadata;
  if (md.outcome != ReadOutcome::kFrame || !ParseMetadataV4(md.body, &metadata)) {
    *error = "Metadata v4: " + md.Describe();
    return -1;
  }
  const auto* t = metadata.Find(topic);
  if (t == nullptr || t->error_code != 0) {
    *error = "topic " + topic + " was not created";
    return -1;
  }
  return static_cast<int>(t->partitions.size());
}

// The group's committed offsets per partition of `topic` as OffsetFetch v5 reports them (-1 = none).
std::map<int32_t, int64_t> FetchCommitted(const BrokerProcess& broker, const std::string& group,
                                          const std::string& topic, int partitions, std::string* error) {
  std::map<int32_t, int64_t> out;
  auto conn = RawConnection::Connect(broker.host(), broker.port(), error);
  if (!conn) return out;
  GroupClient client(std::move(conn));
  std::vector<std::pair<std::string, int32_t>> wanted;
  for (int32_t p = 0; p < partitions; ++p) wanted.emplace_back(topic, p);
  OffsetFetchResponse resp;
  if (!client.OffsetFetch(group, wanted, &resp, error)) return out;
  for (const auto& p : resp.partitions) out[p.partition] = p.error_code == 0 ? p.offset : -2;
  return out;
}

// ---------------------------------------------------------------------------------------------------
// In-process group members and what they saw.

// Shared by the members of one group: who owns which partition, every consumed message, and every
// broken invariant. Thread safety: all methods lock.
class Ledger {
 public:
  void Assigned(int member, const std::set<int32_t>& partitions) {
    std::lock_guard lock(mu_);
    for (const auto& [other, owned] : owned_) {
      if (other == member) continue;
      for (int32_t p : partitions) {
        if (owned.contains(p)) {
          violations_.push_back("member " + std::to_string(member) + " was assigned partition " +
                                std::to_string(p) + " while member " + std::to_string(other) + " owned it");
        }
      }
    }
    owned_[member] = partitions;
  }
  void Revoked(int member) {
    std::lock_guard lock(mu_);
    owned_[member].clear();
  }
  void Consumed(int member, int32_t partition, int64_t offset, std::string payload) {
    std::lock_guard lock(mu_);
    consumed_[{partition, offset}].push_back({member, std::move(payload)});
    ++total_;
  }
  void Violation(std::string what) {
    std::lock_guard lock(mu_);
    violations_.push_back(std::move(what));
  }
  void Note(std::string what) {
    std::lock_guard lock(mu_);
    if (notes_.size() < 50) notes_.push_back(std::move(what));
  }

  std::set<int32_t> Owned(int member) const {
    std::lock_guard lock(mu_);
    auto it = owned_.find(member);
    return it == owned_.end() ? std::set<int32_t>{} : it->second;
  }
  // Every live member owns at least one partition, together they own all `partitions`, and members
  // that are gone own none.
  bool Settled(const std::set<int>& live, int partitions) const {
    std::lock_guard lock(mu_);
    std::set<int32_t> all;
    for (const auto& [member, owned] : owned_) {
      if (!live.contains(member) && !owned.empty()) return false;
    }
    for (int member : live) {
      auto it = owned_.find(member);
      if (it == owned_.end() || it->second.empty()) return false;
      all.insert(it->second.begin(), it->second.end());
    }
    return static_cast<int>(all.size()) == partitions;
  }
  std::string Ownership() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& [member, owned] : owned_) out += " member " + std::to_string(member) + "=" + Join(owned);
    return out;
  }
  int64_t total() const {
    std::lock_guard lock(mu_);
    return total_;
  }
  // Whether every message in `produced` has been consumed at least once.
  bool ConsumedAll(const std::vector<Produced>& produced) const {
    std::lock_guard lock(mu_);
    for (const auto& m : produced) {
      if (!consumed_.contains({m.partition, m.offset})) return false;
    }
    return true;
  }
  // Which members consumed (partition, offset), in order.
  std::vector<int> ConsumersOf(int32_t partition, int64_t offset) const {
    std::lock_guard lock(mu_);
    std::vector<int> out;
    auto it = consumed_.find({partition, offset});
    if (it != consumed_.end()) {
      for (const auto& [member, payload] : it->second) out.push_back(member);
    }
    return out;
  }

  // "" when every message of `produced` was consumed exactly once with its payload and nothing else
  // was consumed; otherwise up to 20 discrepancies.
  std::string ExactlyOnceReport(const std::vector<Produced>& produced) const {
    std::lock_guard lock(mu_);
    std::vector<std::string> problems;
    std::set<std::pair<int32_t, int64_t>> expected;
    for (const auto& m : produced) {
      expected.insert({m.partition, m.offset});
      auto it = consumed_.find({m.partition, m.offset});
      std::string where = "partition " + std::to_string(m.partition) + " offset " + std::to_string(m.offset);
      if (it == consumed_.end()) {
        problems.push_back(where + " (" + m.payload + ") was never consumed");
        continue;
      }
      if (it->second.size() != 1) {
        std::string by;
        for (const auto& [member, payload] : it->second) by += " " + std::to_string(member);
        problems.push_back(where + " consumed " + std::to_string(it->second.size()) + " times, by members" +
                           by);
      }
      for (const auto& [member, payload] : it->second) {
        if (payload != m.payload)
          problems.push_back(where + " returned '" + payload + "', sent '" + m.payload + "'");
      }
    }
    for (const auto& [key, who] : consumed_) {
      if (!expected.contains(key)) {
        problems.push_back("partition " + std::to_string(key.first) + " offset " +
                           std::to_string(key.second) + " consumed but never produced");
      }
    }
    std::string out;
    for (size_t i = 0; i < problems.size() && i < 20; ++i) out += "\n  " + problems[i];
    if (problems.size() > 20) out += "\n  ... and " + std::to_string(problems.size() - 20) + " more";
    return out;
  }
  std::string Violations() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& v : violations_) out += "\n  " + v;
    return out;
  }
  std::string Notes() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& n : notes_) out += "\n  " + n;
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::map<int, std::set<int32_t>> owned_;
  std::map<std::pair<int32_t, int64_t>, std::vector<std::pair<int, std::string>>> consumed_;
  int64_t total_ = 0;
  std::vector<std::string> violations_;
  std::vector<std::string> notes_;
};

// One KafkaConsumer in a group, polled by its own thread, with enable.auto.commit=false. It commits the
// offsets it has processed synchronously every kCommitEvery messages and in the revoke callback before
// giving its partitions up — so a partition's next owner starts exactly after the last message processed
// here. kCommitEvery divides none of the per-member message counts, so at every rebalance some processed
// messages are committed only by the revoke callback (while the group is rebalancing). A failed commit
// is a violation.
class Member : public RdKafka::RebalanceCb {
 public:
  static constexpr int kCommitEvery = 70;

  Member(int id, Ledger* ledger) : id_(id), ledger_(ledger) {}
  ~Member() override { Close(); }

  // Creates the consumer, subscribes and starts polling. `props` are added to (and override) the
  // defaults below.
  [[nodiscard]] bool Start(const std::string& address, const std::string& group, const std::string& topic,
                           const std::map<std::string, std::string>& props, std::string* error) {
    std::map<std::string, std::string> all = {{"bootstrap.servers", address},
                                              {"group.id", group},
                                              {"client.id", "member-" + std::to_string(id_)},
                                              {"enable.auto.commit", "false"},
                                              {"auto.offset.reset", "earliest"},
                                              {"session.timeout.ms", "6000"},
                                              {"heartbeat.interval.ms", "500"}};
    for (const auto& [k, v] : props) all[k] = v;
    auto conf = MakeRdKafkaConf(all, error);
    if (conf == nullptr) return false;
    if (conf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(this), *error) != RdKafka::Conf::CONF_OK)
      return false;
    topic_ = topic;
    consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), *error));
    if (consumer_ == nullptr) return false;
    RdKafka::ErrorCode err = consumer_->subscribe({topic});
    if (err != RdKafka::ERR_NO_ERROR) {
      *error = "subscribe: " + RdKafka::err2str(err);
      return false;
    }
    thread_ = std::thread([this] { Run(); });
    return true;
  }

  // Stops polling and closes the consumer cleanly (revoke callback, then LeaveGroup). Idempotent.
  void Close() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      std::set<int32_t> owned;
      for (const auto* tp : partitions) owned.insert(tp->partition());
      ledger_->Assigned(id_, owned);
      ledger_->Note("member " + std::to_string(id_) + " assigned " + Join(owned));
      consumer->assign(partitions);
      return;
    }
    if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
      CommitProcessed("revoke");
      processed_.clear();     // anything left failed to commit and is already a violation
      ledger_->Revoked(id_);  // before unassign: the next owner cannot be assigned before that
      consumer->unassign();
      return;
    }
    ledger_->Violation("member " + std::to_string(id_) + " rebalance error " + RdKafka::err2str(err));
    consumer->unassign();
  }

 private:
  void Run() {
    int since_commit = 0;
    while (!stop_.load()) {
      std::unique_ptr<RdKafka::Message> msg(consumer_->consume(100));
      if (msg->err() == RdKafka::ERR__TIMED_OUT || msg->err() == RdKafka::ERR__PARTITION_EOF) continue;
      if (msg->err() != RdKafka::ERR_NO_ERROR) {
        ledger_->Note("member " + std::to_string(id_) + " consume error: " + msg->errstr());
        continue;
      }
      ledger_->Consumed(id_, msg->partition(), msg->offset(),
                        std::string(static_cast<const char*>(msg->payload()), msg->len()));
      processed_[msg->partition()] = msg->offset() + 1;
      if (++since_commit >= kCommitEvery) {
        CommitProcessed("batch");
        since_commit = 0;
      }
    }
    consumer_->close();  // runs the revoke callback on this thread, then leaves the group
  }

  // Commits the processed offsets synchronously. Runs on the member's thread only.
  void CommitProcessed(const char* why) {
    if (processed_.empty()) return;
    std::vector<RdKafka::TopicPartition*> offsets;
    for (const auto& [p, next] : processed_) {
      offsets.push_back(RdKafka::TopicPartition::create(topic_, p, next));
    }
    RdKafka::ErrorCode err = consumer_->commitSync(offsets);
    std::string failed;
    if (err != RdKafka::ERR_NO_ERROR) failed = RdKafka::err2str(err);
    for (const auto* tp : offsets) {
      if (tp->err() != RdKafka::ERR_NO_ERROR) {
        failed += " partition " + std::to_string(tp->partition()) + ": " + RdKafka::err2str(tp->err());
      }
    }
    RdKafka::TopicPartition::destroy(offsets);
    if (failed.empty()) {
      processed_.clear();
    } else {
      ledger_->Violation("member " + std::to_string(id_) + " " + why + " commit failed: " + failed);
    }
  }

  const int id_;
  Ledger* const ledger_;
  std::string topic_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;  // closed by Run(), deleted after the thread
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::map<int32_t, int64_t> processed_;  // partition -> next offset to commit; member thread only
};

// ---------------------------------------------------------------------------------------------------
// The separate-process member (case 2).

// Runs in the helper process: joins `group` on `topic`, commits (synchronously) only messages at
// offsets below `commit_below` and keeps consuming without committing after that. Appends
//   "assigned P P ...", "revoked", "consumed P O", "committed P NEXT"
// lines to `report`, each flushed as written. Exits after 300 s at most (the test kills it sooner).
class HelperRebalance : public RdKafka::RebalanceCb {
 public:
  explicit HelperRebalance(FILE* report) : report_(report) {}
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      std::fprintf(report_, "assigned");
      for (const auto* tp : partitions) std::fprintf(report_, " %d", tp->partition());
      std::fprintf(report_, "\n");
      std::fflush(report_);
      consumer->assign(partitions);
    } else {
      std::fprintf(report_, "revoked\n");
      std::fflush(report_);
      consumer->unassign();
    }
  }

 private:
  FILE* report_;
};

int HelperMain(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s %s ADDRESS GROUP TOPIC COMMIT_BELOW REPORT\n", argv[0], kHelperFlag);
    return 2;
  }
  const std::string address = argv[2], group = argv[3], topic = argv[4];
  const int64_t commit_below = std::strtoll(argv[5], nullptr, 10);
  FILE* report = std::fopen(argv[6], "a");
  if (report == nullptr) return 3;
  HelperRebalance rebalance(report);
  std::string error;
  auto conf = MakeRdKafkaConf({{"bootstrap.servers", address},
                               {"group.id", group},
                               {"client.id", "helper"},
                               {"enable.auto.commit", "false"},
                               {"auto.offset.reset", "earliest"},
                               // Killed on purpose: short enough that the survivor takes over soon, long
                               // enough that a starved machine does not expire it before the kill.
                               {"session.timeout.ms", "6000"},
                               {"heartbeat.interval.ms", "500"}},
                              &error);
  if (conf == nullptr || conf->set("rebalance_cb", &rebalance, error) != RdKafka::Conf::CONF_OK) {
    std::fprintf(stderr, "helper config: %s\n", error.c_str());
    return 4;
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (consumer == nullptr || consumer->subscribe({topic}) != RdKafka::ERR_NO_ERROR) {
    std::fprintf(stderr, "helper consumer: %s\n", error.c_str());
    return 5;
  }
  auto deadline = Clock::now() + seconds(300);
  while (Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> msg(consumer->consume(100));
    if (msg->err() != RdKafka::ERR_NO_ERROR) continue;
    std::fprintf(report, "consumed %d %lld\n", msg->partition(), static_cast<long long>(msg->offset()));
    std::fflush(report);
    if (msg->offset() >= commit_below) continue;
    std::vector<RdKafka::TopicPartition*> offsets{
        RdKafka::TopicPartition::create(topic, msg->partition(), msg->offset() + 1)};
    if (consumer->commitSync(offsets) == RdKafka::ERR_NO_ERROR &&
        offsets[0]->err() == RdKafka::ERR_NO_ERROR) {
      std::fprintf(report, "committed %d %lld\n", msg->partition(),
                   static_cast<long long>(msg->offset() + 1));
      std::fflush(report);
    }
    RdKafka::TopicPartition::destroy(offsets);
  }
  consumer->close();
  return 0;
}

// What the helper has reported so far.
struct HelperView {
  std::set<int32_t> assigned;                     // its latest assignment
  std::map<int32_t, std::set<int64_t>> consumed;  // partition -> offsets
  std::map<int32_t, int64_t> committed;           // partition -> highest committed next offset
};

HelperView ReadHelperReport(const std::string& path) {
  HelperView view;
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  text.resize(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);  // whole lines only
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string what;
    words >> what;
    int32_t p = 0;
    int64_t o = 0;
    if (what == "assigned") {
      view.assigned.clear();
      while (words >> p) view.assigned.insert(p);
    } else if (what == "revoked") {
      view.assigned.clear();
    } else if (what == "consumed" && (words >> p >> o)) {
      view.consumed[p].insert(o);
    } else if (what == "committed" && (words >> p >> o)) {
      view.committed[p] = std::max(view.committed[p], o);
    }
  }
  return view;
}

// A child process running HelperMain; SIGKILLed and reaped by the destructor if still running.
class HelperProcess {
 public:
  HelperProcess() = default;
  ~HelperProcess() { Kill(); }
  HelperProcess(const HelperProcess&) = delete;
  HelperProcess& operator=(const HelperProcess&) = delete;

  [[nodiscard]] bool Start(const std::vector<std::string>& args, std::string* error) {
    std::vector<std::string> all = {"/proc/self/exe", kHelperFlag};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) {
      *error = "fork failed";
      return false;
    }
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    return true;
  }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  bool Running() {
    if (pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == pid_) pid_ = -1;
    return pid_ > 0;
  }

 private:
  pid_t pid_ = -1;
};

// ---------------------------------------------------------------------------------------------------

class ConsumerGroupTest : public ::testing::Test {
 protected:
  void StartBroker(int partitions) {
    broker_ = std::make_unique<BrokerProcess>(GroupBrokerArgs(partitions));
    std::string error;
    ASSERT_TRUE(broker_->Start(&error)) << error;
  }
  void TearDown() override {
    if (broker_ == nullptr) return;
    if (HasFailure()) std::fprintf(stderr, "--- broker log tail ---\n%s\n", broker_->LogTail(8000).c_str());
    if (broker_->Running()) {
      EXPECT_EQ(broker_->Terminate(), 0) << "SIGTERM must exit 0";
    }
  }
  std::unique_ptr<BrokerProcess> broker_;
};

// Case 1.
TEST_F(ConsumerGroupTest, MembersJoiningAndLeavingConsumeEveryMessageExactlyOnce) {
  constexpr int kPartitions = 6;
  constexpr int64_t kChunk = 600;
  const std::string topic = "members", group = "members-group";
  ASSERT_NO_FATAL_FAILURE(StartBroker(kPartitions));
  std::string error;
  ASSERT_EQ(EnsureTopic(*broker_, topic, &error), kPartitions) << error;

  std::vector<Produced> produced;
  ASSERT_EQ(ProduceNumbered(broker_->address(), topic, kPartitions, 0, kChunk, &produced), "");

  Ledger ledger;
  std::vector<std::unique_ptr<Member>> members;
  for (int id = 0; id < 4; ++id) members.push_back(std::make_unique<Member>(id, &ledger));
  auto diagnostics = [&] {
    return "\nownership:" + ledger.Ownership() + "\nviolations:" + ledger.Violations() +
           "\nevents:" + ledger.Notes();
  };

  // Three members: every partition gets exactly one owner.
  for (int id = 0; id < 3; ++id)
    ASSERT_TRUE(members[id]->Start(broker_->address(), group, topic, {}, &error)) << error;
  ASSERT_TRUE(WaitFor([&] {
    return ledger.Settled({0, 1, 2}, kPartitions);
  })) << "three members never owned all partitions between them"
      << diagnostics();
  ASSERT_TRUE(WaitFor([&] { return ledger.ConsumedAll(produced); }))
      << "first chunk not consumed" << diagnostics();

  // A fourth joins while a new chunk is being consumed: partitions move, still one owner each.
  ASSERT_EQ(ProduceNumbered(broker_->address(), topic, kPartitions, kChunk, kChunk, &produced), "");
  ASSERT_TRUE(members[3]->Start(broker_->address(), group, topic, {}, &error)) << error;
  ASSERT_TRUE(WaitFor([&] {
    return ledger.Settled({0, 1, 2, 3}, kPartitions);
  })) << "the fourth member never got a share"
      << diagnostics();
  ASSERT_TRUE(WaitFor([&] { return ledger.ConsumedAll(produced); }))
      << "second chunk not consumed" << diagnostics();

  // One leaves cleanly while a third chunk is being consumed: its partitions go to the others.
  ASSERT_EQ(ProduceNumbered(broker_->address(), topic, kPartitions, 2 * kChunk, kChunk, &produced), "");
  const std::set<int32_t> leaver_owned = ledger.Owned(1);
  EXPECT_FALSE(leaver_owned.empty());
  members[1]->Close();
  ASSERT_TRUE(WaitFor([&] {
    return ledger.Settled({0, 2, 3}, kPartitions);
  })) << "the partitions of the member that left were not taken over"
      << diagnostics();
  ASSERT_TRUE(WaitFor([&] { return ledger.ConsumedAll(produced); }))
      << "third chunk not consumed" << diagnostics();

  // Closing revokes, and the revoke callback commits the rest: the group's offsets are the log ends.
  for (auto& m : members) m->Close();
  std::map<int32_t, int64_t> end;
  for (const auto& m : produced) end[m.partition] = std::max(end[m.partition], m.offset + 1);
  EXPECT_EQ(FetchCommitted(*broker_, group, topic, kPartitions, &error), end) << error;
  EXPECT_EQ(ledger.Violations(), "") << diagnostics();
  EXPECT_EQ(ledger.ExactlyOnceReport(produced), "") << diagnostics();
  EXPECT_EQ(ledger.total(), static_cast<int64_t>(produced.size()));
}

// Case 2.
TEST_F(ConsumerGroupTest, KilledMembersUncommittedMessagesGoToTheSurvivor) {
  constexpr int kPartitions = 4;
  constexpr int64_t kPerPartition = 50;
  constexpr int64_t kHelperCommits = 10;  // the helper commits offsets 0..9 of each partition, no more
  const std::string topic = "killed", group = "killed-group";
  ASSERT_NO_FATAL_FAILURE(StartBroker(kPartitions));
  std::string error;
  ASSERT_EQ(EnsureTopic(*broker_, topic, &error), kPartitions) << error;

  const std::string report = broker_->work_dir() + "/helper-report.txt";
  HelperProcess helper;
  ASSERT_TRUE(
      helper.Start({broker_->address(), group, topic, std::to_string(kHelperCommits), report}, &error))
      << error;
  Ledger ledger;
  Member survivor(0, &ledger);
  ASSERT_TRUE(survivor.Start(broker_->address(), group, topic, {{"session.timeout.ms", "10000"}}, &error))
      << error;

  // Both own a share before anything is produced.
  HelperView helper_view;
  ASSERT_TRUE(WaitFor([&] {
    helper_view = ReadHelperReport(report);
    std::set<int32_t> mine = ledger.Owned(0), all = mine;
    all.insert(helper_view.assigned.begin(), helper_view.assigned.end());
    return !mine.empty() && !helper_view.assigned.empty() &&
           all.size() == mine.size() + helper_view.assigned.size() &&
           static_cast<int>(all.size()) == kPartitions;
  })) << "helper and survivor never split the partitions; helper has "
      << Join(helper_view.assigned) << ", survivor has " << Join(ledger.Owned(0))
      << "; helper running: " << helper.Running() << ledger.Notes();
  const std::set<int32_t> helper_partitions = helper_view.assigned;
  const std::set<int32_t> survivor_partitions = ledger.Owned(0);

  std::vector<Produced> produced;
  ASSERT_EQ(
      ProduceNumbered(broker_->address(), topic, kPartitions, 0, kPartitions * kPerPartition, &produced), "");

  // The helper consumes everything on its partitions but commits only the first kHelperCommits; the
  // survivor consumes its own share.
  ASSERT_TRUE(WaitFor([&] {
    helper_view = ReadHelperReport(report);
    for (int32_t p : helper_partitions) {
      if (helper_view.consumed[p].size() != static_cast<size_t>(kPerPartition)) return false;
      if (helper_view.committed[p] != kHelperCommits) return false;
    }
    return true;
  })) << "the helper did not consume all of and commit part of its partitions";
  ASSERT_EQ(helper_view.assigned, helper_partitions) << "a rebalance happened before the kill";
  ASSERT_TRUE(WaitFor([&] {
    for (int32_t p : survivor_partitions) {
      if (ledger.ConsumersOf(p, kPerPartition - 1).empty()) return false;
    }
    return true;
  })) << "the survivor did not consume its own partitions"
      << ledger.Notes();

  helper.Kill();  // SIGKILL: no LeaveGroup, no commit

  // After the helper's session times out the survivor owns everything and reads the helper's
  // uncommitted tail.
  ASSERT_TRUE(WaitFor([&] {
    if (static_cast<int>(ledger.Owned(0).size()) != kPartitions) return false;
    for (int32_t p : helper_partitions) {
      if (ledger.ConsumersOf(p, kPerPartition - 1).empty()) return false;
    }
    return true;
  })) << "the killed member's partitions never moved to the survivor; survivor owns "
      << Join(ledger.Owned(0)) << ledger.Notes();

  for (int32_t p : helper_partitions) {
    for (int64_t o = 0; o < kPerPartition; ++o) {
      size_t expected = o < kHelperCommits ? 0 : 1;  // committed: never again; uncommitted: once more
      EXPECT_EQ(ledger.ConsumersOf(p, o).size(), expected)
          << "partition " << p << " offset " << o << " (helper committed up to " << kHelperCommits << ")";
    }
  }
  for (int32_t p : survivor_partitions) {
    for (int64_t o = 0; o < kPerPartition; ++o) {
      EXPECT_EQ(ledger.ConsumersOf(p, o).size(), 1u) << "survivor's own partition " << p << " offset " << o;
    }
  }
  survivor.Close();
  EXPECT_EQ(ledger.Violations(), "");
}

// Case 3.
TEST_F(ConsumerGroupTest, CommittedOffsetsSurviveBrokerSigkillAndConsumerResumesThere) {
  constexpr int kPartitions = 3;
  constexpr int64_t kPerPartition = 100;
  const std::map<int32_t, int64_t> commit = {{0, 40}, {1, 25}, {2, 71}};
  const std::string topic = "resume", group = "resume-group";
  ASSERT_NO_FATAL_FAILURE(StartBroker(kPartitions));
  std::string error;
  ASSERT_EQ(EnsureTopic(*broker_, topic, &error), kPartitions) << error;
  std::vector<Produced> produced;
  ASSERT_EQ(
      ProduceNumbered(broker_->address(), topic, kPartitions, 0, kPartitions * kPerPartition, &produced), "");

  auto consumer_conf = [&](const std::string& client_id) {
    return MakeRdKafkaConf({{"bootstrap.servers", broker_->address()},
                            {"group.id", group},
                            {"client.id", client_id},
                            {"enable.auto.commit", "false"},
                            {"auto.offset.reset", "earliest"},
                            {"session.timeout.ms", "3000"},
                            {"heartbeat.interval.ms", "500"},
                            {"reconnect.backoff.ms", "20"},
                            {"reconnect.backoff.max.ms", "200"}},
                           &error);
  };

  // A group member reads everything, commits the chosen offsets and the broker dies right after the
  // commit is acknowledged.
  {
    auto conf = consumer_conf("before-crash");
    ASSERT_NE(conf, nullptr) << error;
    ConsumerPtr first(RdKafka::KafkaConsumer::create(conf.get(), error));
    ASSERT_NE(first, nullptr) << error;
    ASSERT_EQ(first->subscribe({topic}), RdKafka::ERR_NO_ERROR);
    int64_t consumed = 0;
    auto deadline = Clock::now() + kBound;
    while (consumed < kPartitions * kPerPartition && Clock::now() < deadline) {
      std::unique_ptr<RdKafka::Message> msg(first->consume(100));
      if (msg->err() == RdKafka::ERR_NO_ERROR) ++consumed;
    }
    ASSERT_EQ(consumed, kPartitions * kPerPartition);
    std::vector<RdKafka::TopicPartition*> offsets;
    for (const auto& [p, o] : commit) offsets.push_back(RdKafka::TopicPartition::create(topic, p, o));
    RdKafka::ErrorCode err = first->commitSync(offsets);
    for (const auto* tp : offsets)
      EXPECT_EQ(tp->err(), RdKafka::ERR_NO_ERROR) << "partition " << tp->partition();
    RdKafka::TopicPartition::destroy(offsets);
    ASSERT_EQ(err, RdKafka::ERR_NO_ERROR) << RdKafka::err2str(err);

    ASSERT_TRUE(broker_->Kill());
    ASSERT_TRUE(broker_->Restart(&error)) << error;
    // `first` rejoins the restarted broker and then leaves cleanly on destruction (it never commits).
  }

  std::map<int32_t, int64_t> fetched = FetchCommitted(*broker_, group, topic, kPartitions, &error);
  EXPECT_EQ(fetched, commit) << "OffsetFetch after the restart " << error;

  // A new member sees the same committed offsets and resumes exactly there.
  auto conf = consumer_conf("after-crash");
  ASSERT_NE(conf, nullptr) << error;
  ConsumerPtr second(RdKafka::KafkaConsumer::create(conf.get(), error));
  ASSERT_NE(second, nullptr) << error;
  std::vector<RdKafka::TopicPartition*> query;
  for (int32_t p = 0; p < kPartitions; ++p) query.push_back(RdKafka::TopicPartition::create(topic, p));
  ASSERT_EQ(second->committed(query, 10000), RdKafka::ERR_NO_ERROR);
  std::map<int32_t, int64_t> via_client;
  for (const auto* tp : query) via_client[tp->partition()] = tp->offset();
  RdKafka::TopicPartition::destroy(query);
  EXPECT_EQ(via_client, commit) << "KafkaConsumer::committed() after the restart";

  ASSERT_EQ(second->subscribe({topic}), RdKafka::ERR_NO_ERROR);
  std::map<int32_t, std::vector<int64_t>> got;
  auto done = [&] {
    for (int32_t p = 0; p < kPartitions; ++p) {
      if (got[p].empty() || got[p].back() != kPerPartition - 1) return false;
    }
    return true;
  };
  auto deadline = Clock::now() + kBound;
  while (!done() && Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> msg(second->consume(100));
    if (msg->err() == RdKafka::ERR_NO_ERROR) got[msg->partition()].push_back(msg->offset());
  }
  ASSERT_TRUE(done()) << "the resumed consumer did not reach the end of every partition";
  for (const auto& [p, from] : commit) {
    std::vector<int64_t> expected;
    for (int64_t o = from; o < kPerPartition; ++o) expected.push_back(o);
    EXPECT_EQ(got[p], expected) << "partition " << p << " must resume at the committed offset " << from;
  }
}

// Case 4.
TEST_F(ConsumerGroupTest, BadGroupRequestsGetKafkaErrorsAndTheBrokerKeepsServing) {
  const std::string topic = "wire", group = "wire-group";
  ASSERT_NO_FATAL_FAILURE(StartBroker(2));
  std::string error;
  ASSERT_EQ(EnsureTopic(*broker_, topic, &error), 2) << error;
  std::vector<Produced> produced;
  ASSERT_EQ(ProduceNumbered(broker_->address(), topic, 1, 0, 10, &produced), "");  // all to partition 0
  auto conn = RawConnection::Connect(broker_->host(), broker_->port(), &error);
  ASSERT_NE(conn, nullptr) << error;
  GroupClient client(std::move(conn));

  // FindCoordinator: a group gets this broker; a transaction coordinator is not available.
  FindCoordinatorResponse fc;
  ASSERT_TRUE(client.FindCoordinator(group, 0, &fc, &error)) << error;
  EXPECT_EQ(fc.error_code, kerr::kNone);
  EXPECT_EQ(fc.host, broker_->host());
  EXPECT_EQ(fc.port, broker_->port());
  fc = {};
  ASSERT_TRUE(client.FindCoordinator("some-transactional-id", 1, &fc, &error)) << error;
  EXPECT_EQ(fc.error_code, kerr::kCoordinatorNotAvailable);

  JoinGroupRequest join;
  join.group_id = group;
  join.protocols = {{"range", ConsumerSubscriptionV0({topic})}};

  // Session timeouts outside [1000, max] are refused.
  for (int32_t session : {999, 1'800'001}) {
    JoinGroupResponse jr;
    join.session_timeout_ms = session;
    ASSERT_TRUE(client.JoinGroup(join, &jr, &error)) << error;
    EXPECT_EQ(jr.error_code, kerr::kInvalidSessionTimeout) << "session timeout " << session;
  }
  join.session_timeout_ms = 10000;

  // An unknown member id on an unknown group.
  {
    JoinGroupRequest unknown = join;
    unknown.member_id = "nobody";
    JoinGroupResponse jr;
    ASSERT_TRUE(client.JoinGroup(unknown, &jr, &error)) << error;
    EXPECT_EQ(jr.error_code, kerr::kUnknownMemberId);
  }

  // v5 without a member id: MEMBER_ID_REQUIRED with an id to come back with (KIP-394).
  JoinGroupResponse jr;
  ASSERT_TRUE(client.JoinGroup(join, &jr, &error)) << error;
  ASSERT_EQ(jr.error_code, kerr::kMemberIdRequired);
  ASSERT_FALSE(jr.member_id.empty());
  EXPECT_EQ(jr.generation_id, -1);
  const std::string member = jr.member_id;

  // Joining with it forms generation 1 with this member as leader; SyncGroup hands back the assignment.
  join.member_id = member;
  jr = {};
  ASSERT_TRUE(client.JoinGroup(join, &jr, &error)) << error;
  ASSERT_EQ(jr.error_code, kerr::kNone);
  EXPECT_EQ(jr.member_id, member);
  EXPECT_EQ(jr.leader, member);
  EXPECT_EQ(jr.protocol_name, "range");
  ASSERT_EQ(jr.members.size(), 1u);
  EXPECT_EQ(jr.members[0].second, ConsumerSubscriptionV0({topic}));
  const int32_t gen1 = jr.generation_id;
  const Bytes assignment = ConsumerAssignmentV0(topic, {0, 1});
  SyncGroupResponse sr;
  ASSERT_TRUE(client.SyncGroup(group, gen1, member, {{member, assignment}}, &sr, &error)) << error;
  ASSERT_EQ(sr.error_code, kerr::kNone);
  EXPECT_EQ(sr.assignment, assignment);

  // The leader joins again: a new generation, which makes gen1 stale.
  jr = {};
  ASSERT_TRUE(client.JoinGroup(join, &jr, &error)) << error;
  ASSERT_EQ(jr.error_code, kerr::kNone);
  const int32_t gen2 = jr.generation_id;
  ASSERT_GT(gen2, gen1);
  sr = {};
  ASSERT_TRUE(client.SyncGroup(group, gen2, member, {{member, assignment}}, &sr, &error)) << error;
  ASSERT_EQ(sr.error_code, kerr::kNone);

  int16_t code = -1;
  ASSERT_TRUE(client.Heartbeat(group, gen2, member, &code, &error)) << error;
  EXPECT_EQ(code, kerr::kNone);
  ASSERT_TRUE(client.Heartbeat(group, gen1, member, &code, &error)) << error;
  EXPECT_EQ(code, kerr::kIllegalGeneration) << "Heartbeat from a stale generation";
  ASSERT_TRUE(client.Heartbeat(group, gen2, "ghost", &code, &error)) << error;
  EXPECT_EQ(code, kerr::kUnknownMemberId) << "Heartbeat from an unknown member";

  auto commit = [&](int32_t generation, const std::string& member_id, int64_t offset) -> int16_t {
    std::vector<PartitionError> errors;
    std::string e;
    if (!client.OffsetCommit(group, generation, member_id,
                             {{topic, 0, offset, "m-" + std::to_string(offset)}}, &errors, &e)) {
      ADD_FAILURE() << e;
      return -999;
    }
    if (errors.size() != 1 || errors[0].topic != topic || errors[0].partition != 0) {
      ADD_FAILURE() << "OffsetCommit answered " << errors.size() << " partitions";
      return -999;
    }
    return errors[0].error_code;
  };
  auto fetch = [&]() -> std::optional<FetchedOffset> {
    OffsetFetchResponse resp;
    std::string e;
    if (!client.OffsetFetch(group, std::vector<std::pair<std::string, int32_t>>{{topic, 0}}, &resp, &e)) {
      ADD_FAILURE() << e;
      return std::nullopt;
    }
    EXPECT_EQ(resp.error_code, kerr::kNone);
    const FetchedOffset* p = resp.Find(topic, 0);
    if (p == nullptr) return std::nullopt;
    return *p;
  };

  EXPECT_EQ(commit(gen2, member, 4), kerr::kNone);
  EXPECT_EQ(commit(gen1, member, 5), kerr::kIllegalGeneration) << "OffsetCommit from a stale generation";
  EXPECT_EQ(commit(gen2, "ghost", 6), kerr::kUnknownMemberId) << "OffsetCommit from an unknown member";
  EXPECT_EQ(commit(-1, "", 7), kerr::kUnknownMemberId) << "a simple commit while the group has members";
  auto fetched = fetch();
  ASSERT_TRUE(fetched.has_value());
  EXPECT_EQ(fetched->offset, 4) << "only the accepted commit is stored";
  EXPECT_EQ(fetched->metadata, "m-4");
  EXPECT_EQ(fetched->error_code, kerr::kNone);

  // The member leaves; the group is empty and takes a commit from outside group management.
  ASSERT_TRUE(client.LeaveGroup(group, member, &code, &error)) << error;
  EXPECT_EQ(code, kerr::kNone);
  ASSERT_TRUE(client.Heartbeat(group, gen2, member, &code, &error)) << error;
  EXPECT_EQ(code, kerr::kUnknownMemberId) << "Heartbeat after LeaveGroup";
  EXPECT_EQ(commit(-1, "", 3), kerr::kNone) << "a simple commit on an empty group";
  fetched = fetch();
  ASSERT_TRUE(fetched.has_value());
  EXPECT_EQ(fetched->offset, 3);
  EXPECT_EQ(fetched->metadata, "m-3");

  // Null topics: every partition the group has committed, here just the one.
  OffsetFetchResponse all;
  ASSERT_TRUE(client.OffsetFetch(group, std::nullopt, &all, &error)) << error;
  EXPECT_EQ(all.error_code, kerr::kNone);
  ASSERT_EQ(all.partitions.size(), 1u);
  EXPECT_EQ(all.partitions[0].topic, topic);
  EXPECT_EQ(all.partitions[0].partition, 0);
  EXPECT_EQ(all.partitions[0].offset, 3);

  // Nothing committed: offset -1, no error.
  OffsetFetchResponse none;
  ASSERT_TRUE(client.OffsetFetch("never-committed", std::vector<std::pair<std::string, int32_t>>{{topic, 1}},
                                 &none, &error))
      << error;
  ASSERT_EQ(none.partitions.size(), 1u);
  EXPECT_EQ(none.partitions[0].offset, -1);
  EXPECT_EQ(none.partitions[0].error_code, kerr::kNone);

  // The broker still serves: raw requests on a new connection, and a librdkafka group member that
  // resumes from the simple commit.
  EXPECT_EQ(CheckBrokerServes(broker_->host(), broker_->port()), "");
  Ledger ledger;
  Member normal(0, &ledger);
  ASSERT_TRUE(normal.Start(broker_->address(), group, topic, {}, &error)) << error;
  ASSERT_TRUE(WaitFor([&] { return !ledger.ConsumersOf(0, 9).empty(); }))
      << "no message reached" << ledger.Notes();
  for (int64_t o = 0; o < 10; ++o) {
    EXPECT_EQ(ledger.ConsumersOf(0, o).size(), o < 3 ? 0u : 1u) << "offset " << o;
  }
  normal.Close();
  EXPECT_EQ(ledger.Violations(), "");
}

}  // namespace
}  // namespace oncemq::testing

// Runs the tests, or — as a child of case 2 — the group member to be killed.
int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == oncemq::testing::kHelperFlag) {
    return oncemq::testing::HelperMain(argc, argv);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
