#include "broker/metrics.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/read_until.hpp>
#include <asio/redirect_error.hpp>
#include <asio/streambuf.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "broker/broker.h"
#include "broker/broker_stats.h"

namespace oncemq::broker {

namespace {

struct Family {
  const char* name;
  const char* type;
  const char* help;
};

constexpr Family kFamilies[] = {
    {"oncemq_partition_log_start_offset", "gauge", "First offset still in the log"},
    {"oncemq_partition_log_end_offset", "gauge", "Next offset to be assigned"},
    {"oncemq_partition_high_watermark", "gauge",
     "End of what consumers may read (durable under flush=always)"},
    {"oncemq_partition_size_bytes", "gauge", "Bytes of all segments"},
    {"oncemq_producers_tracked", "gauge", "Idempotent producers with cached sequence state"},
    {"oncemq_producers_evicted_total", "counter", "Producers dropped because --max-producers was reached"},
    {"oncemq_sequence_duplicates_total", "counter",
     "Produce batches answered as exact re-sends by (producer id, epoch, sequence): original offset, "
     "nothing appended"},
    {"oncemq_sequence_duplicate_records_total", "counter",
     "Records in the batches counted by oncemq_sequence_duplicates_total"},
    {"oncemq_msgid_window_ids", "gauge", "Message ids held by the dedup window"},
    {"oncemq_msgid_window_bytes", "gauge", "Memory held by the dedup window"},
    {"oncemq_msgid_duplicates_dropped_total", "counter", "Records dropped as message-id duplicates"},
    {"oncemq_msgid_window_early_evictions_total", "counter",
     "Ids forgotten before their window ended because dedup.max.entries was reached"},
};

// Members of each live group, and per committed partition the lag: the log end minus the committed offset.
std::string RenderGroups(Broker& broker) {
  std::string out =
      "# HELP oncemq_group_members Members of a consumer group\n# TYPE oncemq_group_members gauge\n";
  for (const GroupInfo& g : broker.groups().List()) {
    out += fmt::format("oncemq_group_members{{group=\"{}\"}} {}\n", g.group_id, g.members.size());
  }
  out +=
      "# HELP oncemq_group_lag Messages between a group's committed offset and the log end\n"
      "# TYPE oncemq_group_lag gauge\n";
  for (const std::string& group : broker.offsets().Groups()) {
    for (const auto& [key, committed] : broker.offsets().FetchGroup(group)) {
      std::shared_ptr<Topic> topic = broker.topics().Find(key.topic);
      if (topic == nullptr || key.partition < 0 ||
          static_cast<size_t>(key.partition) >= topic->partitions.size()) {
        continue;  // a committed offset of a topic deleted since
      }
      const int64_t end = topic->partitions[key.partition]->log().stats().log_end.value();
      out += fmt::format("oncemq_group_lag{{group=\"{}\",topic=\"{}\",partition=\"{}\"}} {}\n", group,
                         key.topic, key.partition, std::max<int64_t>(end - committed.offset, 0));
    }
  }
  return out;
}

}  // namespace

std::string RenderMetrics(Broker& broker) {
  std::vector<std::vector<std::string>> rows(std::size(kFamilies));
  for (const auto& topic : broker.topics().List()) {
    for (const auto& p : topic->partitions) {
      std::string labels = fmt::format("{{topic=\"{}\",partition=\"{}\"}}", topic->name, p->id().value());
      auto stats = p->log().stats();
      auto dedup = p->dedup_stats();
      auto resent = p->sequence_duplicates();
      const int64_t values[] = {stats.log_start.value(),
                                stats.log_end.value(),
                                p->log().high_watermark().value(),
                                static_cast<int64_t>(stats.size_bytes),
                                static_cast<int64_t>(p->producer_count()),
                                static_cast<int64_t>(p->producers_evicted()),
                                static_cast<int64_t>(resent.batches),
                                static_cast<int64_t>(resent.records),
                                static_cast<int64_t>(dedup.tracked_ids),
                                static_cast<int64_t>(dedup.window_bytes),
                                static_cast<int64_t>(dedup.duplicates_dropped),
                                static_cast<int64_t>(dedup.early_evictions)};
      for (size_t f = 0; f < std::size(kFamilies); ++f) {
        rows[f].push_back(fmt::format("{}{} {}\n", kFamilies[f].name, labels, values[f]));
      }
    }
  }
  std::string out;
  for (size_t f = 0; f < std::size(kFamilies); ++f) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", kFamilies[f].name, kFamilies[f].help,
                       kFamilies[f].name, kFamilies[f].type);
    for (const auto& row : rows[f]) out += row;
  }
  out += RenderGroups(broker);
  out += Stats().Render();
  return out;
}

namespace {

asio::awaitable<void> AnswerOne(Broker& broker, asio::ip::tcp::socket socket) {
  asio::streambuf request;
  std::error_code ec;
  co_await asio::async_read_until(socket, request, "\r\n\r\n", asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;
  std::string head(asio::buffers_begin(request.data()), asio::buffers_begin(request.data()) + 4);
  std::string body = head == "GET " ? RenderMetrics(broker) : "only GET\n";
  std::string response = fmt::format(
      "HTTP/1.1 {}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: "
      "close\r\n\r\n{}",
      head == "GET " ? "200 OK" : "405 Method Not Allowed", body.size(), body);
  co_await asio::async_write(socket, asio::buffer(response), asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace

asio::awaitable<void> ServeMetrics(Broker& broker, asio::ip::tcp::acceptor& acceptor) {
  while (acceptor.is_open()) {
    std::error_code ec;
    auto socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;
    asio::co_spawn(acceptor.get_executor(), AnswerOne(broker, std::move(socket)), asio::detached);
  }
}

}  // namespace oncemq::broker
