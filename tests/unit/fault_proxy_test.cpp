// FaultProxy's armed faults (src/chaos/fault_proxy.h), against a scripted upstream that answers every
// request at once: an armed fault lands on an answer the proxy could still relay, so a run that arms one
// of each kind gets one of each — even when the armed drop turns the connection into a black hole that
// swallows the next answer too (a CI run of the pipeline chaos test once ended with 0 cuts that way).
#include "chaos/fault_proxy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "common/bytes.h"
#include "protocol/writer.h"

namespace oncemq::chaos {
namespace {

using std::chrono::milliseconds;

constexpr int16_t kApiVersionsApi = 18;

int32_t LoadI32(const uint8_t* p) {
  return static_cast<int32_t>(LoadBe32(p));
}

// An ApiVersions v0 request frame (header only, null client id).
Bytes Request(int32_t correlation_id) {
  protocol::Writer w;
  const size_t size_at = w.ReserveInt32();
  w.Int16(kApiVersionsApi);
  w.Int16(0);
  w.Int32(correlation_id);
  w.NullableString(std::nullopt);
  w.PatchLengthSince(size_at);
  return w.Take();
}

int Listen(uint16_t* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 16) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return -1;
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

int Connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}

bool SendAll(int fd, const std::vector<uint8_t>& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Polls `done` until it is true (→ true) or `bound` has passed.
template <typename Done>
bool WaitFor(Done done, milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

// What a client connection saw within `bound`: the correlation ids answered, and whether it was closed.
struct Seen {
  std::vector<int32_t> answered;
  bool closed = false;
};

Seen ReadFor(int fd, milliseconds bound, size_t want = SIZE_MAX) {
  Seen seen;
  std::vector<uint8_t> in;
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!seen.closed && seen.answered.size() < want && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    uint8_t buf[512];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      seen.closed = true;
      break;
    }
    in.insert(in.end(), buf, buf + n);
    while (in.size() >= 8 && in.size() >= 4 + static_cast<size_t>(LoadI32(in.data()))) {
      seen.answered.push_back(LoadI32(in.data() + 4));
      in.erase(in.begin(), in.begin() + 4 + LoadI32(in.data()));
    }
  }
  return seen;
}

// Answers every request with its correlation id and an empty body, at once, on every connection.
class EchoBroker {
 public:
  EchoBroker() : listen_fd_(Listen(&port_)) {
    accept_ = std::thread([this] { AcceptLoop(); });
  }
  ~EchoBroker() {
    stop_.store(true);
    accept_.join();
    for (std::thread& t : served_) t.join();
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }

 private:
  void AcceptLoop() {
    while (!stop_.load()) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) served_.emplace_back([this, fd] { Serve(fd); });
    }
  }
  void Serve(int fd) {
    std::vector<uint8_t> in;
    while (!stop_.load()) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      uint8_t buf[512];
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      in.insert(in.end(), buf, buf + n);
      protocol::Writer answers;
      while (in.size() >= 12 && in.size() >= 4 + static_cast<size_t>(LoadI32(in.data()))) {
        answers.Int32(4);
        answers.Int32(LoadI32(in.data() + 8));  // size, api_key, api_version, then the correlation id
        in.erase(in.begin(), in.begin() + 4 + LoadI32(in.data()));
      }
      if (answers.size() > 0 && !SendAll(fd, answers.bytes())) break;
    }
    ::close(fd);
  }

  uint16_t port_ = 0;
  int listen_fd_;
  std::atomic<bool> stop_{false};
  std::thread accept_;
  std::vector<std::thread> served_;
};

class FaultProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GT(broker_.port(), 0);
    std::string error;
    ASSERT_TRUE(proxy_.Start(&error)) << error;
    // A black hole lasts long enough to swallow everything this test sends on its connection.
    proxy_.SetRule(kApiVersionsApi, FaultRule{.lost_ack_close_min = milliseconds(3'000),
                                              .lost_ack_close_max = milliseconds(3'000)});
  }
  ~FaultProxyTest() override {
    for (int fd : fds_) ::close(fd);
  }

  int Client() {
    int fd = Connect(proxy_.port());
    if (fd >= 0) fds_.push_back(fd);
    return fd;
  }

  EchoBroker broker_;
  FaultProxy proxy_{"127.0.0.1", broker_.port(), 7};
  std::vector<int> fds_;
};

TEST_F(FaultProxyTest, UnarmedRequestsAreAnsweredInOrder) {
  int fd = Client();
  ASSERT_GE(fd, 0);
  std::vector<uint8_t> both = Request(1);
  for (uint8_t b : Request(2)) both.push_back(b);
  ASSERT_TRUE(SendAll(fd, both));
  Seen seen = ReadFor(fd, milliseconds(5'000), 2);
  EXPECT_EQ(seen.answered, (std::vector<int32_t>{1, 2}));
  EXPECT_FALSE(seen.closed);
  EXPECT_EQ(proxy_.Counters().faults(), 0);
}

TEST_F(FaultProxyTest, AnArmedCutIsNotSpentOnAnAnswerTheBlackHoleSwallows) {
  proxy_.ArmOnce(kApiVersionsApi, FaultAction::kDropResponse);
  proxy_.ArmOnce(kApiVersionsApi, FaultAction::kCut);
  // Two requests in flight on one connection: the first answer is the lost ack, the second falls into
  // the black hole it opened.
  int first = Client();
  ASSERT_GE(first, 0);
  std::vector<uint8_t> both = Request(1);
  for (uint8_t b : Request(2)) both.push_back(b);
  ASSERT_TRUE(SendAll(first, both));
  ASSERT_TRUE(WaitFor([&] { return proxy_.Counters().responses_dropped == 2; }, milliseconds(10'000)))
      << proxy_.Counters().ToString();
  EXPECT_TRUE(ReadFor(first, milliseconds(200)).answered.empty());

  // The armed cut is still waiting: the next answer that could be relayed gets it.
  int second = Client();
  ASSERT_GE(second, 0);
  ASSERT_TRUE(SendAll(second, Request(3)));
  Seen seen = ReadFor(second, milliseconds(5'000));
  EXPECT_TRUE(seen.answered.empty());
  EXPECT_TRUE(seen.closed);
  FaultCounters c = proxy_.Counters();
  EXPECT_EQ(c.lost_acks, 1);
  EXPECT_EQ(c.cuts, 1) << c.ToString();
  EXPECT_EQ(c.faults_by_api[kApiVersionsApi], 2);

  // Both armed faults spent: the next connection is served normally.
  int third = Client();
  ASSERT_GE(third, 0);
  ASSERT_TRUE(SendAll(third, Request(4)));
  EXPECT_EQ(ReadFor(third, milliseconds(5'000), 1).answered, (std::vector<int32_t>{4}));
}

}  // namespace
}  // namespace oncemq::chaos
