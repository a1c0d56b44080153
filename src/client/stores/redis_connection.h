// RedisConnection: one synchronous hiredis connection to one Redis server, with the Lua scripts its user
// runs, shared by RedisDedupStore and the toolkit's RedisLock so that both reach Redis the same way.
//
// URI: redis://HOST[:PORT][/DB] (port 6379 and database 0 when left out).
// Connecting: Open connects at once; it and every later (re)connect SELECTs the database and loads the
// scripts (SCRIPT LOAD), so Script can send EVALSHA. A server that lost its script cache (restart, SCRIPT
// FLUSH) answers NOSCRIPT, and Script sends the text with EVAL instead, which caches it again.
// Errors: an I/O error drops the connection; the next call connects again. A call made with Retry::kReadOnly
// is then sent once more on a new connection; one made with Retry::kNever is not (its reply was lost, so
// its outcome is unknown) and answers kUnavailable saying so, as does a server that cannot be reached.
// A Redis error reply is kIoError, except one that begins with ONCEMQ_CORRUPT (a script found data it
// cannot read), which is kCorruption. Every message begins with the `who` of the options.
// Thread safety: none; the owner serialises calls (both users hold a mutex around each call).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "oncemq/status.h"

struct redisContext;
struct redisReply;

namespace oncemq::client {

struct RedisEndpoint {
  std::string host;
  int port = 6379;
  int db = 0;
};

// Parses redis://HOST[:PORT][/DB]; kInvalidArgument, prefixed with `who`, naming what is wrong.
Result<RedisEndpoint> ParseRedisUri(std::string_view uri, std::string_view who);

struct RedisConnectionOptions {
  std::string who;  // begins every message, e.g. "redis dedup store"
  std::chrono::milliseconds connect_timeout{2'000};
  std::chrono::milliseconds io_timeout{5'000};
  std::vector<std::string> scripts;  // Lua scripts, addressed by their index in Script()
};

class RedisConnection {
 public:
  struct ReplyDeleter {
    void operator()(redisReply* reply) const;
  };
  using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;
  // kReadOnly: the command may be sent again when its reply was lost (it changes nothing).
  enum class Retry { kReadOnly, kNever };

  // Connects and loads the scripts; kUnavailable if the server cannot be reached.
  static Result<std::unique_ptr<RedisConnection>> Open(RedisEndpoint endpoint,
                                                       RedisConnectionOptions options);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Runs one command given as its words. The reply is never an error reply (those become a Status).
  Result<ReplyPtr> Command(const std::vector<std::string>& argv, Retry retry);
  // Runs script `index` of the options with these keys and arguments.
  Result<ReplyPtr> Script(size_t index, const std::vector<std::string>& keys,
                          const std::vector<std::string>& args, Retry retry);

  const std::string& who() const { return options_.who; }

 private:
  RedisConnection(RedisEndpoint endpoint, RedisConnectionOptions options);

  Status Connect();
  void Drop();
  // argv as pointers and lengths, so that a script's many keys and arguments are not copied again.
  Result<ReplyPtr> Command(const std::vector<const char*>& args, const std::vector<size_t>& lengths,
                           Retry retry);
  Status ErrorReply(const std::string& command, const redisReply* reply) const;

  const RedisEndpoint endpoint_;
  const RedisConnectionOptions options_;
  redisContext* context_ = nullptr;
  std::vector<std::string> shas_;  // per script, from SCRIPT LOAD on the current connection
};

// The text of a string, status or error reply; "" for a reply without text.
std::string ReplyText(const redisReply* reply);

}  // namespace oncemq::client
