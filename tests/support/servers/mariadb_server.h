// MariadbServer: a real MariaDB server child process for tests of the MySQL/MariaDB dedup store.
//
// Start() makes a fresh directory D (mkdtemp), initialises a data directory in it with
// `mariadb-install-db --no-defaults` (no test database, root reachable over the Unix socket without a
// password), then picks a free port (binds 127.0.0.1:0, reads the port, closes it) and execs
// `mariadbd --no-defaults --datadir=D/data --socket=D/s.sock --port=P --bind-address=127.0.0.1` with small
// InnoDB settings, so that it starts in about a second. It waits, with a bound, until root can connect over
// the socket, then creates the database `oncemq` and the user `oncemq`@`127.0.0.1` (password
// `oncemq-test`) with every privilege on the databases `oncemq` and `oncemq\_%`. If the port was taken in
// between, it tries again with another. Running as root, the server gets `--user=root`.
// Stop() SIGKILLs the server by its PID (a crash, as far as InnoDB is concerned) and reaps it, keeping D;
// Restart() starts it again on the same port and data. The destructor stops it and removes D.
// The child gets PR_SET_PDEATHSIG(SIGKILL) so a test killed by its timeout leaves no server behind; call
// Start() and Restart() from a thread that outlives the server (normally the test's main thread).
// Thread safety: none; one thread drives an instance.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace oncemq::testing {

class MariadbServer {
 public:
  MariadbServer() = default;
  ~MariadbServer();
  MariadbServer(const MariadbServer&) = delete;
  MariadbServer& operator=(const MariadbServer&) = delete;

  // Initialises the data directory, starts the server and creates the database and user. On failure
  // returns false and sets *error (which says so when MariaDB is not installed). REQUIRES: not started.
  [[nodiscard]] bool Start(std::string* error,
                           std::chrono::milliseconds ready_timeout = std::chrono::seconds(30));
  // Kills the server (SIGKILL) and reaps it; the data stays. A no-op when it is not running.
  void Stop();
  // Starts the stopped server again on the same port and data. REQUIRES: Start() succeeded once.
  [[nodiscard]] bool Restart(std::string* error,
                             std::chrono::milliseconds ready_timeout = std::chrono::seconds(30));
  bool running() const { return pid_ > 0; }

  // Runs SQL (one statement) as root over the Unix socket; false with *error on an error.
  [[nodiscard]] bool Run(const std::string& sql, std::string* error);
  // Runs a query as root; its rows, each column as text (nullopt for NULL).
  [[nodiscard]] bool Query(const std::string& sql, std::vector<std::vector<std::optional<std::string>>>* rows,
                           std::string* error);
  // Creates database `name` (utf8mb4) for the test user. `name` must match `oncemq\_%`.
  [[nodiscard]] bool CreateDatabase(const std::string& name, std::string* error);

  int port() const { return port_; }
  const std::string& socket_path() const { return socket_; }
  static constexpr const char* kUser = "oncemq";
  static constexpr const char* kPassword = "oncemq-test";
  static constexpr const char* kDatabase = "oncemq";
  // mysql://oncemq:oncemq-test@127.0.0.1:PORT/DATABASE
  std::string uri(const std::string& database = kDatabase) const;

 private:
  bool Initialise(std::string* error);
  bool Launch(std::string* error, std::chrono::milliseconds ready_timeout);
  bool CreateUser(std::string* error);
  std::string LogTail() const;

  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
  std::string socket_;
  std::string mariadbd_;
};

}  // namespace oncemq::testing
