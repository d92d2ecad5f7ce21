#include "server/test_server_process.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/health_check.h"

namespace drivelm::server::test_process {

std::string Runfile(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir ? srcdir : ".", "/", workspace ? workspace : "drivelm_serve", "/",
                      path);
}

std::string TmpDir() {
  const char* dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  if (dir == nullptr) dir = std::getenv("TEST_TMPDIR");
  return dir ? dir : "/tmp";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

pid_t Spawn(const std::vector<std::string>& args, int stdout_fd, const std::string& stdout_path,
            const std::string& stderr_path) {
  // Everything the child needs is prepared before fork: only async-signal-safe calls after.
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  int out = stdout_fd;
  if (out < 0) out = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ::dup2(out, 1);
  ::dup2(err, 2);
  ::execv(argv[0], argv.data());
  _exit(127);
}

std::optional<int> WaitFor(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return std::nullopt;
    if (absl::Now() > deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

int ExitCode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

absl::StatusOr<std::unique_ptr<TestServerProcess>> TestServerProcess::Start(
    const std::string& server_bin, const std::string& model,
    const std::vector<std::string>& extra_args, const std::string& name,
    absl::Duration ready_timeout) {
  auto server = std::unique_ptr<TestServerProcess>(new TestServerProcess());
  server->port_ = FreePort();
  server->metrics_port_ = FreePort();
  if (server->port_ <= 0 || server->metrics_port_ <= 0) {
    return absl::UnavailableError("no free loopback port");
  }
  server->address_ = absl::StrCat("127.0.0.1:", server->port_);
  server->stderr_path_ = absl::StrCat(TmpDir(), "/", name, ".err");
  std::vector<std::string> args = {server_bin,
                                   "--model",
                                   model,
                                   "--listen",
                                   server->address_,
                                   "--metrics_listen",
                                   absl::StrCat("127.0.0.1:", server->metrics_port_)};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  server->pid_ = Spawn(args, -1, absl::StrCat(TmpDir(), "/", name, ".out"), server->stderr_path_);
  if (server->pid_ <= 0) return absl::InternalError(absl::StrCat("cannot start ", server_bin));
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(server->address_, grpc::InsecureChannelCredentials());
  const absl::Time deadline = absl::Now() + ready_timeout;
  for (;;) {
    int status = 0;
    if (::waitpid(server->pid_, &status, WNOHANG) == server->pid_) {
      server->pid_ = -1;
      return absl::InternalError(
          absl::StrCat("the server exited early (status ", status, "):\n", server->stderr_text()));
    }
    absl::StatusOr<clients::ServingStatus> health =
        clients::CheckHealth(channel, "", absl::Seconds(1));
    if (health.ok() && *health == clients::ServingStatus::kServing) return server;
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("the server did not become healthy in ",
                                                      absl::FormatDuration(ready_timeout), ":\n",
                                                      server->stderr_text()));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

TestServerProcess::~TestServerProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    WaitFor(pid_, absl::Seconds(10));
  }
}

std::optional<int> TestServerProcess::Terminate(absl::Duration timeout) {
  if (pid_ <= 0) return std::nullopt;
  ::kill(pid_, SIGTERM);
  std::optional<int> status = WaitFor(pid_, timeout);
  if (status) pid_ = -1;
  return status;
}

}  // namespace drivelm::server::test_process
