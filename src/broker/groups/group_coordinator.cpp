#include "broker/groups/group_coordinator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

namespace oncemq::broker {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

GroupCoordinator::GroupCoordinator(GroupOptions options, int64_t now_ms)
    : options_(options), created_ms_(now_ms) {
  std::random_device rd;
  id_salt_ = (uint64_t{rd()} << 32) ^ rd();
}

void GroupCoordinator::Run(Completions& completions) {
  for (auto& complete : completions) complete();
}

GroupCoordinator::Group* GroupCoordinator::Find(std::string_view group_id) {
  auto it = groups_.find(group_id);
  return it == groups_.end() ? nullptr : &it->second;
}

const GroupCoordinator::Group* GroupCoordinator::Find(std::string_view group_id) const {
  auto it = groups_.find(group_id);
  return it == groups_.end() ? nullptr : &it->second;
}

std::string GroupCoordinator::NewMemberId(std::string_view prefix) {
  uint64_t n = ++id_counter_;
  char hex[33];
  snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(SplitMix64(id_salt_ ^ n)),
           static_cast<unsigned long long>(SplitMix64(~id_salt_ + n)));
  return std::string(prefix.empty() ? "member" : prefix) + "-" + hex;
}

namespace {

// Kafka's supportsProtocols: a joining member must share the group's protocol type and offer at least one
// protocol that every other member offers too.
template <typename Members>
bool Compatible(std::string_view group_type, const Members& members, const JoinGroupParams& p) {
  bool others = false;
  for (const auto& [id, m] : members) others |= id != p.member_id;
  if (!others) return true;
  if (group_type != p.protocol_type) return false;
  return std::any_of(p.protocols.begin(), p.protocols.end(), [&](const GroupProtocol& offered) {
    return std::all_of(members.begin(), members.end(), [&](const auto& entry) {
      const auto& [id, m] = entry;
      return id == p.member_id || std::any_of(m.protocols.begin(), m.protocols.end(),
                                              [&](const GroupProtocol& q) { return q.name == offered.name; });
    });
  });
}

}  // namespace

void GroupCoordinator::Join(JoinGroupParams params, int64_t now_ms, JoinCallback done) {
  Completions out;
  {
    std::lock_guard lock(mu_);
    auto fail = [&](ErrorCode error) {
      JoinGroupResult r;
      r.error = error;
      r.member_id = params.member_id;
      out.push_back([done, r = std::move(r)] { done(r); });
    };
    Group* g = Find(params.group_id);
    if (params.group_id.empty()) {
      fail(ErrorCode::kInvalidGroupId);
    } else if (params.session_timeout_ms < options_.min_session_timeout_ms ||
               params.session_timeout_ms > options_.max_session_timeout_ms) {
      fail(ErrorCode::kInvalidSessionTimeout);
    } else if (params.protocol_type.empty() || params.protocols.empty()) {
      fail(ErrorCode::kInconsistentGroupProtocol);
    } else if (g == nullptr && !params.member_id.empty()) {
      fail(ErrorCode::kUnknownMemberId);
    } else if (g != nullptr && !Compatible(g->protocol_type, g->members, params)) {
      fail(ErrorCode::kInconsistentGroupProtocol);
    } else {
      if (g == nullptr) {
        g = &groups_[params.group_id];
        g->id = params.group_id;
      }
      if (params.member_id.empty()) {
        JoinNewMember(*g, std::move(params), now_ms, std::move(done), out);
      } else if (auto pending = g->pending.find(params.member_id); pending != g->pending.end()) {
        g->pending.erase(pending);
        JoinNewMember(*g, std::move(params), now_ms, std::move(done), out);
      } else if (auto m = g->members.find(params.member_id); m != g->members.end()) {
        JoinKnownMember(*g, m->second, std::move(params), now_ms, std::move(done), out);
      } else {
        fail(ErrorCode::kUnknownMemberId);
      }
    }
  }
  Run(out);
}

