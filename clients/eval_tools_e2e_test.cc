// End to end through the real binaries: //server:drivelm_server on free loopback ports with the
// committed tiny model (tests/golden/models/gemma2_h96), then
//   - //clients:drivelm_eval over a small DriveLM-format file written here (two key frames, the
//     golden images, questions with answers and tags): the prediction file (ids, count,
//     questions), resuming (a second run asks nothing), the summary JSON; bad inputs;
//   - //benchmarks:loadgen --synthetic and --data for a handful of requests: the result JSON's
//     vLLM keys and counts.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "clients/fake_http_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/test_server_process.h"

namespace drivelm::clients {
namespace {

using ::drivelm::server::test_process::ExitCode;
using ::drivelm::server::test_process::ReadFile;
using ::drivelm::server::test_process::Runfile;
using ::drivelm::server::test_process::Spawn;
using ::drivelm::server::test_process::TestServerProcess;
using ::drivelm::server::test_process::TmpDir;
using ::drivelm::server::test_process::WaitFor;
using ::testing::HasSubstr;

struct Result {
  int exit_code = -1;  // -1: killed or timed out
  std::string out;
  std::string err;
};

Result RunTool(const std::vector<std::string>& args, absl::Duration timeout = absl::Seconds(90)) {
  static int n = 0;
  const std::string base = absl::StrCat(TmpDir(), "/run", n++);
  const pid_t pid = Spawn(args, -1, base + ".out", base + ".err");
  Result r;
  if (std::optional<int> status = WaitFor(pid, timeout)) {
    r.exit_code = ExitCode(*status);
  } else {
    ::kill(pid, SIGKILL);
    WaitFor(pid, absl::Seconds(5));
  }
  r.out = ReadFile(base + ".out");
  r.err = ReadFile(base + ".err");
  return r;
}

nlohmann::json ReadJson(const std::string& path) {
  return nlohmann::json::parse(ReadFile(path), nullptr, /*allow_exceptions=*/false);
}

// Two key frames of one scene in the DriveLM evaluation layout. image_paths are relative to
// --images_root = tests/golden/models and climb out of it ("../images/..."), as the real files'
// "../nuscenes/samples/..." paths do.
nlohmann::json DriveLmFile() {
  const auto cams = [](int offset) {
    nlohmann::json paths;
    const char* names[] = {"CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT",
                           "CAM_BACK",  "CAM_BACK_LEFT",  "CAM_BACK_RIGHT"};
    for (int i = 0; i < 6; ++i) {
      const int k = (i + offset) % 6;
      paths[names[i]] = absl::StrCat("../images/cam", k, k == 5 ? ".png" : ".jpg");
    }
    return paths;
  };
  const auto qa = [](const char* q, const char* a, int tag) {
    return nlohmann::json{{"Q", q}, {"A", a}, {"tag", {tag}}};
  };
  return {
      {"sceneX",
       {{"key_frames",
         {{"frameA",
           {{"QA",
             {{"perception",
               {qa("What are the important objects in the current scene?",
                   "There is a car to the front of the ego vehicle. The IDs of these objects are "
                   "<c1,CAM_FRONT,800.0,450.0>.",
                   2),
                qa("What is the moving status of object <c1,CAM_FRONT,800.0,450.0>? A. Going "
                   "ahead. B. Stopped.",
                   "A", 0)}},
              {"prediction",
               {qa("What object should the ego vehicle notice first?",
                   "Firstly notice that <c1,CAM_FRONT,800.0,450.0>.", 3)}},
              {"planning",
               {qa("What actions could the ego vehicle take based on "
                   "<c1,CAM_FRONT,800.0,450.0>?",
                   "The action is to keep going at the same speed.", 1)}},
              {"behavior",
               {qa("Predict the behavior of the ego vehicle.",
                   "The ego vehicle is going "
                   "straight.",
                   2)}}}},
            {"image_paths", cams(0)}}},
          {"frameB",
           {{"QA",
             {{"perception",
               {qa("What are the important objects in the current scene?",
                   "There is a truck to the back of the ego vehicle. The IDs of these objects "
                   "are <c1,CAM_BACK,300.5,500.0>.",
                   2)}},
              {"planning",
               {qa("Is it safe to turn left?", "No.", 0),
                qa("What should the ego vehicle do next?", "Keep going straight.", 1)}},
              {"behavior",
               {qa("Predict the behavior of the ego vehicle.", "The ego vehicle is stopped.",
                   2)}}}},
            {"image_paths", cams(2)}}}}}}}};
}

const std::set<std::string>& ExpectedIds() {
  static const std::set<std::string> ids = {
      "sceneX_frameA_0", "sceneX_frameA_1", "sceneX_frameA_2", "sceneX_frameA_3", "sceneX_frameA_4",
      "sceneX_frameB_0", "sceneX_frameB_1", "sceneX_frameB_2", "sceneX_frameB_3"};
  return ids;
}

class EvalToolsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<TestServerProcess>> server = TestServerProcess::Start(
        Runfile("server/drivelm_server"), Runfile("tests/golden/models/gemma2_h96"),
        {"--threads", "2", "--log_level", "warn"}, "eval_tools_server");
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (server_ == nullptr) GTEST_SKIP() << "the server did not start";
  }

