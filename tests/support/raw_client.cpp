#include "support/raw_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace oncemq::testing {

namespace {

using Clock = std::chrono::steady_clock;

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

}  // namespace

const char* ToString(ReadOutcome o) {
  switch (o) {
    case ReadOutcome::kFrame: return "frame";
    case ReadOutcome::kClosed: return "closed";
    case ReadOutcome::kTimeout: return "timeout";
    case ReadOutcome::kError: return "error";
  }
  return "?";
}

std::unique_ptr<RawConnection> RawConnection::Connect(const std::string& host, uint16_t port,
                                                      std::string* error, milliseconds timeout) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    *error = "not a numeric IPv4 address: " + host;
    return nullptr;
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return nullptr;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (rc == 1) {
      int soerr = 0;
      socklen_t len = sizeof(soerr);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
      rc = soerr == 0 ? 0 : -1;
      errno = soerr;
    } else {
      if (rc == 0) errno = ETIMEDOUT;
      rc = -1;
    }
  }
  if (rc != 0) {
    *error = "connect " + host + ":" + std::to_string(port) + ": " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<RawConnection>(new RawConnection(fd));
}

RawConnection::~RawConnection() {
  ::close(fd_);
}

bool RawConnection::SendRaw(ByteView bytes) {
  size_t sent = 0;
  auto deadline = Clock::now() + milliseconds(10000);
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, RemainingMs(deadline)) <= 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool RawConnection::SendFrame(ByteView payload) {
  Bytes frame(4 + payload.size());
  StoreBe32(frame.data(), static_cast<uint32_t>(payload.size()));
  std::memcpy(frame.data() + 4, payload.data(), payload.size());
  return SendRaw(frame);
}

ReadOutcome RawConnection::ReadExact(uint8_t* dst, size_t n, Clock::time_point deadline) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::recv(fd_, dst + got, n - got, 0);
    if (r > 0) {
      got += static_cast<size_t>(r);
      continue;
    }
    if (r == 0) return ReadOutcome::kClosed;
    if (errno == EINTR) continue;
    if (errno == ECONNRESET || errno == EPIPE) return ReadOutcome::kClosed;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return ReadOutcome::kError;
    int left = RemainingMs(deadline);
    if (left == 0) return ReadOutcome::kTimeout;
    pollfd p{fd_, POLLIN, 0};
    int pr = ::poll(&p, 1, left);
    if (pr == 0) return ReadOutcome::kTimeout;
    if (pr < 0 && errno != EINTR) return ReadOutcome::kError;
  }
  return ReadOutcome::kFrame;
}

ReadOutcome RawConnection::ReadFrame(Bytes* payload, milliseconds timeout, size_t max_frame) {
  auto deadline = Clock::now() + timeout;
  uint8_t size_bytes[4];
  ReadOutcome o = ReadExact(size_bytes, 4, deadline);
  if (o != ReadOutcome::kFrame) return o;
  int32_t size = static_cast<int32_t>(LoadBe32(size_bytes));
  if (size < 0 || static_cast<size_t>(size) > max_frame) return ReadOutcome::kError;
  payload->resize(static_cast<size_t>(size));
  return ReadExact(payload->data(), payload->size(), deadline);
}

bool RawConnection::WaitClosed(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  uint8_t sink[4096];
  for (;;) {
    ssize_t r = ::recv(fd_, sink, sizeof(sink), 0);
    if (r == 0) return true;
    if (r > 0) continue;
    if (errno == EINTR) continue;
    if (errno == ECONNRESET || errno == EPIPE) return true;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
    int left = RemainingMs(deadline);
    if (left == 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, left) == 0) return false;
  }
}

}  // namespace oncemq::testing
