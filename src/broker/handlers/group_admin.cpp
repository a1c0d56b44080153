// Group tools: DescribeGroups, ListGroups, DeleteGroups. A group is known by its members (GroupCoordinator)
// or by its committed offsets (OffsetStore); a group with offsets and no member is "Empty".
#include <spdlog/spdlog.h>
#include <set>

#include "broker/api_table.h"
#include "broker/broker.h"
#include "broker/parked_result.h"
#include "protocol/messages/group.h"

namespace oncemq::broker {

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kDeleteTimeout = std::chrono::seconds(30);

struct Deletion {
  std::string group;
  ErrorCode error = ErrorCode::kNone;
  std::shared_ptr<ParkedResult<Status>> durable;  // set when offsets are being deleted
};

asio::awaitable<Bytes> AwaitDeletions(std::shared_ptr<Request> request, std::vector<Deletion> deletions) {
  protocol::DeleteGroupsResponse resp;
  for (Deletion& d : deletions) {
    if (d.durable) {
      auto status = co_await d.durable->Await(Clock::now() + kDeleteTimeout);
      if (!status || !status->ok()) {
        spdlog::warn("DeleteGroups {}: {}", d.group, status ? status->ToString() : "timed out");
        d.error = ErrorCode::kKafkaStorageError;
      }
    }
    resp.results.push_back({d.group, d.error});
  }
  protocol::Writer w = request->StartResponse();
  protocol::EncodeDeleteGroupsResponse(w, resp, request->version());
  co_return Request::Finish(w);
}

}  // namespace

Reply HandleDescribeGroups(std::shared_ptr<Request> request) {
  protocol::Reader r = request->BodyReader();
  auto req = protocol::DecodeDescribeGroupsRequest(r, request->version());
  if (!r.ok()) return Reply::Now({});
  Broker& broker = request->broker;
  std::vector<GroupInfo> infos;
  infos.reserve(req.groups.size());
  for (std::string_view id : req.groups) {
    if (auto info = broker.groups().Describe(id)) {
      infos.push_back(std::move(*info));
      continue;
    }
    GroupInfo& info = infos.emplace_back();
    info.group_id = std::string(id);
    // Kafka answers an unknown group with state Dead and no error.
    info.state = broker.offsets().LastCommitMs(id) ? "Empty" : "Dead";
  }
  protocol::DescribeGroupsResponse resp;
  for (const GroupInfo& info : infos) {
    protocol::DescribedGroup& g = resp.groups.emplace_back();
    g.group_id = info.group_id;
    g.state = info.state;
    g.protocol_type = info.protocol_type;
    g.protocol_data = info.protocol_name;
    for (const GroupMemberInfo& m : info.members) {
      g.members.push_back(
          {m.member_id, m.group_instance_id, m.client_id, m.client_host, m.metadata, m.assignment});
    }
  }
  protocol::Writer w = request->StartResponse();
  protocol::EncodeDescribeGroupsResponse(w, resp, request->version());
  return Reply::Now(Request::Finish(w));
}

Reply HandleListGroups(std::shared_ptr<Request> request) {
  Broker& broker = request->broker;
  std::vector<GroupInfo> live = broker.groups().List();
  std::set<std::string, std::less<>> seen;
  protocol::ListGroupsResponse resp;
  for (const GroupInfo& info : live) {
    seen.insert(info.group_id);
    resp.groups.push_back({info.group_id, info.protocol_type});
  }
  std::vector<std::string> with_offsets = broker.offsets().Groups();
  for (const std::string& id : with_offsets) {
    if (!seen.contains(id)) resp.groups.push_back({id, ""});
  }
  protocol::Writer w = request->StartResponse();
  protocol::EncodeListGroupsResponse(w, resp, request->version());
  return Reply::Now(Request::Finish(w));
}

Reply HandleDeleteGroups(std::shared_ptr<Request> request) {
  protocol::Reader r = request->BodyReader();
  auto req = protocol::DecodeDeleteGroupsRequest(r, request->version());
  if (!r.ok()) return Reply::Now({});
  Broker& broker = request->broker;
  std::vector<Deletion> deletions;
  for (std::string_view id : req.groups) {
    Deletion& d = deletions.emplace_back();
    d.group = std::string(id);
    const bool live = broker.groups().Describe(id).has_value();
    const bool has_offsets = broker.offsets().LastCommitMs(id).has_value();
    if (!live && !has_offsets) {
      d.error = ErrorCode::kGroupIdNotFound;
    } else if ((d.error = broker.groups().Delete(id)) == ErrorCode::kNone && has_offsets) {
      d.durable = std::make_shared<ParkedResult<Status>>();
      broker.offsets().DeleteGroup(id, d.durable->Deliverer());
      spdlog::info("group {} deleted on request", id);
    }
  }
  return Reply::Later(AwaitDeletions(std::move(request), std::move(deletions)));
}

}  // namespace oncemq::broker