// A member without an id (or with a pending one): v4+ first gets an id to come back with (KIP-394), so that
// a client whose JoinGroup response is lost does not leave a ghost member behind; then it joins and the
// group rebalances.
void GroupCoordinator::JoinNewMember(Group& g, JoinGroupParams params, int64_t now_ms, JoinCallback done,
                                     Completions& out) {
  if (params.member_id.empty()) {
    params.member_id = NewMemberId(params.group_instance_id.value_or(params.client_id));
    if (params.require_known_member_id) {
      g.pending[params.member_id] = now_ms + params.session_timeout_ms;
      JoinGroupResult r;
      r.error = ErrorCode::kMemberIdRequired;
      r.member_id = params.member_id;
      out.push_back([done = std::move(done), r = std::move(r)] { done(r); });
      return;
    }
  }
  const bool first = g.members.empty();
  Member& m = AddMember(g, params, params.member_id, now_ms);
  m.awaiting_join = std::move(done);
  if (first) g.protocol_type = params.protocol_type;
  if (g.leader.empty()) g.leader = m.id;
  if (g.state == State::kPreparingRebalance) {
    if (now_ms < g.initial_delay_until_ms) {
      g.initial_delay_until_ms = std::min(now_ms + options_.initial_rebalance_delay_ms, g.join_deadline_ms);
    }
  } else {
    PrepareRebalance(g, now_ms, out);
  }
  MaybeCompleteJoin(g, now_ms, out);
}

GroupCoordinator::Member& GroupCoordinator::AddMember(Group& g, JoinGroupParams& params,
                                                      std::string member_id, int64_t now_ms) {
  Member& m = g.members[member_id];
  m.id = std::move(member_id);
  m.group_instance_id = std::move(params.group_instance_id);
  m.client_id = std::move(params.client_id);
  m.client_host = std::move(params.client_host);
  m.session_timeout_ms = params.session_timeout_ms;
  m.rebalance_timeout_ms = params.rebalance_timeout_ms;
  m.protocols = std::move(params.protocols);
  m.last_heartbeat_ms = now_ms;
  empty_since_ms_.erase(g.id);
  return m;
}

void GroupCoordinator::JoinKnownMember(Group& g, Member& m, JoinGroupParams params, int64_t now_ms,
                                       JoinCallback done, Completions& out) {
  m.last_heartbeat_ms = now_ms;
  const bool changed = m.protocols != params.protocols;
  auto update_and_park = [&] {
    m.protocols = std::move(params.protocols);
    m.session_timeout_ms = params.session_timeout_ms;
    m.rebalance_timeout_ms = params.rebalance_timeout_ms;
    if (m.awaiting_join) {
      JoinGroupResult r;
      r.error = ErrorCode::kRebalanceInProgress;
      r.member_id = m.id;
      out.push_back([old = std::move(m.awaiting_join), r = std::move(r)] { old(r); });
    }
    m.awaiting_join = std::move(done);
  };
  switch (g.state) {
    case State::kPreparingRebalance:
      update_and_park();
      MaybeCompleteJoin(g, now_ms, out);
      return;
    case State::kCompletingRebalance:
    case State::kStable:
      // An unchanged follower asking again just gets the current generation; the leader (who must see the
      // members to assign) or a changed subscription starts a new rebalance.
      if (!changed && (g.state == State::kCompletingRebalance || m.id != g.leader)) {
        out.push_back([done = std::move(done), r = ResultFor(g, m)] { done(r); });
        return;
      }
      update_and_park();
      PrepareRebalance(g, now_ms, out);
      MaybeCompleteJoin(g, now_ms, out);
      return;
    case State::kEmpty: break;
  }
  JoinGroupResult r;
  r.error = ErrorCode::kUnknownMemberId;
  out.push_back([done = std::move(done), r = std::move(r)] { done(r); });
}

namespace {
template <typename Members>
int32_t MaxRebalanceTimeout(const Members& members) {
  int32_t max = 0;
  for (const auto& [id, m] : members) max = std::max(max, m.rebalance_timeout_ms);
  return max;
}
}  // namespace

void GroupCoordinator::PrepareRebalance(Group& g, int64_t now_ms, Completions& out) {
  if (g.state == State::kCompletingRebalance) {
    for (auto& [id, m] : g.members) {
      if (!m.awaiting_sync) continue;
      out.push_back([cb = std::move(m.awaiting_sync)] { cb({ErrorCode::kRebalanceInProgress, {}}); });
      m.awaiting_sync = nullptr;
    }
  }
  const bool from_empty = g.state == State::kEmpty;
  g.state = State::kPreparingRebalance;
  g.join_deadline_ms = now_ms + MaxRebalanceTimeout(g.members);
  g.initial_delay_until_ms =
      from_empty ? std::min(now_ms + options_.initial_rebalance_delay_ms, g.join_deadline_ms) : 0;
}

