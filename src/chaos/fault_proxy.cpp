#include "chaos/fault_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "chaos/kafka_frames.h"
#include "common/bytes.h"

namespace oncemq::chaos {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kMaxFrame = 256u << 20;
// A side is not read while the bytes queued for its peer exceed this (back-pressure both ways).
constexpr size_t kMaxQueued = 16u << 20;
constexpr int kPollSliceMs = 50;  // bounds how long Stop() and CutAll() wait for a connection thread
int ConnectTcp(const std::string& host, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) return -1;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  // Blocking connect: the broker is local, so it is answered or refused at once.
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// One direction's bytes: what was read and is not yet a whole frame, and what waits to be written.
struct Side {
  int fd = -1;
  std::vector<uint8_t> in;
  std::vector<uint8_t> out;
  size_t out_pos = 0;
  bool closed = false;  // read EOF or error (for upstream: the broker is gone)

  size_t queued() const { return out.size() - out_pos; }
  // Returns false when the peer is gone.
  bool ReadSome() {
    uint8_t buf[64 * 1024];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      in.insert(in.end(), buf, buf + n);
      return true;
    }
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
  }
  // Returns false when the peer is gone.
  bool WriteSome() {
    ssize_t n = ::send(fd, out.data() + out_pos, queued(), MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    out_pos += static_cast<size_t>(n);
    if (out_pos == out.size()) {
      out.clear();
      out_pos = 0;
    }
    return true;
  }
};

}  // namespace

std::string FaultCounters::ToString() const {
  std::ostringstream s;
  s << "connections=" << connections << " upstream_failures=" << upstream_failures << " requests=" << requests
    << " responses_relayed=" << responses_relayed << " responses_dropped=" << responses_dropped
    << " lost_acks=" << lost_acks << " cuts=" << cuts << " delays=" << delays
    << " metadata_rewrites=" << metadata_rewrites << " coordinator_rewrites=" << coordinator_rewrites
    << " faults_by_api={";
  const char* sep = "";
  for (const auto& [key, n] : faults_by_api) {
    s << sep << key << ":" << n;
    sep = ",";
  }
  s << "} requests_by_api={";
  sep = "";
  for (const auto& [key, n] : requests_by_api) {
    s << sep << key << ":" << n;
    sep = ",";
  }
  s << "}";
  return s.str();
}

// One client connection and its upstream connection, served by its own thread.
class FaultProxy::Connection {
 public:
  Connection(FaultProxy* proxy, int client_fd) : proxy_(proxy) { client_.fd = client_fd; }
  ~Connection() {
    if (thread.joinable()) thread.join();
  }

  void Serve();

  std::thread thread;
  std::atomic<bool> done{false};

 private:
  struct Pending {
    int16_t api_key;
    int16_t api_version;
    Planned plan;
  };
  struct Held {
    Clock::time_point release;
    std::vector<uint8_t> frame;
  };

  bool Connect();
  bool Step();
  bool ProcessRequests();
  bool ProcessResponses();
  // Handles one whole response frame (with its size prefix). False = close the connection pair.
  bool OnResponse(std::vector<uint8_t> frame);
  void ReleaseHeld(Clock::time_point now);
  int PollTimeoutMs(Clock::time_point now) const;
  template <typename F>
  void Count(F&& f) {
    std::lock_guard<std::mutex> lock(proxy_->mu_);
    f(proxy_->counters_);
  }

  FaultProxy* proxy_;
  Side client_;
  Side upstream_;
  uint16_t upstream_port_ = 0;
  uint64_t cut_generation_ = 0;
  std::unordered_map<int32_t, Pending> pending_;  // by correlation id
  std::deque<Held> held_;                         // responses waiting for their release time
  std::optional<Clock::time_point> black_hole_until_;
};

