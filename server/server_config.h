// ServerConfig: everything drivelm_server needs to start, read from a YAML file
// (deploy/config/server.yaml documents every key) and then overridden by command-line flags.
//
// Precedence: built-in defaults < the YAML file (--config) < flags. Parsing rejects unknown keys
// (naming the key and its line), keys given twice and values of the wrong type or range, so a
// typo in a deployment fails at startup instead of silently keeping a default.
#ifndef DRIVELM_SERVER_SERVER_CONFIG_H_
#define DRIVELM_SERVER_SERVER_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/engine.h"

namespace drivelm::server {

// The compute backend the engine runs on.
enum class BackendKind {
  kCpu,   // the fp32 reference backend (always built)
  kCuda,  // needs a --config=cuda build with the CUDA backend
};
const char* BackendKindName(BackendKind kind);

// Bounds on what one request may ask for. Requests beyond them are refused with
// INVALID_ARGUMENT (or RESOURCE_EXHAUSTED for the queue), never truncated.
struct ServerLimits {
  int64_t max_message_bytes = int64_t{64} << 20;        // gRPC receive and send message size
  int64_t max_decoded_pixels = int64_t{4096} * 4096;    // per decoded image (width * height)
  int max_images = 6;                                  // camera images per scene
  int max_questions_per_scene = 64;
  int max_question_bytes = 4096;                       // per question text
  int max_new_tokens = 1024;                           // per question; more is refused
  int64_t max_prompt_tokens = 8192;                    // image tokens + text + max_new_tokens
  int queue_capacity = 64;                             // queued requests; beyond: RESOURCE_EXHAUSTED
};

struct ServerConfig {
  std::string listen = "127.0.0.1:50051";          // gRPC address, host:port
  std::string metrics_listen = "127.0.0.1:9464";   // Prometheus /metrics, host:port; "" = off
  // Checkpoint directory. Relative paths are relative to the working directory; ./serve.sh runs
  // from the repository root and generates this tiny model when it is missing.
  std::string model = "models/tiny-default";
  std::string profile;                             // "" = MODEL/drivelm_profile.yaml or default
  BackendKind backend = BackendKind::kCpu;
  int threads = 0;                                 // CPU compute threads; 0 = all cores
  ServerLimits limits;
  double shutdown_grace_seconds = 30;              // SIGTERM: in-flight work gets this long
  std::string log_level = "info";                  // trace, debug, info, warn, error, critical, off
};

// Command-line overrides; an absent field keeps the config file's value.
struct ConfigOverrides {
  std::optional<std::string> listen;
  std::optional<std::string> metrics_listen;
  std::optional<std::string> model;
  std::optional<std::string> profile;
  std::optional<std::string> backend;
  std::optional<int> threads;
  std::optional<std::string> log_level;
  std::optional<double> shutdown_grace_seconds;
};

// Parses YAML text (`source`, a file name, prefixes messages as "source:line: key: problem").
// An empty document gives the defaults. The result is validated (ValidateServerConfig).
absl::StatusOr<ServerConfig> ParseServerConfig(std::string_view yaml, std::string_view source);

// Reads and parses `path`: NotFound when it does not exist, else see ParseServerConfig.
absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& path);

// Applies `overrides` to `config` and validates the result; on error `config` is unchanged.
absl::Status ApplyOverrides(const ConfigOverrides& overrides, ServerConfig* config);

// Checks ranges and formats: addresses are host:port with a port in 0..65535 (0: any free
// port), every limit positive, threads >= 0, grace >= 0, a known log level. InvalidArgument
// naming the key otherwise.
absl::Status ValidateServerConfig(const ServerConfig& config);

// Parses "cpu" or "cuda".
absl::StatusOr<BackendKind> ParseBackendKind(std::string_view name);

// The engine's options for `config` (limits, queue, profile, pixel bound).
engine::EngineOptions ToEngineOptions(const ServerConfig& config);

absl::Duration ShutdownGrace(const ServerConfig& config);

}  // namespace drivelm::server

#endif  // DRIVELM_SERVER_SERVER_CONFIG_H_
