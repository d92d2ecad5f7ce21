// End to end through the real binaries: starts //server:drivelm_server on free loopback ports
// with the committed tiny model (tests/golden/models/gemma2_h96), asks it questions with
// //clients:drivelm_client (six cameras, one question depending on another), scrapes /metrics
// over HTTP, checks health, and shuts it down with SIGTERM while a request is in flight: the
// request must complete and the server exit 0 within the grace period.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/http_get.h"
#include "server/test_server_process.h"

namespace drivelm::server {
namespace {

using ::testing::HasSubstr;

using test_process::ExitCode;
using test_process::FreePort;
using test_process::ReadFile;
using test_process::Runfile;
using test_process::Spawn;
using test_process::TmpDir;
using test_process::WaitFor;

struct Result {
  int exit_code = -1;  // -1: killed or timed out
  std::string out;
  std::string err;
};

class ServerBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_bin_ = Runfile("server/drivelm_server");
    client_bin_ = Runfile("clients/drivelm_client");
    model_ = Runfile("tests/golden/models/gemma2_h96");
    port_ = FreePort();
    metrics_port_ = FreePort();
    ASSERT_GT(port_, 0);
    ASSERT_GT(metrics_port_, 0);
    address_ = absl::StrCat("127.0.0.1:", port_);
    server_log_ = TmpDir() + "/drivelm_server.log";
  }

  void TearDown() override {
    if (server_pid_ > 0) {
      ::kill(server_pid_, SIGKILL);
      WaitFor(server_pid_, absl::Seconds(10));
    }
  }

  void StartServer() {
    server_pid_ = Spawn({server_bin_, "--model", model_, "--listen", address_, "--metrics_listen",
                         absl::StrCat("127.0.0.1:", metrics_port_), "--threads", "2",
                         "--shutdown_grace_seconds", "60", "--log_level", "info"},
                        -1, server_log_, server_log_ + ".err");
    ASSERT_GT(server_pid_, 0);
    // Ready when health says SERVING (the client waits for the connection up to its deadline).
    const absl::Time deadline = absl::Now() + absl::Seconds(120);
    for (;;) {
      int status = 0;
      ASSERT_EQ(::waitpid(server_pid_, &status, WNOHANG), 0)
          << "the server exited early:\n"
          << ReadFile(server_log_ + ".err");
      if (RunClient({"--health", "--deadline_ms", "1000"}).exit_code == 0) break;
      ASSERT_LT(absl::Now(), deadline) << "the server did not become healthy:\n"
                                       << ReadFile(server_log_ + ".err");
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  std::vector<std::string> SixCameras() const {
    const std::string images = Runfile("tests/golden/images");
    return {"--image", "CAM_FRONT=" + images + "/cam0.jpg",
            "--image", "CAM_FRONT_LEFT=" + images + "/cam1.jpg",
            "--image", "CAM_FRONT_RIGHT=" + images + "/cam2.jpg",
            "--image", "CAM_BACK=" + images + "/cam3.jpg",
            "--image", "CAM_BACK_LEFT=" + images + "/cam4.jpg",
            "--image", "CAM_BACK_RIGHT=" + images + "/cam5.png"};
  }

  Result RunClient(const std::vector<std::string>& flags, absl::Duration timeout =
                                                              absl::Seconds(120)) {
    std::vector<std::string> args = {client_bin_, "--server", address_};
    args.insert(args.end(), flags.begin(), flags.end());
    const std::string out = TmpDir() + "/client.out", err = TmpDir() + "/client.err";
    const pid_t pid = Spawn(args, -1, out, err);
    Result result;
    std::optional<int> status = WaitFor(pid, timeout);
    if (!status) {
      ::kill(pid, SIGKILL);
      WaitFor(pid, absl::Seconds(5));
    } else {
      result.exit_code = ExitCode(*status);
    }
    result.out = ReadFile(out);
    result.err = ReadFile(err);
    return result;
  }

  std::string Metrics() {
    absl::StatusOr<HttpResponse> r = HttpGet("127.0.0.1", metrics_port_, "/metrics");
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return "";
    EXPECT_EQ(r->status, 200);
    return r->body;
  }

  std::string server_bin_, client_bin_, model_, address_, server_log_;
  int port_ = 0, metrics_port_ = 0;
  pid_t server_pid_ = -1;
};

std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    lines.push_back(nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false));
    EXPECT_FALSE(lines.back().is_discarded()) << line;
  }
  return lines;
}

