#include "support/servers/redis_server.h"

#include <hiredis/hiredis.h>

#include <filesystem>
#include <vector>

#include "support/servers/server_process.h"

namespace oncemq::testing {

namespace {

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
  const std::string binary = FindExecutable("redis-server");
  if (binary.empty()) {
    *error = "redis-server is not installed (not on $PATH); run scripts/setup.sh, which installs it";
    return false;
  }
  dir_ = MakeServerDir("oncemq_redis", error);
  if (dir_.empty()) return false;
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
  return Launch(FindExecutable("redis-server"), error, ready_timeout);
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
  pid_ = SpawnServer(args, "");
  if (pid_ < 0) {
    *error = "fork failed";
    return false;
  }
  const std::string where = "redis-server on port " + std::to_string(port_);
  switch (WaitUntilAnswering(
      &pid_, [&] { return Command(port_, "PING", nullptr); }, ready_timeout, std::chrono::milliseconds(20))) {
    case Readiness::kAnswering: return true;
    case Readiness::kExited: *error = where + " exited early: " + FileTail(dir_ + "/redis.log"); return false;
    case Readiness::kTimedOut: break;
  }
  Stop();
  *error = where + " did not answer PING within " + std::to_string(ready_timeout.count()) +
           " ms: " + FileTail(dir_ + "/redis.log");
  return false;
}

bool RedisServer::FlushAll(std::string* error) {
  return Command(port_, "FLUSHALL", error);
}

bool RedisServer::Run(const std::string& command, std::string* error) {
  return Command(port_, command.c_str(), error);
}

void RedisServer::Stop() {
  KillServer(&pid_);
}

}  // namespace oncemq::testing