bool FaultProxy::Connection::Connect() {
  std::string host;
  {
    std::lock_guard<std::mutex> lock(proxy_->mu_);
    host = proxy_->upstream_host_;
    upstream_port_ = proxy_->upstream_port_;
    cut_generation_ = proxy_->cut_all_generation_;
  }
  upstream_.fd = ConnectTcp(host, upstream_port_);
  if (upstream_.fd < 0) {
    Count([](FaultCounters& c) { ++c.upstream_failures; });
    return false;
  }
  int one = 1;
  ::setsockopt(client_.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ::fcntl(client_.fd, F_SETFL, ::fcntl(client_.fd, F_GETFL) | O_NONBLOCK);
  return true;
}

void FaultProxy::Connection::Serve() {
  if (Connect()) {
    while (Step()) {
    }
  }
  ::close(client_.fd);
  if (upstream_.fd >= 0) ::close(upstream_.fd);
  done.store(true);
}

// One poll round. Returns false when the connection pair is to be closed.
bool FaultProxy::Connection::Step() {
  if (proxy_->stopping_.load()) return false;
  {
    std::lock_guard<std::mutex> lock(proxy_->mu_);
    if (proxy_->cut_all_generation_ != cut_generation_) {
      ++proxy_->counters_.cuts;
      return false;
    }
  }
  auto now = Clock::now();
  if (black_hole_until_ && now >= *black_hole_until_) return false;
  ReleaseHeld(now);
  // The broker went away: relay what it did answer, then close the client too.
  if (upstream_.closed && held_.empty() && client_.queued() == 0) return false;

  // A closed upstream is left out of the poll (fd -1), or its POLLHUP would spin the loop.
  pollfd fds[3] = {
      {proxy_->wake_pipe_[0], POLLIN, 0}, {client_.fd, 0, 0}, {upstream_.closed ? -1 : upstream_.fd, 0, 0}};
  if (!upstream_.closed && upstream_.queued() < kMaxQueued) fds[1].events |= POLLIN;
  if (client_.queued() > 0) fds[1].events |= POLLOUT;
  if (!upstream_.closed && client_.queued() < kMaxQueued) fds[2].events |= POLLIN;
  if (!upstream_.closed && upstream_.queued() > 0) fds[2].events |= POLLOUT;
  if (::poll(fds, 3, PollTimeoutMs(now)) < 0) return errno == EINTR;
  if (fds[0].revents != 0) return false;

  if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
    if (!client_.ReadSome() || !ProcessRequests()) return false;
  }
  if ((fds[1].revents & POLLOUT) && !client_.WriteSome()) return false;
  if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) {
    if (!upstream_.ReadSome()) upstream_.closed = true;
    if (!ProcessResponses()) return false;
  }
  if ((fds[2].revents & POLLOUT) && !upstream_.closed && !upstream_.WriteSome()) upstream_.closed = true;
  return true;
}

int FaultProxy::Connection::PollTimeoutMs(Clock::time_point now) const {
  auto until = now + milliseconds(kPollSliceMs);
  if (!held_.empty()) until = std::min(until, held_.front().release);
  if (black_hole_until_) until = std::min(until, *black_hole_until_);
  auto ms = std::chrono::duration_cast<milliseconds>(until - now).count();
  return static_cast<int>(std::clamp<int64_t>(ms + 1, 0, kPollSliceMs));
}

bool FaultProxy::Connection::ProcessRequests() {
  size_t pos = 0;
  bool ok = true;
  while (client_.in.size() - pos >= 4) {
    int32_t size = static_cast<int32_t>(LoadBe32(client_.in.data() + pos));
    if (size < 8 || static_cast<size_t>(size) > kMaxFrame) {
      ok = false;
      break;
    }
    if (client_.in.size() - pos - 4 < static_cast<size_t>(size)) break;
    const uint8_t* payload = client_.in.data() + pos + 4;
    std::optional<RequestHeader> h = ParseRequest(payload, static_cast<size_t>(size));
    if (!h) {
      ok = false;
      break;
    }
    if (h->expects_response) {
      pending_[h->correlation_id] = Pending{h->api_key, h->api_version, proxy_->Plan(h->api_key)};
    }
    Count([&](FaultCounters& c) {
      ++c.requests;
      ++c.requests_by_api[h->api_key];
    });
    upstream_.out.insert(upstream_.out.end(), client_.in.begin() + static_cast<ptrdiff_t>(pos),
                         client_.in.begin() + static_cast<ptrdiff_t>(pos + 4 + static_cast<size_t>(size)));
    pos += 4 + static_cast<size_t>(size);
  }
  client_.in.erase(client_.in.begin(), client_.in.begin() + static_cast<ptrdiff_t>(pos));
  return ok;
}

