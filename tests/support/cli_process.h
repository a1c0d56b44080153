// Running the oncemq command from tests: to completion with its output captured (RunCli), or in the
// background (CliProcess) so a test can SIGKILL it at a moment of its choosing. The binary is
// OncemqBinaryPath() (broker_process.h).
// Thread safety: none; one thread drives a CliProcess.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace oncemq::testing {

// Polls `done` every 20 ms until it is true (→ true) or `bound` has passed (→ false).
bool WaitFor(const std::function<bool()>& done, std::chrono::steady_clock::duration bound);

struct CliRun {
  int exit_code = -1;  // -1: did not finish within the bound (then killed)
  std::string out;
  std::string err;
};

// Runs `oncemq ARGS...` with stdout and stderr captured in files under `dir`; kills it after `bound`.
CliRun RunCli(const std::string& dir, const std::vector<std::string>& args,
              std::chrono::steady_clock::duration bound = std::chrono::seconds(60));
// "exit N", then stdout and stderr: for failure messages.
std::string Describe(const CliRun& run);

// `oncemq ARGS...` in the background, its stdout and stderr in `log_path`. The destructor SIGKILLs it if
// it still runs.
class CliProcess {
 public:
  CliProcess(const std::vector<std::string>& args, const std::string& log_path);
  ~CliProcess();
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  bool started() const { return pid_ > 0; }
  // True while it runs. Once it has ended by itself it is reaped, and ended_status() says how.
  bool Running();
  // Its exit code, 128+signal when a signal ended it, -1 while it runs (or after Kill/Terminate).
  int ended_status() const { return ended_status_; }
  void Kill();  // SIGKILL and reap
  // SIGTERM, then waits up to `bound` for the exit; its exit status, or -1 (then it was killed).
  int Terminate(std::chrono::steady_clock::duration bound = std::chrono::seconds(30));

 private:
  pid_t pid_ = -1;
  int ended_status_ = -1;
};

}  // namespace oncemq::testing
