#include "cli/dlq_replay.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <set>

#include "oncemq/idempotent_consumer.h"

namespace oncemq::cli {
namespace {

constexpr int kLogWarning = 4;

template <typename T>
bool ParseDecimal(std::string_view text, T* value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && end == text.data() + text.size() && *value >= 0;
}

void RecordComplaint(const rd_kafka_t* rk, int level, const char* /*facility*/, const char* line) {
  if (level > kLogWarning) return;
  static_cast<DeadLetterReplayer::Reports*>(rd_kafka_opaque(rk))->complaint.Record(line);
}

// The delivery report of one copy: its ReplayOutcome is the message's opaque.
void OnDelivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* message, void* reports) {
  auto* outcome = static_cast<ReplayOutcome*>(message->_private);
  --static_cast<DeadLetterReplayer::Reports*>(reports)->pending;
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    outcome->error = rd_kafka_err2str(message->err);
    return;
  }
  outcome->acknowledged = true;
  outcome->partition = message->partition;
  outcome->offset = message->offset;
}

rd_kafka_headers_t* MakeHeaders(const std::vector<HeaderField>& fields) {
  rd_kafka_headers_t* headers = rd_kafka_headers_new(fields.size());
  for (const HeaderField& field : fields) {
    const char* value = field.value ? field.value->data() : nullptr;
    rd_kafka_header_add(headers, field.name.data(), static_cast<ssize_t>(field.name.size()), value,
                        field.value ? static_cast<ssize_t>(field.value->size()) : 0);
  }
  return headers;
}

}  // namespace

Result<DeadLetterId> ParseDeadLetterId(std::string_view text) {
  const size_t colon = text.find(':');
  DeadLetterId id;
  if (colon == std::string_view::npos || !ParseDecimal(text.substr(0, colon), &id.partition) ||
      !ParseDecimal(text.substr(colon + 1), &id.offset)) {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not a dead-letter id; ids look like PARTITION:OFFSET, e.g. 0:17 "
                                   "(see oncemq dlq list)");
  }
  return id;
}

Result<std::vector<DeadLetter>> SelectDeadLetters(const std::vector<DeadLetter>& all,
                                                  const std::vector<DeadLetterId>& ids) {
  std::set<DeadLetterId> wanted(ids.begin(), ids.end());
  std::vector<DeadLetter> chosen;
  for (const DeadLetter& letter : all) {
    if (wanted.erase(DeadLetterId{letter.partition, letter.offset}) > 0) chosen.push_back(letter);
  }
  if (wanted.empty()) return chosen;
  std::string missing;
  for (const DeadLetterId& id : wanted) {
    if (!missing.empty()) missing += ", ";
    missing += std::to_string(id.partition);
    missing += ':';
    missing += std::to_string(id.offset);
  }
  return Status::NotFound("no dead letter with id " + missing + " (see oncemq dlq list)");
}

std::vector<HeaderField> ReplayHeaders(const std::vector<HeaderField>& original, int64_t now_ms) {
  std::vector<HeaderField> out;
  out.reserve(original.size() + 2);
  for (const HeaderField& field : original) {
    if (field.name == headers::kAttempt || field.name == headers::kDeliverAt ||
        field.name == headers::kError) {
      continue;
    }
    out.push_back(field);
  }
  out.push_back(HeaderField{.name = std::string(headers::kAttempt), .value = "0"});
  out.push_back(HeaderField{.name = std::string(headers::kDeliverAt), .value = std::to_string(now_ms)});
  return out;
}

Result<std::unique_ptr<DeadLetterReplayer>> DeadLetterReplayer::Open(const AdminConnectOptions& connect,
                                                                     std::string topic) {
  auto ends = FetchOffsetRanges(connect, topic);
  if (!ends.ok()) return ends.status();
  std::unique_ptr<DeadLetterReplayer> replayer(
      new DeadLetterReplayer(connect, std::move(topic), std::move(*ends)));
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::array<char, 512> errstr{};
  const std::string timeout = std::to_string(std::max(connect.timeout_ms, 1000));
  for (auto [name, value] :
       {std::pair{"bootstrap.servers", connect.bootstrap}, std::pair{"client.id", std::string("oncemq-cli")},
        std::pair{"enable.idempotence", std::string("true")}, std::pair{"acks", std::string("all")},
        std::pair{"message.timeout.ms", timeout}, std::pair{"socket.connection.setup.timeout.ms", timeout}}) {
    if (rd_kafka_conf_set(conf, name, value.c_str(), errstr.data(), errstr.size()) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status::InvalidArgument(std::string(name) + ": " + errstr.data());
    }
  }
  rd_kafka_conf_set_opaque(conf, &replayer->reports_);
  rd_kafka_conf_set_log_cb(conf, RecordComplaint);
  rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  replayer->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr.data(), errstr.size());
  if (replayer->rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Status::InvalidArgument(std::string("cannot create Kafka producer: ") + errstr.data());
  }
  return replayer;
}

