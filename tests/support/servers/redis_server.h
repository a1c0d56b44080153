// RedisServer: a real redis-server child process for tests of the Redis dedup store.
//
// Start() picks a free port (binds a socket to 127.0.0.1:0, reads the port, closes it), then execs
// `redis-server --port P --bind 127.0.0.1 --save "" --appendonly no --dir D` with a fresh working directory D
// (mkdtemp), and waits, with a bound, until PING answers. If the port was taken in between, it tries again
// with another. It never uses 6379, so a system redis on this machine is left alone.
// The destructor SIGKILLs the server by its PID, reaps it and removes D.
// The child gets PR_SET_PDEATHSIG(SIGKILL) so a test killed by its timeout leaves no server behind; call
// Start() from a thread that outlives the server (normally the test's main thread).
// Thread safety: none; one thread drives an instance.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

namespace oncemq::testing {

class RedisServer {
 public:
  // durable: --appendonly yes --appendfsync always, so the data outlive Kill() + Restart().
  explicit RedisServer(bool durable = false) : durable_(durable) {}
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts the server and waits until it answers PING. On failure returns false and sets *error (which
  // says so when redis-server is not installed). REQUIRES: not started.
  [[nodiscard]] bool Start(std::string* error,
                           std::chrono::milliseconds ready_timeout = std::chrono::seconds(10));

  // FLUSHALL: every test starts from an empty server.
  [[nodiscard]] bool FlushAll(std::string* error);
  // Runs one command (words separated by spaces) on a connection of its own; false on an error reply.
  [[nodiscard]] bool Run(const std::string& command, std::string* error);

  // SIGKILLs the server (its clients see the connection drop); Restart() brings it back on the same
  // port and directory. REQUIRES for Restart: a successful Start().
  void Kill();
  [[nodiscard]] bool Restart(std::string* error,
                             std::chrono::milliseconds ready_timeout = std::chrono::seconds(10));

  int port() const { return port_; }
  std::string uri() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }

 private:
  bool StartOnce(const std::string& binary, std::string* error, std::chrono::milliseconds ready_timeout);
  bool Launch(const std::string& binary, std::string* error, std::chrono::milliseconds ready_timeout);
  void Stop();

  bool durable_ = false;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
};

}  // namespace oncemq::testing
