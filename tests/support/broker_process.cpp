#include "support/broker_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#ifndef ONCEMQ_BINARY_DEFAULT
#define ONCEMQ_BINARY_DEFAULT ""
#endif

namespace oncemq::testing {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(10);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int EncodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Parses "HOST:PORT" (trailing newline allowed). Returns false on anything else.
bool ParseAddress(const std::string& text, std::string* host, uint16_t* port) {
  std::string s = text;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) return false;
  char* end = nullptr;
  long p = std::strtol(s.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || p <= 0 || p > 65535) return false;
  *host = s.substr(0, colon);
  *port = static_cast<uint16_t>(p);
  return true;
}

}  // namespace

std::string OncemqBinaryPath() {
  if (const char* env = std::getenv("ONCEMQ_BINARY"); env != nullptr && *env != '\0') return env;
  return ONCEMQ_BINARY_DEFAULT;
}

BrokerProcess::BrokerProcess(std::vector<std::string> extra_args) : extra_args_(std::move(extra_args)) {
  std::string tmpl = std::filesystem::temp_directory_path().string() + "/oncemq-itest-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::fprintf(stderr, "BrokerProcess: mkdtemp(%s) failed: %s\n", tmpl.c_str(), std::strerror(errno));
    std::abort();
  }
  work_dir_ = tmpl;
  data_dir_ = work_dir_ + "/data";
  ready_path_ = work_dir_ + "/ready";
  log_path_ = work_dir_ + "/broker.log";
}

BrokerProcess::~BrokerProcess() {
  if (Running()) Kill();
  if (std::getenv("ONCEMQ_KEEP_TEST_DIRS") != nullptr) {
    std::fprintf(stderr, "BrokerProcess: kept %s\n", work_dir_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(work_dir_, ec);
}

bool BrokerProcess::Start(std::string* error, std::chrono::milliseconds ready_timeout) {
  return Launch("127.0.0.1:0", ready_timeout, error);
}

bool BrokerProcess::Restart(std::string* error, std::chrono::milliseconds ready_timeout) {
  if (port_ != 0) {
    std::string first_error;
    if (Launch(host_ + ":" + std::to_string(port_), ready_timeout, &first_error)) return true;
    // The old port may be taken; a client bootstrapped with it will then have to be re-pointed.
    if (Running()) {
      *error = first_error;
      return false;
    }
  }
  return Launch("127.0.0.1:0", ready_timeout, error);
}

bool BrokerProcess::Launch(const std::string& listen, std::chrono::milliseconds ready_timeout,
                           std::string* error) {
  if (pid_ > 0) {
    *error = "BrokerProcess: already running";
    return false;
  }
  std::string binary = OncemqBinaryPath();
  if (binary.empty() || ::access(binary.c_str(), X_OK) != 0) {
    *error = "oncemq binary not found or not executable: '" + binary + "' (set ONCEMQ_BINARY)";
    return false;
  }
  ::unlink(ready_path_.c_str());

  std::vector<std::string> args = {binary,     "broker", "--data-dir",   data_dir_,
                                   "--listen", listen,   "--ready-file", ready_path_};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    *error = "open " + log_path_ + ": " + std::strerror(errno);
    return false;
  }
  {
    std::string banner = "=== BrokerProcess: starting";
    for (auto& a : args) banner += " " + a;
    banner += "\n";
    [[maybe_unused]] ssize_t n = ::write(log_fd, banner.data(), banner.size());
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    *error = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls from here to exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
  return WaitReady(ready_timeout, error);
}

bool BrokerProcess::WaitReady(std::chrono::milliseconds timeout, std::string* error) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (!Running()) {
      *error = "broker did not become ready: it exited with status " + std::to_string(last_exit_status_) +
               "\n--- broker log tail ---\n" + LogTail();
      return false;
    }
    std::string text = ReadFile(ready_path_);
    std::string host;
    uint16_t port = 0;
    if (!text.empty() && text.back() == '\n' && ParseAddress(text, &host, &port)) {
      host_ = host;
      port_ = port;
      return true;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  *error = "broker did not become ready within " + std::to_string(timeout.count()) + " ms (no ready file " +
           ready_path_ + ")\n--- broker log tail ---\n" + LogTail();
  Kill();
  return false;
}

bool BrokerProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) last_exit_status_ = EncodeWaitStatus(status);
  pid_ = -1;
  return false;
}

bool BrokerProcess::Kill() {
  if (!Running()) return false;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  last_exit_status_ = EncodeWaitStatus(status);
  pid_ = -1;
  return true;
}

int BrokerProcess::WaitExit(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (!Running()) return last_exit_status_;
    std::this_thread::sleep_for(kPollInterval);
  }
  return -1;
}

int BrokerProcess::Terminate(std::chrono::milliseconds timeout) {
  if (!Running()) return last_exit_status_;
  ::kill(pid_, SIGTERM);
  int status = WaitExit(timeout);
  if (status < 0) Kill();
  return status;
}

std::string BrokerProcess::LogTail(size_t max_bytes) const {
  std::string all = ReadFile(log_path_);
  if (all.size() <= max_bytes) return all;
  return "..." + all.substr(all.size() - max_bytes);
}

}  // namespace oncemq::testing
