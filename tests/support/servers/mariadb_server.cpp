#include "support/servers/mariadb_server.h"

#include <mysql.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "support/servers/server_process.h"

namespace oncemq::testing {

namespace {

// Debian puts mariadbd in sbin, which a user's $PATH may leave out.
std::string FindBinary(const std::string& name) {
  return FindExecutable(name, "/usr/sbin:/usr/local/sbin");
}

// Options of both mariadb-install-db (which hands them to its bootstrap server) and mariadbd: a small
// buffer pool and redo log so that the server starts fast; no doublewrite, and the redo log written but
// not flushed at each commit — a SIGKILL loses nothing, only a power loss would. utf8mb4 by default.
std::vector<std::string> CommonServerOptions() {
  std::vector<std::string> options = {"--innodb-buffer-pool-size=16M",
                                      "--innodb-log-file-size=16M",
                                      "--innodb-log-buffer-size=4M",
                                      "--innodb-data-file-path=ibdata1:4M:autoextend",
                                      "--innodb-doublewrite=0",
                                      "--innodb-flush-log-at-trx-commit=2",
                                      "--character-set-server=utf8mb4",
                                      "--collation-server=utf8mb4_general_ci",
                                      "--skip-name-resolve"};
  if (::geteuid() == 0) options.push_back("--user=root");
  return options;
}

// A root connection over the Unix socket; nullptr with *error if it cannot connect.
MYSQL* ConnectRoot(const std::string& socket, std::string* error) {
  MYSQL* mysql = mysql_init(nullptr);
  if (mysql == nullptr) {
    *error = "mysql_init: out of memory";
    return nullptr;
  }
  const unsigned int timeout = 2;
  mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_options(mysql, MYSQL_OPT_READ_TIMEOUT, &timeout);
  if (mysql_real_connect(mysql, "localhost", "root", nullptr, nullptr, 0, socket.c_str(), 0) == nullptr) {
    *error = mysql_error(mysql);
    mysql_close(mysql);
    return nullptr;
  }
  return mysql;
}

std::string Quote(MYSQL* mysql, const std::string& text) {
  std::string out(text.size() * 2 + 1, '\0');
  out.resize(mysql_real_escape_string(mysql, out.data(), text.data(), text.size()));
  return "'" + out + "'";
}

}  // namespace

MariadbServer::~MariadbServer() {
  Stop();
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string MariadbServer::uri(const std::string& database) const {
  return std::string("mysql://") + kUser + ":" + kPassword + "@127.0.0.1:" + std::to_string(port_) + "/" +
         database;
}

bool MariadbServer::Start(std::string* error, std::chrono::milliseconds ready_timeout) {
  mariadbd_ = FindBinary("mariadbd");
  if (mariadbd_.empty() || FindBinary("mariadb-install-db").empty()) {
    *error =
        "MariaDB is not installed (mariadbd or mariadb-install-db not on $PATH or in /usr/sbin); run "
        "scripts/setup.sh, which installs mariadb-server";
    return false;
  }
  dir_ = MakeServerDir("oncemq_mariadb", error);
  if (dir_.empty()) return false;
  socket_ = dir_ + "/s.sock";
  if (!Initialise(error)) return false;
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = PickFreePort();
    if (port_ == 0 || port_ == 3306) {
      *error = "no free port";
      continue;
    }
    if (Launch(error, ready_timeout)) return CreateUser(error);
  }
  return false;
}

bool MariadbServer::Initialise(std::string* error) {
  std::vector<std::string> args = {
      FindBinary("mariadb-install-db"), "--no-defaults", "--datadir=" + dir_ + "/data",
      "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve",
      // Its bootstrap server's temporary tables go here, not to the shared /tmp: with two installs at once
      // there, one failed with "Could not remove temporary table '/tmp/#sql-temptable-…'".
      "--tmpdir=" + dir_};
  for (std::string& o : CommonServerOptions()) args.push_back(std::move(o));
  const std::string log = dir_ + "/install.log";
  const pid_t pid = SpawnServer(args, log);
  if (pid < 0) {
    *error = "fork failed";
    return false;
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *error = "mariadb-install-db failed: " + FileTail(log);
    return false;
  }
  return true;
}

bool MariadbServer::Launch(std::string* error, std::chrono::milliseconds ready_timeout) {
  std::vector<std::string> args = {mariadbd_,
                                   "--no-defaults",
                                   "--datadir=" + dir_ + "/data",
                                   "--socket=" + socket_,
                                   "--port=" + std::to_string(port_),
                                   "--bind-address=127.0.0.1",
                                   "--skip-networking=0",
                                   "--pid-file=" + dir_ + "/mariadbd.pid",
                                   "--log-error=" + dir_ + "/error.log",
                                   "--tmpdir=" + dir_,
                                   "--max-connections=300"};
  for (std::string& o : CommonServerOptions()) args.push_back(std::move(o));
  pid_ = SpawnServer(args, dir_ + "/stdout.log");
  if (pid_ < 0) {
    *error = "fork failed";
    return false;
  }
  std::string why;
  const auto answers = [&] {
    MYSQL* mysql = ConnectRoot(socket_, &why);
    if (mysql != nullptr) mysql_close(mysql);
    return mysql != nullptr;
  };
  const std::string where = "mariadbd on port " + std::to_string(port_);
  switch (WaitUntilAnswering(&pid_, answers, ready_timeout, std::chrono::milliseconds(50))) {
    case Readiness::kAnswering: return true;
    case Readiness::kExited: *error = where + " exited early: " + LogTail(); return false;
    case Readiness::kTimedOut: break;
  }
  Stop();
  *error = where + " did not accept connections within " + std::to_string(ready_timeout.count()) + " ms (" +
           why + "): " + LogTail();
  return false;
}

bool MariadbServer::CreateUser(std::string* error) {
  const std::string user = std::string("'") + kUser + "'@'127.0.0.1'";
  for (const std::string& sql :
       {"CREATE DATABASE IF NOT EXISTS " + std::string(kDatabase) + " CHARACTER SET utf8mb4",
        "CREATE USER IF NOT EXISTS " + user + " IDENTIFIED BY '" + kPassword + "'",
        "GRANT ALL PRIVILEGES ON `" + std::string(kDatabase) + "`.* TO " + user,
        "GRANT ALL PRIVILEGES ON `oncemq\\_%`.* TO " + user}) {
    if (!Run(sql, error)) return false;
  }
  return true;
}

bool MariadbServer::Restart(std::string* error, std::chrono::milliseconds ready_timeout) {
  Stop();
  return Launch(error, ready_timeout);
}

void MariadbServer::Stop() {
  KillServer(&pid_);
}

bool MariadbServer::Run(const std::string& sql, std::string* error) {
  return Query(sql, nullptr, error);
}

bool MariadbServer::Query(const std::string& sql, std::vector<std::vector<std::optional<std::string>>>* rows,
                          std::string* error) {
  MYSQL* mysql = ConnectRoot(socket_, error);
  if (mysql == nullptr) return false;
  bool ok = mysql_real_query(mysql, sql.data(), sql.size()) == 0;
  if (!ok) *error = std::string(mysql_error(mysql)) + " (" + sql + ")";
  MYSQL_RES* result = ok ? mysql_store_result(mysql) : nullptr;
  if (result != nullptr) {
    const unsigned int columns = mysql_num_fields(result);
    while (MYSQL_ROW row = mysql_fetch_row(result)) {
      const unsigned long* lengths = mysql_fetch_lengths(result);
      std::vector<std::optional<std::string>> out;
      for (unsigned int i = 0; i < columns; ++i) {
        out.push_back(row[i] == nullptr ? std::nullopt : std::optional<std::string>({row[i], lengths[i]}));
      }
      if (rows != nullptr) rows->push_back(std::move(out));
    }
    mysql_free_result(result);
  } else if (ok && mysql_field_count(mysql) != 0) {
    ok = false;
    *error = mysql_error(mysql);
  }
  mysql_close(mysql);
  return ok;
}

bool MariadbServer::CreateDatabase(const std::string& name, std::string* error) {
  MYSQL* mysql = ConnectRoot(socket_, error);
  if (mysql == nullptr) return false;
  const std::string quoted = Quote(mysql, name);
  mysql_close(mysql);
  if (!name.starts_with("oncemq_") || quoted != "'" + name + "'" || name.find('`') != std::string::npos) {
    *error = "database name must be oncemq_ followed by plain characters: " + name;
    return false;
  }
  return Run("CREATE DATABASE IF NOT EXISTS `" + name + "` CHARACTER SET utf8mb4", error);
}

std::string MariadbServer::LogTail() const {
  return FileTail(dir_ + "/error.log") + FileTail(dir_ + "/stdout.log");
}

}  // namespace oncemq::testing