bool FaultProxy::Connection::ProcessResponses() {
  size_t pos = 0;
  bool ok = true;
  while (ok && upstream_.in.size() - pos >= 4) {
    int32_t size = static_cast<int32_t>(LoadBe32(upstream_.in.data() + pos));
    if (size < 4 || static_cast<size_t>(size) > kMaxFrame) {
      ok = false;
      break;
    }
    size_t total = 4 + static_cast<size_t>(size);
    if (upstream_.in.size() - pos < total) break;
    auto first = upstream_.in.begin() + static_cast<ptrdiff_t>(pos);
    ok = OnResponse(std::vector<uint8_t>(first, first + static_cast<ptrdiff_t>(total)));
    pos += total;
  }
  upstream_.in.erase(upstream_.in.begin(), upstream_.in.begin() + static_cast<ptrdiff_t>(pos));
  return ok;
}

bool FaultProxy::Connection::OnResponse(std::vector<uint8_t> frame) {
  int32_t correlation_id = static_cast<int32_t>(LoadBe32(frame.data() + 4));
  Pending p{-1, -1, Planned{}};
  if (auto it = pending_.find(correlation_id); it != pending_.end()) {
    p = it->second;
    pending_.erase(it);
  }
  auto now = Clock::now();
  if (black_hole_until_) {
    Count([](FaultCounters& c) { ++c.responses_dropped; });
    return true;
  }
  if (p.plan.action == FaultAction::kNone && p.api_key >= 0) p.plan.action = proxy_->TakeArmed(p.api_key);
  if (p.plan.action == FaultAction::kDropResponse) {
    black_hole_until_ = now + p.plan.close_after;
    Count([&](FaultCounters& c) {
      ++c.responses_dropped;
      ++c.lost_acks;
      ++c.faults_by_api[p.api_key];
    });
    return true;
  }
  if (p.plan.action == FaultAction::kCut) {
    Count([&](FaultCounters& c) {
      ++c.cuts;
      ++c.faults_by_api[p.api_key];
    });
    return false;
  }
  if (p.api_key == kMetadataApiKey) {
    uint16_t to = proxy_->port_;
    if (RewriteMetadataPorts(frame.data() + 4, frame.size() - 4, p.api_version, upstream_port_, to) > 0) {
      Count([](FaultCounters& c) { ++c.metadata_rewrites; });
    }
  }
  if (p.api_key == kFindCoordinatorApiKey) {
    uint16_t to = proxy_->port_;
    if (RewriteCoordinatorPorts(frame.data() + 4, frame.size() - 4, p.api_version, upstream_port_, to) > 0) {
      Count([](FaultCounters& c) { ++c.coordinator_rewrites; });
    }
  }
  if (p.plan.delay.count() > 0) Count([](FaultCounters& c) { ++c.delays; });
  // Held responses leave in order, so a later release time never overtakes an earlier one.
  held_.push_back(Held{now + p.plan.delay, std::move(frame)});
  ReleaseHeld(now);
  return true;
}

void FaultProxy::Connection::ReleaseHeld(Clock::time_point now) {
  int64_t released = 0;
  while (!held_.empty() && held_.front().release <= now) {
    client_.out.insert(client_.out.end(), held_.front().frame.begin(), held_.front().frame.end());
    held_.pop_front();
    ++released;
  }
  if (released > 0) Count([&](FaultCounters& c) { c.responses_relayed += released; });
}