void GroupCoordinator::MaybeCompleteJoin(Group& g, int64_t now_ms, Completions& out) {
  if (g.state != State::kPreparingRebalance || now_ms < g.initial_delay_until_ms || !g.pending.empty())
    return;
  for (const auto& [id, m] : g.members) {
    if (!m.awaiting_join) return;
  }
  CompleteJoin(g, now_ms, out);
}

namespace {
// Each member votes for its most preferred protocol among those every member supports; most votes win,
// ties going to the leader's preference order.
template <typename Members>
std::string SelectProtocol(const Members& members, const std::string& leader) {
  auto supported_by_all = [&](const std::string& name) {
    return std::all_of(members.begin(), members.end(), [&](const auto& entry) {
      const auto& ps = entry.second.protocols;
      return std::any_of(ps.begin(), ps.end(), [&](const GroupProtocol& p) { return p.name == name; });
    });
  };
  const auto& order = members.find(leader)->second.protocols;
  std::map<std::string, int> votes;
  for (const auto& [id, m] : members) {
    for (const GroupProtocol& p : m.protocols) {
      if (supported_by_all(p.name)) {
        ++votes[p.name];
        break;
      }
    }
  }
  std::string best;
  int best_votes = 0;
  for (const GroupProtocol& p : order) {
    auto it = votes.find(p.name);
    if (it != votes.end() && it->second > best_votes) best = p.name, best_votes = it->second;
  }
  return best;
}
}  // namespace

void GroupCoordinator::CompleteJoin(Group& g, int64_t now_ms, Completions& out) {
  for (auto it = g.members.begin(); it != g.members.end();) {
    if (it->second.awaiting_join) {
      ++it;
      continue;
    }
    spdlog::info("group {}: member {} did not rejoin within the rebalance timeout; removed", g.id, it->first);
    it = g.members.erase(it);
  }
  if (!g.members.contains(g.leader)) g.leader = g.members.empty() ? "" : g.members.begin()->first;
  ++g.generation;
  if (g.members.empty()) {
    g.state = State::kEmpty;
    g.protocol_name.clear();
    g.protocol_type.clear();
    empty_since_ms_[g.id] = now_ms;
    spdlog::info("group {}: generation {} is empty", g.id, g.generation);
    return;
  }
  g.protocol_name = SelectProtocol(g.members, g.leader);
  g.state = State::kCompletingRebalance;
  g.sync_deadline_ms = now_ms + MaxRebalanceTimeout(g.members);
  spdlog::info("group {}: generation {} with {} members, leader {}, protocol {}", g.id, g.generation,
               g.members.size(), g.leader, g.protocol_name);
  for (auto& [id, m] : g.members) {
    m.assignment.clear();
    m.last_heartbeat_ms = now_ms;
    out.push_back([cb = std::move(m.awaiting_join), r = ResultFor(g, m)] { cb(r); });
    m.awaiting_join = nullptr;
  }
}

JoinGroupResult GroupCoordinator::ResultFor(const Group& g, const Member& m) const {
  JoinGroupResult r;
  r.generation_id = g.generation;
  r.protocol_name = g.protocol_name;
  r.leader = g.leader;
  r.member_id = m.id;
  if (m.id != g.leader) return r;
  for (const auto& [id, other] : g.members) {
    JoinedMember& out = r.members.emplace_back();
    out.member_id = id;
    out.group_instance_id = other.group_instance_id;
    for (const GroupProtocol& p : other.protocols) {
      if (p.name == g.protocol_name) out.metadata = p.metadata;
    }
  }
  return r;
}

void GroupCoordinator::Sync(SyncGroupParams params, int64_t now_ms, SyncCallback done) {
  Completions out;
  {
    std::lock_guard lock(mu_);
    auto answer = [&](ErrorCode error, Bytes assignment = {}) {
      out.push_back([done, r = SyncGroupResult{error, std::move(assignment)}] { done(r); });
    };
    Group* g = Find(params.group_id);
    auto m = g ? g->members.find(params.member_id) : decltype(g->members.end()){};
    if (g == nullptr || m == g->members.end()) {
      answer(ErrorCode::kUnknownMemberId);
    } else if (params.generation_id != g->generation) {
      answer(ErrorCode::kIllegalGeneration);
    } else if (g->state == State::kPreparingRebalance) {
      answer(ErrorCode::kRebalanceInProgress);
    } else if (g->state == State::kStable) {
      m->second.last_heartbeat_ms = now_ms;
      answer(ErrorCode::kNone, m->second.assignment);
    } else if (g->state == State::kCompletingRebalance) {
      Member& member = m->second;
      member.last_heartbeat_ms = now_ms;
      if (member.awaiting_sync) {
        out.push_back([old = std::move(member.awaiting_sync)] {
          old({ErrorCode::kRebalanceInProgress, {}});
        });
      }
      member.awaiting_sync = std::move(done);
      if (member.id == g->leader) {
        for (auto& [id, each] : g->members) each.assignment.clear();
        for (auto& [id, assignment] : params.assignments) {
          // Assignments for ids that are not members (any more) are dropped, as Kafka does.
          if (auto it = g->members.find(id); it != g->members.end())
            it->second.assignment = std::move(assignment);
        }
        CompleteSync(*g, out);
      }
    } else {
      answer(ErrorCode::kUnknownMemberId);
    }
  }
  Run(out);
}

