#include "client/stores/redis_connection.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <cstdint>
#include <utility>

namespace oncemq::client {

namespace {

bool ParseInt(std::string_view text, int64_t* out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

timeval ToTimeval(std::chrono::milliseconds ms) {
  return timeval{.tv_sec = static_cast<time_t>(ms.count() / 1000),
                 .tv_usec = static_cast<suseconds_t>(ms.count() % 1000 * 1000)};
}

}  // namespace

std::string ReplyText(const redisReply* reply) {
  return reply->str == nullptr ? std::string() : std::string(reply->str, reply->len);
}

Result<RedisEndpoint> ParseRedisUri(std::string_view uri, std::string_view who) {
  constexpr std::string_view kScheme = "redis://";
  const std::string prefix = std::string(who) + ": ";
  std::string_view rest = uri;
  if (!rest.starts_with(kScheme)) return Status::InvalidArgument(prefix + "uri must be redis://");
  rest.remove_prefix(kScheme.size());
  RedisEndpoint endpoint;
  int64_t db = 0;
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    if (slash + 1 < rest.size() && !ParseInt(rest.substr(slash + 1), &db)) {
      return Status::InvalidArgument(prefix + "bad database in " + std::string(uri));
    }
    rest = rest.substr(0, slash);
  }
  const size_t colon = rest.rfind(':');
  int64_t port = 6379;
  if (colon != std::string_view::npos && !ParseInt(rest.substr(colon + 1), &port)) {
    return Status::InvalidArgument(prefix + "bad port in " + std::string(uri));
  }
  endpoint.host = std::string(rest.substr(0, colon));
  endpoint.port = static_cast<int>(port);
  endpoint.db = static_cast<int>(db);
  if (endpoint.host.empty()) return Status::InvalidArgument(prefix + "no host in " + std::string(uri));
  return endpoint;
}

void RedisConnection::ReplyDeleter::operator()(redisReply* reply) const {
  freeReplyObject(reply);
}

RedisConnection::RedisConnection(RedisEndpoint endpoint, RedisConnectionOptions options)
    : endpoint_(std::move(endpoint)), options_(std::move(options)) {}

RedisConnection::~RedisConnection() {
  Drop();
}

Result<std::unique_ptr<RedisConnection>> RedisConnection::Open(RedisEndpoint endpoint,
                                                               RedisConnectionOptions options) {
  std::unique_ptr<RedisConnection> connection(new RedisConnection(std::move(endpoint), std::move(options)));
  if (Status s = connection->Connect(); !s.ok()) return s;
  return connection;
}

void RedisConnection::Drop() {
  if (context_ != nullptr) redisFree(context_);
  context_ = nullptr;
  shas_.clear();
}

Status RedisConnection::Connect() {
  Drop();
  context_ =
      redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, ToTimeval(options_.connect_timeout));
  const std::string where = endpoint_.host + ":" + std::to_string(endpoint_.port);
  if (context_ == nullptr || context_->err != 0) {
    const std::string why = context_ == nullptr ? "out of memory" : context_->errstr;
    Drop();
    return Status::Unavailable(options_.who + ": connect " + where + ": " + why);
  }
  redisSetTimeout(context_, ToTimeval(options_.io_timeout));
  std::vector<std::vector<std::string>> setup;
  if (endpoint_.db != 0) setup.push_back({"SELECT", std::to_string(endpoint_.db)});
  for (const std::string& script : options_.scripts) setup.push_back({"SCRIPT", "LOAD", script});
  std::vector<std::string> shas;
  for (const std::vector<std::string>& argv : setup) {
    Result<ReplyPtr> reply = Command(argv, Retry::kNever);
    if (!reply.ok()) {
      Drop();  // half set up: start over on the next call
      return reply.status();
    }
    if (argv[0] == "SCRIPT") shas.push_back(ReplyText(reply->get()));
  }
  shas_ = std::move(shas);
  return Status::Ok();
}

Result<RedisConnection::ReplyPtr> RedisConnection::Command(const std::vector<std::string>& argv,
                                                           Retry retry) {
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  for (const std::string& a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
  return Command(args, lengths, retry);
}

Result<RedisConnection::ReplyPtr> RedisConnection::Command(const std::vector<const char*>& args,
                                                           const std::vector<size_t>& lengths, Retry retry) {
  const std::string command(args[0], lengths[0]);
  for (int attempt = 0;; ++attempt) {
    if (context_ == nullptr || context_->err != 0) {
      if (Status s = Connect(); !s.ok()) return s;
    }
    ReplyPtr reply(static_cast<redisReply*>(redisCommandArgv(
        context_, static_cast<int>(args.size()), const_cast<const char**>(args.data()), lengths.data())));
    if (reply == nullptr) {
      const std::string why = context_->errstr;
      Drop();  // reconnect on the next call
      if (retry == Retry::kReadOnly && attempt == 0) continue;
      return Status::Unavailable(options_.who + ": " + command + ": " + why +
                                 (retry == Retry::kNever ? " (outcome unknown)" : ""));
    }
    if (reply->type == REDIS_REPLY_ERROR) return ErrorReply(command, reply.get());
    return reply;
  }
}

Status RedisConnection::ErrorReply(const std::string& command, const redisReply* reply) const {
  const std::string message = ReplyText(reply);
  if (message.starts_with("ONCEMQ_CORRUPT")) return Status::Corruption(options_.who + ": " + message);
  return Status::IoError(options_.who + ": " + command + ": " + message);
}

Result<RedisConnection::ReplyPtr> RedisConnection::Script(size_t index, const std::vector<std::string>& keys,
                                                          const std::vector<std::string>& args, Retry retry) {
  if (context_ == nullptr || context_->err != 0) {
    if (Status s = Connect(); !s.ok()) return s;
  }
  static constexpr std::string_view kEvalSha = "EVALSHA";
  static constexpr std::string_view kEval = "EVAL";
  const std::string sha = shas_[index];  // a copy: a reconnect inside Command reloads shas_
  const std::string key_count = std::to_string(keys.size());
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  argv.reserve(3 + keys.size() + args.size());
  lengths.reserve(argv.capacity());
  auto add = [&](std::string_view a) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  };
  add(kEvalSha);
  add(sha);
  add(key_count);
  for (const std::string& k : keys) add(k);
  for (const std::string& a : args) add(a);
  Result<ReplyPtr> reply = Command(argv, lengths, retry);
  if (reply.ok() || reply.status().message().find("NOSCRIPT") == std::string::npos) return reply;
  // The server lost its script cache (restart, SCRIPT FLUSH): EVAL sends the text and caches it again.
  const std::string& text = options_.scripts[index];
  argv[0] = kEval.data();
  lengths[0] = kEval.size();
  argv[1] = text.data();
  lengths[1] = text.size();
  return Command(argv, lengths, retry);
}

}  // namespace oncemq::client
