// BrokerProcess: runs the real `oncemq broker` binary as a child process for integration tests.
//
// Each instance owns a fresh working directory (mkdtemp under $TMPDIR or /tmp) holding the data dir,
// the ready file and the broker's log. Start() execs the broker with `--listen 127.0.0.1:0` (port 0 =
// any free port) and waits, with a bound, for the broker to write "HOST:PORT\n" to the ready file.
// Restart() starts it again on the same data dir, asking for the same port first so that clients
// bootstrapped with the old address reconnect; if that port cannot be had it takes a new one.
//
// The destructor SIGKILLs a broker that is still running, reaps it and removes the working directory
// (kept, and its path printed, when ONCEMQ_KEEP_TEST_DIRS is set in the environment).
//
// The child gets PR_SET_PDEATHSIG(SIGKILL) so a test killed by its timeout leaves no broker behind;
// that signal fires when the *thread* that called Start()/Restart() exits, so call them from a thread
// that outlives the broker (normally the test's main thread).
//
// Thread safety: none; one thread drives an instance.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace oncemq::testing {

// The oncemq binary under test: $ONCEMQ_BINARY if set, else the path compiled in by CMake.
std::string OncemqBinaryPath();

class BrokerProcess {
 public:
  // `extra_args` are appended after --data-dir/--listen/--ready-file (e.g. {"--auto-create", "false"}).
  explicit BrokerProcess(std::vector<std::string> extra_args = {});
  ~BrokerProcess();
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  // Starts the broker and waits until it is ready. On failure returns false and sets *error to a
  // message that includes the tail of the broker log. REQUIRES: not running.
  [[nodiscard]] bool Start(std::string* error,
                           std::chrono::milliseconds ready_timeout = std::chrono::seconds(30));

  // Sends SIGKILL and reaps the process. Returns false if it was not running.
  bool Kill();

  // Sends SIGTERM and waits up to `timeout` for the exit. Returns the exit status as from waitpid's
  // WEXITSTATUS, 128+signal when it died by a signal, or -1 when it did not exit in time (it is then
  // SIGKILLed and reaped).
  int Terminate(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Starts a stopped broker again on the same data dir, preferring the previous port.
  // REQUIRES: a previous successful Start() and the broker is not running.
  [[nodiscard]] bool Restart(std::string* error,
                             std::chrono::milliseconds ready_timeout = std::chrono::seconds(30));

  // True while the child process exists and has not been reaped (reaps it if it has exited).
  bool Running();

  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }
  std::string address() const { return host_ + ":" + std::to_string(port_); }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& work_dir() const { return work_dir_; }
  const std::string& log_path() const { return log_path_; }
  pid_t pid() const { return pid_; }

  // The last `max_bytes` of the broker's stdout+stderr, for failure messages.
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  bool Launch(const std::string& listen, std::chrono::milliseconds ready_timeout, std::string* error);
  bool WaitReady(std::chrono::milliseconds timeout, std::string* error);
  // Waits up to `timeout` for the child to exit; returns the encoded status or -1.
  int WaitExit(std::chrono::milliseconds timeout);

  std::vector<std::string> extra_args_;
  std::string work_dir_;
  std::string data_dir_;
  std::string ready_path_;
  std::string log_path_;
  std::string host_ = "127.0.0.1";
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  int last_exit_status_ = -1;
};

}  // namespace oncemq::testing
