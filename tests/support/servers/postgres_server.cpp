#include "support/servers/postgres_server.h"

#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "support/servers/server_process.h"

namespace oncemq::testing {

namespace {

namespace fs = std::filesystem;

// The directory holding initdb and postgres: the newest /usr/lib/postgresql/<version>/bin (Debian's
// layout, where they are not on $PATH), else a $PATH entry that has both; "" if none.
std::string FindBinDir() {
  std::vector<std::pair<int, std::string>> versions;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string bin = e.path().string() + "/bin";
    if (IsExecutable(bin + "/initdb") && IsExecutable(bin + "/postgres")) {
      versions.emplace_back(std::atoi(e.path().filename().c_str()), bin);
    }
  }
  if (!versions.empty()) return std::max_element(versions.begin(), versions.end())->second;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path == nullptr ? "/usr/bin:/usr/local/bin" : path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (IsExecutable(dir + "/initdb") && IsExecutable(dir + "/postgres")) return dir;
  }
  return "";
}

std::string ConnInfo(int port, const std::string& database) {
  return "host=127.0.0.1 port=" + std::to_string(port) + " user=oncemq dbname=" + database +
         " connect_timeout=5";
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
  dir_ = MakeServerDir("oncemq_pg", error);
  if (dir_.empty()) return false;
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
  pid_t pid = SpawnServer({bin_dir_ + "/initdb", "-D", dir_ + "/data", "-U", "oncemq", "--auth=trust",
                           "--no-sync", "--encoding=UTF8", "--locale=C"},
                          log, run_as_, dir_);
  if (pid < 0) {
    *error = "fork failed for initdb";
    return false;
  }
  const int status = WaitExit(pid, std::chrono::seconds(120));
  if (status == -1) {
    KillServer(&pid);
    *error = "initdb did not finish within 120 s: " + FileTail(log);
    return false;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *error =
        "initdb failed in " + dir_ + " (is it reachable by the user running PostgreSQL?): " + FileTail(log);
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
  pid_ = SpawnServer({bin_dir_ + "/postgres", "-D", dir_ + "/data", "-h", "127.0.0.1", "-p",
                      std::to_string(port_), "-k", dir_, "-c", "fsync=off", "-c", "full_page_writes=off",
                      "-c", "shared_buffers=16MB", "-c", "max_connections=200"},
                     log, run_as_, dir_);
  if (pid_ < 0) {
    *error = "fork failed for postgres";
    return false;
  }
  const std::string conninfo = ConnInfo(port_, "postgres");
  const std::string where = "postgres on port " + std::to_string(port_);
  switch (WaitUntilAnswering(
      &pid_, [&] { return PQping(conninfo.c_str()) == PQPING_OK; }, ready_timeout,
      std::chrono::milliseconds(20))) {
    case Readiness::kAnswering: return true;
    case Readiness::kExited: *error = where + " exited early: " + FileTail(log); return false;
    case Readiness::kTimedOut: break;
  }
  Stop();
  *error = where + " did not accept connections within " + std::to_string(ready_timeout.count()) +
           " ms: " + FileTail(log);
  return false;
}

void PostgresServer::Stop() {
  if (pid_ <= 0) return;
  // SIGQUIT: immediate shutdown — the postmaster ends its backends and exits, leaving nothing behind.
  ::kill(pid_, SIGQUIT);
  if (WaitExit(pid_, std::chrono::seconds(10)) == -1) KillServer(&pid_);
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

}  // namespace oncemq::testing
