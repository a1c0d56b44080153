// PostgresServer: a real PostgreSQL server child process for tests of the PostgreSQL dedup store.
//
// Start() finds initdb and postgres (/usr/lib/postgresql/<version>/bin, newest version first, else $PATH),
// makes a throwaway directory D (mkdtemp), runs `initdb -D D/data -U oncemq --auth=trust --no-sync`, then
// starts `postgres -D D/data -h 127.0.0.1 -p P -k D` on a free port P (the Unix socket lives in D, so a
// system server's /var/run/postgresql is left alone), waits with a bound until a libpq connection works,
// and creates the database `oncemq`. The server runs with fsync=off: its data is thrown away with D, so
// durability across an OS crash buys nothing here and would only slow every test (a commit still reaches
// the OS before it returns, so committed data survives Stop and Restart).
// PostgreSQL refuses to run as root: when the test runs as root, initdb and postgres run as the `postgres`
// system user (installed with the postgresql package), D is chown'ed to it, and the child drops to it with
// setgid/setuid before exec. Without that user, Start fails and says so.
// Stop() takes the server away (SIGQUIT: immediate shutdown; SIGKILL after a bound) and keeps D and P;
// Restart() brings it back on the same port with the same data. The destructor stops the server by its
// PID, reaps it and removes D. The child gets PR_SET_PDEATHSIG(SIGKILL) so a test killed by its timeout
// leaves no server behind; call Start() from a thread that outlives the server (normally the main thread).
// Thread safety: none; one thread drives an instance.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/servers/server_process.h"

namespace oncemq::testing {

class PostgresServer {
 public:
  PostgresServer() = default;
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // Initialises a cluster, starts the server and creates database `oncemq`. On failure returns false and
  // sets *error (which says so when PostgreSQL is not installed). REQUIRES: not started.
  [[nodiscard]] bool Start(std::string* error,
                           std::chrono::milliseconds ready_timeout = std::chrono::seconds(30));
  // Takes the server away (immediate shutdown) but keeps its data and port. No-op if not running.
  void Stop();
  // Starts the stopped server again on the same port with the same data. REQUIRES: Start succeeded.
  [[nodiscard]] bool Restart(std::string* error,
                             std::chrono::milliseconds ready_timeout = std::chrono::seconds(30));
  bool running() const { return pid_ > 0; }

  // Runs SQL (one or more statements, no parameters) on a connection of its own to `database`; false on
  // an error. Each row of the last statement's result is appended to *rows as its columns joined by '|'.
  [[nodiscard]] bool Run(const std::string& sql, std::string* error, std::vector<std::string>* rows = nullptr,
                         const std::string& database = "oncemq");
  // CREATE DATABASE name (from template0, so nothing a test put in template1 leaks in).
  [[nodiscard]] bool CreateDatabase(const std::string& name, std::string* error);

  int port() const { return port_; }
  // postgresql://oncemq@127.0.0.1:PORT/DATABASE
  std::string uri(const std::string& database = "oncemq") const {
    return "postgresql://oncemq@127.0.0.1:" + std::to_string(port_) + "/" + database;
  }

 private:
  bool InitDb(std::string* error);
  bool Launch(std::string* error, std::chrono::milliseconds ready_timeout);

  std::string bin_dir_;
  ServerUser run_as_;  // the postgres user when running as root
  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
};

}  // namespace oncemq::testing