void GroupCoordinator::CompleteSync(Group& g, Completions& out) {
  g.state = State::kStable;
  for (auto& [id, m] : g.members) {
    if (!m.awaiting_sync) continue;
    out.push_back([cb = std::move(m.awaiting_sync), a = m.assignment] { cb({ErrorCode::kNone, a}); });
    m.awaiting_sync = nullptr;
  }
}

ErrorCode GroupCoordinator::Heartbeat(std::string_view group_id, int32_t generation_id,
                                      std::string_view member_id, int64_t now_ms) {
  std::lock_guard lock(mu_);
  Group* g = Find(group_id);
  auto m = g ? g->members.find(member_id) : decltype(g->members.end()){};
  if (g == nullptr || m == g->members.end()) return ErrorCode::kUnknownMemberId;
  if (generation_id != g->generation) return ErrorCode::kIllegalGeneration;
  m->second.last_heartbeat_ms = now_ms;
  // A rebalance in progress is how members learn that they must join again.
  return g->state == State::kPreparingRebalance ? ErrorCode::kRebalanceInProgress : ErrorCode::kNone;
}

ErrorCode GroupCoordinator::Leave(std::string_view group_id, std::string_view member_id, int64_t now_ms) {
  Completions out;
  ErrorCode result = ErrorCode::kNone;
  {
    std::lock_guard lock(mu_);
    Group* g = Find(group_id);
    if (g == nullptr) {
      result = ErrorCode::kUnknownMemberId;
    } else if (auto pending = g->pending.find(member_id); pending != g->pending.end()) {
      g->pending.erase(pending);
      MaybeCompleteJoin(*g, now_ms, out);
    } else if (g->members.contains(member_id)) {
      spdlog::info("group {}: member {} left", g->id, member_id);
      RemoveMember(*g, std::string(member_id), now_ms, out);
    } else {
      result = ErrorCode::kUnknownMemberId;
    }
  }
  Run(out);
  return result;
}

void GroupCoordinator::RemoveMember(Group& g, const std::string& member_id, int64_t now_ms,
                                    Completions& out) {
  auto it = g.members.find(member_id);
  Member& m = it->second;
  if (m.awaiting_join) {
    out.push_back([cb = std::move(m.awaiting_join)] {
      JoinGroupResult r;
      r.error = ErrorCode::kUnknownMemberId;
      cb(r);
    });
  }
  if (m.awaiting_sync) {
    out.push_back([cb = std::move(m.awaiting_sync)] { cb({ErrorCode::kUnknownMemberId, {}}); });
  }
  g.members.erase(it);
  if (g.leader == member_id) g.leader = g.members.empty() ? "" : g.members.begin()->first;
  if (g.state == State::kStable || g.state == State::kCompletingRebalance) PrepareRebalance(g, now_ms, out);
  MaybeCompleteJoin(g, now_ms, out);
}

ErrorCode GroupCoordinator::ValidateCommit(std::string_view group_id, int32_t generation_id,
                                           std::string_view member_id, int64_t now_ms) {
  std::lock_guard lock(mu_);
  Group* g = Find(group_id);
  if (g == nullptr) return generation_id < 0 ? ErrorCode::kNone : ErrorCode::kIllegalGeneration;
  if (generation_id < 0 && g->members.empty()) return ErrorCode::kNone;
  auto m = g->members.find(member_id);
  if (m == g->members.end()) return ErrorCode::kUnknownMemberId;
  if (generation_id != g->generation) return ErrorCode::kIllegalGeneration;
  if (g->state == State::kCompletingRebalance) return ErrorCode::kRebalanceInProgress;
  m->second.last_heartbeat_ms = now_ms;
  return ErrorCode::kNone;
}