DeadLetterReplayer::~DeadLetterReplayer() {
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

void DeadLetterReplayer::Enqueue(const DeadLetter& letter, int64_t now_ms, ReplayOutcome* outcome) {
  rd_kafka_headers_t* headers = MakeHeaders(ReplayHeaders(letter.headers, now_ms));
  const void* key = letter.key ? letter.key->data() : nullptr;
  const size_t key_size = letter.key ? letter.key->size() : 0;
  for (;;) {
    rd_kafka_resp_err_t err =
        rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_KEY(key, key_size),
                          RD_KAFKA_V_VALUE(const_cast<char*>(letter.payload.data()), letter.payload.size()),
                          RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(outcome), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {  // the producer owns the headers now
      ++reports_.pending;
      return;
    }
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk_, 50);
      continue;
    }
    rd_kafka_headers_destroy(headers);
    outcome->error = rd_kafka_err2str(err);
    return;
  }
}

void DeadLetterReplayer::AwaitReports() {
  // librdkafka reports every message within message.timeout.ms (the connect timeout); the extra seconds only
  // guard against never hearing back, after which the copies are purged, which reports them failed.
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(std::max(connect_.timeout_ms, 1000) + 5000);
  while (reports_.pending > 0 && std::chrono::steady_clock::now() < deadline) rd_kafka_poll(rk_, 50);
  if (reports_.pending == 0) return;
  rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  while (reports_.pending > 0) rd_kafka_poll(rk_, 50);
}

void DeadLetterReplayer::CheckAppended(std::vector<ReplayOutcome>& outcomes) {
  std::map<int32_t, OffsetRange> written;  // from the log end at Open to past the last acknowledged copy
  for (const ReplayOutcome& o : outcomes) {
    if (!o.acknowledged) continue;
    auto end = ends_.find(o.partition);
    OffsetRange& range = written[o.partition];
    range.first = end == ends_.end() ? 0 : end->second.end;
    range.end = std::max(range.end, o.offset + 1);
  }
  auto appended = ReadRanges(connect_, topic_, written);
  std::set<std::pair<int32_t, int64_t>> found;
  if (appended.ok()) {
    for (const DeadLetter& m : *appended) found.emplace(m.partition, m.offset);
  }
  for (ReplayOutcome& o : outcomes) {
    if (!o.acknowledged) continue;
    o.acknowledged = appended.ok() && found.erase({o.partition, o.offset}) > 0;
    if (o.acknowledged) continue;
    o.error = appended.ok()
                  ? "the broker answered with offset " + std::to_string(o.offset) +
                        " but appended nothing there: the topic's message-id window (dedup.window.ms) "
                        "took the copy for a duplicate of an earlier one with the same oncemq-msg-id"
                  : "acknowledged at offset " + std::to_string(o.offset) +
                        ", but reading it back failed: " + appended.status().message();
  }
}

std::vector<ReplayOutcome> DeadLetterReplayer::Send(const std::vector<DeadLetter>& letters, int64_t now_ms) {
  std::vector<ReplayOutcome> outcomes(letters.size());  // not resized below: reports point into it
  for (size_t i = 0; i < letters.size(); ++i) {
    outcomes[i].id = letters[i].Id();
    Enqueue(letters[i], now_ms, &outcomes[i]);
  }
  AwaitReports();
  CheckAppended(outcomes);
  for (ReplayOutcome& outcome : outcomes) {
    if (!outcome.acknowledged && outcome.error.empty()) outcome.error = reports_.complaint.Get();
  }
  return outcomes;
}

}  // namespace oncemq::cli
