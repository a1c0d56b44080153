#include "support/cli_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "support/broker_process.h"

extern char** environ;

namespace oncemq::testing {

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Spawns `oncemq ARGS...` with stdout to out_path and stderr to err_path; -1 on failure.
pid_t Spawn(const std::vector<std::string>& args, const std::string& out_path, const std::string& err_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | (err_path == out_path ? O_APPEND : O_TRUNC), 0644);
  std::vector<std::string> argv_strings = {OncemqBinaryPath()};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return spawned == 0 ? pid : -1;
}

}  // namespace

bool WaitFor(const std::function<bool()>& done, std::chrono::steady_clock::duration bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

CliRun RunCli(const std::string& dir, const std::vector<std::string>& args,
              std::chrono::steady_clock::duration bound) {
  static int runs = 0;
  const std::string base = dir + "/cli-" + std::to_string(++runs);
  CliRun run;
  const pid_t pid = Spawn(args, base + ".out", base + ".err");
  if (pid < 0) {
    run.err = "posix_spawn failed";
    return run;
  }
  int status = 0;
  const bool exited = WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, bound);
  if (!exited) {
    kill(pid, SIGKILL);  // our own child, by its pid
    waitpid(pid, &status, 0);
  } else if (WIFEXITED(status)) {
    run.exit_code = WEXITSTATUS(status);
  }
  run.out = ReadFile(base + ".out");
  run.err = ReadFile(base + ".err");
  return run;
}

std::string Describe(const CliRun& run) {
  return "exit " + std::to_string(run.exit_code) + "\n--- stdout\n" + run.out + "--- stderr\n" + run.err;
}

CliProcess::CliProcess(const std::vector<std::string>& args, const std::string& log_path)
    : pid_(Spawn(args, log_path, log_path)) {}

CliProcess::~CliProcess() {
  Kill();
}

bool CliProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return true;
  pid_ = -1;
  ended_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return false;
}

void CliProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int CliProcess::Terminate(std::chrono::steady_clock::duration bound) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  if (!WaitFor([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, bound)) {
    Kill();
    return -1;
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace oncemq::testing
