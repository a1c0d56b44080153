#include <asio/this_coro.hpp>

#include "broker/api_table.h"
#include "broker/broker.h"
#include "protocol/messages/fetch.h"

namespace oncemq::broker {

namespace {

using protocol::ErrorCode;
using Clock = std::chrono::steady_clock;

struct Target {
  std::shared_ptr<Topic> topic;  // keeps the partition alive across the long poll
  Partition* partition = nullptr;
  const protocol::FetchPartition* request = nullptr;
};

struct Gathered {
  protocol::FetchResponse response;
  Bytes data;  // every partition's batches back to back; the response's views point into it
  bool any_error = false;
};

// One pass over every requested partition: reads whatever is below the high watermark.
Gathered Gather(const protocol::FetchRequest& req, const std::vector<std::vector<Target>>& targets) {
  Gathered g;
  struct Span {
    size_t topic, partition, begin, size;
  };
  std::vector<Span> spans;
  size_t budget = req.max_bytes > 0 ? static_cast<size_t>(req.max_bytes) : 0;
  for (size_t t = 0; t < targets.size(); ++t) {
    auto& topic_out = g.response.topics.emplace_back();
    topic_out.name = req.topics[t].name;
    for (size_t p = 0; p < targets[t].size(); ++p) {
      const Target& target = targets[t][p];
      auto& out = topic_out.partitions.emplace_back();
      out.partition = target.request->partition;
      if (target.partition == nullptr) {
        out.error = ErrorCode::kUnknownTopicOrPartition;
        g.any_error = true;
        continue;
      }
      const auto& log = target.partition->log();
      Offset hwm = log.high_watermark();
      out.high_watermark = hwm.value();
      out.log_start_offset = log.log_start().value();
      Offset from(target.request->fetch_offset);
      if (from < log.log_start() || from > hwm) {
        out.error = ErrorCode::kOffsetOutOfRange;
        g.any_error = true;
        continue;
      }
      size_t used = g.data.size();
      if (from == hwm || (used > 0 && used >= budget)) continue;
      size_t limit = std::min<size_t>(static_cast<size_t>(std::max(target.request->partition_max_bytes, 0)),
                                      budget > used ? budget - used : 0);
      Status s = log.ReadInto(from, limit, hwm, g.data);
      if (!s.ok()) {
        out.error =
            s.code() == StatusCode::kNotFound ? ErrorCode::kOffsetOutOfRange : ErrorCode::kKafkaStorageError;
        g.any_error = true;
        continue;
      }
      spans.push_back({t, p, used, g.data.size() - used});
    }
  }
  for (const Span& s : spans) {
    g.response.topics[s.topic].partitions[s.partition].records = ByteView(g.data).subspan(s.begin, s.size);
  }
  return g;
}

bool AnyNewData(const std::vector<std::vector<Target>>& targets) {
  for (const auto& topic : targets) {
    for (const Target& t : topic) {
      if (t.partition && t.partition->log().high_watermark().value() > t.request->fetch_offset) return true;
    }
  }
  return false;
}

// Registers one waiter on every partition of a fetch and unregisters it when the wait ends — also when the
// coroutine frame is destroyed mid-wait at shutdown, so no partition keeps a timer of a dead io_context.
class DataWaitRegistration {
 public:
  DataWaitRegistration(const std::vector<std::vector<Target>>& targets, std::shared_ptr<AsyncWaiter> waiter)
      : targets_(targets), waiter_(std::move(waiter)) {
    for (const auto& topic : targets_)
      for (const Target& t : topic) t.partition->AddDataWaiter(waiter_);
  }
  ~DataWaitRegistration() {
    for (const auto& topic : targets_)
      for (const Target& t : topic) t.partition->RemoveDataWaiter(waiter_);
  }
  DataWaitRegistration(const DataWaitRegistration&) = delete;
  DataWaitRegistration& operator=(const DataWaitRegistration&) = delete;
  const std::shared_ptr<AsyncWaiter>& waiter() const { return waiter_; }

 private:
  const std::vector<std::vector<Target>>& targets_;
  std::shared_ptr<AsyncWaiter> waiter_;
};

asio::awaitable<Bytes> LongPoll(std::shared_ptr<Request> request, protocol::FetchRequest req) {
  Broker& broker = request->broker;
  std::vector<std::vector<Target>> targets(req.topics.size());
  for (size_t t = 0; t < req.topics.size(); ++t) {
    auto topic = broker.topics().Find(req.topics[t].name);
    for (const auto& part : req.topics[t].partitions) {
      targets[t].push_back({topic, topic ? topic->partition(part.partition) : nullptr, &part});
    }
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(req.max_wait_ms, 0));
  const auto executor = co_await asio::this_coro::executor;
  while (true) {
    Gathered g = Gather(req, targets);
    bool enough = g.data.size() >= static_cast<size_t>(std::max(req.min_bytes, 1));
    if (enough || g.any_error || Clock::now() >= deadline) {
      protocol::Writer w = request->StartResponse();
      protocol::EncodeFetchResponse(w, g.response, request->version());
      co_return Request::Finish(w);
    }
    DataWaitRegistration registration(targets, std::make_shared<AsyncWaiter>(executor));
    // Data that arrived between Gather and registering would not wake us, so an empty gather looks once
    // more; a gather that found some data but less than min_bytes waits for the next advance.
    const bool missed_an_advance = g.data.empty() && AnyNewData(targets);
    if (!missed_an_advance) (void)co_await registration.waiter()->Wait(deadline);
  }
}

}  // namespace

Reply HandleFetch(std::shared_ptr<Request> request) {
  protocol::Reader r = request->BodyReader();
  auto req = protocol::DecodeFetchRequest(r, request->version());
  if (!r.ok()) return Reply::Now({});
  return Reply::Later(LongPoll(std::move(request), std::move(req)));
}

}  // namespace oncemq::broker
