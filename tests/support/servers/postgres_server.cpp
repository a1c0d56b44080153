#include "support/servers/postgres_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace oncemq::testing {

namespace {

namespace fs = std::filesystem;

bool Executable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

// The directory holding initdb and postgres: the newest /usr/lib/postgresql/<version>/bin (Debian's
// layout, where they are not on $PATH), else a $PATH entry that has both; "" if none.
std::string FindBinDir() {
  std::vector<std::pair<int, std::string>> versions;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string bin = e.path().string() + "/bin";
    if (Executable(bin + "/initdb") && Executable(bin + "/postgres")) {
      versions.emplace_back(std::atoi(e.path().filename().c_str()), bin);
    }
  }
  if (!versions.empty()) return std::max_element(versions.begin(), versions.end())->second;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path == nullptr ? "/usr/bin:/usr/local/bin" : path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (Executable(dir + "/initdb") && Executable(dir + "/postgres")) return dir;
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

std::string ConnInfo(int port, const std::string& database) {
  return "host=127.0.0.1 port=" + std::to_string(port) + " user=oncemq dbname=" + database +
         " connect_timeout=5";
}

// Waits up to `bound` for the child to exit; its wait status, or -1 if it is still running.
int WaitExit(pid_t pid, std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  do {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < deadline);
  return -1;
}

}  // namespace

PostgresServer::~PostgresServer() {
  Stop();
  if (!dir_.empty()) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
}

bool PostgresServer::Start(std::string* error, std::chrono::milliseconds ready_timeout) {
  bin_dir_ = FindBinDir();
  if (bin_dir_.empty()) {
    *error =
        "PostgreSQL is not installed (no initdb/postgres in /usr/lib/postgresql/*/bin or on $PATH); "
        "run scripts/setup.sh, which installs the postgresql package";
    return false;
  }
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) {
      *error =
          "running as root, and PostgreSQL refuses to run as root; there is no `postgres` user to run "
          "it as (the postgresql package creates one): run the tests as another user or install it";
      return false;
    }
    run_as_ = {.drop = true, .uid = pw->pw_uid, .gid = pw->pw_gid};
  }
  std::string tmpl =
      (std::getenv("TMPDIR") != nullptr ? std::string(std::getenv("TMPDIR")) : "/tmp") + "/oncemq_pg_XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    *error = "mkdtemp failed for " + tmpl;
    return false;
  }
  dir_ = tmpl;
  if (run_as_.drop && ::chown(dir_.c_str(), run_as_.uid, run_as_.gid) != 0) {
    *error = "cannot chown " + dir_ + " to the postgres user";
    return false;
  }
  if (!InitDb(error)) return false;
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = PickFreePort();
    if (port_ == 0 || port_ == 5432) continue;
    if (Launch(error, ready_timeout)) return CreateDatabase("oncemq", error);
  }
  return false;
}

bool PostgresServer::InitDb(std::string* error) {
  const std::string log = dir_ + "/initdb.log";
  const pid_t pid = Spawn({bin_dir_ + "/initdb", "-D", dir_ + "/data", "-U", "oncemq", "--auth=trust",
                           "--no-sync", "--encoding=UTF8", "--locale=C"},
                          log);
  if (pid < 0) {
    *error = "fork failed for initdb";
    return false;
  }
  const int status = WaitExit(pid, std::chrono::seconds(120));
  if (status == -1) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    *error = "initdb did not finish within 120 s: " + LogTail(log);
    return false;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *error =
        "initdb failed in " + dir_ + " (is it reachable by the user running PostgreSQL?): " + LogTail(log);
    return false;
  }
  return true;
}

bool PostgresServer::Restart(std::string* error, std::chrono::milliseconds ready_timeout) {
  Stop();
  return Launch(error, ready_timeout);
}

bool PostgresServer::Launch(std::string* error, std::chrono::milliseconds ready_timeout) {
  const std::string log = dir_ + "/postgres.log";
  pid_ = Spawn({bin_dir_ + "/postgres", "-D", dir_ + "/data", "-h", "127.0.0.1", "-p", std::to_string(port_),
                "-k", dir_, "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "shared_buffers=16MB",
                "-c", "max_connections=200"},
               log);
  if (pid_ < 0) {
    *error = "fork failed for postgres";
    return false;
  }
  const std::string conninfo = ConnInfo(port_, "postgres");
  const auto deadline = std::chrono::steady_clock::now() + ready_timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      *error = "postgres on port " + std::to_string(port_) + " exited early: " + LogTail(log);
      return false;
    }
    if (PQping(conninfo.c_str()) == PQPING_OK) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Stop();
  *error = "postgres on port " + std::to_string(port_) + " did not accept connections within " +
           std::to_string(ready_timeout.count()) + " ms: " + LogTail(log);
  return false;
}

pid_t PostgresServer::Spawn(const std::vector<std::string>& args, const std::string& log) const {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  // The child. Only async-signal-safe calls until exec (the parent may have threads).
  if (run_as_.drop &&
      (::setgroups(0, nullptr) != 0 || ::setgid(run_as_.gid) != 0 || ::setuid(run_as_.uid) != 0)) {
    ::_exit(126);
  }
  // After the uid change: changing credentials clears the parent-death signal.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  if (::chdir(dir_.c_str()) != 0) ::_exit(125);
  const int null_fd = ::open("/dev/null", O_RDONLY);
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
  if (log_fd >= 0) {
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
  }
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

void PostgresServer::Stop() {
  if (pid_ <= 0) return;
  // SIGQUIT: immediate shutdown — the postmaster ends its backends and exits, leaving nothing behind.
  ::kill(pid_, SIGQUIT);
  if (WaitExit(pid_, std::chrono::seconds(10)) == -1) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_ = -1;
}

bool PostgresServer::Run(const std::string& sql, std::string* error, std::vector<std::string>* rows,
                         const std::string& database) {
  PGconn* conn = PQconnectdb(ConnInfo(port_, database).c_str());
  bool ok = false;
  if (PQstatus(conn) != CONNECTION_OK) {
    *error = PQerrorMessage(conn);
  } else {
    PGresult* result = PQexec(conn, sql.c_str());
    const ExecStatusType status = PQresultStatus(result);
    ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
    if (!ok) *error = PQresultErrorMessage(result);
    for (int r = 0; ok && rows != nullptr && r < PQntuples(result); ++r) {
      std::string row;
      for (int c = 0; c < PQnfields(result); ++c)
        row += (c == 0 ? "" : "|") + std::string(PQgetvalue(result, r, c));
      rows->push_back(std::move(row));
    }
    PQclear(result);
  }
  PQfinish(conn);
  return ok;
}

bool PostgresServer::CreateDatabase(const std::string& name, std::string* error) {
  return Run("CREATE DATABASE \"" + name + "\" TEMPLATE template0", error, nullptr, "postgres");
}

std::string PostgresServer::LogTail(const std::string& file) const {
  std::ifstream in(file);
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

}  // namespace oncemq::testing