  static std::string WriteData() {
    const std::string path = TmpDir() + "/drivelm_mini.json";
    std::ofstream(path) << DriveLmFile().dump(2);
    return path;
  }

  static TestServerProcess* server_;
};

TestServerProcess* EvalToolsTest::server_ = nullptr;

TEST_F(EvalToolsTest, DriveLmEvalWritesResumesAndSummarizes) {
  const std::string data = WriteData();
  const std::string pred = TmpDir() + "/pred.json";
  const std::string summary = TmpDir() + "/summary.json";
  std::remove(pred.c_str());
  const std::vector<std::string> args = {Runfile("clients/drivelm_eval"),
                                         "--server",
                                         server_->address(),
                                         "--data",
                                         data,
                                         "--images_root",
                                         Runfile("tests/golden/models"),
                                         "--out",
                                         pred,
                                         "--concurrency",
                                         "2",
                                         "--max_new_tokens",
                                         "8",
                                         "--greedy",
                                         "--summary_json",
                                         summary};
  Result first = RunTool(args);
  ASSERT_EQ(first.exit_code, 0) << first.err << first.out;
  EXPECT_THAT(first.err, HasSubstr("2 key frames, 9 questions; 0 already in"));
  EXPECT_THAT(first.err, HasSubstr("progress: "));  // not a terminal: plain lines
  EXPECT_THAT(first.out, HasSubstr("TTFT"));

  // The official prediction file: every id once, the question text, an answer string.
  const nlohmann::json predictions = ReadJson(pred);
  ASSERT_TRUE(predictions.is_array()) << ReadFile(pred);
  ASSERT_EQ(predictions.size(), 9u);
  std::set<std::string> ids;
  const nlohmann::json data_json = DriveLmFile();
  for (const nlohmann::json& p : predictions) {
    ASSERT_TRUE(p.is_object());
    EXPECT_EQ(p.size(), 3u) << p.dump();
    ids.insert(p.value("id", ""));
    EXPECT_TRUE(p["answer"].is_string()) << p.dump();
    if (p["id"] == "sceneX_frameA_2") {
      EXPECT_EQ(p["question"], "What object should the ego vehicle notice first?");
    }
    if (p["id"] == "sceneX_frameB_1") EXPECT_EQ(p["question"], "Is it safe to turn left?");
  }
  EXPECT_EQ(ids, ExpectedIds());

  // The summary: run counts, the latency summary, the scores with their counts per tag.
  const nlohmann::json s = ReadJson(summary);
  ASSERT_TRUE(s.is_object()) << ReadFile(summary);
  EXPECT_EQ(s["frames"], 2);
  EXPECT_EQ(s["questions"], 9);
  EXPECT_EQ(s["answered"], 9);
  EXPECT_EQ(s["failed"], 0);
  ASSERT_TRUE(s.contains("latency"));
  for (const char* key : {"mean_ttft_ms", "median_ttft_ms", "p90_ttft_ms", "p99_ttft_ms",
                          "mean_tpot_ms", "mean_itl_ms", "mean_e2el_ms", "p99_e2el_ms", "duration",
                          "request_throughput", "question_throughput", "output_throughput"}) {
    EXPECT_TRUE(s["latency"].contains(key) && s["latency"][key].is_number()) << key;
  }
  EXPECT_EQ(s["latency"]["completed_questions"], 9);
  EXPECT_GT(s["latency"]["mean_ttft_ms"].get<double>(), 0);
  for (const char* key : {"accuracy", "bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider",
                          "match", "final_score"}) {
    EXPECT_TRUE(s.contains(key) && s[key].is_number()) << key << " in " << s.dump();
  }
  EXPECT_EQ(s.value("judge_used", true), false);

  // Resuming: nothing left to ask, the file unchanged.
  const std::string before = ReadFile(pred);
  Result second = RunTool(args);
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_THAT(second.err, HasSubstr("9 already in"));
  EXPECT_THAT(second.err, HasSubstr("nothing to ask"));
  EXPECT_EQ(ReadFile(pred), before);

  // A partial file: only the missing ids are asked.
  nlohmann::json partial = predictions;
  partial.erase(partial.begin(), partial.begin() + 3);
  std::ofstream(pred) << partial.dump();
  Result third = RunTool(args);
  EXPECT_EQ(third.exit_code, 0) << third.err;
  EXPECT_THAT(third.err, HasSubstr("6 already in"));
  EXPECT_THAT(third.err, HasSubstr("3 to ask"));
  ASSERT_EQ(ReadJson(pred).size(), 9u);

  // --score_only on the finished file gives the same scores.
  const std::string summary2 = TmpDir() + "/summary2.json";
  Result score = RunTool({Runfile("clients/drivelm_eval"), "--score_only", "--pred", pred, "--gt",
                          data, "--summary_json", summary2});
  EXPECT_EQ(score.exit_code, 0) << score.err;
  const nlohmann::json scored = ReadJson(summary2);
  EXPECT_EQ(scored["final_score"], s["final_score"]) << ReadFile(summary2);
  EXPECT_EQ(scored["judge_used"], false);
  EXPECT_THAT(score.err, HasSubstr("no --judge_url"));

  // With a judge (a fake OpenAI-compatible endpoint that always says 50): the tag-1 question
  // without coordinates (frame B's, never gated) is judged 50.
  FakeHttpServer judge({{200, FakeHttpServer::ChatCompletion("50")}});
  const std::string summary3 = TmpDir() + "/summary3.json";
  score = RunTool({Runfile("clients/drivelm_eval"), "--score_only", "--pred", pred, "--gt", data,
                   "--judge_url", judge.url(), "--judge_model", "fake-judge", "--summary_json",
                   summary3});
  EXPECT_EQ(score.exit_code, 0) << score.err;
  const nlohmann::json judged = ReadJson(summary3);
  EXPECT_EQ(judged["judge_used"], true) << ReadFile(summary3);
  EXPECT_EQ(judged["chatgpt"], 50.0) << ReadFile(summary3);
  EXPECT_GE(judged["counts"]["tag1_judge"].get<int>(), 1);
  ASSERT_FALSE(judge.requests().empty());
  EXPECT_THAT(judge.requests()[0].head, HasSubstr("POST /v1/chat/completions"));
  EXPECT_THAT(judge.requests()[0].body, HasSubstr("\"model\":\"fake-judge\""));
}

