#include "cli/dlq_reader.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <utility>

#include "cli/group_admin.h"
#include "cli/rdkafka_client.h"

namespace oncemq::cli {

std::string DeadLetter::Id() const {
  return std::to_string(partition) + ":" + std::to_string(offset);
}

std::optional<std::string_view> DeadLetter::Header(std::string_view name) const {
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    if (it->name == name) return it->value ? std::optional<std::string_view>(*it->value) : std::nullopt;
  }
  return std::nullopt;
}

Result<std::map<int32_t, OffsetRange>> FetchOffsetRanges(const AdminConnectOptions& connect,
                                                         const std::string& topic) {
  auto admin = GroupAdmin::Connect(connect);
  if (!admin.ok()) return admin.status();
  auto partitions = (*admin)->TopicPartitions(topic);
  if (!partitions.ok()) return partitions.status();
  std::map<int32_t, OffsetRange> ranges;
  for (PartitionId partition : *partitions) {
    auto watermarks = (*admin)->FetchWatermarks(TopicPartition{topic, partition});
    if (!watermarks.ok()) return watermarks.status();
    ranges[partition.value()] = {.first = watermarks->low.value(), .end = watermarks->high.value()};
  }
  return ranges;
}

namespace {

using Clock = std::chrono::steady_clock;
using RdMessagePtr = std::unique_ptr<rd_kafka_message_t, RdKafkaDeleter<rd_kafka_message_destroy>>;

constexpr int kLogWarning = 4;

// [first offset, log end) of each partition that holds anything.
using Ranges = std::map<int32_t, OffsetRange>;

void RecordComplaint(const rd_kafka_t* rk, int level, const char* /*facility*/, const char* line) {
  if (level <= kLogWarning) static_cast<FirstClientComplaint*>(rd_kafka_opaque(rk))->Record(line);
}

// A consumer outside any group: partitions are assigned by hand, nothing is committed.
class AssignedReader {
 public:
  ~AssignedReader() {
    if (rk_ == nullptr) return;
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
  }

  static Result<std::unique_ptr<AssignedReader>> Open(const AdminConnectOptions& connect) {
    std::unique_ptr<AssignedReader> reader(new AssignedReader());
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    std::array<char, 512> errstr{};
    for (auto [name, value] : {std::pair{"bootstrap.servers", connect.bootstrap},
                               std::pair{"client.id", std::string("oncemq-cli")},
                               // librdkafka refuses assign() without a group id; the group is never
                               // joined and nothing is committed to it.
                               std::pair{"group.id", std::string("oncemq-cli-dlq-reader")},
                               std::pair{"enable.auto.commit", std::string("false")},
                               std::pair{"enable.partition.eof", std::string("true")},
                               std::pair{"auto.offset.reset", std::string("earliest")}}) {
      if (rd_kafka_conf_set(conf, name, value.c_str(), errstr.data(), errstr.size()) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return Status::InvalidArgument(std::string(name) + ": " + errstr.data());
      }
    }
    rd_kafka_conf_set_opaque(conf, &reader->complaint_);
    rd_kafka_conf_set_log_cb(conf, RecordComplaint);
    reader->rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr.data(), errstr.size());
    if (reader->rk_ == nullptr) {
      rd_kafka_conf_destroy(conf);
      return Status::InvalidArgument(std::string("cannot create Kafka consumer: ") + errstr.data());
    }
    rd_kafka_poll_set_consumer(reader->rk_);
    return reader;
  }

