#include "support/servers/mariadb_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <mysql.h>
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

namespace oncemq::testing {

namespace {

// The path of `name` found on $PATH (plus the sbin directories, where Debian puts mariadbd), or "".
std::string FindBinary(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(std::string(path == nullptr ? "/usr/bin:/usr/local/bin" : path) +
                         ":/usr/sbin:/usr/local/sbin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
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

// Starts `args` as a child with stdout and stderr appended to `log`; it dies with this process.
// Returns the child's PID, or -1.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
  if (log_fd >= 0) {
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
  }
  ::execv(argv[0], argv.data());
  ::_exit(127);
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

std::string ReadTail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
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
  std::string tmpl = (std::getenv("TMPDIR") != nullptr ? std::string(std::getenv("TMPDIR")) : "/tmp") +
                     "/oncemq_mariadb_XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    *error = "mkdtemp failed for " + tmpl;
    return false;
  }
  dir_ = tmpl;
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
  const pid_t pid = Spawn(args, log);
  if (pid < 0) {
    *error = "fork failed";
    return false;
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *error = "mariadb-install-db failed: " + ReadTail(log);
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
  pid_ = Spawn(args, dir_ + "/stdout.log");
  if (pid_ < 0) {
    *error = "fork failed";
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + ready_timeout;
  std::string why;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      *error = "mariadbd on port " + std::to_string(port_) + " exited early: " + LogTail();
      return false;
    }
    if (MYSQL* mysql = ConnectRoot(socket_, &why); mysql != nullptr) {
      mysql_close(mysql);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Stop();
  *error = "mariadbd on port " + std::to_string(port_) + " did not accept connections within " +
           std::to_string(ready_timeout.count()) + " ms (" + why + "): " + LogTail();
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
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
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
  return ReadTail(dir_ + "/error.log") + ReadTail(dir_ + "/stdout.log");
}

}  // namespace oncemq::testing