void GroupCoordinator::Tick(int64_t now_ms) {
  Completions out;
  {
    std::lock_guard lock(mu_);
    for (auto it = groups_.begin(); it != groups_.end();) {
      TickGroup(it->second, now_ms, out);
      if (it->second.state == State::kEmpty && !it->second.HasMembers()) {
        it = groups_.erase(it);
      } else {
        ++it;
      }
    }
  }
  Run(out);
}

void GroupCoordinator::TickGroup(Group& g, int64_t now_ms, Completions& out) {
  if (std::erase_if(g.pending, [&](const auto& p) { return p.second <= now_ms; }) > 0) {
    MaybeCompleteJoin(g, now_ms, out);
  }
  // Members held in JoinGroup or SyncGroup are waiting on us, not silent: the phase deadlines cover them.
  std::vector<std::string> expired;
  for (const auto& [id, m] : g.members) {
    if (!m.awaiting_join && !m.awaiting_sync && now_ms >= m.last_heartbeat_ms + m.session_timeout_ms) {
      expired.push_back(id);
    }
  }
  for (const std::string& id : expired) {
    spdlog::info("group {}: member {} session expired", g.id, id);
    RemoveMember(g, id, now_ms, out);
  }
  if (g.state == State::kPreparingRebalance) {
    if (now_ms >= g.join_deadline_ms) {
      CompleteJoin(g, now_ms, out);
    } else {
      MaybeCompleteJoin(g, now_ms, out);
    }
  }
  if (g.state == State::kCompletingRebalance && now_ms >= g.sync_deadline_ms) {
    std::vector<std::string> silent;
    for (const auto& [id, m] : g.members) {
      if (!m.awaiting_sync) silent.push_back(id);
    }
    for (const std::string& id : silent) {
      spdlog::info("group {}: member {} sent no SyncGroup within the rebalance timeout; removed", g.id, id);
      RemoveMember(g, id, now_ms, out);
    }
  }
}

namespace {
const char* StateName(int state) {
  static const char* const kNames[] = {"Empty", "PreparingRebalance", "CompletingRebalance", "Stable"};
  return kNames[state];
}
}  // namespace

GroupInfo GroupCoordinator::InfoOf(const Group& g) {
  GroupInfo info;
  info.group_id = g.id;
  info.state = StateName(static_cast<int>(g.state));
  info.protocol_type = g.protocol_type;
  info.generation_id = g.generation;
  const bool stable = g.state == State::kStable;
  if (stable) info.protocol_name = g.protocol_name;
  for (const auto& [id, m] : g.members) {
    GroupMemberInfo& out = info.members.emplace_back();
    out.member_id = id;
    out.group_instance_id = m.group_instance_id;
    out.client_id = m.client_id;
    out.client_host = m.client_host;
    if (!stable) continue;
    out.assignment = m.assignment;
    for (const GroupProtocol& p : m.protocols) {
      if (p.name == g.protocol_name) out.metadata = p.metadata;
    }
  }
  return info;
}

std::vector<GroupInfo> GroupCoordinator::List() const {
  std::lock_guard lock(mu_);
  std::vector<GroupInfo> out;
  for (const auto& [id, g] : groups_) out.push_back(InfoOf(g));
  return out;
}

std::optional<GroupInfo> GroupCoordinator::Describe(std::string_view group_id) const {
  std::lock_guard lock(mu_);
  const Group* g = Find(group_id);
  if (g == nullptr) return std::nullopt;
  return InfoOf(*g);
}

std::optional<int64_t> GroupCoordinator::EmptyForMs(std::string_view group_id, int64_t now_ms) const {
  std::lock_guard lock(mu_);
  if (const Group* g = Find(group_id); g != nullptr && g->HasMembers()) return std::nullopt;
  auto it = empty_since_ms_.find(group_id);
  return now_ms - (it == empty_since_ms_.end() ? created_ms_ : it->second);
}

ErrorCode GroupCoordinator::Delete(std::string_view group_id) {
  std::lock_guard lock(mu_);
  if (const Group* g = Find(group_id); g != nullptr) {
    if (g->HasMembers()) return ErrorCode::kNonEmptyGroup;
    groups_.erase(groups_.find(group_id));
  }
  if (auto it = empty_since_ms_.find(group_id); it != empty_since_ms_.end()) empty_since_ms_.erase(it);
  return ErrorCode::kNone;
}

}  // namespace oncemq::broker
