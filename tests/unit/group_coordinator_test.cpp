// The consumer-group state machine, stepped through time by hand (kafka-protocol.md §7): every row of the
// join, sync, heartbeat, leave and commit rules, and every timer.
#include "broker/groups/group_coordinator.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

namespace oncemq::broker {
namespace {

constexpr int32_t kSession = 10'000;
constexpr int32_t kRebalance = 30'000;

Bytes B(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

struct JoinSlot {
  std::optional<JoinGroupResult> result;
  GroupCoordinator::JoinCallback Callback() {
    return [this](JoinGroupResult r) {
      ASSERT_FALSE(result.has_value()) << "a join callback ran twice";
      result = std::move(r);
    };
  }
};

struct SyncSlot {
  std::optional<SyncGroupResult> result;
  GroupCoordinator::SyncCallback Callback() {
    return [this](SyncGroupResult r) {
      ASSERT_FALSE(result.has_value()) << "a sync callback ran twice";
      result = std::move(r);
    };
  }
};

class GroupCoordinatorTest : public ::testing::Test {
 protected:
  explicit GroupCoordinatorTest(int32_t initial_delay = 0)
      : coordinator_(GroupOptions{6'000, 1'800'000, initial_delay}, now_) {}

  JoinGroupParams Params(std::string member_id, std::vector<std::string> protocols = {"range", "roundrobin"},
                         bool v4 = true) {
    JoinGroupParams p;
    p.group_id = "g";
    p.member_id = std::move(member_id);
    p.client_id = "client";
    p.client_host = "/127.0.0.1";
    p.session_timeout_ms = kSession;
    p.rebalance_timeout_ms = kRebalance;
    p.protocol_type = "consumer";
    for (const auto& name : protocols) p.protocols.push_back({name, B("meta-" + name)});
    p.require_known_member_id = v4;
    return p;
  }

  // The v4 handshake: the first JoinGroup returns MEMBER_ID_REQUIRED and the id to come back with.
  std::string MemberIdFor() {
    JoinSlot slot;
    coordinator_.Join(Params(""), now_, slot.Callback());
    EXPECT_TRUE(slot.result.has_value());
    EXPECT_EQ(slot.result->error, ErrorCode::kMemberIdRequired);
    EXPECT_FALSE(slot.result->member_id.empty());
    return slot.result->member_id;
  }

  void Join(const std::string& id, JoinSlot& slot,
            std::vector<std::string> protocols = {"range", "roundrobin"}) {
    coordinator_.Join(Params(id, std::move(protocols)), now_, slot.Callback());
  }

  // One member joins an empty group and syncs alone: generation 1, Stable.
  std::string StableSingle() {
    std::string id = MemberIdFor();
    JoinSlot join;
    Join(id, join);
    EXPECT_TRUE(join.result.has_value());
    SyncSlot sync;
    coordinator_.Sync({"g", join.result->generation_id, id, {{id, B("a")}}}, now_, sync.Callback());
    EXPECT_TRUE(sync.result.has_value());
    return id;
  }

  int64_t now_ = 1'000'000;
  GroupCoordinator coordinator_;
};

TEST_F(GroupCoordinatorTest, FirstJoinV4GetsMemberIdRequiredThenJoins) {
  std::string id = MemberIdFor();
  EXPECT_EQ(id.rfind("client-", 0), 0u) << id;
  JoinSlot join;
  Join(id, join);
  ASSERT_TRUE(join.result.has_value());
  EXPECT_EQ(join.result->error, ErrorCode::kNone);
  EXPECT_EQ(join.result->generation_id, 1);
  EXPECT_EQ(join.result->leader, id);
  EXPECT_EQ(join.result->member_id, id);
  EXPECT_EQ(join.result->protocol_name, "range");
  ASSERT_EQ(join.result->members.size(), 1u);
  EXPECT_EQ(join.result->members[0].metadata, B("meta-range"));
}

TEST_F(GroupCoordinatorTest, JoinV0JoinsWithoutTheHandshake) {
  JoinSlot join;
  coordinator_.Join(Params("", {"range"}, /*v4=*/false), now_, join.Callback());
  ASSERT_TRUE(join.result.has_value());
  EXPECT_EQ(join.result->error, ErrorCode::kNone);
  EXPECT_EQ(join.result->generation_id, 1);
  EXPECT_FALSE(join.result->member_id.empty());
}

TEST_F(GroupCoordinatorTest, MemberIdsAreUnique) {
  EXPECT_NE(MemberIdFor(), MemberIdFor());
}

TEST_F(GroupCoordinatorTest, BadJoinsAreRefused) {
  JoinGroupParams p = Params("");
  p.group_id = "";
  JoinSlot no_group;
  coordinator_.Join(p, now_, no_group.Callback());
  EXPECT_EQ(no_group.result->error, ErrorCode::kInvalidGroupId);

  for (int32_t timeout : {5'999, 1'800'001}) {
    JoinGroupParams q = Params("");
    q.session_timeout_ms = timeout;
    JoinSlot slot;
    coordinator_.Join(q, now_, slot.Callback());
    EXPECT_EQ(slot.result->error, ErrorCode::kInvalidSessionTimeout) << timeout;
  }

  JoinGroupParams no_protocols = Params("", {});
  JoinSlot slot;
  coordinator_.Join(no_protocols, now_, slot.Callback());
  EXPECT_EQ(slot.result->error, ErrorCode::kInconsistentGroupProtocol);

  JoinSlot unknown;
  Join("client-never-issued", unknown);
  EXPECT_EQ(unknown.result->error, ErrorCode::kUnknownMemberId);
}

TEST_F(GroupCoordinatorTest, IncompatibleProtocolsCannotShareAGroup) {
  StableSingle();
  JoinGroupParams other = Params("", {"RoundRobinAssigner"}, false);
  JoinSlot slot;
  coordinator_.Join(other, now_, slot.Callback());
  EXPECT_EQ(slot.result->error, ErrorCode::kInconsistentGroupProtocol);
  JoinGroupParams other_type = Params("", {"range"}, false);
  other_type.protocol_type = "connect";
  JoinSlot slot2;
  coordinator_.Join(other_type, now_, slot2.Callback());
  EXPECT_EQ(slot2.result->error, ErrorCode::kInconsistentGroupProtocol);
}

TEST_F(GroupCoordinatorTest, JoinPhaseWaitsForEveryMemberAndOnlyTheLeaderSeesMembers) {
  std::string a = StableSingle();
  std::string b = MemberIdFor();
  JoinSlot join_b;
  Join(b, join_b);
  EXPECT_FALSE(join_b.result.has_value()) << "b must wait until a rejoins";
  EXPECT_EQ(coordinator_.Heartbeat("g", 1, a, now_), ErrorCode::kRebalanceInProgress);
  JoinSlot join_a;
  Join(a, join_a);
  ASSERT_TRUE(join_a.result.has_value());
  ASSERT_TRUE(join_b.result.has_value());
  EXPECT_EQ(join_a.result->generation_id, 2);
  EXPECT_EQ(join_b.result->generation_id, 2);
  EXPECT_EQ(join_a.result->leader, a);
  EXPECT_EQ(join_b.result->leader, a);
  EXPECT_EQ(join_a.result->members.size(), 2u);
  EXPECT_TRUE(join_b.result->members.empty());
}

TEST_F(GroupCoordinatorTest, ProtocolChosenByVotesAmongThoseAllSupport) {
  std::string a = MemberIdFor();
  std::string b = MemberIdFor();
  std::string c = MemberIdFor();
  JoinSlot ja, jb, jc;
  Join(a, ja, {"range", "roundrobin"});
  Join(b, jb, {"roundrobin", "sticky"});
  Join(c, jc, {"sticky", "roundrobin", "range"});
  ASSERT_TRUE(jc.result.has_value());
  // Only roundrobin is supported by all three.
  EXPECT_EQ(jc.result->protocol_name, "roundrobin");
  EXPECT_EQ(ja.result->protocol_name, "roundrobin");
}

TEST_F(GroupCoordinatorTest, SyncRelaysTheLeadersAssignmentsByteForByte) {
  std::string a = MemberIdFor();
  std::string b = MemberIdFor();
  std::string c = MemberIdFor();
  JoinSlot ja, jb, jc;
  Join(a, ja);
  Join(b, jb);
  Join(c, jc);
  ASSERT_TRUE(jc.result.has_value());
  const std::string leader = ja.result->leader;
  const int32_t gen = ja.result->generation_id;
  std::vector<std::string> followers;
  for (const auto& id : {a, b, c})
    if (id != leader) followers.push_back(id);

  SyncSlot early;
  coordinator_.Sync({"g", gen, followers[0], {}}, now_, early.Callback());
  EXPECT_FALSE(early.result.has_value()) << "a follower waits for the leader's assignment";
  EXPECT_EQ(coordinator_.ValidateCommit("g", gen, followers[0], now_), ErrorCode::kRebalanceInProgress);

  Bytes odd = {0x00, 0xff, 0x10, 0x00};
  SyncSlot lead;
  // The leader leaves followers[1] out: it gets empty bytes. Unknown ids are ignored.
  coordinator_.Sync({"g", gen, leader, {{leader, B("L")}, {followers[0], odd}, {"ghost", B("x")}}}, now_,
                    lead.Callback());
  ASSERT_TRUE(lead.result.has_value());
  ASSERT_TRUE(early.result.has_value());
  EXPECT_EQ(lead.result->assignment, B("L"));
  EXPECT_EQ(early.result->error, ErrorCode::kNone);
  EXPECT_EQ(early.result->assignment, odd);

  SyncSlot late;
  coordinator_.Sync({"g", gen, followers[1], {}}, now_, late.Callback());
  ASSERT_TRUE(late.result.has_value());
  EXPECT_EQ(late.result->error, ErrorCode::kNone);
  EXPECT_TRUE(late.result->assignment.empty());

  auto info = coordinator_.Describe("g");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->state, "Stable");
  EXPECT_EQ(info->members.size(), 3u);
}

TEST_F(GroupCoordinatorTest, SyncChecksMemberGenerationAndState) {
  std::string a = StableSingle();
  SyncSlot unknown, stale, unknown_group;
  coordinator_.Sync({"g", 1, "nobody", {}}, now_, unknown.Callback());
  EXPECT_EQ(unknown.result->error, ErrorCode::kUnknownMemberId);
  coordinator_.Sync({"g", 7, a, {}}, now_, stale.Callback());
  EXPECT_EQ(stale.result->error, ErrorCode::kIllegalGeneration);
  coordinator_.Sync({"other", 1, a, {}}, now_, unknown_group.Callback());
  EXPECT_EQ(unknown_group.result->error, ErrorCode::kUnknownMemberId);

  std::string b = MemberIdFor();
  JoinSlot jb;
  Join(b, jb);  // PreparingRebalance now
  SyncSlot during;
  coordinator_.Sync({"g", 1, a, {}}, now_, during.Callback());
  EXPECT_EQ(during.result->error, ErrorCode::kRebalanceInProgress);
}

TEST_F(GroupCoordinatorTest, HeartbeatRules) {
  std::string a = StableSingle();
  EXPECT_EQ(coordinator_.Heartbeat("g", 1, a, now_), ErrorCode::kNone);
  EXPECT_EQ(coordinator_.Heartbeat("g", 0, a, now_), ErrorCode::kIllegalGeneration);
  EXPECT_EQ(coordinator_.Heartbeat("g", 1, "nobody", now_), ErrorCode::kUnknownMemberId);
  EXPECT_EQ(coordinator_.Heartbeat("nogroup", 1, a, now_), ErrorCode::kUnknownMemberId);
}

TEST_F(GroupCoordinatorTest, UnchangedFollowerRejoiningInStableGetsTheCurrentGeneration) {
  std::string a = MemberIdFor();
  std::string b = MemberIdFor();
  JoinSlot ja, jb;
  Join(a, ja);
  Join(b, jb);
  const std::string leader = ja.result->leader;
  const std::string follower = leader == a ? b : a;
  SyncSlot s1, s2;
  coordinator_.Sync({"g", 1, leader, {}}, now_, s1.Callback());
  coordinator_.Sync({"g", 1, follower, {}}, now_, s2.Callback());
  JoinSlot again;
  Join(follower, again);
  ASSERT_TRUE(again.result.has_value());
  EXPECT_EQ(again.result->generation_id, 1);
  EXPECT_EQ(coordinator_.Heartbeat("g", 1, leader, now_), ErrorCode::kNone) << "no rebalance started";
  JoinSlot changed;
  Join(follower, changed, {"roundrobin"});
  EXPECT_FALSE(changed.result.has_value()) << "a changed subscription rebalances";
  EXPECT_EQ(coordinator_.Heartbeat("g", 1, leader, now_), ErrorCode::kRebalanceInProgress);
}

TEST_F(GroupCoordinatorTest, SilentMemberExpiresAndTheOthersRebalanceWithoutIt) {
  std::string a = MemberIdFor();
  std::string b = MemberIdFor();
  JoinSlot ja, jb;
  Join(a, ja);
  Join(b, jb);
  SyncSlot sa, sb;
  coordinator_.Sync({"g", 1, ja.result->leader, {}}, now_, sa.Callback());
  coordinator_.Sync({"g", 1, ja.result->leader == a ? b : a, {}}, now_, sb.Callback());

  now_ += kSession - 1;
  EXPECT_EQ(coordinator_.Heartbeat("g", 1, a, now_), ErrorCode::kNone);
  coordinator_.Tick(now_);
  EXPECT_EQ(coordinator_.Heartbeat("g", 1, b, now_), ErrorCode::kNone) << "b is not expired one ms early";
  now_ += kSession;  // b silent for a full session since its last heartbeat; a too, but a speaks first
  EXPECT_EQ(coordinator_.Heartbeat("g", 1, a, now_ - 1), ErrorCode::kNone);
  coordinator_.Tick(now_);
  EXPECT_EQ(coordinator_.Heartbeat("g", 1, b, now_), ErrorCode::kUnknownMemberId);
  EXPECT_EQ(coordinator_.Heartbeat("g", 1, a, now_), ErrorCode::kRebalanceInProgress);
  JoinSlot rejoin;
  Join(a, rejoin);
  ASSERT_TRUE(rejoin.result.has_value());
  EXPECT_EQ(rejoin.result->generation_id, 2);
  EXPECT_EQ(rejoin.result->leader, a);
  ASSERT_EQ(rejoin.result->members.size(), 1u);
}

TEST_F(GroupCoordinatorTest, MemberThatDoesNotRejoinIsDroppedAtTheRebalanceTimeout) {
  std::string a = StableSingle();
  std::string b = MemberIdFor();
  JoinSlot jb;
  Join(b, jb);
  // a keeps heartbeating (and is told to rejoin) but never does.
  for (int i = 0; i < 4; ++i) {
    now_ += kRebalance / 4 - 1;
    EXPECT_EQ(coordinator_.Heartbeat("g", 1, a, now_), ErrorCode::kRebalanceInProgress);
    coordinator_.Tick(now_);
    EXPECT_FALSE(jb.result.has_value());
  }
  now_ += 10;
  coordinator_.Tick(now_);
  ASSERT_TRUE(jb.result.has_value());
  EXPECT_EQ(jb.result->generation_id, 2);
  EXPECT_EQ(jb.result->leader, b) << "the old leader did not rejoin";
  ASSERT_EQ(jb.result->members.size(), 1u);
  EXPECT_EQ(coordinator_.Heartbeat("g", 2, a, now_), ErrorCode::kUnknownMemberId);
}

TEST_F(GroupCoordinatorTest, LeaderThatNeverSyncsIsRemovedAndFollowersRebalance) {
  std::string a = MemberIdFor();
  std::string b = MemberIdFor();
  JoinSlot ja, jb;
  Join(a, ja);
  Join(b, jb);
  const std::string leader = ja.result->leader;
  const std::string follower = leader == a ? b : a;
  SyncSlot parked;
  coordinator_.Sync({"g", 1, follower, {}}, now_, parked.Callback());
  now_ += kRebalance;
  coordinator_.Tick(now_);
  ASSERT_TRUE(parked.result.has_value());
  EXPECT_EQ(parked.result->error, ErrorCode::kRebalanceInProgress);
  EXPECT_EQ(coordinator_.Heartbeat("g", 1, leader, now_), ErrorCode::kUnknownMemberId);
  JoinSlot rejoin;
  Join(follower, rejoin);
  ASSERT_TRUE(rejoin.result.has_value());
  EXPECT_EQ(rejoin.result->leader, follower);
}

TEST_F(GroupCoordinatorTest, LeaveRebalancesAndTheLastLeaveEmptiesTheGroup) {
  std::string a = MemberIdFor();
  std::string b = MemberIdFor();
  JoinSlot ja, jb;
  Join(a, ja);
  Join(b, jb);
  EXPECT_EQ(coordinator_.Leave("g", "nobody", now_), ErrorCode::kUnknownMemberId);
  EXPECT_EQ(coordinator_.Leave("g", b, now_), ErrorCode::kNone);
  EXPECT_EQ(coordinator_.Heartbeat("g", 1, a, now_), ErrorCode::kRebalanceInProgress);
  EXPECT_EQ(coordinator_.EmptyForMs("g", now_), std::nullopt);
  EXPECT_EQ(coordinator_.Leave("g", a, now_), ErrorCode::kNone);
  auto info = coordinator_.Describe("g");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->state, "Empty");
  EXPECT_TRUE(info->members.empty());
  EXPECT_EQ(coordinator_.EmptyForMs("g", now_ + 5), 5);
  coordinator_.Tick(now_);
  EXPECT_FALSE(coordinator_.Describe("g").has_value()) << "an empty group is forgotten";
}

TEST_F(GroupCoordinatorTest, LeavingMemberHeldInJoinIsAnsweredUnknown) {
  std::string a = StableSingle();
  std::string b = MemberIdFor();
  JoinSlot jb;
  Join(b, jb);
  ASSERT_FALSE(jb.result.has_value());
  EXPECT_EQ(coordinator_.Leave("g", b, now_), ErrorCode::kNone);
  ASSERT_TRUE(jb.result.has_value());
  EXPECT_EQ(jb.result->error, ErrorCode::kUnknownMemberId);
}

TEST_F(GroupCoordinatorTest, PendingMemberIdBlocksTheJoinOnlyUntilItExpires) {
  std::string a = StableSingle();
  std::string ghost = MemberIdFor();  // never comes back
  JoinSlot ja;
  Join(a, ja);
  EXPECT_FALSE(ja.result.has_value()) << "a pending id holds the join phase";
  now_ += kSession;
  coordinator_.Tick(now_);
  ASSERT_TRUE(ja.result.has_value());
  EXPECT_EQ(ja.result->members.size(), 1u);
  JoinSlot late;
  Join(ghost, late);
  ASSERT_TRUE(late.result.has_value());
  EXPECT_EQ(late.result->error, ErrorCode::kUnknownMemberId);
}

TEST_F(GroupCoordinatorTest, CommitValidation) {
  EXPECT_EQ(coordinator_.ValidateCommit("fresh", -1, "", now_), ErrorCode::kNone) << "simple commit";
  EXPECT_EQ(coordinator_.ValidateCommit("fresh", 3, "m", now_), ErrorCode::kIllegalGeneration);
  std::string a = StableSingle();
  EXPECT_EQ(coordinator_.ValidateCommit("g", 1, a, now_), ErrorCode::kNone);
  EXPECT_EQ(coordinator_.ValidateCommit("g", 0, a, now_), ErrorCode::kIllegalGeneration);
  EXPECT_EQ(coordinator_.ValidateCommit("g", 1, "intruder", now_), ErrorCode::kUnknownMemberId);
  EXPECT_EQ(coordinator_.ValidateCommit("g", -1, "", now_), ErrorCode::kUnknownMemberId)
      << "no simple commits into a live group";
  std::string b = MemberIdFor();
  JoinSlot jb;
  Join(b, jb);
  EXPECT_EQ(coordinator_.ValidateCommit("g", 1, a, now_), ErrorCode::kNone) << "allowed while preparing";
  EXPECT_EQ(coordinator_.Leave("g", a, now_), ErrorCode::kNone);
  ASSERT_TRUE(jb.result.has_value());
  EXPECT_EQ(coordinator_.ValidateCommit("g", 1, a, now_), ErrorCode::kUnknownMemberId);
}

TEST_F(GroupCoordinatorTest, CommitKeepsAMemberAlive) {
  std::string a = StableSingle();
  for (int i = 0; i < 3; ++i) {
    now_ += kSession - 1;
    EXPECT_EQ(coordinator_.ValidateCommit("g", 1, a, now_), ErrorCode::kNone);
    coordinator_.Tick(now_);
  }
  EXPECT_EQ(coordinator_.Heartbeat("g", 1, a, now_), ErrorCode::kNone);
}

TEST_F(GroupCoordinatorTest, DeleteRefusesALiveGroup) {
  StableSingle();
  EXPECT_EQ(coordinator_.Delete("g"), ErrorCode::kNonEmptyGroup);
  EXPECT_EQ(coordinator_.Delete("unknown"), ErrorCode::kNone);
  ASSERT_EQ(coordinator_.List().size(), 1u);
}

class GroupCoordinatorDelayTest : public GroupCoordinatorTest {
 protected:
  GroupCoordinatorDelayTest() : GroupCoordinatorTest(3'000) {}
};

TEST_F(GroupCoordinatorDelayTest, FirstRebalanceWaitsTheInitialDelayForMoreMembers) {
  std::string a = MemberIdFor();
  JoinSlot ja;
  Join(a, ja);
  EXPECT_FALSE(ja.result.has_value());
  now_ += 2'000;
  coordinator_.Tick(now_);
  std::string b = MemberIdFor();
  JoinSlot jb;
  Join(b, jb);  // extends the delay to now + 3000
  now_ += 2'000;
  coordinator_.Tick(now_);
  EXPECT_FALSE(ja.result.has_value());
  now_ += 1'000;
  coordinator_.Tick(now_);
  ASSERT_TRUE(ja.result.has_value());
  ASSERT_TRUE(jb.result.has_value());
  EXPECT_EQ(ja.result->generation_id, 1) << "both in one generation";
  EXPECT_EQ(jb.result->generation_id, 1);
}

}  // namespace
}  // namespace oncemq::broker