  Status Assign(const std::string& topic, const Ranges& ranges) {
    RdPartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(ranges.size())));
    for (const auto& [partition, range] : ranges) {
      rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = range.first;
    }
    if (rd_kafka_resp_err_t err = rd_kafka_assign(rk_, list.get())) {
      return Status::Unavailable("cannot read " + topic + ": " + rd_kafka_err2str(err));
    }
    return Status::Ok();
  }

  // Polls until every partition of `ranges` reached its end, copying messages below the end into *out.
  Status ReadToEnd(const std::string& topic, Ranges ranges, int timeout_ms, std::vector<DeadLetter>* out) {
    auto last_progress = Clock::now();
    std::string last_error;
    while (!ranges.empty()) {
      RdMessagePtr message(rd_kafka_consumer_poll(rk_, 100));
      if (message == nullptr || message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (message != nullptr && message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          last_error = rd_kafka_message_errstr(message.get());
        }
        if (message != nullptr) Advance(*message, &ranges);
        if (Clock::now() - last_progress > std::chrono::milliseconds(timeout_ms)) {
          return Stalled(topic, ranges, timeout_ms, last_error);
        }
        continue;
      }
      last_progress = Clock::now();
      auto range = ranges.find(message->partition);
      if (range != ranges.end() && message->offset < range->second.end) out->push_back(CopyOut(*message));
      Advance(*message, &ranges);
    }
    return Status::Ok();
  }

 private:
  AssignedReader() = default;

  // Drops a partition from `ranges` once `message` (a record or an end-of-partition event) reached its end.
  static void Advance(const rd_kafka_message_t& message, Ranges* ranges) {
    auto range = ranges->find(message.partition);
    if (range == ranges->end()) return;
    const bool eof = message.err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
    if (message.err != RD_KAFKA_RESP_ERR_NO_ERROR && !eof) return;
    const int64_t next = eof ? message.offset : message.offset + 1;
    if (next >= range->second.end) ranges->erase(range);
  }

  Status Stalled(const std::string& topic, const Ranges& ranges, int timeout_ms, std::string last_error) {
    std::string message = "could not read " + topic + " to its end: partition";
    for (const auto& [partition, range] : ranges) message += " " + std::to_string(partition);
    message += " made no progress within " + std::to_string(timeout_ms) + " ms";
    if (last_error.empty()) last_error = complaint_.Get();
    if (!last_error.empty()) message += " (client error: " + last_error + ")";
    return Status::Unavailable(std::move(message));
  }

  static DeadLetter CopyOut(const rd_kafka_message_t& message) {
    DeadLetter letter;
    letter.partition = message.partition;
    letter.offset = message.offset;
    letter.timestamp_ms = rd_kafka_message_timestamp(&message, nullptr);
    if (message.key != nullptr) letter.key.emplace(static_cast<const char*>(message.key), message.key_len);
    if (message.payload != nullptr)
      letter.payload.assign(static_cast<const char*>(message.payload), message.len);
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(&message, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return letter;
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      HeaderField field{.name = name, .value = std::nullopt};
      if (value != nullptr) field.value.emplace(static_cast<const char*>(value), size);
      letter.headers.push_back(std::move(field));
    }
    return letter;
  }

  FirstClientComplaint complaint_;  // outlives rk_: librdkafka may log while being destroyed
  rd_kafka_t* rk_ = nullptr;
};

}  // namespace

Result<std::vector<DeadLetter>> ReadRanges(const AdminConnectOptions& connect, const std::string& topic,
                                           const std::map<int32_t, OffsetRange>& wanted) {
  Ranges ranges;
  for (const auto& [partition, range] : wanted) {
    if (range.first < range.end) ranges[partition] = range;
  }
  std::vector<DeadLetter> letters;
  if (ranges.empty()) return letters;
  auto reader = AssignedReader::Open(connect);
  if (!reader.ok()) return reader.status();
  if (Status status = (*reader)->Assign(topic, ranges); !status.ok()) return status;
  if (Status status = (*reader)->ReadToEnd(topic, ranges, connect.timeout_ms, &letters); !status.ok()) {
    return status;
  }
  std::sort(letters.begin(), letters.end(), [](const DeadLetter& a, const DeadLetter& b) {
    return std::pair(a.partition, a.offset) < std::pair(b.partition, b.offset);
  });
  return letters;
}

Result<std::vector<DeadLetter>> ReadDeadLetters(const AdminConnectOptions& connect,
                                                const std::string& topic) {
  auto ranges = FetchOffsetRanges(connect, topic);
  if (!ranges.ok()) return ranges.status();
  return ReadRanges(connect, topic, *ranges);
}

}  // namespace oncemq::cli
