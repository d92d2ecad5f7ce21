// drivelm_server: serves a PaliGemma driving model over gRPC (drivelm.v1.DriveLM, health,
// reflection) with Prometheus metrics.
//
//   drivelm_server [--config server.yaml] [--listen HOST:PORT] [--metrics_listen HOST:PORT]
//                  [--model DIR] [--profile FILE] [--backend cpu] [--threads N]
//                  [--log_level info] [--shutdown_grace_seconds S]
//
// Settings: built-in defaults < --config YAML (deploy/config/server.yaml documents every key) <
// flags. SIGTERM or SIGINT: health NOT_SERVING, no new work, in-flight requests finish within
// the grace period, exit 0; a second signal during the grace period exits at once (status 1).
// Startup errors (bad config, missing model, busy port) print one clear line and exit 1.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/engine.h"
#include "engine/generator.h"
#include "server/grpc_server.h"
#include "server/server_config.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, config, "", "server YAML config (see deploy/config/server.yaml)");
// The overriding flags default to "not given" (empty or negative) so that the config file's value
// stays unless the flag is set.
ABSL_FLAG(std::string, listen, "", "gRPC address host:port (default 127.0.0.1:50051)");
ABSL_FLAG(std::string, metrics_listen, "",
          "Prometheus /metrics address host:port (default 127.0.0.1:9464; 'off' disables)");
ABSL_FLAG(std::string, model, "", "model directory (default models/tiny-default)");
ABSL_FLAG(std::string, profile, "", "model profile YAML (default MODEL/drivelm_profile.yaml)");
ABSL_FLAG(std::string, backend, "", "compute backend: cpu (cuda: not built yet)");
ABSL_FLAG(int32_t, threads, -1, "CPU compute threads (0: all cores)");
ABSL_FLAG(std::string, log_level, "",
          "trace, debug, info, warn, error, critical or off (default info)");
ABSL_FLAG(double, shutdown_grace_seconds, -1,
          "seconds in-flight requests get after SIGTERM (default 30)");

