// Consumer-group membership: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup (the state
// machine is GroupCoordinator; this file only decodes, calls it and encodes).
#include <spdlog/spdlog.h>

#include "broker/api_table.h"
#include "broker/broker.h"
#include "broker/parked_result.h"
#include "common/clock.h"
#include "protocol/messages/group.h"

namespace oncemq::broker {

namespace {

using Clock = std::chrono::steady_clock;

// A held JoinGroup or SyncGroup is answered by the coordinator by the end of its phase (a rebalance
// timeout at most, checked every group tick); this bound only keeps a connection from waiting forever if
// that ever failed. REBALANCE_IN_PROGRESS makes the client join again.
constexpr auto kHeldCallSlack = std::chrono::seconds(30);
constexpr auto kSyncHoldLimit = std::chrono::minutes(31);  // beyond the largest session timeout

std::string Str(std::string_view s) {
  return std::string(s);
}

Bytes Copy(ByteView b) {
  return Bytes(b.begin(), b.end());
}

Bytes EncodeJoin(const Request& request, const JoinGroupResult& r) {
  protocol::JoinGroupResponse resp;
  resp.error = r.error;
  resp.generation_id = r.generation_id;
  resp.protocol_name = r.protocol_name;
  resp.leader = r.leader;
  resp.member_id = r.member_id;
  for (const JoinedMember& m : r.members)
    resp.members.push_back({m.member_id, m.group_instance_id, m.metadata});
  protocol::Writer w = request.StartResponse();
  protocol::EncodeJoinGroupResponse(w, resp, request.version());
  return Request::Finish(w);
}

Bytes EncodeSync(const Request& request, const SyncGroupResult& r) {
  protocol::Writer w = request.StartResponse();
  protocol::EncodeSyncGroupResponse(w, {r.error, r.assignment}, request.version());
  return Request::Finish(w);
}

asio::awaitable<Bytes> AwaitJoin(std::shared_ptr<Request> request,
                                 std::shared_ptr<ParkedResult<JoinGroupResult>> parked,
                                 Clock::time_point deadline) {
  auto result = co_await parked->Await(deadline);
  if (!result) {
    result.emplace();
    result->error = ErrorCode::kRebalanceInProgress;
  }
  co_return EncodeJoin(*request, *result);
}

asio::awaitable<Bytes> AwaitSync(std::shared_ptr<Request> request,
                                 std::shared_ptr<ParkedResult<SyncGroupResult>> parked) {
  auto result = co_await parked->Await(Clock::now() + kSyncHoldLimit);
  if (!result) result = SyncGroupResult{ErrorCode::kRebalanceInProgress, {}};
  co_return EncodeSync(*request, *result);
}

}  // namespace

Reply HandleFindCoordinator(std::shared_ptr<Request> request) {
  protocol::Reader r = request->BodyReader();
  auto req = protocol::DecodeFindCoordinatorRequest(r, request->version());
  if (!r.ok()) return Reply::Now({});
  Broker& broker = request->broker;
  protocol::FindCoordinatorResponse resp;
  if (req.key_type != protocol::kCoordinatorKeyGroup) {
    // Only transactional clients ask for a transaction coordinator; they are told plainly (§7.7).
    resp.error = ErrorCode::kCoordinatorNotAvailable;
    resp.error_message = "transactions are not supported";
  } else {
    resp.node_id = broker.config().node_id;
    resp.host = broker.advertised_host();
    resp.port = broker.advertised_port();
  }
  protocol::Writer w = request->StartResponse();
  protocol::EncodeFindCoordinatorResponse(w, resp, request->version());
  return Reply::Now(Request::Finish(w));
}

Reply HandleJoinGroup(std::shared_ptr<Request> request) {
  protocol::Reader r = request->BodyReader();
  auto req = protocol::DecodeJoinGroupRequest(r, request->version());
  if (!r.ok()) return Reply::Now({});
  JoinGroupParams params;
  params.group_id = Str(req.group_id);
  params.member_id = Str(req.member_id);
  if (req.group_instance_id) params.group_instance_id = Str(*req.group_instance_id);
  params.client_id = Str(request->header.client_id.value_or(""));
  params.client_host = request->client_host;
  params.session_timeout_ms = req.session_timeout_ms;
  params.rebalance_timeout_ms = req.rebalance_timeout_ms;
  params.protocol_type = Str(req.protocol_type);
  for (const auto& p : req.protocols) params.protocols.push_back({Str(p.name), Copy(p.metadata)});
  params.require_known_member_id = request->version() >= 4 && !params.group_instance_id;

  const auto deadline =
      Clock::now() + std::chrono::milliseconds(std::max(req.rebalance_timeout_ms, 0)) + kHeldCallSlack;
  auto parked = std::make_shared<ParkedResult<JoinGroupResult>>();
  request->broker.groups().Join(std::move(params), SteadyMs(), parked->Deliverer());
  if (auto now = parked->TryTake()) return Reply::Now(EncodeJoin(*request, *now));
  return Reply::Later(AwaitJoin(std::move(request), std::move(parked), deadline));
}

Reply HandleSyncGroup(std::shared_ptr<Request> request) {
  protocol::Reader r = request->BodyReader();
  auto req = protocol::DecodeSyncGroupRequest(r, request->version());
  if (!r.ok()) return Reply::Now({});
  SyncGroupParams params;
  params.group_id = Str(req.group_id);
  params.generation_id = req.generation_id;
  params.member_id = Str(req.member_id);
  for (const auto& a : req.assignments) params.assignments.emplace_back(Str(a.member_id), Copy(a.assignment));
  auto parked = std::make_shared<ParkedResult<SyncGroupResult>>();
  request->broker.groups().Sync(std::move(params), SteadyMs(), parked->Deliverer());
  if (auto now = parked->TryTake()) return Reply::Now(EncodeSync(*request, *now));
  return Reply::Later(AwaitSync(std::move(request), std::move(parked)));
}

Reply HandleHeartbeat(std::shared_ptr<Request> request) {
  protocol::Reader r = request->BodyReader();
  auto req = protocol::DecodeHeartbeatRequest(r, request->version());
  if (!r.ok()) return Reply::Now({});
  ErrorCode error =
      request->broker.groups().Heartbeat(req.group_id, req.generation_id, req.member_id, SteadyMs());
  protocol::Writer w = request->StartResponse();
  protocol::EncodeHeartbeatResponse(w, {error}, request->version());
  return Reply::Now(Request::Finish(w));
}

Reply HandleLeaveGroup(std::shared_ptr<Request> request) {
  protocol::Reader r = request->BodyReader();
  auto req = protocol::DecodeLeaveGroupRequest(r, request->version());
  if (!r.ok()) return Reply::Now({});
  ErrorCode error = request->broker.groups().Leave(req.group_id, req.member_id, SteadyMs());
  protocol::Writer w = request->StartResponse();
  protocol::EncodeLeaveGroupResponse(w, {error}, request->version());
  return Reply::Now(Request::Finish(w));
}

}  // namespace oncemq::broker
