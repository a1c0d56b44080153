#include "support/servers/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace oncemq::testing {

bool IsExecutable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

std::string FindExecutable(const std::string& name, const std::string& extra_dirs) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(std::string(path == nullptr ? "/usr/bin:/usr/local/bin" : path) +
                         (extra_dirs.empty() ? "" : ":" + extra_dirs));
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (IsExecutable(candidate)) return candidate;
  }
  return "";
}

int PickFreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::string MakeServerDir(const std::string& prefix, std::string* error) {
  const char* tmpdir = std::getenv("TMPDIR");
  std::string pattern = std::string(tmpdir != nullptr ? tmpdir : "/tmp") + "/" + prefix + "_XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    *error = "mkdtemp failed for " + pattern;
    return "";
  }
  return pattern;
}

pid_t SpawnServer(const std::vector<std::string>& args, const std::string& log, const ServerUser& user,
                  const std::string& cwd) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  // The child. Only async-signal-safe calls until exec (the parent may have threads).
  if (user.drop && (::setgroups(0, nullptr) != 0 || ::setgid(user.gid) != 0 || ::setuid(user.uid) != 0)) {
    ::_exit(126);
  }
  // After the uid change: changing credentials clears the parent-death signal.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(125);
  const int null_fd = ::open("/dev/null", O_RDWR);
  const int out_fd = log.empty() ? null_fd : ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
  if (out_fd >= 0) {
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(out_fd, STDERR_FILENO);
  }
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

Readiness WaitUntilAnswering(pid_t* pid, const std::function<bool()>& answers,
                             std::chrono::milliseconds bound, std::chrono::milliseconds every) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(*pid, &status, WNOHANG) == *pid) {
      *pid = -1;
      return Readiness::kExited;
    }
    if (answers()) return Readiness::kAnswering;
    std::this_thread::sleep_for(every);
  }
  return Readiness::kTimedOut;
}

int WaitExit(pid_t pid, std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  do {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < deadline);
  return -1;
}

void KillServer(pid_t* pid) {
  if (*pid <= 0) return;
  ::kill(*pid, SIGKILL);
  ::waitpid(*pid, nullptr, 0);
  *pid = -1;
}

std::string FileTail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

}  // namespace oncemq::testing