namespace {

using drivelm::server::ServerConfig;

int Fail(const std::string& message) {
  std::fprintf(stderr, "drivelm_server: %s\n", message.c_str());
  return 1;
}

drivelm::server::ConfigOverrides OverridesFromFlags() {
  drivelm::server::ConfigOverrides o;
  if (const std::string v = absl::GetFlag(FLAGS_listen); !v.empty()) o.listen = v;
  if (const std::string v = absl::GetFlag(FLAGS_metrics_listen); !v.empty()) {
    o.metrics_listen = v == "off" ? "" : v;
  }
  if (const std::string v = absl::GetFlag(FLAGS_model); !v.empty()) o.model = v;
  if (const std::string v = absl::GetFlag(FLAGS_profile); !v.empty()) o.profile = v;
  if (const std::string v = absl::GetFlag(FLAGS_backend); !v.empty()) o.backend = v;
  if (const int v = absl::GetFlag(FLAGS_threads); v >= 0) o.threads = v;
  if (const std::string v = absl::GetFlag(FLAGS_log_level); !v.empty()) o.log_level = v;
  if (const double v = absl::GetFlag(FLAGS_shutdown_grace_seconds); v >= 0) {
    o.shutdown_grace_seconds = v;
  }
  return o;
}

// A model directory must hold at least config.json; say how to get the default one.
absl::Status CheckModelDir(const ServerConfig& config) {
  std::error_code ec;
  if (!std::filesystem::is_directory(config.model, ec)) {
    return absl::NotFoundError(absl::StrCat(
        "model directory ", config.model, " does not exist",
        config.model == ServerConfig{}.model
            ? " (./serve.sh generates this default tiny model; or pass --model DIR)"
            : ""));
  }
  if (!std::filesystem::exists(std::filesystem::path(config.model) / "config.json", ec)) {
    return absl::NotFoundError(absl::StrCat("model directory ", config.model,
                                            " has no config.json (not a checkpoint directory?)"));
  }
  return absl::OkStatus();
}

// Shutdown signals go through a self-pipe: the handler (any thread may run it: libraries such as
// OpenBLAS start threads before main(), so no signal mask set here covers every thread) writes
// the signal number, WaitForSignal() reads it.
int signal_pipe[2] = {-1, -1};

extern "C" void OnShutdownSignal(int signal_number) {
  const int saved_errno = errno;
  const unsigned char byte = static_cast<unsigned char>(signal_number);
  ssize_t ignored = write(signal_pipe[1], &byte, 1);  // async-signal-safe
  (void)ignored;
  errno = saved_errno;
}

absl::Status InstallSignalHandlers() {
  if (pipe2(signal_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  struct sigaction action {};
  action.sa_handler = OnShutdownSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (const int sig : {SIGTERM, SIGINT}) {
    if (sigaction(sig, &action, nullptr) != 0) {
      return absl::InternalError(absl::StrCat("sigaction: ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

// Blocks until a shutdown signal arrives; returns its number.
int WaitForSignal() {
  unsigned char byte = 0;
  for (;;) {
    const ssize_t n = read(signal_pipe[0], &byte, 1);
    if (n == 1) return byte;
    if (n < 0 && errno == EINTR) continue;
    return SIGTERM;  // the pipe broke: treat as a shutdown request
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (absl::Status s = InstallSignalHandlers(); !s.ok()) return Fail(std::string(s.message()));

  absl::SetProgramUsageMessage(
      "Serves a driving VLM over gRPC: drivelm_server [--config FILE] [--listen HOST:PORT] "
      "[--metrics_listen HOST:PORT] [--model DIR]");
  absl::ParseCommandLine(argc, argv);

  ServerConfig config;
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    absl::StatusOr<ServerConfig> loaded = drivelm::server::LoadServerConfig(path);
    if (!loaded.ok()) return Fail(std::string(loaded.status().message()));
    config = *std::move(loaded);
  }
  if (absl::Status s = drivelm::server::ApplyOverrides(OverridesFromFlags(), &config); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  // Logs go to stderr (spdlog's default logger writes to stdout), leaving stdout free.
  spdlog::set_default_logger(spdlog::stderr_color_mt("drivelm_server"));
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  switch (config.backend) {
    case drivelm::server::BackendKind::kCpu:
      break;
    case drivelm::server::BackendKind::kCuda:
      return Fail(
          "backend cuda: this server was not built with CUDA support (the CUDA backend is not "
          "available yet); use backend: cpu");
  }
  if (absl::Status s = CheckModelDir(config); !s.ok()) return Fail(std::string(s.message()));

  using namespace drivelm::engine;
  const EngineOptions engine_options = drivelm::server::ToEngineOptions(config);
  // Declared before the engine: the generator (owned by the engine) computes on it.
  CpuBackend backend(config.threads);
  spdlog::info("loading model {} on {} ({} threads)", config.model, backend.name(),
               backend.num_threads());
  absl::StatusOr<std::unique_ptr<Generator>> generator =
      Generator::Load(config.model, &backend, engine_options.generator);
  if (!generator.ok()) {
    return Fail(absl::StrCat("cannot load model ", config.model, ": ",
                             generator.status().message()));
  }
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      Engine::Create(*std::move(generator), engine_options);
  if (!engine.ok()) return Fail(std::string(engine.status().message()));

  absl::StatusOr<std::unique_ptr<drivelm::server::GrpcServer>> server =
      drivelm::server::GrpcServer::Start(config, engine->get());
  if (!server.ok()) return Fail(std::string(server.status().message()));
  spdlog::info("serving on {}{}", (*server)->address(),
               (*server)->metrics_address().empty()
                   ? std::string(", metrics off")
                   : absl::StrCat(", metrics on http://", (*server)->metrics_address(),
                                  "/metrics"));

  const int signal_number = WaitForSignal();
  const absl::Duration grace = drivelm::server::ShutdownGrace(config);
  spdlog::info("{}: shutting down, in-flight requests get {} s", strsignal(signal_number),
               config.shutdown_grace_seconds);
  // A second signal ends the wait at once (the operator insists).
  std::thread([] {
    const int again = WaitForSignal();
    spdlog::warn("{} during shutdown: exiting now", strsignal(again));
    std::_Exit(1);
  }).detach();

  (*server)->Shutdown(grace);
  server->reset();
  engine->reset();
  spdlog::info("shut down cleanly");
  return 0;
}