FaultProxy::FaultProxy(std::string upstream_host, uint16_t upstream_port, uint64_t seed)
    : upstream_host_(std::move(upstream_host)), upstream_port_(upstream_port), rng_(seed) {}

FaultProxy::~FaultProxy() {
  Stop();
}

bool FaultProxy::Start(std::string* error) {
  if (::pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    *error = std::string("pipe2: ") + std::strerror(errno);
    return false;
  }
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 128) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    *error = std::string("bind/listen on 127.0.0.1:0: ") + std::strerror(errno);
    return false;
  }
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  return true;
}

void FaultProxy::Stop() {
  if (stopping_.exchange(true)) return;
  if (wake_pipe_[1] >= 0) {
    [[maybe_unused]] ssize_t n = ::write(wake_pipe_[1], "x", 1);
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  std::list<std::unique_ptr<Connection>> connections;
  {
    std::lock_guard<std::mutex> lock(mu_);
    connections.swap(connections_);
  }
  connections.clear();  // joins each thread
  for (int* fd : {&listen_fd_, &wake_pipe_[0], &wake_pipe_[1]}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

void FaultProxy::AcceptLoop() {
  while (!stopping_.load()) {
    ReapFinished();
    pollfd fds[2] = {{wake_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    if (::poll(fds, 2, kPollSliceMs) <= 0 || fds[0].revents != 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    auto conn = std::make_unique<Connection>(this, fd);
    Connection* raw = conn.get();
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.connections;
      connections_.push_back(std::move(conn));
    }
    raw->thread = std::thread([raw] { raw->Serve(); });
  }
}

void FaultProxy::ReapFinished() {
  std::list<std::unique_ptr<Connection>> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      auto next = std::next(it);
      if ((*it)->done.load()) finished.splice(finished.end(), connections_, it);
      it = next;
    }
  }
  finished.clear();  // joins outside the lock
}

FaultProxy::Planned FaultProxy::Plan(int16_t api_key) {
  std::lock_guard<std::mutex> lock(mu_);
  // The same number of draws for every request keeps one seed's choices reproducible.
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  double action_draw = unit(rng_);
  double delay_draw = unit(rng_);
  double close_draw = unit(rng_);
  Planned plan;
  auto rule_it = rules_.find(api_key);
  FaultRule rule = rule_it == rules_.end() ? FaultRule{} : rule_it->second;
  if (action_draw < rule.drop_response) {
    plan.action = FaultAction::kDropResponse;
  } else if (action_draw < rule.drop_response + rule.cut) {
    plan.action = FaultAction::kCut;
  }
  if (delay_draw < rule.delay_probability) plan.delay = rule.delay;
  auto span = std::max<int64_t>(0, (rule.lost_ack_close_max - rule.lost_ack_close_min).count());
  plan.close_after = rule.lost_ack_close_min + milliseconds(static_cast<int64_t>(close_draw * double(span)));
  return plan;
}

FaultAction FaultProxy::TakeArmed(int16_t api_key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto armed = armed_.find(api_key);
  if (armed == armed_.end() || armed->second.empty()) return FaultAction::kNone;
  FaultAction action = armed->second.front();
  armed->second.pop_front();
  return action;
}

void FaultProxy::SetUpstream(std::string host, uint16_t port) {
  std::lock_guard<std::mutex> lock(mu_);
  upstream_host_ = std::move(host);
  upstream_port_ = port;
}

void FaultProxy::SetRule(int16_t api_key, const FaultRule& rule) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_[api_key] = rule;
}

void FaultProxy::ClearRules() {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.clear();
  armed_.clear();
}

void FaultProxy::ArmOnce(int16_t api_key, FaultAction action) {
  std::lock_guard<std::mutex> lock(mu_);
  armed_[api_key].push_back(action);
}

void FaultProxy::CutAll() {
  std::lock_guard<std::mutex> lock(mu_);
  ++cut_all_generation_;
}

FaultCounters FaultProxy::Counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

}  // namespace oncemq::chaos
