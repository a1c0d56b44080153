// GroupCoordinator: the classic Kafka consumer-group state machine (kafka-protocol.md §7) — membership,
// rebalances, generations and the relay of the leader's assignment. Committed offsets live in OffsetStore;
// this class only decides whether a commit may happen.
//
// Guarantees. Each group moves Empty → PreparingRebalance → CompletingRebalance → Stable as in Kafka's
// GroupCoordinator: JoinGroup v4+ without a member id gets MEMBER_ID_REQUIRED and a pending id; the join
// phase ends when every member (and no pending id) has rejoined or the largest rebalance timeout passes;
// members that did not rejoin are removed; the leader alone receives the member list; the leader's
// SyncGroup assignments are handed to every member byte for byte. Sessions, the join phase, the sync phase
// and pending ids all expire by Tick(). Membership is in memory: after a restart clients are told
// UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION and rejoin, which is what Kafka clients do anyway.
//
// Time. Every call takes `now_ms` from a monotonic clock; nothing here reads a clock or sleeps, so the
// state machine is tested by stepping time.
//
// Callbacks (Join, Sync) run exactly once each — immediately, or later from another call or Tick — and
// always after the coordinator's lock is released, so they may do anything except block.
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/bytes.h"
#include "protocol/api.h"

namespace oncemq::broker {

using protocol::ErrorCode;

struct GroupOptions {
  int32_t min_session_timeout_ms = 6'000;
  int32_t max_session_timeout_ms = 1'800'000;
  // How long a rebalance that starts from an empty group waits for more members (extended by each joiner,
  // never past the rebalance timeout), so that a fleet starting together forms one generation, not many.
  int32_t initial_rebalance_delay_ms = 3'000;
};

struct GroupProtocol {
  std::string name;
  Bytes metadata;
  bool operator==(const GroupProtocol&) const = default;
};

struct JoinGroupParams {
  std::string group_id;
  std::string member_id;  // "" on a first join
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;
  std::string protocol_type;
  std::vector<GroupProtocol> protocols;
  bool require_known_member_id = false;  // JoinGroup v4+
};

struct JoinedMember {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  Bytes metadata;  // for the selected protocol
};

struct JoinGroupResult {
  ErrorCode error = ErrorCode::kNone;
  int32_t generation_id = -1;
  std::string protocol_name;
  std::string leader;
  std::string member_id;
  std::vector<JoinedMember> members;  // only in the leader's result
};

struct SyncGroupParams {
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::vector<std::pair<std::string, Bytes>> assignments;  // the leader's only
};

struct SyncGroupResult {
  ErrorCode error = ErrorCode::kNone;
  Bytes assignment;
};

struct GroupMemberInfo {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  Bytes metadata;    // Stable groups only
  Bytes assignment;  // Stable groups only
};

struct GroupInfo {
  std::string group_id;
  std::string state;  // "Empty", "PreparingRebalance", "CompletingRebalance", "Stable"
  std::string protocol_type;
  std::string protocol_name;  // Stable groups only
  int32_t generation_id = 0;
  std::vector<GroupMemberInfo> members;
};

class GroupCoordinator {
 public:
  using JoinCallback = std::function<void(JoinGroupResult)>;
  using SyncCallback = std::function<void(SyncGroupResult)>;

  explicit GroupCoordinator(GroupOptions options, int64_t now_ms);

  void Join(JoinGroupParams params, int64_t now_ms, JoinCallback done);
  void Sync(SyncGroupParams params, int64_t now_ms, SyncCallback done);
  ErrorCode Heartbeat(std::string_view group_id, int32_t generation_id, std::string_view member_id,
                      int64_t now_ms);
  ErrorCode Leave(std::string_view group_id, std::string_view member_id, int64_t now_ms);
  // Whether an OffsetCommit with this generation and member may be stored now (kafka-protocol.md §7.6).
  // generation_id < 0 is a commit from outside group management, allowed while the group has no members.
  ErrorCode ValidateCommit(std::string_view group_id, int32_t generation_id, std::string_view member_id,
                           int64_t now_ms);
  // Expires sessions, pending member ids, join and sync phases.
  void Tick(int64_t now_ms);

  // Groups that have members, pending members or a rebalance in progress (groups known only by their
  // committed offsets are the caller's to add).
  std::vector<GroupInfo> List() const;
  std::optional<GroupInfo> Describe(std::string_view group_id) const;
  // How long the group has had no member, or nullopt while it has one. A group never seen since start
  // counts as empty since the coordinator was created.
  std::optional<int64_t> EmptyForMs(std::string_view group_id, int64_t now_ms) const;
  // Forgets an empty group: kNonEmptyGroup while it has members or pending members, else kNone (also for
  // a group this coordinator does not know — its offsets are the caller's).
  ErrorCode Delete(std::string_view group_id);

 private:
  enum class State { kEmpty, kPreparingRebalance, kCompletingRebalance, kStable };
  struct Member {
    std::string id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = 0;
    std::vector<GroupProtocol> protocols;
    Bytes assignment;
    int64_t last_heartbeat_ms = 0;
    JoinCallback awaiting_join;  // set while its JoinGroup is held
    SyncCallback awaiting_sync;  // set while its SyncGroup is held
  };
  struct Group {
    std::string id;
    State state = State::kEmpty;
    int32_t generation = 0;
    std::string protocol_type;
    std::string protocol_name;
    std::string leader;
    std::map<std::string, Member, std::less<>> members;
    std::map<std::string, int64_t, std::less<>> pending;  // MEMBER_ID_REQUIRED ids -> expiry
    int64_t join_deadline_ms = 0;                         // PreparingRebalance: the phase ends by then
    int64_t initial_delay_until_ms = 0;                   // PreparingRebalance from Empty: not before then
    int64_t sync_deadline_ms = 0;  // CompletingRebalance: members without a SyncGroup go then
    bool HasMembers() const { return !members.empty() || !pending.empty(); }
  };
  using Completions = std::vector<std::function<void()>>;

  Group* Find(std::string_view group_id);
  const Group* Find(std::string_view group_id) const;
  void JoinNewMember(Group& g, JoinGroupParams params, int64_t now_ms, JoinCallback done, Completions& out);
  void JoinKnownMember(Group& g, Member& m, JoinGroupParams params, int64_t now_ms, JoinCallback done,
                       Completions& out);
  Member& AddMember(Group& g, JoinGroupParams& params, std::string member_id, int64_t now_ms);
  void PrepareRebalance(Group& g, int64_t now_ms, Completions& out);
  void MaybeCompleteJoin(Group& g, int64_t now_ms, Completions& out);
  void CompleteJoin(Group& g, int64_t now_ms, Completions& out);
  void CompleteSync(Group& g, Completions& out);
  void RemoveMember(Group& g, const std::string& member_id, int64_t now_ms, Completions& out);
  void TickGroup(Group& g, int64_t now_ms, Completions& out);
  JoinGroupResult ResultFor(const Group& g, const Member& m) const;
  std::string NewMemberId(std::string_view prefix);
  static GroupInfo InfoOf(const Group& g);
  static void Run(Completions& completions);

  const GroupOptions options_;
  const int64_t created_ms_;
  mutable std::mutex mu_;
  std::map<std::string, Group, std::less<>> groups_;            // GUARDED_BY(mu_)
  std::map<std::string, int64_t, std::less<>> empty_since_ms_;  // GUARDED_BY(mu_): groups that emptied
  uint64_t id_counter_ = 0;                                     // GUARDED_BY(mu_)
  uint64_t id_salt_;
};

}  // namespace oncemq::broker
