#include "support/servers/redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace oncemq::testing {

namespace {

// The path of redis-server found on $PATH, or "" if there is none.
std::string FindRedisServer() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path == nullptr ? "/usr/bin:/usr/local/bin" : path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/redis-server";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// A port that was free a moment ago (0 on failure).
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

// Sends one command; true if the reply is not an error.
bool Command(int port, const char* command, std::string* error) {
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, timeval{.tv_sec = 1, .tv_usec = 0});
  bool ok = false;
  if (c != nullptr && c->err == 0) {
    auto* reply = static_cast<redisReply*>(redisCommand(c, command));
    ok = reply != nullptr && reply->type != REDIS_REPLY_ERROR;
    if (!ok && error != nullptr) error->assign(reply != nullptr ? reply->str : c->errstr);
    if (reply != nullptr) freeReplyObject(reply);
  } else if (error != nullptr) {
    error->assign(c != nullptr ? c->errstr : "out of memory");
  }
  if (c != nullptr) redisFree(c);
  return ok;
}

}  // namespace

RedisServer::~RedisServer() {
  Stop();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

bool RedisServer::Start(std::string* error, std::chrono::milliseconds ready_timeout) {
  const std::string binary = FindRedisServer();
  if (binary.empty()) {
    *error = "redis-server is not installed (not on $PATH); run scripts/setup.sh, which installs it";
    return false;
  }
  std::string tmpl = (std::getenv("TMPDIR") != nullptr ? std::string(std::getenv("TMPDIR")) : "/tmp") +
                     "/oncemq_redis_XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    *error = "mkdtemp failed for " + tmpl;
    return false;
  }
  dir_ = tmpl;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (StartOnce(binary, error, ready_timeout)) return true;
  }
  return false;
}

bool RedisServer::StartOnce(const std::string& binary, std::string* error,
                            std::chrono::milliseconds ready_timeout) {
  port_ = PickFreePort();
  if (port_ == 0 || port_ == 6379) {
    *error = "no free port";
    return false;
  }
  return Launch(binary, error, ready_timeout);
}

bool RedisServer::Restart(std::string* error, std::chrono::milliseconds ready_timeout) {
  Stop();
  return Launch(FindRedisServer(), error, ready_timeout);
}

void RedisServer::Kill() {
  Stop();
}

bool RedisServer::Launch(const std::string& binary, std::string* error,
                         std::chrono::milliseconds ready_timeout) {
  const std::string log = dir_ + "/redis.log";
  std::vector<std::string> args = {
      binary,  "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "",
      "--dir", dir_,     "--logfile",           log};
  if (durable_) {
    args.insert(args.end(), {"--appendonly", "yes", "--appendfsync", "always"});
  } else {
    args.insert(args.end(), {"--appendonly", "no"});
  }
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) {
    *error = "fork failed";
    return false;
  }
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      ::dup2(null_fd, STDOUT_FILENO);
      ::dup2(null_fd, STDERR_FILENO);
    }
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + ready_timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      *error = "redis-server on port " + std::to_string(port_) + " exited early: " + LogTail();
      return false;
    }
    if (Command(port_, "PING", nullptr)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Stop();
  *error = "redis-server on port " + std::to_string(port_) + " did not answer PING within " +
           std::to_string(ready_timeout.count()) + " ms: " + LogTail();
  return false;
}

bool RedisServer::FlushAll(std::string* error) {
  return Command(port_, "FLUSHALL", error);
}

bool RedisServer::Run(const std::string& command, std::string* error) {
  return Command(port_, command.c_str(), error);
}

void RedisServer::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string RedisServer::LogTail() const {
  std::ifstream in(dir_ + "/redis.log");
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

}  // namespace oncemq::testing
