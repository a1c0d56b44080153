// ChildProcess: another `oncemq` process (this same binary) that the demo starts, SIGKILLs at moments of
// its choosing and starts again — the broker and the card service, whose crashes are part of the story.
// The child gets PR_SET_PDEATHSIG(SIGKILL), so a demo that dies takes its children with it.
// Thread safety: none; the demo's orchestrating thread drives each instance.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace oncemq::cli::demo {

class ChildProcess {
 public:
  // `args` follow the binary's path; stdout and stderr are appended to `log_path`.
  ChildProcess(std::vector<std::string> args, std::string log_path)
      : args_(std::move(args)), log_path_(std::move(log_path)) {}
  ~ChildProcess() { Kill(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts the process; false (with *error) if it could not be.
  bool Start(std::string* error);
  // True while it runs (reaps it if it exited).
  bool Running();
  // SIGKILL and reap. No-op when not running.
  void Kill();
  // SIGTERM, then SIGKILL after `bound`; its exit status (128+signal when killed), -1 if not running.
  int Terminate(std::chrono::milliseconds bound);

  pid_t pid() const { return pid_; }
  void set_args(std::vector<std::string> args) { args_ = std::move(args); }

 private:
  std::vector<std::string> args_;
  std::string log_path_;
  pid_t pid_ = -1;
};

// The path of the running oncemq binary.
std::string SelfPath();

// A port on 127.0.0.1 free at the time of the call.
int FreePort();

}  // namespace oncemq::cli::demo
