// What the test servers (redis_server.h, postgres_server.h, mariadb_server.h) share: finding a server's
// binary, a free port, a throwaway directory, a child process that dies with the test, and a bounded
// wait until it answers.
// Thread safety: free functions without shared state. SpawnServer forks: call it from a thread that
// outlives the child (the child's PR_SET_PDEATHSIG fires when the forking thread ends).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace oncemq::testing {

// Who the child runs as: this process's user unless `drop` (PostgreSQL refuses to run as root).
struct ServerUser {
  bool drop = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

bool IsExecutable(const std::string& path);
// The first directory of $PATH, then of `extra_dirs` (':'-separated), that holds an executable `name`:
// its path, or "" if there is none.
std::string FindExecutable(const std::string& name, const std::string& extra_dirs = "");
// A 127.0.0.1 port that was free a moment ago (0 on failure).
int PickFreePort();
// Creates $TMPDIR/PREFIX_XXXXXX (/tmp without $TMPDIR); its path, or "" with *error set.
std::string MakeServerDir(const std::string& prefix, std::string* error);

// Forks and execs args[0] with `args`: stdin from /dev/null, stdout and stderr appended to `log` (""
// for /dev/null), in `cwd` when it is not empty, as `user`. The child gets SIGKILL when the forking
// thread ends, so a test killed by its timeout leaves no server behind. -1 if fork failed.
pid_t SpawnServer(const std::vector<std::string>& args, const std::string& log, const ServerUser& user = {},
                  const std::string& cwd = "");

enum class Readiness { kAnswering, kExited, kTimedOut };
// Polls `answers` every `every` until it is true, the child *pid exits (then reaped, *pid = -1) or
// `bound` passes (the child is left running).
Readiness WaitUntilAnswering(pid_t* pid, const std::function<bool()>& answers,
                             std::chrono::milliseconds bound, std::chrono::milliseconds every);
// Waits up to `bound` for the child to exit: its wait status, or -1 if it is still running.
int WaitExit(pid_t pid, std::chrono::milliseconds bound);
// SIGKILLs and reaps the child; *pid = -1. No-op when *pid <= 0.
void KillServer(pid_t* pid);

// The last 2,000 characters of a file: a server's log, for an error message.
std::string FileTail(const std::string& path);

}  // namespace oncemq::testing
