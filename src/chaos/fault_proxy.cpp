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

namespace oncemq::chaos {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kMaxFrame = 256u << 20;
// A side is not read while the bytes queued for its peer exceed this (back-pressure both ways).
constexpr size_t kMaxQueued = 16u << 20;
constexpr int kPollSliceMs = 50;  // bounds how long Stop() and CutAll() wait for a connection thread
constexpr int16_t kProduceKey = 0;
constexpr int16_t kMetadataKey = 3;
constexpr int16_t kFindCoordinatorKey = 10;
constexpr int16_t kProduceFirstFlexible = 9;
constexpr int16_t kMetadataFirstFlexible = 9;
constexpr int16_t kFindCoordinatorFirstFlexible = 3;
constexpr int16_t kFindCoordinatorFirstBatched = 4;  // a coordinators array instead of one coordinator

int32_t LoadI32(const uint8_t* p) {
  return static_cast<int32_t>((uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) |
                              uint32_t{p[3]});
}
void StoreI32(uint8_t* p, int32_t v) {
  auto u = static_cast<uint32_t>(v);
  p[0] = static_cast<uint8_t>(u >> 24);
  p[1] = static_cast<uint8_t>(u >> 16);
  p[2] = static_cast<uint8_t>(u >> 8);
  p[3] = static_cast<uint8_t>(u);
}

// Bounds-checked reads over one frame payload, for the few fields the proxy looks at.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t pos() const { return pos_; }
  bool Skip(size_t n) {
    if (size_ - pos_ < n) return false;
    pos_ += n;
    return true;
  }
  bool I16(int16_t* v) {
    if (size_ - pos_ < 2) return false;
    *v = static_cast<int16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool I32(int32_t* v) {
    if (size_ - pos_ < 4) return false;
    *v = LoadI32(data_ + pos_);
    pos_ += 4;
    return true;
  }
  bool UVarint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ == size_) return false;
      uint8_t b = data_[pos_++];
      *v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  // A (nullable) STRING, or with `compact` a COMPACT_(NULLABLE_)STRING.
  bool SkipString(bool compact) {
    if (compact) {
      uint64_t n = 0;
      return UVarint(&n) && (n == 0 || Skip(n - 1));
    }
    int16_t n = 0;
    return I16(&n) && (n < 0 || Skip(static_cast<size_t>(n)));
  }
  bool SkipTags() {
    uint64_t count = 0;
    if (!UVarint(&count)) return false;
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t tag = 0, size = 0;
      if (!UVarint(&tag) || !UVarint(&size) || !Skip(size)) return false;
    }
    return true;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

struct RequestHeader {
  int16_t api_key = -1;
  int16_t api_version = -1;
  int32_t correlation_id = 0;
  bool expects_response = true;
};

// Reads the request header and, for Produce, whether acks=0 (no response will come).
std::optional<RequestHeader> ParseRequest(const uint8_t* payload, size_t size) {
  Cursor c(payload, size);
  RequestHeader h;
  if (!c.I16(&h.api_key) || !c.I16(&h.api_version) || !c.I32(&h.correlation_id)) return std::nullopt;
  if (h.api_key != kProduceKey) return h;
  // Produce: client_id is a classic nullable string in every header version; flexible versions add tags.
  bool flexible = h.api_version >= kProduceFirstFlexible;
  if (!c.SkipString(false) || (flexible && !c.SkipTags())) return h;
  if (h.api_version >= 3 && !c.SkipString(flexible)) return h;  // transactional_id
  int16_t acks = -1;
  if (c.I16(&acks) && acks == 0) h.expects_response = false;
  return h;
}

// Rewrites, in a Metadata response payload, every broker port equal to `from` to `to`. Returns how
// many entries were rewritten, or -1 if the payload does not parse.
int RewriteMetadataPorts(uint8_t* payload, size_t size, int16_t version, uint16_t from, uint16_t to) {
  Cursor c(payload, size);
  bool flexible = version >= kMetadataFirstFlexible;
  if (!c.Skip(4) || (flexible && !c.SkipTags())) return -1;  // correlation_id, header tags
  if (version >= 3 && !c.Skip(4)) return -1;                 // throttle_time_ms
  int64_t count = 0;
  if (flexible) {
    uint64_t n = 0;
    if (!c.UVarint(&n)) return -1;
    count = static_cast<int64_t>(n) - 1;
  } else {
    int32_t n = 0;
    if (!c.I32(&n)) return -1;
    count = n;
  }
  int rewritten = 0;
  for (int64_t i = 0; i < count; ++i) {
    int32_t port = 0;
    if (!c.Skip(4) || !c.SkipString(flexible)) return -1;  // node_id, host
    size_t port_pos = c.pos();
    if (!c.I32(&port)) return -1;
    if (port == from) {
      StoreI32(payload + port_pos, to);
      ++rewritten;
    }
    if (version >= 1 && !c.SkipString(flexible)) return -1;  // rack
    if (flexible && !c.SkipTags()) return -1;
  }
  return rewritten;
}

// Rewrites, in a FindCoordinator response payload, a coordinator port equal to `from` to `to`, so that a
// consumer group's coordinator traffic (joins, heartbeats, offset commits) passes the proxy too. Returns
// how many coordinators were rewritten, or -1 if the payload does not parse.
int RewriteCoordinatorPorts(uint8_t* payload, size_t size, int16_t version, uint16_t from, uint16_t to) {
  Cursor c(payload, size);
  const bool flexible = version >= kFindCoordinatorFirstFlexible;
  if (!c.Skip(4) || (flexible && !c.SkipTags())) return -1;  // correlation_id, header tags
  if (version >= 1 && !c.Skip(4)) return -1;                 // throttle_time_ms
  auto rewrite_port = [&](int* rewritten) {
    const size_t port_pos = c.pos();
    int32_t port = 0;
    if (!c.I32(&port)) return false;
    if (port == from) {
      StoreI32(payload + port_pos, to);
      ++*rewritten;
    }
    return true;
  };
  int rewritten = 0;
  if (version < kFindCoordinatorFirstBatched) {
    if (!c.Skip(2)) return -1;                               // error_code
    if (version >= 1 && !c.SkipString(flexible)) return -1;  // error_message
    if (!c.Skip(4) || !c.SkipString(flexible)) return -1;    // node_id, host
    return rewrite_port(&rewritten) ? rewritten : -1;
  }
  uint64_t count_plus_one = 0;
  if (!c.UVarint(&count_plus_one)) return -1;
  for (uint64_t i = 1; i < count_plus_one; ++i) {
    if (!c.SkipString(true) || !c.Skip(4) || !c.SkipString(true)) return -1;  // key, node_id, host
    if (!rewrite_port(&rewritten)) return -1;
    if (!c.Skip(2) || !c.SkipString(true) || !c.SkipTags()) return -1;  // error_code, error_message, tags
  }
  return rewritten;
}

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
    int32_t size = LoadI32(client_.in.data() + pos);
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
    int32_t size = LoadI32(upstream_.in.data() + pos);
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
  int32_t correlation_id = LoadI32(frame.data() + 4);
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
  if (p.api_key == kMetadataKey) {
    uint16_t to = proxy_->port_;
    if (RewriteMetadataPorts(frame.data() + 4, frame.size() - 4, p.api_version, upstream_port_, to) > 0) {
      Count([](FaultCounters& c) { ++c.metadata_rewrites; });
    }
  }
  if (p.api_key == kFindCoordinatorKey) {
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
  if (auto armed = armed_.find(api_key); armed != armed_.end() && !armed->second.empty()) {
    plan.action = armed->second.front();
    armed->second.pop_front();
  }
  if (delay_draw < rule.delay_probability) plan.delay = rule.delay;
  auto span = std::max<int64_t>(0, (rule.lost_ack_close_max - rule.lost_ack_close_min).count());
  plan.close_after = rule.lost_ack_close_min + milliseconds(static_cast<int64_t>(close_draw * double(span)));
  return plan;
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