// The value of the series `name` (exact, labels included) in Prometheus text, or nullopt.
std::optional<double> Series(const std::string& metrics, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (line.size() > name.size() && line.substr(0, name.size()) == name &&
        line[name.size()] == ' ') {
      double value = 0;
      if (absl::SimpleAtod(line.substr(name.size() + 1), &value)) return value;
    }
  }
  return std::nullopt;
}

TEST_F(ServerBinaryTest, ServesAnswersMetricsHealthAndShutsDownGracefully) {
  StartServer();
  if (HasFailure()) return;

  // Health and model info.
  Result health = RunClient({"--health"});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_EQ(health.out, "SERVING\n");
  health = RunClient({"--health", "--health_service", "drivelm.v1.DriveLM"});
  EXPECT_EQ(health.out, "SERVING\n") << health.err;
  Result info = RunClient({"--model_info"});
  EXPECT_EQ(info.exit_code, 0) << info.err;
  EXPECT_THAT(info.out, HasSubstr("\"decoder_type\": \"gemma2\""));

  // Six cameras, two questions, the second depending on the first; JSON events.
  std::vector<std::string> flags = SixCameras();
  for (const char* f : {"--question", "What are the important objects in the current scene?",
                        "--question", "What should the ego vehicle do?", "--depends_on", "q0",
                        "--max_new_tokens", "8", "--greedy", "--json"}) {
    flags.push_back(f);
  }
  Result answer = RunClient(flags);
  ASSERT_EQ(answer.exit_code, 0) << answer.err << answer.out;
  std::vector<nlohmann::json> events = JsonLines(answer.out);
  ASSERT_GE(events.size(), 3u);
  std::map<std::string, int> done;
  std::map<std::string, int64_t> prompt_tokens;
  bool q1_started = false;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const nlohmann::json& e = events[i];
    const std::string id = e.value("question_id", "");
    ASSERT_TRUE(id == "q0" || id == "q1") << e.dump();
    if (id == "q1") q1_started = true;
    // depends_on: every q0 event comes before any q1 event.
    if (id == "q0") EXPECT_FALSE(q1_started) << "q0 event after q1 started: " << e.dump();
    EXPECT_EQ(done[id], 0) << "event after done: " << e.dump();
    if (e.contains("done")) {
      ++done[id];
      const nlohmann::json& d = e["done"];
      EXPECT_EQ(d["status"]["code"], 0) << d.dump();
      EXPECT_TRUE(d["finish_reason"] == "stop" || d["finish_reason"] == "length") << d.dump();
      EXPECT_GT(d["usage"]["generated_tokens"].get<int64_t>(), 0);
      EXPECT_LE(d["usage"]["generated_tokens"].get<int64_t>(), 8);
      EXPECT_GT(d["usage"]["flops"]["vision"].get<double>(), 0);
      prompt_tokens[id] = d["usage"]["prompt_tokens"].get<int64_t>();
    } else {
      EXPECT_TRUE(e.contains("delta")) << e.dump();
    }
  }
  EXPECT_EQ(done["q0"], 1);
  EXPECT_EQ(done["q1"], 1);
  // q1 carries q0's question and answer as context: a longer prompt.
  EXPECT_GT(prompt_tokens["q1"], prompt_tokens["q0"]);
  EXPECT_EQ(events.back()["status"]["code"], "OK") << events.back().dump();

  // Text mode streams with question prefixes.
  std::vector<std::string> text_flags = SixCameras();
  for (const char* f : {"--question", "Is it raining?", "--max_new_tokens", "4"}) {
    text_flags.push_back(f);
  }
  Result text = RunClient(text_flags);
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("[q0] Q: Is it raining?\n[q0] A: "));
  EXPECT_THAT(text.err, HasSubstr("[q0] "));

  // A bad request: the RPC error is reported with its status, exit code 2.
  const std::string images = Runfile("tests/golden/images");
  Result bad = RunClient({"--image", "CAM_FRONT=" + images + "/cam0.jpg", "--question", "x"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(bad.err, HasSubstr("CAM_FRONT_LEFT"));

  // /metrics over HTTP: the series of the requests above with plausible values.
  std::string metrics = Metrics();
  EXPECT_THAT(metrics, HasSubstr("# TYPE drivelm_time_to_first_token_seconds histogram"));
  EXPECT_EQ(Series(metrics, "drivelm_requests_total{code=\"OK\"}"), 2);
  EXPECT_EQ(Series(metrics, "drivelm_requests_total{code=\"INVALID_ARGUMENT\"}"), 1);
  const double finished = Series(metrics, "drivelm_request_success_total{finish_reason=\"stop\"}")
                              .value_or(-1) +
                          Series(metrics, "drivelm_request_success_total{finish_reason=\"length\"}")
                              .value_or(-1);
  EXPECT_EQ(finished, 3);  // q0, q1, then the text-mode question
  EXPECT_EQ(Series(metrics, "drivelm_time_to_first_token_seconds_count"), 3);
  EXPECT_GT(Series(metrics, "drivelm_time_to_first_token_seconds_sum").value_or(0), 0);
  EXPECT_LT(Series(metrics, "drivelm_time_to_first_token_seconds_sum").value_or(1e9), 60);
  EXPECT_EQ(Series(metrics, "drivelm_e2e_request_latency_seconds_count"), 3);
  const double generated = Series(metrics, "drivelm_generation_tokens_total").value_or(0);
  EXPECT_GE(generated, 3);
  EXPECT_LE(generated, 8 + 8 + 4);
  EXPECT_GT(Series(metrics, "drivelm_prompt_tokens_total").value_or(0),
            static_cast<double>(prompt_tokens["q0"] + prompt_tokens["q1"]) - 1);
  EXPECT_GT(Series(metrics, "drivelm_flops_total{phase=\"vision\"}").value_or(0), 0);
  EXPECT_GT(Series(metrics, "drivelm_flops_total{phase=\"prefill\"}").value_or(0), 0);
  EXPECT_TRUE(Series(metrics, "drivelm_num_requests_running").has_value());
  EXPECT_TRUE(Series(metrics, "drivelm_num_requests_waiting").has_value());
  EXPECT_TRUE(Series(metrics, "drivelm_request_queue_time_seconds_count").has_value());
  EXPECT_TRUE(Series(metrics, "drivelm_inter_token_latency_seconds_count").has_value());

  // Graceful shutdown with a request in flight: many long answers, streamed through a pipe so
  // SIGTERM goes out once the first event has arrived.
  std::vector<std::string> long_args = {client_bin_, "--server", address_};
  const std::vector<std::string> cams = SixCameras();
  long_args.insert(long_args.end(), cams.begin(), cams.end());
  constexpr int kLongQuestions = 16;
  for (int i = 0; i < kLongQuestions; ++i) {
    long_args.push_back("--question");
    long_args.push_back(absl::StrCat("Describe the scene in detail, part ", i, "."));
  }
  for (const char* f : {"--max_new_tokens", "256", "--greedy", "--json"}) long_args.push_back(f);
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t client = Spawn(long_args, pipe_fds[1], "", TmpDir() + "/long_client.err");
  ::close(pipe_fds[1]);
  // The client's output is read as it comes (a client that stops reading would stall the
  // stream), on its own thread.
  absl::Mutex mu;
  std::vector<std::string> lines;
  int done_lines = 0;
  absl::Notification first_line;
  std::thread reader([&] {
    FILE* stream = ::fdopen(pipe_fds[0], "r");
    char* line = nullptr;
    size_t cap = 0;
    while (stream != nullptr && ::getline(&line, &cap, stream) > 0) {
      absl::MutexLock lock(&mu);
      lines.push_back(line);
      if (lines.back().find("\"done\"") != std::string::npos) ++done_lines;
      if (!first_line.HasBeenNotified()) first_line.Notify();
    }
    std::free(line);
    if (stream != nullptr) std::fclose(stream);
    if (!first_line.HasBeenNotified()) first_line.Notify();
  });
  first_line.WaitForNotificationWithTimeout(absl::Seconds(120));
  int done_before_sigterm = 0;
  {
    absl::MutexLock lock(&mu);
    ASSERT_FALSE(lines.empty()) << ReadFile(TmpDir() + "/long_client.err");
    done_before_sigterm = done_lines;
  }
  const absl::Time sigterm_at = absl::Now();
  ASSERT_EQ(::kill(server_pid_, SIGTERM), 0);

  // Health stops saying SERVING at once (NOT_SERVING, or the call is refused).
  bool still_serving = true;
  for (const absl::Time until = absl::Now() + absl::Seconds(10);
       still_serving && absl::Now() < until;) {
    const Result after = RunClient({"--health", "--deadline_ms", "1000"});
    still_serving = after.exit_code == 0 && after.out == "SERVING\n";
  }
  EXPECT_FALSE(still_serving) << "health still SERVING 10 s after SIGTERM";

  reader.join();
  std::optional<int> client_status = WaitFor(client, absl::Seconds(120));
  ASSERT_TRUE(client_status.has_value());
  EXPECT_EQ(ExitCode(*client_status), 0) << ReadFile(TmpDir() + "/long_client.err");
  std::string all;
  for (const std::string& l : lines) all += l;
  std::vector<nlohmann::json> long_events = JsonLines(all);
  int long_done = 0;
  for (const nlohmann::json& e : long_events) {
    if (!e.contains("done")) continue;
    ++long_done;
    EXPECT_EQ(e["done"]["status"]["code"], 0) << e.dump();
    EXPECT_NE(e["done"]["finish_reason"], "abort") << e.dump();
  }
  EXPECT_EQ(long_done, kLongQuestions);
  EXPECT_EQ(long_events.back()["status"]["code"], "OK") << long_events.back().dump();
  // The request really was in flight: questions finished after the signal.
  EXPECT_LT(done_before_sigterm, kLongQuestions);

  std::optional<int> server_status = WaitFor(server_pid_, absl::Seconds(60 + 30));
  ASSERT_TRUE(server_status.has_value()) << "the server did not exit within the grace period";
  server_pid_ = -1;
  EXPECT_TRUE(WIFEXITED(*server_status)) << "killed by signal " << WTERMSIG(*server_status);
  EXPECT_EQ(ExitCode(*server_status), 0) << ReadFile(server_log_ + ".err");
  EXPECT_LT(absl::Now() - sigterm_at, absl::Seconds(60));
  const std::string log = ReadFile(server_log_ + ".err");
  EXPECT_THAT(log, HasSubstr("serving on 127.0.0.1:" + std::to_string(port_)));
  EXPECT_THAT(log, HasSubstr("shutting down"));
  EXPECT_THAT(log, HasSubstr("shut down cleanly"));
}

TEST_F(ServerBinaryTest, StartupErrorsExitOneWithAClearMessage) {
  struct Case {
    std::vector<std::string> args;
    const char* expected;
  };
  const std::string config = TmpDir() + "/bad_server.yaml";
  {
    std::ofstream out(config);
    out << "listen: 127.0.0.1:0\nthreds: 2\n";
  }
  const Case cases[] = {
      {{"--model", "/no/such/model"}, "model directory /no/such/model does not exist"},
      {{"--config", config}, "bad_server.yaml:2: threds: unknown key"},
      {{"--config", TmpDir() + "/missing.yaml"}, "missing.yaml does not exist"},
      {{"--model", model_, "--backend", "cuda"}, "not built with CUDA"},
      {{"--model", model_, "--listen", "localhost"}, "listen: expected host:port"},
      {{"--model", model_, "--log_level", "loud"}, "log_level: expected one of"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {server_bin_};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const std::string err = TmpDir() + "/startup.err";
    const pid_t pid = Spawn(args, -1, TmpDir() + "/startup.out", err);
    std::optional<int> status = WaitFor(pid, absl::Seconds(60));
    ASSERT_TRUE(status.has_value()) << c.expected;
    EXPECT_EQ(ExitCode(*status), 1) << c.expected;
    EXPECT_THAT(ReadFile(err), HasSubstr(c.expected));
  }

  // A busy gRPC port.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  const std::string err = TmpDir() + "/busy.err";
  const pid_t pid = Spawn({server_bin_, "--model", model_, "--listen", address_,
                           "--metrics_listen", "off"},
                          -1, TmpDir() + "/busy.out", err);
  std::optional<int> status = WaitFor(pid, absl::Seconds(60));
  ::close(fd);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(ExitCode(*status), 1);
  EXPECT_THAT(ReadFile(err), HasSubstr("cannot listen on " + address_));
}

}  // namespace
}  // namespace drivelm::server
