// Test helpers that run real binaries: free loopback ports, spawning a process with its output
// in files, waiting for it, runfile paths; and TestServerProcess, a drivelm_server on free ports
// that is ready (health SERVING) when Start returns and is killed when it goes out of scope.
// Used by //server:server_binary_test and the clients' end-to-end tests.
#ifndef DRIVELM_SERVER_TEST_SERVER_PROCESS_H_
#define DRIVELM_SERVER_TEST_SERVER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace drivelm::server::test_process {

// $TEST_SRCDIR/$TEST_WORKSPACE/path: a data dependency of the test.
std::string Runfile(const std::string& path);

// A directory for the test's files ($TEST_UNDECLARED_OUTPUTS_DIR, else $TEST_TMPDIR, else /tmp).
std::string TmpDir();

// The whole file ("" when it cannot be read).
std::string ReadFile(const std::string& path);

// A loopback TCP port that was free a moment ago (the kernel picks it; closed again before
// use); -1 on failure.
int FreePort();

// Starts `args` (argv[0] a path) with stdout to `stdout_fd` (or, when it is < 0, the file
// `stdout_path`) and stderr to the file `stderr_path`. The child's pid, or -1.
pid_t Spawn(const std::vector<std::string>& args, int stdout_fd, const std::string& stdout_path,
            const std::string& stderr_path);

// Waits up to `timeout` for `pid`: its status as from waitpid, or nullopt on timeout.
std::optional<int> WaitFor(pid_t pid, absl::Duration timeout);

// The exit code of a waitpid status; -1 when killed by a signal.
int ExitCode(int status);

class TestServerProcess {
 public:
  // Starts `server_bin` with --model `model`, --listen and --metrics_listen on free loopback
  // ports, then `extra_args`; its stdout and stderr go to files under TmpDir() named after
  // `name`. Returns once grpc.health.v1 says SERVING; an error with the server's stderr when it
  // exits first or is not ready within `ready_timeout`.
  static absl::StatusOr<std::unique_ptr<TestServerProcess>> Start(
      const std::string& server_bin, const std::string& model,
      const std::vector<std::string>& extra_args, const std::string& name = "drivelm_server",
      absl::Duration ready_timeout = absl::Seconds(120));

  // Kills the server (SIGKILL) if it is still running.
  ~TestServerProcess();

  const std::string& address() const { return address_; }  // "127.0.0.1:PORT"
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  pid_t pid() const { return pid_; }
  std::string stderr_text() const { return ReadFile(stderr_path_); }

  // SIGTERM, then waits up to `timeout`: the waitpid status, or nullopt (then still running).
  std::optional<int> Terminate(absl::Duration timeout);

 private:
  TestServerProcess() = default;

  std::string address_;
  int port_ = 0;
  int metrics_port_ = 0;
  pid_t pid_ = -1;  // -1 once reaped
  std::string stderr_path_;
};

}  // namespace drivelm::server::test_process

#endif  // DRIVELM_SERVER_TEST_SERVER_PROCESS_H_
