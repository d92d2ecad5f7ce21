#include "server/server_config.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace drivelm::server {
namespace {

using ::testing::HasSubstr;

absl::Status ParseError(const std::string& yaml) {
  absl::StatusOr<ServerConfig> config = ParseServerConfig(yaml, "server.yaml");
  EXPECT_FALSE(config.ok()) << "accepted:\n" << yaml;
  return config.ok() ? absl::OkStatus() : config.status();
}

TEST(ServerConfigTest, EmptyDocumentGivesDefaults) {
  absl::StatusOr<ServerConfig> config = ParseServerConfig("", "server.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "127.0.0.1:50051");
  EXPECT_EQ(config->metrics_listen, "127.0.0.1:9464");
  EXPECT_EQ(config->model, "models/tiny-default");
  EXPECT_EQ(config->profile, "");
  EXPECT_EQ(config->backend, BackendKind::kCpu);
  EXPECT_EQ(config->threads, 0);
  EXPECT_EQ(config->limits.max_message_bytes, 64 << 20);
  EXPECT_EQ(config->limits.max_decoded_pixels, 4096 * 4096);
  EXPECT_EQ(config->limits.max_images, 6);
  EXPECT_EQ(config->limits.queue_capacity, 64);
  EXPECT_DOUBLE_EQ(config->shutdown_grace_seconds, 30);
  EXPECT_EQ(config->log_level, "info");
  // Comments only is empty too.
  EXPECT_TRUE(ParseServerConfig("# nothing here\n", "server.yaml").ok());
}

TEST(ServerConfigTest, ParsesEveryKey) {
  const std::string yaml = R"(
listen: 0.0.0.0:6000
metrics_listen: "[::1]:9000"
model: /models/paligemma
profile: /models/profile.yaml
backend: cuda
threads: 3
limits:
  max_message_bytes: 1048576
  max_decoded_pixels: 1000000
  max_images: 4
  max_questions_per_scene: 8
  max_question_bytes: 100
  max_new_tokens: 32
  max_prompt_tokens: 4096
  queue_capacity: 5
shutdown_grace_seconds: 2.5
log_level: debug
)";
  absl::StatusOr<ServerConfig> config = ParseServerConfig(yaml, "server.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "0.0.0.0:6000");
  EXPECT_EQ(config->metrics_listen, "[::1]:9000");
  EXPECT_EQ(config->model, "/models/paligemma");
  EXPECT_EQ(config->profile, "/models/profile.yaml");
  EXPECT_EQ(config->backend, BackendKind::kCuda);
  EXPECT_EQ(config->threads, 3);
  EXPECT_EQ(config->limits.max_message_bytes, 1048576);
  EXPECT_EQ(config->limits.max_decoded_pixels, 1000000);
  EXPECT_EQ(config->limits.max_images, 4);
  EXPECT_EQ(config->limits.max_questions_per_scene, 8);
  EXPECT_EQ(config->limits.max_question_bytes, 100);
  EXPECT_EQ(config->limits.max_new_tokens, 32);
  EXPECT_EQ(config->limits.max_prompt_tokens, 4096);
  EXPECT_EQ(config->limits.queue_capacity, 5);
  EXPECT_DOUBLE_EQ(config->shutdown_grace_seconds, 2.5);
  EXPECT_EQ(config->log_level, "debug");

  const engine::EngineOptions options = ToEngineOptions(*config);
  EXPECT_EQ(options.max_queued_requests, 5);
  EXPECT_EQ(options.max_questions_per_request, 8);
  EXPECT_EQ(options.max_images_per_request, 4);
  EXPECT_EQ(options.max_new_tokens_limit, 32);
  EXPECT_EQ(options.max_question_bytes, 100);
  EXPECT_EQ(options.generator.profile_path, "/models/profile.yaml");
  EXPECT_EQ(options.generator.max_pixels, 1000000);
  EXPECT_EQ(options.generator.max_prompt_tokens, 4096);
  EXPECT_EQ(options.generator.max_new_tokens_limit, 32);
  EXPECT_EQ(ShutdownGrace(*config), absl::Milliseconds(2500));
}

TEST(ServerConfigTest, PartialLimitsKeepOtherDefaults) {
  absl::StatusOr<ServerConfig> config =
      ParseServerConfig("limits:\n  queue_capacity: 2\n", "server.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->limits.queue_capacity, 2);
  EXPECT_EQ(config->limits.max_new_tokens, ServerLimits{}.max_new_tokens);
}

TEST(ServerConfigTest, EmptyMetricsListenTurnsMetricsOff) {
  absl::StatusOr<ServerConfig> config = ParseServerConfig("metrics_listen:\n", "server.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->metrics_listen, "");
  config = ParseServerConfig("metrics_listen: \"\"\n", "server.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->metrics_listen, "");
}

TEST(ServerConfigTest, UnknownKeyNamesKeyAndLine) {
  absl::Status s = ParseError("listen: 127.0.0.1:1\nthreds: 4\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("server.yaml:2: threds: unknown key"));
  EXPECT_THAT(s.message(), HasSubstr("threads"));  // lists the known keys

  s = ParseError("limits:\n  queue_capacity: 3\n  max_tokens: 4\n");
  EXPECT_THAT(s.message(), HasSubstr("server.yaml:3: limits.max_tokens: unknown key"));
}

TEST(ServerConfigTest, DuplicateKeyIsAnError) {
  EXPECT_THAT(ParseError("threads: 1\nthreads: 2\n").message(),
              HasSubstr("server.yaml:2: threads: given twice"));
}

TEST(ServerConfigTest, BadValuesNameTheKey) {
  struct Case {
    const char* yaml;
    const char* expected;
  };
  const Case cases[] = {
      {"threads: many\n", "server.yaml:1: threads: expected an integer, got 'many'"},
      {"threads: -1\n", "threads: must be >= 0"},
      {"threads: 1.5\n", "threads: expected an integer"},
      {"backend: tpu\n", "backend: expected cpu or cuda, got 'tpu'"},
      {"log_level: loud\n", "log_level: expected one of"},
      {"shutdown_grace_seconds: -1\n", "shutdown_grace_seconds: must be >= 0"},
      {"shutdown_grace_seconds: .nan\n", "shutdown_grace_seconds: expected a finite number"},
      {"shutdown_grace_seconds: soon\n", "shutdown_grace_seconds: expected a number of seconds"},
      {"listen: 50051\n", "listen: expected host:port"},
      {"listen: localhost:http\n", "listen: port must be an integer in 0..65535"},
      {"listen: localhost:70000\n", "listen: port must be an integer in 0..65535"},
      {"listen: ::1:50051\n", "listen: an IPv6 host must be in brackets"},
      {"listen: [a, b]\n", "listen: expected host:port, got a list"},
      {"metrics_listen: nowhere\n", "metrics_listen: expected host:port"},
      {"model: \"\"\n", "model: must not be empty"},
      {"limits: 3\n", "limits: expected a mapping, got a scalar"},
      {"limits:\n  queue_capacity: 0\n", "server.yaml:2: limits.queue_capacity: must be >= 1"},
      {"limits:\n  max_new_tokens: x\n", "limits.max_new_tokens: expected an integer"},
      {"limits:\n  max_message_bytes: 4294967296\n", "limits.max_message_bytes: must be < 2 GiB"},
      {"limits:\n  max_new_tokens: 9000\n", "limits.max_new_tokens (9000) must be below"},
      {"- a\n- b\n", "a server config is a YAML mapping"},
      {"listen: [\n", "invalid YAML"},
  };
  for (const Case& c : cases) {
    const absl::Status s = ParseError(c.yaml);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_THAT(s.message(), HasSubstr(c.expected)) << c.yaml;
  }
}

TEST(ServerConfigTest, OverridesWinAndAreValidated) {
  ServerConfig config;
  ConfigOverrides overrides;
  overrides.listen = "127.0.0.1:7000";
  overrides.metrics_listen = "";
  overrides.model = "/m";
  overrides.profile = "/p.yaml";
  overrides.backend = "cpu";
  overrides.threads = 2;
  overrides.log_level = "warn";
  overrides.shutdown_grace_seconds = 1;
  ASSERT_TRUE(ApplyOverrides(overrides, &config).ok());
  EXPECT_EQ(config.listen, "127.0.0.1:7000");
  EXPECT_EQ(config.metrics_listen, "");
  EXPECT_EQ(config.model, "/m");
  EXPECT_EQ(config.profile, "/p.yaml");
  EXPECT_EQ(config.threads, 2);
  EXPECT_EQ(config.log_level, "warn");
  EXPECT_DOUBLE_EQ(config.shutdown_grace_seconds, 1);

  // A bad override leaves the config as it was.
  const ServerConfig before = config;
  ConfigOverrides bad;
  bad.listen = "127.0.0.1:8000";
  bad.threads = -3;
  const absl::Status s = ApplyOverrides(bad, &config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("threads: must be >= 0"));
  EXPECT_EQ(config.listen, before.listen);

  ConfigOverrides bad_backend;
  bad_backend.backend = "gpu";
  EXPECT_THAT(ApplyOverrides(bad_backend, &config).message(),
              HasSubstr("--backend: expected cpu or cuda, got 'gpu'"));
}

TEST(ServerConfigTest, LoadFromFile) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = tmp ? tmp : "/tmp";
  const std::string path = dir + "/server_config_test.yaml";
  {
    std::ofstream out(path);
    out << "listen: 127.0.0.1:1234\n";
  }
  absl::StatusOr<ServerConfig> config = LoadServerConfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "127.0.0.1:1234");

  absl::StatusOr<ServerConfig> missing = LoadServerConfig(dir + "/no_such.yaml");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("no_such.yaml does not exist"));

  EXPECT_THAT(LoadServerConfig(dir).status().message(), HasSubstr("is a directory"));
  std::remove(path.c_str());
}

// The documented example lists every key with its default value: parsing it gives the defaults,
// so the example and the code cannot drift apart unnoticed.
TEST(ServerConfigTest, DocumentedExampleIsTheDefaults) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  const std::string path = std::string(srcdir ? srcdir : ".") + "/" +
                           (workspace ? workspace : "drivelm_serve") +
                           "/deploy/config/server.yaml";
  absl::StatusOr<ServerConfig> config = LoadServerConfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  const ServerConfig defaults;
  EXPECT_EQ(config->listen, defaults.listen);
  EXPECT_EQ(config->metrics_listen, defaults.metrics_listen);
  EXPECT_EQ(config->model, defaults.model);
  EXPECT_EQ(config->profile, defaults.profile);
  EXPECT_EQ(config->backend, defaults.backend);
  EXPECT_EQ(config->threads, defaults.threads);
  EXPECT_EQ(config->limits.max_message_bytes, defaults.limits.max_message_bytes);
  EXPECT_EQ(config->limits.max_decoded_pixels, defaults.limits.max_decoded_pixels);
  EXPECT_EQ(config->limits.max_images, defaults.limits.max_images);
  EXPECT_EQ(config->limits.max_questions_per_scene, defaults.limits.max_questions_per_scene);
  EXPECT_EQ(config->limits.max_question_bytes, defaults.limits.max_question_bytes);
  EXPECT_EQ(config->limits.max_new_tokens, defaults.limits.max_new_tokens);
  EXPECT_EQ(config->limits.max_prompt_tokens, defaults.limits.max_prompt_tokens);
  EXPECT_EQ(config->limits.queue_capacity, defaults.limits.queue_capacity);
  EXPECT_DOUBLE_EQ(config->shutdown_grace_seconds, defaults.shutdown_grace_seconds);
  EXPECT_EQ(config->log_level, defaults.log_level);
}

}  // namespace
}  // namespace drivelm::server
