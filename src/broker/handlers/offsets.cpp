// OffsetCommit and OffsetFetch. A commit is answered only once OffsetStore has made it durable; a fetch
// reads durable state only, so a consumer never resumes from an offset a crash could take back.
#include <spdlog/spdlog.h>

#include "broker/api_table.h"
#include "broker/broker.h"
#include "broker/parked_result.h"
#include "common/clock.h"
#include "protocol/messages/offsets.h"

namespace oncemq::broker {

namespace {

using Clock = std::chrono::steady_clock;

// The store answers after one fdatasync; this bound only keeps a stuck disk from holding the connection.
constexpr auto kCommitTimeout = std::chrono::seconds(30);

ErrorCode PartitionError(Broker& broker, const protocol::OffsetCommitTopic& topic,
                         const protocol::OffsetCommitPartition& p, ErrorCode group_error) {
  if (group_error != ErrorCode::kNone) return group_error;
  auto t = broker.topics().Find(topic.name);
  if (t == nullptr || t->partition(p.partition) == nullptr) return ErrorCode::kUnknownTopicOrPartition;
  if (p.metadata && p.metadata->size() > static_cast<size_t>(broker.config().offset_metadata_max_bytes)) {
    return ErrorCode::kOffsetMetadataTooLarge;
  }
  return ErrorCode::kNone;
}

Bytes EncodeCommit(const Request& request, const protocol::OffsetCommitResponse& resp) {
  protocol::Writer w = request.StartResponse();
  protocol::EncodeOffsetCommitResponse(w, resp, request.version());
  return Request::Finish(w);
}

asio::awaitable<Bytes> AwaitCommit(std::shared_ptr<Request> request, protocol::OffsetCommitResponse resp,
                                   std::shared_ptr<ParkedResult<Status>> durable) {
  auto status = co_await durable->Await(Clock::now() + kCommitTimeout);
  if (!status || !status->ok()) {
    spdlog::warn("OffsetCommit not stored: {}", status ? status->ToString() : "timed out");
    // Only the partitions that were being stored fail; the others keep their own errors.
    for (auto& t : resp.topics) {
      for (auto& p : t.partitions) {
        if (p.error == ErrorCode::kNone) p.error = ErrorCode::kKafkaStorageError;
      }
    }
  }
  co_return EncodeCommit(*request, resp);
}

}  // namespace

Reply HandleOffsetCommit(std::shared_ptr<Request> request) {
  protocol::Reader r = request->BodyReader();
  auto req = protocol::DecodeOffsetCommitRequest(r, request->version());
  if (!r.ok()) return Reply::Now({});
  Broker& broker = request->broker;
  const ErrorCode group_error =
      req.group_id.empty()
          ? ErrorCode::kInvalidGroupId
          : broker.groups().ValidateCommit(req.group_id, req.generation_id, req.member_id, SteadyMs());
  const int64_t now = WallMs();
  protocol::OffsetCommitResponse resp;
  std::vector<OffsetCommitEntry> entries;
  for (const auto& topic : req.topics) {
    auto& topic_out = resp.topics.emplace_back();
    topic_out.name = topic.name;
    for (const auto& p : topic.partitions) {
      ErrorCode error = PartitionError(broker, topic, p, group_error);
      topic_out.partitions.push_back({p.partition, error});
      if (error != ErrorCode::kNone) continue;
      entries.push_back(
          {{std::string(topic.name), p.partition},
           {p.committed_offset, p.committed_leader_epoch, std::string(p.metadata.value_or("")), now}});
    }
  }
  if (entries.empty()) return Reply::Now(EncodeCommit(*request, resp));
  auto durable = std::make_shared<ParkedResult<Status>>();
  broker.offsets().Commit(req.group_id, std::move(entries), durable->Deliverer());
  return Reply::Later(AwaitCommit(std::move(request), std::move(resp), std::move(durable)));
}

Reply HandleOffsetFetch(std::shared_ptr<Request> request) {
  protocol::Reader r = request->BodyReader();
  auto req = protocol::DecodeOffsetFetchRequest(r, request->version());
  if (!r.ok()) return Reply::Now({});
  // A copy of the group's durable offsets: the response's views point into it.
  const GroupOffsets offsets = request->broker.offsets().FetchGroup(req.group_id);
  protocol::OffsetFetchResponse resp;
  auto fill = [](protocol::OffsetFetchPartitionResponse& out, const CommittedOffset* c) {
    out.committed_offset = c ? c->offset : -1;
    out.committed_leader_epoch = c ? c->leader_epoch : -1;
    out.metadata = c ? std::string_view(c->metadata) : std::string_view();
  };
  if (req.topics) {
    for (const auto& topic : *req.topics) {
      auto& topic_out = resp.topics.emplace_back();
      topic_out.name = topic.name;
      for (int32_t partition : topic.partitions) {
        auto& out = topic_out.partitions.emplace_back();
        out.partition = partition;
        auto it = offsets.find(TopicPartitionKey{std::string(topic.name), partition});
        fill(out, it == offsets.end() ? nullptr : &it->second);
      }
    }
  } else {
    for (const auto& [key, committed] : offsets) {
      if (resp.topics.empty() || resp.topics.back().name != key.topic)
        resp.topics.emplace_back().name = key.topic;
      auto& out = resp.topics.back().partitions.emplace_back();
      out.partition = key.partition;
      fill(out, &committed);
    }
  }
  protocol::Writer w = request->StartResponse();
  protocol::EncodeOffsetFetchResponse(w, resp, request->version());
  return Reply::Now(Request::Finish(w));
}

}  // namespace oncemq::broker