TEST_F(EvalToolsTest, DriveLmEvalBadInputs) {
  const std::string data = WriteData();
  const std::string eval = Runfile("clients/drivelm_eval");
  // A prediction file that is not one is refused, never overwritten.
  const std::string junk = TmpDir() + "/junk.json";
  std::ofstream(junk) << "{\"not\": \"a list\"}";
  Result r = RunTool({eval, "--server", server_->address(), "--data", data, "--out", junk});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("expected a list"));
  EXPECT_EQ(ReadFile(junk), "{\"not\": \"a list\"}");
  // Missing data file, missing flags.
  r = RunTool({eval, "--data", "/no/such.json", "--out", TmpDir() + "/x.json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("/no/such.json"));
  r = RunTool({eval, "--data", data});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--out"));
  // No server there: exit 2 with the reason.
  r = RunTool({eval, "--server", "127.0.0.1:1", "--connect_timeout_s", "1", "--data", data, "--out",
               TmpDir() + "/unreached.json", "--images_root", Runfile("tests/golden/models")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("cannot reach the server"));
  // Images that are not there: the frames fail by name, exit 3.
  r = RunTool({eval, "--server", server_->address(), "--data", data, "--out",
               TmpDir() + "/noimages.json", "--images_root", "/no/such/root", "--no_score"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, HasSubstr("cannot read image /no/such/root/../images/"));
}

TEST_F(EvalToolsTest, LoadgenSyntheticAndData) {
  const std::string result = TmpDir() + "/loadgen.json";
  Result r = RunTool({Runfile("benchmarks/loadgen"),
                      "--server",
                      server_->address(),
                      "--synthetic",
                      "--synthetic_size",
                      "320x180",
                      "--request_rate",
                      "inf",
                      "--max_concurrency",
                      "2",
                      "--num_requests",
                      "3",
                      "--warmup",
                      "1",
                      "--questions_per_scene",
                      "2",
                      "--max_new_tokens",
                      "4",
                      "--greedy",
                      "--slo",
                      "ttft=60000,e2e=60000",
                      "--result_json",
                      result});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const nlohmann::json j = ReadJson(result);
  ASSERT_TRUE(j.is_object()) << ReadFile(result);
  for (const char* key : {"completed",
                          "failed",
                          "duration",
                          "request_throughput",
                          "request_goodput",
                          "output_throughput",
                          "total_token_throughput",
                          "questions_per_scene",
                          "question_throughput",
                          "mean_ttft_ms",
                          "median_ttft_ms",
                          "p90_ttft_ms",
                          "p99_ttft_ms",
                          "mean_tpot_ms",
                          "median_tpot_ms",
                          "p90_tpot_ms",
                          "p99_tpot_ms",
                          "mean_itl_ms",
                          "median_itl_ms",
                          "p90_itl_ms",
                          "p99_itl_ms",
                          "mean_e2el_ms",
                          "median_e2el_ms",
                          "p90_e2el_ms",
                          "p99_e2el_ms"}) {
    EXPECT_TRUE(j.contains(key) && j[key].is_number()) << key << " in " << j.dump();
  }
  EXPECT_EQ(j["completed"], 3);
  EXPECT_EQ(j["failed"], 0);
  EXPECT_EQ(j["completed_questions"], 6);
  EXPECT_EQ(j["questions_per_scene"], 2.0);
  EXPECT_EQ(j["max_concurrency"], 2);
  EXPECT_EQ(j["request_rate"], "inf");
  // Generous SLOs: every request is good.
  EXPECT_NEAR(j["request_goodput"].get<double>(), j["request_throughput"].get<double>(), 1e-9);
  EXPECT_GT(j["client"]["cpu_ms_per_request"].get<double>(), 0);
  EXPECT_THAT(r.out, HasSubstr("Time to First Token"));

  // Replaying the DriveLM file's frames (cycled), open loop.
  const std::string data_result = TmpDir() + "/loadgen_data.json";
  r = RunTool({Runfile("benchmarks/loadgen"), "--server", server_->address(), "--data", WriteData(),
               "--images_root", Runfile("tests/golden/models"), "--request_rate", "20",
               "--num_requests", "3", "--max_new_tokens", "4", "--result_json", data_result});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const nlohmann::json d = ReadJson(data_result);
  EXPECT_EQ(d["completed"], 3);
  EXPECT_EQ(d["completed_questions"], 5 + 4 + 5);  // frames A, B, A
  EXPECT_TRUE(d["request_goodput"].is_null());     // no SLO given

  // Bad arguments: exit 1 with the reason.
  r = RunTool({Runfile("benchmarks/loadgen"), "--server", server_->address(), "--synthetic",
               "--request_rate", "fast", "--num_requests", "1", "--result_json", result});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("'fast'"));
  r = RunTool({Runfile("benchmarks/loadgen"), "--synthetic", "--num_requests", "1", "--duration",
               "1", "--result_json", result});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("exactly one of --num_requests"));
}

}  // namespace
}  // namespace drivelm::clients
