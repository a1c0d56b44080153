#include "client/stores/mysql_connection.h"

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>

#include <cctype>
#include <charconv>

namespace oncemq::client {

namespace {

constexpr std::string_view kScheme = "mysql://";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> PercentDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = HexValue(text[i + 1]);
    const int lo = HexValue(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

Status BadUri(std::string_view uri, const std::string& why) {
  return Status::InvalidArgument("mysql dedup store: " + why + " in '" + std::string(uri) +
                                 "' (expected mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE)");
}

// True if `text` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool IsUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// The end of the quoted text starting at sql[i] (one past the closing quote, or sql.size()).
size_t SkipQuoted(std::string_view sql, size_t i) {
  const char quote = sql[i];
  for (size_t j = i + 1; j < sql.size(); ++j) {
    if (sql[j] == '\\' && quote != '`') {
      ++j;
    } else if (sql[j] == quote) {
      if (j + 1 < sql.size() && sql[j + 1] == quote) {
        ++j;
      } else {
        return j + 1;
      }
    }
  }
  return sql.size();
}

// The end of the comment starting at sql[i], or i if none starts there.
size_t SkipComment(std::string_view sql, size_t i) {
  const auto next = [&](size_t k) { return k < sql.size() ? sql[k] : '\0'; };
  const bool line =
      sql[i] == '#' || (sql[i] == '-' && next(i + 1) == '-' &&
                        (i + 2 >= sql.size() || std::isspace(static_cast<unsigned char>(next(i + 2)))));
  if (line) {
    const size_t end = sql.find('\n', i);
    return end == std::string_view::npos ? sql.size() : end;
  }
  if (sql[i] == '/' && next(i + 1) == '*') {
    const size_t end = sql.find("*/", i + 2);
    return end == std::string_view::npos ? sql.size() : end + 2;
  }
  return i;
}

// True if sql[from…] holds nothing but blanks and comments.
bool OnlySpaceAndComments(std::string_view sql, size_t from) {
  for (size_t i = from; i < sql.size();) {
    if (std::isspace(static_cast<unsigned char>(sql[i]))) {
      ++i;
    } else if (const size_t end = SkipComment(sql, i); end != i) {
      i = end;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<MysqlEndpoint> ParseMysqlUri(std::string_view uri) {
  if (!uri.starts_with(kScheme)) return BadUri(uri, "not a mysql:// URI");
  std::string_view rest = uri.substr(kScheme.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return BadUri(uri, "no database");
  std::string_view authority = rest.substr(0, slash);
  const std::string_view database = rest.substr(slash + 1);
  if (database.empty() || database.find_first_of("/?#") != std::string_view::npos) {
    return BadUri(uri, "bad database (options after '?' are not supported)");
  }
  const size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return BadUri(uri, "no user");
  const std::string_view userinfo = authority.substr(0, at);
  std::string_view hostport = authority.substr(at + 1);
  MysqlEndpoint endpoint;
  const size_t colon = userinfo.find(':');
  const std::optional<std::string> user = PercentDecode(userinfo.substr(0, colon));
  if (!user || user->empty()) return BadUri(uri, "bad user");
  endpoint.user = *user;
  if (colon != std::string_view::npos) {
    endpoint.password = PercentDecode(userinfo.substr(colon + 1));
    if (!endpoint.password) return BadUri(uri, "bad password encoding");
  }
  const size_t port_colon = hostport.rfind(':');
  if (port_colon != std::string_view::npos && hostport.find(']', port_colon) == std::string_view::npos) {
    const std::string_view port = hostport.substr(port_colon + 1);
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), endpoint.port);
    if (ec != std::errc() || end != port.data() + port.size() || endpoint.port <= 0 ||
        endpoint.port > 65535) {
      return BadUri(uri, "bad port");
    }
    hostport = hostport.substr(0, port_colon);
  }
  if (hostport.size() >= 2 && hostport.front() == '[' && hostport.back() == ']') {
    hostport = hostport.substr(1, hostport.size() - 2);
  }
  if (hostport.empty()) return BadUri(uri, "no host");
  endpoint.host = std::string(hostport);
  endpoint.database = std::string(database);
  return endpoint;
}

bool IsConnectionLoss(unsigned int error) {
  switch (error) {
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_UNKNOWN_HOST:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_COMMANDS_OUT_OF_SYNC:
    case CR_SERVER_LOST_EXTENDED:
    case ER_SERVER_SHUTDOWN:
    case ER_CONNECTION_KILLED: return true;
    default: return false;
  }
}

Result<std::string> BindPlaceholders(std::string_view sql, std::span<const SqlParam> params,
                                     const std::function<std::string(std::string_view)>& quote) {
  std::string out;
  size_t used = 0;
  for (size_t i = 0; i < sql.size();) {
    const char c = sql[i];
    size_t end = i;
    if (c == '\'' || c == '"' || c == '`') {
      end = SkipQuoted(sql, i);
    } else {
      end = SkipComment(sql, i);
    }
    if (end != i) {
      out.append(sql.substr(i, end - i));
      i = end;
      continue;
    }
    if (c == ';') {
      if (!OnlySpaceAndComments(sql, i + 1)) {
        return Status::InvalidArgument("mysql: one statement per call; ';' outside quoted text in: " +
                                       std::string(sql));
      }
      break;
    }
    if (c == '?') {
      if (used == params.size()) {
        return Status::InvalidArgument("mysql: more '?' than the " + std::to_string(params.size()) +
                                       " parameters given in: " + std::string(sql));
      }
      const SqlParam& p = params[used++];
      out += p ? quote(*p) : std::string("NULL");
    } else {
      out.push_back(c);
    }
    ++i;
  }
  if (used != params.size()) {
    return Status::InvalidArgument("mysql: " + std::to_string(params.size()) + " parameters given for " +
                                   std::to_string(used) + " '?' in: " + std::string(sql));
  }
  return out;
}

std::string HexLiteral(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out = "X'";
  out.reserve(bytes.size() * 2 + 3);
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  out.push_back('\'');
  return out;
}

// --- MysqlConnection ---

Result<std::unique_ptr<MysqlConnection>> MysqlConnection::Connect(const MysqlEndpoint& endpoint,
                                                                  const MysqlOptions& options,
                                                                  std::atomic<uint64_t>* round_trips) {
  static std::once_flag library_init;
  std::call_once(library_init, [] { mysql_library_init(0, nullptr, nullptr); });
  MYSQL* mysql = mysql_init(nullptr);
  if (mysql == nullptr) return Status::ResourceExhausted("mysql: mysql_init: out of memory");
  const auto whole_seconds = [](std::chrono::milliseconds ms) {
    return static_cast<unsigned int>(std::max<int64_t>(1, (ms.count() + 999) / 1000));
  };
  const unsigned int connect_timeout = whole_seconds(options.connect_timeout);
  const unsigned int io_timeout = whole_seconds(options.io_timeout);
  const my_bool reconnect = 0;
  mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
  mysql_options(mysql, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
  mysql_options(mysql, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
  mysql_options(mysql, MYSQL_OPT_RECONNECT, &reconnect);
  mysql_options(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  const unsigned long flags = CLIENT_FOUND_ROWS | CLIENT_MULTI_STATEMENTS;
  if (mysql_real_connect(mysql, endpoint.host.c_str(), endpoint.user.c_str(),
                         endpoint.password ? endpoint.password->c_str() : nullptr, endpoint.database.c_str(),
                         static_cast<unsigned int>(endpoint.port), nullptr, flags) == nullptr) {
    const unsigned int error = mysql_errno(mysql);
    const std::string message = "mysql: connect to " + endpoint.host + ":" + std::to_string(endpoint.port) +
                                " as " + endpoint.user + ": " + mysql_error(mysql) + " (error " +
                                std::to_string(error) + ")";
    mysql_close(mysql);
    return IsConnectionLoss(error) ? Status::Unavailable(message) : Status::IoError(message);
  }
  std::unique_ptr<MysqlConnection> connection(new MysqlConnection(mysql, round_trips));
  const std::string setup = "SET SESSION innodb_lock_wait_timeout = " +
                            std::to_string(std::max<int64_t>(1, options.lock_wait_timeout.count()));
  Result<std::vector<StatementResult>> set = connection->Run(setup);
  if (!set.ok()) return set.status();
  return connection;
}

MysqlConnection::~MysqlConnection() {
  mysql_close(mysql_);
}

Status MysqlConnection::Fail(std::string_view what) {
  last_errno_ = mysql_errno(mysql_);
  if (IsConnectionLoss(last_errno_)) lost_ = true;
  const std::string message = "mysql: " + std::string(what) + ": " + mysql_error(mysql_) + " (error " +
                              std::to_string(last_errno_) + ")";
  if (lost_ || last_errno_ == ER_LOCK_DEADLOCK || last_errno_ == ER_LOCK_WAIT_TIMEOUT) {
    return Status::Unavailable(message);
  }
  return Status::IoError(message);
}

Result<StatementResult> MysqlConnection::ReadResult() {
  MYSQL_RES* res = mysql_store_result(mysql_);
  StatementResult result;
  if (res == nullptr) {
    if (mysql_field_count(mysql_) != 0) return Fail("read result");
    result.affected_rows = static_cast<int64_t>(mysql_affected_rows(mysql_));
    return result;
  }
  result.has_rows = true;
  const unsigned int columns = mysql_num_fields(res);
  while (MYSQL_ROW row = mysql_fetch_row(res)) {
    const unsigned long* lengths = mysql_fetch_lengths(res);
    SqlRow out;
    out.reserve(columns);
    for (unsigned int i = 0; i < columns; ++i) {
      out.push_back(row[i] == nullptr ? std::nullopt
                                      : std::optional<std::string>(std::in_place, row[i], lengths[i]));
    }
    result.rows.push_back(std::move(out));
  }
  mysql_free_result(res);
  return result;
}

void MysqlConnection::Drain() {
  while (!lost_ && mysql_more_results(mysql_) && mysql_next_result(mysql_) == 0) {
    if (MYSQL_RES* res = mysql_store_result(mysql_); res != nullptr) mysql_free_result(res);
  }
}

Result<std::vector<StatementResult>> MysqlConnection::Run(std::string_view sql) {
  last_errno_ = 0;
  if (lost_) return Status::Unavailable("mysql: the connection was lost");
  round_trips_->fetch_add(1, std::memory_order_relaxed);
  if (mysql_real_query(mysql_, sql.data(), static_cast<unsigned long>(sql.size())) != 0) {
    return Fail("statement 1");
  }
  std::vector<StatementResult> results;
  for (;;) {
    Result<StatementResult> result = ReadResult();
    if (!result.ok()) {
      Drain();
      return result.status();
    }
    results.push_back(std::move(result).value());
    const int next = mysql_next_result(mysql_);
    if (next < 0) return results;
    if (next > 0) return Fail("statement " + std::to_string(results.size() + 1));
  }
}

std::string MysqlConnection::Quote(std::string_view text) {
  if (!IsUtf8(text)) return HexLiteral(text);
  std::string out(text.size() * 2 + 3, '\0');
  out[0] = '\'';
  const unsigned long n =
      mysql_real_escape_string(mysql_, out.data() + 1, text.data(), static_cast<unsigned long>(text.size()));
  out.resize(n + 1);
  out.push_back('\'');
  return out;
}

bool MysqlConnection::in_transaction() const {
  return (mysql_->server_status & SERVER_STATUS_IN_TRANS) != 0;
}

// --- MysqlPool ---

MysqlPool::MysqlPool(MysqlEndpoint endpoint, MysqlOptions options, size_t max_size,
                     std::chrono::milliseconds wait)
    : endpoint_(std::move(endpoint)),
      options_(options),
      max_size_(std::max<size_t>(1, max_size)),
      wait_(wait) {}

MysqlPool::~MysqlPool() = default;

Result<MysqlPool::Lease> MysqlPool::Acquire() {
  std::unique_lock lock(mu_);
  if (!returned_.wait_for(lock, wait_, [&] { return !idle_.empty() || open_ < max_size_; })) {
    return Status::Unavailable("mysql: all " + std::to_string(max_size_) +
                               " pooled connections stayed busy for " + std::to_string(wait_.count()) +
                               " ms");
  }
  if (!idle_.empty()) {
    std::unique_ptr<MysqlConnection> connection = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(connection));
  }
  ++open_;
  lock.unlock();
  Result<std::unique_ptr<MysqlConnection>> connection =
      MysqlConnection::Connect(endpoint_, options_, &round_trips_);
  if (!connection.ok()) {
    lock.lock();
    --open_;
    returned_.notify_one();
    return connection.status();
  }
  return Lease(this, std::move(connection).value());
}

void MysqlPool::Return(std::unique_ptr<MysqlConnection> connection) {
  // A caller that left a transaction open (it should not) must not hand it to the next one.
  if (!connection->lost() && connection->in_transaction()) (void)connection->Run("ROLLBACK");
  std::vector<std::unique_ptr<MysqlConnection>> closing;
  {
    std::lock_guard lock(mu_);
    if (connection->lost()) {
      closing.swap(idle_);
      open_ -= closing.size() + 1;
      closing.push_back(std::move(connection));
    } else {
      idle_.push_back(std::move(connection));
    }
  }
  returned_.notify_all();
}

}  // namespace oncemq::client
