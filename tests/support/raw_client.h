// RawConnection: a minimal blocking Kafka wire client for tests that must send exact (often wrong)
// bytes. It knows framing (INT32 size + payload) and nothing else; kafka_wire.h builds and parses the
// request and response bodies.
//
// Every call that waits takes a bounded timeout. Writes use MSG_NOSIGNAL, so writing to a connection
// the broker closed reports an error instead of raising SIGPIPE. Thread safety: none.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/bytes.h"

namespace oncemq::testing {

using std::chrono::milliseconds;

enum class ReadOutcome {
  kFrame,    // a whole frame was read
  kClosed,   // the peer closed (EOF or reset) before a whole frame arrived
  kTimeout,  // nothing (or only part of a frame) within the timeout
  kError,    // a local socket error
};
const char* ToString(ReadOutcome o);

class RawConnection {
 public:
  // Connects to host:port (numeric IPv4). Returns nullptr and sets *error on failure.
  static std::unique_ptr<RawConnection> Connect(const std::string& host, uint16_t port, std::string* error,
                                                milliseconds timeout = milliseconds(5000));
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Writes all of `bytes` as they are (no size prefix). False if the connection is gone.
  bool SendRaw(ByteView bytes);
  // Writes INT32 size + payload.
  bool SendFrame(ByteView payload);

  // Reads one frame's payload (without the size prefix) into *payload.
  // Frames larger than `max_frame` are reported as kError (a test client never expects them).
  ReadOutcome ReadFrame(Bytes* payload, milliseconds timeout, size_t max_frame = 64u << 20);

  // Waits until the peer closes the connection, discarding anything it sends. True if it closed
  // within `timeout`.
  bool WaitClosed(milliseconds timeout);

  int fd() const { return fd_; }

 private:
  explicit RawConnection(int fd) : fd_(fd) {}
  // Reads exactly n bytes before the deadline.
  ReadOutcome ReadExact(uint8_t* dst, size_t n, std::chrono::steady_clock::time_point deadline);

  int fd_;
};

}  // namespace oncemq::testing
